"""Who is in each thread now (per process; see README for the scale-out note)."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

_lock = threading.Lock()
_rooms: dict[int, dict[str, dict[str, Any] | None]] = defaultdict(dict)
_by_sid: dict[str, set[int]] = defaultdict(set)


def enter(thread_id: int, sid: str, person: dict[str, Any] | None) -> None:
    with _lock:
        _rooms[thread_id][sid] = person
        _by_sid[sid].add(thread_id)


def leave(thread_id: int, sid: str) -> None:
    with _lock:
        _rooms.get(thread_id, {}).pop(sid, None)
        _by_sid.get(sid, set()).discard(thread_id)
        if not _rooms.get(thread_id):
            _rooms.pop(thread_id, None)


def leave_all(sid: str) -> list[int]:
    """Forget a disconnected socket; returns the threads it was in."""
    with _lock:
        threads = list(_by_sid.pop(sid, set()))
        for thread_id in threads:
            _rooms.get(thread_id, {}).pop(sid, None)
            if not _rooms.get(thread_id):
                _rooms.pop(thread_id, None)
    return threads


def snapshot(thread_id: int) -> dict[str, Any]:
    """The people present (each once) and the number of visitors."""
    with _lock:
        entries = list(_rooms.get(thread_id, {}).values())
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
