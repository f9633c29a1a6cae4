"""The write lock a check takes on SQLite (services.transaction.lock_for_check and
lock_person: an UPDATE that changes nothing) must not make SQLite check the tables that
refer to the row: setting a row's key, even to itself, scans each of them that has no
index on the reference, under the write lock every sender waits for."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from forum.config import parse_rate_limit

CHILDREN = ("notifications", "read_markers", "moderation_actions", "messages", "audit_log")


def statements_of(db, act) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, *_rest):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        act()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def full_scans(db, seen) -> list[tuple[str, str]]:
    """The statements' scans of whole tables, with foreign keys checked as the app does."""
    scans = []
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=ON")
        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith(("UPDATE", "SELECT", "INSERT")):
                continue
            for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters or ()):
                detail = row[-1]
                if detail.startswith("SCAN") and any(t in detail for t in CHILDREN):
                    scans.append((statement[:60], detail))
    return scans


@pytest.fixture
def sqlite_only(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's lock; PostgreSQL locks the row (FOR SHARE, FOR UPDATE)")


def test_marking_a_thread_read_scans_no_table(app, make, db, socket_for, sqlite_only):
    """Every thread view with something new and every socket `read` marks the thread read:
    the lock on the thread's row set its key, and three tables were read in full, twice."""
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    author, reader = make.user(), make.user()
    thread = make.thread(author=author)
    last = [make.message(thread, author, f"m{i}") for i in range(3)][-1]
    sock = socket_for(reader)
    acks = []
    seen = statements_of(
        db,
        lambda: acks.append(
            sock.emit("read", {"thread_id": thread.id, "message_id": last.id}, callback=True)
        ),
    )
    assert acks[0]["ok"], acks
    assert any(s.lstrip().upper().startswith("UPDATE THREADS") for s, _ in seen)  # the lock
    assert full_scans(db, seen) == []


def test_a_person_locked_before_a_check_scans_no_table(app, make, db, sqlite_only):
    """lock_person (a form sent twice at once waits on it) on the people table, which many
    tables refer to."""
    from forum.services.transaction import lock_person

    person = make.user()
    with app.test_request_context():
        seen = statements_of(db, lambda: lock_person(person.id))
        db.session.rollback()
    assert any(s.lstrip().upper().startswith("UPDATE USERS") for s, _ in seen)
    assert full_scans(db, seen) == []
