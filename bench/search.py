"""Search benchmark: the same queries at a small and a 100x larger number of messages.

Builds a database per size (a temporary SQLite file, or the PostgreSQL database
given by --postgres, which is EMPTIED: use your own), fills it with Swedish-looking
messages in a handful of public threads (bulk inserts that write the same
search_entries rows, and the same terms (FTS5 rows, or the PostgreSQL document), as
the app's index hook; on PostgreSQL one INSERT ... SELECT per table, the GIN index built
after),
then times `forum.queries.search.search()` for a visitor and prints p50/p95 per
size and the ratio large/small.

    .venv/bin/python bench/search.py                       # SQLite, 1,000 vs 100,000 (short)
    .venv/bin/python bench/search.py --sizes 10000 1000000 # the issue's sizes
    .venv/bin/python bench/search.py --sizes 10000 1000000 \
        --postgres postgresql://postgres@127.0.0.1:5432/test_i15

Both sizes are loaded, then measured in alternating rounds (each round warms up first).
The goal (issue 15): at most 2x at 100x the data, p95 < 200 ms at 1,000,000 on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url as make_sqlalchemy_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FORUM_SECRET_KEY", "bench")
os.environ.setdefault("FORUM_DEMO", "0")

WORDS = (
    "förening föreningar mötesplats mötesplatserna lokal lokaler kvällsöppet ungdomar "
    "stadsdel samråd dialog kultur idrott bidrag finansiering barn familjer äldre "
    "integration språk arbete praktik volontär styrelse årsmöte budget ansökan stöd "
    "bibliotek fritidsgård simhall park trygghet buss cykel skola läxhjälp musik teater"
).split()
RARE = ["kanelbulle", "solrosfrö", "vattenkanna", "dragspel"]
QUERIES = ["mötesplatserna", "förening lokal", "kvällsöppet", "kanelbulle", "läxhjälp musik"]
# Words of middling frequency, measured apart (the five above are the comparison):
# in 1 % and 0.2 % of the messages, where neither reading all matches nor walking the
# newest entries until a page is found is cheap.
MIDDLING = {"boule": 0.01, "curling": 0.002}
BATCH = 5000
ENTRY_OFFSET = 100  # the forum and thread entries come first
START = datetime(2025, 1, 1, tzinfo=UTC)


def make_url(postgres: str | None, suffix: str = "") -> str:
    """A temporary SQLite file, or the PostgreSQL database given (+ `suffix`, created here)."""
    if postgres is None:
        path = Path(tempfile.mkdtemp(prefix="search-bench-")) / "bench.sqlite3"
        return f"sqlite:///{path}"
    url = make_sqlalchemy_url(postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    if suffix:
        url = url.set(database=f"{url.database}{suffix}")
        _postgres_admin(postgres, f'CREATE DATABASE "{url.database}"', exists_ok=True)
    return url.render_as_string(hide_password=False)


def _postgres_admin(postgres: str, statement: str, exists_ok: bool = False) -> None:
    import psycopg

    with psycopg.connect(postgres, autocommit=True) as conn:
        try:
            conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.errors.DuplicateDatabase:
            if not exists_ok:
                raise


# PostgreSQL: the same shape of text as the Python generator below, made by the server.
PG_MESSAGES = """
INSERT INTO messages (id, thread_id, author_id, body, html, client_id, state, created_at)
SELECT i, i % 20 + 1, 1, t.body, '<p>' || t.body || '</p>', 'b' || i, 'visible',
       :start + i * interval '30 seconds'
FROM generate_series(1, :count) AS s(i),
LATERAL (
    SELECT string_agg(w.words[1 + floor(random() * w.n)::int], ' ')
        || CASE WHEN random() < 0.001
                THEN ' ' || (CAST(:rare AS text[]))[1 + floor(random() * :rare_n)::int] ELSE '' END
        || CASE WHEN random() < 0.01 THEN ' boule' ELSE '' END
        || CASE WHEN random() < 0.002 THEN ' curling' ELSE '' END
        || '.' AS body
    FROM (SELECT CAST(:words AS text[]) AS words, :words_n AS n) AS w,
         generate_series(1, 6 + floor(random() * 25)::int + 0 * i)
) AS t
"""
# The document holds the app's Python terms (forum/stemming.py) of each word, looked up in a
# table of the generator's words (as written and capitalised): the same tsvector the app
# writes for these plain words.
PG_STEMS = "CREATE TEMPORARY TABLE bench_stems (word text PRIMARY KEY, term text NOT NULL)"
PG_ENTRIES = """
INSERT INTO search_entries (id, kind, object_id, title, body, forum_id, thread_id, author_id,
                            created_at, document)
SELECT id + :offset, 'message', id, '', body, 1, thread_id, 1, created_at,
       setweight(to_tsvector('simple', (
           SELECT string_agg(s.term, ' ' ORDER BY t.n)
           FROM regexp_split_to_table(rtrim(body, '.'), ' ') WITH ORDINALITY AS t(w, n)
           JOIN bench_stems s ON s.word = t.w
       )), 'B')
