"""The read side of the open-data API: keyset pages of what a reader may read.

Readability is the same SQL the search uses (queries/search.py), so a page is
filtered in the query and always full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from ..extensions import db
from ..ids import MAX_ID
from ..models import (
    Action,
    Commitment,
    ConsultationRound,
    Forum,
    Message,
    Organisation,
    OrganisationStatus,
    RoundState,
    Thread,
    User,
)
from ..models.base import utcnow
from .search import forum_readable, round_readable, thread_readable


@dataclass
class Page:
    items: Sequence[Any]
    next_after: int | None


def keyset(query: Select, id_column: Any, after: int | None, limit: int) -> Page:
    """Rows with id > after, in id order, and where the next page starts."""
    if after is not None:
        query = query.where(id_column > after)
    rows = list(db.session.scalars(query.order_by(id_column).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more and rows else None)


def forums(user: User | None, after: int | None, limit: int) -> Page:
    query = select(Forum).options(selectinload(Forum.commitments))
    return keyset(query.where(forum_readable(user, Forum)), Forum.id, after, limit)


def forum(user: User | None, slug: str) -> Forum | None:
    return db.session.scalar(
        select(Forum)
        .options(selectinload(Forum.commitments))
        .where(Forum.slug == slug, forum_readable(user, Forum))
    )


def threads(user: User | None, forum_id: int, after: int | None, limit: int) -> Page:
    query = (
        select(Thread)
        .options(selectinload(Thread.commitments), joinedload(Thread.forum))
        .where(Thread.forum_id == forum_id, thread_readable(user, Thread))
    )
    return keyset(query, Thread.id, after, limit)


def thread(user: User | None, thread_id: int) -> Thread | None:
    if thread_id > MAX_ID:
        return None
    return db.session.scalar(
        select(Thread)
        .options(selectinload(Thread.commitments), joinedload(Thread.forum))
        .where(Thread.id == thread_id, thread_readable(user, Thread))
    )


def messages(thread_id: int, after: int | None, limit: int) -> Page:
    """A readable thread's messages (hidden and deleted ones as placeholders, no text)."""
    query = (
        select(Message).options(joinedload(Message.author)).where(Message.thread_id == thread_id)
    )
    return keyset(query, Message.id, after, limit)


def rounds(user: User | None, after: int | None, limit: int) -> Page:
    round_ = ConsultationRound
    query = (
        select(round_)
        .options(
            joinedload(round_.department),
            selectinload(round_.questions),
            selectinload(round_.commitments),
        )
        .where(round_readable(user, round_))
    )
    return keyset(query, round_.id, after, limit)


def round_(user: User | None, round_id: int) -> ConsultationRound | None:
    if round_id > MAX_ID:
        return None
    r = ConsultationRound
    return db.session.scalar(
        select(r)
        .options(joinedload(r.department), selectinload(r.questions), selectinload(r.commitments))
        .where(r.id == round_id, round_readable(user, r))
    )


def organisations(after: int | None, limit: int) -> Page:
    query = select(Organisation).where(Organisation.status != OrganisationStatus.rejected)
    return keyset(query, Organisation.id, after, limit)


def organisation(slug: str) -> Organisation | None:
    return db.session.scalar(
        select(Organisation).where(
            Organisation.slug == slug, Organisation.status != OrganisationStatus.rejected
        )
    )


def actions(user: User | None, after: int | None, limit: int) -> Page:
    thread = aliased(Thread)
    query = (
        select(Action)
        .options(
            selectinload(Action.commitments),
            joinedload(Action.owner_department),
            joinedload(Action.owner_organisation),
        )
        .where(
            or_(
                Action.source_thread_id.is_(None),
                exists().where(thread.id == Action.source_thread_id, thread_readable(user, thread)),
            ),
            Action.hidden_at.is_(None),  # hidden by a moderator: in no API answer at all
        )
    )
    return keyset(query, Action.id, after, limit)


def action(user: User | None, action_id: int) -> Action | None:
    if action_id > MAX_ID:
        return None
    page = actions(user, action_id - 1, 1)
    return page.items[0] if page.items and page.items[0].id == action_id else None


def responses_are_public(round_: ConsultationRound, now: datetime | None = None) -> bool:
    """Published responses: once the round has closed (or its deadline passed)."""
    now = now or utcnow()
    return round_.state in (RoundState.closed, RoundState.published) or (
        round_.state == RoundState.open and round_.closes_at <= now
    )


def commitments() -> list[Commitment]:
    return list(db.session.scalars(select(Commitment).order_by(Commitment.position)))
