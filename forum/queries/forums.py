"""The read side of forums and threads: pages by id, visibility, unread counts.

Every function here issues a fixed number of queries, whatever the number of
messages, authors or replies (tests count them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import Integer, String, Table, and_, bindparam, case, exists, func, literal, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload, with_expression

from .. import policy
from ..errors import AuthRequired, NotFound
from ..extensions import db
from ..models import (
    Commitment,
    ConsultationRound,
    Forum,
    Message,
    MessageRevision,
    Notification,
    ReadMarker,
    Thread,
    User,
    Visibility,
)
from ..models.base import UTCDateTime, utcnow
from ..models.forums import ROLE_MEMBER, ROLE_MODERATOR, forum_members, forum_moderators
from .payloads import MessageRow, message_rows_select
from .search import thread_readable

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass
class MessagePage:
    messages: list[MessageRow]
    has_more: bool


@cache
def _message_page_statement(kind: str) -> Any:
    """Built once per process: a thread's messages as `MessageRow`s, parameters `thread_id`,
    `limit` and, but for the latest page, `edge` ('before': ids below it, newest first;
    'after': ids above it, oldest first)."""
    messages = cast(Table, Message.__table__)
    statement = message_rows_select().where(
        messages.c.thread_id == bindparam("thread_id", type_=Integer)
    )
    edge = bindparam("edge", type_=Integer)
    if kind == "after":
        statement = statement.where(messages.c.id > edge).order_by(messages.c.id)
    else:
        if kind == "before":
            statement = statement.where(messages.c.id < edge)
        statement = statement.order_by(messages.c.id.desc())
    return statement.limit(bindparam("limit", type_=Integer))


def _message_rows(kind: str, thread_id: int, edge: int | None, limit: int) -> list[MessageRow]:
    # A Core statement does not autoflush as an ORM query would: every caller reads pages
    # before changing anything in the request.
    params = {"thread_id": thread_id, "edge": edge, "limit": limit + 1}
    return cast(list[MessageRow], db.session.execute(_message_page_statement(kind), params).all())


def latest_page(thread_id: int, limit: int = PAGE_SIZE) -> MessagePage:
    """The newest `limit` messages, oldest first."""
    return messages_before(thread_id, None, limit)


def messages_before(thread_id: int, before: int | None, limit: int = PAGE_SIZE) -> MessagePage:
    """Up to `limit` messages with id < before (keyset, never OFFSET), oldest first."""
    rows = _message_rows("latest" if before is None else "before", thread_id, before, limit)
    has_more = len(rows) > limit
    return MessagePage(rows[:limit][::-1], has_more)


def on_latest_page(message: Message) -> bool:
    """Whether the thread's newest page (the latest PAGE_SIZE messages) shows `message`."""
    newer = db.session.scalar(
        select(func.count(Message.id)).where(
            Message.thread_id == message.thread_id, Message.id > message.id
        )
    )
    return (newer or 0) < PAGE_SIZE


def messages_after(thread_id: int, since: int, limit: int) -> MessagePage:
    """Messages with id > since, oldest first: what a reconnecting client missed."""
    rows = _message_rows("after", thread_id, since, limit)
    return MessagePage(rows[:limit], len(rows) > limit)


def others_wrote_between(thread_id: int, user_id: int, after: int, before: int) -> bool:
    """Whether someone else's message (or its placeholder) came between ids `after` and
    `before`: the page would mark it new, as `first_unread` does."""
    return (
        db.session.scalar(
            select(Message.id)
            .where(
                Message.thread_id == thread_id,
                Message.id > after,
                Message.id < before,
                Message.author_id != user_id,
            )
            .limit(1)
        )
        is not None
    )


# How far back a change cursor reaches: a change's time is taken when its row is written,
# and its transaction commits a little later (or, with several processes, on a clock a
# little apart). A page asks again for what changed in this margin before its cursor;
# applying a message's current state twice changes nothing.
CHANGE_MARGIN = timedelta(seconds=60)


