"""Idle connections: resident memory per socket.io connection, app vs bare relay.

Opens N idle websocket connections with the reference JavaScript client to the real
server and to the bare relay (same async mode), and divides each server's growth in
resident memory by N. Default N is small (the machine is shared); `--connections 10000`
is the issue's figure (raise the open-file limit first: `ulimit -n 65536`).

    .venv/bin/python bench/idle.py [--connections 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, AppServer, BareRelay, prepare_database, rss_kb


def hold(url: str, pid: int, connections: int) -> tuple[int, float]:
    """Connect, let the server settle, return (connected, KiB per connection)."""
    before = rss_kb(pid)
    proc = subprocess.Popen(
        [
            "node",
            str(ROOT / "bench" / "idle_client.js"),
            json.dumps({"url": url, "connections": connections}),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        connected = json.loads(line)["connected"] if line else 0
        time.sleep(2)
        grown = rss_kb(pid) - before
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return connected, grown / max(connected, 1)


def run(args: argparse.Namespace) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        info = prepare_database(Path(tmp) / "idle.sqlite3", 1)
        with BareRelay(args.mode) as relay:
            bare_n, bare_kb = hold(relay.url, relay.pid, args.connections)
        with AppServer(info["url"], FORUM_ASYNC_MODE=args.mode) as server:
            app_n, app_kb = hold(server.url, server.pid, args.connections)
    print(
        f"  idle: bare relay {bare_n}/{args.connections} held, {bare_kb:.0f} KiB each; "
        f"forum {app_n}/{args.connections} held, {app_kb:.0f} KiB each"
    )
    ratio = app_kb / bare_kb if bare_kb > 0 else float("nan")
    return [
        {
            "name": f"idle {args.connections} connections: KiB per connection vs bare",
            "value": app_kb,
            "baseline": bare_kb,
            "ratio": ratio,
            "goal": "<= 1.3",
            "met": ratio <= 1.3 and app_n == args.connections,
        }
    ]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=300)
    p.add_argument(
        "--mode",
        default="threading",
        choices=["threading", "gevent"],
        help="the async mode of both servers (gevent: the production server, gunicorn)",
    )
    return p


if __name__ == "__main__":
    from summary import print_table

    print_table(run(parser().parse_args()))
