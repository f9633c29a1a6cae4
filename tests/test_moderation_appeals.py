"""Appeals: who decides them after a thread has moved, and what reversing a redaction
gives back (only what that decision removed; later removals and edits stay)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from forum.labels import audit_label
from forum.models import Appeal, AuditEntry, Message, MessageRevision, Notification
from forum.queries.moderation import pending_appeals, waiting_count
from forum.services import forums as forum_service
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
    queue = text(client.get("/moderation"))
    assert "Titta en gång till" in queue
    # the decision appealed, in words in the page's language (it showed the code "hide")
    link = f'<a href="/moderation/actions/{action.id}">'
    assert f"{link}Hidden message</a>" in queue and f"{link}hide</a>" not in queue
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "sv"
    assert f"Beslut: {link}Dolt meddelande</a>" in text(client.get("/moderation"))
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


# --- reversing a redaction ------------------------------------------------------------


@pytest.fixture
def people(make):
    moderators = [make.user("moderator") for _ in range(3)]
    author = make.user(name="Arne Author")
    thread = make.thread(forum=make.forum(), author=author)
    return moderators, author, thread


def reverse(db, moderator, author, action, note="Ok"):
    moderation.appeal(author, action.id, "Det var mitt jobbnummer")
    appeal = db.session.scalar(select(Appeal).where(Appeal.action_id == action.id))
    moderation.decide_appeal(moderator, appeal.id, "reversed", note)
    db.session.expire_all()


def body(db, message):
    return db.session.get(Message, message.id).body


def logged(db, action):
    return db.session.scalars(select(AuditEntry.reason).where(AuditEntry.action == action)).all()


def test_reversing_an_earlier_redaction_keeps_a_later_one(people, make, db):
    (first, second, judge), author, thread = people
    message = make.message(thread, author, "Ring 070-1234567, bor Storgatan 1")
    phone = moderation.redact_message(first, message.id, "Ring [tel borttaget], bor Storgatan 1")
    moderation.redact_message(second, message.id, "Ring [tel borttaget], bor [adress borttagen]")

    reverse(db, judge, author, phone)

    assert body(db, message) == "Ring 070-1234567, bor [adress borttagen]"
    assert logged(db, "message.redaction_kept") == []


def test_reversing_the_only_redaction_gives_the_text_back_exactly(people, make, db):
    (first, _second, judge), author, thread = people
    original = "Ring mig på 070-123 45 67\n\nHälsningar, Arne"
    message = make.message(thread, author, original)
    action = moderation.redact_message(first, message.id, "")

    reverse(db, judge, author, action)

    assert body(db, message) == original


def test_reversing_a_redaction_keeps_the_authors_later_edit(people, make, db):
    (first, _second, judge), author, thread = people
    message = make.message(thread, author, "Ring 070-1234567 om mötet")
    action = moderation.redact_message(first, message.id, "Ring [borttaget] om mötet")
    forum_service.edit_message(author, message.id, "Ring [borttaget] om mötet på tisdag")

    reverse(db, judge, author, action)

    assert body(db, message) == "Ring 070-1234567 om mötet på tisdag"
    kept = db.session.scalars(
        select(MessageRevision.body).where(MessageRevision.message_id == message.id)
    ).all()
    # nothing is dropped: the edited text as it stood before the reversal is a revision
    assert "Ring [borttaget] om mötet på tisdag" in kept


def test_a_reversal_that_cannot_be_done_exactly_keeps_the_later_redaction_and_says_so(
    people, make, db
):
    (first, second, judge), author, thread = people
    message = make.message(thread, author, "Ring 070-1234567, bor Storgatan 1")
    phone = moderation.redact_message(first, message.id, "Ring [tel borttaget], bor Storgatan 1")
    # a later redaction took out the same words (and more)
    moderation.redact_message(second, message.id, "[Allt borttaget]")

    reverse(db, judge, author, phone)

    assert body(db, message) == "[Allt borttaget]"
    assert logged(db, "message.redaction_kept") == [
        f"decision {phone.id}: a later edit or redaction changed the same text"
    ]
    assert audit_label("message.redaction_kept") != audit_label("no.such.event")  # has words


def test_a_reversal_gives_back_nothing_a_standing_redaction_removed(people, make, db):
    """The first redaction took out a stretch that also held the address; the second took
    the address out where it was repeated: giving the first stretch back would show it."""
    (first, second, judge), author, thread = people
    message = make.message(thread, author, "Jag, Storgatan 1, ringer. Adress: Storgatan 1")
    wide = moderation.redact_message(
        first, message.id, "Jag, [borttaget], ringer. Adress: Storgatan 1"
    )
    moderation.redact_message(second, message.id, "Jag, [borttaget], ringer. Adress: [borttagen]")

    reverse(db, judge, author, wide)

    assert "Storgatan" not in body(db, message)
    assert len(logged(db, "message.redaction_kept")) == 1


def test_a_reversal_rewrites_the_excerpts_and_tells_the_room(people, make, db, socket_for):
    (first, _second, judge), author, thread = people
    message = make.message(thread, author, "Ring 070-1234567")
    action = moderation.redact_message(first, message.id, "Ring [borttaget]")
    watcher = socket_for(make.user())
    watcher.emit("join", {"thread_id": thread.id}, callback=True)
    watcher.get_received()

    reverse(db, judge, author, action)

    edited = [e["args"][0] for e in watcher.get_received() if e["name"] == "message:edited"]
    assert edited and "070-1234567" in edited[-1]["message"]["html"]


def test_a_redaction_from_before_the_revision_was_tied_to_it_is_still_found(people, make, db):
    """Older redactions wrote their revision in the same flush as the decision, a few
    microseconds apart: that one revision is taken."""
    (first, second, judge), author, thread = people
    message = make.message(thread, author, "Ring 070-1234567, bor Storgatan 1")
    phone = moderation.redact_message(first, message.id, "Ring [tel borttaget], bor Storgatan 1")
    moderation.redact_message(second, message.id, "Ring [tel borttaget], bor [adress borttagen]")
    for revision in db.session.scalars(select(MessageRevision)):
        revision.replaced_at += timedelta(microseconds=150)
    db.session.commit()

    reverse(db, judge, author, phone)

    assert body(db, message) == "Ring 070-1234567, bor [adress borttagen]"


def test_when_a_later_redactions_removal_is_unknown_nothing_is_given_back(people, make, db):
    (first, second, judge), author, thread = people
    message = make.message(thread, author, "Ring 070-1234567, bor Storgatan 1")
    phone = moderation.redact_message(first, message.id, "Ring [tel borttaget], bor Storgatan 1")
    address = moderation.redact_message(
        second, message.id, "Ring [tel borttaget], bor [adress borttagen]"
    )
    for revision in db.session.scalars(select(MessageRevision)):
        if revision.replaced_at == address.created_at:
            revision.replaced_at -= timedelta(hours=1)  # no longer tied to its decision
    db.session.commit()

    reverse(db, judge, author, phone)

    assert body(db, message) == "Ring [tel borttaget], bor [adress borttagen]"
    assert len(logged(db, "message.redaction_kept")) == 1
