"""Follow-up actions under concurrency: requests that arrive at the same moment.

SQLite has one writer at a time and no row locks, so these run on PostgreSQL only (set
FORUM_TEST_DATABASE_URL), as the other race tests do. Each worker waits at a barrier
(bounded by a timeout) so the requests really overlap.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support import Auth, at_once

from forum.extensions import db as _db
from forum.models import (
    Action,
    ActionFollower,
    ActionHistory,
    ActionUpdate,
    Department,
    Notification,
    User,
)
from forum.services import follow_up as service

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("row_locks")]


def dept(db) -> Department:
    return db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))


def propose(app, user, owner: str, **over) -> Action:
    data = {
        "title": "Kvällsöppet på mötesplatsen",
        "owner": owner,
        "due_date": (service.today() + timedelta(days=30)).isoformat(),
        "commitment_ids": [1],
    }
    data.update(over)
    with app.test_request_context():
        return service.propose_action(user, service.ActionInput(**data))


def a_message(make, official, member) -> int:
    """A message in a public thread: what a member proposes an action from."""
    thread = make.thread(forum=make.forum(owner=official), author=official)
    return make.message(thread, member, "Vi kan ordna kvällsöppet.").id


def count(db, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(*where))


def test_owners_accepting_at_once_accept_once(app, make, db):
    """Four officials press "Accept" together: one accepts, the others are told it already
    is; one history row, the proposer told once."""
    officials = [make.user("official") for _ in range(4)]
    member = make.user()
    message_id = a_message(make, officials[0], member)
    action = propose(app, member, f"department:{dept(db).id}", message_id=message_id)
    action_id, ids = action.id, [o.id for o in officials]
    db.session.commit()
    ready = threading.Barrier(4, timeout=10)

    def accept(i: int) -> str:
        user = _db.session.get(User, ids[i])
        ready.wait()
        service.accept_action(user, action_id)
        return "ok"

    outcomes = at_once(app, accept, 4)
    assert outcomes.count("ok") == 1, outcomes
    assert sorted(type(o).__name__ for o in outcomes if o != "ok") == ["Conflict"] * 3
    assert count(db, ActionHistory.action_id == action_id, ActionHistory.field == "accepted") == 1
    told = count(db, Notification.user_id == member.id, Notification.kind == "action_accepted")
    assert told == 1


def test_two_changes_at_once_each_see_the_other(app, make, db):
    """One official marks the action done while another drops it: the second change starts
    from the first one's values, so the history is a chain and the action is consistent."""
    one, two = make.user("official"), make.user("official")
    action = propose(app, one, f"department:{dept(db).id}")
    action_id, ids, due = action.id, [one.id, two.id], action.due_date.isoformat()
    db.session.commit()
    ready = threading.Barrier(2, timeout=10)

    def change(i: int) -> str:
        user = _db.session.get(User, ids[i])
        ready.wait()
        if i == 0:
            service.change_action(user, action_id, "done", "100", "", due)
        else:
            service.change_action(user, action_id, "dropped", "0", "Ingen budget", due)
        return "ok"

    assert at_once(app, change, 2) == ["ok", "ok"]
    db.session.expire_all()
    final = db.session.get(Action, action_id)
    statuses = list(
        db.session.execute(
            select(ActionHistory.old_value, ActionHistory.new_value)
            .where(ActionHistory.action_id == action_id, ActionHistory.field == "status")
            .order_by(ActionHistory.id)
        )
    )
    assert statuses[0][0] == "planned"
    assert statuses[1][0] == statuses[0][1]  # the second change saw the first
    assert final.status.value == statuses[1][1]
    assert (final.status.value, final.progress) in (("done", 100), ("dropped", 0))
    assert (final.drop_reason is None) == (final.status.value == "done")


def test_following_twice_at_once_follows_once(app, make, db):
    """A double-clicked "Follow this action": both succeed, one follower row."""
    official = make.user("official")
    people = [make.user() for _ in range(3)]
    action = propose(app, official, f"department:{dept(db).id}")
    action_id, ids = action.id, [p.id for p in people]
    db.session.commit()
    for person_id in ids:
        ready = threading.Barrier(2, timeout=10)

        def follow(_i: int, person_id: int = person_id, ready=ready) -> bool:  # noqa: ANN001
            user = _db.session.get(User, person_id)
            ready.wait()
            return service.set_following(user, action_id, True)

        assert at_once(app, follow, 2) == [True, True]
        assert (
            count(db, ActionFollower.action_id == action_id, ActionFollower.user_id == person_id)
            == 1
        )

        # and stopping twice at once is no error either
        def unfollow(_i: int, person_id: int = person_id) -> bool:
            user = _db.session.get(User, person_id)
            return service.set_following(user, action_id, False)

        assert at_once(app, unfollow, 2) == [False, False]


