"""`make bench`: every benchmark, one table of ratios against baselines from the same run.

    .venv/bin/python bench/run_all.py [--only fanout,unread,send,pages,idle,flood] [--full]

--full: 3 fan-out rounds and 10,000 idle connections (raise `ulimit -n` first).
PostgreSQL for the unread bench: FORUM_BENCH_POSTGRES_URL (e.g. .../test_13); without
it SQLite only. Redis for the queue comparison: FORUM_BENCH_REDIS_URL (default local).
"""

from __future__ import annotations

import argparse
import time

import fanout
import flood
import idle
import pages
import send_path
import unread
from summary import print_table

BENCHES = {
    "send": (send_path, []),
    "unread": (unread, []),
    "fanout": (fanout, ["--redis", "--rounds", "2"]),
    "pages": (pages, []),
    "idle": (idle, []),
    "flood": (flood, []),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(BENCHES))
    p.add_argument("--full", action="store_true")
    args = p.parse_args()
    rows = []
    for name in args.only.split(","):
        module, argv = BENCHES[name]
        if args.full and name == "fanout":
            argv = ["--redis", "--rounds", "3"]
        if args.full and name == "idle":
            argv = ["--connections", "10000"]
        started = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            rows += module.run(module.parser().parse_args(argv))
        except Exception as exc:  # noqa: BLE001 — one failing bench must not hide the rest
            rows.append(
                {
                    "name": f"{name}: FAILED {exc!r}"[:58],
                    "value": None,
                    "baseline": None,
                    "ratio": None,
                    "goal": "-",
                    "met": False,
                }
            )
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
