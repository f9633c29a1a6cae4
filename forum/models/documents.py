"""Documents attached to consultation rounds and to organisations' responses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .accounts import User
from .base import UTCDateTime, link_table, utcnow

version_documents = link_table(
    "consultation_version_documents",
    "version_id->consultation_response_versions.id",
    "document_id->documents.id",
)


class Document(Model):
    """A file: the round's basis (response_id empty) or a letter attached to a response.

    The bytes live in the storage backend under `storage_key` (random); the name the
    uploader gave is kept only to offer it back on download. Removing a document from
    a round or a draft response sets `removed_at`; submitted versions keep theirs.
    """

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("consultation_rounds.id"), index=True)
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation_responses.id"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    preview_key: Mapped[str | None] = mapped_column(String(100))
    page_count: Mapped[int | None]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    uploaded_by: Mapped[User | None] = relationship()


class FileDeletion(Model):
    """A stored file to delete: a withdrawn document's file or preview (policy.
    document_withdrawn), or the bytes of an upload refused after they were stored.

    Listed in the transaction that lets go of the file and deleted after its commit; a file
    storage could not delete then (down, a permission refused) stays listed, and
    `services.documents.delete_pending_files` (the scheduler's tick, `flask documents
    delete-files`) tries again until it is gone, `attempts` counting the failures.
    """

    __tablename__ = "file_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
