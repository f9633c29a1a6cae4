"""Civil-society organisations and their members."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .accounts import User
from .base import UTCDateTime, utcnow


class OrganisationForm(enum.StrEnum):
    """Legal form of an idea-driven organisation."""

    forening = "forening"
    kooperativ = "kooperativ"
    stiftelse = "stiftelse"
    socialt_foretag = "socialt_foretag"
    annan = "annan"


class OrganisationStatus(enum.StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


class MemberRole(enum.StrEnum):
    member = "member"
    admin = "admin"


class MembershipStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"


class Organisation(Model):
    """An association, cooperative, foundation or social enterprise."""

    __tablename__ = "organisations"
    __table_args__ = (
        # one registration a number, but a rejected one gives it up: after an impostor's or
        # a mistyped registration is rejected, the real organisation can still register
        Index(
            "ux_organisations_org_number",
            "org_number",
            unique=True,
            postgresql_where=text("status != 'rejected'"),
            sqlite_where=text("status != 'rejected'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    form: Mapped[OrganisationForm] = mapped_column(
        Enum(OrganisationForm, native_enum=False, length=20)
    )
    org_number: Mapped[str] = mapped_column(String(11))
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[OrganisationStatus] = mapped_column(
        Enum(OrganisationStatus, native_enum=False, length=20), default=OrganisationStatus.pending
    )
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_verified(self) -> bool:
        return self.status == OrganisationStatus.verified


class Membership(Model):
    """A person's membership in an organisation: pending until an org admin approves."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organisation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(
        Enum(MemberRole, native_enum=False, length=20), default=MemberRole.member
    )
    status: Mapped[MembershipStatus] = mapped_column(
        Enum(MembershipStatus, native_enum=False, length=20), default=MembershipStatus.pending
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    user: Mapped[User] = relationship()
