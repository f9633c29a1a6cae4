"""Display names that cannot hide or impersonate: no invisible characters, no look-alikes.

A display name may not carry bidi controls, zero-width or other format/control
characters (they reorder or hide text around the name), nor any other character that
shows nothing (Hangul fillers, variation selectors, tag characters, the blank braille
pattern); the emoji and text presentation selectors are allowed only where they choose
how an emoji is drawn. It needs at least one character that shows. It may not imitate an
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

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, the same
# list from Unicode 14 to 16; Python has no lookup for it): characters that show nothing
# where they are not understood. Most are format characters (refused above anyway); the
# ones that are letters or marks, and were let through, are the Hangul fillers, the
# combining grapheme joiner, the Khmer inherent vowels and the variation selectors.
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # SOFT HYPHEN (Cf)
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER (Mn)
    (0x061C, 0x061C),  # ARABIC LETTER MARK (Cf)
    (0x115F, 0x1160),  # HANGUL CHOSEONG FILLER, HANGUL JUNGSEONG FILLER (Lo)
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ, AA (Mn)
    (0x180B, 0x180F),  # MONGOLIAN FREE VARIATION SELECTORS, VOWEL SEPARATOR (Mn, Cf)
    (0x200B, 0x200F),  # ZERO WIDTH SPACE .. RIGHT-TO-LEFT MARK (Cf)
    (0x202A, 0x202E),  # LEFT-TO-RIGHT EMBEDDING .. RIGHT-TO-LEFT OVERRIDE (Cf)
    (0x2060, 0x206F),  # WORD JOINER .. NOMINAL DIGIT SHAPES, isolates included (Cf, Cn)
    (0x3164, 0x3164),  # HANGUL FILLER (Lo)
    (0xFE00, 0xFE0F),  # VARIATION SELECTOR-1 .. 16 (Mn)
    (0xFEFF, 0xFEFF),  # ZERO WIDTH NO-BREAK SPACE (Cf)
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER (Lo)
    (0xFFF0, 0xFFF8),  # reserved (Cn)
    (0x1BCA0, 0x1BCA3),  # SHORTHAND FORMAT LETTER OVERLAP .. UP STEP (Cf)
    (0x1D173, 0x1D17A),  # MUSICAL SYMBOL BEGIN BEAM .. END PHRASE (Cf)
    (0xE0000, 0xE0FFF),  # tag characters, VARIATION SELECTOR-17 .. 256, reserved
)
# Not default-ignorable, yet drawn as nothing: the blank braille pattern (a symbol, So)
# and the Khitan small script filler (a mark, Mn).
BLANK = {0x2800, 0x16FE4}
# Text (U+FE0E) and emoji (U+FE0F) presentation selectors: allowed where they choose how
# the character before them is drawn, as phone keyboards type emoji: after a symbol or
# punctuation ("❤️" U+2764 is So, "‼️" Po, "↔️" Sm), after U+2139 "ℹ️" (a letter, Ll), and
# in a keycap ("1️⃣" is a digit, U+FE0F and U+20E3 COMBINING ENCLOSING KEYCAP, Me). After
# an ordinary letter or digit, a space, a mark or another selector they show nothing
# (skeleton() drops them, so they cannot pass off an official's name, but they are
# still an invisible extra). The zero width joiner of emoji sequences ("👨‍👩‍👧") stays
# refused with every other format character (Cf): it also joins letters invisibly, and
# telling an emoji sequence apart needs Unicode's emoji data.
PRESENTATION_SELECTORS = {0xFE0E, 0xFE0F}
INFORMATION_SOURCE = "\u2139"
KEYCAP_BASES = frozenset("0123456789#*")
COMBINING_ENCLOSING_KEYCAP = "\u20e3"


def is_default_ignorable(char: str) -> bool:
    """Is `char` a Default_Ignorable_Code_Point (shown as nothing)?"""
    code = ord(char)
    return any(low <= code <= high for low, high in DEFAULT_IGNORABLE)


def _selects_presentation(name: str, index: int) -> bool:
    """Does the selector at `index` choose how a visible character before it is drawn?"""
    if index == 0:
        return False
    before = name[index - 1]
    if before in KEYCAP_BASES and name[index + 1 : index + 2] == COMBINING_ENCLOSING_KEYCAP:
        return True
    # letters and digits (L*, N*) have no emoji form; spaces (Z*), marks (M*, the
    # selectors among them) and controls (C*) show nothing for it to choose
    return before == INFORMATION_SOURCE or unicodedata.category(before)[0] in "PS"


def _invisible(name: str, index: int) -> bool:
    char = name[index]
    code = ord(char)
    if code in PRESENTATION_SELECTORS:
        return not _selects_presentation(name, index)
    return (
        unicodedata.category(char) in FORBIDDEN_CATEGORIES
        or code in BLANK
        or is_default_ignorable(char)
    )


def check_visible(name: str, field: str = "display_name") -> None:
    """Refuse bidi controls, zero-width and other invisible characters, and a name in
    which nothing shows (only combining marks, say). An empty name passes: whether it
    may be empty is the caller's to say."""
    for index, char in enumerate(name):
        if _invisible(name, index):
            raise Invalid(
                _(
                    "The name contains an invisible or control character (%(code)s).",
                    code=f"U+{ord(char):04X}",
                ),
                field=field,
            )
    if name.strip() and not shows_something(name):
        raise Invalid(_("The name has no visible character."), field=field)


def shows_something(text: str) -> bool:
    """Does `text` have a character that is drawn: a letter, digit, punctuation or symbol,
    not one that shows nothing (U+2800 blank braille, U+3164 the Hangul filler, ...)?"""
    return any(
        unicodedata.category(c)[0] in "LNPS" and ord(c) not in BLANK and not is_default_ignorable(c)
        for c in text
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
    """The name as it looks: without what shows nothing; folded case, accents,
    compatibility forms and confusables."""
    table = _prototypes()
    # what shows nothing tells nothing apart ("Tina" + U+FE0F looks like "Tina")
    name = "".join(c for c in name if not is_default_ignorable(c) and ord(c) not in BLANK)
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    # punctuation and symbols tell nothing apart either ("Tove Tjänsteperson." beside her),
    # but for those that pass for a letter or digit ("|nga" beside "Inga"): folded below
    text = "".join(
        c
        for c in text
        if not unicodedata.category(c).startswith(("P", "S"))
        or any(x.isalnum() for x in table.get(c, c) + table.get(c.casefold(), ""))
    )
    text = " ".join(text.casefold().split())
    text = "".join(table.get(c, c) for c in text)
    return "".join(table.get(c, c) for c in text.casefold())


CLOSED_ACCOUNT_NAME = "Före detta användare"  # services.privacy.pseudonym: "… <id>"


def check_not_imitating(name: str, user_id: int | None = None) -> None:
    """Refuse a name that looks like another official's or admin's name, or like the name
    closed accounts' public posts keep (someone could post as if they were one)."""
    target = skeleton(name)
    if target.startswith(skeleton(CLOSED_ACCOUNT_NAME)):
        raise Invalid(
            _("That name is the one closed accounts are shown under."), field="display_name"
        )
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
