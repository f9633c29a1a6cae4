"""Appointing roles while someone else acts on the same person: two admins (or a double click)
granting one role, and an account closed while an admin makes it an admin.

The races wait at a barrier (bounded by a timeout) and run on PostgreSQL only (row locks), as
the other race tests do; the same changes one after the other run on both databases. The
loser ends as a refusal the page can show (a DomainError), and what was done is logged once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update
from support import steps_at_once, stored_count

from forum.errors import Conflict, DomainError, Forbidden, NotFound
from forum.extensions import db as _db
from forum.models import AuditEntry, User
from forum.services import admin, privacy

# the step has decided and logged what it did, and has not committed yet
LOGGED = r"^INSERT INTO audit_log"


def granted(person: User, role: str = "admin") -> int:
    return stored_count(
        AuditEntry.action == "role.granted",
        AuditEntry.target_id == person.id,
        AuditEntry.reason == role,
    )


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
def test_two_admins_granting_one_role_at_once_grant_it_once(app, make):
    """Both read "not a moderator yet", both set it and both logged it. The second now waits
    for the first and is told the person already has the role."""
    first, second, person = make.user("admin"), make.user("admin"), make.user()
    grant = lambda actor: admin.grant_role(actor, person.id, "moderator")  # noqa: E731
    outcomes = steps_at_once(app, [grant, grant], [first.id, second.id], pause_after=LOGGED)
    assert outcomes.count("ok") == 1, outcomes
    assert any(isinstance(o, Conflict) for o in outcomes), outcomes
    assert granted(person, "moderator") == 1
    assert _db.session.get(User, person.id).is_moderator


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
def test_closing_an_account_while_another_admin_makes_it_an_admin_does_one_of_them(app, make):
    """An admin closes a person's account on request while another makes the person an
    admin. Closing had checked "not an admin" before it locked the person, so both went
    through: a closed account with the admin role. Whichever comes second is refused now."""
    closer, granter, person = make.user("admin"), make.user("admin"), make.user()
    close = lambda actor: privacy.close_account(actor, person.id)  # noqa: E731
    grant = lambda actor: admin.grant_role(actor, person.id, "admin")  # noqa: E731
    outcomes = steps_at_once(app, [close, grant], [closer.id, granter.id], pause_after=LOGGED)
    assert outcomes.count("ok") == 1, outcomes
    (refused,) = [o for o in outcomes if o != "ok"]
    assert isinstance(refused, Forbidden | NotFound), outcomes
    _db.session.expire_all()
    stored = _db.session.get(User, person.id)
    assert not (stored.is_closed and stored.is_admin)
    assert stored_count(AuditEntry.action == "account.close") + granted(person) == 1


def test_a_role_is_not_given_to_a_closed_account(app, make):
    admin_user, person = make.user("admin"), make.user()
    with app.test_request_context():
        privacy.close_account(admin_user, person.id)
        with pytest.raises(NotFound):
            admin.grant_role(admin_user, person.id, "moderator")
    assert granted(person, "moderator") == 0


def test_closing_reads_the_person_again_after_taking_their_lock(app, make):
    """What decides is the stored row, not the copy the request loaded before the lock: a
    person made an admin after that copy was read is not closed by another admin."""
    admin_user, person = make.user("admin"), make.user()
    with app.test_request_context():
        _db.session.get(User, person.id)  # the copy a page would have loaded first
        users = User.__table__
        _db.session.execute(
            update(users).where(users.c.id == person.id).values(is_admin=True),
            execution_options={"synchronize_session": False},
        )
        with pytest.raises(DomainError) as refused:
            privacy.close_account(admin_user, person.id)
        assert isinstance(refused.value, Forbidden)
    _db.session.expire_all()
    assert not _db.session.get(User, person.id).is_closed
