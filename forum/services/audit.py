"""The audit log: append-only record of who did what, to what, and why."""

from __future__ import annotations

from ..extensions import db
from ..models import AuditEntry, User


def person(user: User) -> str:
    """A person as an audit reason names them: "Name (user 12)", the name as it was then
    (closing the account replaces each such name with the pseudonym)."""
    return f"{user.display_name} (user {user.id})"


def record(
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int | None,
    reason: str = "",
    forum_id: int | None = None,
) -> None:
    """Add an audit entry in the caller's transaction (`forum_id` lets the log be filtered)."""
    db.session.add(
        AuditEntry(
            actor_id=actor.id if actor is not None else None,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            forum_id=forum_id,
        )
    )
