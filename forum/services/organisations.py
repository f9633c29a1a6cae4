"""Organisations: registration, verification by admins, and membership (the write path;
lists and lookups are in `forum.queries.organisations`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..errors import Conflict, Invalid, NotFound
from ..events import recheck_access_after_commit
from ..extensions import db
from ..formatting import in_language_of
from ..links import path_for, url_for_mail
from ..models import (
    MemberRole,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationForm,
    OrganisationStatus,
    User,
)
from ..models.base import utcnow
from ..text import slugify
from . import audit, consultations, notifications
from .forums import REPEAT_WINDOW
from .mail import queue_mail
from .names import check_visible
from .slugs import free_slug
from .transaction import lock_name, lock_person, lock_row
from .validation import clean_text

MAX_NAME = 200
MAX_DESCRIPTION = 5_000
MAX_WEBSITE = 300
MAX_REASON = 2_000

ORG_NUMBER_PATTERN = re.compile(r"([0-9]{6})-?([0-9]{4})", re.ASCII)


# --- validation --------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by Swedish organisation numbers."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def normalise_org_number(raw: str | None) -> str:
    """Accept NNNNNN-NNNN or NNNNNNNNNN with a valid check digit; return NNNNNN-NNNN.

    A legal person's number has a third digit of 2 or more (its "month" is 20 or more); a
    personnummer or samordningsnummer has a month 01-12 there. Such a number is refused: the
    organisation number is shown on the public page and in the open-data API."""
    value = (raw or "").strip()
    if not value:
        raise Invalid(_("Enter the organisation number."), field="org_number")
    match = ORG_NUMBER_PATTERN.fullmatch(value)
    if match is None:
        raise Invalid(
            _("Write the organisation number as NNNNNN-NNNN (ten digits)."), field="org_number"
        )
    if not luhn_valid(match[1] + match[2]):
        raise Invalid(
            _("That is not a valid organisation number: check the digits."), field="org_number"
        )
    if match[1][2] < "2":
        raise Invalid(
            _(
                "This looks like a personal identity number, and the number is shown publicly. "
                "Enter the organisation's own number: associations get one from Skatteverket."
            ),
            field="org_number",
        )
    return f"{match[1]}-{match[2]}"


def clean_website(raw: str | None) -> str | None:
    """An optional http or https address; anything else (javascript:, data:, ...) is refused."""
    value = (raw or "").strip()
    if not value:
        return None
    if len(value) > MAX_WEBSITE:
        raise Invalid(_("At most %(n)d characters.", n=MAX_WEBSITE), field="website")
    message = _("Enter a web address that starts with https:// or http://.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise Invalid(message, field="website")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise Invalid(message, field="website") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise Invalid(message, field="website")
    return value


def clean_legal_form(raw: str | None) -> OrganisationForm:
    try:
        return OrganisationForm(raw or "")
    except ValueError:
        raise Invalid(_("Choose the organisation's form."), field="legal_form") from None


def _unique_slug(name: str) -> str:
    """A slug no organisation has, whose page is the organisation's ("New" is not "new")."""
    base = slugify(name, "organisation")
    taken = set(
        db.session.scalars(select(Organisation.slug).where(Organisation.slug.like(f"{base}%")))
    )
    return free_slug(base, "organisations.show", taken.__contains__)


def _number_holder(org_number: str) -> Organisation | None:
    """The organisation registered with the number; a rejected registration holds none (the
    unique index on the number leaves rejected ones out too), so the real one can register."""
    return db.session.scalar(
        select(Organisation)
        .where(
            Organisation.org_number == org_number,
            Organisation.status != OrganisationStatus.rejected,
        )
        .limit(1)
    )


def _number_taken(org_number: str) -> bool:
    return _number_holder(org_number) is not None


def _number_held_by(holder: Organisation) -> str:
    """Why a rejected organisation cannot be verified now (told to the admin)."""
    return _("Another organisation with this number is registered: %(name)s.", name=holder.name)


def _locked(org_id: int) -> Organisation:
    """Load and lock the organisation row, so its review and membership changes happen one
    at a time.

    Read afresh (lock_for_check): a request that waited here decides on what the one before
    it committed, not on the copy its page loaded first (get_by_slug). The memberships it
    loaded are read again when next used, for the same reason: the checks after the lock
    (whose role, which request still pending, who is an admin) decide on the stored rows."""
    org = lock_row(Organisation, org_id)
    if org is None:
        raise NotFound(_("No such organisation."))
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, Membership):
            db.session.expire(loaded)
    return org


