"""SQLite's write lock held by another process (a `flask` command, a cron job) under the
embedded server: one gevent worker runs every request and socket on one thread, and SQLite's
own busy handler sleeps inside the C library, so a request waiting for the lock stopped the
whole process (no page, no socket, no /healthz), and a wait past gunicorn's timeout got the
worker killed. The wait is now the app's, a sleep that lets the others go on (forum.sqlite),
and one past the busy timeout is a 503 "busy, try again", not a 500."""

from __future__ import annotations

import re
import sqlite3
import threading
import time

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from forum import sqlite as sqlite_module
from forum.models import LoginAttempt
from forum.services import forums as forum_service


def _sqlite_path(db_url: str) -> str:
    if not db_url.startswith("sqlite:///"):
        pytest.skip("SQLite's write lock")
    return db_url.removeprefix("sqlite:///")


class LockHolder(threading.Thread):
    """Another process's writer: holds SQLite's write lock for `seconds`."""

    def __init__(self, path: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.path, self.seconds, self.holding = path, seconds, threading.Event()
        self.releasing = threading.Event()  # set just before the lock goes

    def run(self) -> None:
        con = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        con.execute("BEGIN IMMEDIATE")
        self.holding.set()
        time.sleep(self.seconds)
        self.releasing.set()
        con.execute("COMMIT")
        con.close()


def _failed_login(url: str, results: list) -> None:
    """A login attempt is written down before the password is checked: a write."""
    http = requests.Session()
    page = http.get(url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = http.post(
        url + "/login",
        data={"csrf_token": token, "email": "nobody@example.se", "password": "fel lösenord"},
        headers={"Accept-Language": "en"},
        timeout=60,
    )
    results.append(answer)


def _attempts(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(LoginAttempt))


@pytest.mark.server
def test_a_write_waiting_for_the_lock_does_not_stop_the_server(app, db_url, db):
    from serverproc import ServerProcess

    path = _sqlite_path(db_url)
    before = _attempts(db)
    with ServerProcess(db_url) as server:
        holder = LockHolder(path, 5)
        holder.start()
        assert holder.holding.wait(5)
        results: list = []
        writer = threading.Thread(target=_failed_login, args=(server.url, results))
        writer.start()
        time.sleep(0.8)  # the login is waiting for the lock now
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
        # answered while the lock was still held: it was answered only once the lock was
        # free (the whole process waited). Not a time bound, which a loaded machine blurs.
        assert not holder.releasing.is_set()
        assert writer.is_alive()  # still waiting, not refused
        holder.join()
        writer.join(20)
        assert results and results[0].status_code in (200, 400), results
    assert _attempts(db) == before + 1  # written once the lock was free


@pytest.mark.server
def test_a_wait_past_the_busy_timeout_is_a_503_and_the_worker_lives(app, db_url):
    from serverproc import ServerProcess

    path = _sqlite_path(db_url)
    with ServerProcess(db_url, FORUM_SQLITE_BUSY_TIMEOUT="1.5") as server:
        holder = LockHolder(path, 4)
        holder.start()
        assert holder.holding.wait(5)
        results: list = []
        _failed_login(server.url, results)
        answer = results[0]
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert "The site is busy right now" in answer.text
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        holder.join()
        log = server.log_path.read_text()
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log, log[-2000:]


# --- the wait itself -------------------------------------------------------------------


def _locked() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database is locked")


def test_a_locked_statement_is_run_again_after_cooperative_sleeps(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(sqlite_module.time, "sleep", sleeps.append)
    calls = []

    def run(statement):
        calls.append(statement)
        if len(calls) < 6:
            raise _locked()

    assert sqlite_module._waiting(run, budget=30)("INSERT") is True
    assert calls == ["INSERT"] * 6
    assert sleeps[0] == sqlite_module.FIRST_WAIT
    assert sleeps == sorted(sleeps) and max(sleeps) <= sqlite_module.LONGEST_WAIT


def test_the_wait_ends_with_the_error_at_the_busy_timeout(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(sqlite_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(sqlite_module.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))

    def run(_statement):
        raise _locked()

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_module._waiting(run, budget=2)("UPDATE")
    assert 102.0 <= clock[0] < 102.1  # waited the budget, no longer


@pytest.mark.parametrize(
    "error", [sqlite3.OperationalError("no such table: x"), sqlite3.IntegrityError("UNIQUE")]
)
def test_other_errors_are_not_waited_for(monkeypatch, error):
    monkeypatch.setattr(sqlite_module.time, "sleep", lambda _s: pytest.fail("slept"))
    calls = []

    def run(_statement):
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        sqlite_module._waiting(run, budget=30)("INSERT")
    assert calls == [1]


# --- what a person is told -----------------------------------------------------------


def _busy(*_args, **_kwargs):
    raise OperationalError("INSERT INTO messages ...", {}, _locked())


def test_a_busy_database_is_a_503_to_try_again_not_a_500(client, make, auth, monkeypatch):
    person = make.user()
    thread = make.thread(author=person)
    auth.login(person)
    monkeypatch.setattr(forum_service, "send", _busy)
    answer = client.post(
        f"/threads/{thread.id}/messages",
        data={"body": "Hej", "client_id": "busy1"},
        headers={"Accept-Language": "sv"},
    )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert "hårt belastad" in answer.get_data(as_text=True)


def test_a_busy_database_is_unavailable_to_a_socket(make, socket_for, monkeypatch):
    person = make.user()
    thread = make.thread(author=person)
    sock = socket_for(person)
    sock.emit("join", {"thread_id": thread.id}, callback=True)
    monkeypatch.setattr(forum_service, "send", _busy)
    ack = sock.emit(
        "message:send", {"thread_id": thread.id, "body": "Hej", "client_id": "b2"}, callback=True
    )
    assert ack["ok"] is False and ack["error"]["code"] == "unavailable"


def test_a_stale_snapshot_is_not_waited_for(tmp_path):
    """SQLITE_BUSY_SNAPSHOT reads "database is locked" too, but the transaction read a
    snapshot another writer has moved past: no retry can succeed until it rolls back, so
    waiting spent the whole busy timeout before the same error."""
    path = str(tmp_path / "snapshot.sqlite3")
    first = sqlite3.connect(path, timeout=0)
    first.execute("PRAGMA journal_mode=WAL")
    first.execute("CREATE TABLE t (x)")
    first.commit()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    first.execute("SAVEPOINT s")
    list(first.execute("SELECT * FROM t"))  # the snapshot
    other.execute("INSERT INTO t VALUES (1)")  # another writer goes ahead
    execute = sqlite_module._waiting(lambda c, s, p, _ctx: c.execute(s, p), 30.0)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError) as refused:
        execute(first.cursor(), "INSERT INTO t VALUES (?)", (2,), None)
    assert refused.value.sqlite_errorcode == sqlite3.SQLITE_BUSY_SNAPSHOT
    assert time.monotonic() - started < 1
    first.close()
    other.close()
