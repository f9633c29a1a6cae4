"""An appeal against a decision that has been lifted since is closed without effect.

m1 hid a message and the author appealed; m2 restored the message (m1's decision was
lifted); m3 hid it again for another reason. The appeal against m1's decision stayed in
the queue, and deciding it "reversed" showed the message again and marked m3's decision
reversed, though nobody had appealed it. Now lifting a decision closes its open appeal
("lapsed", logged, the appellant told), the queue leaves such appeals out, deciding one
changes nothing, and reversing a decision lifts that decision only.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.errors import Conflict
from forum.models import (
    ActionKind,
    Appeal,
    AppealOutcome,
    AuditEntry,
    Message,
    MessageState,
    ModerationAction,
    Notification,
)
from forum.models.base import utcnow
from forum.queries.moderation import pending_appeals, transparency, waiting_count
from forum.services import moderation


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def story(make):
    m1, m2, m3 = (make.user("moderator") for _ in range(3))
    author = make.user(name="Arne Author")
    thread = make.thread(forum=make.forum(), author=make.user())
    message = make.message(thread, author, "ett inlägg")
    first = moderation.hide_message(m1, message.id, "other", "första beslutet")
    appeal = moderation.appeal(author, first.id, "Det var fel.")
    return m1, m2, m3, author, message, first, appeal


def fresh(db, model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def audit_actions(db):
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.action.startswith("message.") | AuditEntry.action.startswith("appeal.")
            )
            .order_by(AuditEntry.id)
        )
    )


def kinds_told(db, person):
    return list(
        db.session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == person.id)
            .order_by(Notification.id)
        )
    )


def test_restoring_the_message_closes_the_appeal_against_the_lifted_decision(
    story, db, client, auth
):
    _m1, m2, _m3, author, message, first, appeal = story
    assert [a.id for a in pending_appeals(m2)] == [appeal.id]

    moderation.restore_message(m2, message.id)

    item = fresh(db, Appeal, appeal.id)
    assert item.outcome == AppealOutcome.lapsed
    assert item.decided_by_id == m2.id and item.decided_at is not None
    assert fresh(db, ModerationAction, first.id).reversed_by_id == m2.id
    assert pending_appeals(m2) == [] and waiting_count(m2) == 0
    assert kinds_told(db, author)[-2:] == ["moderation_restored", "appeal_lapsed"]
    assert "appeal.lapsed" in audit_actions(db)
    # the person's page of the decision says the appeal is closed, and why
    auth.login(author)
    page = client.get(f"/moderation/actions/{first.id}").get_data(as_text=True)
    assert "had already been lifted" in page
    assert transparency()["appeals"]["pending"] == 0


def test_a_new_hide_after_the_restore_is_not_undone_by_the_old_appeal(story, db, client, auth):
    _m1, m2, m3, author, message, first, appeal = story
    moderation.restore_message(m2, message.id)
    second = moderation.hide_message(m3, message.id, "other", "nytt, annat skäl")

    auth.login(m2)
    queue = client.get("/moderation").get_data(as_text=True)
    assert f"/moderation/appeals/{appeal.id}/decide" not in queue
    with pytest.raises(Conflict):
        moderation.decide_appeal(m2, appeal.id, "reversed", "ok")

    assert fresh(db, Message, message.id).state == MessageState.hidden
    assert fresh(db, ModerationAction, second.id).reversed_at is None
    assert fresh(db, Appeal, appeal.id).outcome == AppealOutcome.lapsed
    # everything that happened is on record, nothing removed
    assert audit_actions(db) == [
        "message.hidden",
        "appeal.submitted",
        "message.restored",
        "appeal.lapsed",
        "message.hidden",
    ]
    assert db.session.scalar(select(func.count(ModerationAction.id))) == 2


def test_deciding_before_the_new_hide_changes_nothing_either(story, db):
    _m1, m2, m3, _author, message, _first, appeal = story
    moderation.restore_message(m2, message.id)
    with pytest.raises(Conflict):
        moderation.decide_appeal(m2, appeal.id, "upheld", "")
    second = moderation.hide_message(m3, message.id, "other", "nytt skäl")
    assert fresh(db, Message, message.id).state == MessageState.hidden
    assert fresh(db, ModerationAction, second.id).reversed_at is None


def test_an_appeal_left_open_on_a_lifted_decision_is_closed_without_effect(story, db):
    """An appeal open on a decision lifted without closing it (the old code; migration
    e28moderation closes those it finds): out of the queue, and deciding it closes it as
    lapsed and changes nothing."""
    m1, m2, m3, author, message, first, appeal = story
    # lifted the old way: the hide reversed, its appeal left open
    action = db.session.get(ModerationAction, first.id)
    action.reversed_at, action.reversed_by_id = utcnow(), m2.id
    db.session.get(Message, message.id).state = MessageState.visible
    db.session.commit()
    second = moderation.hide_message(m3, message.id, "other", "nytt, annat skäl")
    assert pending_appeals(m2) == [] and waiting_count(m2) == 0

    moderation.decide_appeal(m2, appeal.id, "reversed", "ok")

    assert fresh(db, Message, message.id).state == MessageState.hidden
    assert fresh(db, ModerationAction, second.id).reversed_at is None
    item = fresh(db, Appeal, appeal.id)
    assert item.outcome == AppealOutcome.lapsed and item.decided_by_id == m2.id
    assert kinds_told(db, author)[-1] == "appeal_lapsed"
    assert "appeal.reversed" not in audit_actions(db)
    assert audit_actions(db)[-1] == "appeal.lapsed"


def test_reversing_a_hide_lifts_that_decision_only(story, db, socket_for, make):
    """Should a message carry two hides in force (two moderators at once), reversing one
    on appeal keeps the message hidden under the other."""
    m1, m2, m3, _author, message, first, appeal = story
    db.session.get(Message, message.id).hidden_reason = "första beslutet"
    other = ModerationAction(
        kind=ActionKind.hide,
        subject_id=message.author_id,
        actor_id=m3.id,
        forum_id=message.thread.forum_id,
        thread_id=message.thread_id,
        message_id=message.id,
        reason_code="other",
        reason="samtidigt",
    )
    db.session.add(other)
    db.session.commit()
    watcher = socket_for(make.user())
    watcher.emit("join", {"thread_id": message.thread_id}, callback=True)
    watcher.get_received()

    moderation.decide_appeal(m2, appeal.id, "reversed", "ok")

    assert fresh(db, ModerationAction, first.id).reversed_by_id == m2.id
    assert fresh(db, ModerationAction, other.id).reversed_at is None
    still = fresh(db, Message, message.id)
    assert still.state == MessageState.hidden
    assert still.hidden_reason == "samtidigt"  # the reason of the decision that stands
    events = watcher.get_received()
    assert [e["name"] for e in events if e["name"] == "message:restored"] == []
    hidden = [e["args"][0]["message"] for e in events if e["name"] == "message:hidden"]
    assert hidden[-1]["hidden_reason"] == "samtidigt"
    assert "message.restored" not in audit_actions(db)


def test_the_only_hide_reversed_on_appeal_shows_the_message(story, db):
    _m1, m2, _m3, author, message, first, appeal = story
    moderation.decide_appeal(m2, appeal.id, "reversed", "ok")
    assert fresh(db, Message, message.id).state == MessageState.visible
    assert fresh(db, Appeal, appeal.id).outcome == AppealOutcome.reversed
    assert kinds_told(db, author)[-1] == "appeal_reversed"


def test_lifting_a_mute_closes_its_appeal(make, db):
    moderator, person = make.user("moderator"), make.user()
    forum = make.forum()
    mute = moderation.mute_person(moderator, person.id, forum.id, 60, "Ton")
    appeal = moderation.appeal(person, mute.id, "Orättvist")
    other = make.user("moderator")

    moderation.lift_restriction(other, mute.id)

    assert fresh(db, Appeal, appeal.id).outcome == AppealOutcome.lapsed
    assert pending_appeals(make.user("moderator")) == []
    assert "appeal_lapsed" in kinds_told(db, person)
