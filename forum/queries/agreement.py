"""The read side of the agreement itself: its principles and commitments."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..models import Commitment, Principle


def principles() -> list[Principle]:
    """The six principles, in the agreement's order."""
    return list(db.session.scalars(select(Principle).order_by(Principle.position)))


def commitments() -> list[Commitment]:
    """The thirteen commitments, in the agreement's order."""
    return list(db.session.scalars(select(Commitment).order_by(Commitment.position)))


def commitment_by_slug(slug: str) -> Commitment:
    """One commitment, else NotFound."""
    item = db.session.scalar(select(Commitment).where(Commitment.slug == slug))
    if item is None:
        raise NotFound(_("No such commitment."))
    return item


def principle_by_slug(slug: str) -> Principle:
    """One principle, else NotFound."""
    item = db.session.scalar(select(Principle).where(Principle.slug == slug))
    if item is None:
        raise NotFound(_("No such principle."))
    return item


def commitment_id(slug: str) -> int:
    """The id of the commitment with this slug, else NotFound (one small query)."""
    found = db.session.scalar(select(Commitment.id).where(Commitment.slug == slug))
    if found is None:
        raise NotFound(_("No such commitment."))
    return found