# The smallest step both databases store (microseconds): the time just after another.
TIME_STEP = timedelta(microseconds=1)


def change_cursor(now: datetime | None = None) -> datetime:
    """A cursor for a page (or join ack) read now: changes from it on are sent again."""
    return (now or utcnow()) - CHANGE_MARGIN


@cache
def _changed_statement(kind: str) -> Any:
    """Built once per process: the messages of `thread_id` with id <= `upto` whose
    `changed_at` is at or after `changed_since`, oldest change first, at most `limit`;
    or (`kind="tied"`) those changed exactly at `changed_at` with an id above `after`."""
    messages = cast(Table, Message.__table__)
    statement = (
        message_rows_select()
        .add_columns(messages.c.changed_at)
        .where(
            messages.c.thread_id == bindparam("thread_id", type_=Integer),
            messages.c.id <= bindparam("upto", type_=Integer),
        )
        .order_by(messages.c.changed_at, messages.c.id)
    )
    if kind == "tied":
        return statement.where(
            messages.c.changed_at == bindparam("changed_at", type_=UTCDateTime),
            messages.c.id > bindparam("after", type_=Integer),
        )
    return statement.where(
        messages.c.changed_at >= bindparam("changed_since", type_=UTCDateTime)
    ).limit(bindparam("limit", type_=Integer))


@dataclass
class Changes:
    messages: list[MessageRow]  # their current state, oldest change first
    cursor: datetime  # what the page sends as `changed_since` next time
    has_more: bool


def changed_messages(
    thread_id: int, upto: int, changed_since: datetime, now: datetime, limit: int
) -> Changes:
    """What changed, from `changed_since` on, in messages a page already has (id <= upto):
    edits, deletions, hides, restores, redactions, reactions. One query."""
    params = {
        "thread_id": thread_id,
        "upto": upto,
        "changed_since": changed_since,
        "limit": limit + 1,
    }
    rows = db.session.execute(_changed_statement("page"), params).all()
    if len(rows) <= limit:
        return Changes([MessageRow(*row[:-1]) for row in rows], change_cursor(now), False)
    # A page ends with every change made at its last change's time, and the next starts
    # just after that time. One write stamps many messages with one time (a hidden
    # message's replies, whose quotes follow it), and a page that stopped inside such a
    # group started the next at the same time again: more of them than `limit` and the
    # page never moved on, and the client asked again and again.
    last = rows[limit - 1]
    tied = {"thread_id": thread_id, "upto": upto, "changed_at": last[-1], "after": last[0]}
    page = [*rows[:limit], *db.session.execute(_changed_statement("tied"), tied)]
    return Changes([MessageRow(*row[:-1]) for row in page], last[-1] + TIME_STEP, True)


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


@cache
def _page_thread_statement() -> Any:
    """Built once per process: parameters `user_id` (None for a visitor) and `thread_id`."""
    user_id = _viewer_param()
    return (
        select(Thread)
        .join(Thread.forum)
        .options(
            contains_eager(Thread.forum).with_expression(Forum.viewer_id, user_id),
            contains_eager(Thread.forum).with_expression(
                Forum.viewer_roles, _viewer_roles_expr(user_id)
            ),
            contains_eager(Thread.forum).with_expression(
                Forum.viewer_muted_until, _viewer_muted_expr(user_id)
            ),
            # Joined, not a second query: a thread has one or a few commitments.
            joinedload(Thread.commitments),
        )
        .where(Thread.id == bindparam("thread_id", type_=Integer))
        .execution_options(populate_existing=True)
    )


def thread_for_page(user: User | None, thread_id: int) -> Thread | None:
    """A thread with its forum, its commitments and the viewer's roles in the forum (what
    policy asks on the thread page) instead of every moderator and member, which the page
    does not show: one query, however many people the forum has."""
    params = {"user_id": _viewer_id(user), "thread_id": thread_id, "now": utcnow()}
    return db.session.scalars(_page_thread_statement(), params).unique().one_or_none()


