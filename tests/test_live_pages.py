"""What the live scripts build on: the server-rendered message template and the
page states the thread script switches between (issue 14, issue 9's JS part)."""

from __future__ import annotations

import re

import pytest
from consultation_support import make_round
from sqlalchemy import select

from forum.models import Thread


def text(response) -> str:
    return response.get_data(as_text=True)


def test_consultation_page_renders_messages_from_the_thread_partial(app, client, make, db):
    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    org = make.organisation(admin=chair, name="Föreningen Gemenskap")
    round_ = make_round(app, make, official)
    thread = db.session.scalar(select(Thread).where(Thread.id == round_.thread_id))
    make.message(thread, chair, "Fråga om *kvällar*")
    page = text(client.get(f"/consultations/{round_.id}"))
    recent = page.split('id="recent-messages"', 1)[1].split("</ol>", 1)[0]
    # The same partial as the thread page: slots the script fills, and the organisation
    assert 'data-slot="organisation" dir="auto">Föreningen Gemenskap<' in recent
    assert "<em>kvällar</em>" in recent
    assert re.search(r"<template id=\"message-template\">\s*<li class=\"message\"", page)
    assert 'data-not-shown="' in page
    assert org.name in recent


def test_thread_page_has_the_outbox_and_states_for_the_script(client, make, auth, db):
    member = make.user()
    thread = make.thread(author=member)
    auth.login(member)
    page = text(client.get(f"/threads/{thread.id}"))
    assert '<template id="outgoing-template">' in page
    assert 'id="thread-revoked" hidden' in page
    assert 'id="slow-mode" hidden' in page
    assert 'href="#body" id="skip-to-box">' in page  # skip link to the composer, shown
    assert 'id="skip-newest"' in page


def test_visitors_get_no_outbox_nor_skip_link_to_a_composer(client, make):
    thread = make.thread()
    page = text(client.get(f"/threads/{thread.id}"))
    assert "outgoing-template" not in page
    assert 'href="#body">' not in page
    assert 'id="skip-newest"' in page


def test_slow_mode_is_stated_before_anyone_is_refused(client, make, auth, db):
    member = make.user()
    thread = make.thread(author=member)
    thread.slow_mode_seconds = 30
    db.session.commit()
    auth.login(member)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = text(client.get(f"/threads/{thread.id}"))
    assert "one message per person every 30 seconds" in page


def test_show_new_uses_plural_forms_in_swedish(client, make):
    thread = make.thread()
    page = text(client.get(f"/threads/{thread.id}"))
    assert 'data-show-new-one="Visa {n} nytt meddelande"' in page
    assert 'data-show-new="Visa {n} nya meddelanden"' in page


def test_opening_a_notification_marks_it_read_and_the_bell_agrees(client, make, auth, db):
    from forum.models import Notification

    alice, bob, carl = make.user(), make.user(), make.user()
    thread = make.thread(author=alice)
    make.message(thread, alice, f"Hej @{bob.handle}")
    make.message(thread, alice, f"Och igen @{bob.handle}")
    notes = db.session.scalars(
        select(Notification).where(Notification.user_id == bob.id).order_by(Notification.id)
    ).all()
    assert len(notes) == 2
    auth.login(bob)
    page = text(client.get("/notifications"))
    assert f'href="/notifications/{notes[0].id}/open"' in page
    assert "data-notification-count>2<" in page
    opened = client.get(f"/notifications/{notes[0].id}/open")
    assert opened.status_code == 302 and opened.location.startswith(f"/threads/{thread.id}")
    db.session.expire_all()
    assert db.session.get(Notification, notes[0].id).read_at is not None
    assert db.session.get(Notification, notes[1].id).read_at is None
    page = text(client.get("/notifications"))
    assert "data-notification-count>1<" in page and page.count('class="unread"') == 1
    # Someone else's notification, or none at all: not found, nothing marked
    auth.login(carl)
    assert client.get(f"/notifications/{notes[1].id}/open").status_code == 404
    assert client.get("/notifications/999999/open").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, notes[1].id).read_at is None


def received(sock, name):
    return [item["args"][0] for item in sock.get_received() if item["name"] == name]


def test_watching_forums_gets_activity_only_where_one_may_read(make, socket_for):
    alice, bob, carl = make.user(), make.user(), make.user()
    open_forum = make.forum()
    closed = make.forum(visibility="invite", members=[carl])
    thread = make.thread(forum=open_forum, author=alice)
    watcher = socket_for(bob)
    ack = watcher.emit("watch", {"forum_ids": [open_forum.id, closed.id, 999999]}, callback=True)
    assert ack == {"ok": True, "forums": [open_forum.id]}
    watcher.get_received()
    message = make.message(thread, alice, "Något nytt")
    assert received(watcher, "forum:activity") == [
        {
            "forum_id": open_forum.id,
            "thread_id": thread.id,
            "message_id": message.id,
            "author_id": alice.id,
        }
    ]
    # Nothing from a forum one may not see, even when asked for it
    secret = make.thread(forum=closed, author=carl)
    make.message(secret, carl, "Hemligt")
    assert received(watcher, "forum:activity") == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"forum_ids": "1"},
        {"forum_ids": [1, "2"]},
        {"forum_ids": [True]},
        {"forum_ids": [0]},
        {"forum_ids": list(range(1, 300))},
    ],
)
def test_bad_watch_requests_get_an_error_ack(make, socket_for, payload):
    ack = socket_for(make.user()).emit("watch", payload, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"


def test_opening_and_closing_a_round_ask_first_without_javascript(app, client, make, auth, db):
    from consultation_support import english

    from forum.models import ConsultationRound

    official = make.user("official")
    member = make.user()
    make.organisation(admin=member)
    draft = make_round(app, make, official, state="draft")
    english(client)
    auth.login(official)
    page = text(client.get(f"/consultations/{draft.id}"))
    assert f'href="/consultations/{draft.id}/open" id="open-round"' in page
    confirm = client.get(f"/consultations/{draft.id}/open")
    body = text(confirm)
    assert confirm.status_code == 200 and "<h1>Open the round?</h1>" in body
    assert f'<form method="post" action="/consultations/{draft.id}/open"' in body
    assert 'name="csrf_token"' in body
    db.session.expire_all()
    assert db.session.get(ConsultationRound, draft.id).state == "draft"  # asking changed nothing
    assert client.post(f"/consultations/{draft.id}/open").status_code == 302
    body = text(client.get(f"/consultations/{draft.id}/close"))
    assert "<h1>Close the round now?</h1>" in body
    db.session.expire_all()
    assert db.session.get(ConsultationRound, draft.id).state == "open"
    # Only the round's officials get the confirmation page
    auth.login(member)
    assert client.get(f"/consultations/{draft.id}/close").status_code == 403
    auth.logout()
    assert client.get(f"/consultations/{draft.id}/open").status_code == 302  # to the login


def test_closed_rounds_are_not_labelled_closes(app, client, make):
    official = make.user("official")
    make.organisation(admin=make.user())
    closed = make_round(app, make, official, state="closed", title="Stängd omgång")
    make_round(app, make, official, state="open", title="Öppen omgång")
    page = text(client.get("/consultations"))
    closed_item = page.split("Stängd omgång", 1)[1].split("</li>", 1)[0]
    open_item = page.split("Öppen omgång", 1)[1].split("</li>", 1)[0]
    assert "Stängde" in closed_item and "Stänger" not in closed_item
    assert "Stänger" in open_item
    assert "<dt>Stängde</dt>" in text(client.get(f"/consultations/{closed.id}"))
