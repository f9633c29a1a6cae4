"""Async mode for production: gevent vs threads, same app, same database, interleaved rounds.

Starts `flask serve` (gunicorn with one gevent worker, or with FORUM_ASYNC_MODE=threading
the Werkzeug server with threads) on the given database, measures how long a `join`
takes (the acknowledgement; Nagle's algorithm shows here) and the fan-out of
bench/fanout.py, and prints both modes side by side with their ratio.

    .venv/bin/python bench/modes.py --database postgresql://postgres@127.0.0.1:5432/bench \\
        [--subscribers 50] [--messages 50] [--rounds 2]

Without --database a temporary SQLite file is used.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from common import fresh_schema  # noqa: E402
from fanout import PASSWORD, prepare_database, run_round  # noqa: E402
from serverproc import ServerProcess, cookie_header  # noqa: E402


def prepare(url: str | None, folder: Path) -> tuple[str, int]:
    if url is None:
        return prepare_database(folder / "bench.sqlite3")
    from forum import create_app
    from forum.extensions import db
    from forum.services import accounts, agreement, forums

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "FORUM_PASSWORD_HASH": "pbkdf2:sha256:1000",
            "SERVER_NAME": "localhost",
        }
    )
    with app.app_context(), app.test_request_context():
        fresh_schema()
        agreement.seed_agreement()
        sender = accounts.create_user_with_role(
            "sender@bench.se", "Sender", PASSWORD, "official", "Kulturnämnden"
        )
        forum = forums.create_forum(sender, "Bench", "", "public", [1])
        thread_id = forums.start_thread(sender, forum, "Fan-out", [1]).id
        db.session.remove()
        db.engine.dispose()
    return url, thread_id


def join_times(url: str, thread_id: int, count: int = 20) -> float:
    """Median milliseconds from `join` to its acknowledgement, over fresh connections."""
    times = []
    for _ in range(count):
        client = socketio.Client(reconnection=False)
        client.connect(url, transports=["websocket"], wait_timeout=10)
        started = time.perf_counter()
        assert client.call("join", {"thread_id": thread_id}, timeout=10)["ok"]
        times.append((time.perf_counter() - started) * 1000)
        client.disconnect()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=None)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"gevent": [], "threading": []}
    with tempfile.TemporaryDirectory() as tmp:
        url, thread_id = prepare(args.database, Path(tmp))
        for _ in range(args.rounds):
            for mode in ("gevent", "threading"):
                env = {"FORUM_MESSAGE_RATE_LIMIT": "off", "FORUM_ASYNC_MODE": mode}
                with ServerProcess(url, **env) as server:
                    join_ms = join_times(server.url, thread_id)
                    cookie = cookie_header(server.login("sender@bench.se", PASSWORD))
                    row = run_round(
                        server.url,
                        thread_id,
                        args.subscribers,
                        args.messages,
                        args.in_flight,
                        cookie,
                    )
                    row["join"] = join_ms
                    results[mode].append(row)
                print(
                    f"{mode:<10} join {join_ms:6.1f} ms  {row['per_second']:7.0f} deliveries/s  "
                    f"p50 {row['p50']:7.1f} ms  p99 {row['p99']:7.1f} ms  lost {row['lost']}",
                    flush=True,
                )
    med = {
        mode: {
            k: statistics.median(r[k] for r in rows) for k in ("join", "per_second", "p50", "p99")
        }
        for mode, rows in results.items()
    }
    g, t = med["gevent"], med["threading"]
    print(
        f"\ngevent / threading (medians): throughput x{g['per_second'] / t['per_second']:.2f}, "
        f"p50 x{g['p50'] / t['p50']:.2f}, p99 x{g['p99'] / t['p99']:.2f}, join x{g['join'] / t['join']:.2f}"
    )


if __name__ == "__main__":
    main()
