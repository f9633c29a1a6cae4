"""Small validators shared by services: typed fields from untrusted payloads, text, and
the commitments a forum, thread, round or action links to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import Invalid
from ..extensions import db
from ..models import Commitment


def require_mapping(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(_("The payload must be a JSON object."))
    return data


def int_field(
    data: dict[str, Any], name: str, *, required: bool = True, minimum: int = 1
) -> int | None:
    """An integer field (not a bool, not a string), at least `minimum`."""
    value = data.get(name)
    if value is None:
        if required:
            raise Invalid(_("%(field)s is required.", field=name), field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(_("%(field)s must be a whole number.", field=name), field=name)
    if value < minimum:
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
    if len(value) > max_length:
        raise Invalid(
            _("%(field)s can be at most %(n)d characters.", field=name, n=max_length), field=name
        )
    return value


def clean_text(value: str | None, name: str, *, max_length: int, required: bool = True) -> str:
    """Trim a form text; refuse empty (when required) and overlong, never truncate."""
    value = (value or "").strip()
    if required and not value:
        raise Invalid(_("This field is required."), field=name)
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
