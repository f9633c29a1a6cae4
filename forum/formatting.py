"""Dates shown in Europe/Stockholm, in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import format_date, format_datetime, format_time, to_user_timezone


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A stored UTC time in Europe/Stockholm and the reader's language: date and minutes."""
    if value is None:
        return ""
    if fmt == "medium":
        return f"{format_date(value, 'medium')} {format_time(value, 'short')}"
    return format_datetime(value, fmt)


def days_until(value: datetime, now: datetime) -> int:
    """Calendar days from `now` to `value` in Europe/Stockholm (0: today, 1: tomorrow)."""
    return (to_user_timezone(value).date() - to_user_timezone(now).date()).days


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


def decimal(value: object, digits: int = 1) -> str:
    """A number in the page's locale (Swedish: 8,6), or a dash for none."""
    from flask_babel import format_decimal

    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return str(format_decimal(value, format=pattern))


def percent(value: object) -> str:
    """A share 0..1 as a percentage in the page's locale (Swedish: 50 %), or a dash."""
    from flask_babel import format_percent

    if value is None:
        return "–"
    return str(format_percent(value))
