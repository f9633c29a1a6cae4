"""The send path: where the time of one `message:send` goes, and SQLite under 8 writers.

1. Profile: N sends through the Socket.IO test client (in-process, SQLite, one sender)
   under cProfile; prints each stage's share of the handler's time.
2. Writers: 8 threads each sending through the service at once, against one SQLite file
   (WAL, busy timeout); the time each INSERT waits for the write lock is measured and
   compared with one writer sending alone.

    .venv/bin/python bench/send_path.py [--sends 300] [--writers 8] [--per-writer 40]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import threading
import time
from pathlib import Path

from common import bench_app, median, prepare_database
from sqlalchemy import event

STAGES = {
    "load user (per event)": ("accounts.py", "session_user"),
    "load + check thread (1 query)": ("forums.py", "thread_for_sending"),
    "markdown + Bleach": ("rendering.py", "render_body"),
    "INSERT message (flush)": ("session.py", "flush"),
    "read marker upsert": ("forums.py", "_store_marker"),
    "payload (also the ack)": ("payloads.py", "message_dict"),
    "commit": ("session.py", "commit"),
    "emit to the room (after commit)": ("events.py", "_emit"),
}


def profile(info: dict, sends: int) -> list[tuple[str, float]]:
    from forum.extensions import socketio

    app = bench_app(info["url"])
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = __import__(
        "forum.config", fromlist=["parse_rate_limit"]
    ).parse_rate_limit("off")
    # one socket sends as fast as it can: the per-socket event budget (issue 11) is off too
    app.config["FORUM_SOCKET_EVENTS_PER_SECOND"] = 0
    with app.app_context():
        http = app.test_client()
        name, value = info["sender_cookie"].split("=", 1)
        http.set_cookie(name, value, domain="localhost")
        sock = socketio.test_client(app, flask_test_client=http)
        thread_id = info["thread_id"]
        assert sock.emit("join", {"thread_id": thread_id}, callback=True)["ok"]
        profiler = cProfile.Profile()
        for n in range(sends):
            payload = {"thread_id": thread_id, "body": f"**Mätning** {n} https://example.se"}
            payload["client_id"] = f"prof-{n}"
            profiler.enable()
            ack = sock.emit("message:send", payload, callback=True)
            profiler.disable()
            assert ack["ok"], ack
            sock.get_received()
        sock.disconnect()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = next(ct for (file, _l, fn), (_cc, _nc, _tt, ct, _c) in stats.items() if fn == "on_send")
    shares = []
    for label, (file_end, func) in STAGES.items():
        found = [
            v[3] for (file, _l, fn), v in stats.items() if fn == func and file.endswith(file_end)
        ]
        if not found:  # renamed or gone: say so rather than print 0 %
            raise RuntimeError(f"send_path.py: stage {label!r}: no {func}() in {file_end}")
        shares.append((label, sum(found) / total))
    shares.append(("total ms per send", total / sends * 1000))
    return shares


class TimedLock:
    """forum.extensions' SQLite writer lock, timing how long each writer waits for it."""

    def __init__(self, waits: list[float], guard: threading.Lock) -> None:
        self.inner = threading.Lock()
        self.waits = waits
        self.guard = guard
        self.local = threading.local()

    def __enter__(self) -> None:
        started = time.perf_counter()
        self.inner.acquire()
        self.local.waited = time.perf_counter() - started

    def __exit__(self, *exc: object) -> None:
        self.inner.release()


class NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def writers(url: str, n_writers: int, per_writer: int, before: bool) -> dict[str, float]:
    """Sends from `n_writers` threads at once. The wait for the write lock (the process's
    queue plus SQLite's busy handler inside the INSERT) and the send latency, as
    percentiles. `before`: as it was (no queue in the process, an fsync per commit)."""
    import forum.extensions as extensions
    from forum.config import parse_rate_limit
    from forum.extensions import db
    from forum.models import User
    from forum.services import forums

    app = bench_app(url)
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    waits: list[float] = []
    latencies: list[float] = []
    local = threading.local()
    guard = threading.Lock()
    timed = TimedLock(waits, guard)
    saved = extensions._sqlite_writer
    extensions._sqlite_writer = NoLock() if before else timed  # type: ignore[assignment]

    with app.app_context():
        engine = db.engine
        engine.dispose()

        @event.listens_for(engine, "connect")
        def full_sync(dbapi_connection, _record):
            if before:
                dbapi_connection.execute("PRAGMA synchronous=FULL")

        @event.listens_for(engine, "before_cursor_execute")
        def before_insert(conn, cursor, statement, *args):
            if statement.startswith("INSERT INTO messages"):
                local.started = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after_insert(conn, cursor, statement, *args):
            if statement.startswith("INSERT INTO messages"):
                queued = getattr(timed.local, "waited", 0.0) if not before else 0.0
                with guard:
                    waits.append(queued + time.perf_counter() - local.started)

        user_ids = [u.id for u in db.session.query(User).order_by(User.id).limit(n_writers + 1)][1:]
        barrier = threading.Barrier(n_writers)
        stamp = time.time()

        def work(user_id: int) -> None:
            with app.app_context(), app.test_request_context():
                user = db.session.get(User, user_id)
                barrier.wait()
                for n in range(per_writer):
                    started = time.perf_counter()
                    forums.send(user, 1, f"skrivare {n}", f"w{user_id}-{n}-{stamp}")
                    with guard:
                        latencies.append(time.perf_counter() - started)
                db.session.remove()

        wall = time.perf_counter()
        try:
            pool = [threading.Thread(target=work, args=(uid,)) for uid in user_ids]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            wall = time.perf_counter() - wall
        finally:
            extensions._sqlite_writer = saved
            event.remove(engine, "connect", full_sync)
            event.remove(engine, "before_cursor_execute", before_insert)
            event.remove(engine, "after_cursor_execute", after_insert)
            engine.dispose()
    waits.sort()
    latencies.sort()
    return {
        "wait_p50": median(waits) * 1000,
        "wait_p99": waits[int(len(waits) * 0.99) - 1] * 1000,
        "send_p50": median(latencies) * 1000,
        "send_p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "per_second": len(latencies) / wall,
    }


def run(args: argparse.Namespace) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        info = prepare_database(Path(tmp) / "send.sqlite3", max(args.writers, 2))
        print("  profile of one message:send (share of the handler's time):")
        for label, share in profile(info, args.sends):
            print(f"    {label:<32} {share:.1%}" if share < 1 else f"    {label:<32} {share:.2f}")
        results = {}
        for label, before in (("before", True), ("now", False)):
            results[label] = r = writers(info["url"], args.writers, args.per_writer, before)
            print(
                f"  SQLite {args.writers} writers, {label:<6}: write-lock wait p50 "
                f"{r['wait_p50']:.2f} ms, p99 {r['wait_p99']:.1f} ms; "
                f"send p50 {r['send_p50']:.1f} ms, p99 {r['send_p99']:.1f} ms; "
                f"{r['per_second']:.0f} sends/s"
            )
        now, before = results["now"], results["before"]
        rows.append(
            {
                "name": f"SQLite {args.writers} writers: write-lock wait p99, now vs before (ms)",
                "value": now["wait_p99"],
                "baseline": before["wait_p99"],
                "ratio": now["wait_p99"] / before["wait_p99"],
                "goal": "< 1",
                "met": now["wait_p99"] < before["wait_p99"],
            }
        )
        rows.append(
            {
                "name": f"SQLite {args.writers} writers: send p99, now vs before (ms)",
                "value": now["send_p99"],
                "baseline": before["send_p99"],
                "ratio": now["send_p99"] / before["send_p99"],
                "goal": "< 1",
                "met": now["send_p99"] < before["send_p99"],
            }
        )
    return rows


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sends", type=int, default=300)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--per-writer", type=int, default=40)
    return p


if __name__ == "__main__":
    from summary import print_table

    print_table(run(parser().parse_args()))
