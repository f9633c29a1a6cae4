"""Real server processes for tests that need a real transport (and a real client).

`ServerProcess(db_url, **env).start()` runs what `flask --app forum serve` runs (gunicorn
with one gevent worker; with FORUM_ASYNC_MODE=threading the Werkzeug server) on a free
port against the given database and waits until /healthz answers. `login()`
logs in through the real form and returns the cookie header for a
python-socketio client.

gunicorn is started directly, with the command `flask serve` would replace itself with
(`forum.cli.gunicorn_command`): `flask serve` first loads the whole app only to read its
settings, which was about two of a server's four seconds to start. `through_flask=True`
starts it as a person does (tests of `flask serve` itself).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server process on 127.0.0.1, as `flask --app forum serve` runs it."""

    def __init__(self, db_url: str, *, through_flask: bool = False, **env: str) -> None:
        self.through_flask = through_flask
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FORUM_DATABASE_URL": db_url,
            "FORUM_SECRET_KEY": "test-secret-key",
            "FORUM_DEMO": "0",
            "FORUM_BASE_URL": self.url,
            "FORUM_PASSWORD_HASH": "pbkdf2:sha256:1000",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = ROOT / "test-artifacts" / f"server-{self.port}.log"

    def start(self, timeout: float = 20) -> ServerProcess:
        self.log_path.parent.mkdir(exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = self._spawn(log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def command(self) -> list[str]:
        threading = self.env.get("FORUM_ASYNC_MODE", "").strip().lower() == "threading"
        if not (self.through_flask or threading):
            from forum.cli import gunicorn_command

            return gunicorn_command("127.0.0.1", self.port)
        return [sys.executable, "-m", "flask", "--app", "forum", "serve", "--port", str(self.port)]

    def _spawn(self, log) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        # SIGINT is gunicorn's quick shutdown (SIGTERM waits out the graceful timeout).
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def login(
        self, email: str, password: str, user_agent: str | None = None, timeout: float = 5
    ) -> requests.Session:
        """Log in through the real form (as `user_agent`, if given); the session's cookies
        authenticate a socket, or a browser (tests/browser/browsing.py)."""
        http = requests.Session()
        if user_agent:
            http.headers["User-Agent"] = user_agent
        page = http.get(self.url + "/login", timeout=timeout).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        data = {"email": email, "password": password}
        if token:
            data["csrf_token"] = token.group(1)
        response = http.post(self.url + "/login", data=data, timeout=timeout, allow_redirects=False)
        if response.status_code not in (302, 303):  # 400: refused, 429: throttled
            raise RuntimeError(f"login of {email} failed with {response.status_code}")
        return http


def cookie_header(http: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)