def _membership(org: Organisation, membership_id: int, gone: str | None = None) -> Membership:
    """The membership or request `membership_id` of `org`. With `gone`, one that no longer
    exists is a Conflict with that message, not "not found": the second of a double click,
    or a form sent again after its answer was lost, finds the first one's work done."""
    membership = db.session.get(Membership, membership_id)
    if membership is None and gone is not None:
        raise Conflict(gone)
    if membership is None or membership.organisation_id != org.id:
        raise NotFound(_("No such member."))
    return membership


def _admin_count(org: Organisation) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                Membership.organisation_id == org.id,
                Membership.role == MemberRole.admin,
                Membership.status == MembershipStatus.approved,
            )
        )
        or 0
    )


def _approved_count(org: Organisation) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                Membership.organisation_id == org.id,
                Membership.status == MembershipStatus.approved,
            )
        )
        or 0
    )


def _is_last_admin(org: Organisation, membership: Membership) -> bool:
    """Whether `membership` is the organisation's only approved admin, who hands the role
    over before leaving. Not the only member of a rejected organisation: it takes no new
    members, so there is nobody to hand the role to, and they could otherwise never leave
    it or close their account (nor an admin close it on their request). With members from
    before the rejection, one of them takes it over, as it would be verified again."""
    if not (
        membership.role == MemberRole.admin
        and membership.status == MembershipStatus.approved
        and _admin_count(org) <= 1
    ):
        return False
    return org.status != OrganisationStatus.rejected or _approved_count(org) > 1


def organisations_led_alone(user: User) -> list[str]:
    """Names of the organisations whose only approved admin is `user`.

    Each organisation `user` is an admin of is locked first (until commit), as a membership
    change locks it, so the answer holds until the caller commits: otherwise two admins
    closing their accounts, or one closing while the other leaves, each count the other and
    both go. In ascending id order, so two callers wait for each other rather than deadlock
    (the membership changes lock a single organisation)."""
    admin_of = (
        Membership.user_id == user.id,
        Membership.role == MemberRole.admin,
        Membership.status == MembershipStatus.approved,
    )
    org_ids = db.session.scalars(
        select(Membership.organisation_id).where(*admin_of).order_by(Membership.organisation_id)
    ).all()
    for org_id in org_ids:
        _locked(org_id)
    # read after the locks: an admin who left (or was made one) meanwhile is counted right
    led = db.session.scalars(select(Membership).where(*admin_of)).all()
    return sorted(m.organisation.name for m in led if _is_last_admin(m.organisation, m))


# --- registration and review -------------------------------------------------


def register_organisation(
    user: User | None,
    name: str,
    legal_form: str,
    org_number: str,
    description: str = "",
    website: str | None = None,
) -> Organisation:
    """Register an organisation; it waits for verification and its registrant is its admin."""
    policy.require_login(user)
    policy.require(policy.can_register_organisation(user))
    assert user is not None
    name = clean_text(name, "name", max_length=MAX_NAME, single_line=True)
    check_visible(name, field="name")  # shown beside its members' messages, as their names
    form = clean_legal_form(legal_form)
    number = normalise_org_number(org_number)
    description = clean_text(description, "description", max_length=MAX_DESCRIPTION, required=False)
    site = clean_website(website)
    # one registration of a person's at a time: of a form sent twice at once, the second
    # waits here and then finds what the first made
    lock_person(user.id)
    again = _registration_just_made(user, name, form, number, description, site)
    if again is not None:
        return again  # the form sent again (a lost answer, a double tap): what it made
    duplicate = _("An organisation with that number is already registered.")
    if _number_taken(number):
        raise Conflict(duplicate, field="org_number")
    org = Organisation(
        slug=_unique_slug(name),
        name=name,
        form=form,
        org_number=number,
        description=description,
        website=site,
        status=OrganisationStatus.pending,
        created_by_id=user.id,
    )
    # ids in commit order (PostgreSQL): the API pages organisations by id, so one committed
    # after a larger id would never reach a client that asks for those after it
    lock_name("organisations")
    db.session.add(org)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        if _number_taken(number):
            raise Conflict(duplicate, field="org_number") from None
        raise Conflict(
            _("Someone registered a similar organisation just now. Try again.")
        ) from None
    db.session.add(
        Membership(
            organisation_id=org.id,
            user_id=user.id,
            role=MemberRole.admin,
            status=MembershipStatus.approved,
        )
    )
    audit.record(user, "organisation.registered", "organisation", org.id, org.name)
    db.session.commit()
    return org


def _registration_just_made(
    user: User,
    name: str,
    form: OrganisationForm,
    number: str,
    description: str,
    website: str | None,
) -> Organisation | None:
    """The registration this person made within REPEAT_WINDOW with these very details, still
    waiting for review, if there is one (as a thread or forum sent twice is made once)."""
    return db.session.scalar(
        select(Organisation)
        .where(
            Organisation.created_by_id == user.id,
            Organisation.status == OrganisationStatus.pending,
            Organisation.org_number == number,
            Organisation.name == name,
            Organisation.form == form,
            Organisation.description == description,
            Organisation.website == website,
            Organisation.created_at > utcnow() - REPEAT_WINDOW,
        )
        .limit(1)
    )


