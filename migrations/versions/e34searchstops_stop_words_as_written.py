"""search: a stop word is one as written, not once folded ("män" and "hår" are indexed)

Revision ID: e34searchstops
Revises: e33orgnumber
Create Date: 2026-12-08 18:00:00

forum/stemming.py dropped a word when its folded form was a stop word, so "män" (men),
"hår" (hair), "mån" and "hån" (folded "man", "har", "man", "han") were never indexed and
never found. A word is now a stop word only as written. This writes again the terms of
every entry that holds such a word (the FTS5 row and `search_terms` on SQLite, `document`
on PostgreSQL), with forum/stemming.py as it is when this runs, like e27search; the other
entries' terms do not change. The downgrade writes those entries' terms without the words.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e34searchstops"
down_revision = "e33orgnumber"
branch_labels = None
depends_on = None

BATCH = 2000


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


def _without_folded_stop_words(text: str) -> str:
    """The words of `text` but those that are a stop word only once folded ("män"): what
    e27search's terms were made of."""
    from forum import stemming

    def dropped(word: str) -> bool:
        lowered = unicodedata.normalize("NFKC", word).lower()
        stop = stemming.stopwords()
        return lowered not in stop and stemming.fold(lowered) in stop

    return " ".join(word for word in stemming.WORD.findall(text) if not dropped(word))


def _rewrite(before: Callable[[str], str], after: Callable[[str], str]) -> None:
    """The terms of the entries whose text reads differently through `before` and `after`
    (each a filter of the words), written again from the text through `after`."""
    from forum import stemming

    conn = op.get_bind()
    for rows in _entries(conn):
        changed = [
            r
            for r in rows
            if before(r.title or "") != after(r.title or "")
            or before(r.body or "") != after(r.body or "")
        ]
        if not changed:
            continue
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "UPDATE search_entries SET document = CAST(:document AS tsvector) "
                    "WHERE id = :id"
                ),
                [
                    {
                        "id": r.id,
                        "document": stemming.tsvector(after(r.title or ""), after(r.body or "")),
                    }
                    for r in changed
                ],
            )
        elif conn.dialect.name == "sqlite":
            values = [
                {
                    "id": r.id,
                    "title": stemming.index_text(after(r.title or "")),
                    "body": stemming.index_text(after(r.body or "")),
                }
                for r in changed
            ]
            conn.execute(sa.text("DELETE FROM search_fts WHERE rowid = :id"), values)
            conn.execute(
                sa.text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, :title, :body)"),
                values,
            )
            # none, when every changed entry is only such words on the way down ("Hår!")
            terms = sorted({t for v in values for t in f"{v['title']} {v['body']}".split()})
            if terms:
                conn.execute(
                    sa.text("INSERT OR IGNORE INTO search_terms (term) VALUES (:term)"),
                    [{"term": term} for term in terms],
                )


def _as_written(text: str) -> str:
    """The words of `text`, every one."""
    from forum import stemming

    return " ".join(stemming.WORD.findall(text))


def upgrade():
    _rewrite(_without_folded_stop_words, _as_written)


def downgrade():
    _rewrite(_as_written, _without_folded_stop_words)
