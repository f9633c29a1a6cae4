"""Fan-out benchmark: N subscribers in one thread, one sender with messages in flight.

Runs the real server (auth, storage, sanitising, post-commit broadcast) and a
bare Flask-SocketIO relay of the same protocol, each as its own process on
127.0.0.1, with the same python-socketio clients, and prints deliveries per
second, p50/p99 latency and lost deliveries for both, and their ratio.

    .venv/bin/python bench/fanout.py [--subscribers 50 200] [--messages 100] [--in-flight 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from serverproc import ServerProcess, cookie_header, free_port  # noqa: E402

PASSWORD = "benchmark password 123"


class BareRelay:
    """The baseline relay as a process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BareRelay:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bare_relay.py"), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("bare relay did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def prepare_database(path: Path) -> tuple[str, int]:
    """A SQLite database with the agreement, one official and one public thread."""
    os.environ.setdefault("FORUM_SECRET_KEY", "bench")
    from forum import create_app
    from forum.extensions import db
    from forum.services import accounts, agreement, forums

    url = f"sqlite:///{path}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "FORUM_PASSWORD_HASH": "pbkdf2:sha256:1000",
            "SERVER_NAME": "localhost",
        }
    )
    with app.app_context(), app.test_request_context():
        db.create_all()
        agreement.seed_agreement()
        sender = accounts.create_user_with_role(
            "sender@bench.se", "Sender", PASSWORD, "official", "Kulturnämnden"
        )
        forum = forums.create_forum(sender, "Bench", "", "public", [1])
        thread = forums.start_thread(sender, forum, "Fan-out", [1])
        thread_id = thread.id
        db.session.remove()
        db.engine.dispose()
    return url, thread_id


def run_round(
    url: str, thread_id: int, subscribers: int, messages: int, in_flight: int, cookie: str | None
) -> dict:
    """Connect the subscribers, send, and measure what arrives."""
    received: list[list[float]] = [[] for _ in range(subscribers)]
    sent_at: dict[str, float] = {}
    clients = []
    for i in range(subscribers):
        client = socketio.Client(reconnection=False)

        def on_new(payload, box=received[i]):
            box.append((payload["message"]["client_id"], time.perf_counter()))

        client.on("message:new", on_new)
        client.connect(url, transports=["websocket"], wait_timeout=20)
        assert client.call("join", {"thread_id": thread_id}, timeout=20)["ok"]
        clients.append(client)
    sender = socketio.Client(reconnection=False)
    sender.connect(
        url, transports=["websocket"], headers={"Cookie": cookie} if cookie else {}, wait_timeout=20
    )
    window = threading.Semaphore(in_flight)
    acked = threading.Event()
    count = {"acks": 0, "errors": 0}
    lock = threading.Lock()

    def on_ack(ack):
        with lock:
            count["acks"] += 1
            if not ack.get("ok"):
                count["errors"] += 1
            if count["acks"] == messages:
                acked.set()
        window.release()

    started = time.perf_counter()
    for n in range(messages):
        window.acquire()
        client_id = f"b{n}-{started}"
        sent_at[client_id] = time.perf_counter()
        sender.emit(
            "message:send",
            {"thread_id": thread_id, "body": f"mätning {n}", "client_id": client_id},
            callback=on_ack,
        )
    acked.wait(120)
    expected = subscribers * messages
    deadline = time.perf_counter() + 30
    while sum(len(r) for r in received) < expected and time.perf_counter() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    latencies = [(t - sent_at[cid]) * 1000 for box in received for cid, t in box if cid in sent_at]
    last = max((t for box in received for _cid, t in box), default=started)
    # Closing waits for the server's close frame (seconds per client): do it in the
    # background so the next round does not wait for 200 handshakes.
    for client in [*clients, sender]:
        threading.Thread(target=client.eio.disconnect, kwargs={"abort": True}, daemon=True).start()
    delivered = len(latencies)
    latencies.sort()
    return {
        "delivered": delivered,
        "lost": expected - delivered,
        "errors": count["errors"],
        "per_second": delivered / (last - started) if last > started else 0.0,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url, thread_id = prepare_database(Path(tmp) / "bench.sqlite3")
        print(
            f"{'server':<8}{'subs':>6}{'deliveries/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'lost':>7}{'errors':>8}"
        )
        rows = []
        for subscribers in args.subscribers:
            with BareRelay() as bare:
                base = run_round(
                    bare.url, thread_id, subscribers, args.messages, args.in_flight, None
                )
            with ServerProcess(url, FORUM_MESSAGE_RATE_LIMIT="off") as forum:
                cookie = cookie_header(forum.login("sender@bench.se", PASSWORD))
                real = run_round(
                    forum.url, thread_id, subscribers, args.messages, args.in_flight, cookie
                )
            for name, r in (("bare", base), ("forum", real)):
                print(
                    f"{name:<8}{subscribers:>6}{r['per_second']:>14.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['lost']:>7}{r['errors']:>8}"
                )
            rows.append((subscribers, base, real))
        print()
        print("ratio forum/bare (same machine, same run):")
        for subscribers, base, real in rows:
            print(
                f"  {subscribers:>4} subscribers: throughput x{real['per_second'] / base['per_second']:.2f}, "
                f"p50 x{real['p50'] / base['p50']:.2f}, p99 x{real['p99'] / base['p99']:.2f}"
            )


if __name__ == "__main__":
    main()
