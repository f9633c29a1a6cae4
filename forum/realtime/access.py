"""Rooms follow access: take this process's sockets out of threads their person may no longer read.

`events.recheck_access_after_commit` (called by services when access changes)
runs `recheck` on every process after commit. A socket that fails the same
check `join` makes leaves the thread's room, leaves its presence, and is told
`thread:revoked {thread_id}`; the room gets the new presence. A socket that
watches a forum it may no longer read (`watch`) leaves the forum's room too.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from .. import policy
from ..events import forum_room, thread_room
from ..extensions import db, socketio
from ..models import Forum, Thread, User
from . import presence

_lock = threading.Lock()
_socket_users: dict[str, int | None] = {}  # this process's sockets -> their person (None: visitor)


def remember_socket(sid: str, user_id: int | None) -> None:
    with _lock:
        _socket_users[sid] = user_id


def forget_socket(sid: str) -> None:
    with _lock:
        _socket_users.pop(sid, None)


def _local_rooms(prefix: str) -> dict[int, list[str]]:
    """thread (or forum) id -> this process's sids in its room, for `prefix` "thread:"
    (or "forum:")."""
    server = socketio.server
    rooms: dict[int, list[str]] = {}
    if server is None:
        return rooms
    namespace_rooms: dict[Any, Any] = server.manager.rooms.get("/", {})
    for room, members in list(namespace_rooms.items()):
        if not isinstance(room, str) or not room.startswith(prefix):
            continue
        try:
            object_id = int(room.removeprefix(prefix))
        except ValueError:
            continue
        rooms[object_id] = [sid for sid in list(members) if sid is not None]
    return rooms


def recheck(spec: dict[str, list[int]]) -> int:
    """Check the sockets `spec` names; returns how many thread rooms were left."""
    wanted_threads = set(spec.get("threads") or ())
    wanted_forums = set(spec.get("forums") or ())
    wanted_users = set(spec.get("users") or ())
    if wanted_forums or not wanted_threads:  # a thread's own change leaves forums as they are
        _recheck_forum_rooms(wanted_forums, wanted_users)
    rooms = _local_rooms("thread:")
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
    with _lock:
        owners = dict(_socket_users)
    verdicts: dict[tuple[int | None, int], bool] = {}
    left = 0
    for thread_id, sids in rooms.items():
        lost = []
        for sid in sids:
            if sid not in owners:
                continue
            user_id = owners[sid]
            if wanted_users and user_id not in wanted_users:
                continue
            key = (user_id, thread_id)
            if key not in verdicts:
                verdicts[key] = _may_read(user_id, thread_id)
            if not verdicts[key]:
                lost.append(sid)
        for sid in lost:
            _revoke(sid, thread_id)
            left += 1
        if lost:
            socketio.emit("presence", presence.snapshot(thread_id), to=thread_room(thread_id))
    return left


def _recheck_forum_rooms(wanted_forums: set[int], wanted_users: set[int]) -> None:
    """Sockets watching a forum they may no longer read stop getting its activity."""
    rooms = _local_rooms("forum:")
    if wanted_forums:
        rooms = {f: sids for f, sids in rooms.items() if f in wanted_forums}
    with _lock:
        owners = dict(_socket_users)
    verdicts: dict[tuple[int | None, int], bool] = {}
    server = socketio.server
    assert server is not None
    for forum_id, sids in rooms.items():
        for sid in sids:
            if sid not in owners or (wanted_users and owners[sid] not in wanted_users):
                continue
            key = (owners[sid], forum_id)
            if key not in verdicts:
                verdicts[key] = _may_read_forum(owners[sid], forum_id)
            if not verdicts[key]:
                server.leave_room(sid, forum_room(forum_id), namespace="/")


def _may_read_forum(user_id: int | None, forum_id: int) -> bool:
    forum = db.session.get(Forum, forum_id)
    user = db.session.get(User, user_id) if user_id is not None else None
    if forum is None or (user_id is not None and user is None):
        return False
    return policy.can_view_forum(user, forum)


def _may_read(user_id: int | None, thread_id: int) -> bool:
    thread = db.session.get(Thread, thread_id)
    if thread is None:
        return False
    user = db.session.get(User, user_id) if user_id is not None else None
    if user_id is not None and user is None:
        return False
    return policy.can_view_thread(user, thread)


def _revoke(sid: str, thread_id: int) -> None:
    server = socketio.server
    assert server is not None
    server.leave_room(sid, thread_room(thread_id), namespace="/")
    presence.leave(thread_id, sid)
    socketio.emit("thread:revoked", {"thread_id": thread_id}, to=sid)