@dataclass
class SendContext:
    """Everything a send checks, loaded with the thread in one query."""

    thread: Thread
    organisation: str | None  # the sender's organisation, for the message payload
    recent_count: int | None  # the sender's messages in the thread since `rate_since`
    muted_until: datetime | None  # the mute in force in the thread's forum, if any


def _viewer_param() -> Any:
    # A default of NULL: when an expired forum is refreshed, SQLAlchemy reruns these
    # expressions without our parameters; then they load "no viewer" and policy falls
    # back to the forum's people.
    return bindparam("user_id", None, type_=Integer)


def _viewer_muted_expr(user_id: Any) -> Any:
    """When the mute in force for the person `user_id` in the forum being selected ends
    (NULL: none). `now` defaults to NULL like `user_id`: a refresh then loads "not muted"
    (the services check the mute themselves before anything is said)."""
    from .moderation import mute_until_expr

    return mute_until_expr(user_id, Forum.id, bindparam("now", None, type_=UTCDateTime))


def _viewer_roles_expr(user_id: Any) -> Any:
    """ROLE_MODERATOR | ROLE_MEMBER of the person `user_id` in the forum being selected."""
    is_moderator = exists().where(
        forum_moderators.c.forum_id == Forum.id, forum_moderators.c.user_id == user_id
    )
    is_member = exists().where(
        forum_members.c.forum_id == Forum.id, forum_members.c.user_id == user_id
    )
    return case((is_moderator, ROLE_MODERATOR), else_=0) + case((is_member, ROLE_MEMBER), else_=0)


@cache
def _send_statement(with_rate: bool) -> Any:
    """Built once per process (building it costs more than running it): parameters
    `user_id`, `thread_id`, `now` and, with the rate window, `rate_since`."""
    from . import payloads
    from .moderation import mute_until_expr

    user_id = _viewer_param()
    roles = _viewer_roles_expr(user_id)
    recent: Any = literal(None)
    if with_rate:
        recent = (
            select(func.count())
            .where(
                Message.thread_id == Thread.id,
                Message.author_id == user_id,
                Message.created_at > bindparam("rate_since", type_=UTCDateTime),
            )
            .scalar_subquery()
        )
    return (
        select(
            Thread,
            payloads.author_organisation_expr(user_id),
            recent,
            mute_until_expr(user_id, Thread.forum_id, bindparam("now", type_=UTCDateTime)),
        )
        .join(Thread.forum)
        .options(
            contains_eager(Thread.forum).with_expression(Forum.viewer_id, user_id),
            contains_eager(Thread.forum).with_expression(Forum.viewer_roles, roles),
        )
        .where(Thread.id == bindparam("thread_id", type_=Integer))
        .execution_options(populate_existing=True)
    )


def thread_for_sending(
    thread_id: int, user: User, rate_since: datetime | None, now: datetime
) -> SendContext | None:
    """The thread and its forum with the sender's roles (not every moderator and member),
    organisation, recent messages and mute, in ONE query."""
    params: dict[str, Any] = {"user_id": user.id, "thread_id": thread_id, "now": now}
    if rate_since is not None:
        params["rate_since"] = rate_since
    row = db.session.execute(_send_statement(rate_since is not None), params).first()
    if row is None:
        return None
    thread, organisation, recent_count, muted_until = row
    return SendContext(thread, organisation, recent_count, muted_until)


@cache
def _forums_statement(kind: str) -> Any:
    """Forums with their commitments and the roles of the viewer (parameter `user_id`, None
    for a visitor) that policy asks about, instead of every member: built once per process.
    `one` (parameter `slug`) also loads the moderators, which a forum's page shows."""
    user_id = _viewer_param()
    statement = select(Forum).options(
        with_expression(Forum.viewer_id, user_id),
        with_expression(Forum.viewer_roles, _viewer_roles_expr(user_id)),
        # Joined, not a second query: a forum has a few of the thirteen commitments.
        joinedload(Forum.commitments),
    )
    if kind == "one":
        statement = statement.options(
            selectinload(Forum.moderators),
            with_expression(Forum.viewer_muted_until, _viewer_muted_expr(user_id)),
        ).where(Forum.slug == bindparam("slug", type_=String))
    else:
        statement = statement.order_by(Forum.title)
    return statement.execution_options(populate_existing=True)


