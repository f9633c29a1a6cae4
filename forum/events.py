"""What services tell the socket server: rooms, events sent only after commit, closing sockets.

Services queue events on the database session; they are emitted when (and only
when) the transaction that caused them commits. Each event remembers the savepoint
it was queued in: rolling a savepoint back drops only the events queued inside it
(the outer transaction may still commit and send its own); rolling the whole
transaction back drops them all. Socket.IO authenticates at
connect only, so the server closes sockets itself on logout, "log out
everywhere" and suspension: every socket joins `user:<id>` and
`session:<nonce>`; locally the room's sockets are disconnected, and with Redis
the other processes are told over a pub/sub channel and do the same for theirs.

Access is checked at `join`, so when access changes the server takes sockets
out of rooms itself: a service calls `recheck_access_after_commit(...)` naming
the threads, forums and/or people whose access changed; after commit every
process (this one directly, the others over the same pub/sub channel) checks
each of its sockets in the rooms concerned with the checker the realtime layer
registered, and a socket that may no longer read a thread leaves its room and
gets `thread:revoked {thread_id}`. Everything sent to a thread's room (messages,
edits, presence, typing, consultation events) follows.
Imports only the extensions: it sits below the services.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from .config import redis_client_options
from .extensions import db, socketio

log = logging.getLogger(__name__)
_KEY = "forum_pending_events"
_HOLD = "forum_hold_events"
_RECHECK = "__recheck_access__"
_listener_started = False
_listener_lock = threading.Lock()
PROCESS = uuid.uuid4().hex  # tells this process's own pub/sub messages from the others'

# The realtime layer registers how to recheck this process's sockets (it knows presence).
Rechecker = Callable[[dict[str, list[int]]], int]
_rechecker: Rechecker | None = None
# ... and when each of its sockets connected (time.time()), or None for one it does not know.
_connected_at: Callable[[str], float | None] | None = None


def redis_name(name: str, prefix: str | None = None) -> str:
    """A Redis channel or key of this installation: `<FORUM_REDIS_PREFIX>:<name>`, so that
    installations sharing one Redis never see each other's broadcasts or disconnects."""
    return f"{prefix or current_app.config['FORUM_REDIS_PREFIX']}:{name}"


def disconnect_channel() -> str:
    return redis_name("disconnect")


def socketio_channel(prefix: str) -> str:
    """The Socket.IO message queue's pub/sub channel (python-socketio's `channel`)."""
    return redis_name("socketio", prefix)


def thread_room(thread_id: int) -> str:
    return f"thread:{thread_id}"


def forum_room(forum_id: int) -> str:
    """Pages that list a forum's threads watch this room for activity (unread counts)."""
    return f"forum:{forum_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def emit_after_commit(event_name: str, payload: dict[str, Any], room: str, **kwargs: Any) -> None:
    """Queue an event on the current session; it is sent when (and only if) it commits.

    The event is tagged with the innermost savepoint open now (None outside one), so that
    rolling that savepoint back drops it and nothing else.
    """
    session = db.session()
    savepoint = session.get_nested_transaction()
    session.info.setdefault(_KEY, []).append((savepoint, event_name, payload, room, kwargs))


def recheck_access_after_commit(
    *,
    thread_ids: Iterable[int] = (),
    forum_ids: Iterable[int] = (),
    user_ids: Iterable[int] = (),
) -> None:
    """After commit, sockets that may no longer read a thread leave its room, on every process.

    The threads concerned are `thread_ids` and the threads of `forum_ids` (every
    thread when both are empty); the sockets concerned are those of `user_ids`
    (every socket, visitors' too, when empty).
    """
    spec = {
        "threads": sorted(set(thread_ids)),
        "forums": sorted(set(forum_ids)),
        "users": sorted(set(user_ids)),
    }
    session = db.session()
    savepoint = session.get_nested_transaction()  # dropped with it if it is rolled back
    session.info.setdefault(_KEY, []).append((savepoint, _RECHECK, spec, "", {}))


def set_rechecker(fn: Rechecker) -> None:
    global _rechecker
    _rechecker = fn


def set_connect_times(fn: Callable[[str], float | None]) -> None:
    global _connected_at
    _connected_at = fn


