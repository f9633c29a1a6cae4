"""What an operations review of the running service found, a section for each finding and
its fix; each test's name says what now holds."""

from __future__ import annotations

import logging

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from botocore.exceptions import ClientError
from consultation_support import english, make_round
from flask import current_app
from sqlalchemy import text
from support import app_settings, create_schema
from test_migrations import database_url, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.cli import GUNICORN_CONFIG
from forum.config import ConfigError, load_config
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import Document, OutboxMail
from forum.services import documents
from forum.services.mail import deliver_pending, queue_mail
from forum.services.storage import DiskStorage, S3Storage
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


# --- 2. a document whose file storage lost --------------------------------------------------


@pytest.fixture
def stored(app, make, client, tmp_path):
    """A readable round document, its bytes on disk (the local storage)."""
    english(client)
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")
    official = make.user("official")
    make.organisation(admin=make.user())  # someone to ask
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        document = documents.add_round_document(official, round_.id, "Karta.pdf", PDF)
    return db.session.get(Document, document.id)


PDF = simple_pdf(["Karta över stadsdelen"])


def document_url(document: Document) -> str:
    return f"/documents/{document.id}/{document.filename}"


def test_a_document_missing_from_disk_is_a_404_with_a_warning(stored, client, tmp_path, caplog):
    assert client.get(document_url(stored)).data == PDF
    (tmp_path / "documents" / stored.storage_key).unlink()  # a restore without it
    with caplog.at_level(logging.WARNING):
        response = client.get(document_url(stored))
    assert response.status_code == 404
    assert "No such document." in response.get_data(as_text=True)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(stored.id) in line and stored.storage_key in line for line in warned)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_preview_missing_from_storage_is_a_404(stored, client, tmp_path, caplog):
    key = "p" * 24 + ".png"
    stored.preview_key = key
    db.session.commit()
    (tmp_path / "documents" / key).write_bytes(b"\x89PNG\r\n\x1a\n")
    preview = f"/documents/{stored.id}/preview/first-page.png"
    assert client.get(preview).status_code == 200
    (tmp_path / "documents" / key).unlink()
    with caplog.at_level(logging.WARNING):
        response = client.get(preview)
    assert response.status_code == 404
    assert any(key in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_a_document_missing_from_s3_is_a_404_and_a_failing_s3_still_an_error(app, stored, client):
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="dokument")
        app.extensions["forum_storage"] = S3Storage("dokument", "forum/", client=s3)
        response = client.get(document_url(stored))  # never put there: NoSuchKey
    assert response.status_code == 404

    class Refusing:
        def get_object(self, **_kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "x"}}, "GetObject")

    app.extensions["forum_storage"] = S3Storage("dokument", client=Refusing())
    with pytest.raises(ClientError):  # a storage that fails is no missing document
        with app.test_request_context():
            documents.content(stored)


# --- 3. mail without SMTP -------------------------------------------------------------------


def test_production_without_an_smtp_host_is_refused_unless_mail_to_the_log_is_asked_for(
    tmp_path,
):
    settings = {k: v for k, v in PRODUCTION.items() if k != "FORUM_SMTP_HOST"}
    for host in (None, "", "  "):
        env = settings if host is None else {**settings, "FORUM_SMTP_HOST": host}
        with pytest.raises(ConfigError, match=r"FORUM_SMTP_HOST is not set.*FORUM_MAIL_TO_LOG=1"):
            load_config(tmp_path, env)
    with pytest.raises(ConfigError, match="FORUM_SMTP_HOST"):
        load_config(tmp_path, {**settings, "FORUM_MAIL_TO_LOG": "0"})
    with pytest.raises(ConfigError, match="FORUM_MAIL_TO_LOG='perhaps' is neither yes nor no"):
        load_config(tmp_path, {**settings, "FORUM_MAIL_TO_LOG": "perhaps"})
    config = load_config(tmp_path, {**settings, "FORUM_MAIL_TO_LOG": "1"})
    assert config["FORUM_SMTP_HOST"] is None
    assert load_config(tmp_path, PRODUCTION)["FORUM_SMTP_HOST"] == "smtp.example.se"
    assert load_config(tmp_path, {})["FORUM_SMTP_HOST"] is None  # development logs mail


def test_a_secret_mail_written_to_the_log_has_its_body_withheld(app, caplog):
    app.config["FORUM_SMTP_HOST"] = None
    with app.test_request_context():
        queue_mail("glomsk@example.se", "Nytt lösenord", "https://x.se/reset/HEMLIG", secret=True)
        queue_mail("svar@example.se", "Ett svar", "Någon svarade: hej då")
        db.session.commit()
        with caplog.at_level(logging.INFO, logger="forum.mail"):
            assert deliver_pending() == 2
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "forum.mail")
    assert "to=glomsk@example.se subject=Nytt lösenord" in logged
    assert "HEMLIG" not in logged and "/reset/" not in logged
    assert "[body withheld: it holds a single-use link]" in logged
    assert "Någon svarade: hej då" in logged  # not secret: the text, as before
    assert db.session.query(OutboxMail).filter(OutboxMail.sent_at.is_(None)).count() == 0


def test_the_example_settings_name_the_mail_opt_in():
    example = (GUNICORN_CONFIG.parent / "forum.env.example").read_text()
    assert "FORUM_SMTP_HOST=smtp.example.se" in example
    assert "# FORUM_MAIL_TO_LOG=0" in example
