"""Who is in each thread now, across every server process.

Each process knows its own sockets (`_rooms`, `_by_sid`). With Redis configured
(`FORUM_REDIS_URL`) every entry is also written to one hash per thread,
`<prefix>:presence:<thread_id>`, field = socket id, value = the person and the
time the entry expires. A background task in each process rewrites its own
entries every `ttl / 3` seconds; a process that dies stops doing so, and its
entries are dropped (and the room told) at most `ttl` seconds later by any
process that still has sockets in that thread. Reads filter expired entries, so
a dead process's people never show for longer than `ttl`.

Without Redis (one process) the local view is the whole truth. When Redis does
not answer, presence falls back to the local view rather than failing a join.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_rooms: dict[int, dict[str, dict[str, Any] | None]] = defaultdict(dict)
_by_sid: dict[str, set[int]] = defaultdict(set)

_settings: dict[str, Any] = {"url": None, "ttl": 30, "prefix": "forum", "options": {}}
_client: Any = None
_refresher_started = False


def configure(
    redis_url: str | None,
    ttl: int = 30,
    prefix: str = "forum",
    options: dict[str, Any] | None = None,
) -> None:
    """Use Redis at `redis_url` (or only this process when None), with the client `options`
    (`config.redis_client_options`: a hung Redis fails a command in seconds, once); entries
    live `ttl` seconds."""
    global _client
    _settings.update(
        url=redis_url, ttl=max(3, int(ttl)), prefix=prefix.rstrip(":"), options=options or {}
    )
    _client = None
    _reset_watch()


def _redis() -> Any:
    global _client
    if not _settings["url"]:
        return None
    if _client is None:
        import redis

        _client = redis.Redis.from_url(_settings["url"], **_settings["options"])
    return _client


def _failed(exc: Exception) -> None:
    """Count `exc` as an outage (messages may have been lost) only when Redis did not
    answer: a Redis that answers but refuses a write (out of memory with noeviction, a
    read-only replica after a failover) lost no broadcast, and a resync would only make
    every page join (and write) again."""
    import redis

    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        from ..events import note_redis_failure

        note_redis_failure()


def key(thread_id: int) -> str:
    return f"{_settings['prefix']}:presence:{thread_id}"


def _entry(person: dict[str, Any] | None) -> str:
    return json.dumps({"p": person, "x": time.time() + _settings["ttl"]})


def _write(entries: dict[int, dict[str, dict[str, Any] | None]]) -> None:
    """Write (or refresh) this process's entries for the given threads."""
    client = _redis()
    if client is None or not entries:
        return
    import redis

    try:
        pipe = client.pipeline(transaction=False)
        for thread_id, sids in entries.items():
            if sids:
                pipe.hset(key(thread_id), mapping={sid: _entry(p) for sid, p in sids.items()})
                pipe.expire(key(thread_id), _settings["ttl"] * 2)
        pipe.execute()
    except redis.RedisError as exc:
        _failed(exc)
        log.warning("presence: Redis did not take the update (%s)", type(exc).__name__)


def _delete(pairs: list[tuple[int, str]]) -> None:
    client = _redis()
    if client is None or not pairs:
        return
    import redis

    try:
        pipe = client.pipeline(transaction=False)
        for thread_id, sid in pairs:
            pipe.hdel(key(thread_id), sid)
        pipe.execute()
    except redis.RedisError as exc:
        _failed(exc)
        log.warning("presence: Redis did not take the removal (%s)", type(exc).__name__)


def enter(thread_id: int, sid: str, person: dict[str, Any] | None) -> None:
    with _lock:
        _rooms[thread_id][sid] = person
        _by_sid[sid].add(thread_id)
    _write({thread_id: {sid: person}})
    if _settings["url"]:
        _start_refresher()


def leave(thread_id: int, sid: str) -> None:
    with _lock:
        _rooms.get(thread_id, {}).pop(sid, None)
        _by_sid.get(sid, set()).discard(thread_id)
        if not _rooms.get(thread_id):
            _rooms.pop(thread_id, None)
    _delete([(thread_id, sid)])


def leave_if_present(thread_id: int, sid: str) -> bool:
    """Forget the socket in this thread if it is there (this process knows its own
    sockets: nothing is asked of Redis otherwise); returns whether it was."""
    with _lock:
        present = sid in _rooms.get(thread_id, {})
    if present:
        leave(thread_id, sid)
    return present


def leave_all(sid: str) -> list[int]:
    """Forget a disconnected socket; returns the threads it was in."""
    with _lock:
        threads = list(_by_sid.pop(sid, set()))
        for thread_id in threads:
            _rooms.get(thread_id, {}).pop(sid, None)
            if not _rooms.get(thread_id):
                _rooms.pop(thread_id, None)
    _delete([(thread_id, sid) for thread_id in threads])
    return threads


def _local_entries(thread_id: int) -> list[dict[str, Any] | None]:
    with _lock:
        return list(_rooms.get(thread_id, {}).values())


def _shared_entries(thread_id: int) -> list[dict[str, Any] | None] | None:
    """Every process's live entries for the thread (expired ones pruned), None if Redis is down."""
    client = _redis()
    if client is None:
        return None
    import redis

    try:
        raw = client.hgetall(key(thread_id))
        now = time.time()
        alive: list[dict[str, Any] | None] = []
        expired: list[bytes] = []
        for sid, value in raw.items():
            try:
                entry = json.loads(value)
                person, expires = entry["p"], float(entry["x"])
            except (ValueError, KeyError, TypeError):
                expired.append(sid)
                continue
            if expires < now:
                expired.append(sid)
            else:
                alive.append(person)
        if expired:
            client.hdel(key(thread_id), *expired)
        return alive
    except redis.RedisError as exc:
        _failed(exc)
        log.warning("presence: Redis did not answer (%s); showing this process only", exc)
        return None


