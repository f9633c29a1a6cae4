"""Real production pieces for tests: our own Redis and PostgreSQL, scripts/production, clients.

- `RedisServer` runs `redis-server` on a free port (restartable on the same port).
- `PostgresCluster` runs its own cluster with Debian's initdb/pg_ctl in a temporary
  folder, as the `postgres` (or `nobody`) user when the tests run as root.
- `Stack` runs `./scripts/production` (nginx in front of N gunicorn processes) with
  its run folder in the test's temporary folder, and stops it with SIGTERM.
- `Client` is a python-socketio client that connects through nginx from its own
  source address 127.0.N.1 (nginx's ip_hash keys on the first three octets, so
  127.0.0.x clients would all land on one process), sends cookies with a header
  callable (the engineio client drops a Cookie header dict after first use), and
  records every event.

Everything here bounds its waits; `stop()`/`close()` are safe to call twice.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import socketio as sio_client
from requests.adapters import HTTPAdapter
from serverproc import ROOT

PASSWORD = "correct horse battery"


def free_port(count: int = 1) -> int:
    """A port p with p .. p+count-1 all free on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + count > 65000:
            continue
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free ports")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(check, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception:  # noqa: BLE001 — not ready yet
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- services of our own --------------------------------------------------------------------


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--dir", str(self.folder)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        import redis

        wait_until(lambda: redis.Redis(port=self.port).ping(), 10, what="redis-server")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _unprivileged_user() -> str | None:
    """The user to run PostgreSQL as when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user to run PostgreSQL as")


def pg_binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/local/bin/{name}"):
        if candidate and os.path.exists(candidate):
            return candidate
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    raise RuntimeError(f"{name} is not installed (Debian: postgresql)")


class PostgresCluster:
    """A throw-away PostgreSQL cluster on a free port, trust auth, data in /tmp."""

    def __init__(self) -> None:
        self.port = free_port()
        self.user = _unprivileged_user()
        self.data = Path(tempfile.mkdtemp(prefix="forum-pg-"))
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = list(args)
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, timeout=timeout, capture_output=True)

    def init(self) -> PostgresCluster:
        if self.user:
            shutil.chown(self.data, self.user)
        self.data.chmod(0o700)
        self._run(
            pg_binary("initdb"), "-D", str(self.data / "db"), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale", "C",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            pg_binary("pg_ctl"), "-D", str(self.data / "db"), "-o", options,
            "-l", str(self.data / "postgres.log"), "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self._run(
                pg_binary("pg_ctl"), "-D", str(self.data / "db"), "-m", "fast", "-w", "-t", "20",
                "stop",
            )  # fmt: skip
        except subprocess.CalledProcessError:
            pass  # not running

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


# --- the stack: ./scripts/production ----------------------------------------------------------


class Stack:
    """nginx + N server processes, exactly as ./scripts/production starts them."""

    def __init__(self, run_dir: Path, database_url: str, redis_url: str, processes: int = 2):
        self.port = free_port(processes + 1)
        self.processes = processes
        self.run_dir = run_dir
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FORUM_PORT": str(self.port),
            "FORUM_PROCESSES": str(processes),
            "FORUM_RUN_DIR": str(run_dir),
            "FORUM_DATABASE_URL": database_url,
            "FORUM_REDIS_URL": redis_url,
            "FORUM_SKIP_SETUP": "1",
            "FORUM_SECRET_KEY": "s" * 64,
            "FORUM_MESSAGE_RATE_LIMIT": "off",
            "FORUM_PASSWORD_HASH": "pbkdf2:sha256:1000",
            "FORUM_PRESENCE_TTL": "6",
            "FORUM_DOCUMENT_DIR": str(run_dir / "documents"),
        }
        for name in ("FORUM_ENV", "FLASK_DEBUG", "FORUM_HTTPS", "FORUM_ASYNC_MODE"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = run_dir / "production.log"

    def backend(self, index: int) -> str:
        """The URL of server process `index` (1-based), bypassing nginx."""
        return f"http://127.0.0.1:{self.port + index}"

    def start(self, timeout: float = 90) -> Stack:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(ROOT / "scripts" / "production")],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scripts/production exited: {self.log()}")
            if "Ctrl-C stops everything" in self.log():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"scripts/production did not start: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text().strip())

    def kill_server(self, index: int) -> list[int]:
        """SIGKILL server process `index`: gunicorn's master and its worker."""
        master = self.pid(f"server-{index}")
        children = subprocess.run(
            ["pgrep", "-P", str(master)], capture_output=True, text=True, timeout=5
        ).stdout.split()
        pids = [master, *map(int, children)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM the script (as Ctrl-C would); returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


# --- clients ------------------------------------------------------------------------------------


class SourceAddressAdapter(HTTPAdapter):
    """requests from a chosen source address (for nginx's ip_hash)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class FreshSocketOptions(dict):
    """websocket-client options whose `socket` is a new connection from `source` on every read.

    The engineio client copies these options into each (re)connection, so every
    reconnect gets a fresh socket bound to the client's own source address.
    """

    def __init__(self, source: str, target: tuple[str, int]) -> None:
        super().__init__(socket=None)
        self.source = source
        self.target = target
        # every socket handed out: a reconnection that failed after connecting (a killed
        # process) leaves its socket to the garbage collector, whose ResourceWarning then
        # fails whichever later test it lands in; Client.close closes them
        self.made: list[socket.socket] = []

    def close_all(self) -> None:
        for sock in self.made:
            sock.close()
        self.made.clear()

    def __iter__(self):
        return iter(["socket"])

    def keys(self):  # type: ignore[override]
        return ["socket"]

    def __getitem__(self, key: str) -> Any:
        if key != "socket":
            return super().__getitem__(key)
        sock = socket.create_connection(self.target, timeout=10, source_address=(self.source, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.made.append(sock)
        return sock


def login(base_url: str, email: str, source: str) -> requests.Session:
    http = requests.Session()
    adapter = SourceAddressAdapter(source)
    http.mount("http://", adapter)
    page = http.get(base_url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"email": email, "password": PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    response = http.post(base_url + "/login", data=data, timeout=10, allow_redirects=False)
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login of {email} failed with {response.status_code}")
    return http


class Client:
    """A logged-in python-socketio client through nginx from 127.0.N.1."""

    def __init__(
        self, stack: Stack, email: str, n: int, reconnect: bool = False, polling: bool = False
    ) -> None:
        self.source = f"127.0.{n}.1"
        self.email = email
        self.http = login(stack.url, email, self.source)
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.connects = 0
        self.sockets = FreshSocketOptions(self.source, ("127.0.0.1", stack.port))
        self.sio = sio_client.Client(
            reconnection=reconnect,
            reconnection_delay=0.2,
            reconnection_delay_max=1,
            randomization_factor=0,
            # a polling client's POSTs (its events) give up after this and drop the client:
            # 5 s can pass on a 2-core machine running both CI stages; a server that does not
            # know the session still answers 400 at once, which is what the tests look for
            request_timeout=15 if polling else 5,
            websocket_extra_options=self.sockets,
            # polling: every request from the same source address, through the login session
            http_session=self.http,
        )
        self.sio.on("*", self._record)
        self.sio.on("connect", self._connected)
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        self.sio.connect(
            stack.url,
            headers=lambda: {"Cookie": cookie},
            transports=["polling"] if polling else ["websocket"],
            wait_timeout=10,
        )

    def _connected(self) -> None:
        with self.lock:
            self.connects += 1

    def _record(self, event: str, data: Any = None) -> None:
        with self.lock:
            self.events.append((event, data))

    def call(self, event: str, data: dict, timeout: float = 10) -> dict:
        return self.sio.call(event, data, timeout=timeout)

    def received(self, event: str) -> list[Any]:
        with self.lock:
            return [data for name, data in self.events if name == event]

    def message_ids(self) -> list[int]:
        return [m["message"]["id"] for m in self.received("message:new")]

    def close(self) -> None:
        self.sio.reconnection = False
        closing = None
        if self.sio.connected:
            closing = threading.Thread(
                target=self.sio.eio.disconnect, kwargs={"abort": True}, daemon=True
            )
            closing.start()
            closing.join(5)
        if closing is None or not closing.is_alive():  # none in use now: close what is left
            self.sockets.close_all()
        self.http.close()


def make_forum_data(database_url: str, people: int) -> tuple[list[str], int]:
    """Users and one public thread in the stack's database, through the services."""
    from support import app_settings

    from forum import create_app
    from forum.extensions import db
    from forum.services import accounts, agreement, forums

    app = create_app(app_settings(database_url))
    tag = os.urandom(3).hex()
    with app.app_context(), app.test_request_context():
        try:
            agreement.seed_agreement()
            official = accounts.create_user_with_role(
                f"official-{tag}@prod.se", f"Official {tag}", PASSWORD, "official", "Kulturnämnden"
            )
            emails = []
            for i in range(people):
                user = accounts.create_user_with_role(
                    f"p{i}-{tag}@prod.se", f"Person {i:02d} {tag}", PASSWORD, "member"
                )
                emails.append(user.email)
            forum = forums.create_forum(official, f"Prod {tag}", "", "public", [1])
            thread = forums.start_thread(official, forum, f"Tråd {tag}", [1])
            return emails, thread.id
        finally:
            db.session.remove()
            db.engine.dispose()


def make_open_round(database_url: str) -> tuple[str, int]:
    """An official (email) and an open consultation round of theirs (id), through the services."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select
    from support import app_settings

    from forum import create_app
    from forum.extensions import db
    from forum.models import Commitment
    from forum.services import accounts
    from forum.services import consultations as service

    app = create_app(app_settings(database_url))
    tag = os.urandom(3).hex()
    with app.app_context(), app.test_request_context():
        try:
            official = accounts.create_user_with_role(
                f"round-{tag}@prod.se", f"Official {tag}", PASSWORD, "official", "Kulturnämnden"
            )
            now = datetime.now(UTC)
            round_ = service.create_round(
                official,
                service.RoundInput(
                    title=f"Runda {tag}",
                    problem="Hur?",
                    background="Bakgrund",
                    decision_date=(now + timedelta(days=90)).strftime("%Y-%m-%d"),
                    commitment_ids=list(db.session.scalars(select(Commitment.id).limit(2))),
                    opens_at=service.local_input(now - timedelta(hours=1)),
                    closes_at=service.local_input(now + timedelta(days=10)),
                    questions=[("Vad tycker ni?", "")],
                ),
            )
            return official.email, round_.id
        finally:
            db.session.remove()
            db.engine.dispose()


def stored_client_ids(database_url: str, thread_id: int) -> list[str]:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT client_id FROM messages WHERE thread_id = %s ORDER BY id", (thread_id,)
        ).fetchall()
    return [row[0] for row in rows]
