"""Rooms follow access: take this process's sockets out of rooms their person may no longer read.

`events.recheck_access_after_commit` (called by services when access changes)
runs `recheck` on every process after commit. A socket that fails the same
check `join` makes leaves the thread's room, leaves its presence, and is told
`thread:revoked {thread_id}`; the room gets the new presence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from .. import policy
from ..events import forum_room, thread_room
from ..extensions import db, socketio
from ..models import Forum, Thread, User
from . import presence

_lock = threading.Lock()
_socket_users: dict[str, int | None] = {}  # this process's sockets -> their person (None: visitor)
_connected: dict[str, float] = {}  # this process's sockets -> when they connected (time.time())


def remember_socket(sid: str, user_id: int | None) -> None:
    with _lock:
        _socket_users[sid] = user_id
        _connected[sid] = time.time()


def forget_socket(sid: str) -> None:
    with _lock:
        _socket_users.pop(sid, None)
        _connected.pop(sid, None)


def connected_at(sid: str) -> float | None:
    """When this process's socket `sid` connected (None: not one of its sockets)."""
    with _lock:
        return _connected.get(sid)


def _local_rooms(prefix: str) -> dict[int, list[str]]:
    """id -> this process's sids in the room `<prefix><id>` (thread: or forum:)."""
    server = socketio.server
    rooms: dict[int, list[str]] = {}
    if server is None:
        return rooms
    namespace_rooms: dict[Any, Any] = server.manager.rooms.get("/", {})
    for room, members in list(namespace_rooms.items()):
        if not isinstance(room, str) or not room.startswith(prefix):
            continue
        try:
            room_id = int(room.removeprefix(prefix))
        except ValueError:
            continue
        rooms[room_id] = [sid for sid in list(members) if sid is not None]
    return rooms


def _losers(
    rooms: dict[int, list[str]], wanted_users: set[int], may: Callable[[int | None, int], bool]
) -> dict[int, list[str]]:
    """room id -> the sids in it whose person (of `wanted_users`, if given) fails `may`."""
    with _lock:
        owners = dict(_socket_users)
    verdicts: dict[tuple[int | None, int], bool] = {}
    lost: dict[int, list[str]] = {}
    for room_id, sids in rooms.items():
        for sid in sids:
            if sid not in owners:
                continue
            user_id = owners[sid]
            if wanted_users and user_id not in wanted_users:
                continue
            key = (user_id, room_id)
            if key not in verdicts:
                verdicts[key] = may(user_id, room_id)
            if not verdicts[key]:
                lost.setdefault(room_id, []).append(sid)
    return lost


def recheck(spec: dict[str, list[int]]) -> int:
    """Check the sockets `spec` names; returns how many thread rooms were left.

    Thread rooms carry the conversation; forum rooms (the forum list's live unread
    counts) carry which threads are active and who wrote: both follow access.
    """
    rooms = _local_rooms("thread:")
    forum_rooms = _local_rooms("forum:")
    wanted_threads = set(spec.get("threads") or ())
    wanted_forums = set(spec.get("forums") or ())
    wanted_users = set(spec.get("users") or ())
    if wanted_threads or wanted_forums:
        in_forums: set[int] = set()
        if wanted_forums and rooms:
            in_forums = set(
                db.session.scalars(
                    select(Thread.id).where(
                        Thread.id.in_(list(rooms)), Thread.forum_id.in_(list(wanted_forums))
                    )
                )
            )
        rooms = {t: sids for t, sids in rooms.items() if t in wanted_threads or t in in_forums}
        forum_rooms = {f: sids for f, sids in forum_rooms.items() if f in wanted_forums}
    for forum_id, sids in _losers(forum_rooms, wanted_users, _may_view_forum).items():
        for sid in sids:
            server = socketio.server
            assert server is not None
            server.leave_room(sid, forum_room(forum_id), namespace="/")
    left = 0
    for thread_id, lost in _losers(rooms, wanted_users, _may_read).items():
        for sid in lost:
            _revoke(sid, thread_id)
            left += 1
        socketio.emit("presence", presence.snapshot(thread_id), to=thread_room(thread_id))
    return left


def _person(user_id: int | None) -> tuple[bool, User | None]:
    """(still exists, the person or None for a visitor)."""
    if user_id is None:
        return True, None
    user = db.session.get(User, user_id)
    return user is not None, user


def _may_view_forum(user_id: int | None, forum_id: int) -> bool:
    forum = db.session.get(Forum, forum_id)
    exists, user = _person(user_id)
    return exists and forum is not None and policy.can_view_forum(user, forum)


def _may_read(user_id: int | None, thread_id: int) -> bool:
    thread = db.session.get(Thread, thread_id)
    exists, user = _person(user_id)
    return exists and thread is not None and policy.can_view_thread(user, thread)


def _revoke(sid: str, thread_id: int) -> None:
    server = socketio.server
    assert server is not None
    server.leave_room(sid, thread_room(thread_id), namespace="/")
    presence.leave(thread_id, sid)
    socketio.emit("thread:revoked", {"thread_id": thread_id}, to=sid)
