"""Health checks for the proxy, systemd and monitoring.

`/healthz` reports the database, Redis (when configured) and this process's open
sockets as JSON, with 503 when a dependency is down; `/healthz/live` answers as long
as the process serves requests, whatever the dependencies do.
"""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify

from ..extensions import db, socketio
from ..queries import admin as admin_queries

bp = Blueprint("health", __name__)


def socket_count() -> int:
    """Engine.IO connections this process holds now."""
    server = socketio.server
    return len(server.eio.sockets) if server is not None else 0


def database_status() -> str:
    try:
        admin_queries.ping_database()
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001 — report, don't crash
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001, S110 — the connection is already gone
            pass
        return f"down: {type(exc).__name__}"
    return "ok"


def redis_status(url: str | None) -> str:
    if not url:
        return "none"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
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
    database = database_status()
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