def _tell_organisation(org: Organisation, compose: Callable[[str], tuple[str, str]]) -> None:
    """Queue a short mail to the organisation's admins, and to the person who registered
    it while they are still a member (one removed or gone is told nothing more about it).

    `compose(link)` returns (subject, body); it runs in each recipient's language.
    """
    people = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == org.id,
            Membership.status == MembershipStatus.approved,
            (Membership.role == MemberRole.admin) | (Membership.user_id == org.created_by_id),
        )
        .order_by(User.id)
    ).all()
    link = url_for_mail("organisations.show", slug=org.slug)
    for person in people:
        with in_language_of(person):
            subject, body = compose(link)
        queue_mail(person.email, subject, body)


def verify_organisation(actor: User | None, org_id: int) -> Organisation:
    """An admin confirms the organisation is real: its members may then act for it."""
    policy.require_login(actor)
    # locked before the status is read: of two clicks, or two admins deciding at once, the
    # second waits and sees the first's decision (no second log entry, mail or round asking)
    org = _locked(org_id)
    policy.require(
        policy.can_review_organisation(actor, org), _("Only admins can verify organisations.")
    )
    if org.status == OrganisationStatus.verified:
        raise Conflict(_("The organisation is already verified."))
    # a rejected registration gave up its number: another may have registered it since
    number = org.org_number
    holder = _number_holder(number) if org.status == OrganisationStatus.rejected else None
    if holder is not None:
        raise Conflict(_number_held_by(holder))
    org.status = OrganisationStatus.verified
    org.rejection_reason = None
    org.reviewed_at = utcnow()
    try:
        db.session.flush()  # the number's unique index: one registered at this very moment
    except IntegrityError:
        db.session.rollback()
        holder = _number_holder(number)
        if holder is None:
            raise
        raise Conflict(_number_held_by(holder)) from None
    audit.record(actor, "organisation.verified", "organisation", org.id, org.name)
    consultations.ask_newly_verified(org)  # the open rounds that ask every verified one
    _tell_organisation(
        org,
        lambda link: (
            _("%(name)s is verified on Dialogforum", name=org.name),
            _(
                "%(name)s is now verified. Its members can take part on its behalf.\n\n%(link)s",
                name=org.name,
                link=link,
            ),
        ),
    )
    db.session.commit()
    return org


def reject_organisation(actor: User | None, org_id: int, reason: str) -> Organisation:
    """An admin turns the registration down, with a reason the organisation is told."""
    policy.require_login(actor)
    org = _locked(org_id)  # before the status is read, as in verify_organisation
    policy.require(
        policy.can_review_organisation(actor, org), _("Only admins can reject organisations.")
    )
    if not (reason or "").strip():
        raise Invalid(_("Give a reason: the organisation is told why."), field="reason")
    reason = clean_text(reason, "reason", max_length=MAX_REASON)
    if org.status == OrganisationStatus.rejected:
        raise Conflict(_("The organisation is already rejected."))
    org.status = OrganisationStatus.rejected
    org.rejection_reason = reason
    org.reviewed_at = utcnow()
    audit.record(actor, "organisation.rejected", "organisation", org.id, reason)
    _tell_organisation(
        org,
        lambda link: (
            _("%(name)s was not verified on Dialogforum", name=org.name),
            _(
                "The registration of %(name)s was not accepted.\n\nReason: %(reason)s\n\n%(link)s",
                name=org.name,
                reason=reason,
                link=link,
            ),
        ),
    )
    db.session.commit()
    return org


# --- membership --------------------------------------------------------------


def request_membership(user: User | None, org_id: int) -> Membership:
    """Ask to join an organisation; an organisation admin approves or rejects."""
    policy.require_login(user)
    assert user is not None
    org = _locked(org_id)
    if not policy.can_view_organisation(user, org):
        raise NotFound(_("No such organisation."))
    if not policy.can_request_membership(user, org):
        if policy.organisation_role(user, org) is not None:
            raise Conflict(_("You are already a member or have asked to join."))
        raise Conflict(_("This organisation does not take new members."))
    membership = Membership(
        organisation_id=org.id,
        user_id=user.id,
        role=MemberRole.member,
        status=MembershipStatus.pending,
    )
    db.session.add(membership)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(_("You are already a member or have asked to join.")) from None
    audit.record(user, "membership.requested", "organisation", org.id, audit.person(user))
    # the page promises an answer: the admins are told (in the app, and by mail as they chose)
    notifications.deliver(
        consultations.org_admins([org.id]),
        "membership_request",
        org.name,
        _requests_link(org),
        actor=user,
    )
    db.session.commit()
    return membership