def _viewer_id(user: User | None) -> int | None:
    return user.id if user is not None and user.is_authenticated else None


def get_forum(slug: str, user: User | None = None) -> Forum | None:
    """The forum behind `slug`, with its moderators, commitments and `user`'s roles in it."""
    params = {"slug": slug, "user_id": _viewer_id(user), "now": utcnow()}
    return db.session.scalars(_forums_statement("one"), params).unique().one_or_none()


def visible_forums(user: User | None) -> list[Forum]:
    """Forums the user may read, in title order (one query: forums with the user's roles and
    their commitments joined; no moderator or member is loaded)."""
    forums = (
        db.session.scalars(_forums_statement("all"), {"user_id": _viewer_id(user)}).unique().all()
    )
    return [f for f in forums if policy.can_view_forum(user, f)]


def read_marker(user: User | None, thread_id: int) -> int:
    if user is None or not user.is_authenticated:
        return 0
    marker = db.session.get(ReadMarker, (user.id, thread_id))
    return marker.last_read_id if marker else 0


def _unread_expr() -> Any:
    """Visible messages after the reader's marker: the thread's count minus the count the
    marker saw, only where the thread moved past the marker. No message is scanned."""
    return case(
        (
            func.coalesce(Thread.last_message_id, 0) > func.coalesce(ReadMarker.last_read_id, 0),
            Thread.message_count - func.coalesce(ReadMarker.read_count, 0),
        ),
        else_=0,
    )


@cache
def _unread_statement(by: str) -> Any:
    """Unread counts per thread (`by="thread"`) or summed per forum (`by="forum"`) for the
    reader `user_id` over the threads or forums `ids`: built once per process (building the
    statement cost more than running it, on every forum list and forum page)."""
    unread = _unread_expr()
    marker = and_(
        ReadMarker.thread_id == Thread.id,
        ReadMarker.user_id == bindparam("user_id", type_=Integer),
    )
    ids = bindparam("ids", expanding=True, type_=Integer)
    if by == "thread":
        return (
            select(Thread.id, unread).outerjoin(ReadMarker, marker).where(Thread.id.in_(ids))
        ).where(unread > 0)
    return (
        select(Thread.forum_id, func.sum(unread))
        .outerjoin(ReadMarker, marker)
        # an archived thread is not on its forum's page: what it holds unread is not the
        # forum's news, and nothing there would let the reader clear it
        .where(Thread.forum_id.in_(ids), Thread.archived.is_(False), unread > 0)
        .group_by(Thread.forum_id)
    )


def _unread_counts(by: str, user: User | None, ids: list[int]) -> dict[int, int]:
    if user is None or not user.is_authenticated or not ids:
        return {}
    rows = db.session.execute(_unread_statement(by), {"user_id": user.id, "ids": ids}).all()
    return {key: int(count) for key, count in rows}


def unread_by_thread(user: User | None, thread_ids: list[int]) -> dict[int, int]:
    """Unread visible messages per thread, in one query over the threads (not the messages)."""
    return _unread_counts("thread", user, thread_ids)


def unread_by_forum(user: User | None, forum_ids: list[int]) -> dict[int, int]:
    """Unread visible messages per forum, in one query over the threads (not the messages)."""
    return _unread_counts("forum", user, forum_ids)


@dataclass
class UnreadThread:
    """A thread the person has read before, with what is new since."""

    thread: Thread
    unread: int


