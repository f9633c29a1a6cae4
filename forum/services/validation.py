"""Small validators shared by services: typed fields from untrusted payloads, text, and
the commitments a forum, thread, round or action links to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import Invalid
from ..extensions import db
from ..formatting import STOCKHOLM
from ..ids import MAX_ID
from ..models import Commitment
from ..models.base import utcnow
from .names import shows_something


def check_characters(value: str, name: str, label: str | None = None) -> str:
    """Refuse NUL and lone surrogates (no database stores them): `invalid` on the field
    `name`. The message is shown beside the field, so it names it only by a `label` in the
    reader's words (a form's "title" read "title innehåller ett NUL-tecken")."""
    if "\x00" in value:
        message = (
            _("%(field)s contains a NUL character.", field=label)
            if label
            else _("The text contains a NUL character, which cannot be stored. Remove it.")
        )
        raise Invalid(message, field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        message = (
            _("%(field)s contains a character that is not valid Unicode.", field=label)
            if label
            else _("The text contains a character that is not valid Unicode. Remove it.")
        )
        raise Invalid(message, field=name) from None
    return value


def check_model_text(session: Any, _context: Any, _instances: Any) -> None:
    """Before every flush: no text column of a new or changed row holds NUL or a lone
    surrogate. The safety net behind the field checks: a field that slipped past them
    still answers `invalid` (naming the column), never `internal`."""
    from sqlalchemy import inspect

    for obj in list(session.new) + list(session.dirty):
        mapper = inspect(obj).mapper
        for attr in mapper.column_attrs:
            value = getattr(obj, attr.key, None)
            if isinstance(value, str):
                check_characters(value, attr.key)


def require_mapping(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(_("The payload must be a JSON object."))
    return data


def int_field(
    data: dict[str, Any],
    name: str,
    *,
    required: bool = True,
    minimum: int = 1,
    maximum: int = MAX_ID,
) -> int | None:
    """An integer field (not a bool, not a string), between `minimum` and `maximum`."""
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid(_("%(field)s is required.", field=name), field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(_("%(field)s must be a whole number.", field=name), field=name)
    if value < minimum or value > maximum:
        raise Invalid(_("%(field)s is out of range.", field=name), field=name)
    return value


def str_field(
    data: dict[str, Any], name: str, *, required: bool = True, max_length: int = 10_000
) -> str | None:
    """A string field of at most `max_length` characters."""
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid(_("%(field)s is required.", field=name), field=name)
        return None
    if not isinstance(value, str):
        raise Invalid(_("%(field)s must be text.", field=name), field=name)
    check_characters(value, name)
    if len(value) > max_length:
        raise Invalid(
            _("%(field)s can be at most %(n)d characters.", field=name, n=max_length), field=name
        )
    return value


def one_line(value: str) -> str:
    """Every run of whitespace, line breaks included, folded to one space; ends trimmed.

    A title is one line wherever it goes: a page heading, a mail subject (where a line
    break is a new header), a log line."""
    return " ".join(value.split())


# Bidi controls: embeddings, overrides and their pop (U+202A-202E), isolates (U+2066-2069),
# and the marks (LRM, RLM, ALM). In a title they reorder what follows, on the pages, in
# <title>, in mail subjects and notifications ("Möte <RLO>exe.TXT" reads "Möte TXT.exe");
# an unclosed one reorders the text after the title too.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def check_no_bidi_controls(value: str, name: str) -> str:
    """Refuse a bidi control character: `invalid`, naming the field and the character."""
    for char in value:
        if char in BIDI_CONTROLS:
            raise Invalid(
                _(
                    "Contains an invisible or control character (%(code)s).",
                    code=f"U+{ord(char):04X}",
                ),
                field=name,
            )
    return value


def refuse_invisible(value: str, name: str) -> None:
    """Refuse a text that is something but shows nothing (bidi controls, zero-width spaces),
    naming the first such character: `invalid` on the field `name`."""
    if value and not shows_something(value):
        shown = next(char for char in value if not char.isspace())
        raise Invalid(
            _("Contains an invisible or control character (%(code)s).", code=f"U+{ord(shown):04X}"),
            field=name,
        )


def normalise_line_breaks(value: str) -> str:
    """Every CR LF pair and lone CR as one LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def clean_text(
    value: str | None,
    name: str,
    *,
    max_length: int,
    required: bool = True,
    single_line: bool = False,
    missing: str | None = None,
) -> str:
    """Trim a form text; refuse empty (when required) and overlong, never truncate.
    `missing` says what to write when it is empty, where the field's label alone does not
    (an error shown away from it, or a box whose label names no text: "Warning to Anna").

    Every line break is stored as LF: browsers send a textarea's as CR LF (an old client
    may send a lone CR), and whatever splits a text into paragraphs or lines looks for
    LF. `single_line` (titles): whitespace runs and line breaks fold to one space first,
    and bidi controls are refused (a multi-line text is a markdown body, rendered as
    paragraphs of its own).
    """
    value = normalise_line_breaks(value or "")
    value = one_line(value) if single_line else value.strip()
    value = check_characters(value, name)
    if single_line:
        check_no_bidi_controls(value, name)
    if required and not shows_something(value):
        refuse_invisible(value, name)
        raise Invalid(missing or _("This field is required."), field=name)
    if len(value) > max_length:
        raise Invalid(_("At most %(n)d characters.", n=max_length), field=name)
    return value


def chosen_commitments(ids: Iterable[int]) -> list[Commitment]:
    """The commitments with these ids: at least one, every id known (else Invalid on the
    `commitments` field)."""
    wanted = set(ids)
    if not wanted:
        raise Invalid(_("Choose at least one commitment."), field="commitments")
    found = list(db.session.scalars(select(Commitment).where(Commitment.id.in_(wanted))))
    if len(found) != len(wanted):
        raise Invalid(_("Unknown commitment."), field="commitments")
    return found


PLAUSIBLE_YEARS_AHEAD = 10


def stockholm_today(now: datetime | None = None) -> date:
    """The calendar day in Stockholm (due dates and planned decisions are Stockholm days)."""
    return (now or utcnow()).astimezone(STOCKHOLM).date()


def plausible_date_range(today: date) -> tuple[date, date]:
    """The dates a person may plan for (a due date, a planned decision), seen from the
    Stockholm day `today`: from the start of last year (one written down late) to ten years
    ahead. Outside it, a date is a typo such as year 0001, 0206 or 9999."""
    try:
        last = today.replace(year=today.year + PLAUSIBLE_YEARS_AHEAD)
    except ValueError:  # 29 February, and no such day ten years on
        last = today.replace(year=today.year + PLAUSIBLE_YEARS_AHEAD, day=28)
    return date(today.year - 1, 1, 1), last


def check_plausible_date(day: date, today: date, field: str) -> None:
    """Refuse `day` outside plausible_date_range, beside the form's `field`."""
    first, last = plausible_date_range(today)
    if not first <= day <= last:
        raise Invalid(
            _(
                "Choose a date from %(first)s to %(last)s.",
                first=first.isoformat(),
                last=last.isoformat(),
            ),
            field=field,
        )
