"""Fan-out: N logged-in subscribers in one thread, one sender with messages in flight.

The load generator is the reference socket.io JavaScript client (bench/fanout_client.js;
a Python client saturates before the servers do). Rounds alternate between the bare
Flask-SocketIO relay (bench/bare_relay.py) and the real server, each a fresh process,
and the ratios are medians over the rounds. `--redis` adds the comparison of the real
server with and without the Redis message queue.

    .venv/bin/python bench/fanout.py [--subscribers 200] [--messages 100] [--in-flight 8]
                                     [--rounds 3] [--redis] [--mode threading]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

from common import AppServer, BareRelay, median, node, prepare_database

REDIS_URL = os.environ.get("FORUM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def one_round(
    url: str, info: dict, args: argparse.Namespace, logged_in: bool, urls: list[str] | None = None
) -> dict:
    return node(
        "fanout_client.js",
        {
            "url": url,
            "urls": urls or [url],
            "threadId": info["thread_id"],
            "subscribers": args.subscribers,
            "messages": args.messages,
            "inFlight": args.in_flight,
            "senderCookie": info["sender_cookie"] if logged_in else None,
            "cookies": info["cookies"] if logged_in else None,
        },
    )


def run(args: argparse.Namespace) -> list[dict]:
    """Returns rows for the summary table: name, value, baseline, ratio, goal."""
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        info = prepare_database(Path(tmp) / "fanout.sqlite3", args.subscribers)
        bare, app, queued, before, spread = [], [], [], [], []
        # The same async mode on both sides: `flask serve` runs gunicorn + gevent when it is
        # installed and the Werkzeug server with threads when told FORUM_ASYNC_MODE=threading.
        # The one sender sends as fast as acknowledgements come back, past the per-socket
        # event budget (10/s, burst 40; flood.py measures it), so the budget is off like the
        # message rate limit: with it, fast rounds had sends refused ("rate_limited").
        mode_env = {"FORUM_ASYNC_MODE": args.mode, "FORUM_SOCKET_EVENTS_PER_SECOND": "0"}
        for _ in range(args.rounds):
            with BareRelay(args.mode) as relay:
                bare.append(one_round(relay.url, info, args, logged_in=False))
            with AppServer(info["url"], **mode_env) as server:
                app.append(one_round(server.url, info, args, logged_in=True))
            if args.before:
                with AppServer(info["url"], root=Path(args.before), **mode_env) as server:
                    before.append(one_round(server.url, info, args, logged_in=True))
            if args.redis:
                prefix = f"bench-{uuid.uuid4().hex[:8]}"
                with AppServer(
                    info["url"], FORUM_REDIS_URL=REDIS_URL, FORUM_REDIS_PREFIX=prefix, **mode_env
                ) as server:
                    queued.append(one_round(server.url, info, args, logged_in=True))
            if args.processes > 1:
                # N processes on one Redis (one prefix), subscribers spread over them, the
                # sender on the first: what nginx's ip_hash would do with N client addresses.
                prefix = f"bench-{uuid.uuid4().hex[:8]}"
                with ExitStack() as stack:
                    servers = [
                        stack.enter_context(
                            AppServer(
                                info["url"],
                                FORUM_REDIS_URL=REDIS_URL,
                                FORUM_REDIS_PREFIX=prefix,
                                **mode_env,
                            )
                        )
                        for _ in range(args.processes)
                    ]
                    spread.append(
                        one_round(servers[0].url, info, args, True, [srv.url for srv in servers])
                    )
        named = (
            ("bare relay", bare),
            ("forum", app),
            ("forum + Redis", queued),
            (f"{args.processes} processes", spread),
            ("before", before),
        )
        for name, runs in named:
            for r in runs:
                print(
                    f"  {name:<14} {args.subscribers:>4} subs  {r['per_second']:>7.0f}/s  "
                    f"p50 {r['p50'] or 0:>7.1f} ms  p99 {r['p99'] or 0:>7.1f} ms  "
                    f"lost {r['lost']}  errors {r['errors']}"
                    + (f"  {r['error_samples']}" if r.get("error_samples") else "")
                )
        ratio = median([a["per_second"] / b["per_second"] for a, b in zip(app, bare, strict=True)])
        p99 = median([a["p99"] / b["p99"] for a, b in zip(app, bare, strict=True)])
        lost = sum(r["lost"] + r["errors"] for r in app)
        label = f"fan-out {args.subscribers} subs ({args.mode})"
        rows.append(
            {
                "name": f"{label}: deliveries/s vs bare relay",
                "value": median([r["per_second"] for r in app]),
                "baseline": median([r["per_second"] for r in bare]),
                "ratio": ratio,
                "goal": ">= 0.9",
                "met": ratio >= 0.9,
            }
        )
        rows.append(
            {
                "name": f"{label}: p99 latency vs bare relay",
                "value": median([r["p99"] for r in app]),
                "baseline": median([r["p99"] for r in bare]),
                "ratio": p99,
                "goal": "<= 1.5",
                "met": p99 <= 1.5,
            }
        )
        rows.append(
            {
                "name": f"{label}: lost deliveries + error acks",
                "value": lost,
                "baseline": 0,
                "ratio": None,
                "goal": "0",
                "met": lost == 0,
            }
        )
        if before:
            then = median(
                [b["per_second"] / r["per_second"] for b, r in zip(before, bare, strict=True)]
            )
            rows.append(
                {
                    "name": f"{label}: the --before code vs bare relay",
                    "value": median([r["per_second"] for r in before]),
                    "baseline": median([r["per_second"] for r in bare]),
                    "ratio": then,
                    "goal": "(before)",
                    "met": True,
                }
            )
        if queued:
            redis_ratio = median(
                [q["per_second"] / a["per_second"] for q, a in zip(queued, app, strict=True)]
            )
            rows.append(
                {
                    "name": "Redis queue on vs off (one process): deliveries/s",
                    "value": median([r["per_second"] for r in queued]),
                    "baseline": median([r["per_second"] for r in app]),
                    "ratio": redis_ratio,
                    "goal": ">= 0.8",
                    "met": redis_ratio >= 0.8,
                }
            )
        if spread:
            base = queued or app
            scale = median(
                [m["per_second"] / a["per_second"] for m, a in zip(spread, base, strict=True)]
            )
            rows.append(
                {
                    "name": f"{args.processes} processes over Redis vs one"
                    + (" with Redis" if queued else "")
                    + ": deliveries/s",
                    "value": median([r["per_second"] for r in spread]),
                    "baseline": median([r["per_second"] for r in base]),
                    "ratio": scale,
                    "goal": "(measured)",
                    "met": sum(r["lost"] + r["errors"] for r in spread) == 0,
                }
            )
    return rows


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=200)
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--in-flight", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--redis", action="store_true")
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="also N server processes over Redis, subscribers spread over them",
    )
    p.add_argument(
        "--mode",
        default="threading",
        choices=["threading", "gevent"],
        help="the async mode of both servers (gevent: the production server, gunicorn)",
    )
    p.add_argument(
        "--before",
        help="a directory with older code (git archive COMMIT | tar -x -C DIR) to compare",
    )
    return p


if __name__ == "__main__":
    from summary import print_table

    print_table(run(parser().parse_args()))
