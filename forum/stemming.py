"""Swedish words to search terms: lower case, Snowball-stemmed, then accents folded.

One pipeline for both databases, in Python: the same steps make the terms a text is
indexed under (SQLite's FTS5 table, PostgreSQL's `document` tsvector) and the
prefixes a query matches, so "föreningar" and "förening" meet at "forening" on
either. A word is stemmed as it is written (Snowball's Swedish rules know å, ä and
ö: "samråd" and "samrådet" both stem to "samråd") and the stem folded afterwards,
so a query typed without å/ä/ö ("samradet") still meets it; folding first made
"samråd" "samr" but "samrådet" "samrad". Stop words are dropped here too, before
folding ("är" is one, "ar" is not), never by the database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import snowballstemmer

# A word: letters and digits, not "_" (what FTS5's unicode61 tokenizer and PostgreSQL's
# parser keep together).
WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_TERMS = 8

_stemmer = snowballstemmer.stemmer("swedish")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Snowball's Swedish stop words (the list PostgreSQL's `swedish` configuration uses)."""
    path = Path(__file__).parent / "data" / "swedish-stopwords.txt"
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines())


def fold(word: str) -> str:
    """Lower case without diacritics: what PostgreSQL's unaccent does to Swedish letters."""
    # decomposed first: "𝐏" and "ℌ" become letters with a lower case only then
    decomposed = unicodedata.normalize("NFKD", word).lower()
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# PostgreSQL's longest lexeme (bytes); a longer word is indexed on neither database.
MAX_TERM_BYTES = 2047


