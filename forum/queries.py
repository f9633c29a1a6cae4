"""The read side of forums and threads: pages by id, unread counts, serialisation.

Every function here issues a fixed number of queries, whatever the number of
messages, authors or replies (tests count them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import url_for
from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload, selectinload

from . import policy
from .extensions import db
from .formatting import iso_utc
from .models import (
    Forum,
    Membership,
    MembershipStatus,
    Message,
    MessageState,
    Organisation,
    OrganisationStatus,
    ReadMarker,
    Thread,
    User,
    Visibility,
)
from .text import excerpt

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


def author_organisations(user_ids: set[int]) -> dict[int, str]:
    """Each author's first verified organisation's name, in one query."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(Membership.user_id, Organisation.name)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Membership.user_id.in_(user_ids),
            Membership.status == MembershipStatus.approved,
            Organisation.status == OrganisationStatus.verified,
        )
        .order_by(Membership.id)
    ).all()
    out: dict[int, str] = {}
    for user_id, name in rows:
        out.setdefault(user_id, name)
    return out


def author_dict(user: User, organisations: dict[int, str]) -> dict[str, Any]:
    return {
        "id": user.id,
        "display_name": user.display_name,
        "handle": user.handle,
        "organisation": organisations.get(user.id),
    }


def message_dict(message: Message, organisations: dict[int, str]) -> dict[str, Any]:
    """A message as the socket protocol carries it; hidden and deleted text is not sent."""
    visible = message.state == MessageState.visible
    reply = message.reply_to
    quote = None
    if reply is not None:
        quote = {
            "id": reply.id,
            "author_name": reply.author.display_name,
            "excerpt": excerpt(reply.html, 160) if reply.state == MessageState.visible else None,
            "state": reply.state.value,
        }
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "author": author_dict(message.author, organisations),
        "html": message.html if visible else "",
        "body": message.body if visible else "",
        "created_at": iso_utc(message.created_at),
        "edited_at": iso_utc(message.edited_at),
        "reply_to": message.reply_to_id,
        "reply_quote": quote,
        "client_id": message.client_id,
        "state": message.state.value,
        "hidden_reason": message.hidden_reason if message.state == MessageState.hidden else None,
    }


def messages_dicts(messages: list[Message]) -> list[dict[str, Any]]:
    organisations = author_organisations({m.author_id for m in messages})
    return [message_dict(m, organisations) for m in messages]


def thread_dict(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "title": thread.title,
        "forum": {"id": thread.forum.id, "slug": thread.forum.slug, "title": thread.forum.title},
        "locked": thread.locked,
        "archived": thread.archived,
        "pinned": thread.pinned,
        "slow_mode_seconds": thread.slow_mode_seconds,
        "last_message_id": thread.last_message_id,
        "url": url_for("forums.thread", thread_id=thread.id),
    }


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
