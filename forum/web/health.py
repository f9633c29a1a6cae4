"""Health checks for the proxy, systemd and monitoring.

`/healthz` reports the database, Redis (when configured) and this process's open
sockets as JSON, with 503 when a dependency is down; `/healthz/live` answers as long
as the process serves requests, whatever the dependencies do.
"""

from __future__ import annotations

import os
import threading
import weakref

from flask import Blueprint, current_app, jsonify
from sqlalchemy import Engine, text

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


def database_status(timeout: float) -> str:
    """ "ok", or "down: ..." when the database fails or does not answer within `timeout` s.

    The round trip runs in a thread of its own (a greenlet under gevent), so a database
    that hangs (stopped, or a network partition) with a pooled connection open cannot hold
    the health check: it reports down in time, and a later check does not start another
    ping while the first still waits.
    """
    engine = db.engine
    outcome: list[BaseException | None] = []
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
    error = outcome[0]
    return "ok" if error is None else f"down: {type(error).__name__}"


def _ping(engine: Engine, outcome: list[BaseException | None]) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 — report, don't crash
        outcome.append(exc)
    else:
        outcome.append(None)


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
    """Readiness: 200 when the database and (if configured) Redis answer, else 503."""
    database = database_status(current_app.config["FORUM_HEALTH_TIMEOUT"])
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
