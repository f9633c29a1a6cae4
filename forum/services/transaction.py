"""The unit of work seen from a caller: what to do after a service refused."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from sqlalchemy import func, inspect, select, update

from ..extensions import db
from ..models import User

Row = TypeVar("Row")


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


def lock_for_check(statement: Any, *, shared: bool = False) -> Any:
    """`statement` (a SELECT of one model's rows) to run when what is read decides a write:
    the rows are locked until commit and read afresh, so a check made after it ("already
    attached?", "already published?") cannot be passed by two requests at once.

    PostgreSQL locks the rows (SELECT ... FOR UPDATE): a second request waits here until
    the first commits, then reads what it committed. SQLite has no row locks but one writer
    at a time: a write that changes nothing (the same rows' ids set to themselves) takes the
    database's write lock now, so what is read after it in this transaction cannot change
    before its commit. Call it before the check, not between the check and the write.

    `shared`: on PostgreSQL a share lock (FOR SHARE), for a read that others may make at
    the same time but no writer may change before this commits."""
    if db.session.get_bind().dialect.name == "sqlite":
        table = statement.column_descriptions[0]["entity"].__table__
        db.session.execute(update(table).where(statement.whereclause).values(_unchanged(table)))
    return statement.with_for_update(read=shared).execution_options(populate_existing=True)


def lock_row(model: type[Row], row_id: int) -> Row | None:
    """The row of `model` whose id is `row_id`, locked until commit and read afresh
    (lock_for_check); None if there is none."""
    key = inspect(model).primary_key[0]
    return db.session.scalar(lock_for_check(select(model).where(key == row_id)))


def lock_person(person_id: int) -> None:
    """Lock a person's row until commit, so that what one person sends twice at once (a
    double tap on a slow phone, a form sent again after its answer was lost) is handled one
    after the other: an UPDATE that changes nothing, a row lock on PostgreSQL (not a key
    lock: rows that refer to the person can still be written) and the write lock on SQLite."""
    users: Any = User.__table__
    db.session.execute(update(users).where(users.c.id == person_id).values(_unchanged(users)))


def lock_name(name: str) -> None:
    """Hold a lock called `name` until this transaction ends, for a count that has no row
    of its own to lock (registrations from one address): PostgreSQL's transaction-level
    advisory lock on the name's hash. SQLite has one writer at a time: the caller's first
    write in this transaction takes the lock there, so write before counting."""
    if db.session.get_bind().dialect.name == "postgresql":
        number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        db.session.execute(select(func.pg_advisory_xact_lock(number)))


def _unchanged(table: Any) -> dict[str, Any]:
    """The values of an UPDATE that changes nothing: a plain column set to itself, and so is
    every column that an UPDATE would otherwise stamp (`onupdate`, such as a message's
    `changed_at`, which tells a reconnecting page what to fetch again).

    Not the key: SQLite checks every table that refers to a row whose key is set, even to
    itself, and `notifications` or `read_markers` have no index on `thread_id` (a full scan
    of each, under the write lock, on every thread read). Nor a foreign key (a look-up)."""
    values = {c.name: c for c in table.c if c.onupdate is not None}
    plain = next((c for c in table.c if not c.primary_key and not c.foreign_keys), None)
    key = next(c for c in table.c if c.primary_key)
    chosen = plain if plain is not None else key
    values[chosen.name] = chosen
    return values
