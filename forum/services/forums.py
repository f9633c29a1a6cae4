"""Forums, threads and messages: the write path of the real-time dialogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import String, Table, bindparam, case, delete, func, literal_column, select, update
from sqlalchemy import cast as sa_cast
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from .. import policy
from ..errors import Conflict, DomainError, Invalid, NotFound, RateLimited
from ..events import (
    emit_after_commit,
    emit_held,
    forum_room,
    recheck_access_after_commit,
    thread_room,
)
from ..extensions import db, serial_writes
from ..models import (
    Forum,
    Message,
    MessageState,
    ReadMarker,
    Thread,
    User,
    Visibility,
)
from ..models.base import utcnow
from ..models.forums import forum_members, forum_moderators
from ..queries import forums as forum_queries
from ..queries import payloads
from ..text import Rendered, slugify
from . import audit, moderation, notifications, throttle
from .names import shows_something
from .rendering import MAX_BODY, MAX_DESCRIPTION, MAX_TITLE, render_body, replace_text
from .slugs import free_slug
from .transaction import insert_on_conflict, lock_for_check, lock_name, lock_person, lock_row
from .validation import check_characters, chosen_commitments, clean_text

MAX_CLIENT_ID = 64


# From the widest readership to the narrowest.
_READERSHIP = (Visibility.public, Visibility.members, Visibility.invite)


def _visibility(value: str | None) -> Visibility:
    try:
        return Visibility(value or "")
    except ValueError:
        raise Invalid(_("Choose who can read the forum."), field="visibility") from None


SLUG_ATTEMPTS = 5  # forums opened with one title at the same moment, one after another
# A forum or thread started again by the same person with the same words within this time
# is the same form sent twice (a double tap, a retry after the answer was lost on a patchy
# network), not a second one: the first is the answer.
REPEAT_WINDOW = timedelta(minutes=10)


def _slug_taken(slug: str) -> bool:
    """Taken by a forum, or kept for the consultation forum (made with the first round: a
    forum titled "Tidigt samråd" before then would have become it)."""
    if slug == policy.CONSULTATION_FORUM_SLUG:
        return True
    return db.session.scalar(select(Forum.id).where(Forum.slug == slug)) is not None


def create_forum(
    user: User | None,
    title: str,
    description: str,
    visibility: str,
    commitment_ids: list[int],
    moderator_ids: list[int] | None = None,
) -> Forum:
    """Open a new forum (officials and admins)."""
    policy.require_login(user)
    policy.require(policy.can_create_forum(user), _("Only officials and admins can create forums."))
    title = clean_text(title, "title", max_length=MAX_TITLE, single_line=True)
    description = clean_text(description, "description", max_length=MAX_DESCRIPTION, required=False)
    vis = _visibility(visibility)
    commitments = chosen_commitments(commitment_ids)
    moderators = (
        list(db.session.scalars(select(User).where(User.id.in_(moderator_ids))))
        if moderator_ids
        else []
    )
    description_html = render_body(description).html if description else ""
    author_id: int = user.id  # type: ignore[union-attr]
    lock_person(author_id)  # the same form sent twice at once waits here
    again = _forum_just_opened(author_id, title, description, vis)
    if again is not None:
        db.session.commit()
        return again
    # ids in commit order (PostgreSQL): the API pages forums by id, so a forum committed
    # after a larger id would never reach a client that asks for those after it
    lock_name("forums")
    attempts = 1
    while True:
        slug = free_slug(  # a slug whose page is the forum's ("New" is not /forums/new)
            slugify(title, "forum"), "forums.forum", _slug_taken
        )
        forum = Forum(
            slug=slug,
            title=title,
            description=description,
            description_html=description_html,
            visibility=vis,
            created_by_id=author_id,
        )
        forum.commitments = list(commitments)
        forum.moderators = list(moderators)
        if vis == Visibility.invite:
            forum.members = [user]  # type: ignore[list-item]
        try:
            with db.session.begin_nested():
                db.session.add(forum)
        except IntegrityError:
            # Another forum took the slug between the look-up and the insert (the same title
            # sent twice, a double click): the unique constraint decided; choose again.
            if not _slug_taken(slug):
                raise
            if attempts == SLUG_ATTEMPTS:  # still losing: say so on the form, not with a 500
                raise Conflict(
                    _("Other forums with this title are being opened right now. Try again."),
                    field="title",
                ) from None
            attempts += 1
            continue
        db.session.commit()
        return forum


def _forum_just_opened(
    author_id: int, title: str, description: str, visibility: Visibility
) -> Forum | None:
    """The forum this person opened within REPEAT_WINDOW with these words, if there is one."""
    query = (
        select(Forum)
        .where(
            Forum.created_by_id == author_id,
            Forum.title == title,
            Forum.description == description,
            Forum.visibility == visibility,
            Forum.created_at > utcnow() - REPEAT_WINDOW,
        )
        .order_by(Forum.id.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def start_thread(
    user: User | None, forum: Forum, title: str, commitment_ids: list[int], body: str = ""
) -> Thread:
    """Start a thread in a forum, optionally with its first message."""
    policy.require_login(user)
    if not policy.can_view_forum(user, forum):
        raise NotFound(_("No such forum."))
    policy.require(policy.can_start_thread(user, forum), _("You may not start threads here."))
    moderation.check_not_muted_in(user, forum.id)  # type: ignore[arg-type]
    title = clean_text(title, "title", max_length=MAX_TITLE, single_line=True)
    # checked before the repeat look-up compares it (PostgreSQL compares no NUL: a 500)
    body = check_characters((body or "").strip(), "body")
    if body and not shows_something(body):  # optional, but not a message nobody can see
        raise Invalid(_("Write something first."), field="body")
    if len(body) > MAX_BODY:
        raise Invalid(_("At most %(n)d characters.", n=MAX_BODY), field="body")
    thread = Thread(forum_id=forum.id, title=title, author_id=user.id)  # type: ignore[union-attr]
    moderation.check_not_muted(user, thread)  # type: ignore[arg-type]  # a thread is a post too
    commitments = chosen_commitments(commitment_ids)  # refused before the lock, not under it
    lock_person(user.id)  # type: ignore[union-attr]  # the same form sent twice at once waits here
    again = _thread_just_started(user, forum, title, body)  # type: ignore[arg-type]
    if again is not None:
        db.session.commit()
        return again
    thread.forum = forum
    thread.commitments = commitments
    lock_forum_for_thread(forum.id)
    db.session.add(thread)
    db.session.flush()
    if body:
        _insert_message(user, thread, body, f"thread-{thread.id}-first", None, _LOOK_UP)  # type: ignore[arg-type]
    db.session.commit()
    return thread


def lock_forum_for_thread(forum_id: int) -> None:
    """Hold the forum's row until commit before a thread's INSERT draws its id (PostgreSQL),
    as a message's id is drawn under its thread's row: the API pages a forum's threads by
    id, so a thread committed after a larger id would never reach a client that asks for
    those after it. FOR NO KEY UPDATE: rows that point at the forum can still be written.
    SQLite has one writer at a time: its ids follow commit order already."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            select(Forum.id).where(Forum.id == forum_id).with_for_update(key_share=True)
        )


