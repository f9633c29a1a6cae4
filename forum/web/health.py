"""Health checks for the proxy, systemd and monitoring.

`/healthz` reports the database, Redis (when configured) and this process's open
sockets as JSON, with 503 when a dependency is down or the database's schema is not
the one this code was written for (`flask db upgrade` not run yet); `/healthz/live`
answers as long as the process serves requests, whatever the dependencies do.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Sequence

from flask import Blueprint, current_app, jsonify
from sqlalchemy import Engine, inspect, text

from ..config import redis_client_options
from ..extensions import db, socketio

bp = Blueprint("health", __name__)


def socket_count() -> int:
    """Engine.IO connections this process holds now."""
    server = socketio.server
    return len(server.eio.sockets) if server is not None else 0


# Per engine, the ping still waiting on a database that stopped answering (at most one).
_pending: weakref.WeakKeyDictionary[Engine, threading.Thread] = weakref.WeakKeyDictionary()
_pending_lock = threading.Lock()


SCHEMA_BEHIND = "schema behind: run flask db upgrade"
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps


@functools.lru_cache(maxsize=4)
def code_revisions(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """The migration heads of the code in `directory`, and every revision it knows: read
    once per process (the scripts do not change under a running process)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(directory)
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return frozenset(script.get_heads()), known


def schema_status(current: Sequence[str], directory: str) -> str:
    """ "ok" when the database's alembic_version (`current`) is the code's head(s), else why
    not: behind (an older revision, or never migrated), or ahead (a revision this code does
    not know: the database was migrated by newer code)."""
    heads, known = code_revisions(directory)
    if set(current) == heads:
        return "ok"
    unknown = sorted(set(current) - known)
    if unknown:
        return (
            f"schema ahead: the database is at {', '.join(unknown)}, which this code does "
            "not know (run the code that migrated it)"
        )
    return SCHEMA_BEHIND


def database_status(timeout: float, migrations: str | None = None) -> str:
    """ "ok", or "down: ..." when the database fails or does not answer within `timeout` s,
    or "schema ...: ..." when its schema (alembic_version) is not the head(s) of the
    migrations in `migrations` (None: not checked).

    The round trip runs in a thread of its own (a greenlet under gevent), so a database
    that hangs (stopped, or a network partition) with a pooled connection open cannot hold
    the health check: it reports down in time, and a later check does not start another
    ping while the first still waits.
    """
    engine = db.engine
    outcome: list[BaseException | tuple[str, ...]] = []
    with _pending_lock:
        waiting = _pending.get(engine)
        if waiting is not None and waiting.is_alive():
            return "down: Timeout"
        worker = threading.Thread(
            target=_ping, args=(engine, outcome), name="health-ping", daemon=True
        )
        _pending[engine] = worker
        worker.start()
    worker.join(timeout)
    if worker.is_alive() or not outcome:
        return "down: Timeout"
    answer = outcome[0]
    if isinstance(answer, BaseException):
        return f"down: {type(answer).__name__}"
    return "ok" if migrations is None else schema_status(answer, migrations)


def _ping(engine: Engine, outcome: list[BaseException | tuple[str, ...]]) -> None:
    """The schema's revision(s), as a database that answers tells them: whether Alembic's
    version table is there, then its rows (none: a database never migrated)."""
    try:
        with engine.connect() as connection:
            versions: tuple[str, ...] = ()
            if inspect(connection).has_table(VERSION_TABLE):
                query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 — ours
                versions = tuple(connection.scalars(query))
            outcome.append(versions)
    except Exception as exc:  # noqa: BLE001 — report, don't crash
        outcome.append(exc)


def redis_status(url: str | None) -> str:
    if not url:
        return "none"
    import redis

    try:
        client = redis.Redis.from_url(url, **redis_client_options(current_app.config))
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


@bp.get("/healthz")
def healthz():
    """Readiness: 200 when the database answers with the schema this code needs and (if
    configured) Redis answers, else 503 (`database` says why)."""
    migrations = current_app.extensions["migrate"].directory
    database = database_status(current_app.config["FORUM_HEALTH_TIMEOUT"], migrations)
    queue = redis_status(current_app.config["FORUM_REDIS_URL"])
    up = database == "ok" and queue in ("ok", "none")
    body = {
        "status": "ok" if up else "down",
        "database": database,
        "message_queue": queue,
        "sockets": socket_count(),
        "pid": os.getpid(),
        "async_mode": current_app.config["FORUM_ASYNC_MODE"],
    }
    return jsonify(body), 200 if up else 503


@bp.get("/healthz/live")
def live():
    """Liveness: the process serves requests (dependencies are /healthz's business)."""
    return jsonify({"status": "ok", "pid": os.getpid(), "sockets": socket_count()})
