"""What an operations review of the running service found, a section for each finding and
its fix; each test's name says what now holds."""

from __future__ import annotations

import logging
import re
import runpy

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from botocore.exceptions import ClientError
from consultation_support import english, make_round
from flask import current_app
from sqlalchemy import text
from support import app_settings, create_schema
from test_config_review_fixes import PRODUCTION
from test_migrations import database_url, postgres_url  # noqa: F401 - fixtures

from forum import configure_logging, create_app
from forum.cli import GUNICORN_CONFIG
from forum.config import ConfigError, load_config
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import Document, OutboxMail
from forum.services import documents
from forum.services.mail import deliver_pending, queue_mail
from forum.services.storage import DiskStorage, S3Storage
from forum.web import health

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


# --- 4. FORUM_LOG_LEVEL ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["verbose", "trace", "20", "warn ing", "notset"])
def test_an_unknown_log_level_is_refused_with_the_allowed_ones(tmp_path, value):
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path, {"FORUM_LOG_LEVEL": value})
    message = str(refused.value)
    assert message.startswith("FORUM_LOG_LEVEL must be one of debug, info, warning, error, ")
    assert repr(value) in message


@pytest.mark.parametrize(
    "value, level", [("", "info"), ("DEBUG", "debug"), (" warning ", "warning"), ("error", "error")]
)
def test_known_log_levels_are_taken(tmp_path, value, level):
    assert load_config(tmp_path, {"FORUM_LOG_LEVEL": value})["FORUM_LOG_LEVEL"] == level


def test_the_app_and_gunicorn_refuse_an_unknown_log_level(monkeypatch, capsys):
    monkeypatch.setenv("FORUM_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigError, match="FORUM_LOG_LEVEL"):
        create_app()
    with pytest.raises(ConfigError, match="FORUM_LOG_LEVEL"):
        _configure_without_handlers({"FORUM_LOG_LEVEL": "verbose"})
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(GUNICORN_CONFIG))
    assert stopped.value.code == 1
    assert "Error: FORUM_LOG_LEVEL must be one of" in capsys.readouterr().err
    monkeypatch.setenv("FORUM_LOG_LEVEL", "Warning")
    assert runpy.run_path(str(GUNICORN_CONFIG))["loglevel"] == "warning"


def _configure_without_handlers(config: dict) -> None:
    """configure_logging as it runs where nobody configured logging (pytest has)."""
    forum_log, root = logging.getLogger("forum"), logging.getLogger()
    saved = (forum_log.handlers[:], forum_log.level, root.handlers[:])
    try:
        forum_log.handlers.clear()
        root.handlers.clear()
        configure_logging(config)
    finally:
        forum_log.handlers[:], root.handlers[:] = saved[0], saved[2]
        forum_log.setLevel(saved[1])


# --- 5. what a 500 logs ---------------------------------------------------------------------


def test_a_500_logs_the_request_and_who_asked_but_no_token(app, make, auth, client, monkeypatch):
    from forum.services import notifications

    def broken(*_args, **_kwargs):
        raise RuntimeError("the signing went wrong")

    monkeypatch.setattr(notifications, "unsubscribe", broken)
    user = make.user()
    auth.login(user)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    app.logger.addHandler(handler)
    try:
        response = client.post("/notifications/unsubscribe/SECRET-TOKEN-123?from=SECRET-Q")
    finally:
        app.logger.removeHandler(handler)
    assert response.status_code == 500
    [record] = [r for r in records if r.levelno == logging.ERROR]
    line = record.getMessage()
    assert line == (
        f"unhandled error in POST /notifications/unsubscribe/<token>?from=… (user {user.id})"
    )
    assert record.exc_info is not None  # the traceback as before
    assert "SECRET" not in line


def test_a_500_logs_the_path_of_a_route_without_secrets_and_a_visitor(
    app, make, client, monkeypatch
):
    forum = make.forum()

    def broken(*_args, **_kwargs):
        raise RuntimeError("no")

    monkeypatch.setattr("forum.web.forums.render_template", broken)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    app.logger.addHandler(handler)
    try:
        response = client.get(f"/forums/{forum.slug}?page=2&q=namn%0Aforged")
    finally:
        app.logger.removeHandler(handler)
    assert response.status_code == 500
    [record] = [r for r in records if r.levelno == logging.ERROR]
    assert record.getMessage() == (
        f"unhandled error in GET /forums/{forum.slug}?page=…&q=… (user -)"
    )


# --- 5b. SQL errors' values in production ---------------------------------------------------


def test_production_logs_database_errors_without_their_values(tmp_path):
    production = load_config(tmp_path, PRODUCTION)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert production["hide_parameters"] is True
    sqlite_production = load_config(
        tmp_path,
        {**PRODUCTION, "FORUM_DATABASE_URL": "sqlite:///x.db", "FORUM_ALLOW_SQLITE": "1"},
    )["SQLALCHEMY_ENGINE_OPTIONS"]
    assert sqlite_production["hide_parameters"] is True
    development = load_config(tmp_path, {"FORUM_DATABASE_URL": PRODUCTION["FORUM_DATABASE_URL"]})
    assert "hide_parameters" not in development["SQLALCHEMY_ENGINE_OPTIONS"]


