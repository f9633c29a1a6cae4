"""Search and API review fixes: words that fold to a stop word are found ("män", "hår"), a
token's API answers are private, short words' forms find their base form without finding
unrelated words, threads, forums and actions take their ids in commit order (the API pages
them by id), and "More results" in best-match order skips nothing when a match arrives."""

from __future__ import annotations

import threading
from collections.abc import Callable

import flask_migrate
import pytest
from sqlalchemy import event, text
from support import app_settings
from test_migrations import database_url, keep_logging, postgres_url, sqlite_url  # noqa: F401

from forum import create_app, stemming
from forum.config import parse_rate_limit
from forum.extensions import db
from forum.models import Forum, User
from forum.queries.search import SearchParams, search
from forum.services import api_tokens, follow_up, forums, organisations

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def found(query: str, order: str = "relevance") -> list[int]:
    return [h.object_id for h in search(None, SearchParams(q=query, order=order)).hits]


# --- 1. a stop word is one as written --------------------------------------------


@pytest.mark.parametrize("word", ["män", "hår", "mån", "hån"])
def test_a_word_that_folds_to_a_stop_word_is_indexed_and_found(app, make, word):
    thread = make.thread(title="Samtal")
    message = make.message(thread, make.user(), f"Om {word} i staden")
    assert found(word) == [message.id]
    assert stemming.query_terms("man") == stemming.query_terms("har") == []  # still stop words


ENTRY = (
    "INSERT INTO search_entries (id, kind, object_id, title, body, created_at) "
    "VALUES (:id, 'organisation', :id, :title, :body, CURRENT_TIMESTAMP)"
)


