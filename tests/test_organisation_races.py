"""Two requests on one organisation at the same moment: a double click on "verify", two site
admins reviewing the same registration, and organisation admins leaving or closing their
accounts together.

Each worker waits at a barrier (bounded by a timeout) so the requests really overlap. SQLite
has one writer at a time and no row locks, so these run on PostgreSQL only (set
FORUM_TEST_DATABASE_URL), as the other race tests do. The second request gets what it would get
a moment later (a Conflict where that is a refusal), what was done is logged and mailed once,
and an organisation keeps an admin.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support import PASSWORD, steps_at_once, stored_count

from forum.errors import Conflict, Invalid, NotFound
from forum.extensions import db as _db
from forum.models import (
    AuditEntry,
    MemberRole,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationStatus,
    OutboxMail,
    User,
)
from forum.services import organisations, privacy

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("row_locks")]


def admins(org_id: int) -> int:
    return stored_count(
        Membership.organisation_id == org_id,
        Membership.role == MemberRole.admin,
        Membership.status == MembershipStatus.approved,
    )


def mails_to(person: User) -> list[str]:
    """The bodies of the mails queued to `person`, in the order they were queued."""
    _db.session.expire_all()
    query = select(OutboxMail.body).where(OutboxMail.to_address == person.email)
    return list(_db.session.scalars(query.order_by(OutboxMail.id)))


def two_admins(make) -> tuple[User, User, int]:
    """An organisation with two approved admins."""
    first, second = make.user(), make.user()
    org = make.organisation(admin=first, members=[second])
    membership = _db.session.scalar(
        select(Membership).where(
            Membership.organisation_id == org.id, Membership.user_id == second.id
        )
    )
    membership.role = MemberRole.admin
    _db.session.commit()
    return first, second, org.id


# --- reviewing a registration ------------------------------------------------------------

REVIEW = {
    "verify": lambda org_id: lambda u: organisations.verify_organisation(u, org_id),
    "reject": lambda org_id: lambda u: organisations.reject_organisation(u, org_id, "Finns inte"),
}
DONE = {"verify": "organisation.verified", "reject": "organisation.rejected"}
STATUS = {"verify": OrganisationStatus.verified, "reject": OrganisationStatus.rejected}


@pytest.mark.parametrize("verdict", ["verify", "reject"])
def test_a_double_click_on_a_review_decides_it_once(app, make, verdict):
    """Both clicks read "not yet verified" (or "not yet rejected"): two log entries, and the
    organisation's admin was mailed the verdict twice. The second now waits for the first
    and is refused, as it is a moment later."""
    admin, lead = make.user("admin"), make.user()
    org_id = make.organisation(admin=lead, verified=False).id
    step = REVIEW[verdict](org_id)
    outcomes = steps_at_once(
        app, [step, step], [admin.id, admin.id], pause_after="FROM organisations"
    )
    assert outcomes.count("ok") == 1, outcomes
    assert [type(o) for o in outcomes if o != "ok"] == [Conflict], outcomes
    assert stored_count(AuditEntry.action == DONE[verdict], AuditEntry.target_id == org_id) == 1
    assert len(mails_to(lead)) == 1
    assert _db.session.get(Organisation, org_id).status == STATUS[verdict]


@pytest.mark.parametrize("order", [("verify", "reject"), ("reject", "verify")])
def test_two_admins_reviewing_at_once_decide_one_after_the_other(app, make, order):
    """One admin verifies while another rejects. A verified organisation may be rejected later
    and a rejected one verified (each is refused only when repeated), so both decisions stand,
    as they would a moment apart. The first to read the organisation decides first and the
    other after it (before, the second could write first and be overwritten): the
    organisation ends in the second one's state, and its admin's mails come in that order."""
    first, second, lead = make.user("admin"), make.user("admin"), make.user()
    org_id = make.organisation(admin=lead, verified=False).id
    steps = [REVIEW[verdict](org_id) for verdict in order]
    outcomes = steps_at_once(app, steps, [first.id, second.id], pause_after="FROM organisations")
    assert outcomes == ["ok", "ok"]
    assert _db.session.get(Organisation, org_id).status == STATUS[order[1]]
    for verdict in order:
        assert stored_count(AuditEntry.action == DONE[verdict], AuditEntry.target_id == org_id) == 1
    told = mails_to(lead)
    assert len(told) == 2
    assert ["Finns inte" in body for body in told] == [v == "reject" for v in order]


def test_asking_to_join_while_the_organisation_is_rejected_is_refused(app, make):
    """The join page loads the organisation before the service locks it. The request waits
    for the rejection, then decides on the stored status, not on the page's copy of it."""
    admin, lead, asker = make.user("admin"), make.user(), make.user()
    org_id = make.organisation(admin=lead).id

    def join(user: User) -> None:
        # the page (get_by_slug) loads the organisation before the service locks it, and keeps it
        page_copy = _db.session.get(Organisation, org_id)
        organisations.request_membership(user, org_id)
        assert page_copy is not None

    steps = [REVIEW["reject"](org_id), join]
    outcomes = steps_at_once(app, steps, [admin.id, asker.id], pause_after="FROM organisations")
    assert outcomes[0] == "ok", outcomes
    assert isinstance(outcomes[1], NotFound), outcomes
    assert stored_count(Membership.user_id == asker.id) == 0


