"""The read side of the open-data API: keyset pages of what a reader may read.

Readability is the same SQL the search uses (queries/search.py), so a page is
filtered in the query and always full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from ..errors import SyncExpired
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
    ReadingChange,
    RoundState,
    Thread,
    ThreadAccessChange,
    User,
)
from ..models.base import utcnow
from .search import forum_readable, readable_as_forum, round_readable, thread_readable

# How far a list's `as_of` lags the moment of the answer (see sync_point).
SYNC_MARGIN = timedelta(minutes=5)


@dataclass
class Page:
    items: Sequence[Any]
    next_after: int | None
    # with changed_since, the ids in this page's range of what the reader could read and no
    # longer can (see actions)
    removed: Sequence[int] = ()


def keyset(query: Select, id_column: Any, after: int | None, limit: int) -> Page:
    """Rows with id > after, in id order, and where the next page starts."""
    if after is not None:
        query = query.where(id_column > after)
    rows = list(db.session.scalars(query.order_by(id_column).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more and rows else None)


def sync_point(now: datetime, carried: datetime | None = None) -> datetime:
    """The `changed_since` a consumer can send next time after reading a list at `now`:
    SYNC_MARGIN earlier, in whole minutes, or the `as_of` a `next` link carried if earlier.

    A change is stamped (`changed_at`) inside its transaction, but readers see it only once
    that commits, a moment later: longer when it tells hundreds of people, waits for a lock
    or for Redis. Asked next time for the changes since the moment of this answer, the list
    would leave out one stamped just before it and committed just after, for ever. Lagging
    by far more than any transaction takes (and any difference between the app servers'
    clocks) puts such a change in the next answer; the price is that the last minutes'
    changes come twice, which a consumer that takes an item as its new state by id does not
    notice. Whole minutes keep an answer, and its ETag, the same for a minute.

    A `next` link carries the first page's value: a change to an item on a page already
    read, made while the consumer walks the later ones, is after it, so in the next sync.
    """
    point = (now - SYNC_MARGIN).replace(second=0, microsecond=0)
    return min(point, carried) if carried is not None else point


def check_sync(user: User | None, changed_since: datetime | None) -> None:
    """SyncExpired when what `user` may read changed by a change of their own (a forum's
    members or moderators, a role, a department: accounts.reading_changed) after the walk
    whose `as_of` is `changed_since`: such a change touches no item, so the changes since
    cannot bring the copy up to date. That walk ran SYNC_MARGIN (up to a minute more) after
    its `as_of`; a change before it is in the copy already, so a walk made just after a
    change is not refused again for the margin's five minutes (less a minute, for commits)."""
    if changed_since is None or user is None:
        return
    changed = db.session.scalar(
        select(ReadingChange.changed_at).where(ReadingChange.user_id == user.id)
    )
    if changed is None:
        return
    if changed >= changed_since + SYNC_MARGIN - timedelta(minutes=1):
        raise SyncExpired(
            _(
                "What you may read has changed since then: walk the whole list again, "
                "without changed_since."
            )
        )


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


def round_changed_since(since: datetime, now: datetime) -> ColumnElement[bool]:
    """SQL for `ConsultationRound.public_changed_at(now) >= since`: the latest of its times
    is at or after `since` exactly when one of them is."""
    r = ConsultationRound
    return or_(
        r.changed_at >= since,
        and_(
            r.state == RoundState.open,
            or_(
                and_(r.opens_at >= since, r.opens_at <= now),
                and_(r.closes_at >= since, r.closes_at <= now),
            ),
        ),
    )


def rounds(
    user: User | None,
    after: int | None,
    limit: int,
    changed_since: datetime | None = None,
    now: datetime | None = None,
) -> Page:
    """The rounds `user` may read, by id; with `changed_since`, those whose public state
    changed at or after it (as of `now`, the time their `changed_at` is shown for)."""
    check_sync(user, changed_since)
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
    if changed_since is not None:
        query = query.where(round_changed_since(changed_since, now or utcnow()))
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


def _action_source_readable(user: User | None) -> ColumnElement[bool]:
    thread = aliased(Thread)
    return or_(
        Action.source_thread_id.is_(None),
        exists().where(thread.id == Action.source_thread_id, thread_readable(user, thread)),
    )


def actions(
    user: User | None, after: int | None, limit: int, changed_since: datetime | None = None
) -> Page:
    """The actions `user` may read, by id; with `changed_since`, those whose public state
    changed at or after it (services.follow_up.mark_changed stamps `updated_at`), and, as
    `removed`, the ids of those the reader could read and no longer can since then.

    Gone since is: hidden by a moderator since (of an action whose thread the reader may
    read: one never readable to them is not named), or its thread moved or its forum's
    visibility changed since, where the reader could read the thread before such a change
    (ThreadAccessChange; one they could never read is not named). Access the reader gained
    or lost by a change of their own (a forum's members, a role) is not among them: after
    one, a `changed_since` from before it is refused (check_sync), to walk the whole list."""
    check_sync(user, changed_since)
    source_readable = _action_source_readable(user)
    readable = and_(source_readable, Action.hidden_at.is_(None))  # hidden: in no answer
    query = select(Action, readable.label("readable")).options(
        selectinload(Action.commitments),
        joinedload(Action.owner_department),
        joinedload(Action.owner_organisation),
    )
    if changed_since is None:
        query = query.where(readable)
    else:
        change = aliased(ThreadAccessChange)
        # hiding and access changes stamp `updated_at` too (follow_up.mark_changed)
        gone_since = or_(
            and_(Action.hidden_at >= changed_since, source_readable),
            and_(
                # hidden already then: not in the reader's copy
                or_(Action.hidden_at.is_(None), Action.hidden_at >= changed_since),
                exists().where(
                    change.thread_id == Action.source_thread_id,
                    change.changed_at >= changed_since,
                    readable_as_forum(user, change.forum_id, change.visibility),
                ),
            ),
        )
        query = query.where(Action.updated_at >= changed_since, or_(readable, gone_since))
    if after is not None:
        query = query.where(Action.id > after)
    rows = db.session.execute(query.order_by(Action.id).limit(limit + 1)).unique().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        [a for a, shown in rows if shown],
        rows[-1][0].id if more and rows else None,
        [a.id for a, shown in rows if not shown],
    )


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
