"""Helpers shared by the test packages (importable as `support`)."""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery"


def service_missing(what: str) -> None:
    """Skip a test whose service is missing; under CI that is a failure instead."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI but is not available")
    pytest.skip(f"{what} not available")


def unit_settings(path: Path) -> dict[str, list[str]]:
    """A systemd unit's settings, each key with its values in order (ExecStart= repeats)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("FORUM_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def app_settings(url: str, **extra: object) -> dict[str, object]:
    config: dict[str, object] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
        "WTF_CSRF_ENABLED": False,
        "FORUM_PASSWORD_HASH": "pbkdf2:sha256:1000",
        "FORUM_DEMO": False,
        "FORUM_REDIS_URL": None,
        "SERVER_NAME": "localhost",
        "FORUM_BASE_URL": "http://localhost",
    }
    if url.startswith("sqlite"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"timeout": 30, "check_same_thread": False}
        }
    else:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    config.update(extra)
    return config


def create_schema() -> None:
    """The models' tables (create_all), stamped with the migrations' head(s) as `flask db
    upgrade` leaves a database: /healthz answers 503 for a schema that is not at the head
    (forum.web.health). In the app's context."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask import current_app
    from sqlalchemy import text

    from forum.extensions import db

    db.create_all()
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))  # an earlier run's
        MigrationContext.configure(connection).stamp(script, "heads")


class Auth:
    """Log a test client in (through the session, like a real login) and out."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, user) -> None:
        """A server-side session row, and the signed cookie naming it (like a real login)."""
        from forum.services.accounts import open_session

        with self.client.application.test_request_context():
            row, _token = open_session(user, "pytest", remember=False)
            key = row.key
        with self.client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session["nonce"] = key

    def logout(self) -> None:
        with self.client.session_transaction() as session:
            session.clear()


CSRF_TOKEN = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")([^"]*)"')


def csrf_tokens(page: str) -> set[str]:
    """The CSRF tokens a page carries, in its forms and its meta tag."""
    return {token for _, token in CSRF_TOKEN.findall(page)}


def at_once(app, work: Callable[[int], Any], n: int, timeout: float = 30) -> list[Any]:
    """Run `work(0)` … `work(n - 1)` in n threads, each in a request context of its own (so a
    session of its own, removed after); each one's result, or the exception it raised."""

    def run(i: int) -> Any:
        with app.test_request_context():
            try:
                return work(i)
            except BaseException as err:  # noqa: BLE001 — returned for the test to report
                return err
            finally:
                _session().remove()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n), timeout=timeout))


def steps_at_once(
    app,
    steps: list[Callable[..., object]],
    people: list[int] | None = None,
    pause_after: str | None = None,
) -> list[object]:
    """The steps run at once, each in a request of its own, released together by a barrier
    (bounded in time); each one's "ok" or the exception it raised. With `people` (user ids),
    step i is called with person i, loaded in its own session.

    `pause_after` (a pattern of SQL): the other steps start only once step 0 has run a
    statement it matches, and step 0 pauses a moment right after it. So they come while
    step 0 is between that statement (a lock, a read) and its commit, every time, not only
    when the threads happen to interleave so."""
    from sqlalchemy import event  # noqa: PLC0415

    from forum.models import User  # noqa: PLC0415 (conftest sets the environment first)

    ready = threading.Barrier(len(steps), timeout=10)
    reached = threading.Event()
    first: list[int] = []

    def pause_once(_conn, _cursor, statement: str, *_args) -> None:
        mine = first and threading.get_ident() == first[0]
        if mine and re.search(pause_after or "", statement) and not reached.is_set():
            reached.set()
            time.sleep(0.05)  # the other steps read (or wait for the lock) meanwhile

    def act(i: int) -> object:
        person = _session().get(User, people[i]) if people is not None else None
        ready.wait()
        if i == 0:
            first.append(threading.get_ident())
        elif pause_after is not None:
            assert reached.wait(10), f"step 0 never ran {pause_after!r}"
        if person is None:
            steps[i]()
        else:
            steps[i](person)
        return "ok"

    if pause_after is None:
        return at_once(app, act, len(steps))
    engine = _session().get_bind()
    event.listen(engine, "after_cursor_execute", pause_once)
    try:
        return at_once(app, act, len(steps))
    finally:
        event.remove(engine, "after_cursor_execute", pause_once)


def one_inside_the_other(
    app,
    first: Callable[..., object],
    second: Callable[..., object],
    people: list[int],
    after: str,
    patience: float = 10,
) -> list[object]:
    """`first` (as person people[0]) runs until it has executed SQL matching `after`, then
    waits while `second` (as people[1]) runs to its end, commit included; then `first` goes
    on. Each in a request of its own, as two server processes would: the one interleaving
    that a race needs, every time. If `first` holds a lock that `second` waits for, `first`
    goes on after `patience` seconds and `second` once `first` commits (bounded)."""
    from sqlalchemy import event  # noqa: PLC0415

    from forum.models import User  # noqa: PLC0415

    paused, finished = threading.Event(), threading.Event()
    owner: list[int] = []

    def hold(_conn, _cursor, statement: str, *_args) -> None:
        mine = owner and threading.get_ident() == owner[0]
        if mine and not paused.is_set() and re.search(after, statement):
            paused.set()
            finished.wait(patience)

    def act(i: int) -> object:
        person = _session().get(User, people[i])
        if i == 0:
            owner.append(threading.get_ident())
            first(person)
            return "ok"
        assert paused.wait(10), f"the first step never ran {after!r}"
        try:
            second(person)
        finally:
            finished.set()
        return "ok"

    engine = _session().get_bind()
    event.listen(engine, "after_cursor_execute", hold)
    try:
        return at_once(app, act, 2)
    finally:
        event.remove(engine, "after_cursor_execute", hold)