def snapshot(thread_id: int) -> dict[str, Any]:
    """The people present (each once) and the number of visitors, over all processes."""
    entries = _shared_entries(thread_id)
    if entries is None:
        entries = _local_entries(thread_id)
    people: dict[int, dict[str, Any]] = {}
    visitors = 0
    for person in entries:
        if person is None:
            visitors += 1
        else:
            people[person["id"]] = person
    return {
        "thread_id": thread_id,
        "users": sorted(people.values(), key=lambda p: p["display_name"].lower()),
        "visitors": visitors,
    }


def prune(thread_id: int) -> int:
    """Drop expired entries of a thread; returns how many went."""
    client = _redis()
    if client is None:
        return 0
    import redis

    try:
        raw = client.hgetall(key(thread_id))
        now = time.time()
        stale = []
        for sid, value in raw.items():
            try:
                if float(json.loads(value)["x"]) < now:
                    stale.append(sid)
            except (ValueError, KeyError, TypeError):
                stale.append(sid)
        # HDEL counts only the fields this call removed: one process announces each removal.
        return int(client.hdel(key(thread_id), *stale)) if stale else 0
    except redis.RedisError:
        return 0


def refresh_once() -> list[int]:
    """Rewrite this process's entries and prune expired ones; returns threads whose list changed."""
    with _lock:
        mine = {thread_id: dict(sids) for thread_id, sids in _rooms.items() if sids}
    _write(mine)
    return [thread_id for thread_id in mine if prune(thread_id)]


# How often each process asks Redis whether it answers (one PING).
WATCH_SECONDS = 1.0
# At most one pair of resync rounds this often: each round makes every page join again.
RESYNC_EVERY_SECONDS = 30.0
_watch: dict[str, float | None] = {
    "down_since": None,  # Redis stopped answering PING
    "owed_since": None,  # Redis failed us since then; a round is owed
    "last_round_at": None,  # the last first round
    "second_round_at": None,
}


def _reset_watch() -> None:
    """Start watching afresh (a new configuration): no outage seen, none owed; what was
    kept or noted against the Redis used before is not for this one."""
    from ..events import forget_unsent

    _watch.update(down_since=None, owed_since=None, last_round_at=None, second_round_at=None)
    forget_unsent()


def _redis_answers() -> bool:
    client = _redis()
    if client is None:
        return True
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def watch_once(now: float | None = None) -> int:
    """Ask Redis whether it answers. The first time it does after failing (a PING here,
    or a publish or listener of this process since the last look), publish the disconnect
    and recheck requests kept meanwhile and send `resync` to this process's own sockets:
    what went through Redis while it was away (messages, edits, hides) never reached
    them, and each page answers with its catch-up join.

    Both happen twice: at once, and again when every listener has surely subscribed
    again (python-socketio's retries back off: 1, 2, 4 … seconds, so about the outage's
    length later). A new first round waits until RESYNC_EVERY_SECONDS after the last
    one (a Redis that keeps failing must not make every page join again and again).
    Returns the round done now (1 or 2), 0 for none."""
    from ..events import take_redis_failure

    now = time.monotonic() if now is None else now
    failed = take_redis_failure()
    if not _redis_answers():
        if _watch["down_since"] is None:
            log.warning("Redis does not answer; pages catch up when it does")
            _watch["down_since"] = now
        _watch["second_round_at"] = None
        return 0
    if _watch["down_since"] is not None or failed:
        since = _watch["down_since"] if _watch["down_since"] is not None else now
        owed = _watch["owed_since"]
        _watch["owed_since"] = since if owed is None else min(owed, since)
        _watch["down_since"] = None
    owed = _watch["owed_since"]
    last = _watch["last_round_at"]
    if owed is not None and (last is None or not 0 <= now - last < RESYNC_EVERY_SECONDS):
        _watch["owed_since"] = None
        _watch["last_round_at"] = now
        _watch["second_round_at"] = now + min(now - owed + 2 * WATCH_SECONDS, 65.0)
        _resync(final=False)
        return 1
    second = _watch["second_round_at"]
    if second is not None and now >= second:
        _watch["second_round_at"] = None
        _resync(final=True)
        return 2
    return 0


def _resync(*, final: bool) -> None:
    from ..events import republish_unsent
    from ..extensions import socketio

    republished = republish_unsent(final=final)
    if socketio.server is not None:
        # this process's sockets only (every process tells its own)
        socketio.emit("resync", {}, ignore_queue=True)
    log.warning("Redis answers: %d kept requests published, sockets told to resync", republished)


def watch() -> None:
    """Start this process's refresher and Redis watcher (once), when Redis is configured."""
    if _settings["url"]:
        _start_refresher()


def _start_refresher() -> None:
    global _refresher_started
    with _lock:
        if _refresher_started:
            return
        _refresher_started = True
    from ..events import thread_room
    from ..extensions import socketio

    if socketio.server is None:  # no Socket.IO server in this process (a script or a test)
        with _lock:
            _refresher_started = False
        return

    def loop() -> None:
        refreshed = time.monotonic()
        while True:
            socketio.sleep(min(WATCH_SECONDS, _settings["ttl"] / 3))
            try:
                watch_once()
            except Exception:  # noqa: BLE001 — keep watching whatever happens once
                log.exception("Redis watch failed")
            if time.monotonic() - refreshed < _settings["ttl"] / 3:
                continue
            refreshed = time.monotonic()
            try:
                for thread_id in refresh_once():
                    socketio.emit("presence", snapshot(thread_id), to=thread_room(thread_id))
            except Exception:  # noqa: BLE001 — keep refreshing whatever happens once
                log.exception("presence refresh failed")

    socketio.start_background_task(loop)
