"""Dates shown in Europe/Stockholm, in the reader's language."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel import dates
from flask import current_app, g
from flask_babel import (
    force_locale,
    get_locale,
    get_timezone,
    get_translations,
    to_user_timezone,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")  # the city's time: deadlines, days, due dates
LOCALES = ("sv", "en")  # the interface's languages, Swedish first (the default)


class Reader(Protocol):
    """Someone written to outside their own request: a person, with the language they chose."""

    locale: str | None


def default_locale() -> str:
    """The site's language (`BABEL_DEFAULT_LOCALE`, Swedish unless set): what people who
    chose none are written to in, and what texts shown to everyone are written in."""
    return current_app.config.get("BABEL_DEFAULT_LOCALE", LOCALES[0])


def language_of(person: Reader | None) -> str:
    """The language to write to `person` in: the one they chose, else the site's."""
    return (person.locale if person is not None else None) or default_locale()


def page_language() -> str:
    """The language of the page being answered ("sv" or "en"), the site's outside a request."""
    locale = get_locale()
    return str(locale) if locale is not None else default_locale()


@contextmanager
def in_language_of(person: Reader | None = None) -> Iterator[None]:
    """`force_locale` for a text written to `person` (a mail, a notice), or with None for
    everyone (a placeholder stored in place of removed text): not the request's language."""
    with force_locale(language_of(person)):
        yield


def translations() -> Any:
    """The current locale's catalogue for templates: Flask-Babel's own, remembered next to the
    locale object it is for. Flask-Babel finds it through four context lookups per string (a
    third of a thread page's time); this is one. `force_locale` and `refresh` set a new locale
    object, so they still switch the catalogue."""
    try:
        ctx = g._flask_babel
        locale = ctx.babel_locale
    except (AttributeError, RuntimeError):  # first string of the request, or no request
        return get_translations()
    cached = getattr(ctx, "forum_translations", None)
    if cached is not None and cached[0] is locale:
        return cached[1]
    found = get_translations()
    ctx.forum_translations = (locale, found)
    return found


def locale_zone() -> tuple[str, str]:
    """`str(get_locale())` and `str(get_timezone())`, remembered next to the objects they are
    for (as `translations()` does): the caches of message and page HTML key on both, once per
    message or fragment. `force_locale` sets a new locale object, so it still switches."""
    try:
        ctx = g._flask_babel
        locale, zone = ctx.babel_locale, ctx.babel_tzinfo
    except (AttributeError, RuntimeError):  # not looked up yet in this request, or no request
        return str(get_locale()), str(get_timezone())
    if locale is None or zone is None:  # force_locale() ended, or one not looked up yet
        return str(get_locale()), str(get_timezone())
    cached = getattr(ctx, "forum_locale_zone", None)
    if cached is not None and cached[0] is locale and cached[1] is zone:
        return cached[2]
    found = (str(locale), str(zone))
    ctx.forum_locale_zone = (locale, zone, found)
    return found


def install_template_gettext(jinja_env: Any) -> None:
    """Jinja's `_`, `gettext` and `ngettext` through `translations()` (same catalogue, same
    newstyle escaping and %-formatting as Flask-Babel's)."""
    jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )


# The conventions a language's times are written in. English is British here: day before
# month and a 24-hour clock ("5 Dec 2026 23:50", not "Dec 5, 2026 11:50 PM"), as the
# thread's script writes a live message's time (timeFormatter() in static/js/message.js).
TIME_LOCALES = {"en": "en_GB"}


@lru_cache(maxsize=8192)
def _format_local(value: datetime, fmt: str, locale: str, zone: Any) -> str:
    """Babel's formatting in the zone, remembered by everything it depends on (the time, the
    format, the request's locale and zone): a thread page formats every message's time on
    every view. "medium" is the medium date and the short time with a space between, which
    the script builds the same way from the browser's Intl formats."""
    where = TIME_LOCALES.get(locale, locale)
    if fmt == "medium":
        day = dates.format_date(value.astimezone(zone), "medium", locale=where)
        return f"{day} {dates.format_time(value, 'short', tzinfo=zone, locale=where)}"
    return dates.format_datetime(value, fmt, tzinfo=zone, locale=where)


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A stored UTC time in Europe/Stockholm and the reader's language: date and minutes."""
    if value is None:
        return ""
    return _format_local(value, fmt, str(get_locale()), get_timezone())


def long_date(value: date) -> str:
    """A calendar date in words in the reader's language, in the same conventions as the
    times: "1 May 2027" in English (British, not "May 1, 2027"), "1 maj 2027" in Swedish."""
    locale = str(get_locale())
    return dates.format_date(value, "long", locale=TIME_LOCALES.get(locale, locale))


def days_until(value: datetime, now: datetime) -> int:
    """Calendar days from `now` to the deadline `value` in Europe/Stockholm (0: today,
    1: tomorrow), counted to its last moment: a deadline at 00:00 is the day before's."""
    last = value - timedelta(microseconds=1)
    return (to_user_timezone(last).date() - to_user_timezone(now).date()).days


def stockholm_day_start(day: date, later: int = 0) -> datetime | None:
    """When the Stockholm day `later` days after `day` starts, in UTC; None when that is
    outside what a datetime holds (the day after 9999-12-31, or 0001-01-01 in UTC), where
    a range of days has no bound: every stored time is inside it."""
    try:
        start = datetime.combine(day + timedelta(days=later), time.min, tzinfo=STOCKHOLM)
        return start.astimezone(UTC)
    except OverflowError:
        return None


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, as the socket protocol carries times."""
    if value is None:
        return None
    if value.tzinfo is None:  # a UTC time that lost its zone (SQLite's max() of a column)
        value = value.replace(tzinfo=UTC)
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