def unread_threads(user: User, limit: int = 8) -> tuple[list[UnreadThread], int]:
    """The person's threads (those with a read marker) that moved on since their last visit,
    most recently active first, and how many there are; a fixed number of queries."""
    moved_on = db.session.scalars(
        select(ReadMarker.thread_id)
        .join(Thread, Thread.id == ReadMarker.thread_id)
        .where(
            ReadMarker.user_id == user.id,
            func.coalesce(Thread.last_message_id, 0) > ReadMarker.last_read_id,
        )
        .order_by(Thread.last_message_id.desc())
        .limit(MAX_PAGE_SIZE)
    ).all()
    counts = unread_by_thread(user, list(moved_on))
    if not counts:
        return [], 0
    readable = sorted(
        readable_threads(user, set(counts)), key=lambda t: t.last_message_id or 0, reverse=True
    )
    return [UnreadThread(t, counts[t.id]) for t in readable[:limit]], len(readable)


def readable_threads(user: User | None, thread_ids: set[int]) -> list[Thread]:
    """Those of the threads the user may read, in a fixed number of queries (a round's
    thread is checked against its round, loaded for all of them at once)."""
    if not thread_ids:
        return []
    threads = db.session.scalars(
        select(Thread)
        .options(
            joinedload(Thread.forum).selectinload(Forum.moderators),
            joinedload(Thread.forum).selectinload(Forum.members),
        )
        .where(Thread.id.in_(thread_ids))
    ).all()
    rounds = rounds_by_thread(thread_ids)
    return [t for t in threads if policy.can_view_thread(user, t, rounds)]


def rounds_by_thread(thread_ids: Iterable[int]) -> dict[int, ConsultationRound]:
    """The rounds whose discussions the threads are, by thread id, in one query: the
    `rounds` policy.can_view_thread takes, so that deciding for many threads or many people
    does not read a thread's round once each."""
    return {
        r.thread_id: r
        for r in db.session.scalars(
            select(ConsultationRound).where(ConsultationRound.thread_id.in_(list(thread_ids)))
        )
        if r.thread_id is not None
    }


