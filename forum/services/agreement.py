"""The agreement's principles, commitments and departments: seeded on every installation."""

from __future__ import annotations

from sqlalchemy import select

from ..agreement_content import COMMITMENTS, DEPARTMENTS, PRINCIPLES
from ..extensions import db
from ..models import Commitment, Department, Principle


def _add_missing(model: type[Principle] | type[Commitment], title: str, rows) -> int:
    """Add the rows of `rows` (slug, sv, en, description sv, description en) not yet stored."""
    have = set(db.session.scalars(select(model.slug)))
    added = 0
    for position, (slug, sv, en, dsv, den) in enumerate(rows, start=1):
        if slug not in have:
            db.session.add(
                model(
                    slug=slug,
                    position=position,
                    description_sv=dsv,
                    description_en=den,
                    **{f"{title}_sv": sv, f"{title}_en": en},
                )
            )
            added += 1
    return added


def seed_agreement() -> int:
    """Insert the principles, commitments and departments that are missing. Returns rows added."""
    added = _add_missing(Principle, "name", PRINCIPLES)
    added += _add_missing(Commitment, "title", COMMITMENTS)
    have = set(db.session.scalars(select(Department.name)))
    for name in DEPARTMENTS:
        if name not in have:
            db.session.add(Department(name=name))
            added += 1
    db.session.commit()
    return added
