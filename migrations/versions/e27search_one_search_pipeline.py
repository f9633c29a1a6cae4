"""one search pipeline: both databases index the terms forum/stemming.py makes

Revision ID: e27search
Revises: e26actiondecline
Create Date: 2026-12-06 07:00:00

Words were folded (å→a) before they were stemmed, so "samråd" was indexed as "samr" but
"samrådet" as "samrad"; now a word is stemmed as written and the stem folded. PostgreSQL
indexed with a configuration of its own (unaccent, then the Swedish stemmer and stop words,
PostgreSQL's parser), which kept "är" as "ar", read "mira.medlem" as one word and found
other things than SQLite; its `document` is now a plain tsvector column that the app writes
from the same Python terms as SQLite's FTS5 row (forum/services/search_index.py).

Every stored entry's terms are computed again here from its title and body, on both
databases: the FTS5 rows and `search_terms` on SQLite, `document` on PostgreSQL (filled in
batches, the GIN index built afterwards). The entries themselves are unchanged, so no
`flask search reindex` is needed. The terms come from the app's forum/stemming.py as it is
when this runs; a later change to it brings its own migration. The downgrade puts the
generated column back (PostgreSQL computes it) and, on SQLite, the old terms (folded, then
stemmed, copied below).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e27search"
down_revision = "e26actiondecline"
branch_labels = None
depends_on = None

BATCH = 2000

# e15search's configuration and generated column (copied: a migration does not change later).
POSTGRES_SETUP = """
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'unaccent is not available; searching without it';
    END;
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'forum_swedish') THEN
        CREATE TEXT SEARCH CONFIGURATION forum_swedish (COPY = pg_catalog.swedish);
        IF EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'unaccent') THEN
            ALTER TEXT SEARCH CONFIGURATION forum_swedish
                ALTER MAPPING FOR hword, hword_part, word WITH unaccent, swedish_stem;
        END IF;
    END IF;
END
$$
"""

GENERATED_DOCUMENT = """
ALTER TABLE search_entries ADD COLUMN document tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('forum_swedish'::regconfig, coalesce(title, '')), 'A') ||
    setweight(to_tsvector('forum_swedish'::regconfig, coalesce(body, '')), 'B')
) STORED
"""

GIN_INDEX = "CREATE INDEX ix_search_entries_document ON search_entries USING gin (document)"


def _entries(conn: Any) -> Iterator[list[Any]]:
    """Every search entry's (id, title, body), a batch at a time in id order."""
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, title, body FROM search_entries WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _refill_sqlite(conn: Any, index_text: Callable[[str], str]) -> None:
    """The FTS5 rows of every entry, and `search_terms`, from `index_text`."""
    conn.execute(sa.text("DELETE FROM search_fts"))
    for rows in _entries(conn):
        conn.execute(
            sa.text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, :title, :body)"),
            [
                {"id": r.id, "title": index_text(r.title or ""), "body": index_text(r.body or "")}
                for r in rows
            ],
        )
    conn.execute(sa.text("DELETE FROM search_terms"))
    conn.execute(
        sa.text(
            "CREATE VIRTUAL TABLE temp.search_fts_vocab USING fts5vocab(main, search_fts, 'row')"
        )
    )
    conn.execute(
        sa.text("INSERT OR IGNORE INTO search_terms (term) SELECT term FROM temp.search_fts_vocab")
    )
    conn.execute(sa.text("DROP TABLE temp.search_fts_vocab"))


def upgrade():
    from forum import stemming

    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_entries_document")
        op.execute("ALTER TABLE search_entries DROP COLUMN IF EXISTS document")
        op.execute("ALTER TABLE search_entries ADD COLUMN document tsvector")
        update = sa.text(
            "UPDATE search_entries SET document = CAST(:document AS tsvector) WHERE id = :id"
        )
        for rows in _entries(conn):
            conn.execute(
                update,
                [
                    {"id": r.id, "document": stemming.tsvector(r.title or "", r.body or "")}
                    for r in rows
                ],
            )
        op.execute(GIN_INDEX)
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS forum_swedish")
    elif conn.dialect.name == "sqlite":
        _refill_sqlite(conn, stemming.index_text)


def _folded_first(text: str) -> str:
    """e15search's terms: each word lower-cased and folded, then stemmed."""
    import snowballstemmer

    from forum import stemming

    stemmer = snowballstemmer.stemmer("swedish")
    out: list[str] = []
    for word in stemming.WORD.findall(text):
        lowered = word.lower()
        folded = stemming.fold(lowered)
        if lowered in stemming.stopwords() or folded in stemming.stopwords():
            continue
        out += stemming.WORD.findall(stemmer.stemWord(folded))
    return " ".join(out)


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_entries_document")
        op.execute("ALTER TABLE search_entries DROP COLUMN IF EXISTS document")
        op.execute(POSTGRES_SETUP)
        op.execute(GENERATED_DOCUMENT)
        op.execute(GIN_INDEX)
    elif conn.dialect.name == "sqlite":
        _refill_sqlite(conn, _folded_first)
