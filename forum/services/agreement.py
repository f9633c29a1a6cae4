"""The agreement's principles, commitments and departments: seeded on every installation."""

from __future__ import annotations

from sqlalchemy import select

from ..agreement_content import COMMITMENTS, DEPARTMENTS, PRINCIPLES
from ..extensions import db
from ..models import Commitment, Department, Principle


def seed_agreement() -> int:
    """Insert the principles, commitments and departments that are missing. Returns rows added."""
    added = 0
    have = set(db.session.scalars(select(Principle.slug)))
    for position, (slug, sv, en, dsv, den) in enumerate(PRINCIPLES, start=1):
        if slug not in have:
            db.session.add(
                Principle(
                    slug=slug,
                    position=position,
                    name_sv=sv,
                    name_en=en,
                    description_sv=dsv,
                    description_en=den,
                )
            )
            added += 1
    have = set(db.session.scalars(select(Commitment.slug)))
    for position, (slug, sv, en, dsv, den) in enumerate(COMMITMENTS, start=1):
        if slug not in have:
            db.session.add(
                Commitment(
                    slug=slug,
                    position=position,
                    title_sv=sv,
                    title_en=en,
                    description_sv=dsv,
                    description_en=den,
                )
            )
            added += 1
    have = set(db.session.scalars(select(Department.name)))
    for name in DEPARTMENTS:
        if name not in have:
            db.session.add(Department(name=name))
            added += 1
    db.session.commit()
    return added
