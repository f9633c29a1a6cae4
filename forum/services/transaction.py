"""The unit of work seen from a caller: what to do after a service refused."""

from __future__ import annotations

from ..extensions import db


def discard_changes() -> None:
    """Forget whatever a refused service call left in the session (nothing was committed),
    so the page rendered next shows the stored state and flushes nothing half-done."""
    db.session.rollback()