def _thread_just_started(user: User, forum: Forum, title: str, body: str) -> Thread | None:
    """The thread `user` started in `forum` within REPEAT_WINDOW with this title and first
    message (none, if `body` is empty), if there is one."""
    first = aliased(Message)
    query = (
        select(Thread)
        .outerjoin(
            first,
            (first.thread_id == Thread.id)
            & (first.author_id == user.id)
            & (first.client_id == "thread-" + sa_cast(Thread.id, String) + "-first"),
        )
        .where(
            Thread.forum_id == forum.id,
            Thread.author_id == user.id,
            Thread.title == title,
            Thread.created_at > utcnow() - REPEAT_WINDOW,
            # a first message its author deleted since is not what this form would post
            (first.body == body) & (first.state != MessageState.deleted)
            if body
            else first.id.is_(None),
        )
        .order_by(Thread.id.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def check_typing(user: User | None, thread_id: int) -> Thread:
    """May this person say they are typing here? The same rules as sending, mutes included."""
    thread = policy.require_thread_visible(user, forum_queries.get_thread(thread_id))
    policy.require_can_send(user, thread)
    moderation.check_not_muted(user, thread)  # type: ignore[arg-type]
    return thread


def _check_rate(user: User, thread: Thread) -> None:
    """At most `count` messages per `seconds` per person and thread, enforced atomically
    (throttle.take: Redis's moving window, or the person's row locked until this
    transaction commits the message)."""
    limit = current_app.config["FORUM_MESSAGE_RATE_LIMIT"]
    if not limit.enabled:
        return
    if not throttle.take(
        "message",
        f"{user.id}:{thread.id}",
        user.id,
        limit,
        lambda since: select(func.count()).where(
            Message.thread_id == thread.id,
            Message.author_id == user.id,
            Message.created_at > since,
        ),
    ):
        raise RateLimited(
            _("You are sending messages too fast. Wait a moment."), retry_after=limit.seconds
        )


def _validate_body(body: object) -> str:
    if not isinstance(body, str):
        raise Invalid(_("The message must be text."), field="body")
    check_characters(body, "body")
    if not shows_something(body):  # empty, or only characters drawn as nothing
        raise Invalid(_("Write something first."), field="body")
    if len(body) > MAX_BODY:
        raise Invalid(_("A message can be at most %(n)d characters.", n=MAX_BODY), field="body")
    return body.strip("\n\r ")


def _validate_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not client_id.strip():
        raise Invalid(_("client_id is required."), field="client_id")
    check_characters(client_id, "client_id")
    if len(client_id) > MAX_CLIENT_ID:
        raise Invalid(
            _("client_id can be at most %(n)d characters.", n=MAX_CLIENT_ID), field="client_id"
        )
    return client_id


def _existing(user: User, client_id: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(Message.author_id == user.id, Message.client_id == client_id)
    )


def _marker_upsert() -> Any:
    """The read marker's upsert for this session's database: parameters `m_user`,
    `m_thread`, `m_last` and `m_count`."""
    return _marker_upsert_for(db.session.get_bind().dialect.name)


@cache
def _marker_upsert_for(dialect: str) -> Any:
    """Built once per dialect (building it cost more than running it on the send path)."""
    markers = ReadMarker.__table__
    stmt = insert_on_conflict(markers, dialect).values(
        user_id=bindparam("m_user"),
        thread_id=bindparam("m_thread"),
        last_read_id=bindparam("m_last"),
        read_count=bindparam("m_count"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[markers.c.user_id, markers.c.thread_id],
        set_={
            "last_read_id": stmt.excluded.last_read_id,
            "read_count": stmt.excluded.read_count,
        },
        where=markers.c.last_read_id < stmt.excluded.last_read_id,
    )


def _store_marker(user_id: int, thread_id: int, last_read_id: int, read_count: int) -> None:
    """Move the read marker forward (never back) in one statement, inserting it if new."""
    db.session.execute(
        _marker_upsert(),
        {"m_user": user_id, "m_thread": thread_id, "m_last": last_read_id, "m_count": read_count},
    )


def _next_message_id() -> Any:
    """The next value of the messages' id sequence (PostgreSQL), as an SQL expression."""
    return literal_column("nextval(pg_get_serial_sequence('messages', 'id')::regclass)")


def _insert_message(
    user: User,
    thread: Thread,
    body: str,
    client_id: str,
    reply_to: Message | None,
    organisation: str | None | object = None,
    rendered: Rendered | None = None,
) -> tuple[Message, dict[str, Any]]:
    """Insert, move the thread's counters and the sender's marker; returns the message and
    the payload that is broadcast after commit (and is the sender's acknowledgement)."""
    rendered = rendered or render_body(body)
    message = Message(
        thread_id=thread.id,
        author_id=user.id,
        body=body,
        html=rendered.html,
        client_id=client_id,
        reply_to_id=reply_to.id if reply_to else None,
    )
    message.author = user
    message.reply_to = reply_to
    threads = cast(Table, Thread.__table__)
    if db.session.get_bind().dialect.name == "postgresql":
        # Ids must follow commit order within a thread: a page catches up with the
        # messages above the largest id it has, so one committed later under a smaller id
        # would never reach it. The id is drawn from the sequence by the UPDATE that locks
        # the thread's row (drawn again once the lock is granted), so concurrent senders
        # in a thread take ids one after another, each after the one before committed.
        last_id, count = db.session.execute(
            update(threads)
            .where(threads.c.id == thread.id)
            .values(
                last_message_id=_next_message_id(),
                message_count=threads.c.message_count + 1,
            )
            .returning(threads.c.last_message_id, threads.c.message_count)
        ).one()
        message.id = last_id
        db.session.add(message)
        db.session.flush()
    else:
        # SQLite has one writer at a time (the INSERT takes the database's write lock
        # until commit): its ids follow commit order already.
        db.session.add(message)
        db.session.flush()
        last_id, count = db.session.execute(
            update(threads)
            .where(threads.c.id == thread.id)
            .values(
                last_message_id=case(
                    (func.coalesce(threads.c.last_message_id, 0) < message.id, message.id),
                    else_=threads.c.last_message_id,
                ),
                message_count=threads.c.message_count + 1,
            )
            .returning(threads.c.last_message_id, threads.c.message_count)
        ).one()
    set_committed_value(thread, "last_message_id", last_id)
    set_committed_value(thread, "message_count", count)
    # The sender has read the thread up to here: everything counted so far is read.
    _store_marker(user.id, thread.id, last_id, count)
    notifications.notify_message(message, thread, rendered.mentioned_user_ids, reply_to)
    organisations = (
        payloads.author_organisations({user.id})
        if organisation is _LOOK_UP
        else ({user.id: organisation} if organisation else {})
    )
    # A new message has no reactions yet: the same shape as join and history, without a query.
    payload = {
        **payloads.message_dict(payloads.payload_row(message), organisations),  # type: ignore[arg-type]
        "reactions": [],
    }
    emit_after_commit("message:new", {"message": payload}, thread_room(thread.id))
    activity = {
        "forum_id": thread.forum_id,
        "thread_id": thread.id,
        "message_id": message.id,
        "author_id": user.id,
    }
    emit_after_commit("forum:activity", activity, forum_room(thread.forum_id))
    return message, payload


_LOOK_UP = object()


@dataclass
class Sent:
    """A send's outcome: the message, whether it is new, and its payload as broadcast."""

    message: Message
    created: bool
    payload: dict[str, Any]


def _duplicate(user: User, client_id: str, thread_id: int) -> Sent | None:
    """A retry of a message already stored with this client_id (None if there is none)."""
    existing = _existing(user, client_id)
    if existing is None:
        return None
    if existing.thread_id != thread_id:
        raise Conflict(_("That client_id was already used in another thread."), field="client_id")
    return Sent(existing, False, payloads.message_payload(existing))


def send(
    user: User | None,
    thread_id: int,
    body: object,
    client_id: object,
    reply_to_id: int | None = None,
) -> Sent:
    """Post a message. Idempotent per (author, client_id): a retry returns the stored one.

    One query loads the thread with everything the checks need; the insert, the thread's
    counters and the sender's read marker follow, then one commit. A retry is found by
    the unique (author, client_id) constraint, not by a query before every insert.
    """
    policy.require_login(user)
    assert user is not None
    client_id = _validate_client_id(client_id)
    now = utcnow()
    context = forum_queries.thread_for_sending(thread_id, user, None, now)
    thread = policy.require_thread_visible(user, context.thread if context else None)
    assert context is not None
    try:
        policy.require_can_send(user, thread)
        text = _validate_body(body)
        reply_to = None
        if reply_to_id is not None:
            reply_to = db.session.scalar(
                select(Message)
                .options(joinedload(Message.author))
                .where(Message.id == reply_to_id, Message.thread_id == thread.id)
            )
            if reply_to is None:
                raise Invalid(
                    _("You can only reply to a message in the same thread."), field="reply_to"
                )
        # slow mode is checked inside the serialised write below, not here
        moderation.check_not_muted(user, thread, context.muted_until)
    except DomainError:
        # A retry of a stored message is answered with it, whatever changed since.
        db.session.rollback()
        duplicate = _duplicate(user, client_id, thread.id)
        if duplicate is not None:
            return duplicate
        raise
    rendered = render_body(text)  # before the write transaction, which stays short
    try:
        with emit_held(), serial_writes():
            _check_rate(user, thread)  # counted inside the write, so parallel sends queue
            moderation.check_slow_mode(user, thread, serialised=True)  # so do slow mode's
            message, payload = _insert_message(
                user, thread, text, client_id, reply_to, context.organisation, rendered
            )
            db.session.commit()
    except RateLimited:
        db.session.rollback()
        duplicate = _duplicate(user, client_id, thread.id)
        if duplicate is not None:
            return duplicate
        raise
    except IntegrityError:
        # The same client_id again (a retry, or two sends racing): the constraint decided.
        db.session.rollback()
        duplicate = _duplicate(user, client_id, thread_id)
        if duplicate is None:
            raise
        return duplicate
    return Sent(message, True, payload)


def send_message(
    user: User | None,
    thread_id: int,
    body: object,
    client_id: object,
    reply_to_id: int | None = None,
) -> tuple[Message, bool]:
    """Post a message. Idempotent per (author, client_id): returns (message, created)."""
    sent = send(user, thread_id, body, client_id, reply_to_id)
    return sent.message, sent.created


def _own_message(user: User | None, message_id: int) -> Message:
    policy.require_login(user)
    message = forum_queries.visible_message(user, message_id)
    if message.author_id != user.id:  # type: ignore[union-attr]
        policy.require(False, _("You can only change your own messages."))
    policy.require_can_send(user, message.thread)
    moderation.check_not_muted(user, message.thread)  # type: ignore[arg-type]
    # Read the state afresh under the message's lock, the one a moderator's hide takes first:
    # without it an edit that read "visible" just before a hide committed wrote its text over
    # the hidden message (shown live again, quoted in notifications), and an edit in one tab
    # wrote over a delete in another. Now the later request waits, then sees the change.
    locked = lock_row(Message, message.id)
    if locked is None or locked.state != MessageState.visible:
        raise Invalid(_("This message can no longer be changed."))
    return locked


def edit_message(user: User | None, message_id: int, body: object) -> Message:
    """Change a message's text; the earlier version is kept as a revision."""
    message = _own_message(user, message_id)
    text = _validate_body(body)
    if text == message.body:
        db.session.commit()  # nothing to change: the message's lock ends now
        return message
    replace_text(message, text)
    message.edited_at = utcnow()
    payload = {"message": payloads.room_message(message)}
    emit_after_commit("message:edited", payload, thread_room(message.thread_id))
    moderation.refresh_quotes(message)
    notifications.sync_message_excerpts(message)
    db.session.commit()
    return message


def delete_message(user: User | None, message_id: int) -> Message:
    """The author withdraws a message; a placeholder stays and the text is kept on record."""
    message = _own_message(user, message_id)
    message.state = MessageState.deleted
    message.deleted_at = utcnow()
    payload = {
        "message_id": message.id,
        "thread_id": message.thread_id,
        "message": payloads.room_message(message),
    }
    emit_after_commit("message:deleted", payload, thread_room(message.thread_id))
    moderation.refresh_quotes(message)
    notifications.sync_message_excerpts(message)
    db.session.commit()
    return message


def mark_read(user: User | None, thread_id: int, message_id: int) -> int:
    """Move the user's read marker forward (never back); returns the marker.

    The marker keeps how many visible messages it has seen: at the thread's end that is
    the thread's count; part-way it is counted from the previous marker (only what was
    unread is scanned)."""
    policy.require_login(user)
    assert user is not None
    context = forum_queries.thread_for_sending(thread_id, user, None, utcnow())
    thread = policy.require_thread_visible(user, context.thread if context else None)
    target = min(message_id, thread.last_message_id or 0)
    if target <= 0:
        return forum_queries.read_marker(user, thread_id)
    old = db.session.get(ReadMarker, (user.id, thread_id))
    if old is not None and old.last_read_id >= target:  # a marker only moves forward
        return old.last_read_id
    with serial_writes():
        # the counts are read with the thread's row share-locked: a message hidden or
        # deleted at the same moment moves the thread's count and the markers past it after
        # this marker is stored, not between this read and its write (the marker would
        # count the hidden message, and every unread badge be one too low from then on)
        thread = db.session.scalars(
            lock_for_check(select(Thread).where(Thread.id == thread_id), shared=True)
        ).one()
        count = _visible_count_upto(user, thread, min(target, thread.last_message_id or 0))
        _store_marker(user.id, thread_id, target, count)
        db.session.commit()
    return forum_queries.read_marker(user, thread_id)


def _visible_count_upto(user: User, thread: Thread, target: int) -> int:
    """How many visible messages of `thread` there are up to the message `target`: the
    thread's count at its end, else counted on from the reader's marker."""
    if target >= (thread.last_message_id or 0):
        return thread.message_count
    old = db.session.get(ReadMarker, (user.id, thread.id), populate_existing=True)
    base_id, base_count = (old.last_read_id, old.read_count) if old else (0, 0)
    return base_count + (
        db.session.scalar(
            select(func.count()).where(
                Message.thread_id == thread.id,
                Message.id > base_id,
                Message.id <= target,
                Message.state == MessageState.visible,
            )
        )
        or 0
    )


def _person_by_email(email: str) -> User:
    from .accounts import normalise_email

    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise Invalid(_("No account has that email address."), field="email")
    return user


_PEOPLE_LINKS: dict[str, Table] = {"member": forum_members, "moderator": forum_moderators}


def change_forum_people(actor: User | None, forum: Forum, email: str, role: str, add: bool) -> User:
    """Add or remove an invited member (`role="member"`) or a forum moderator."""
    policy.require_login(actor)
    policy.require(
        policy.can_manage_forum(actor, forum),
        _("Only admins and the forum's owner manage its people."),
    )
    person = _person_by_email(email)
    links = _PEOPLE_LINKS.get(role)
    if links is None:
        raise Invalid(_("Unknown role."), field="role")
    if not add and role == "member" and person.id == forum.created_by_id:
        # an invite-only forum is read by its members: without it, the owner could no
        # longer open the forum, nor its people and visibility pages, to undo this
        raise Invalid(_("The forum's owner stays one of its members."), field="email")
    # One statement on the link table, not "already there?" read before a change to the
    # loaded list: two requests at once (a double click, two tabs) would both pass that
    # read, and the second insert break the primary key or the second delete match no row.
    # The row decides: the second request changes nothing and logs nothing.
    if add:
        statement = (
            insert_on_conflict(links, db.session.get_bind().dialect.name)
            .values(forum_id=forum.id, user_id=person.id)
            .on_conflict_do_nothing()
        )
    else:
        statement = delete(links).where(links.c.forum_id == forum.id, links.c.user_id == person.id)
    # RETURNING, not rowcount: SQLAlchemy leaves an INSERT's rowcount unset (-1) on psycopg
    changed = db.session.execute(statement.returning(links.c.user_id)).first() is not None
    if forum in db.session:
        # the list loaded for the permission check or the page no longer says who is there
        db.session.expire(forum, [f"{role}s"])
    if changed:
        from .accounts import reading_changed  # noqa: PLC0415 - as _person_by_email

        reading_changed(person)
        action = f"forum.{role}.{'added' if add else 'removed'}"
        audit.record(actor, action, "forum", forum.id, audit.person(person))
        if not add:
            recheck_access_after_commit(forum_ids=[forum.id], user_ids=[person.id])
    db.session.commit()  # also when nothing changed: SQLite's write lock is not kept
    return person


def narrows_visibility(forum: Forum, visibility: str | None) -> bool:
    """Whether changing `forum` to `visibility` takes reading away from someone
    (raises Invalid, on the field, for an unknown value)."""
    return _READERSHIP.index(_visibility(visibility)) > _READERSHIP.index(forum.visibility)


def set_forum_visibility(actor: User | None, forum: Forum, visibility: str | None) -> Forum:
    """Change who can read a forum; open sockets that may no longer read its threads leave them."""
    policy.require_login(actor)
    policy.require(
        policy.can_set_forum_visibility(actor, forum),
        _("Only admins and the forum's owner change who can read it."),
    )
    vis = _visibility(visibility)
    if vis == forum.visibility:
        return forum
    old, forum.visibility = forum.visibility, vis
    if vis == Visibility.invite and forum.created_by_id is not None:
        # invite-only is read by its members: the owner is one, as when it is opened so,
        # or the owner's own forum would answer them "no such forum" from now on
        db.session.execute(
            insert_on_conflict(forum_members, db.session.get_bind().dialect.name)
            .values(forum_id=forum.id, user_id=forum.created_by_id)
            .on_conflict_do_nothing()
        )
        db.session.expire(forum, ["members"])
    from . import follow_up  # noqa: PLC0415 (it imports this module, through consultations)

    follow_up.mark_access_changed(Thread.forum_id == forum.id, forum.id, old)
    audit.record(actor, "forum.visibility", "forum", forum.id, f"{old.value} → {vis.value}")
    recheck_access_after_commit(forum_ids=[forum.id])
    db.session.commit()
    return forum
