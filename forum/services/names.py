"""Display names that cannot hide or impersonate: no invisible characters, no look-alikes.

A display name may not carry bidi controls, zero-width or other format/control
characters (they reorder or hide text around the name), and may not imitate an
official's or admin's name: both are folded to a skeleton (case, accents,
compatibility forms and Unicode confusables: Cyrillic "А" is Latin "A", "l" is
"I" is "1", "O" is "0") and a match with someone else's is refused. The confusables come
from the `confusable-homoglyphs` package (Unicode's confusables.txt); groups of
characters confusable with each other are joined, and each is written as the
group's smallest character.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..errors import Invalid
from ..extensions import db
from ..models import User

# Unicode categories that never belong in a name: controls, format characters
# (bidi controls, zero-width space/joiners, BOM), surrogates, private use, unassigned.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def check_visible(name: str, field: str = "display_name") -> None:
    """Refuse bidi controls, zero-width and other invisible characters."""
    for char in name:
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            raise Invalid(
                _(
                    "The name contains an invisible or control character (%(code)s).",
                    code=f"U+{ord(char):04X}",
                ),
                field=field,
            )


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> the smallest character of its confusable group."""
    from confusable_homoglyphs.confusables import confusables_data

    parent: dict[str, str] = {}

    def find(char: str) -> str:
        root = char
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(char, char) != root:
            parent[char], char = root, parent[char]
        return root

    def join(one: str, other: str) -> None:
        a, b = find(one), find(other)
        if a != b:
            parent[max(a, b)] = min(a, b)

    for char, glyphs in confusables_data.items():
        if len(char) != 1:
            continue
        for glyph in glyphs:
            other = glyph["c"].replace("\u200e", "")
            if len(other) == 1:
                join(char, other)
    # Case does not tell names apart either ("O" looks like "0", so "o" does too).
    for char in list(parent) + [chr(c) for c in range(ord("A"), ord("Z") + 1)]:
        folded = char.casefold()
        if len(folded) == 1 and folded != char:
            join(char, folded)
    return {char: find(char) for char in parent}


def skeleton(name: str) -> str:
    """The name as it looks: folded case, accents, compatibility forms and confusables."""
    table = _prototypes()
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = " ".join(text.casefold().split())
    text = "".join(table.get(c, c) for c in text)
    return "".join(table.get(c, c) for c in text.casefold())


def check_not_imitating(name: str, user_id: int | None = None) -> None:
    """Refuse a name that looks like another official's or admin's name."""
    target = skeleton(name)
    rows = db.session.execute(
        select(User.id, User.display_name).where(
            or_(User.is_admin.is_(True), User.department_id.is_not(None))
        )
    ).all()
    for other_id, other_name in rows:
        if other_id != user_id and skeleton(other_name) == target:
            raise Invalid(
                _("That name looks like the name of one of the city's officials or admins."),
                field="display_name",
            )
