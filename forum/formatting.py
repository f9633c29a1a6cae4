"""Dates shown in Europe/Stockholm, in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import format_datetime


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """Format a stored UTC time in the Stockholm time zone and the current locale."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, as the socket protocol carries times."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_from_iso(value: str | None, fmt: str = "medium") -> str:
    """Format an ISO 8601 UTC string (as in a protocol message) for the reader."""
    if not value:
        return ""
    return local_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")), fmt)
