"""Forums, threads, messages, their edit history and read markers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    inspect,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, query_expression, relationship

from ..extensions import Model
from .accounts import User
from .agreement import Commitment, Principle
from .base import UTCDateTime, link_table, utcnow

forum_commitments = link_table(
    "forum_commitments", "forum_id->forums.id", "commitment_id->commitments.id"
)

thread_commitments = link_table(
    "thread_commitments", "thread_id->threads.id", "commitment_id->commitments.id"
)

forum_moderators = link_table("forum_moderators", "forum_id->forums.id", "user_id->users.id")

forum_members = link_table("forum_members", "forum_id->forums.id", "user_id->users.id")


class Visibility(enum.StrEnum):
    """Who can read a forum: anyone, logged-in people, or invited members."""

    public = "public"
    members = "members"
    invite = "invite"


class MessageState(enum.StrEnum):
    visible = "visible"
    hidden = "hidden"
    deleted = "deleted"


class Forum(Model):
    """A standing dialogue space for a theme."""

    __tablename__ = "forums"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[Visibility] = mapped_column(
        Enum(Visibility, native_enum=False, length=20), default=Visibility.public
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    commitments: Mapped[list[Commitment]] = relationship(
        secondary=forum_commitments, order_by=Commitment.position
    )
    moderators: Mapped[list[User]] = relationship(secondary=forum_moderators)
    members: Mapped[list[User]] = relationship(secondary=forum_members)

    # Loaded only by a query that asks for them (with_expression), e.g. the send path:
    # the roles (ROLE_MODERATOR | ROLE_MEMBER) of the person `viewer_id` in this forum,
    # so policy can answer without loading every moderator and member. Expired on commit.
    viewer_id: Mapped[int | None] = query_expression()
    viewer_roles: Mapped[int | None] = query_expression()
    # ... and when that person's mute in this forum ends (None: not muted, or not loaded):
    # the thread page and a forum's page offer no way to speak while it lasts.
    viewer_muted_until: Mapped[datetime | None] = query_expression()


ROLE_MODERATOR = 1
ROLE_MEMBER = 2


class Thread(Model):
    """A chat-style conversation in a forum; one Socket.IO room."""

    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked: Mapped[bool] = mapped_column(default=False)
    pinned: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False)
    slow_mode_seconds: Mapped[int] = mapped_column(default=0)
    # The newest message's id (any state) and the number of VISIBLE messages: maintained
    # by the send path and by `_keep_visible_counts` below; unread counts use them.
    last_message_id: Mapped[int | None] = mapped_column()
    message_count: Mapped[int] = mapped_column(default=0)

    forum: Mapped[Forum] = relationship()
    author: Mapped[User | None] = relationship()
    commitments: Mapped[list[Commitment]] = relationship(
        secondary=thread_commitments, order_by=Commitment.position
    )

    @property
    def is_open(self) -> bool:
        return not (self.locked or self.archived)


class ThreadAccessChange(Model):
    """Who may read a thread changed: it moved to another forum, or its forum's visibility
    changed (services.follow_up.mark_access_changed). Kept with who could read it before
    (the forum it was in, and that forum's visibility then), so the open-data API names an
    action from the thread as removed only to a reader who could read it before."""

    __tablename__ = "thread_access_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"))
    visibility: Mapped[Visibility] = mapped_column(Enum(Visibility, native_enum=False, length=20))


class Message(Model):
    """A chat message: markdown source plus HTML sanitised once at write time."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("author_id", "client_id"),
        Index("ix_messages_thread_id_id", "thread_id", "id"),
        Index("ix_messages_thread_author_created", "thread_id", "author_id", "created_at"),
        Index("ix_messages_thread_changed", "thread_id", "changed_at"),
        # the replies quoting a message, whose quotes follow its changes
        Index("ix_messages_reply_to", "reply_to_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[MessageState] = mapped_column(
        Enum(MessageState, native_enum=False, length=20), default=MessageState.visible
    )
    # Why a hidden message is hidden, kept apart so each reader sees it in their own
    # language: the principle of the agreement it broke (shown by its name in the reader's
    # language) and the moderator's own words. Both empty: hidden automatically by flags,
    # waiting for a moderator. `payloads.hidden_reasons` writes the sentence.
    hidden_principle_id: Mapped[int | None] = mapped_column(ForeignKey("principles.id"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When anything a reader sees last changed: its sending, then any UPDATE of the row
    # (edit, deletion, hide, restore, redaction; a reaction sets it itself). A
    # reconnecting page asks for the messages changed since it last heard from the server.
    changed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )

    thread: Mapped[Thread] = relationship()
    author: Mapped[User] = relationship()
    reply_to: Mapped[Message | None] = relationship(remote_side=[id])
    hidden_principle: Mapped[Principle | None] = relationship()


class MessageRevision(Model):
    """An earlier version of an edited message; never changed, never removed."""

    __tablename__ = "message_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    admin_only: Mapped[bool] = mapped_column(default=False)


class ReadMarker(Model):
    """The last message id a user has read in a thread, and how many visible messages
    the thread had up to it: unread = thread.message_count - read_count, no scan."""

    __tablename__ = "read_markers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), primary_key=True)
    last_read_id: Mapped[int] = mapped_column(default=0)
    read_count: Mapped[int] = mapped_column(default=0, server_default="0")


@event.listens_for(Session, "after_flush")
def _keep_visible_counts(session: Session, _context: Any) -> None:
    """A message shown or hidden (moderation, deletion) moves its thread's count of visible
    messages and the read counts of the markers at or past it, in the same transaction."""
    for obj in session.dirty:
        if not isinstance(obj, Message):
            continue
        history = inspect(obj).attrs.state.history
        if not history.deleted or not history.added:
            continue
        was = history.deleted[0] == MessageState.visible
        now = history.added[0] == MessageState.visible
        if was == now:
            continue
        delta = 1 if now else -1
        connection = session.connection()
        threads = cast(Table, Thread.__table__)
        connection.execute(
            update(threads)
            .where(threads.c.id == obj.thread_id)
            .values(message_count=threads.c.message_count + delta)
        )
        markers = cast(Table, ReadMarker.__table__)
        connection.execute(
            update(markers)
            .where(markers.c.thread_id == obj.thread_id, markers.c.last_read_id >= obj.id)
            .values(read_count=markers.c.read_count + delta)
        )


class MessageReaction(Model):
    """One person's reaction (one of a fixed set of emoji) to a message; one of each per person."""

    __tablename__ = "message_reactions"
    __table_args__ = (UniqueConstraint("message_id", "user_id", "emoji"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    emoji: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