def recheck_local(spec: dict[str, list[int]], app: Flask | None = None) -> int:
    """Run the registered checker for this process's sockets in a fresh app context
    (its own database session, which sees what was just committed)."""
    if _rechecker is None or socketio.server is None:
        return 0
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context():
        try:
            return _rechecker(spec)
        except Exception:  # noqa: BLE001 — a failed recheck must never undo the commit
            log.exception("could not recheck socket access for %s", spec)
            return 0
        finally:
            db.session.remove()


def _flush_events(session: Session) -> None:
    """After the outermost commit: send everything queued in it (savepoints that were
    rolled back have already taken their events with them).

    SQLAlchemy also calls this when a savepoint is released; the transaction around it
    has not committed yet, so nothing is sent then.
    """
    if session.get_nested_transaction() is not None:
        return
    pending = session.info.pop(_KEY, [])
    held = session.info.get(_HOLD)
    if held is not None:  # committed; emitted when the emit_held() block ends
        held.extend(pending)
        return
    _emit(pending)


@contextmanager
def emit_held() -> Iterator[None]:
    """Events committed inside the block are emitted when it ends: a write that holds a
    lock until its commit (forum.extensions.serial_writes) does not also hold it while
    the event goes out to every socket in the room."""
    info = db.session.info
    if _HOLD in info:  # already held by an outer block
        yield
        return
    held: list[Any] = []
    info[_HOLD] = held
    try:
        yield
    finally:
        info.pop(_HOLD, None)
        _emit(held)


def _emit(pending: list[Any]) -> None:
    for _savepoint, event_name, payload, room, kwargs in pending:
        if event_name == _RECHECK:
            recheck_local(payload)
            _publish_message({"recheck": payload})
            continue
        try:
            socketio.emit(event_name, payload, to=room, **kwargs)
        except Exception:  # a broadcast failure must never undo a committed write
            log.exception("could not emit %s to %s", event_name, room)


