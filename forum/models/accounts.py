"""Accounts, login throttling, password resets and the mail outbox."""

from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .agreement import Department
from .base import UTCDateTime, utcnow

# A closed account keeps its row, so its public posts keep a pseudonym; its address is
# replaced by one in this domain (services.privacy.close_account).
CLOSED_DOMAIN = "closed.invalid"


class User(UserMixin, Model):
    """One person: roles are flags and relations, never separate accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    handle: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(5))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_moderator: Mapped[bool] = mapped_column(default=False)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    email_notifications: Mapped[bool] = mapped_column(default=True)
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The Stockholm day of the person's last daily digest, claimed by a conditional UPDATE
    # (services.notifications.send_digests), so a restart or a second run sends no second one.
    last_digest_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def is_official(self) -> bool:
        return self.department_id is not None

    @hybrid_property
    def is_closed(self) -> bool:
        """The account was closed (services.privacy): its address is on the closed domain.
        Also a SQL expression: `select(User).where(~User.is_closed)`."""
        return self.email.endswith("@" + CLOSED_DOMAIN)

    def is_suspended(self, now: datetime) -> bool:
        """A suspension is in force until its time is up (lifting clears it)."""
        return self.suspended_until is not None and self.suspended_until > now

    def __repr__(self) -> str:
        return f"<User {self.id} {self.handle}>"


class ReadingChange(Model):
    """When what a person may read last changed by a change of their own: a forum's members
    or moderators, a role, a department (accounts.reading_changed). The open-data API then
    answers a `changed_since` from before it "walk the whole list again" (open_data
    .check_sync): such a change touches no item, so the changes since cannot say it."""

    __tablename__ = "reading_changes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Model):
    """One login on one device: checked on every request and socket event, revoked at logout.

    `key` is the random name the signed session cookie carries (and the socket
    room `session:<key>`); `remember_hash` is the hash of the current remember-me
    token, which is replaced every time it is used: `remember_generation` counts the
    replacements, `remember_rotated_at` is the last one and `remember_previous_hash` the
    token it replaced, still taken for a short while (`services.accounts.use_remember_token`).
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remember_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    remember_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remember_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    remember_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remember_previous_hash: Mapped[str | None] = mapped_column(String(64))


class LoginAttempt(Model):
    """A failed login, counted per account and per address for throttling."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordReset(Model):
    """A single-use, time-limited reset token; only its hash is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMail(Model):
    """An email waiting to be sent; kept after sending so nothing is lost."""

    __tablename__ = "outbox_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    unsubscribe_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Given up on (a permanent 5xx refusal, or too many attempts): kept, never tried again.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A sender has taken it until then (services.mail): two senders never send it both.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The notification it tells of: moderation rewrites the excerpt of a mail not yet sent.
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    # It carries a single-use link (a password reset): the body is dropped once sent.
    secret: Mapped[bool] = mapped_column(default=False)