def _lowered(word: str) -> str | None:
    """`word` composed and in lower case, None for a stop word."""
    # NFKC: a decomposed "å" (a + ring) stems like the composed one, "𝐏" is "P"
    lowered = unicodedata.normalize("NFKC", word).lower()
    # as written, not folded: "män" and "hår" are nouns, only folded are they "man" and "har"
    if lowered in stopwords():
        return None
    return lowered


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The indexed form of one word ('' for a stop word): stemmed as written, then folded."""
    lowered = _lowered(word)
    if lowered is None:
        return ""
    return fold(str(_stemmer.stemWord(lowered)))


class QueryTerm(str):
    """A query's prefix (the string itself), and the whole stems it also matches (`whole`,
    none of which starts with the prefix)."""

    whole: tuple[str, ...] = ()

    @classmethod
    def of(cls, prefix: str, whole: Iterable[str] = ()) -> QueryTerm:
        term = cls(prefix)
        term.whole = tuple(
            sorted(
                {
                    w
                    for w in whole
                    if WORD.fullmatch(w) and _short_enough(w) and not w.startswith(prefix)
                }
            )
        )
        return term


def whole_stems(term: str) -> tuple[str, ...]:
    """The whole stems a query term matches besides its prefix (none for a plain string)."""
    return term.whole if isinstance(term, QueryTerm) else ()


# Endings Snowball leaves on a short word (before its R1) or does not know, and what the
# base form ends in instead: "frågan" is "fråga", "året" "år", "landet" "land", "åren" "år".
_LEFT_ENDINGS = (("an", "a"), ("et", ""), ("en", ""))


def _base_stems(lowered: str, stemmed: str) -> set[str]:
    """The stems the base forms of a word are indexed under, when its own stem is not their
    prefix: Snowball shortens "kurs" to "kur" but "kursen" and "kurser" only to "kurs", and
    leaves "frågan", "året" and "landet" as they are."""
    out = set()
    again = str(_stemmer.stemWord(stemmed))
    if again == stemmed[:-1] == stemmed.removesuffix("s"):  # "kurs" -> "kur", "dans" -> "dan"
        out.add(again)
    if stemmed == lowered:
        for ending, base in _LEFT_ENDINGS:
            form = lowered[: -len(ending)] + base
            # not a stop word: "hanen" (the cock) is no form of "han"
            if lowered.endswith(ending) and len(form) >= 2 and form not in stopwords():
                out.add(str(_stemmer.stemWord(form)))
    return {fold(stem) for stem in out}


@lru_cache(maxsize=10_000)
def query_term(word: str) -> QueryTerm:
    """A query word's prefix (`query_prefix`) and the whole stems of its base forms that the
    prefix misses: "kursen" matches "kurs"* and "kur" (what "kurs" is indexed under), not
    "kur"* ("kurator")."""
    prefix = query_prefix(word)
    lowered = _lowered(word)
    if not prefix or lowered is None:
        return QueryTerm.of(prefix)
    return QueryTerm.of(prefix, _base_stems(lowered, str(_stemmer.stemWord(lowered))))


@lru_cache(maxsize=10_000)
def query_prefix(word: str) -> str:
    """The prefix a query word matches: its stem without a trailing joining -s, folded.

    "mötesplatserna" stems to "motesplats" but "mötesplats" to "motesplat"; matching the
    prefix "motesplat" finds both, and compounds that start with it ("mötesplatsträff"),
    since Swedish inflections and compounds share their start.

    A definite plural in -ena is stemmed once more: Snowball only takes its "-a"
    ("områdena" -> "områden", which "områden" is indexed under), the second pass takes
    it to "områd", which "område" and "området" are indexed under. Snowball only strips
    endings, so the prefix is a prefix of the word's own stem: a query still finds the
    form it was typed in.
    """
    lowered = _lowered(word)
    if lowered is None:
        return ""
    stemmed = str(_stemmer.stemWord(lowered))
    if lowered.endswith("ena") and stemmed == lowered[:-1]:
        stemmed = str(_stemmer.stemWord(stemmed))
    current = fold(stemmed)
    if len(current) > 4 and current.endswith("s"):
        current = current[:-1]
    return current


def _short_enough(term: str) -> bool:
    return len(term) * 4 <= MAX_TERM_BYTES or len(term.encode()) <= MAX_TERM_BYTES


def terms(text: str) -> list[str]:
    """The terms of a text in order, stop words dropped (a folded word can fall apart:
    "½" is "1⁄2", two terms)."""
    return [
        token for w in WORD.findall(text) for token in WORD.findall(stem(w)) if _short_enough(token)
    ]


def index_text(text: str) -> str:
    """The terms of a text, space-separated, for the SQLite FTS5 table."""
    return " ".join(terms(text))


# PostgreSQL keeps at most 256 positions of a lexeme, each at most 16383.
_MAX_POSITIONS = 256
_MAX_POSITION = 16383

# A tsvector holds at most 1,048,575 bytes (PostgreSQL's MAXSTRPOS): every lexeme's bytes,
# padded to an even count, 2 for its number of positions and 2 for each position. More is
# refused ("string is too long for tsvector") and the write with it: 15 answers of 8,000
# characters of distinct Hangul words (a syllable folds into three jamo, 9 bytes) are more.
# The document stops short of a budget below the limit, with room to spare should a later
# PostgreSQL count a little more: what follows stays stored and shown, only search on
# PostgreSQL does not find it.
_MAX_TSVECTOR_BYTES = 1_000_000


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _lexeme_bytes(term: str) -> int:
    """What a lexeme takes in a tsvector before its positions (2 bytes each)."""
    size = len(term.encode())
    return size + size % 2 + 2


def tsvector(title: str, body: str) -> str:
    """PostgreSQL's `document` of a title (weight A) and a body (weight B), as tsvector
    input: the same terms as the SQLite index, at their positions, given to PostgreSQL as
    they are (tsvector input applies no parser, dictionary or stop-word list of its own).
    Only as far as _MAX_TSVECTOR_BYTES holds: the terms after that are left out."""
    positions: dict[str, dict[int, str]] = {}
    position = size = 0
    weighted = (
        (weight, term) for weight, text_ in (("A", title), ("B", body)) for term in terms(text_)
    )
    for weight, term in weighted:
        position = min(position + 1, _MAX_POSITION)
        seen = positions.get(term, {})
        added = len(seen) < _MAX_POSITIONS and position not in seen
        grows = (0 if term in positions else _lexeme_bytes(term)) + (2 if added else 0)
        if size + grows > _MAX_TSVECTOR_BYTES:
            break  # the rest of the text is not indexed
        size += grows
        positions[term] = seen
        if added:
            seen[position] = weight
    return " ".join(
        _lexeme(term) + ":" + ",".join(f"{p}{w}" for p, w in sorted(seen.items()))
        for term, seen in positions.items()
    )


def tsquery(prefixes: list[str]) -> str:
    """PostgreSQL's query for `query_terms`, as tsquery input: every prefix, as it is, or
    one of the whole stems it also stands for."""

    def one(term: str) -> str:
        matched = _lexeme(term) + ":*"
        whole = whole_stems(term)
        return "(" + " | ".join([matched, *map(_lexeme, whole)]) + ")" if whole else matched

    return " & ".join(one(prefix) for prefix in prefixes)


def fts_tokens(stemmed: str) -> list[str]:
    """The tokens FTS5 makes of an `index_text` (SQLite search reads them back to rank and match)."""
    plain = stemmed.isascii() and "_" not in stemmed  # as written since "_" splits words
    return stemmed.split() if plain else WORD.findall(stemmed)


def fts_quoted(word: str) -> str:
    """`word` as an FTS5 string: matched as written, whatever characters it holds."""
    return '"' + word.replace('"', '""') + '"'


def query_terms(query: str) -> list[str]:
    """The distinct prefixes of a user's query, in order, stop words dropped."""
    out: list[str] = []
    for word in WORD.findall(query):
        prefixes = WORD.findall(query_prefix(word))
        if len(prefixes) == 1 and prefixes[0] not in out and _short_enough(prefixes[0]):
            out.append(query_term(word))  # a prefix of one piece also stands for its base forms
            continue
        for prefix in prefixes:
            if prefix not in out and _short_enough(prefix):
                out.append(prefix)
    return out[:MAX_QUERY_TERMS]