@pytest.mark.parametrize(
    "entries",
    [
        {7: ("Frisör", "Klippa hår för män"), 8: ("Annat", "Det är bra")},
        # only such words: on the way down the entry has no terms left at all
        {7: ("Män", "hår")},
    ],
)
def test_an_existing_index_gets_the_words_on_upgrade_and_loses_them_on_downgrade(
    database_url,  # noqa: F811
    keep_logging,  # noqa: F811
    entries,
):
    """e34searchstops writes the terms of the entries that hold such a word again."""
    app = create_app(app_settings(database_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e33orgnumber")
            with db.engine.begin() as connection:
                for entry_id, (title, body) in entries.items():
                    connection.execute(text(ENTRY), {"id": entry_id, "title": title, "body": body})
            # what the index held: the words dropped (written by e27search's pipeline)
            with db.engine.begin() as connection:
                for entry_id, (new_title, body) in entries.items():
                    title, old_body = (
                        " ".join(w for w in t.split() if w.lower() not in ("hår", "män"))
                        for t in (new_title, body)
                    )
                    if connection.dialect.name == "postgresql":
                        connection.execute(
                            text(
                                "UPDATE search_entries SET document = CAST(:d AS tsvector) "
                                "WHERE id = :id"
                            ),
                            {"id": entry_id, "d": stemming.tsvector(title, old_body)},
                        )
                    else:
                        connection.execute(
                            text(
                                "INSERT INTO search_fts (rowid, title, body) VALUES (:id, :t, :b)"
                            ),
                            {
                                "id": entry_id,
                                "t": stemming.index_text(title),
                                "b": stemming.index_text(old_body),
                            },
                        )

            def indexed() -> dict[int, str]:
                with db.engine.connect() as connection:
                    if connection.dialect.name == "postgresql":
                        query = "SELECT id, document::text FROM search_entries ORDER BY id"
                    else:
                        query = "SELECT rowid, title || ' ' || body FROM search_fts ORDER BY rowid"
                    return dict(connection.execute(text(query)).all())  # type: ignore[arg-type]

            before = indexed()
            assert "man" not in before[7] and "har" not in before[7]
            flask_migrate.upgrade()
            after = indexed()
            assert "man" in after[7] and "har" in after[7]
            assert all(after[i] == before[i] for i in entries if i != 7)
            if db.engine.dialect.name == "sqlite":
                with db.engine.connect() as connection:
                    terms = set(connection.scalars(text("SELECT term FROM search_terms")))
                assert {"man", "har"} <= terms
            flask_migrate.downgrade(revision="e33orgnumber")
            assert indexed() == before
        finally:
            db.session.remove()
            db.engine.dispose()


# --- 2. a token's answers are private -------------------------------------------------


def test_a_tokens_answers_are_private_and_a_visitors_stay_cacheable(app, make, client):
    invited = make.user()
    secret = make.forum(visibility="invite", members=[invited])
    public = make.forum()
    with app.test_request_context():
        _token, raw = api_tokens.create_token(invited, "t", ["read"])
    bearer = {"Authorization": f"Bearer {raw}"}
    for path in (f"/api/v1/forums/{secret.slug}", "/api/v1/forums"):
        answer = client.get(path, headers=bearer)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "private, no-cache", path
        again = client.get(path, headers={**bearer, "If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304  # revalidated, not sent again
    visitor = client.get(f"/api/v1/forums/{public.slug}")
    assert visitor.status_code == 200 and "Cache-Control" not in visitor.headers
    assert visitor.headers["ETag"]


# --- 3. short words' forms --------------------------------------------------------------

FORMS = [
    ("Svara på en fråga om lokaler", "frågan"),
    ("Vi ordnar en kurs i svenska", "kursen"),
    ("Vi ordnar en kurs i svenska", "kurser"),
    ("Det här år blev det bättre", "året"),
    ("Ett land med många föreningar", "landet"),
    ("Dans för seniorer varje tisdag", "dansen"),
]


@pytest.mark.parametrize(("written", "query"), FORMS)
def test_a_form_of_a_short_word_finds_its_base_form(app, make, written, query):
    thread = make.thread(title="Samtal")
    message = make.message(thread, make.user(), written)
    for order in ("relevance", "newest"):
        assert found(query, order) == [message.id], (written, query, order)
        assert found(stemming.fold(query).upper(), order) == [message.id]


def test_the_base_forms_stem_is_matched_whole_not_as_a_prefix(app, make):
    """Forms: "kursen" finds "kurs" (indexed "kur") but not "kurator"; "dansen" not "Danmark";
    "året" not "arbete": what the base form's query prefix would also have found."""
    thread = make.thread(title="Samtal")
    author = make.user()
    for body in ("Kuratorn svarar", "Resa till Danmark", "Ett arbete i parken", "Landskapet"):
        make.message(thread, author, body)
    assert found("kursen") == found("dansen") == found("året") == found("frågan") == []
    assert found("landet") == []  # "landskap" starts with "land" but is no form of it
    assert stemming.tsquery(stemming.query_terms("kursen året")) == (
        "('kurs':* | 'kur') & ('aret':* | 'ar')"
    )


# --- 4. ids in commit order --------------------------------------------------------------


def _second_waits_for_first(
    app, table: str, first: Callable[[], int], second: Callable[[], int]
) -> tuple[int, int]:
    """Run `first` until its INSERT INTO `table` has drawn an id, then `second`: the second
    must wait until the first commits, and so take the larger id. (first id, second id)."""
    inserted, release = threading.Event(), threading.Event()
    ids: dict[str, int] = {}

    def hold(_conn, _cursor, statement, *_args):
        if threading.current_thread().name == "first" and statement.startswith(
            f"INSERT INTO {table} "
        ):
            inserted.set()
            release.wait(10)

    def run(name: str, create: Callable[[], int]) -> None:
        with app.test_request_context():
            try:
                ids[name] = create()
            finally:
                db.session.remove()

    event.listen(db.engine, "after_cursor_execute", hold)
    workers = [
        threading.Thread(target=run, args=(name, create), name=name)
        for name, create in (("first", first), ("second", second))
    ]
    try:
        workers[0].start()
        assert inserted.wait(10)
        workers[1].start()
        workers[1].join(1.5)
        assert workers[1].is_alive(), "the second insert did not wait for the first's commit"
    finally:
        release.set()
        for worker in workers:
            worker.join(10)
        event.remove(db.engine, "after_cursor_execute", hold)
    return ids["first"], ids["second"]


@pytest.fixture
def postgres_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite has one writer at a time, its ids follow commit order")


def test_threads_started_at_once_in_a_forum_take_ids_in_commit_order(
    app, make, client, postgres_only
):
    forum = make.forum()
    alice_id, bob_id = make.user().id, make.user().id
    commitment_ids = make.commitment_ids(1)

    def starter(person_id: int, title: str) -> Callable[[], int]:
        def start() -> int:
            person = db.session.get(User, person_id)
            return forums.start_thread(
                person, db.session.get(Forum, forum.id), title, commitment_ids
            ).id

        return start

    first, second = _second_waits_for_first(
        app, "threads", starter(alice_id, "Alices tråd"), starter(bob_id, "Bobs tråd")
    )
    assert first < second
    # a client that saw the first is told about the second
    items = client.get(f"/api/v1/forums/{forum.slug}/threads?after={first}").get_json()["items"]
    assert [t["id"] for t in items] == [second]


def test_forums_opened_at_once_take_ids_in_commit_order(app, make, postgres_only):
    owners = [make.user("official").id, make.user("official").id]
    commitment_ids = make.commitment_ids(1)

    def opener(owner_id: int, title: str) -> Callable[[], int]:
        def open_forum() -> int:
            owner = db.session.get(User, owner_id)
            return forums.create_forum(owner, title, "", "public", commitment_ids).id

        return open_forum

    first, second = _second_waits_for_first(
        app, "forums", opener(owners[0], "Första"), opener(owners[1], "Andra")
    )
    assert first < second


def test_actions_proposed_at_once_take_ids_in_commit_order(app, make, postgres_only):
    officials = [make.user("official"), make.user("official")]
    people = [(o.id, f"department:{o.department_id}") for o in officials]
    commitment_ids = make.commitment_ids(1)

    def proposer(person_id: int, owner: str, title: str) -> Callable[[], int]:
        def propose() -> int:
            person = db.session.get(User, person_id)
            data = follow_up.ActionInput(
                title=title, owner=owner, due_date="2030-01-01", commitment_ids=commitment_ids
            )
            return follow_up.propose_action(person, data).id

        return propose

    first, second = _second_waits_for_first(
        app, "actions", proposer(*people[0], "Första"), proposer(*people[1], "Andra")
    )
    assert first < second


def test_organisations_registered_at_once_take_ids_in_commit_order(app, make, postgres_only):
    people = [make.user().id, make.user().id]

    def registrar(person_id: int, name: str, number: str) -> Callable[[], int]:
        def register() -> int:
            person = db.session.get(User, person_id)
            return organisations.register_organisation(person, name, "forening", number).id

        return register

    first, second = _second_waits_for_first(
        app,
        "organisations",
        registrar(people[0], "Första föreningen", "802456-1238"),
        registrar(people[1], "Andra föreningen", "802479-1231"),
    )
    assert first < second


# --- 5. best match pages ------------------------------------------------------------------


@pytest.mark.parametrize("query", ["cykel", "cykel väg"])
def test_more_results_after_new_matches_skip_and_repeat_nothing(app, make, query):
    """SQLite scored with the candidates' average length and the words' weights as they
    were at each page: a new match (or any entry) changed the scores, not the cursor's."""
    thread = make.thread(title="Samtal")
    author = make.user()
    ids = {make.message(thread, author, f"cykel väg {' '.join(['ord'] * n)}").id for n in range(30)}
    first = search(None, SearchParams(q=query, limit=20))
    assert first.next_cursor and len(first.hits) == 20
    make.message(thread, author, "cykel väg " + " ".join(["text"] * 400))
    make.message(thread, author, "något helt annat")
    second = search(None, SearchParams(q=query, limit=20, cursor=first.next_cursor))
    seen = [h.object_id for h in first.hits] + [h.object_id for h in second.hits]
    assert len(seen) == len(set(seen)), "a result was shown twice"
    assert ids <= set(seen), f"{len(ids - set(seen))} of the 30 results were never shown"


@pytest.mark.parametrize(
    "stats", [[], [0], [1.5, -1], [1, True], ["1"], [1.0] * 10, {"a": 1}, [float("1e400")]]
)
def test_a_cursor_with_bad_statistics_is_refused(app, stats):
    import base64
    import json

    from forum.errors import Invalid
    from forum.queries.search import decode_cursor

    raw = json.dumps(["relevance", 1.0, 5, stats]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(Invalid):
        decode_cursor(cursor, "relevance")
