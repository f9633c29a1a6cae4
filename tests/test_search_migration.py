"""e27search: an existing index is rebuilt with the terms both databases now share."""

from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import text
from support import app_settings
from test_migrations import keep_logging, postgres_url, sqlite_url  # noqa: F401 (fixtures)

from forum import create_app, stemming
from forum.extensions import db

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

TITLE = "Samråd om område"
BODY = "Det är bra, skriv till mira.medlem om föreningarna"
ENTRY = (
    "INSERT INTO search_entries (id, kind, object_id, title, body, created_at) "
    "VALUES (7, 'organisation', 7, :title, :body, CURRENT_TIMESTAMP)"
)


def test_sqlite_index_is_rebuilt_with_the_new_terms_and_back(sqlite_url, keep_logging):  # noqa: F811
    app = create_app(app_settings(sqlite_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e26hidden")
            with db.engine.begin() as connection:
                connection.execute(text(ENTRY), {"title": TITLE, "body": BODY})
                # what the index held: folded before stemming ("samr", "omr")
                connection.execute(
                    text("INSERT INTO search_fts (rowid, title, body) VALUES (7, :t, :b)"),
                    {"t": "samr omr", "b": "bra skriv mir medlem foreningarn"},
                )
                connection.execute(text("INSERT INTO search_terms (term) VALUES ('samr')"))
            flask_migrate.upgrade()
            with db.engine.connect() as connection:
                row = connection.execute(text("SELECT title, body FROM search_fts")).one()
                terms = set(connection.scalars(text("SELECT term FROM search_terms")))
            assert tuple(row) == (stemming.index_text(TITLE), stemming.index_text(BODY))
            assert row.title == "samrad omrad"
            assert "samr" not in terms and {"samrad", "omrad", "forening", "medlem"} <= terms
            flask_migrate.downgrade(revision="e26hidden")
            with db.engine.connect() as connection:
                title = connection.scalar(text("SELECT title FROM search_fts"))
            assert title == "samr omr"
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.mark.postgres
def test_postgres_documents_are_rebuilt_from_the_python_terms_and_back(postgres_url, keep_logging):  # noqa: F811
    app = create_app(app_settings(postgres_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e26hidden")
            with db.engine.begin() as connection:
                connection.execute(text(ENTRY), {"title": TITLE, "body": BODY})
                before = connection.scalar(text("SELECT document::text FROM search_entries"))
            assert "'ar'" in before or "'är'" in before  # the stop word, indexed
            flask_migrate.upgrade()
            with db.engine.connect() as connection:
                same = connection.scalar(
                    text("SELECT document = CAST(:doc AS tsvector) FROM search_entries"),
                    {"doc": stemming.tsvector(TITLE, BODY)},
                )
                configs = connection.scalar(
                    text("SELECT count(*) FROM pg_ts_config WHERE cfgname = 'forum_swedish'")
                )
            assert same is True and configs == 0
            flask_migrate.downgrade(revision="e26hidden")
            with db.engine.connect() as connection:
                assert (
                    connection.scalar(text("SELECT document::text FROM search_entries")) == before
                )
        finally:
            db.session.remove()
            db.engine.dispose()