def forum_threads(forum: Forum) -> list[Thread]:
    """A forum's threads: pinned first, then most recently active (without their authors,
    which the forum page does not show)."""
    return list(
        db.session.scalars(
            select(Thread)
            .options(selectinload(Thread.commitments))
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


# --- loaders: get by id, check visibility, else NotFound --------------------------


def visible_forum(user: User | None, slug: str) -> Forum:
    """The forum behind `slug` if `user` may read it; AuthRequired for a visitor at a
    members' forum, else NotFound (an invite-only forum is, to a visitor, the same as
    no forum at all)."""
    forum = get_forum(slug, user)
    if forum is None or not policy.can_view_forum(user, forum):
        if forum is not None and user is None and forum.visibility == Visibility.members:
            raise AuthRequired(_("You need to log in first."))
        raise NotFound(_("No such forum."))
    return forum


def visible_thread(user: User | None, thread_id: int) -> Thread:
    """The thread if `user` may read it; AuthRequired for a visitor at a members' thread,
    else NotFound (policy.require_thread_visible decides)."""
    return policy.require_thread_visible(user, get_thread(thread_id))


def visible_page_thread(user: User | None, thread_id: int) -> Thread:
    """`visible_thread` with the viewer's roles instead of the forum's people
    (`thread_for_page`): for the thread page and the socket's `join` and `history`."""
    return policy.require_thread_visible(user, thread_for_page(user, thread_id))


def visible_message(user: User | None, message_id: int) -> Message:
    """The message if `user` may read its thread (whatever its state), else NotFound."""
    message = db.session.get(Message, message_id)
    if message is None or not policy.can_view_thread(user, message.thread):
        raise NotFound(_("No such message."))
    return message


def get_message(message_id: int) -> Message:
    """The message with this id (no visibility check: the service checks the right), else
    NotFound."""
    message = db.session.get(Message, message_id)
    if message is None:
        raise NotFound(_("No such message."))
    return message


# --- pieces of pages --------------------------------------------------------------


def reply_target(thread_id: int, message_id: int) -> Message | None:
    """The message a reply quotes, if it is in this thread."""
    message = db.session.get(Message, message_id)
    if message is None or message.thread_id != thread_id:
        return None
    return message


def revisions(message: Message, include_admin_only: bool) -> list[MessageRevision]:
    """Earlier versions of a message, oldest first; redacted originals only when asked."""
    query = select(MessageRevision).where(MessageRevision.message_id == message.id)
    if not include_admin_only:
        query = query.where(MessageRevision.admin_only.is_(False))
    return list(db.session.scalars(query.order_by(MessageRevision.id)))


NOTIFICATIONS_PAGE = 50


def notification_titles(user: User, items: list[Notification]) -> dict[int, str]:
    """The titles of the notifications' threads, in one query: a thread the person may no
    longer read (removed from its invite-only forum, say) is named by a neutral label, never
    by its current title, which may have been renamed since."""
    thread_ids = {n.thread_id for n in items if n.thread_id}
    titles: dict[int, str] = dict(
        db.session.execute(  # type: ignore[arg-type]
            select(Thread.id, Thread.title).where(
                Thread.id.in_(thread_ids), thread_readable(user, Thread)
            )
        ).all()
    )
    hidden = _("a thread you can no longer read")
    return {thread_id: titles.get(thread_id, hidden) for thread_id in thread_ids}


def notifications_page(user: User, limit: int = 100) -> tuple[list[Notification], dict[int, str]]:
    """A person's newest notifications (with actors) and the titles of their threads."""
    items = list(
        db.session.scalars(
            select(Notification)
            .options(joinedload(Notification.actor))
            .where(Notification.user_id == user.id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )
    return items, notification_titles(user, items)


@dataclass
class NotificationList:
    """One page of the notification centre, newest first."""

    items: list[Notification]
    titles: dict[int, str]
    older: int | None  # the `before` of the next, older page; None on the last page
    unread: int  # the person's unread notifications, on every page (the header's count)
    # the newest of them when the page was read: "Mark all as read" marks none newer, which
    # the person never saw on it (one that arrived live while the page was open)
    newest_unread: int | None = None


def notification_list(
    user: User, before: int | None = None, unread_only: bool = False
) -> NotificationList:
    """A page of the person's notifications (all, or only the unread ones) older than the
    id `before`, paged by id (keyset); three queries on every page."""
    query = (
        select(Notification)
        .options(joinedload(Notification.actor))
        .where(Notification.user_id == user.id)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before is not None:
        query = query.where(Notification.id < before)
    rows = list(
        db.session.scalars(query.order_by(Notification.id.desc()).limit(NOTIFICATIONS_PAGE + 1))
    )
    items = rows[:NOTIFICATIONS_PAGE]
    older = items[-1].id if len(rows) > NOTIFICATIONS_PAGE else None
    unread, newest_unread = db.session.execute(
        select(func.count(), func.max(Notification.id)).where(
            Notification.user_id == user.id, Notification.read_at.is_(None)
        )
    ).one()
    titles = notification_titles(user, items)
    return NotificationList(items, titles, older, unread or 0, newest_unread)


def own_notification(user: User, notification_id: int) -> Notification:
    """One of the person's own notifications, else NotFound (someone else's looks the same)."""
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound(_("No such notification."))
    return note


def person_by_handle(handle: str) -> User:
    """The person with this handle, else NotFound."""
    user = db.session.scalar(select(User).where(User.handle == handle))
    if user is None:
        raise NotFound(_("No such person."))
    return user


def commitment_threads(commitment: Commitment, forum_ids: set[int]) -> list[Thread]:
    """Threads linked to a commitment in the given (visible) forums, newest first."""
    return [
        t
        for t in db.session.scalars(
            select(Thread)
            .where(Thread.commitments.any(Commitment.id == commitment.id))
            .order_by(Thread.id.desc())
        )
        if t.forum_id in forum_ids
    ]