def test_follow_double_click_over_http_never_fails(app, make, db):
    official = make.user("official")
    action = propose(app, official, f"department:{dept(db).id}")
    action_id = action.id
    codes: list[int] = []
    for _ in range(3):
        person = make.user()
        db.session.commit()
        clients = [app.test_client() for _ in range(2)]
        for c in clients:
            Auth(c).login(person)
        ready = threading.Barrier(2, timeout=10)

        def click(c, ready=ready) -> None:  # noqa: ANN001
            ready.wait()
            codes.append(c.post(f"/actions/{action_id}/follow", data={"follow": "1"}).status_code)

        threads = [threading.Thread(target=click, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert codes == [302] * 6


def test_a_proposal_posted_twice_at_once_is_one_action(app, make, db, client, auth):
    """The same form (the same one-time token) posted twice at once: one action, the owner's
    side told once, both requests sent to it."""
    official, member = make.user("official"), make.user()
    message_id = a_message(make, official, member)
    db.session.commit()
    member_id = member.id
    owner = f"department:{dept(db).id}"
    ready = threading.Barrier(2, timeout=10)

    def post(_i: int) -> int:
        user = _db.session.get(User, member_id)
        ready.wait()
        return propose(app, user, owner, form_token="a" * 32, message_id=message_id).id

    first, second = at_once(app, post, 2)
    assert isinstance(first, int) and first == second
    assert count(db, Action.proposed_by_id == member_id) == 1
    told = count(db, Notification.user_id == official.id, Notification.kind == "action_awaiting")
    assert told == 1


def test_an_update_posted_twice_at_once_is_one_update(app, make, db):
    official, follower = make.user("official"), make.user()
    action = propose(app, official, f"department:{dept(db).id}")
    with app.test_request_context():
        service.set_following(follower, action.id, True)
    action_id, official_id = action.id, official.id
    db.session.commit()
    ready = threading.Barrier(2, timeout=10)

    def post(_i: int) -> int:
        user = _db.session.get(User, official_id)
        ready.wait()
        return service.post_update(user, action_id, "Lokalen är bokad.", form_token="b" * 32).id

    first, second = at_once(app, post, 2)
    assert isinstance(first, int) and first == second
    assert count(db, ActionUpdate.action_id == action_id) == 1
    told = count(db, Notification.user_id == follower.id, Notification.kind == "action_update")
    assert told == 1


def test_accept_and_decline_at_once_give_one_answer(app, make, db):
    """One official accepts while another declines: the row lock lets one win, the other
    hears it (a Conflict); the action is accepted or declined, never both, and the
    proposer is told once."""
    one, two = make.user("official"), make.user("official")
    member = make.user()
    message_id = a_message(make, one, member)
    action = propose(app, member, f"department:{dept(db).id}", message_id=message_id)
    action_id, ids = action.id, [one.id, two.id]
    db.session.commit()
    ready = threading.Barrier(2, timeout=10)

    def answer(i: int) -> str:
        user = _db.session.get(User, ids[i])
        ready.wait()
        if i == 0:
            service.accept_action(user, action_id)
        else:
            service.decline_action(user, action_id, "Ingen budget")
        return "ok"

    outcomes = at_once(app, answer, 2)
    assert outcomes.count("ok") == 1, outcomes
    assert [type(o).__name__ for o in outcomes if o != "ok"] == ["Conflict"]
    db.session.expire_all()
    final = db.session.get(Action, action_id)
    assert final.accepted != final.declined
    answers = count(
        db,
        ActionHistory.action_id == action_id,
        ActionHistory.field.in_(["accepted", "declined"]),
    )
    assert answers == 1
    told = count(
        db,
        Notification.user_id == member.id,
        Notification.kind.in_(["action_accepted", "action_declined"]),
    )
    assert told == 1


def test_showing_a_hidden_action_and_reversing_its_hiding_at_once_show_it_once(app, make, db):
    """A moderator shows a hidden action again while another reverses its hiding on appeal:
    both lock the action's row first (a deadlock before: the appeal locked its decision
    first), so it is shown and logged once, and the appeal is closed once, whichever wins."""
    from forum.models import Appeal, AppealOutcome, AuditEntry, ModerationAction
    from forum.services import moderation

    hider, shower = make.user("moderator"), make.user("moderator")
    decider, official, member = make.user("admin"), make.user("official"), make.user()
    message_id = a_message(make, official, member)
    action = propose(app, member, f"department:{dept(db).id}", message_id=message_id)
    with app.test_request_context():
        service.hide_action(hider, action.id, "Reklam")
        decision = db.session.scalar(select(ModerationAction))
        appeal_id = moderation.appeal(member, decision.id, "Det var inte reklam.").id
    action_id, ids = action.id, [shower.id, decider.id]
    ready = threading.Barrier(2, timeout=10)

    def act(i: int) -> str:
        user = _db.session.get(User, ids[i])
        ready.wait()
        if i == 0:
            service.unhide_action(user, action_id)
        else:
            moderation.decide_appeal(user, appeal_id, "reversed", "Saklig rubrik")
        return "ok"

    outcomes = at_once(app, act, 2)
    # the second hears what the first did: "not hidden" or "already decided"
    assert outcomes.count("ok") == 1, outcomes
    assert [type(o).__name__ for o in outcomes if o != "ok"] == ["Conflict"]
    closed = db.session.get(Appeal, appeal_id)
    db.session.refresh(closed)
    assert closed.outcome == (
        AppealOutcome.reversed if outcomes[1] == "ok" else AppealOutcome.lapsed
    )
    db.session.expire_all()
    assert not db.session.get(Action, action_id).hidden
    shown = count(db, AuditEntry.action == "action.unhidden", AuditEntry.target_id == action_id)
    assert shown == 1
