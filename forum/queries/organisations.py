"""The read side of organisations and departments: lists, one organisation, its members."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from .. import policy
from ..errors import NotFound
from ..extensions import db
from ..models import (
    Department,
    MemberRole,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationStatus,
    User,
)


def get_organisation(org_id: int) -> Organisation:
    """The organisation with this id (any status), else NotFound."""
    org = db.session.get(Organisation, org_id)
    if org is None:
        raise NotFound(_("No such organisation."))
    return org


def get_by_slug(viewer: User | None, slug: str) -> Organisation:
    """The organisation behind a slug, if the viewer may see it (else NotFound)."""
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None or not policy.can_view_organisation(viewer, org):
        raise NotFound(_("No such organisation."))
    return org


def verified_organisations() -> list[Organisation]:
    """Verified organisations by name (case-insensitive)."""
    return list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.status == OrganisationStatus.verified)
            .order_by(func.lower(Organisation.name))
        )
    )


def listed_organisations(viewer: User | None) -> tuple[list[Organisation], list[Organisation]]:
    """Verified organisations, and the viewer's own ones that are not verified (yet)."""
    verified = verified_organisations()
    own: list[Organisation] = []
    if viewer is not None and getattr(viewer, "is_authenticated", False):
        own = list(
            db.session.scalars(
                select(Organisation)
                .join(Membership, Membership.organisation_id == Organisation.id)
                .where(
                    Membership.user_id == viewer.id,
                    Organisation.status != OrganisationStatus.verified,
                    # a request to join shows a pending organisation, not its rejection
                    or_(
                        Organisation.status == OrganisationStatus.pending,
                        Membership.status == MembershipStatus.approved,
                    ),
                )
                .order_by(func.lower(Organisation.name))
            )
        )
    return verified, own


def members_of(org: Organisation) -> tuple[list[Membership], list[Membership]]:
    """Approved memberships (admins first) and pending requests, with their users."""
    rows = db.session.scalars(
        select(Membership)
        .options(joinedload(Membership.user))
        .where(Membership.organisation_id == org.id)
        .order_by(Membership.id)
    ).all()
    approved = [m for m in rows if m.status == MembershipStatus.approved]
    approved.sort(key=lambda m: (m.role != MemberRole.admin, m.user.display_name.lower()))
    pending = [m for m in rows if m.status == MembershipStatus.pending]
    return approved, pending


def departments() -> list[Department]:
    """The city's departments by name."""
    return list(db.session.scalars(select(Department).order_by(Department.name)))
