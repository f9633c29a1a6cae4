"""Swedish words to search terms: lower case, accents folded, Snowball-stemmed.

The same steps run when a text is indexed (SQLite) and when a query is parsed
(both databases), so "föreningar" and "förening" meet at "forening". PostgreSQL
indexes with its own `forum_swedish` configuration (unaccent + the same Snowball
algorithm); queries there are prefix queries on these stems, which also absorbs
the small differences between the two Snowball versions.
"""

from __future__ import annotations

import re
import unicodedata
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


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The indexed form of one word ('' for a stop word)."""
    lowered = word.lower()
    folded = fold(lowered)
    if lowered in stopwords() or folded in stopwords():
        return ""
    return str(_stemmer.stemWord(folded))


def query_prefix(word: str) -> str:
    """The prefix a query word matches: its stem without a trailing joining -s.

    "mötesplatserna" stems to "motesplats" but "mötesplats" to "motesplat";
    matching the prefix "motesplat" finds both, and compounds that start with it
    ("mötesplatsträff"), since Swedish inflections and compounds share their start.
    """
    current = stem(word)
    if len(current) > 4 and current.endswith("s"):
        current = current[:-1]
    return current


def index_text(text: str) -> str:
    """The stems of a text, space-separated, for the SQLite FTS5 table (a folded word can
    fall apart: "½" is "1⁄2", two tokens)."""
    return " ".join(token for w in WORD.findall(text) for token in WORD.findall(stem(w)))


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
        for prefix in WORD.findall(query_prefix(word)):
            if prefix not in out:
                out.append(prefix)
    return out[:MAX_QUERY_TERMS]