FROM messages
"""


def fill(app, count: int) -> None:  # noqa: ANN001
    """Users, a public forum with 20 threads, and `count` messages with their index rows."""
    from sqlalchemy import text

    from forum.extensions import db
    from forum.models import Forum, Thread, User, Visibility

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.drop_all()
        db.create_all()
        db.session.add(
            User(email="b@example.se", handle="bench", display_name="Bench", password_hash="x")
        )
        db.session.add(Forum(slug="bench", title="Bänk", visibility=Visibility.public))
        db.session.flush()
        db.session.add_all(Thread(forum_id=1, title=f"Tråd {n}") for n in range(20))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT setseed(0.15)"))
            db.session.execute(text("DROP INDEX ix_search_entries_document"))
            db.session.execute(
                text(PG_MESSAGES),
                {
                    "count": count,
                    "start": START,
                    "words": WORDS,
                    "words_n": len(WORDS),
                    "rare": RARE,
                    "rare_n": len(RARE),
                },
            )
            from forum import stemming

            db.session.execute(text(PG_STEMS))
            vocabulary = {*WORDS, *RARE, *MIDDLING}
            db.session.execute(
                text("INSERT INTO bench_stems (word, term) VALUES (:word, :term)"),
                [
                    {"word": form, "term": stemming.index_text(word)}
                    for word in vocabulary
                    for form in {word, word.capitalize()}
                ],
            )
            db.session.execute(text(PG_ENTRIES), {"offset": ENTRY_OFFSET})
            db.session.execute(
                text(
                    "CREATE INDEX ix_search_entries_document ON search_entries USING gin (document)"
                )
            )
            db.session.commit()
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        else:
            fill_sqlite(count)


def fill_sqlite(count: int) -> None:
    """The messages and their index rows (with the FTS5 stems), in batches from Python."""
    from sqlalchemy import insert, text

    from forum import stemming
    from forum.extensions import db
    from forum.models import Message, SearchEntry
    from forum.services.search_index import write_terms

    rng = random.Random(15)
    for first in range(0, count, BATCH):
        messages, entries, fts = [], [], []
        for n in range(first + 1, min(count, first + BATCH) + 1):
            words = rng.choices(WORDS, k=rng.randint(6, 30))
            if rng.random() < 0.001:
                words.append(rng.choice(RARE))
            words += [word for word, share in MIDDLING.items() if rng.random() < share]
            body = " ".join(words).capitalize() + "."
            at = START + timedelta(seconds=n * 30)
            thread_id = n % 20 + 1
            messages.append(
                {
                    "id": n,
                    "thread_id": thread_id,
                    "author_id": 1,
                    "body": body,
                    "html": f"<p>{body}</p>",
                    "client_id": f"b{n}",
                    "state": "visible",
                    "created_at": at,
                }
            )
            entries.append(
                {
                    "id": n + ENTRY_OFFSET,
                    "kind": "message",
                    "object_id": n,
                    "title": "",
                    "body": body,
                    "forum_id": 1,
                    "thread_id": thread_id,
                    "author_id": 1,
                    "created_at": at,
                }
            )
            fts.append({"id": n + ENTRY_OFFSET, "title": "", "body": stemming.index_text(body)})
        conn = db.session.connection()
        conn.execute(insert(Message), messages)
        conn.execute(insert(SearchEntry), entries)
        conn.execute(
            text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, :title, :body)"), fts
        )
        write_terms(conn, *(row["body"] for row in fts))
        db.session.commit()


def measure(app, rounds: int) -> dict[str, list[float]]:  # noqa: ANN001
    """Milliseconds per search, keyed "<order>" (the five queries) and "<order> middling"."""
    from forum.extensions import db
    from forum.queries.search import SearchParams, search

    out: dict[str, list[float]] = {}
    with app.app_context():
        for order in ("relevance", "newest"):
            for group, queries in (("", QUERIES), (" middling", list(MIDDLING))):
                times = out[order + group] = []
                for q in queries:  # warm up
                    search(None, SearchParams(q=q, order=order))
                for _ in range(rounds):
                    for q in queries:
                        began = time.perf_counter()
                        search(None, SearchParams(q=q, order=order))
                        times.append((time.perf_counter() - began) * 1000)
        db.session.remove()
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--postgres", help="your own PostgreSQL database (emptied, then dropped)")
    args = parser.parse_args()

    from forum import create_app

    # Both sizes are loaded first, then measured in alternating rounds, so that the other
    # work on a shared machine falls on both alike. On PostgreSQL the larger size goes
    # into a second database, "<your database>_large", dropped at the end.
    apps = {}
    for size, suffix in zip(args.sizes, ("", "_large"), strict=True):
        apps[size] = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": make_url(args.postgres, suffix),
                "FORUM_DEMO": False,
                "SQLALCHEMY_ENGINE_OPTIONS": {}
                if args.postgres
                else {"connect_args": {"timeout": 30}},
                "SERVER_NAME": "localhost",
            }
        )
        began = time.perf_counter()
        fill(apps[size], size)
        print(f"{size:>9} messages loaded in {time.perf_counter() - began:.1f} s", flush=True)
    results: dict[int, dict[str, list[float]]] = {size: {} for size in args.sizes}
    for n in range(args.rounds):
        for size in args.sizes if n % 2 == 0 else args.sizes[::-1]:
            for key, times in measure(apps[size], 1).items():
                results[size].setdefault(key, []).extend(times)
    for size, app in apps.items():
        with app.app_context():
            from forum.extensions import db

            large = db.engine.url.database if size == args.sizes[1] else None
            if args.postgres:
                db.drop_all()
            db.engine.dispose()
        if args.postgres and large:
            _postgres_admin(args.postgres, f'DROP DATABASE "{large}"')
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nsearch on {backend}, {len(QUERIES)} queries x {args.rounds} rounds (ms)")
    small, large = args.sizes
    for key in results[small]:
        a, b = results[small][key], results[large][key]
        print(
            f"{key:<18} {small:>9}: p50 {statistics.median(a):7.1f}  p95 {p95(a):7.1f} | "
            f"{large:>9}: p50 {statistics.median(b):7.1f}  p95 {p95(b):7.1f} | "
            f"ratio p95 {p95(b) / max(p95(a), 0.001):5.1f}x"
        )


if __name__ == "__main__":
    main()
