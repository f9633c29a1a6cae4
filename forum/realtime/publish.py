"""Real-time events, emitted only after the transaction that caused them commits."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db, socketio

log = logging.getLogger(__name__)
_KEY = "forum_pending_events"


def thread_room(thread_id: int) -> str:
    return f"thread:{thread_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def emit_after_commit(event_name: str, payload: dict[str, Any], room: str, **kwargs: Any) -> None:
    """Queue an event on the current session; it is sent when (and only if) it commits."""
    db.session.info.setdefault(_KEY, []).append((event_name, payload, room, kwargs))


def _flush_events(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    for event_name, payload, room, kwargs in pending:
        try:
            socketio.emit(event_name, payload, to=room, **kwargs)
        except Exception:  # a broadcast failure must never undo a committed write
            log.exception("could not emit %s to %s", event_name, room)


def _drop_events(session: Session) -> None:
    session.info.pop(_KEY, None)


def register_publishing() -> None:
    """Hook the emit-on-commit and drop-on-rollback listeners onto every session."""
    if not event.contains(Session, "after_commit", _flush_events):
        event.listen(Session, "after_commit", _flush_events)
        event.listen(Session, "after_soft_rollback", lambda s, prev: _drop_events(s))
