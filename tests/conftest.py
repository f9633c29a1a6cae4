"""Test fixtures: app, db, client, factories, login helper, socket clients.

The database is SQLite by default; set FORUM_TEST_DATABASE_URL (CI does, to
PostgreSQL) to run the same suite there. The schema is created once per session
from the models (tests/test_migrations.py checks models and migrations agree)
and every table is emptied after each test.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import g
from flask_sqlalchemy import SQLAlchemy
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import event, text
from werkzeug.routing import Rule

os.environ.setdefault("FORUM_SECRET_KEY", "test-secret-key")
os.environ.setdefault("FORUM_DEMO", "0")
# Uploaded documents of every test app go to a throwaway folder, never the instance folder.
_DOCUMENTS = tempfile.mkdtemp(prefix="forum-test-documents-")
atexit.register(shutil.rmtree, _DOCUMENTS, True)
os.environ.setdefault("FORUM_DOCUMENT_DIR", _DOCUMENTS)
os.environ.setdefault("FORUM_DIGEST_SCHEDULER", "0")  # server processes started by tests too
# Each test run has a Redis namespace of its own (server processes inherit it), so two runs
# on one Redis (CI's SQLite and PostgreSQL stages, two engineers) never hear each other's
# broadcasts, disconnects or presence. Tests that are about the prefix set their own.
os.environ.setdefault("FORUM_REDIS_PREFIX", f"pytest-{os.getpid()}-{os.urandom(3).hex()}")

from support import (  # noqa: E402,F401
    IN_CI,
    PASSWORD,
    Auth,
    Factory,
    app_settings,
    check_ci_stages,
    create_schema,
    database_url,
    service_missing,
)

from forum import create_app  # noqa: E402
from forum.extensions import db as _db  # noqa: E402
from forum.extensions import socketio  # noqa: E402

# One engine per database and engine options for the whole run, not one per test app:
# an engine keeps the SQL it has compiled (a fresh one compiled every statement of every
# test again, about a sixth of a test's time). Its pooled connections outlive a test, as
# they outlive a request in a server: the pool rolls each one back when it is returned, and
# pre-pings PostgreSQL's (app_settings). A fresh connection for every test (SQLite's
# PRAGMAs and WAL set-up, a new PostgreSQL backend with empty caches) was a fifth of the
# time of the tests of rounds and organisations. A test that needs fresh ones disposes.
_ENGINES: dict[str, object] = {}
_make_engine = SQLAlchemy._make_engine


def _shared_engine(self, bind_key, options, app):
    key = repr(sorted(options.items(), key=lambda item: item[0]))
    if key not in _ENGINES:
        if str(options.get("url", "")).startswith("postgresql"):
            # A commit of the suite's own database does not wait for the disk (it is seen
            # at once all the same): the PostgreSQL stage spent about a tenth of its time
            # there. Databases a test starts and stops itself keep their waits.
            connect_args = dict(options.get("connect_args", {}))
            connect_args["options"] = "-c synchronous_commit=off"
            options = {**options, "connect_args": connect_args}
        _ENGINES[key] = _make_engine(self, bind_key, options, app)
    return _ENGINES[key]


SQLAlchemy._make_engine = _shared_engine  # type: ignore[method-assign]


class _SharedTemplateCode(BytecodeCache):
    """Every test app's Jinja environment keeps the code it compiled here, so a template is
    compiled once per run, not once per test (compiling was about a tenth of a test's time).
    Jinja checks each template's source checksum before using what is kept."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATE_CODE = _SharedTemplateCode()
_compile_rule = Rule.compile
_COMPILED: dict[tuple, tuple] = {}


def _shared_compile(self: Rule) -> None:
    """Werkzeug parses every rule of every app into the parts its matcher walks and compiles
    two URL builders for it: together about three quarters of making a test app. What it
    makes depends only on the rule's class, text, host part and the names of its defaults,
    and on its map's options and converter classes, so the run makes each once. A default
    standing in for a part of the URL is built into the builders' code: such rules are
    compiled as before. A converter is then shared by the apps: it keeps its arguments and
    the first app's map, which no converter of ours or Werkzeug's reads."""
    url_map = self.map
    key = (
        type(self),
        self.rule,
        self.subdomain,
        self.host,
        self.merge_slashes,
        tuple(map(str, self.defaults or {})),
        url_map.host_matching,
        tuple(url_map.converters.items()),
    )
    made = _COMPILED.get(key)
    if made is None:
        _compile_rule(self)
        defaults = self.defaults or {}
        if not any(dynamic and part in defaults for dynamic, part in self._trace):
            builders = (self._build.__func__, self._build_unknown.__func__)  # type: ignore[attr-defined]
            _COMPILED[key] = (tuple(self._parts), tuple(self._trace), self._converters, *builders)
        return
    parts, trace, converters, build, build_unknown = made
    self._parts, self._trace, self._converters = list(parts), list(trace), dict(converters)
    self.arguments.update(converters)
    self._build = build.__get__(self, None)
    self._build_unknown = build_unknown.__get__(self, None)


Rule.compile = _shared_compile  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = database_url(tmp_path_factory)
    app = create_app(app_settings(url))
    with app.app_context():
        _db.drop_all()
        create_schema()
        from forum.services.agreement import seed_agreement

        seed_agreement()
    yield url
    with app.app_context():
        _db.drop_all()
        _db.engine.dispose()


def _empty_tables(keep: set[str]) -> None:
    """Every table but `keep` emptied in one call to the database's driver, not one per
    table: a sixth of an empty test's time on PostgreSQL, a tenth on SQLite."""
    emptied = [table for table in reversed(_db.metadata.sorted_tables) if table.name not in keep]
    preparer = _db.engine.dialect.identifier_preparer
    names = [preparer.format_table(table) for table in emptied]  # the models', quoted
    postgresql = _db.engine.dialect.name == "postgresql"
    if not postgresql:
        names.append("search_terms")  # no model: SQLite's FTS5 stems
    script = "".join(f"DELETE FROM {name};" for name in names)  # noqa: S608
    if postgresql:
        _db.session.execute(text(script))  # psycopg sends statements without parameters together
    else:
        # one transaction (executescript commits an open one first; nothing is open here)
        driver = _db.session.connection().connection.driver_connection
        driver.executescript(f"BEGIN;{script}COMMIT;")
    _db.session.commit()


@pytest.fixture
def app(db_url: str, request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh app on the shared test database; tables are emptied afterwards. Its instance
    folder (where "download my data" copies go) is the test's own, not the repository's."""
    extra = getattr(request, "param", None) or {}
    marker = request.node.get_closest_marker("config")
    if marker:
        extra = {**extra, **marker.kwargs}
    application = create_app(app_settings(db_url, **extra))
    application.jinja_env.bytecode_cache = _TEMPLATE_CODE
    application.instance_path = str(tmp_path / "instance")

    @application.before_request
    def _forget_cached_user() -> None:
        # The fixture keeps one app context pushed, so `g` outlives requests here;
        # a real server starts every request with a fresh `g` (user, locale, CSRF token).
        for key in list(g):
            g.pop(key)

    ctx = application.app_context()
    ctx.push()
    yield application
    _db.session.rollback()
    _empty_tables({"principles", "commitments", "departments"})
    _db.session.remove()
    ctx.pop()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture(autouse=True)
def _as_without_pdf_tools(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Every test runs as on a machine without poppler-utils (pdfinfo, pdftoppm), whatever
    this one has: an uploaded PDF gets no page count and no first-page image. With them
    installed, as production's README suggests, seven tests of stored files found a preview
    file they did not expect, and every upload ran two programs. A test about previews says
    `pdf_tools` (it fakes the programs) or sets its own `pdf_preview`."""
    if request.node.get_closest_marker("pdf_tools") is None:
        from forum.services import documents

        monkeypatch.setattr(documents, "pdf_preview", lambda _data: (None, None))


@pytest.fixture
def clients():
    """Socket.IO clients of a real server process (test_delivery.Client) that a test opens;
    each is closed after the test, whatever happened."""
    made: list = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app) -> Factory:
    return Factory(app)


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def socket_for(app):
    """socket_for(user_or_None) -> a Socket.IO test client sharing a logged-in HTTP client."""
    made = []

    def connect(user=None):
        http = app.test_client()
        if user is not None:
            Auth(http).login(user)
        sock = socketio.test_client(app, flask_test_client=http)
        made.append(sock)
        return sock

    yield connect
    for sock in made:
        if sock.is_connected():
            sock.disconnect()


class QueryCounter:
    """Count SQL statements issued while the context is active."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _count(self, conn, cursor, statement, *args) -> None:
        self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(db):
    return lambda: QueryCounter(db.engine)


@pytest.fixture
def row_locks(db_url: str) -> None:
    """For a test of requests at the same moment: skipped on SQLite, which has no row locks
    and one writer at a time (they run in CI's PostgreSQL stage)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks (FOR UPDATE) and one writer at a time")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "config(**settings): extra app settings for the test")
    Path("test-artifacts").mkdir(exist_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `own_database` every test that does not use the suite's database (the `db_url`
    fixture, FORUM_TEST_DATABASE_URL): it makes its own (a migration's scratch database, the
    browser tests' server, a fresh PostgreSQL for two processes) or needs none. Such a test
    does the same work whichever database the run is on, so CI runs it once: in the
    PostgreSQL stage, and the browser tests in the SQLite stage (.ci/run). So does a test
    marked ci_postgresql or ci_sqlite: it uses the suite's database, but what it tests
    does not depend on which (tests/test_ci_stages.py)."""
    for item in items:
        if "db_url" not in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.own_database)
    # The cases of a ci_alternate test (the permission matrix's cells, the route fuzz's
    # roles) go to CI's two stages in turn: each runs once, on one database. Both stages
    # collect the same items in the same order, so they agree on which is whose; a run
    # outside CI runs them all.
    alternate = [item for item in items if item.get_closest_marker("ci_alternate")]
    for i, item in enumerate(alternate):
        item.add_marker(pytest.mark.ci_sqlite if i % 2 == 0 else pytest.mark.ci_postgresql)
    check_ci_stages(items)
