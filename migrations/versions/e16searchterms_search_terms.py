"""search terms: the stems in the SQLite full-text index, for prefix queries that stay bounded

Revision ID: e16searchterms
Revises: e14reactions
Create Date: 2026-12-05 12:00:00

SQLite only (PostgreSQL's GIN index answers prefix queries itself). The table is
filled from the FTS5 index's own vocabulary, so existing databases need no reindex.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "e16searchterms"
down_revision = "e14reactions"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE IF NOT EXISTS search_terms (term TEXT PRIMARY KEY) WITHOUT ROWID")
    op.execute("CREATE VIRTUAL TABLE temp.search_fts_vocab USING fts5vocab(main, search_fts, 'row')")
    op.execute("INSERT OR IGNORE INTO search_terms (term) SELECT term FROM temp.search_fts_vocab")
    op.execute("DROP TABLE temp.search_fts_vocab")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_terms")
