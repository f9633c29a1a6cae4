"""The read side of forums and threads: pages by id, visibility, unread counts.

Every function here issues a fixed number of queries, whatever the number of
messages, authors or replies (tests count them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload, selectinload

from .. import policy
from ..extensions import db
from ..models import (
    Forum,
    Message,
    MessageState,
    ReadMarker,
    Thread,
    User,
    Visibility,
)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_CATCH_UP = 1000


@dataclass
class MessagePage:
    messages: list[Message]
    has_more: bool


def _message_query():
    return select(Message).options(
        joinedload(Message.author),
        joinedload(Message.reply_to).joinedload(Message.author),
    )


def latest_page(thread_id: int, limit: int = PAGE_SIZE) -> MessagePage:
    """The newest `limit` messages, oldest first."""
    return messages_before(thread_id, None, limit)


def messages_before(thread_id: int, before: int | None, limit: int = PAGE_SIZE) -> MessagePage:
    """Up to `limit` messages with id < before (keyset, never OFFSET), oldest first."""
    query = _message_query().where(Message.thread_id == thread_id)
    if before is not None:
        query = query.where(Message.id < before)
    rows = list(db.session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)).unique())
    has_more = len(rows) > limit
    return MessagePage(list(reversed(rows[:limit])), has_more)


def messages_after(thread_id: int, since: int, limit: int = MAX_CATCH_UP) -> MessagePage:
    """Messages with id > since, oldest first: what a reconnecting client missed."""
    query = _message_query().where(Message.thread_id == thread_id, Message.id > since)
    rows = list(db.session.scalars(query.order_by(Message.id).limit(limit + 1)).unique())
    return MessagePage(rows[:limit], len(rows) > limit)


def get_thread(thread_id: int) -> Thread | None:
    """A thread with its forum, moderators and members loaded for the policy checks."""
    return db.session.scalar(
        select(Thread)
        .options(
            joinedload(Thread.forum).selectinload(Forum.moderators),
            joinedload(Thread.forum).selectinload(Forum.members),
            selectinload(Thread.commitments),
        )
        .where(Thread.id == thread_id)
    )


def get_forum(slug: str) -> Forum | None:
    return db.session.scalar(
        select(Forum)
        .options(
            selectinload(Forum.moderators),
            selectinload(Forum.members),
            selectinload(Forum.commitments),
        )
        .where(Forum.slug == slug)
    )


def visible_forums(user: User | None) -> list[Forum]:
    """Forums the user may read, in title order."""
    forums = db.session.scalars(
        select(Forum)
        .options(
            selectinload(Forum.moderators),
            selectinload(Forum.members),
            selectinload(Forum.commitments),
        )
        .order_by(Forum.title)
    ).all()
    return [f for f in forums if policy.can_view_forum(user, f)]


def read_marker(user: User | None, thread_id: int) -> int:
    if user is None or not user.is_authenticated:
        return 0
    marker = db.session.get(ReadMarker, (user.id, thread_id))
    return marker.last_read_id if marker else 0


def unread_by_thread(user: User | None, thread_ids: list[int]) -> dict[int, int]:
    """Unread visible messages by others, per thread, in one query."""
    if user is None or not user.is_authenticated or not thread_ids:
        return {}
    rows = db.session.execute(
        select(Message.thread_id, func.count())
        .outerjoin(
            ReadMarker,
            and_(ReadMarker.thread_id == Message.thread_id, ReadMarker.user_id == user.id),
        )
        .where(
            Message.thread_id.in_(thread_ids),
            Message.id > func.coalesce(ReadMarker.last_read_id, 0),
            Message.author_id != user.id,
            Message.state == MessageState.visible,
        )
        .group_by(Message.thread_id)
    ).all()
    return {thread_id: count for thread_id, count in rows}


def unread_by_forum(user: User | None, forum_ids: list[int]) -> dict[int, int]:
    """Unread visible messages by others, per forum, in one query."""
    if user is None or not user.is_authenticated or not forum_ids:
        return {}
    rows = db.session.execute(
        select(Thread.forum_id, func.count())
        .select_from(Message)
        .join(Thread, Thread.id == Message.thread_id)
        .outerjoin(
            ReadMarker,
            and_(ReadMarker.thread_id == Message.thread_id, ReadMarker.user_id == user.id),
        )
        .where(
            Thread.forum_id.in_(forum_ids),
            Message.id > func.coalesce(ReadMarker.last_read_id, 0),
            Message.author_id != user.id,
            Message.state == MessageState.visible,
        )
        .group_by(Thread.forum_id)
    ).all()
    return {forum_id: count for forum_id, count in rows}


def forum_threads(forum: Forum) -> list[Thread]:
    """A forum's threads: pinned first, then most recently active."""
    return list(
        db.session.scalars(
            select(Thread)
            .options(joinedload(Thread.author), selectinload(Thread.commitments))
            .where(Thread.forum_id == forum.id, Thread.archived.is_(False))
            .order_by(
                Thread.pinned.desc(),
                func.coalesce(Thread.last_message_id, 0).desc(),
                Thread.id.desc(),
            )
        )
    )


def public_forum_filter():
    return Forum.visibility == Visibility.public
