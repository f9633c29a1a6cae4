"""SQLite as the embedded database: WAL, and waiting for its write lock without stopping
the process.

SQLite lets one writer in at a time; another waits in its busy handler, a sleep inside the
C library. Under gevent (the embedded server's one worker runs every request and socket on
one thread) that sleep stops everything: while one request waited for a lock another
process held (a `flask` command, a cron job), no page, socket or `/healthz` was answered,
and a wait past gunicorn's timeout got the worker killed with every socket on it. Under
gevent the busy handler is therefore off, and a statement refused with "database is locked"
is run again after a sleep that lets the other greenlets go on, for as long as the busy
timeout allows. With threads SQLite's own handler waits, which blocks only its thread.

Retrying one statement is safe here: the driver starts a transaction just before the first
INSERT, UPDATE or DELETE (reads before it hold no snapshot), a refused statement changes
nothing, and once the lock is had no later statement of the transaction waits for it. A
transaction that did read a snapshot first (a SAVEPOINT) is refused with BUSY_SNAPSHOT when
another writer went ahead: that is not waited for (is_busy).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

# The first waits are short (a commit takes about a millisecond), the longest 50 ms.
FIRST_WAIT = 0.001
LONGEST_WAIT = 0.05


def configure(engine: Any, busy_timeout: float) -> None:
    """Set up `engine`'s connections (once per engine: the tests share one among apps)."""
    from sqlalchemy import event

    if getattr(engine, "_forum_sqlite", False):
        return
    engine._forum_sqlite = True  # noqa: SLF001 — our own mark on the engine
    cooperative = gevent_patched()

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives
        # a crash of the application, the last ones may be lost if the machine loses power.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # SQLite's own wait, or none where the wait is ours (below)
        cursor.execute(f"PRAGMA busy_timeout={0 if cooperative else int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    if cooperative:
        for name, run in (
            ("do_execute", lambda c, s, p, _ctx: c.execute(s, p)),
            ("do_execute_no_params", lambda c, s, _ctx: c.execute(s)),
            ("do_executemany", lambda c, s, p, _ctx: c.executemany(s, p)),
        ):
            event.listen(engine, name, _waiting(run, busy_timeout))


def gevent_patched() -> bool:
    """Whether gevent has patched this process's sleep (the embedded server's worker)."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover — gevent is a dependency
        return False
    return bool(monkey.is_module_patched("time"))


def is_busy(err: BaseException) -> bool:
    """SQLite's "database is locked" because another connection holds the write lock: worth
    waiting for. Not SQLITE_BUSY_SNAPSHOT, worded the same: the transaction read a snapshot
    (after a SAVEPOINT) that another writer has since moved past, and no retry of the
    statement can succeed until the transaction rolls back; it goes up at once."""
    return (
        isinstance(err, sqlite3.OperationalError)
        and "database is locked" in str(err)
        and getattr(err, "sqlite_errorcode", sqlite3.SQLITE_BUSY) != sqlite3.SQLITE_BUSY_SNAPSHOT
    )


def _waiting(run: Any, budget: float) -> Any:
    """A do_execute handler that runs the statement, and while SQLite answers that the
    database is locked sleeps (a patched, cooperative sleep) and runs it again, up to
    `budget` seconds; then the error goes up as it would have (a 503, "try again")."""

    def execute(*args: Any) -> bool:
        wait, deadline = FIRST_WAIT, None
        while True:
            try:
                run(*args)
                return True  # done here: SQLAlchemy does not run it again
            except sqlite3.OperationalError as err:
                if not is_busy(err):
                    raise
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + budget
                if now >= deadline:
                    raise
                time.sleep(min(wait, deadline - now))
                wait = min(wait * 2, LONGEST_WAIT)

    return execute
