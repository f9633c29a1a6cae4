"""Each socket's event budget (a token bucket) and its typing throttle.

A socket may send FORUM_SOCKET_BURST events at once and FORUM_SOCKET_EVENTS_PER_SECOND
after that. Past the budget its events are refused with `rate_limited` (the
client is slowed); a socket that keeps sending while refused, more than
FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT times, is disconnected, and its session
(a visitor: its address) may not connect again for FORUM_SOCKET_FLOOD_COOLDOWN_SECONDS:
reconnecting at once would otherwise buy a fresh budget every time (bench/flood.py).
`typing` reaches the room at most once per FORUM_TYPING_INTERVAL_SECONDS per socket.
Sockets live on one process, so the state is per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import current_app


@dataclass
class _Bucket:
    tokens: float
    last: float = field(default_factory=time.monotonic)
    refused: float = 0.0
    last_typing: float = 0.0


_lock = threading.Lock()
_buckets: dict[str, _Bucket] = {}
_cooling: dict[str, float] = {}  # flooder (session key or address) -> end of its cool-off


def _settings() -> tuple[float, float, float]:
    config = current_app.config
    return (
        float(config["FORUM_SOCKET_EVENTS_PER_SECOND"]),
        float(config["FORUM_SOCKET_BURST"]),
        float(config["FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT"]),
    )


def spend(sid: str) -> str:
    """'ok', 'slow' (refuse this event) or 'disconnect' (the socket keeps flooding)."""
    rate, burst, refusals = _settings()
    if rate <= 0:
        return "ok"
    now = time.monotonic()
    with _lock:
        bucket = _buckets.get(sid)
        if bucket is None:
            bucket = _buckets[sid] = _Bucket(tokens=burst, last=now)
        elapsed = now - bucket.last
        bucket.last = now
        bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
        # refusals are forgiven at the same pace as the budget refills
        bucket.refused = max(0.0, bucket.refused - elapsed * rate)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return "ok"
        bucket.refused += 1
        return "disconnect" if bucket.refused > refusals else "slow"


def may_announce_typing(sid: str) -> bool:
    """True at most once per typing interval per socket."""
    interval = float(current_app.config["FORUM_TYPING_INTERVAL_SECONDS"])
    now = time.monotonic()
    with _lock:
        bucket = _buckets.setdefault(sid, _Bucket(tokens=_settings()[1], last=now))
        if bucket.last_typing and now - bucket.last_typing < interval:
            return False
        bucket.last_typing = now
        return True


def cool_off(who: str) -> None:
    """`who` flooded: refuse its new sockets for the cool-off time."""
    seconds = float(current_app.config["FORUM_SOCKET_FLOOD_COOLDOWN_SECONDS"])
    now = time.monotonic()
    with _lock:
        for key in [k for k, until in _cooling.items() if until <= now]:
            del _cooling[key]
        _cooling[who] = now + seconds


def cooling_off(who: str) -> bool:
    """Whether `who` was disconnected for flooding and its cool-off has not ended."""
    with _lock:
        until = _cooling.get(who)
    return until is not None and until > time.monotonic()


def forget(sid: str) -> None:
    with _lock:
        _buckets.pop(sid, None)
