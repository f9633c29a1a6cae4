"""Telling an action's followers and owners reads the round its source thread belongs to once,
not once per person (the thread of a consultation round's discussion)."""

from __future__ import annotations

import pytest
from consultation_support import make_round
from sqlalchemy import select
from support import propose_from_message

from forum.config import parse_rate_limit
from forum.models import Department, Thread
from forum.services import follow_up as service


def round_action(app, make, db, n_followers: int, department: str = "Social resursnämnd"):
    """An accepted action from a message in an open round's discussion, with followers."""
    official = make.user("official", department=department)
    make.organisation(admin=make.user())  # someone to ask
    round_ = make_round(app, make, official, "open")
    thread = db.session.get(Thread, round_.thread_id)
    message = make.message(thread, official, "Ett förslag i samrådet")
    department = db.session.scalar(
        select(Department).where(Department.id == official.department_id)
    )
    action = propose_from_message(app, official, department, message)
    with app.test_request_context():
        for _ in range(n_followers):
            service.set_following(make.user(), action.id, True)
    return official, action


def reads(counter) -> tuple[int, int]:
    """(statements other than the notices' own rows, reads of the round)."""
    return (
        sum(not s.lstrip().startswith("INSERT INTO") for s in counter.statements),
        sum("FROM consultation_rounds" in s for s in counter.statements),
    )


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def test_an_update_reads_the_round_once_however_many_follow(app, make, db, count_queries):
    counts = []
    for n in (2, 20):
        official, action = round_action(app, make, db, n)
        db.session.expire_all()
        with app.test_request_context(), count_queries() as counter:
            service.post_update(official, action.id, "Nu har vi börjat.")
        counts.append(reads(counter))
    assert counts[0] == counts[1], counts  # each follower adds only their notice and mail


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def test_the_owners_side_is_read_with_the_round_once_however_many_officials(
    app, make, db, count_queries
):
    counts = []
    for n, department in ((2, "Kulturnämnden"), (20, "Idrotts- och föreningsnämnden")):
        official, action = round_action(app, make, db, 0, department)
        for _ in range(n - 1):
            make.user("official", department=department)
        db.session.expire_all()
        with app.test_request_context(), count_queries() as counter:
            people = service.owner_people(db.session.get(type(action), action.id))
        assert len(people) == n
        counts.append(reads(counter))
    assert counts[0] == counts[1], counts
