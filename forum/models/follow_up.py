"""Follow-up actions (åtgärder): promises made in a dialogue, their updates and history."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .accounts import User
from .agreement import Commitment, Department
from .base import UTCDateTime, link_table, utcnow
from .consultations import ConsultationFeedback
from .organisations import Organisation

action_commitments = link_table(
    "action_commitments", "action_id->actions.id", "commitment_id->commitments.id"
)


class ActionStatus(enum.StrEnum):
    """Where an action stands; `done` means progress is 100."""

    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    dropped = "dropped"


OPEN_STATUSES = (ActionStatus.planned, ActionStatus.in_progress)


class Action(Model):
    """A concrete follow-up promise, owned by a department or by an organisation."""

    __tablename__ = "actions"
    __table_args__ = (
        CheckConstraint(
            "(owner_department_id IS NULL) <> (owner_organisation_id IS NULL)", name="one_owner"
        ),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        Index("ix_actions_status_due", "status", "due_date"),
        # a form posted twice (a double click, a resend) makes one action: see form_token.
        # A unique index, not a constraint: adding it did not rebuild the table (e25actions)
        Index("uq_actions_proposed_by_id_form_token", "proposed_by_id", "form_token", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    owner_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id"), index=True
    )
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(
        Enum(ActionStatus, native_enum=False, length=20), default=ActionStatus.planned
    )
    drop_reason: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(default=0)
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    source_thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), index=True)
    source_feedback_id: Mapped[int | None] = mapped_column(ForeignKey("consultation_feedback.id"))
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When what a reader sees of it last changed (services.follow_up._changed): the open-data
    # API's changed_since. Indexed for that filter.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The one-time token of the form it was proposed with (none from elsewhere): the same
    # form posted again by the same person finds this row instead of making another.
    form_token: Mapped[str | None] = mapped_column(String(64))
    # Declined by the owner's side instead of accepted: final (a new proposal is a new
    # action). Who declined is the actor of the history's "declined" row.
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # Hidden by a moderator: seen by moderators only, counted nowhere; reversible (unhiding
    # clears both). Who hid it, when and why stays in the audit log.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(Text)

    source_feedback: Mapped[ConsultationFeedback | None] = relationship()
    owner_department: Mapped[Department | None] = relationship()
    owner_organisation: Mapped[Organisation | None] = relationship()
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    commitments: Mapped[list[Commitment]] = relationship(
        secondary=action_commitments, order_by=Commitment.position
    )

    @property
    def accepted(self) -> bool:
        return self.accepted_at is not None

    @property
    def declined(self) -> bool:
        return self.declined_at is not None

    @property
    def hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def awaiting(self) -> bool:
        """Proposed and neither accepted nor declined yet."""
        return self.accepted_at is None and self.declined_at is None

    @property
    def owner_name(self) -> str:
        if self.owner_department is not None:
            return self.owner_department.name
        return self.owner_organisation.name if self.owner_organisation else ""

    def is_overdue(self, today: date) -> bool:
        """Past its due date and neither done nor dropped."""
        return self.status in OPEN_STATUSES and self.due_date < today


class ActionUpdate(Model):
    """A dated progress update posted by the owner's side."""

    __tablename__ = "action_updates"
    __table_args__ = (
        Index("uq_action_updates_author_id_form_token", "author_id", "form_token", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # as Action.form_token: the update form posted twice posts one update
    form_token: Mapped[str | None] = mapped_column(String(64))

    author: Mapped[User | None] = relationship()


class ActionHistory(Model):
    """One change to one field of an action. Append-only: never changed, never removed."""

    __tablename__ = "action_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the row keeps text a moderator took out (a redacted title): shown to admins only
    admin_only: Mapped[bool] = mapped_column(default=False)

    actor: Mapped[User | None] = relationship()


class ActionFollower(Model):
    """A person told about each update of an action."""

    __tablename__ = "action_followers"

    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActionReminder(Model):
    """A reminder sent to the owner's side: one per action, kind and due date."""

    __tablename__ = "action_reminders"
    __table_args__ = (UniqueConstraint("action_id", "kind", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"))
    kind: Mapped[str] = mapped_column(String(20))
    due_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