def stored_count(*where: Any) -> int:
    """How many rows match `where`, read afresh: what the threads committed, not the copies
    this session holds."""
    from sqlalchemy import func, select  # noqa: PLC0415

    session = _session()
    session.expire_all()
    return session.scalar(select(func.count()).where(*where))


def propose_from_message(app, user, department, message, title: str = "Kvällsöppet") -> Any:
    """An action `user` proposes from `message`, owned by `department`, due in 60 days, on
    its thread's first commitment (accepted at once when `user` is one of its officials)."""
    from datetime import timedelta

    from forum.services import follow_up

    with app.test_request_context():
        return follow_up.propose_action(
            user,
            follow_up.ActionInput(
                title=title,
                owner=f"department:{department.id}",
                due_date=(follow_up.today() + timedelta(days=60)).isoformat(),
                commitment_ids=[message.thread.commitments[0].id],
                message_id=message.id,
            ),
        )


def form_login(client, user) -> None:
    """Log in through the login form with its CSRF token (tests with WTF_CSRF_ENABLED)."""
    page = client.get("/login").get_data(as_text=True)
    token = sorted(csrf_tokens(page))[0]
    done = client.post(
        "/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD}
    )
    assert done.status_code in (302, 303)


def without_csrf_tokens(page: str) -> str:
    """The page with its CSRF tokens blanked. Flask-WTF signs each token with the second it
    was made, so two renderings of the same page differ across a second boundary."""
    return CSRF_TOKEN.sub(r'\1"', page)


# The factory is here, not in conftest.py, so a test that builds its own app (a migrated
# database) can import it: "conftest" names tests/browser/conftest.py too.
_counter = itertools.count(1)


def _session() -> Any:
    from forum.extensions import db  # noqa: PLC0415 (conftest sets the environment first)

    return db.session


class Factory:
    """Build users, organisations, forums, threads and messages through the services."""

    def __init__(self, app) -> None:
        self.app = app

    def user(
        self,
        role: str = "member",
        name: str | None = None,
        email: str | None = None,
        department: str = "Social resursnämnd",
    ):
        from forum.errors import Invalid
        from forum.services import accounts

        for _attempt in range(5):
            n = next(_counter)
            chosen = name or f"{role.title()} Person{n}"
            try:
                with self.app.test_request_context():
                    return accounts.create_user_with_role(
                        email or f"{role}{n}@example.se",
                        chosen,
                        PASSWORD,
                        role,
                        department if role == "official" else None,
                    )
            except Invalid as err:
                # A made-up name can look like an official's to the imitation check, which
                # folds confusables ("Person4416" looks like "Person4410"): take the next.
                if name is not None or err.field != "display_name":
                    raise
        raise AssertionError("no made-up name passed the imitation check")

    def organisation(self, admin=None, verified: bool = True, name: str | None = None, members=()):
        from forum.models import MemberRole, Organisation, OrganisationForm, OrganisationStatus

        n = next(_counter)
        org = Organisation(
            slug=f"org-{n}",
            name=name or f"Förening {n}",
            form=OrganisationForm.forening,
            org_number=f"{n:06d}-{n:04d}"[:11],
            status=OrganisationStatus.verified if verified else OrganisationStatus.pending,
        )
        _session().add(org)
        _session().flush()
        roles = [(admin, MemberRole.admin)] if admin is not None else []
        for person, role in [*roles, *((member, MemberRole.member) for member in members)]:
            self.member(org, person, role)
        return org

    def member(self, org, person, role=None):
        """An approved membership of `person` in `org`: a member, or `role`."""
        from forum.models import MemberRole, Membership, MembershipStatus

        _session().add(
            Membership(
                organisation_id=org.id,
                user_id=person.id,
                role=role or MemberRole.member,
                status=MembershipStatus.approved,
            )
        )
        _session().commit()

    def commitment_ids(self, count: int = 1) -> list[int]:
        from sqlalchemy import select

        from forum.models import Commitment

        return list(
            _session().scalars(select(Commitment.id).order_by(Commitment.position).limit(count))
        )

    def forum(
        self,
        owner=None,
        visibility: str = "public",
        title: str | None = None,
        moderators=(),
        members=(),
    ):
        from forum.services import forums

        owner = owner or self.user("official")
        n = next(_counter)
        with self.app.test_request_context():
            forum = forums.create_forum(
                owner,
                title or f"Forum {n}",
                "Om *saken*.",
                visibility,
                self.commitment_ids(2),
                moderator_ids=[m.id for m in moderators],
            )
            if members:
                forum.members = [*forum.members, *members]
                _session().commit()
        return forum

    def thread(self, forum=None, author=None, title: str | None = None):
        from forum.services import forums

        forum = forum or self.forum()
        author = author or self.user()
        with self.app.test_request_context():
            thread = forums.start_thread(
                author, forum, title or f"Tråd {next(_counter)}", self.commitment_ids(1)
            )
        return thread

    def message(self, thread, author, body: str = "Hej!", reply_to=None):
        from forum.services import forums

        with self.app.test_request_context():
            message, _created = forums.send_message(
                author, thread.id, body, f"f-{next(_counter)}", reply_to
            )
        return message


def check_ci_stages(items) -> None:
    """A test CI would run in neither stage is an error: stage 2 leaves out ci_sqlite, and
    stage 1 own_database and ci_postgresql, but for the browser tests (.ci/run)."""
    for item in items:
        marked = {
            name
            for name in ("ci_sqlite", "own_database", "ci_postgresql", "browser")
            if item.get_closest_marker(name)
        }
        if "ci_sqlite" in marked and "browser" not in marked and len(marked) > 1:
            raise pytest.UsageError(f"{item.nodeid} would run in neither of CI's stages")
