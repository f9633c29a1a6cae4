"""The read side of administration: people and their roles, pending organisations, the audit
log, and the health check's database ping. Each list is for admins only."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from .. import policy
from ..extensions import db
from ..models import AuditEntry, Department, Organisation, OrganisationStatus, User
from . import organisations

MAX_QUERY = 100
SEARCH_LIMIT = 50
AUDIT_LIMIT = 50


def _require_admin(actor: User | None) -> None:
    policy.require_login(actor)
    policy.require(policy.can_administer(actor), _("Only admins can do that."))


def has_role(user: User, role: str) -> bool:
    """Whether `user` holds one of the appointed roles."""
    return {
        "official": user.department_id is not None,
        "moderator": bool(user.is_moderator),
        "admin": bool(user.is_admin),
    }[role]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_users(actor: User | None, query: str | None) -> list[User]:
    """People whose email, name or handle contains `query`; without one, those holding roles."""
    _require_admin(actor)
    needle = " ".join((query or "").split())[:MAX_QUERY]
    # a closed account is a pseudonym with nothing to appoint or revoke
    stmt = (
        select(User)
        .where(~User.is_closed)
        .order_by(func.lower(User.display_name), User.id)
        .limit(SEARCH_LIMIT)
    )
    if needle:
        pattern = f"%{_escape_like(needle)}%"
        stmt = stmt.where(
            or_(
                User.email.ilike(pattern, escape="\\"),
                User.display_name.ilike(pattern, escape="\\"),
                User.handle.ilike(pattern, escape="\\"),
            )
        )
    else:
        stmt = stmt.where(
            or_(
                User.is_admin.is_(True),
                User.is_moderator.is_(True),
                User.department_id.isnot(None),
            )
        )
    return list(db.session.scalars(stmt))


def pending_organisations(actor: User | None) -> list[Organisation]:
    """Organisations waiting for verification, oldest first."""
    _require_admin(actor)
    return list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.status == OrganisationStatus.pending)
            .order_by(Organisation.created_at, Organisation.id)
        )
    )


def departments() -> list[Department]:
    return organisations.departments()


def recent_audit(actor: User | None, limit: int = AUDIT_LIMIT) -> list[AuditEntry]:
    """The newest audit entries, with their actors."""
    _require_admin(actor)
    return list(
        db.session.scalars(
            select(AuditEntry)
            .options(joinedload(AuditEntry.actor))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
