"""Moderators acting on the same message, decision or appeal at the same moment.

Each worker waits at a barrier (bounded by a timeout) so the requests really overlap. SQLite
has one writer at a time and no row locks, so these run on PostgreSQL only (set
FORUM_TEST_DATABASE_URL), as the other race tests do. Whichever request wins, the other hears
what it did (a Conflict), and the decision, its log entry and the person's notice exist once.
"""

from __future__ import annotations

import pytest
from support import steps_at_once, stored_count

from forum.extensions import db as _db
from forum.models import (
    Appeal,
    AppealOutcome,
    AuditEntry,
    Message,
    MessageState,
    ModerationAction,
    Notification,
    User,
)
from forum.services import moderation

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("row_locks")]


@pytest.fixture
def world(make):
    """Three moderators of a forum (the one who decides, and two who may decide an appeal
    against that), and a member's message in it."""
    hider, first, second = (make.user(name=n) for n in ("Hedda", "Frida", "Sam"))
    member = make.user(name="Mia Medlem")
    forum = make.forum(moderators=[hider, first, second])
    thread = make.thread(forum=forum, author=member)
    message = make.message(thread, member, "Ett inlägg att pröva")
    return {
        "hider": hider,
        "mods": [first.id, second.id],
        "member": member,
        "forum": forum,
        "message": message,
    }


def one_won(outcomes: list[object]) -> None:
    assert outcomes.count("ok") == 1, outcomes
    assert [type(o).__name__ for o in outcomes if o != "ok"] == ["Conflict"], outcomes


def told(member: User, kind: str) -> int:
    return stored_count(Notification.user_id == member.id, Notification.kind == kind)


def test_two_moderators_hiding_one_message_at_once_hide_it_once(app, world):
    """Both read "not hidden yet" before: two decisions, the author told twice."""
    message_id = world["message"].id
    outcomes = steps_at_once(
        app,
        [
            lambda u: moderation.hide_message(u, message_id, "other", "Reklam"),
            lambda u: moderation.hide_message(u, message_id, "other", "Spam"),
        ],
        world["mods"],
    )
    one_won(outcomes)
    assert stored_count(ModerationAction.message_id == message_id) == 1
    assert (
        stored_count(AuditEntry.action == "message.hidden", AuditEntry.target_id == message_id) == 1
    )
    assert told(world["member"], "moderation_hidden") == 1
    assert _db.session.get(Message, message_id).state == MessageState.hidden


@pytest.mark.parametrize("outcomes_asked", [("upheld", "reversed"), ("reversed", "reversed")])
def test_two_moderators_deciding_one_appeal_at_once_decide_it_once(app, world, outcomes_asked):
    """One upholds while the other reverses (or both reverse): the appeal is decided once, the
    message's state is the winner's, and the author hears one outcome. Before, both passed
    the "already decided?" check: an appeal could read "upheld" over a message shown again."""
    member, message_id = world["member"], world["message"].id
    action = moderation.hide_message(world["hider"], message_id, "other", "Reklam")
    appeal_id = moderation.appeal(member, action.id, "Det var ingen reklam.").id
    outcomes = steps_at_once(
        app,
        [
            lambda u, o=o: moderation.decide_appeal(u, appeal_id, o, "Prövat")
            for o in outcomes_asked
        ],
        world["mods"],
    )
    one_won(outcomes)
    winner = outcomes_asked[outcomes.index("ok")]
    _db.session.expire_all()
    decided = _db.session.get(Appeal, appeal_id)
    assert decided.outcome == AppealOutcome(winner)
    assert stored_count(AuditEntry.action.like("appeal.%"), AuditEntry.target_id == action.id) == 2
    assert told(member, f"appeal_{winner}") == 1
    assert told(member, "appeal_upheld") + told(member, "appeal_reversed") == 1
    shown = winner == "reversed"
    state = _db.session.get(Message, message_id).state
    assert state == (MessageState.visible if shown else MessageState.hidden)
    restored = AuditEntry.action == "message.restored", AuditEntry.target_id == message_id
    assert stored_count(*restored) == (1 if shown else 0)