def test_two_admins_approving_one_request_at_once_approve_it_once(app, make):
    """Each request had the membership loaded before it locked the organisation (as a page
    listing the requests would): the second read "pending" from its own copy and approved it
    again. After the lock the membership is read again, and the second is refused."""
    first, second, org_id = two_admins(make)
    asker = make.user()
    request_id = organisations.request_membership(asker, org_id).id

    def approve(user: User) -> None:
        page_copy = _db.session.get(Membership, request_id)
        organisations.approve_member(user, org_id, request_id)
        assert page_copy is not None

    outcomes = steps_at_once(
        app, [approve, approve], [first.id, second.id], pause_after="FROM organisations"
    )
    assert outcomes[0] == "ok", outcomes
    assert isinstance(outcomes[1], Conflict), outcomes
    assert (
        stored_count(AuditEntry.action == "membership.approved", AuditEntry.target_id == org_id)
        == 1
    )


# --- organisation admins leaving and closing their accounts ------------------------------


def close(user: User) -> None:
    privacy.close_account(user, user.id, PASSWORD, None)


# Closing has checked the person's organisations and is deleting their rows, not yet committed.
CLOSING = "DELETE FROM memberships"


def test_an_admin_leaving_while_the_other_closes_their_account_leaves_one_admin(app, make):
    """Admin A closes their account; admin B leaves a moment later. Each counted two admins
    before the other's change was committed, so both went and the organisation had none. Now
    B waits for A's closing and is refused, as an organisation's last admin is."""
    first, second, org_id = two_admins(make)
    leave = lambda u: organisations.leave_organisation(u, org_id)  # noqa: E731
    outcomes = steps_at_once(app, [close, leave], [first.id, second.id], pause_after=CLOSING)
    assert outcomes[0] == "ok", outcomes
    assert isinstance(outcomes[1], Conflict), outcomes
    assert admins(org_id) == 1


def test_two_admins_closing_their_accounts_at_once_leave_one_admin(app, make):
    """The second is refused as an organisation's last admin is: it appoints another first."""
    first, second, org_id = two_admins(make)
    outcomes = steps_at_once(app, [close, close], [first.id, second.id], pause_after=CLOSING)
    assert outcomes[0] == "ok", outcomes
    assert isinstance(outcomes[1], Conflict), outcomes
    assert admins(org_id) == 1
    assert stored_count(AuditEntry.action == "account.close") == 1


def test_a_double_click_on_close_my_account_closes_it_once(app, make):
    """Both clicks passed the "already closed?" check: the closing was done and logged twice.
    The second now finds the account closed (or, if it comes later still, the password no
    longer matches): either way it is refused."""
    person = make.user()
    outcomes = steps_at_once(app, [close, close], [person.id, person.id], pause_after="DELETE FROM")
    assert outcomes.count("ok") == 1, outcomes
    (refused,) = [o for o in outcomes if o != "ok"]
    assert isinstance(refused, NotFound | Invalid), outcomes
    assert (
        stored_count(AuditEntry.action == "account.close", AuditEntry.target_id == person.id) == 1
    )


def test_leaving_an_organisation_while_closing_the_account_in_another_tab(app, make):
    """Closing locks the person's row, then waits for their organisation's; leaving holds the
    organisation's row and logs who left, which refers to the person's row. With FOR UPDATE on
    the person's row each waited for the other and PostgreSQL ended one as a deadlock; the
    person's lock (lock_person: an UPDATE that changes no key, FOR NO KEY UPDATE's lock) lets
    the log entry through. Both go through and the other admin stays."""
    person, _, org_id = two_admins(make)
    leave = lambda u: organisations.leave_organisation(u, org_id)  # noqa: E731
    outcomes = steps_at_once(
        app,
        [close, leave],
        [person.id, person.id],
        pause_after=r"^UPDATE users SET",  # closing has taken the person's lock
    )
    assert outcomes == ["ok", "ok"]
    assert admins(org_id) == 1
    assert _db.session.get(User, person.id).is_closed
