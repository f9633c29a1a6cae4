"""Flood: other people's message latency while one client floods events, against the same
people with nobody flooding, on the same server in the same run.

One person's socket sends `typing` and `message:send` as fast as the server answers
(bench/flood_client.js, mode "flood"; it reconnects at once whenever it is disconnected);
meanwhile `--listeners` people in the thread receive messages that other people send at
a steady pace (mode "measure"). The figure is the listeners' latency (send -> message:new)
with the flood over the latency without it; the goal is at most 1.5x (issue 11: a
flooding client is slowed, then disconnected, and nobody else notices). The server runs
with its real limits (message rate limit, socket event budget and flood cool-off, typing
throttle). One server process; rounds alternate which phase comes first, and every flood
is a new login (a session that has flooded waits out its cool-off).

    .venv/bin/python bench/flood.py [--listeners 20] [--messages 30] [--interval-ms 100]
                                    [--rounds 3] [--warmup 1.0]
                                    [--no-cooldown]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, AppServer, median, node, prepare_database

SENDERS = 10  # per phase: at 10 messages/s each sends at most 4 in 4 s, under 10/10s


def measure(server: AppServer, info: dict, args: argparse.Namespace, senders: list) -> dict:
    return node(
        "flood_client.js",
        {
            "mode": "measure",
            "url": server.url,
            "threadId": info["thread_id"],
            "listeners": info["cookies"][: args.listeners],
            "senders": senders,
            "messages": args.messages,
            "intervalMs": args.interval_ms,
        },
        timeout=120,
    )


def start_flood(server: AppServer, info: dict, args: argparse.Namespace, cookie: str):
    options = {
        "mode": "flood",
        "url": server.url,
        "threadId": info["thread_id"],
        "cookie": cookie,
        "seconds": 120,  # stopped (SIGTERM) once the measurement is done
        "window": args.window,
    }
    return subprocess.Popen(
        ["node", str(ROOT / "bench" / "flood_client.js"), json.dumps(options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def stop_flood(proc: subprocess.Popen) -> dict:
    proc.terminate()
    out, err = proc.communicate(timeout=10)
    lines = out.strip().splitlines()
    if not lines:
        raise RuntimeError(f"flood_client.js printed nothing: {err[-2000:]}")
    return json.loads(lines[-1])


def run(args: argparse.Namespace) -> list[dict]:
    """Returns rows for the summary table: name, value, baseline, ratio, goal."""
    # fresh senders for every phase, a fresh flooder (a new login) for every flood
    people = args.listeners + (SENDERS * 2 + 1) * args.rounds
    quiet: list[dict] = []
    flooded: list[dict] = []
    floods: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        info = prepare_database(Path(tmp) / "flood.sqlite3", people)
        pool = info["cookies"][args.listeners :]
        server = AppServer(info["url"])
        server.env["FORUM_MESSAGE_RATE_LIMIT"] = "10/10s"  # the real limits, all of them
        if args.no_cooldown:  # how it was before the cool-off
            server.env["FORUM_SOCKET_FLOOD_COOLDOWN_SECONDS"] = "0"
        with server:
            for r in range(args.rounds):
                for phase in ("quiet", "flood") if r % 2 == 0 else ("flood", "quiet"):
                    senders, pool = pool[:SENDERS], pool[SENDERS:]
                    if phase == "quiet":
                        quiet.append(measure(server, info, args, senders))
                        continue
                    proc = start_flood(server, info, args, pool.pop())
                    try:
                        time.sleep(args.warmup)  # past its burst: slowed and disconnected
                        flooded.append(measure(server, info, args, senders))
                    finally:
                        floods.append(stop_flood(proc))
    for name, runs in (("quiet", quiet), ("flooded", flooded)):
        for res in runs:
            print(
                f"  {name:<8} {args.listeners} listeners  p50 {res['p50'] or 0:>7.1f} ms  "
                f"p99 {res['p99'] or 0:>7.1f} ms  lost {res['lost']}  errors {res['errors']}"
            )
    for f in floods:
        print(
            f"  flooder  sent {f['sent']}  accepted {f['accepted']}  refused {f['refused']}  "
            f"disconnected {f['disconnects']}x  connects refused {f.get('refusedConnects', 0)}"
        )
    rows = []
    for key in ("p50", "p99"):
        ratio = median([f[key] / q[key] for f, q in zip(flooded, quiet, strict=True)])
        rows.append(
            {
                "name": f"flood: others' {key} latency, flooded vs quiet (ms)",
                "value": median([r[key] for r in flooded]),
                "baseline": median([r[key] for r in quiet]),
                "ratio": ratio,
                "goal": "<= 1.5",
                "met": ratio <= 1.5,
            }
        )
    lost = sum(r["lost"] + r["errors"] for r in flooded + quiet)
    rows.append(
        {
            "name": "flood: others' lost deliveries + error acks",
            "value": lost,
            "baseline": 0,
            "ratio": None,
            "goal": "0",
            "met": lost == 0,
        }
    )
    return rows


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listeners", type=int, default=20)
    p.add_argument("--messages", type=int, default=30, help="per phase")
    p.add_argument("--interval-ms", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of flood before measuring")
    p.add_argument("--window", type=int, default=200, help="the flooder's unacknowledged events")
    p.add_argument(
        "--no-cooldown",
        action="store_true",
        help="let a disconnected flooder reconnect at once (the code before the cool-off)",
    )
    return p


if __name__ == "__main__":
    from summary import print_table

    print_table(run(parser().parse_args()))