def test_a_production_engine_hides_the_values_of_a_failed_statement(tmp_path):
    from sqlalchemy import create_engine
    from sqlalchemy.exc import IntegrityError

    options = load_config(
        tmp_path,
        {**PRODUCTION, "FORUM_DATABASE_URL": "sqlite:///x.db", "FORUM_ALLOW_SQLITE": "1"},
    )["SQLALCHEMY_ENGINE_OPTIONS"]
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}", **options)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (email TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO t VALUES (:e)"), {"e": "hemlig@example.se"})
    with pytest.raises(IntegrityError) as failed, engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (:e)"), {"e": "hemlig@example.se"})
    assert "hemlig@example.se" not in str(failed.value)
    assert "hidden due to hide_parameters" in str(failed.value)
    engine.dispose()


# --- 6. TCP keepalives to PostgreSQL --------------------------------------------------------


def test_postgresql_connections_detect_a_dead_peer_within_about_30_seconds(tmp_path):
    args = load_config(tmp_path, PRODUCTION)["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert args["keepalives"] == 1
    assert args["keepalives_idle"] + args["keepalives_interval"] * args["keepalives_count"] <= 30
    assert args["tcp_user_timeout"] <= 30_000  # milliseconds
    assert args["connect_timeout"] == 3
    # SQLite takes none of them
    sqlite = load_config(tmp_path, {})["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert "keepalives" not in sqlite


def test_the_keepalives_reach_libpq(tmp_path, db_url):
    """A connection made with the production engine's options has them in libpq."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (FORUM_TEST_DATABASE_URL)")
    from sqlalchemy import create_engine

    options = load_config(tmp_path, {**PRODUCTION, "FORUM_DATABASE_URL": db_url})
    engine = create_engine(
        options["SQLALCHEMY_DATABASE_URI"], **options["SQLALCHEMY_ENGINE_OPTIONS"]
    )
    try:
        with engine.connect() as connection:
            taken = connection.connection.dbapi_connection.info.get_parameters()
    finally:
        engine.dispose()
    assert taken["keepalives"] == "1"
    assert (taken["keepalives_idle"], taken["keepalives_interval"]) == ("10", "5")
    assert (taken["keepalives_count"], taken["tcp_user_timeout"]) == ("3", "30000")


# --- 7. every setting documented -------------------------------------------------------------

ROOT = GUNICORN_CONFIG.parent.parent


def settings_read() -> set[str]:
    """The FORUM_* names forum/config.py, the app's logging and deploy/gunicorn.conf.py read."""
    sources = ("forum/config.py", "forum/__init__.py", "deploy/gunicorn.conf.py")
    found: set[str] = set()
    for source in sources:
        found |= set(re.findall(r"\bFORUM_[A-Z0-9_]*[A-Z0-9]\b", (ROOT / source).read_text()))
    return found


def test_every_setting_is_in_the_readme_configuration_table():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") : readme.index("### Production and scale")]
    documented: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`(FORUM_[A-Z0-9_]+)`", line.split("|")[1]))
    assert {"FORUM_ACCESSIBILITY_CONTACT", "FORUM_PROC_NAME"} <= settings_read()
    assert settings_read() - documented == set()


def test_the_example_settings_name_documents_s3_and_where_its_credentials_go():
    example = (ROOT / "deploy" / "forum.env.example").read_text()
    commented = dict(
        line.removeprefix("# ").split("=", 1)
        for line in example.splitlines()
        if re.fullmatch(r"# (FORUM|AWS)_[A-Z0-9_]+=.*", line)
    )
    for name in (
        "FORUM_ACCESSIBILITY_CONTACT",
        "FORUM_PROC_NAME",
        "FORUM_DOCUMENT_STORAGE",
        "FORUM_DOCUMENT_DIR",
        "FORUM_S3_BUCKET",
        "FORUM_S3_ENDPOINT_URL",
        "FORUM_S3_REGION",
        "FORUM_S3_PREFIX",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        assert name in commented, name
    assert "ProtectHome=yes" in example and "~/.aws" in example
    # the example's own lines with its commented ones taken in (the last of a name wins:
    # object storage) are settings production starts with
    settings = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    settings.update(commented, FORUM_SECRET_KEY="0123456789abcdef" * 4)
    config = load_config(ROOT / "instance", settings)
    assert config["FORUM_DOCUMENT_STORAGE"] == "s3" and config["FORUM_S3_BUCKET"]
    assert config["FORUM_ACCESSIBILITY_CONTACT"] == "tillganglighet@example.se"
