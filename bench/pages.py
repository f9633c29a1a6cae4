"""Pages vs a hello route on the same server: the thread page and the forum list.

wrk (Debian's `wrk` package) drives each URL for a few seconds with a logged-in cookie;
without wrk a small Python loader does. The ratio is the page's requests per second
divided by /bench/hello's (goal >= 0.3).

    .venv/bin/python bench/pages.py [--seconds 5] [--connections 4]

With `--against DIR` (another checkout, e.g. `git archive main | tar -x -C DIR`, with its
compiled catalogue copied in) it serves that code too, from a copy of the same database,
and alternates the rounds between the two servers: a before/after on a shared machine
that is busy differently from one minute to the next.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from common import ROOT, median, prepare_database
from serverproc import ServerProcess


class HelloServer(ServerProcess):
    """The real server with /bench/hello added: `flask serve`'s own command (gunicorn with one
    gevent worker, or the Werkzeug server with FORUM_ASYNC_MODE=threading) on bench.app_hello,
    from this checkout or `root` (whose package then comes first on PYTHONPATH)."""

    def __init__(self, db_url: str, root: Path = ROOT, **env: str) -> None:
        if root != ROOT:
            env["PYTHONPATH"] = str(root)
        super().__init__(db_url, **env)
        self.root = root

    def _spawn(self, log):
        from forum.cli import GUNICORN_CONFIG, gunicorn_available, gunicorn_command

        threading_mode = self.env.get("FORUM_ASYNC_MODE", "").strip().lower() == "threading"
        if not threading_mode and gunicorn_available() and GUNICORN_CONFIG.exists():
            command = gunicorn_command("127.0.0.1", self.port)
            command[-1] = "bench.app_hello:app"
        else:
            command = [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "bench.app_hello",
                "serve",
                "--port",
                str(self.port),
            ]
        return subprocess.Popen(
            command,
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def with_wrk(url: str, cookie: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not match or non2xx:
        raise RuntimeError(f"wrk failed on {url}: {out}")
    return float(match.group(1))


def with_python(url: str, cookie: str, seconds: int, connections: int) -> float:
    count = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        http = requests.Session()
        while time.monotonic() < deadline:
            response = http.get(url, headers={"Cookie": cookie}, timeout=10)
            response.raise_for_status()
            with lock:
                count[0] += 1

    pool = [threading.Thread(target=loop) for _ in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return count[0] / seconds


def settled_cookie(url: str, cookie: str) -> str:
    """The session cookie as a browser holds it after its first page: the server adds the
    CSRF token and Flask-Login's session id once and sets the cookie again; wrk would
    otherwise send the first cookie every time, and every request would sign and set a
    new one, which no browser makes the server do."""
    for _ in range(3):
        response = requests.get(url + "/forums", headers={"Cookie": cookie}, timeout=30)
        response.raise_for_status()
        value = response.cookies.get("session")
        if value is None:
            return cookie
        cookie = f"session={value}"
    raise RuntimeError("the session cookie was set on every request")


def run(args: argparse.Namespace) -> list[dict]:
    from common import bench_app  # noqa: PLC0415

    from forum.extensions import db
    from forum.services import forums

    load = with_wrk if shutil.which("wrk") else with_python
    print(f"  loader: {'wrk' if load is with_wrk else 'Python (install wrk for better numbers)'}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        info = prepare_database(Path(tmp) / "pages.sqlite3", 4)
        app = bench_app(info["url"])
        with app.app_context(), app.test_request_context():
            from forum.models import User

            people = db.session.query(User).order_by(User.id).all()
            app.config["FORUM_MESSAGE_RATE_LIMIT"] = __import__(
                "forum.config", fromlist=["x"]
            ).parse_rate_limit("off")
            for n in range(60):
                forums.send(people[1 + n % 4], info["thread_id"], f"**Inlägg** {n}", f"pg-{n}")
            db.session.remove()
            db.engine.dispose()
        cookie = info["cookies"][0]
        urls = {
            "hello": "/bench/hello",
            "empty page": "/bench/empty",
            "thread page": f"/threads/{info['thread_id']}",
            "forum list": "/forums",
            "forum page": f"/forums/{info['forum_slug']}",
        }
        roots = {"": ROOT}
        if args.against:
            roots = {"against: ": Path(args.against).resolve(), "this checkout: ": ROOT}
        with contextlib.ExitStack() as stack:
            servers = {}
            for label, root in roots.items():
                database = info["url"]
                if root != ROOT:  # its own copy: sessions and read markers are written
                    copy = Path(tmp) / "against.sqlite3"
                    shutil.copy(Path(tmp) / "pages.sqlite3", copy)
                    database = f"sqlite:///{copy}"
                servers[label] = stack.enter_context(
                    HelloServer(database, root, FORUM_MESSAGE_RATE_LIMIT="off")
                )
            # a visitor's browser holds a cookie too once a page gave it a form's CSRF token
            cookie = settled_cookie(
                next(iter(servers.values())).url, "" if args.visitor else cookie
            )
            for server in servers.values():
                for path in urls.values():
                    response = requests.get(
                        server.url + path, headers={"Cookie": cookie}, timeout=30
                    )
                    assert response.ok, path
                    assert "set-cookie" not in response.headers, (path, "cookie not settled")
            rates = {label: {k: [] for k in urls} for label in servers}
            for n in range(args.rounds):
                for name, path in urls.items():
                    order = list(servers.items())
                    for label, server in order if n % 2 == 0 else reversed(order):
                        rates[label][name].append(
                            load(server.url + path, cookie, args.seconds, args.connections)
                        )
        for label, found in rates.items():
            rows += _rows(("visitor, " if args.visitor else "") + label, found)
    return rows


def _rows(label: str, rates: dict[str, list[float]]) -> list[dict]:
    hello = median(rates["hello"])
    print(f"  {label}" + ", ".join(f"{k} {median(v):.0f}/s" for k, v in rates.items()))
    rows = []
    for name in ("thread page", "forum list", "forum page", "empty page"):
        ratio = median([p / h for p, h in zip(rates[name], rates["hello"], strict=True)])
        floor = name == "empty page"  # a reference: what any logged-in page costs at least
        rows.append(
            {
                "name": f"pages: {label}{name} vs hello route, same server (req/s)",
                "value": median(rates[name]),
                "baseline": hello,
                "ratio": ratio,
                "goal": "(floor)" if floor else ">= 0.3",
                "met": None if floor else ratio >= 0.3,
            }
        )
    return rows


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=4)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--against", help="another checkout to serve too, rounds alternating")
    p.add_argument("--visitor", action="store_true", help="logged out (no session cookie)")
    return p


if __name__ == "__main__":
    from summary import print_table

    print_table(run(parser().parse_args()))
