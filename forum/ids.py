"""Row ids as the database holds them and as forms, query strings and cookies send them."""

from __future__ import annotations

MAX_ID = 2**31 - 1  # the largest INTEGER on PostgreSQL (SQLite's is larger): no id beyond it


def whole_id(raw: str | None) -> int | None:
    """An id as a form or query string sends it: ASCII digits within the id columns' range.

    `"²".isdigit()` is true but `int("²")` fails, and `int()` takes "+1", " 1" and other
    scripts' digits; anything but plain digits naming a possible row is no id (None).
    """
    text = raw or ""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
