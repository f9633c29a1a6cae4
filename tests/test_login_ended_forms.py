"""A form sent after its login ended (the idle limit passed while someone wrote on a phone,
or they logged out everywhere from another device) lost what was written: a public forum
answered a bare 401 page, a members' forum, a thread's message box and every page behind a
login sent the person to the login page. Now the answer says the login ended, gives the
text back and links to the login page, which returns to the form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from support import csrf_tokens, form_login

from forum.models import Message, Thread, UserSession
from forum.models.base import utcnow

LONG = "Vi vill föreslå kvällsöppet på mötesplatsen, minst två kvällar i veckan."


def text(response) -> str:
    return response.get_data(as_text=True)


def idle_overnight(db, user) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(last_seen_at=utcnow() - timedelta(hours=13))
    )
    db.session.commit()


@pytest.mark.parametrize("app", [{"WTF_CSRF_ENABLED": True}], indirect=True)
@pytest.mark.parametrize("visibility", ["public", "members"])
def test_a_thread_written_while_the_login_ended_is_given_back(client, make, db, visibility):
    member = make.user()
    forum = make.forum(visibility=visibility)
    form_login(client, member)
    path = f"/forums/{forum.slug}"
    token = sorted(csrf_tokens(text(client.get(path, headers={"Accept-Language": "en"}))))[0]
    idle_overnight(db, member)
    commitments = [str(i) for i in make.commitment_ids(1)]
    data = {"csrf_token": token, "title": "Kvällsöppet i höst", "body": LONG}
    response = client.post(
        path,
        data={**data, "commitments": commitments},
        headers={"Accept-Language": "en", "Referer": f"http://localhost{path}"},
    )
    assert response.status_code == 401
    page = text(response)
    assert "Your login ended before this was sent" in page
    assert LONG in page and "Kvällsöppet i höst" in page
    assert f'href="/login?next={path}"' in page.replace("%2F", "/")
    assert db.session.scalar(select(Thread).where(Thread.title == "Kvällsöppet i höst")) is None


@pytest.mark.parametrize("app", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_a_message_written_while_the_login_ended_is_given_back(client, make, db):
    member = make.user()
    thread = make.thread(author=make.user())
    form_login(client, member)
    path = f"/threads/{thread.id}"
    token = sorted(csrf_tokens(text(client.get(path))))[0]
    idle_overnight(db, member)
    before = db.session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
    response = client.post(
        f"{path}/messages",
        data={"csrf_token": token, "body": LONG, "client_id": "c1"},
        headers={"Accept-Language": "sv", "Referer": f"http://localhost{path}"},
    )
    assert response.status_code == 401
    page = text(response)
    assert "Din inloggning gick ut innan det här skickades" in page and LONG in page
    assert ">Logga in</a>" in page
    assert db.session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1)) == before


def test_without_anything_written_the_login_page_answers_as_before(client, make):
    thread = make.thread(author=make.user())
    response = client.post(f"/threads/{thread.id}/messages", data={"client_id": "c1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get(f"/threads/{thread.id}/messages").status_code in (302, 405)


def test_a_visitor_who_never_logged_in_is_sent_to_log_in(client, make):
    """Only a login that ended is told so: a visitor who never logged in goes to the login
    page, as before."""
    thread = make.thread(author=make.user())
    response = client.post(f"/threads/{thread.id}/messages", data={"body": LONG, "client_id": "c"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
