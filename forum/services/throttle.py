"""Atomic rate limits shared by every process: a moving window in Redis (the `limits`
library, which Flask-Limiter uses; its Redis strategy is one Lua script, so parallel
hits cannot pass together). Without Redis the callers lock a database row instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import current_app

from ..config import DEFAULT_REDIS_TIMEOUT, RateLimit, redis_client_options
from ..extensions import db
from ..models.base import utcnow
from .transaction import lock_person

log = logging.getLogger(__name__)


@cache
def _limiter(url: str, timeout: float) -> Any:
    """The moving-window limiter on `url`; a hung Redis fails a hit within `timeout` s."""
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    options = redis_client_options({"FORUM_REDIS_TIMEOUT": timeout})
    return MovingWindowRateLimiter(storage_from_string(url, **options))


def redis_hit(name: str, key: str, count: int, seconds: int) -> bool | None:
    """Take one from `name:key`'s budget of `count` per `seconds`: True if allowed, False if
    not, None when Redis is not configured or cannot be reached (use the database then)."""
    url = current_app.config.get("FORUM_REDIS_URL")
    if not url:
        return None
    from limits import RateLimitItemPerSecond

    try:
        prefix = current_app.config.get("FORUM_REDIS_PREFIX", "forum")
        timeout = float(current_app.config.get("FORUM_REDIS_TIMEOUT") or DEFAULT_REDIS_TIMEOUT)
        return bool(
            _limiter(url, timeout).hit(RateLimitItemPerSecond(count, seconds), prefix, name, key)
        )
    except Exception:  # noqa: BLE001 — Redis down: fall back to the database lock
        log.exception("Redis rate limit unavailable; using the database")
        return None


def take(
    name: str, key: str, person_id: int, limit: RateLimit, recent: Callable[[datetime], Any]
) -> bool:
    """Take one from a person's budget `limit` (enabled): Redis's moving window when there is
    one; else the person's row is locked first (an UPDATE: a row lock on PostgreSQL, the
    write lock on SQLite), held until the caller's transaction commits what it stores, and
    `recent(since)`, a count statement of what they stored in the window, is run under it,
    so parallel requests of one person are counted one after another, never side by side."""
    allowed = redis_hit(name, key, limit.count, limit.seconds)
    if allowed is not None:
        return allowed
    lock_person(person_id)
    count = db.session.scalar(recent(utcnow() - timedelta(seconds=limit.seconds)))
    return (count or 0) < limit.count