def _requests_link(org: Organisation) -> str:
    return path_for("organisations.show", slug=org.slug, _anchor="requests-heading")


def _tell_member(actor: User | None, membership: Membership, org: Organisation, kind: str) -> None:
    """Tell the person a request or membership is about what an admin decided."""
    notifications.deliver(
        [membership.user],
        kind,
        org.name,
        path_for("organisations.show", slug=org.slug),
        actor=actor,
    )


def _require_manager(actor: User | None, org: Organisation) -> None:
    policy.require_login(actor)
    policy.require(
        policy.can_manage_organisation(actor, org),
        _("Only the organisation's admins can manage its members."),
    )


def approve_member(actor: User | None, org_id: int, membership_id: int) -> Membership:
    """An organisation admin accepts a request to join."""
    org = _locked(org_id)
    membership = _membership(org, membership_id)
    _require_manager(actor, org)
    if membership.status != MembershipStatus.pending:
        raise Conflict(_("That person is already a member."))
    membership.status = MembershipStatus.approved
    audit.record(
        actor, "membership.approved", "organisation", org.id, audit.person(membership.user)
    )
    _tell_member(actor, membership, org, "membership_approved")
    db.session.commit()
    return membership


def reject_member(actor: User | None, org_id: int, membership_id: int) -> None:
    """An organisation admin declines a request to join."""
    org = _locked(org_id)
    _require_manager(actor, org)
    answered = _("That request was already answered.")
    membership = _membership(org, membership_id, gone=answered)
    if membership.status != MembershipStatus.pending:
        raise Conflict(answered)
    audit.record(
        actor, "membership.rejected", "organisation", org.id, audit.person(membership.user)
    )
    _tell_member(actor, membership, org, "membership_declined")
    db.session.delete(membership)
    recheck_access_after_commit(user_ids=[membership.user_id])
    db.session.commit()


def remove_member(actor: User | None, org_id: int, membership_id: int) -> None:
    """An organisation admin removes a member; the last admin stays."""
    org = _locked(org_id)
    _require_manager(actor, org)
    membership = _membership(org, membership_id, gone=_("That person is no longer a member."))
    if membership.status != MembershipStatus.approved:
        raise Conflict(_("That person is not a member yet."))
    if _is_last_admin(org, membership):
        raise Conflict(_("The organisation's last admin cannot be removed. Appoint another first."))
    audit.record(actor, "membership.removed", "organisation", org.id, audit.person(membership.user))
    _tell_member(actor, membership, org, "membership_removed")
    db.session.delete(membership)
    recheck_access_after_commit(user_ids=[membership.user_id])
    db.session.commit()


def set_member_role(actor: User | None, org_id: int, membership_id: int, role: str) -> Membership:
    """An organisation admin makes a member an admin, or an admin a plain member."""
    org = _locked(org_id)
    membership = _membership(org, membership_id)
    _require_manager(actor, org)
    try:
        new_role = MemberRole(role or "")
    except ValueError:
        raise Invalid(_("Unknown role."), field="role") from None
    if membership.status != MembershipStatus.approved:
        raise Conflict(_("Approve the request first."))
    if membership.role == new_role:
        raise Conflict(_("That person already has that role."))
    if new_role == MemberRole.member and _is_last_admin(org, membership):
        raise Conflict(_("The organisation needs at least one admin. Appoint another first."))
    membership.role = new_role
    audit.record(
        actor,
        "membership.admin_granted" if new_role == MemberRole.admin else "membership.admin_removed",
        "organisation",
        org.id,
        audit.person(membership.user),
    )
    recheck_access_after_commit(user_ids=[membership.user_id])
    db.session.commit()
    return membership


def leave_organisation(user: User | None, org_id: int) -> bool:
    """Leave an organisation, or withdraw a request to join (then true); the last admin
    cannot leave."""
    policy.require_login(user)
    assert user is not None
    org = _locked(org_id)
    membership = db.session.scalar(
        select(Membership).where(
            Membership.organisation_id == org.id, Membership.user_id == user.id
        )
    )
    if membership is None:
        raise Conflict(_("You are not a member of this organisation."))
    if _is_last_admin(org, membership):
        raise Conflict(
            _("You are the organisation's last admin. Appoint another admin before you leave.")
        )
    withdrawn = membership.status == MembershipStatus.pending
    audit.record(user, "membership.left", "organisation", org.id, audit.person(user))
    db.session.delete(membership)
    recheck_access_after_commit(user_ids=[user.id])
    db.session.commit()
    return withdrawn
