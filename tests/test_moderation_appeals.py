"""Appeals: who decides them after a thread has moved, and what reversing a redaction
gives back (only what that decision removed; later removals and edits stay)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.models import Appeal, AuditEntry, Message, Notification
from forum.queries.moderation import pending_appeals, waiting_count
from forum.services import moderation


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def text(response):
    return response.get_data(as_text=True)


# --- after a move -------------------------------------------------------------------


@pytest.fixture
def moved(make, db):
    """A decision made in an open forum A, its thread then moved into invite-only B."""
    mod_a = make.user(name="Anna Amod")  # moderates A only
    mover = make.user(name="Mona Mover")  # moderates both
    mod_b = make.user(name="Bert Bmod")  # moderates B only
    forum_a = make.forum(moderators=[mod_a, mover])
    forum_b = make.forum(visibility="invite", moderators=[mover, mod_b])
    author = make.user(name="Arne Author")
    thread = make.thread(forum=forum_a, author=author)
    message = make.message(thread, author, "Text som bara B får läsa")
    action = moderation.hide_message(mover, message.id, "other", "Spam")
    moderation.move_thread(mover, thread.id, forum_b.id)
    moderation.appeal(author, action.id, "Titta en gång till")
    appeal = db.session.scalar(select(Appeal))
    return mod_a, mod_b, author, thread, message, action, appeal


def test_an_appeal_goes_to_the_moderators_of_the_forum_its_thread_moved_to(moved, db, client, auth):
    mod_a, mod_b, _author, _thread, _message, action, appeal = moved
    assert [a.id for a in pending_appeals(mod_b)] == [appeal.id]
    assert pending_appeals(mod_a) == []
    assert waiting_count(mod_b) == 1 and waiting_count(mod_a) == 0
    told = set(
        db.session.scalars(
            select(Notification.user_id).where(Notification.kind == "moderation_appeal")
        )
    )
    assert mod_b.id in told and mod_a.id not in told
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "appeal.submitted"))
    assert entry.forum_id == _thread.forum_id

    auth.login(mod_b)
    assert "Titta en gång till" in text(client.get("/moderation"))
    assert client.get(f"/moderation/actions/{action.id}").status_code == 200


def test_the_old_forums_moderators_cannot_see_or_decide_a_moved_appeal(moved, db, client, auth):
    mod_a, mod_b, _author, thread, message, action, appeal = moved
    auth.login(mod_a)
    assert "Titta en gång till" not in text(client.get("/moderation"))
    assert client.get(f"/moderation/actions/{action.id}").status_code == 404
    refused = client.post(
        f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "reversed", "note": "x"}
    )
    assert refused.status_code in (403, 404)
    db.session.expire_all()
    assert db.session.get(Message, message.id).state == "hidden"
    assert db.session.get(Appeal, appeal.id).decided_at is None

    auth.login(mod_b)
    decided = client.post(
        f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "reversed", "note": "Ok"}
    )
    assert decided.status_code == 302
    db.session.expire_all()
    assert db.session.get(Message, message.id).state == "visible"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "appeal.reversed"))
    assert entry.forum_id == thread.forum_id
