"""Shared pieces of the benchmarks: servers as processes, a prepared database, cookies.

Benchmarks are never tests: they print ratios against a baseline measured in the same
run (the machine is shared and noisy; absolute numbers say little).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from serverproc import ServerProcess, free_port  # noqa: E402

SECRET = "test-secret-key"  # ServerProcess's key: cookies made here are valid there
PASSWORD = "benchmark password 123"
os.environ.setdefault("FORUM_SECRET_KEY", SECRET)


def bench_app(url: str):
    from forum import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
            "SECRET_KEY": SECRET,
            "FORUM_PASSWORD_HASH": "pbkdf2:sha256:1000",
            "SERVER_NAME": "localhost",
            "FORUM_REDIS_URL": None,
            "FORUM_DEMO": False,
            "SQLALCHEMY_ENGINE_OPTIONS": (
                {"connect_args": {"timeout": 30, "check_same_thread": False}}
                if url.startswith("sqlite")
                else {"pool_pre_ping": True}
            ),
        }
    )


def fresh_schema() -> None:
    """The schema as `flask db upgrade` leaves it, an earlier run's tables dropped first: a
    server's /healthz, which the benches wait for, answers 503 for a database that is not at
    the migrations' head. In the app's context."""
    import flask_migrate
    from sqlalchemy import text

    from forum.extensions import db

    db.drop_all()
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()
    flask_migrate.upgrade()


def prepare_database(path: Path, people: int) -> dict:
    """A SQLite database with the agreement, an official sender, `people` members and one
    public thread with a few messages; returns ids and session cookies for everyone."""
    from forum.extensions import db
    from forum.models import User
    from forum.services import accounts, agreement, forums

    url = f"sqlite:///{path}"
    app = bench_app(url)
    with app.app_context(), app.test_request_context():
        fresh_schema()
        agreement.seed_agreement()
        sender = accounts.create_user_with_role(
            "sender@bench.se", "Sender", PASSWORD, "official", "Kulturnämnden"
        )
        forum = forums.create_forum(sender, "Bench", "", "public", [1])
        thread = forums.start_thread(sender, forum, "Fan-out", [1], "Välkomna")
        hashed = sender.password_hash
        db.session.add_all(
            User(
                email=f"p{i}@bench.se",
                handle=f"p{i}",
                display_name=f"Person {i}",
                password_hash=hashed,
            )
            for i in range(people)
        )
        db.session.commit()
        users = db.session.query(User).order_by(User.id).all()
        cookies = {u.email: session_cookie(app, u) for u in users}
        info = {
            "url": url,
            "thread_id": thread.id,
            "forum_slug": forum.slug,
            "sender_cookie": cookies["sender@bench.se"],
            "cookies": [c for e, c in cookies.items() if e != "sender@bench.se"],
        }
        db.session.remove()
        db.engine.dispose()
    return info


def session_cookie(app, user) -> str:
    """The `session` cookie a real login would set (signed with the servers' key), naming
    a server-side session row as a login does (a cookie without one is a visitor's)."""
    from forum.services.accounts import open_session

    row, _token = open_session(user, "bench", remember=False)
    serializer = app.session_interface.get_signing_serializer(app)
    value = serializer.dumps({"_user_id": user.get_id(), "_fresh": True, "nonce": row.key})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


class BareRelay:
    """bench/bare_relay.py as a process: the same protocol without auth or storage."""

    def __init__(self, mode: str = "threading") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = mode

    def __enter__(self) -> BareRelay:
        if self.mode == "gevent":
            # The app's server: gunicorn, one gevent worker (deploy/gunicorn.conf.py's
            # settings that matter here), so both sides have its TCP_NODELAY and event loop.
            from forum.cli import gunicorn_available  # noqa: PLC0415

            if not gunicorn_available():
                raise RuntimeError("gevent mode needs gunicorn and gevent (pip install .)")
            command = [
                sys.executable, "-m", "gunicorn", "--worker-class", "gevent", "--workers", "1",
                "--worker-connections", "10000", "--graceful-timeout", "2", "--keep-alive", "5",
                "--bind", f"127.0.0.1:{self.port}", "--chdir", str(ROOT / "bench"),
                "bare_relay:app",
            ]  # fmt: skip
        else:
            command = [sys.executable, str(ROOT / "bench" / "bare_relay.py"), str(self.port)]
        self.proc = subprocess.Popen(
            command,
            env={**os.environ, "BARE_RELAY_MODE": self.mode},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_http(self.url + "/healthz")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # its own process group: take the worker too
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


class AppServer(ServerProcess):
    """The real server (`flask --app forum serve`, whatever mode it uses) for benchmarks."""

    def __init__(self, db_url: str, root: Path | None = None, **env: str) -> None:
        super().__init__(db_url, FORUM_MESSAGE_RATE_LIMIT="off", **env)
        self.root = root or ROOT  # another checkout's code (e.g. `git archive` of a commit)

    def _spawn(self, log):
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "forum", "serve", "--port", str(self.port)],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def node(script: str, options: dict, timeout: float = 180) -> dict:
    """Run a Node script under bench/ with JSON options; its last stdout line is JSON."""
    done = subprocess.run(
        ["node", str(ROOT / "bench" / script), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn's worker), in KiB."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += rss_kb(int(child))
    return total


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