def test_showing_a_message_again_while_its_appeal_is_reversed_shows_it_once(app, world):
    """A moderator shows a hidden message again while another reverses its hiding on appeal:
    both take the message's lock first, so it is shown once, logged once, and the appeal is
    closed once (reversed, or lapsed if the showing came first)."""
    member, message_id = world["member"], world["message"].id
    action = moderation.hide_message(world["hider"], message_id, "other", "Reklam")
    appeal_id = moderation.appeal(member, action.id, "Det var ingen reklam.").id
    outcomes = steps_at_once(
        app,
        [
            lambda u: moderation.restore_message(u, message_id),
            lambda u: moderation.decide_appeal(u, appeal_id, "reversed", "Saklig fråga"),
        ],
        world["mods"],
    )
    one_won(outcomes)
    _db.session.expire_all()
    assert _db.session.get(Message, message_id).state == MessageState.visible
    restored = AuditEntry.action == "message.restored", AuditEntry.target_id == message_id
    assert stored_count(*restored) == 1
    closed = _db.session.get(Appeal, appeal_id)
    assert closed.outcome == (
        AppealOutcome.reversed if outcomes[1] == "ok" else AppealOutcome.lapsed
    )
    assert stored_count(AuditEntry.action.like("appeal.%"), AuditEntry.target_id == action.id) == 2


def test_lifting_a_mute_while_its_appeal_is_decided_ends_it_once(app, world):
    """A moderator lifts a mute while another reverses it on appeal: the mute ends once, the
    person is told once, and the appeal is reversed or lapsed, never both."""
    member, forum = world["member"], world["forum"]
    mute = moderation.mute_person(world["hider"], member.id, forum.id, 60, "Lugna ner dig")
    appeal_id = moderation.appeal(member, mute.id, "Jag var lugn.").id
    outcomes = steps_at_once(
        app,
        [
            lambda u: moderation.lift_restriction(u, mute.id),
            lambda u: moderation.decide_appeal(u, appeal_id, "reversed", "Det räcker"),
        ],
        world["mods"],
    )
    one_won(outcomes)
    _db.session.expire_all()
    closed = _db.session.get(Appeal, appeal_id)
    assert closed.outcome == (
        AppealOutcome.reversed if outcomes[1] == "ok" else AppealOutcome.lapsed
    )
    assert stored_count(AuditEntry.action == "user.unmuted", AuditEntry.target_id == member.id) == (
        1 if outcomes[0] == "ok" else 0
    )
    assert told(member, "moderation_lifted") + told(member, "appeal_reversed") == 1
    assert _db.session.get(ModerationAction, mute.id).reversed_at is not None


def test_readers_flagging_at_once_tell_the_moderators_once_and_hide_at_the_threshold(app, make):
    """A spam message in a busy room: readers flag it in the same moment. Each counted only
    the flags committed before it, so two first flags told the moderators twice, and the
    flags that made the threshold together left it showing."""
    moderator, author = make.user(), make.user()
    readers = [make.user() for _ in range(5)]
    thread = make.thread(forum=make.forum(moderators=[moderator]), author=author)
    first = make.message(thread, author, "Köp billiga klockor").id
    flag = [lambda u: moderation.flag_message(u, first, "spam")] * 2
    assert steps_at_once(app, flag, [readers[0].id, readers[1].id]) == ["ok", "ok"]
    assert told(moderator, "moderation_flag") == 1

    second = make.message(thread, author, "Köp billiga klockor igen").id
    moderation.flag_message(readers[2], second, "spam")
    flag = [lambda u: moderation.flag_message(u, second, "spam")] * 2
    with app.app_context():  # the threshold is 3: the second and third flags at once
        assert moderation.flag_threshold() == 3
    assert steps_at_once(app, flag, [readers[3].id, readers[4].id]) == ["ok", "ok"]
    _db.session.expire_all()
    assert _db.session.get(Message, second).state == MessageState.hidden
    hidden = AuditEntry.action == "message.auto_hidden", AuditEntry.target_id == second
    assert stored_count(*hidden) == 1
