"""Early consultation rounds (tidigt samråd): questions, responses, versions, feedback."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import (
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
from .documents import Document
from .organisations import Organisation

round_commitments = link_table(
    "consultation_round_commitments",
    "round_id->consultation_rounds.id",
    "commitment_id->commitments.id",
)

round_invitations = link_table(
    "consultation_invitations",
    "round_id->consultation_rounds.id",
    "organisation_id->organisations.id",
)

# the organisations a round asked: fixed when it opens (and added to by inviting more), so the
# remiss list stays the list of who was asked whatever happens to an organisation later
round_asked = link_table(
    "consultation_asked",
    "round_id->consultation_rounds.id",
    "organisation_id->organisations.id",
)

feedback_sources = link_table(
    "consultation_feedback_sources",
    "feedback_id->consultation_feedback.id",
    "response_id->consultation_responses.id",
)


class Stage(enum.StrEnum):
    """The step of the city's own process that a round feeds."""

    problem = "problem"
    options = "options"
    draft_decision = "draft_decision"


class Audience(enum.StrEnum):
    """Who may respond: every verified organisation, or only invited ones."""

    all_verified = "all_verified"
    invited = "invited"


class RoundState(enum.StrEnum):
    """The explicit state; the phase also depends on the opening and closing times."""

    draft = "draft"
    open = "open"
    closed = "closed"
    published = "published"


class Phase(enum.StrEnum):
    """What a round is now: derived from its state and the current time."""

    draft = "draft"
    scheduled = "scheduled"
    open = "open"
    closed = "closed"
    published = "published"


class ResponseStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    declined = "declined"


