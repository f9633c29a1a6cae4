"""A form whose CSRF token no longer holds (logged out and in again in another tab, a page
left open for days) does nothing, and its page gives back what was typed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from support import csrf_tokens, form_login

from forum.extensions import db
from forum.models import Message, Thread

pytestmark = pytest.mark.config(WTF_CSRF_ENABLED=True)

LONG = "Vi vill föreslå kvällsöppet på mötesplatsen,\nminst två kvällar i veckan."


def textareas(page: str) -> list[str]:
    return [
        re.sub(r"&#3[49];|&quot;", "'", text)
        for text in re.findall(r"<textarea[^>]*readonly[^>]*>(.*?)</textarea>", page, re.S)
    ]


def expired_token(client, make, user, path: str) -> str:
    """A token from a page opened before logging out and in again."""
    form_login(client, user)
    [old] = csrf_tokens(client.get(path).get_data(as_text=True)) or [""]
    home = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": sorted(csrf_tokens(home))[0]})
    form_login(client, user)
    return old


@pytest.mark.parametrize(
    ("lang", "kept"), [("sv", "Det du skrev finns kvar"), ("en", "kept below")]
)
def test_a_new_thread_from_an_expired_form_gives_back_its_text(client, make, lang, kept):
    member = make.user()
    member.locale = lang
    db.session.commit()
    forum = make.forum()
    path = f"/forums/{forum.slug}"
    token = expired_token(client, make, member, path)
    threads = db.session.scalar(select(func.count(Thread.id)))
    response = client.post(
        path,
        data={"csrf_token": token, "title": "Kvällsöppet i höst", "body": LONG, "commitments": "1"},
        headers={"Referer": f"http://localhost{path}", "Accept-Language": lang},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert kept in page and 'role="alert"' in page
    assert textareas(page) == ["Kvällsöppet i höst", LONG]  # a choice ("1") is not typed text
    assert f'href="http://localhost{path}"' in page  # back to the form
    assert db.session.scalar(select(func.count(Thread.id))) == threads  # nothing was done


def test_a_message_sent_without_javascript_is_given_back_not_its_ids(client, make):
    member = make.user()
    thread = make.thread()
    token = expired_token(client, make, member, f"/threads/{thread.id}")
    messages = db.session.scalar(select(func.count(Message.id)))
    response = client.post(
        f"/threads/{thread.id}/messages",
        data={
            "csrf_token": token,
            "body": LONG,
            "client_id": "5f0c1f7e-6a4c-4a4e-9f0b-2f8d2f1e9a11",
            "reply_to": "12",
        },
        headers={"Referer": "https://elsewhere.example/page"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert textareas(page) == [LONG]
    assert "elsewhere.example" not in page  # back only to a page of this site
    assert db.session.scalar(select(func.count(Message.id))) == messages


def test_a_password_is_never_shown_again(client, make):
    user = make.user()
    response = client.post(
        "/login",
        data={"csrf_token": "forged", "email": user.email, "password": "Hemligt lösen, 2026!"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Hemligt" not in page
    assert textareas(page) == [user.email]


def test_json_clients_get_the_error_body(client, make):
    response = client.post(
        "/login",
        data={"csrf_token": "forged", "email": "a@example.se", "password": "x y"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["ok"] is False and body["error"]["code"] == "invalid"


def test_a_huge_expired_form_gives_back_at_most_twenty_texts(client, make):
    response = client.post(
        "/login",
        data={f"field-{n}": f"Text nummer {n}" for n in range(500)} | {"csrf_token": "old"},
    )
    assert response.status_code == 400
    assert textareas(response.get_data(as_text=True)) == [f"Text nummer {n}" for n in range(20)]
