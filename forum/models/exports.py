"""Personal-data exports: prepared in the background, fetched by an expiring link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .base import UTCDateTime, utcnow


class PersonalExport(Model):
    """One "download my data" request; only the link token's hash is stored.

    `status`: pending → running → ready, or failed (given up after MAX_BUILD_ATTEMPTS
    failed builds; the person's page says so). A ready copy whose link is no longer
    offered (replaced, its file gone) has `expires_at` in the past until it is removed.
    """

    __tablename__ = "personal_exports"
    __table_args__ = (
        # one copy in preparation per person, whatever the timing of their requests
        Index(
            "ux_personal_exports_waiting",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'running')"),
            sqlite_where=text("status IN ('pending', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    file_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While `running`: until when the worker that took it holds it; a worker that died
    # (killed mid-build) leaves a claim that runs out, and the copy is taken up again.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Builds that failed (an error, not a worker that died): one copy that cannot be built
    # is tried a few times, then given up, instead of on every run forever.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
