"""Forums, threads and messages: the write path of the real-time dialogue."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..errors import Conflict, Invalid, NotFound, RateLimited
from ..events import emit_after_commit, forum_room, thread_room
from ..extensions import db
from ..models import (
    Forum,
    Message,
    MessageRevision,
    MessageState,
    ReadMarker,
    Thread,
    User,
    Visibility,
)
from ..models.base import utcnow
from ..queries import forums as forum_queries
from ..queries import payloads
from ..text import slugify
from . import audit, moderation, notifications
from .rendering import MAX_BODY, MAX_DESCRIPTION, MAX_TITLE, render_body
from .validation import chosen_commitments, clean_text

MAX_CLIENT_ID = 64


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
    title = clean_text(title, "title", max_length=MAX_TITLE)
    description = clean_text(description, "description", max_length=MAX_DESCRIPTION, required=False)
    try:
        vis = Visibility(visibility)
    except ValueError:
        raise Invalid(_("Choose who can read the forum."), field="visibility") from None
    base = slugify(title, "forum")
    slug, n = base, 2
    while db.session.scalar(select(Forum.id).where(Forum.slug == slug)) is not None:
        slug, n = f"{base}-{n}", n + 1
    forum = Forum(
        slug=slug,
        title=title,
        description=description,
        description_html=render_body(description).html if description else "",
        visibility=vis,
        created_by_id=user.id,  # type: ignore[union-attr]
    )
    forum.commitments = chosen_commitments(commitment_ids)
    if moderator_ids:
        forum.moderators = list(db.session.scalars(select(User).where(User.id.in_(moderator_ids))))
    if vis == Visibility.invite:
        forum.members = [user]  # type: ignore[list-item]
    db.session.add(forum)
    db.session.commit()
    return forum


def start_thread(
    user: User | None, forum: Forum, title: str, commitment_ids: list[int], body: str = ""
) -> Thread:
    """Start a thread in a forum, optionally with its first message."""
    policy.require_login(user)
    if not policy.can_view_forum(user, forum):
        raise NotFound(_("No such forum."))
    policy.require(policy.can_start_thread(user, forum), _("You may not start threads here."))
    title = clean_text(title, "title", max_length=MAX_TITLE)
    body = (body or "").strip()
    if len(body) > MAX_BODY:
        raise Invalid(_("At most %(n)d characters.", n=MAX_BODY), field="body")
    thread = Thread(forum_id=forum.id, title=title, author_id=user.id)  # type: ignore[union-attr]
    moderation.check_not_muted(user, thread)  # type: ignore[arg-type]  # a thread is a post too
    thread.forum = forum
    thread.commitments = chosen_commitments(commitment_ids)
    db.session.add(thread)
    db.session.flush()
    if body:
        _insert_message(user, thread, body, f"thread-{thread.id}-first", None)  # type: ignore[arg-type]
    db.session.commit()
    return thread


def _check_rate(user: User, thread: Thread) -> None:
    limit = current_app.config["FORUM_MESSAGE_RATE_LIMIT"]
    if not limit.enabled:
        return
    since = utcnow() - timedelta(seconds=limit.seconds)
    recent = db.session.scalar(
        select(func.count()).where(
            Message.thread_id == thread.id, Message.author_id == user.id, Message.created_at > since
        )
    )
    if recent is not None and recent >= limit.count:
        raise RateLimited(
            _("You are sending messages too fast. Wait a moment."), retry_after=limit.seconds
        )


def _validate_body(body: object) -> str:
    if not isinstance(body, str):
        raise Invalid(_("The message must be text."), field="body")
    if not body.strip():
        raise Invalid(_("Write something first."), field="body")
    if len(body) > MAX_BODY:
        raise Invalid(_("A message can be at most %(n)d characters.", n=MAX_BODY), field="body")
    return body.strip("\n\r ")


def _validate_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not client_id.strip():
        raise Invalid(_("client_id is required."), field="client_id")
    if len(client_id) > MAX_CLIENT_ID:
        raise Invalid(
            _("client_id can be at most %(n)d characters.", n=MAX_CLIENT_ID), field="client_id"
        )
    return client_id


def _existing(user: User, client_id: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(Message.author_id == user.id, Message.client_id == client_id)
    )


def _insert_message(
    user: User, thread: Thread, body: str, client_id: str, reply_to: Message | None
) -> Message:
    rendered = render_body(body)
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
    db.session.add(message)
    db.session.flush()
    db.session.execute(
        update(Thread)
        .where(Thread.id == thread.id)
        .values(
            last_message_id=case(
                (func.coalesce(Thread.last_message_id, 0) < message.id, message.id),
                else_=Thread.last_message_id,
            ),
            message_count=Thread.message_count + 1,
        )
    )
    _advance_marker(user.id, thread.id, message.id)
    notifications.notify_message(message, thread, rendered.mentioned_user_ids, reply_to)
    payload = {"message": payloads.message_dict(message, payloads.author_organisations({user.id}))}
    emit_after_commit("message:new", payload, thread_room(thread.id))
    activity = {
        "forum_id": thread.forum_id,
        "thread_id": thread.id,
        "message_id": message.id,
        "author_id": user.id,
    }
    emit_after_commit("forum:activity", activity, forum_room(thread.forum_id))
    return message


def send_message(
    user: User | None,
    thread_id: int,
    body: object,
    client_id: object,
    reply_to_id: int | None = None,
) -> tuple[Message, bool]:
    """Post a message. Idempotent per (author, client_id): returns (message, created)."""
    policy.require_login(user)
    assert user is not None
    client_id = _validate_client_id(client_id)
    thread = forum_queries.visible_thread(user, thread_id)
    existing = _existing(user, client_id)
    if existing is not None:
        if existing.thread_id != thread.id:
            raise Conflict(
                _("That client_id was already used in another thread."), field="client_id"
            )
        return existing, False
    policy.require_can_send(user, thread)
    text = _validate_body(body)
    reply_to = None
    if reply_to_id is not None:
        reply_to = db.session.get(Message, reply_to_id)
        if reply_to is None or reply_to.thread_id != thread.id:
            raise Invalid(
                _("You can only reply to a message in the same thread."), field="reply_to"
            )
    _check_rate(user, thread)
    moderation.check_can_post(user, thread)
    try:
        message = _insert_message(user, thread, text, client_id, reply_to)
        db.session.commit()
    except IntegrityError:
        # Two sends with one client_id raced; the unique constraint decided.
        db.session.rollback()
        existing = _existing(user, client_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def _own_message(user: User | None, message_id: int) -> Message:
    policy.require_login(user)
    message = forum_queries.visible_message(user, message_id)
    if message.author_id != user.id:  # type: ignore[union-attr]
        policy.require(False, _("You can only change your own messages."))
    policy.require_can_send(user, message.thread)
    moderation.check_not_muted(user, message.thread)  # type: ignore[arg-type]
    if message.state != MessageState.visible:
        raise Invalid(_("This message can no longer be changed."))
    return message


def edit_message(user: User | None, message_id: int, body: object) -> Message:
    """Change a message's text; the earlier version is kept as a revision."""
    message = _own_message(user, message_id)
    text = _validate_body(body)
    if text == message.body:
        return message
    db.session.add(
        MessageRevision(
            message_id=message.id,
            body=message.body,
            html=message.html,
            created_at=message.edited_at or message.created_at,
        )
    )
    message.body = text
    message.html = render_body(text).html
    message.edited_at = utcnow()
    payload = {
        "message": payloads.message_dict(
            message, payloads.author_organisations({message.author_id})
        )
    }
    emit_after_commit("message:edited", payload, thread_room(message.thread_id))
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
        "message": payloads.message_dict(
            message, payloads.author_organisations({message.author_id})
        ),
    }
    emit_after_commit("message:deleted", payload, thread_room(message.thread_id))
    db.session.commit()
    return message


