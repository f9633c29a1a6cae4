"""What an operations review of the running service found, a section for each finding and
its fix; each test's name says what now holds."""

from __future__ import annotations

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from support import app_settings, create_schema
from test_migrations import database_url, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.extensions import db
from forum.web import health

PRODUCTION = {
    "FORUM_ENV": "production",
    "FORUM_SECRET_KEY": "k" * 48,
    "FORUM_DATABASE_URL": "postgresql://forum@db.example/forum",
    "FORUM_BASE_URL": "https://forum.example.se",
    "FORUM_PROXY_COUNT": "1",
    "FORUM_SMTP_HOST": "smtp.example.se",
}


# --- 1. /healthz and the schema's revision --------------------------------------------------


def stamp(revision: str) -> None:
    """Set the database's alembic_version as `flask db stamp` would (the schema unchanged)."""
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    with db.engine.begin() as connection:
        MigrationContext.configure(connection).stamp(script, revision)


@pytest.fixture
def own_database(database_url):  # noqa: F811 - the fixture imported above
    """An app on a database of its own (SQLite, and PostgreSQL when there is one) with the
    models' schema at the migrations' head, its context pushed."""
    application = create_app(app_settings(database_url))
    with application.app_context():
        create_schema()
        yield application
        db.session.remove()
        db.engine.dispose()


def test_healthz_is_503_while_the_schema_is_behind_the_code(own_database):
    """New code started before `flask db upgrade`: every page fails on a missing column, so
    the readiness check says so (monitoring and balancers take the process out)."""
    client = own_database.test_client()
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.get_json()["database"] == "ok"

    stamp("e37threadaccess")  # one migration behind the code's head
    behind = client.get("/healthz")
    assert behind.status_code == 503
    body = behind.get_json()
    assert body["status"] == "down"
    assert body["database"] == "schema behind: run flask db upgrade"
    assert set(body) == set(ok.get_json())  # the same answer's shape
    assert client.get("/healthz/live").status_code == 200  # the process itself serves

    stamp("heads")  # what `flask db upgrade` ends with
    assert client.get("/healthz").status_code == 200


def test_healthz_is_503_for_a_database_never_migrated_or_migrated_by_newer_code(own_database):
    client = own_database.test_client()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    never = client.get("/healthz")
    assert never.status_code == 503
    assert never.get_json()["database"] == "schema behind: run flask db upgrade"

    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('f99fromthefuture')"))
    ahead = client.get("/healthz")
    assert ahead.status_code == 503
    assert ahead.get_json()["database"].startswith("schema ahead: the database is at f99fromthe")


def test_the_code_head_is_read_once_per_process_not_per_request(client, monkeypatch):
    health.code_revisions.cache_clear()
    made: list[str] = []
    real = ScriptDirectory

    def counted(directory: str, *args, **kwargs):
        made.append(directory)
        return real(directory, *args, **kwargs)

    monkeypatch.setattr("alembic.script.ScriptDirectory", counted)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert len(made) == 1
