"""The unit of work seen from a caller: what to do after a service refused."""

from __future__ import annotations

from typing import Any

from ..extensions import db


def discard_changes() -> None:
    """Forget whatever a refused service call left in the session (nothing was committed),
    so the page rendered next shows the stored state and flushes nothing half-done."""
    db.session.rollback()


def insert_on_conflict(table: Any, dialect: str) -> Any:
    """INSERT ... ON CONFLICT for `dialect` (SQLite and PostgreSQL both have it): the
    statement decides between two writers at once, not a read before the insert."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
