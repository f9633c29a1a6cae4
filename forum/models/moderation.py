"""Moderation: flags on messages, moderation actions (hide, redact, warn, mute, suspend, hide
a follow-up action), appeals."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .accounts import User
from .agreement import Principle
from .base import UTCDateTime, utcnow
from .follow_up import Action
from .forums import Forum, Message, Thread


class FlagReason(enum.StrEnum):
    """Why someone flagged a message."""

    spam = "spam"
    offensive = "offensive"
    off_topic = "off_topic"
    personal_data = "personal_data"
    other = "other"


class ActionKind(enum.StrEnum):
    """A moderation step that concerns one person and that they can appeal."""

    hide = "hide"
    redact = "redact"
    warn = "warn"
    mute = "mute"
    suspend = "suspend"
    hide_action = "hide_action"  # a follow-up action hidden; its proposer may appeal


class AppealOutcome(enum.StrEnum):
    upheld = "upheld"
    reversed = "reversed"
    lapsed = "lapsed"  # closed without a decision: the decision had been lifted meanwhile


class Flag(Model):
    """One person's report of a message; open until a moderator resolves it."""

    __tablename__ = "flags"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        Index("ix_flags_open_message", "resolved_at", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[FlagReason] = mapped_column(Enum(FlagReason, native_enum=False, length=20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(String(20))

    message: Mapped[Message] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ModerationAction(Model):
    """A decision about a person or their message, with its reason; appealable once.

    Mutes and suspensions are actions with an `until`; they end by themselves
    when that time has passed, or earlier when lifted (or reversed on appeal).
    """

    __tablename__ = "moderation_actions"
    __table_args__ = (Index("ix_moderation_actions_subject_kind", "subject_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ActionKind] = mapped_column(Enum(ActionKind, native_enum=False, length=20))
    subject_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    forum_id: Mapped[int | None] = mapped_column(ForeignKey("forums.id"), index=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    # the follow-up action a `hide_action` decision hid
    follow_up_action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id"), index=True)
    principle_id: Mapped[int | None] = mapped_column(ForeignKey("principles.id"))
    reason_code: Mapped[str] = mapped_column(String(40), default="other")
    reason: Mapped[str] = mapped_column(Text, default="")
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    subject: Mapped[User] = relationship(foreign_keys=[subject_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    forum: Mapped[Forum | None] = relationship()
    thread: Mapped[Thread | None] = relationship()
    message: Mapped[Message | None] = relationship()
    follow_up_action: Mapped[Action | None] = relationship()
    principle: Mapped[Principle | None] = relationship()

    def in_force(self, now: datetime) -> bool:
        """Not reversed, and (for mutes and suspensions) not yet run out."""
        if self.reversed_at is not None:
            return False
        return self.until is None or self.until > now


class Appeal(Model):
    """The affected person's one appeal against a moderation action, and its outcome."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("moderation_actions.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[AppealOutcome | None] = mapped_column(
        Enum(AppealOutcome, native_enum=False, length=20)
    )
    decision_note: Mapped[str] = mapped_column(Text, default="")

    action: Mapped[ModerationAction] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
