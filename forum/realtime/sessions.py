"""Ending a user's open sockets on logout, "log out everywhere" and suspension.

Socket.IO authenticates at connect only, so the server must close sockets
itself. Every socket joins `user:<id>` and `session:<nonce>`. Locally we
disconnect the room's participants; with Redis, other processes are told over
a pub/sub channel and do the same for theirs.
"""

from __future__ import annotations

import json
import logging
import threading

from flask import current_app

from ..extensions import socketio
from .publish import user_room

log = logging.getLogger(__name__)
CHANNEL = "forum:disconnect"
_listener_started = False
_listener_lock = threading.Lock()


def session_room(nonce: str) -> str:
    return f"session:{nonce}"


def _disconnect_local(room: str) -> int:
    server = socketio.server
    if server is None:
        return 0
    sids = [sid for sid, _eio in server.manager.get_participants("/", room)]
    for sid in sids:
        try:
            socketio.emit("session:ended", {}, to=sid)
            server.disconnect(sid, namespace="/")
        except Exception:  # noqa: BLE001 — a socket that is already gone is fine
            log.debug("socket %s already gone", sid)
    return len(sids)


def _publish(room: str) -> None:
    url = current_app.config.get("FORUM_REDIS_URL")
    if not url:
        return
    import redis

    try:
        redis.Redis.from_url(url).publish(CHANNEL, json.dumps({"room": room}))
    except redis.RedisError:
        log.exception("could not publish disconnect for %s", room)


def disconnect_room(room: str) -> None:
    """Disconnect every socket in `room`, on this process and (via Redis) on the others."""
    _disconnect_local(room)
    _publish(room)


def disconnect_user(user_id: int) -> None:
    disconnect_room(user_room(user_id))


def disconnect_session(nonce: str) -> None:
    disconnect_room(session_room(nonce))


def start_listener(redis_url: str) -> None:
    """Listen for disconnect requests from other processes (once per process)."""
    global _listener_started
    with _listener_lock:
        if _listener_started:
            return
        _listener_started = True

    def listen() -> None:
        import redis

        while True:
            try:
                pubsub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for item in pubsub.listen():
                    try:
                        room = json.loads(item["data"])["room"]
                    except (ValueError, KeyError, TypeError):
                        continue
                    _disconnect_local(room)
            except Exception:  # noqa: BLE001 — keep listening across Redis restarts
                log.exception("disconnect listener lost Redis; retrying")
                socketio.sleep(1)

    socketio.start_background_task(listen)
