"""Unread counts at 10,000 vs 1,000,000 messages, on SQLite and PostgreSQL.

The forum list (/forums) and the forum page (/forums/<slug>) are fetched in-process by a
reader who has read all but the last 5 messages of each thread; their time at the large
size is divided by their time at the small size (goal <= 1.5). The query the forum list
used before (one that counts the forum's messages past the marker) is timed alongside
for comparison. Messages are made with one INSERT ... SELECT per size.

    .venv/bin/python bench/unread.py [--small 10000] [--large 1000000] [--threads 20]
        [--postgres postgresql://postgres@127.0.0.1:5432/test_13]   (omit: SQLite only)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import bench_app, median, session_cookie
from sqlalchemy import and_, func, select, text

UNREAD_PER_THREAD = 5
_COLUMNS = "INSERT INTO messages (thread_id, author_id, body, html, client_id, state, created_at) "
_VALUES = (
    "SELECT :first + (i % :count), :author, 'hej ' || i, '<p>hej ' || i || '</p>', "
    "'bulk-' || i, 'visible', :now FROM "
)
INSERT_PG = _COLUMNS + _VALUES + "generate_series(1, :n) AS s(i)"
_SQLITE_SERIES = (
    "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s LIMIT :n) SELECT i FROM s)"
)
INSERT_SQLITE = _COLUMNS + _VALUES + _SQLITE_SERIES


def build(url: str, messages: int, threads: int) -> dict:
    from forum.extensions import db
    from forum.models import Forum, Message, Thread, User
    from forum.models.base import utcnow
    from forum.services import accounts, agreement, forums

    app = bench_app(url)
    with app.app_context(), app.test_request_context():
        db.drop_all()
        db.create_all()
        agreement.seed_agreement()
        official = accounts.create_user_with_role(
            "off@unread.se", "Off", "benchmark password 123", "official", "Kulturnämnden"
        )
        author = accounts.create_user_with_role(
            "a@unread.se", "A", "benchmark password 123", "member"
        )
        reader = accounts.create_user_with_role(
            "r@unread.se", "R", "benchmark password 123", "member"
        )
        forum = forums.create_forum(official, "Stort forum", "", "public", [1])
        forums.create_forum(official, "Litet forum", "", "public", [1])
        ids = [forums.start_thread(official, forum, f"Tråd {i}", [1]).id for i in range(threads)]
        first, count = ids[0], len(ids)
        insert = INSERT_PG if db.engine.dialect.name == "postgresql" else INSERT_SQLITE
        started = time.perf_counter()
        # Bulk load: indexes are built once afterwards; PostgreSQL skips FK triggers.
        connection = db.session.connection()
        indexes = list(Message.__table__.indexes)
        for index in indexes:
            index.drop(connection)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET session_replication_role = replica"))
        db.session.execute(
            text(insert),
            {"n": messages, "first": first, "count": count, "author": author.id, "now": utcnow()},
        )
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET session_replication_role = DEFAULT"))
        for index in indexes:
            index.create(connection)
        db.session.execute(
            text(
                "UPDATE threads SET message_count = (SELECT count(*) FROM messages"
                " WHERE messages.thread_id = threads.id), last_message_id = (SELECT max(id)"
                " FROM messages WHERE messages.thread_id = threads.id)"
            )
        )
        # The reader has read everything but the last few messages of each thread.
        db.session.execute(
            text(
                "INSERT INTO read_markers (user_id, thread_id, last_read_id, read_count)"
                " SELECT :reader, id, last_message_id - :k * :count, message_count - :k"
                " FROM threads WHERE forum_id = :forum"
            ),
            {"reader": reader.id, "k": UNREAD_PER_THREAD, "count": count, "forum": forum.id},
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        loaded = time.perf_counter() - started
        assert db.session.scalar(select(func.count()).select_from(Thread)) == threads
        cookie = session_cookie(app, db.session.get(User, reader.id))
        slug = db.session.scalar(select(Forum.slug).where(Forum.id == forum.id))
        info = {"reader": reader.id, "forum": forum.id, "slug": slug, "cookie": cookie}
        info["load_seconds"] = loaded
        db.session.remove()
        db.engine.dispose()
    return info


def old_unread_by_forum(user_id: int, forum_ids: list[int]):
    """The query /forums ran before: it counts every message past the reader's marker."""
    from forum.extensions import db
    from forum.models import Message, MessageState, ReadMarker, Thread

    return db.session.execute(
        select(Thread.forum_id, func.count())
        .select_from(Message)
        .join(Thread, Thread.id == Message.thread_id)
        .outerjoin(
            ReadMarker,
            and_(ReadMarker.thread_id == Message.thread_id, ReadMarker.user_id == user_id),
        )
        .where(
            Thread.forum_id.in_(forum_ids),
            Message.id > func.coalesce(ReadMarker.last_read_id, 0),
            Message.author_id != user_id,
            Message.state == MessageState.visible,
        )
        .group_by(Thread.forum_id)
    ).all()