class ConsultationRound(Model):
    """A round: an official asks organisations while the problem is still being formulated."""

    __tablename__ = "consultation_rounds"
    __table_args__ = (Index("ix_consultation_rounds_state_closes", "state", "closes_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text, default="")
    problem_html: Mapped[str] = mapped_column(Text, default="")
    background: Mapped[str] = mapped_column(Text, default="")
    background_html: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[Stage] = mapped_column(
        Enum(Stage, native_enum=False, length=20), default=Stage.problem
    )
    decision_date: Mapped[date | None] = mapped_column(Date)
    audience: Mapped[Audience] = mapped_column(
        Enum(Audience, native_enum=False, length=20), default=Audience.all_verified
    )
    state: Mapped[RoundState] = mapped_column(
        Enum(RoundState, native_enum=False, length=20), default=RoundState.draft
    )
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When what a reader of the round can see last changed by a write (services.consultations
    # marks it): the open-data API's changed_since. See public_changed_at for the changes
    # that come with time alone.
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    manual_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship()
    created_by: Mapped[User | None] = relationship()
    commitments: Mapped[list[Commitment]] = relationship(
        secondary=round_commitments, order_by=Commitment.position
    )
    invited: Mapped[list[Organisation]] = relationship(
        secondary=round_invitations, order_by=Organisation.name
    )
    asked: Mapped[list[Organisation]] = relationship(
        secondary=round_asked, order_by=Organisation.name
    )
    questions: Mapped[list[ConsultationQuestion]] = relationship(
        back_populates="round",
        order_by="ConsultationQuestion.position",
        cascade="all, delete-orphan",
    )

    def phase(self, now: datetime) -> Phase:
        """Draft, scheduled, open, closed or published, at the instant `now` (UTC)."""
        if self.state == RoundState.draft:
            return Phase.draft
        if self.state == RoundState.published:
            return Phase.published
        if self.state == RoundState.closed or now >= self.closes_at:
            return Phase.closed
        if now < self.opens_at:
            return Phase.scheduled
        return Phase.open

    def public_changed_at(self, now: datetime) -> datetime:
        """When what a reader sees of the round last changed, as of `now` (UTC): the last
        change written (`changed_at`), or, for an open round, the opening or the deadline
        if that came later and has passed: the phase turns scheduled, open, closed (and
        the responses public) with no write. open_data.round_changed_since is this in SQL."""
        moments = [self.changed_at]
        if self.state == RoundState.open:
            moments += [t for t in (self.opens_at, self.closes_at) if t <= now]
        return max(moments)


class ConsultationQuestion(Model):
    """One question of a round, in order, with optional guidance for the answer."""

    __tablename__ = "consultation_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("consultation_rounds.id"), index=True)
    position: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    guidance: Mapped[str] = mapped_column(Text, default="")

    round: Mapped[ConsultationRound] = relationship(back_populates="questions")


class ConsultationResponse(Model):
    """An organisation's one formal response to a round; revisions are versions of it."""

    __tablename__ = "consultation_responses"
    __table_args__ = (UniqueConstraint("round_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("consultation_rounds.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[ResponseStatus] = mapped_column(
        Enum(ResponseStatus, native_enum=False, length=20), default=ResponseStatus.draft
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version_count: Mapped[int] = mapped_column(default=0)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    organisation: Mapped[Organisation] = relationship()
    answers: Mapped[list[ConsultationAnswer]] = relationship(
        cascade="all, delete-orphan", order_by="ConsultationAnswer.question_id"
    )


class ConsultationAnswer(Model):
    """The working copy of one answer (what members are drafting now)."""

    __tablename__ = "consultation_answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("consultation_responses.id"))
    question_id: Mapped[int] = mapped_column(ForeignKey("consultation_questions.id"))
    body: Mapped[str] = mapped_column(Text, default="")


class ResponseVersion(Model):
    """A submitted version of a response; never changed, never removed."""

    __tablename__ = "consultation_response_versions"
    __table_args__ = (UniqueConstraint("response_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("consultation_responses.id"), index=True)
    number: Mapped[int]
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The draft_fingerprint of the draft its submitter had read (services.consultations.
    # save_response's `confirmed`; None: not given, or filed before it was kept). The same
    # submit sent again carries it; another sender's stale one does not.
    confirmed_fingerprint: Mapped[str | None] = mapped_column(String(64))

    submitted_by: Mapped[User | None] = relationship()
    answers: Mapped[list[VersionAnswer]] = relationship(
        cascade="all, delete-orphan", order_by="VersionAnswer.question_id"
    )
    documents: Mapped[list[Document]] = relationship(
        secondary="consultation_version_documents", order_by="Document.id"
    )


class VersionAnswer(Model):
    """One answer as submitted in a version: markdown and its sanitised HTML."""

    __tablename__ = "consultation_version_answers"
    __table_args__ = (UniqueConstraint("version_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("consultation_response_versions.id"))
    question_id: Mapped[int] = mapped_column(ForeignKey("consultation_questions.id"))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)


class ConsultationFeedback(Model):
    """The city's feedback on one question: what was heard and what it will do."""

    __tablename__ = "consultation_feedback"
    __table_args__ = (UniqueConstraint("round_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("consultation_rounds.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("consultation_questions.id"))
    heard: Mapped[str] = mapped_column(Text, default="")
    heard_html: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    action_html: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    sources: Mapped[list[ConsultationResponse]] = relationship(secondary=feedback_sources)
    round: Mapped[ConsultationRound] = relationship()


class RoundRevision(Model):
    """A change to an open round, on the record: which part, before, after, who, when, why."""

    __tablename__ = "consultation_round_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("consultation_rounds.id"), index=True)
    part: Mapped[str] = mapped_column(String(40))
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    changed_by: Mapped[User | None] = relationship()


class RoundNotice(Model):
    """A notice that must go out once: (round, kind, organisation or 0 for the round's officials).

    Each reminder step is claimed per organisation; `REMINDED` holds when an organisation was
    last reminded by any of them (the scheduled steps or the official's button).
    """

    __tablename__ = "consultation_round_notices"
    __table_args__ = (UniqueConstraint("round_id", "kind", "scope"),)

    REMINDED: ClassVar[str] = "reminded"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("consultation_rounds.id"))
    kind: Mapped[str] = mapped_column(String(40))
    scope: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
