"""The search index: one row per searchable thing, kept current in the writing transaction.

The words live in `search_entries` on both databases, and both index the same terms,
made in Python by forum/stemming.py (stemmed, then folded; stop words dropped), so
the two find the same things. PostgreSQL adds a `tsvector` column (`document`, written
with the entry from `stemming.tsvector`: tsvector input, which no parser, dictionary
or stop-word list of PostgreSQL's touches) with a GIN index; SQLite adds
an FTS5 table `search_fts` holding the same terms, and
`search_terms`, every stem ever indexed: a query's prefix ("motesplat") is looked
up there and matched as the few whole stems it stands for, because FTS5 answers a
prefix query by merging every matching doclist first, which grows with the data.
Both are created by the migration and, for `create_all`, by the DDL listeners below.
Visibility is never stored here: queries join the live rows (forums, messages,
rounds) so a hidden message or an invite-only forum disappears at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .base import UTCDateTime, utcnow

KINDS = (
    "message",
    "thread",
    "forum",
    "round",
    "response",
    "feedback",
    "organisation",
    "action",
)


class SearchEntry(Model):
    """The searchable text of one message, thread, forum, round, response, ... ."""

    __tablename__ = "search_entries"
    __table_args__ = (
        UniqueConstraint("kind", "object_id"),
        Index("ix_search_entries_created_id", "created_at", "id"),
        Index("ix_search_entries_thread_kind", "thread_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int]
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    forum_id: Mapped[int | None] = mapped_column(index=True)
    thread_id: Mapped[int | None]
    round_id: Mapped[int | None] = mapped_column(index=True)
    organisation_id: Mapped[int | None] = mapped_column(index=True)
    department_id: Mapped[int | None] = mapped_column(index=True)
    author_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- database-specific parts (the migration runs the same statements) --------

# PostgreSQL is given the terms, not the text (e27search): its own configuration (e15search's
# forum_swedish, unaccent before the Swedish stemmer) folded before stemming and before the
# stop-word list ("är" was indexed as "ar"), and its parser split words unlike SQLite's
# ("mira.medlem" was one host name), so the two databases found different things. Python's
# terms rather than a configuration that stems before unaccent: PostgreSQL cannot fold a stem
# (a stemmer ends its dictionary chain) and its parser would still split words unlike SQLite.
POSTGRES_DOCUMENT = [
    "ALTER TABLE search_entries ADD COLUMN document tsvector",
    "CREATE INDEX ix_search_entries_document ON search_entries USING gin (document)",
]

SQLITE_SETUP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "title, body, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS search_entries_fts_delete AFTER DELETE ON search_entries "
    "BEGIN DELETE FROM search_fts WHERE rowid = old.id; END",
    "CREATE TABLE IF NOT EXISTS search_terms (term TEXT PRIMARY KEY) WITHOUT ROWID",
]

SQLITE_TEARDOWN = [
    "DROP TABLE IF EXISTS search_terms",
    "DROP TRIGGER IF EXISTS search_entries_fts_delete",
    "DROP TABLE IF EXISTS search_fts",
]

_table = SearchEntry.__table__
for statement in POSTGRES_DOCUMENT:
    event.listen(_table, "after_create", DDL(statement).execute_if(dialect="postgresql"))
for statement in SQLITE_SETUP:
    event.listen(_table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
for statement in SQLITE_TEARDOWN:
    event.listen(_table, "before_drop", DDL(statement).execute_if(dialect="sqlite"))


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Alembic: the search parts no model describes (FTS5 tables, tsvector column) are ours."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "table" and name is not None and name.startswith(("search_fts", "search_terms")):
        return False
    if type_ == "column" and name == "document" and obj.table.name == "search_entries":
        return False
    if type_ == "index" and name == "ix_search_entries_document":
        return False
    return True