def measure(url: str, info: dict, repeat: int, threads: int) -> dict[str, float]:
    from forum.extensions import db
    from forum.models import User
    from forum.queries import forums as forum_queries

    app = bench_app(url)
    timings: dict[str, list[float]] = {"/forums": [], "/forums/<slug>": [], "old query": []}
    with app.app_context():
        client = app.test_client()
        name, value = info["cookie"].split("=", 1)
        client.set_cookie(name, value, domain="localhost")
        expected = threads * UNREAD_PER_THREAD
        reader = db.session.get(User, info["reader"])
        got = forum_queries.unread_by_forum(reader, [info["forum"]])
        assert got == {info["forum"]: expected}, got
        for _ in range(repeat + 1):  # the first round warms caches and is dropped
            for path, key in (
                ("/forums", "/forums"),
                (f"/forums/{info['slug']}", "/forums/<slug>"),
            ):
                started = time.perf_counter()
                response = client.get(path)
                timings[key].append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
            if len(timings["old query"]) < 4:  # slow at the large size: a few rounds only
                started = time.perf_counter()
                old_unread_by_forum(info["reader"], [info["forum"]])
                timings["old query"].append(time.perf_counter() - started)
            db.session.remove()
        db.engine.dispose()
    return {key: median(values[1:]) * 1000 for key, values in timings.items()}


def run(args: argparse.Namespace) -> list[dict]:
    backends = []
    tmp = tempfile.TemporaryDirectory()
    backends.append(("SQLite", f"sqlite:///{Path(tmp.name) / 'unread.sqlite3'}"))
    if args.postgres:
        backends.append(("PostgreSQL", args.postgres))
    rows = []
    try:
        for label, url in backends:
            results = {}
            for size in (args.small, args.large):
                info = build(url, size, args.threads)
                results[size] = measure(url, info, args.repeat, args.threads)
                print(
                    f"  {label:<10} {size:>9} messages (loaded in {info['load_seconds']:.1f} s): "
                    + ", ".join(f"{k} {v:.1f} ms" for k, v in results[size].items())
                )
            for key in ("/forums", "/forums/<slug>", "old query"):
                ratio = results[args.large][key] / results[args.small][key]
                rows.append(
                    {
                        "name": f"unread {label} {key}: {args.large:,} vs {args.small:,} msgs (ms)",
                        "value": results[args.large][key],
                        "baseline": results[args.small][key],
                        "ratio": ratio,
                        "goal": "<= 1.5" if key != "old query" else "(before)",
                        "met": ratio <= 1.5 if key != "old query" else True,
                    }
                )
            if url.startswith("sqlite"):
                os.remove(url.removeprefix("sqlite:///"))
    finally:
        tmp.cleanup()
    return rows


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--large", type=int, default=1_000_000)
    p.add_argument("--threads", type=int, default=20)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--postgres", default=os.environ.get("FORUM_BENCH_POSTGRES_URL"))
    return p


if __name__ == "__main__":
    from summary import print_table

    print_table(run(parser().parse_args()))