def _advance_marker(user_id: int, thread_id: int, message_id: int) -> None:
    marker = db.session.get(ReadMarker, (user_id, thread_id))
    if marker is None:
        db.session.add(ReadMarker(user_id=user_id, thread_id=thread_id, last_read_id=message_id))
    elif marker.last_read_id < message_id:
        marker.last_read_id = message_id


def mark_read(user: User | None, thread_id: int, message_id: int) -> int:
    """Move the user's read marker forward (never back); returns the marker."""
    policy.require_login(user)
    assert user is not None
    thread = forum_queries.visible_thread(user, thread_id)
    target = min(message_id, thread.last_message_id or 0)
    try:
        _advance_marker(user.id, thread_id, target)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _advance_marker(user.id, thread_id, target)
        db.session.commit()
    return forum_queries.read_marker(user, thread_id)


def _person_by_email(email: str) -> User:
    from .accounts import normalise_email

    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise Invalid(_("No account has that email address."), field="email")
    return user


def change_forum_people(actor: User | None, forum: Forum, email: str, role: str, add: bool) -> User:
    """Add or remove an invited member (`role="member"`) or a forum moderator."""
    policy.require_login(actor)
    policy.require(
        policy.can_manage_forum(actor, forum),
        _("Only admins and the forum's owner manage its people."),
    )
    person = _person_by_email(email)
    people = (
        forum.members if role == "member" else forum.moderators if role == "moderator" else None
    )
    if people is None:
        raise Invalid(_("Unknown role."), field="role")
    present = any(p.id == person.id for p in people)
    if add and not present:
        people.append(person)
    elif not add and present:
        people.remove(person)
    else:
        return person
    action = f"forum.{role}.{'added' if add else 'removed'}"
    audit.record(actor, action, "forum", forum.id, person.email)
    db.session.commit()
    return person
