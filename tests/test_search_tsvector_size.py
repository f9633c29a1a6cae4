"""Search: PostgreSQL's `document` stays within the 1,048,575 bytes a
tsvector holds. A response of 15 long answers of distinct Hangul words (a syllable folds
into three jamo, 9 bytes) made one larger, and its submission answered 500 ("string is too
long for tsvector"); the index now stops before the limit, the text is stored whole."""

from __future__ import annotations

import re

import pytest
from consultation_support import round_input
from sqlalchemy import select, text

from forum import stemming
from forum.extensions import db
from forum.models import ResponseVersion, SearchEntry, VersionAnswer
from forum.services import consultations as service

TSVECTOR_LIMIT = 1_048_575  # PostgreSQL's MAXSTRPOS
ANSWERS = 15
PER_ANSWER = service.MAX_ANSWER // 228  # words of 227 characters and a space


def syllable(n: int) -> str:
    """A Hangul syllable with a final consonant: three jamo once folded (NFKD)."""
    return chr(0xAC01 + 28 * n)


def word(n: int) -> str:
    """The n-th distinct word of 227 syllables: 2,043 bytes folded, as long as a term gets."""
    return syllable(n // 300) + syllable(n % 300) + syllable(0) * 225


def answers() -> list[str]:
    """ANSWERS answers of at most MAX_ANSWER characters, every word in them distinct."""
    return [" ".join(word(a * PER_ANSWER + i) for i in range(PER_ANSWER)) for a in range(ANSWERS)]


ENTRY = re.compile(r"'((?:[^']|'')*)':(\S+)")


def tsvector_bytes(document: str) -> int:
    """What PostgreSQL counts of a tsvector's input against its limit: each lexeme's bytes,
    padded to an even count, then 2 bytes for its positions' count and 2 for each position."""
    total = 0
    for lexeme, positions in ENTRY.findall(document):
        size = len(lexeme.replace("''", "'").encode())
        total += size + size % 2 + 2 + 2 * len(positions.split(","))
    return total


def test_a_tsvector_stops_before_postgresqls_limit():
    body = "\n".join(answers())
    assert len(body.split()) * 2048 > TSVECTOR_LIMIT  # the whole text would not fit
    document = stemming.tsvector("Svar på rundan", body)
    assert tsvector_bytes(document) <= 1_000_000
    lexemes = [lexeme for lexeme, _positions in ENTRY.findall(document)]
    assert lexemes[:3] == ["svar", "rundan", stemming.fold(word(0))]  # the title, then the body
    assert stemming.fold(word(400)) in lexemes  # indexed as far as the budget goes
    assert stemming.fold(word(ANSWERS * PER_ANSWER - 1)) not in lexemes  # the last word is not


def test_a_small_text_is_indexed_as_before():
    assert stemming.tsvector(
        "Samråd om mötesplatser", "Samrådet och föreningarna: samråd, it's"
    ) == ("'samrad':1A,3B,5B 'motesplats':2A 'forening':4B 'it':6B 's':7B")
    # a lexeme repeated keeps 256 positions, each at most 16383, however long the text
    document = stemming.tsvector("", " ".join(["ord"] * 20_000))
    (only,) = ENTRY.findall(document)
    assert only[0] == "ord" and len(only[1].split(",")) == 256


@pytest.fixture
def postgresql_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's tsvector limit: SQLite's FTS5 index has none")


def test_the_longest_text_casts_to_a_tsvector(app, postgresql_only):
    document = stemming.tsvector("Svar", "\n".join(answers()))
    lexemes = db.session.scalar(text("SELECT length(CAST(:d AS tsvector))"), {"d": document})
    assert lexemes == len(ENTRY.findall(document))


def test_a_response_of_long_hangul_answers_is_submitted_and_searchable(app, make, postgresql_only):
    official = make.user("official")
    chair = make.user()
    org = make.organisation(admin=chair)
    questions = [(f"Fråga {n}", "") for n in range(1, ANSWERS + 1)]
    with app.test_request_context():
        made = service.create_round(official, round_input(make, questions=questions))
        service.open_round(official, made.id)
    texts = answers()
    with app.test_request_context():
        service.save_response(
            chair,
            made.id,
            org.id,
            {q.id: texts[n] for n, q in enumerate(made.questions)},
            submit=True,
        )
    version = db.session.scalar(select(ResponseVersion))
    assert version is not None
    stored = db.session.scalars(
        select(VersionAnswer.body).where(VersionAnswer.version_id == version.id)
    ).all()
    assert sorted(stored) == sorted(texts)  # the text is kept whole
    entry = db.session.scalar(select(SearchEntry).where(SearchEntry.kind == "response"))
    assert entry is not None
    first, last = stemming.fold(word(0)), stemming.fold(word(ANSWERS * PER_ANSWER - 1))
    found = db.session.execute(
        text(
            "SELECT document @@ CAST(:first AS tsquery), document @@ CAST(:last AS tsquery) "
            "FROM search_entries WHERE id = :id"
        ),
        {"first": f"'{first}'", "last": f"'{last}'", "id": entry.id},
    ).one()
    assert tuple(found) == (True, False)