def _within(savepoint: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether an event tagged `savepoint` was queued inside the transaction `ended`."""
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False


def _drop_events(session: Session, rolled_back: SessionTransaction) -> None:
    """After a rollback: a savepoint drops the events queued inside it (or in savepoints
    within it); the outermost transaction drops them all."""
    pending = session.info.get(_KEY)
    if not pending:
        return
    if not rolled_back.nested:
        session.info.pop(_KEY, None)
        return
    session.info[_KEY] = [item for item in pending if not _within(item[0], rolled_back)]


def register_publishing() -> None:
    """Hook the emit-on-commit and drop-on-rollback listeners onto every session."""
    if not event.contains(Session, "after_commit", _flush_events):
        event.listen(Session, "after_commit", _flush_events)
        event.listen(Session, "after_soft_rollback", _drop_events)


def session_room(nonce: str) -> str:
    return f"session:{nonce}"


def _disconnect_local(room: str, made_at: float | None = None) -> int:
    """Close this process's sockets in `room`; with `made_at` (a request kept during a Redis
    outage and sent later) only those that connected before it: a socket opened after a
    logout was checked at connect and belongs to a newer login."""
    server = socketio.server
    if server is None:
        return 0
    sids = [sid for sid, _eio in server.manager.get_participants("/", room)]
    if made_at is not None and _connected_at is not None:
        connected_at = _connected_at
        sids = [sid for sid in sids if (connected_at(sid) or 0.0) <= made_at]
    for sid in sids:
        try:
            socketio.emit("session:ended", {}, to=sid)
            server.disconnect(sid, namespace="/")
        except Exception:  # noqa: BLE001 — a socket that is already gone is fine
            log.debug("socket %s already gone", sid)
    return len(sids)


def _publish(room: str) -> None:
    _publish_message({"room": room})


def _publish_message(message: dict[str, Any]) -> None:
    made_at = time.time()  # before a hung Redis makes us wait
    url = current_app.config.get("FORUM_REDIS_URL")
    if not url:
        return
    import redis

    try:
        redis.Redis.from_url(url, **redis_client_options(current_app.config)).publish(
            disconnect_channel(), json.dumps({**message, "origin": PROCESS})
        )
    except redis.RedisError:
        log.exception("could not publish %s; kept until Redis answers again", message)
        # sent later: with the time it was made, so that it closes no newer socket
        kept = {**message, "origin": PROCESS, "made_at": made_at}
        _keep_unsent(url, disconnect_channel(), json.dumps(kept))


# Disconnect and recheck requests Redis did not take (a logout, a suspension, an access
# change during an outage): kept here, the oldest dropped past the limit, and published
# again when Redis answers (forum/realtime/presence.py watches it), so the other
# processes still close or recheck those sockets.
MAX_UNSENT = 1000
_unsent: deque[tuple[str, str, str]] = deque(maxlen=MAX_UNSENT)
_unsent_lock = threading.Lock()
_redis_failed = threading.Event()  # Redis failed us since the watcher last asked


def _keep_unsent(url: str, channel: str, data: str) -> None:
    with _unsent_lock:
        _unsent.append((url, channel, data))
    _redis_failed.set()


def note_redis_failure() -> None:
    """Something here found Redis not answering (its message may be lost)."""
    _redis_failed.set()


def forget_unsent() -> None:
    """Drop the kept requests and any noted failure: this process starts on a (new) Redis
    configuration, and what it kept for the one before is not for this one."""
    with _unsent_lock:
        _unsent.clear()
    _redis_failed.clear()


def take_redis_failure() -> bool:
    """Whether Redis failed since the last call (and forget it)."""
    failed = _redis_failed.is_set()
    _redis_failed.clear()
    return failed


def republish_unsent(*, final: bool) -> int:
    """Publish the kept requests, oldest first; stops at the first that Redis refuses.
    Only a `final` round forgets what it published: a first round may reach a process
    whose listener has not subscribed again yet (it retries every second), and a request
    that arrives twice does nothing more. Returns how many went out."""
    import redis

    with _unsent_lock:
        batch = list(_unsent)
    sent = 0
    for item in batch:
        url, channel, data = item
        try:
            redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).publish(
                channel, data
            )
        except redis.RedisError:
            log.warning("Redis still refuses the kept disconnect/recheck requests")
            _redis_failed.set()
            break
        sent += 1
    if final:
        with _unsent_lock:
            for item in batch[:sent]:
                if _unsent and _unsent[0] == item:
                    _unsent.popleft()
    return sent


def disconnect_room(room: str) -> None:
    """Disconnect every socket in `room`, on this process and (via Redis) on the others."""
    _disconnect_local(room)
    _publish(room)


def disconnect_user(user_id: int) -> None:
    disconnect_room(user_room(user_id))


def disconnect_session(nonce: str) -> None:
    disconnect_room(session_room(nonce))


def start_listener(redis_url: str, app: Flask | None = None) -> None:
    """Listen for disconnect and recheck requests from other processes (once per process)."""
    global _listener_started
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    with _listener_lock:
        if _listener_started:
            return
        _listener_started = True
    channel = disconnect_channel()
    connect_timeout = redis_client_options(app.config)["socket_connect_timeout"]

    def listen() -> None:
        import redis

        while True:
            try:
                # blocking reads (it waits for messages), but a bounded connect
                client = redis.Redis.from_url(
                    redis_url, socket_connect_timeout=connect_timeout, socket_keepalive=True
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel)
                for item in pubsub.listen():
                    try:
                        message = json.loads(item["data"])
                    except (ValueError, TypeError):
                        continue
                    if not isinstance(message, dict):
                        continue
                    if isinstance(message.get("room"), str):
                        made_at = message.get("made_at")
                        if not isinstance(made_at, (int, float)) or isinstance(made_at, bool):
                            made_at = None
                        _disconnect_local(message["room"], made_at)
                    elif isinstance(message.get("recheck"), dict):
                        if message.get("origin") != PROCESS:  # this process did its own
                            recheck_local(message["recheck"], app)
            except Exception:  # noqa: BLE001 — keep listening across Redis restarts
                note_redis_failure()  # what was published meanwhile did not reach us
                log.exception("disconnect listener lost Redis; retrying")
                socketio.sleep(1)

    socketio.start_background_task(listen)
