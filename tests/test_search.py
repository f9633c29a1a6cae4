"""Search: Swedish word forms, the visibility matrix, excerpts, pages and bad input.

The same cases run on SQLite (FTS5) and, with FORUM_TEST_DATABASE_URL, on
PostgreSQL (tsvector + GIN): CI runs the suite on both.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from consultation_support import make_round, respond
from sqlalchemy import func, select, text

from forum import stemming
from forum.config import parse_rate_limit
from forum.extensions import db
from forum.models import Message, OrganisationStatus, SearchEntry
from forum.queries.search import SearchParams, bm25_scores, highlight, search
from forum.services import consultations as consultation_service
from forum.services import follow_up, moderation, privacy
from forum.services import forums as forum_service

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def found(user, q: str, **params) -> list:
    return search(user, SearchParams(q=q, **params)).hits


def kinds(user, q: str, **params) -> list[str]:
    return [h.kind for h in found(user, q, **params)]


# --- Swedish as it is written --------------------------------------------------


@pytest.mark.parametrize(
    ("written", "query"),
    [
        ("Vi har bra mötesplatser för unga", "mötesplatserna"),
        ("En mötesplats i Angered", "mötesplatserna"),
        ("Mötesplatserna behöver öppet på kvällen", "mötesplats"),
        ("Stöd till en förening", "föreningar"),
        ("Många föreningar söker lokaler", "förening"),
        ("Föreningslivet i Göteborg", "förening"),
        ("Barnen spelade fotboll", "barn"),
        ("Kulturhuset öppnar", "KULTURHUSET"),
        ("Möteslokal för alla", "moteslokal"),
    ],
)
def test_swedish_word_forms_find_each_other(app, make, written, query):
    thread = make.thread(title="Samtal")
    make.message(thread, make.user(), written)
    assert kinds(None, query) == ["message"]


# Each group: forms of one word. Every form finds every other, typed with or without
# å/ä/ö or in capitals: the word is stemmed as written and the stem folded afterwards
# (folding first made "samråd" "samr" but "samrådet" "samrad").
FORMS = {
    "samråd": ["samråd", "samrådet", "samråden", "samråds"],
    "område": ["område", "området", "områdena", "områden"],
    "förening": ["förening", "föreningen", "föreningarna", "föreningar"],
    # short words, whose base form Snowball stems shorter ("kurs": "kur") or whose ending it
    # leaves on ("frågan", "året", "landet"): the query also matches the base form's stem
    "fråga": ["fråga", "frågan", "frågor", "frågorna"],
    "kurs": ["kurs", "kursen", "kurser", "kurserna"],
    "år": ["år", "året"],
    "land": ["land", "landet"],
    "dans": ["dans", "dansen", "danser"],
}


@pytest.mark.parametrize("word", list(FORMS))
def test_every_form_of_a_word_finds_every_other_with_or_without_swedish_letters(app, make, word):
    thread = make.thread(title="Samtal")
    author = make.user()
    forms = FORMS[word]
    ids = {make.message(thread, author, f"Om {form} i staden").id for form in forms}
    for form in forms:
        for query in (form, stemming.fold(form), form.upper()):
            hits = found(None, query)
            assert {h.object_id for h in hits if h.kind == "message"} == ids, (query, hits)


def test_stop_words_are_not_indexed_and_a_query_is_stemmed_once(app, make):
    """The same answers on both databases: PostgreSQL folded "är" to "ar" before its
    stop-word list (so "år" found "Det är bra"), stemmed the query's stems again and dropped
    "var" ("våren") as a stop word (the query left matched everything), and read
    "mira.medlem" as one host name."""
    thread = make.thread(title="Jämförelse")
    author = make.user()
    docs = {
        "är": "Det är bra att vi ses",
        "året": "Förra året gick det bra",
        "för": "Tack för i dag",
        "våren": "Till våren öppnar vi igen",
        "när": "Säg till när ni kan",
        "efteråt": "Vi fikar efteråt",
        "mention": "Tack @mira.medlem för hjälpen",
    }
    names = {make.message(thread, author, body).id: name for name, body in docs.items()}

    def finds(query: str) -> set[str]:
        return {names[h.object_id] for h in found(None, query) if h.kind == "message"}

    assert finds("år") == {"året"}
    assert finds("våren") == {"våren"}
    assert finds("efteråt") == {"efteråt"}
    assert finds("nå") == set()
    assert finds("medlem") == {"mention"}
    assert finds("mira") == {"mention"}
    assert finds("är") == finds("för") == finds("när") == set()


def test_all_words_must_match_and_stop_words_are_ignored(app, make):
    thread = make.thread(title="Samtal")
    author = make.user()
    make.message(thread, author, "Lokaler för föreningar")
    make.message(thread, author, "Lokaler för idrott")
    assert len(found(None, "lokaler och föreningar")) == 1
    assert len(found(None, "lokaler")) == 2
    assert found(None, "och för att") == []
    assert found(None, "   ") == []


# --- the visibility matrix -------------------------------------------------------

ROLES = (
    "visitor",
    "member",
    "invited",
    "forum_moderator",
    "official",
    "other_official",
    "site_moderator",
    "admin",
)
ALL = set(ROLES)
LOGGED_IN = ALL - {"visitor"}
# the official opened the invite-only forum, which makes them its first member
INVITE = {"invited", "forum_moderator", "official", "site_moderator", "admin"}
MANAGERS = {"official", "admin"}

# marker word -> (kind, roles that find it)
EXPECTED = {
    "alfapublik": ("message", ALL),
    "betamedlem": ("message", LOGGED_IN),
    "gammainbjuden": ("message", INVITE),
    "omikrontrad": ("thread", INVITE),
    "deltadold": ("message", set()),
    "epsilonraderad": ("message", set()),
    "zetagammal": ("message", set()),
    "etanyversion": ("message", ALL),
    "thetautkast": ("round", MANAGERS),
    "iotaoppen": ("round", ALL),
    "kappautkast": ("response", set()),
    "lambdainskickat": ("response", MANAGERS),
    "mypublicerat": ("response", ALL),
    "nyopublicerad": ("feedback", MANAGERS),
    "xipublicerad": ("feedback", ALL),
    "rhoavvisad": ("organisation", {"admin"}),
    "sigmaverifierad": ("organisation", ALL),
    "pipubliktforum": ("forum", ALL),
    "taumedlemsforum": ("forum", LOGGED_IN),
    "upsiloninbjudna": ("forum", INVITE),
    "phiinbjudenatgard": ("action", INVITE),
    "chiallmanatgard": ("action", ALL),
}


@pytest.fixture
def world(app, make):
    people = {
        "visitor": None,
        "member": make.user(),
        "invited": make.user(),
        "forum_moderator": make.user(),
        "official": make.user("official"),
        "other_official": make.user("official", department="Kulturnämnden"),
        "site_moderator": make.user("moderator"),
        "admin": make.user("admin"),
    }
    official = people["official"]
    public = make.forum(owner=official, title="Pipubliktforum")
    members = make.forum(owner=official, visibility="members", title="Taumedlemsforum")
    invite = make.forum(
        owner=official,
        visibility="invite",
        title="Upsiloninbjudna",
        moderators=[people["forum_moderator"]],
        members=[people["invited"]],
    )
    author = make.user()
    for forum in (public, members, invite):
        forum.members = [*forum.members, author]
    db.session.commit()
    t_public = make.thread(forum=public, author=author, title="Allmänt")
    make.message(t_public, author, "alfapublik text")
    make.message(make.thread(forum=members, author=author, title="Medlemmar"), author, "betamedlem")
    t_invite = make.thread(forum=invite, author=author, title="omikrontrad")
    invited_message = make.message(t_invite, author, "gammainbjuden")
    hidden = make.message(t_public, author, "deltadold")
    deleted = make.message(t_public, author, "epsilonraderad")
    edited = make.message(t_public, author, "zetagammal")
    with app.test_request_context():
        moderation.hide_message(people["admin"], hidden.id, "other", "Test")
        forum_service.delete_message(author, deleted.id)
        forum_service.edit_message(author, edited.id, "etanyversion")
        for title, message_id in (
            ("Phiinbjudenatgard", invited_message.id),  # from the invite-only thread
            ("Chiallmanatgard", None),  # proposed directly: everyone may follow it
        ):
            follow_up.propose_action(
                official,
                follow_up.ActionInput(
                    title=title,
                    owner=f"department:{official.department_id}",
                    due_date="2027-01-01",
                    commitment_ids=make.commitment_ids(1),
                    message_id=message_id,
                ),
            )

    org_admin = make.user()
    org = make.organisation(admin=org_admin, name="Sigmaverifierad förening")
    make.organisation(verified=False, name="Rhoavvisad förening")
    rejected = db.session.scalar(select(type(org)).where(type(org).name == "Rhoavvisad förening"))
    rejected.status = OrganisationStatus.rejected
    db.session.commit()

    make_round(app, make, official, state="draft", title="thetautkast")
    open_round = make_round(app, make, official, title="iotaoppen")
    respond(app, org_admin, open_round, org, submit=False, text="kappautkast")
    other_org_admin = make.user()
    other_org = make.organisation(admin=other_org_admin)
    respond(app, other_org_admin, open_round, other_org, text="lambdainskickat")

    closed = make_round(app, make, official, title="Stängd")
    respond(app, org_admin, closed, org, text="mypublicerat")
    with app.test_request_context():
        consultation_service.close_round(official, closed.id)
        consultation_service.save_feedback(
            official,
            closed.id,
            {closed.questions[0].id: consultation_service.FeedbackInput(heard="nyopublicerad")},
        )
    published = make_round(app, make, official, title="Publicerad")
    respond(app, org_admin, published, org, text="Svar")
    with app.test_request_context():
        consultation_service.close_round(official, published.id)
        consultation_service.save_feedback(
            official,
            published.id,
            {published.questions[0].id: consultation_service.FeedbackInput(heard="xipublicerad")},
            publish=True,
        )
    return people


@pytest.mark.parametrize("role", ROLES)
def test_visibility_matrix(world, role):
    """Each role finds exactly what it may read, of every kind."""
    user = world[role]
    for word, (kind, allowed) in EXPECTED.items():
        hits = kinds(user, word)
        if role in allowed:
            assert kind in hits, f"{role} should find the {kind} {word!r}"
        else:
            assert kind not in hits, f"{role} must not find the {kind} {word!r}"


def test_hidden_and_deleted_messages_stay_indexed_but_are_filtered_in_the_query(world):
    """The rows are there (a restore brings them back); the query itself leaves them out."""
    assert db.session.scalar(select(SearchEntry.id).where(SearchEntry.body.contains("deltadold")))
    page = search(world["admin"], SearchParams(q="deltadold", limit=1))
    assert page.hits == [] and page.next_cursor is None


def test_restoring_a_hidden_message_makes_it_findable_again(app, make):
    moderator, author = make.user("moderator"), make.user()
    thread = make.thread()
    message = make.message(thread, author, "kanelbullar")
    with app.test_request_context():
        moderation.hide_message(moderator, message.id, "other", "Test")
    assert found(None, "kanelbulle") == []
    with app.test_request_context():
        moderation.restore_message(moderator, message.id)
    assert kinds(None, "kanelbulle") == ["message"]


# --- filters, order, pages ---------------------------------------------------------


def test_filters_by_kind_forum_author_and_date(app, make):
    first, second = make.forum(title="Första"), make.forum(title="Andra")
    alice, bob = make.user(), make.user()
    make.message(make.thread(forum=first, author=alice, title="Cykelvägar"), alice, "cykelbanor")
    make.message(make.thread(forum=second, author=bob, title="Två"), bob, "cykelbanor")
    assert len(found(None, "cykelbanor", forum_id=first.id)) == 1
    assert [h.forum_id for h in found(None, "cykelbanor", author_id=bob.id)] == [second.id]
    assert kinds(None, "cykelväg", kind="thread") == ["thread"]
    today = datetime.now(UTC).date()
    assert len(found(None, "cykelbanor", date_from=today - timedelta(days=1))) == 2
    assert found(None, "cykelbanor", date_to=today - timedelta(days=2)) == []


def test_moving_a_thread_moves_its_messages_in_the_forum_filter(app, make):
    moderator = make.user("moderator")
    first, second = make.forum(), make.forum()
    thread = make.thread(forum=first)
    make.message(thread, make.user(), "flyttlasset")
    with app.test_request_context():
        moderation.move_thread(moderator, thread.id, second.id)
    assert found(None, "flyttlasset", forum_id=first.id) == []
    assert len(found(None, "flyttlasset", forum_id=second.id)) == 1


@pytest.mark.parametrize("order", ["relevance", "newest"])
def test_keyset_pages_cover_every_hit_once(app, make, order):
    thread = make.thread(title="Sidor")
    author = make.user()
    made = {make.message(thread, author, f"sommarlov nummer {n}").id for n in range(7)}
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        page = search(None, SearchParams(q="sommarlov", order=order, limit=3, cursor=cursor))
        seen += [h.object_id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


def all_pages(q: str, order: str, user=None) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        page = search(user, SearchParams(q=q, order=order, limit=2, cursor=cursor))
        seen += [h.object_id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


def test_best_match_ranks_only_the_newest_candidates(app, make, monkeypatch):
    from forum.queries import search as search_module

    thread, author = make.thread(title="Kandidater"), make.user()
    made = [make.message(thread, author, f"höstmarknad nummer {n}").id for n in range(6)]
    monkeypatch.setattr(search_module, "CANDIDATES", 4)
    # only the four newest matches are ranked: the work stays bounded for a common word
    assert sorted(all_pages("höstmarknad", "relevance")) == sorted(made[-4:])
    # newest first is not bounded: it walks the time order and stops after each page
    assert all_pages("höstmarknad", "newest") == made[::-1]


@pytest.mark.parametrize("order", ["relevance", "newest"])
def test_narrow_windows_and_rare_word_lookups_give_the_same_pages(app, make, monkeypatch, order):
    """The shortcuts (a window of the newest entries, a rare word looked up by ids, the
    SQLite time-index walk) return exactly what the plain query returns."""
    from forum.queries import search as search_module

    thread, author, member = make.thread(title="Fönster"), make.user(), make.user()
    hidden_forum = make.forum(visibility="invite", members=[author])
    secret = make.thread(forum=hidden_forum, author=author, title="Hemligt")
    made = []
    for n in range(9):
        made.append(make.message(thread, author, f"julmarknad nummer {n}").id)
        make.message(thread, author, f"annat ämne {n}")
        make.message(secret, author, f"julmarknad i hemlighet {n}")
    monkeypatch.setattr(search_module, "WINDOWS", (None,))
    monkeypatch.setattr(search_module, "FEW", -1)
    monkeypatch.setattr(search_module, "CANDIDATES", 10_000)
    plain = all_pages("julmarknad", order, member)
    assert sorted(plain) == sorted(made)
    configurations = [
        ((4, None), 100, 10_000),  # window too small, then the rare word by its ids
        ((4, None), 1, 10_000),  # window too small, then the plain query
        ((30, None), -1, 10_000),
        ((30, None), -1, 3),  # the window holds enough candidates
        ((None,), 100, 3),
        ((4, None), 5, 2),  # best match: the newest 5 matches' ids hold 2 readable candidates
        ((4, None), 5, 3),  # ... but not 3: the plain query
    ]
    for windows, few, candidates in configurations:
        monkeypatch.setattr(search_module, "WINDOWS", windows)
        monkeypatch.setattr(search_module, "FEW", few)
        monkeypatch.setattr(search_module, "CANDIDATES", candidates)
        pages = all_pages("julmarknad", order, member)
        if order == "newest" or candidates > len(made):
            assert pages == plain, (windows, few, candidates)
        else:
            assert sorted(pages) == sorted(made[-candidates:]), (windows, few, candidates)


def test_newest_first_is_in_time_order(app, make):
    thread = make.thread(title="Ordning")
    author = make.user()
    ids = [make.message(thread, author, f"vinterkräksjuka {n}").id for n in range(3)]
    assert [h.object_id for h in found(None, "vinterkräksjuka", order="newest")] == ids[::-1]


def test_title_words_rank_above_body_words(app, make):
    thread = make.thread(title="Läxhjälp")
    make.message(thread, make.user(), "Här finns läxhjälp också")
    assert kinds(None, "läxhjälp")[0] == "thread"


# --- SQLite: prefixes as whole stems, a bounded walk, ranking in Python ------------------


def sqlite_only() -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index; PostgreSQL's GIN index answers prefix queries itself")


def test_indexed_stems_are_remembered_for_prefix_lookups(app, make):
    sqlite_only()
    make.message(make.thread(title="Fika"), make.user(), "Kanelbullar på mötesplatsträffen")
    terms = set(db.session.scalars(text("SELECT term FROM search_terms")))
    assert {stemming.stem("kanelbullar"), stemming.stem("mötesplatsträffen")} <= terms
    assert {stemming.stem("fika")} <= terms  # titles too


def test_a_prefix_is_matched_as_its_stems_or_left_to_fts5_when_it_has_too_many(
    app, make, monkeypatch
):
    sqlite_only()
    from forum.queries import search as search_module

    thread, author = make.thread(title="Ord"), make.user()
    texts = ("En mötesplats", "Mötesplatserna", "Mötesplatsträff i parken", "Något annat")
    made = [make.message(thread, author, t).id for t in texts][:3]
    terms = stemming.query_terms("mötesplats")
    groups = search_module._sqlite_groups(terms)
    assert groups is not None and groups[0].count(" OR ") == 2, groups
    expanded = {order: all_pages("mötesplats", order) for order in ("relevance", "newest")}
    assert sorted(expanded["relevance"]) == sorted(made) and expanded["newest"] == made[::-1]

    monkeypatch.setattr(search_module, "MAX_STEMS_PER_TERM", 2)
    assert search_module._sqlite_groups(terms) == [f'"{terms[0]}"*']
    assert {order: all_pages("mötesplats", order) for order in expanded} == expanded
    assert search_module._sqlite_groups(stemming.query_terms("blåbärssoppa")) is None


WAYS = {  # how newest-first reads the matches: the function, and its cost per unit
    "sorted": ("_sorted_matches", "SORT_COST"),
    "set": ("_set_walked_matches", "COLLECT_COST"),
    "stems": ("_walked_matches", "STEMS_COST"),
}


@pytest.mark.parametrize("way", list(WAYS))
def test_newest_first_is_the_same_whichever_way_it_is_read(app, make, monkeypatch, way):
    """Sorting the matches (FTS5), walking the time index for a set of them, and walking it
    testing each entry's stems in Python agree, with the visibility applied, page by page."""
    sqlite_only()
    from forum.queries import search as search_module

    thread, author, member = make.thread(title="Vandring"), make.user(), make.user()
    hidden = make.thread(forum=make.forum(visibility="invite", members=[author]), author=author)
    made = []
    for n in range(7):
        made.append(make.message(thread, author, f"Höstvandring nummer {n}").id)
        make.message(thread, author, f"vandrarhem {n}")
        make.message(hidden, author, f"höstvandring i hemlighet {n}")
    used = []
    for name, (function, cost) in WAYS.items():
        real = getattr(search_module, function)
        spy = lambda *a, real=real, name=name: used.append(name) or real(*a)  # noqa: E731
        monkeypatch.setattr(search_module, function, spy)
        monkeypatch.setattr(search_module, cost, 0.0 if name == way else 1e9)
    monkeypatch.setattr(search_module, "STEP_COST", 0.0 if way == "set" else 1e9)
    monkeypatch.setattr(search_module, "CANDIDATES", 2)
    assert all_pages("höstvandring", "newest", member) == made[::-1]
    assert set(used) == {way}


@pytest.mark.parametrize("way", list(WAYS))
def test_newest_first_applies_the_filters_and_dates_whichever_way_it_is_read(
    app, make, monkeypatch, way
):
    sqlite_only()
    from forum.queries import search as search_module

    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice, title="Filter")
    by_bob = []
    for n in range(6):
        make.message(thread, alice, f"Skridskoåkning {n}")
        by_bob.append(make.message(thread, bob, f"skridskoåkning med Bob {n}").id)
    old = make.message(thread, bob, "skridskoåkning förr")
    db.session.execute(
        SearchEntry.__table__.update()
        .where(SearchEntry.kind == "message", SearchEntry.object_id == old.id)
        .values(created_at=datetime.now(UTC) - timedelta(days=30))
    )
    db.session.commit()
    for name, (_function, cost) in WAYS.items():
        monkeypatch.setattr(search_module, cost, 0.0 if name == way else 1e9)
    monkeypatch.setattr(search_module, "STEP_COST", 0.0 if way == "set" else 1e9)
    monkeypatch.setattr(search_module, "CANDIDATES", 2)
    today = datetime.now(UTC).date()

    def newest(**filters) -> list[int]:
        return [h.object_id for h in found(None, "skridskoåkning", order="newest", **filters)]

    assert newest(author_id=bob.id, date_from=today - timedelta(days=1)) == by_bob[::-1]
    assert newest(author_id=bob.id, date_to=today - timedelta(days=2)) == [old.id]
    assert newest(kind="thread") == []
    assert newest(date_to=today - timedelta(days=40)) == []


def test_best_match_with_filters_ranks_the_same_candidates_from_either_walk(app, make, monkeypatch):
    """With a date range or filters the candidates may come from the time index (tested in
    Python) instead of FTS5's rowid order: the same pages either way."""
    sqlite_only()
    from forum.queries import search as search_module

    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice, title="Rankning")
    hidden = make.thread(forum=make.forum(visibility="invite", members=[bob]), author=bob)
    for n in range(6):
        make.message(thread, bob, "vinterbad " * (n % 3 + 1) + f"nummer {n}")
        make.message(thread, alice, f"vinterbad hos Alice {n}")
        make.message(hidden, bob, f"vinterbad i hemlighet {n}")
    monkeypatch.setattr(search_module, "CANDIDATES", 2)
    today = datetime.now(UTC).date()
    for filters in ({"author_id": bob.id}, {"date_from": today - timedelta(days=1)}):
        pages = {}
        for stems_cost in (0.0, 1e9):
            monkeypatch.setattr(search_module, "STEMS_COST", stems_cost)
            pages[stems_cost] = [
                (h.object_id, round(h.score, 9))
                for h in found(alice, "vinterbad", limit=50, **filters)
            ]
        assert pages[0.0] == pages[1e9] and len(pages[0.0]) == 2, (filters, pages)


def test_a_walk_is_estimated_from_a_sample_of_its_range(app, make, monkeypatch):
    sqlite_only()
    from forum.queries import search as search_module

    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice, title="Prov")
    for n in range(10):
        make.message(thread, alice if n % 2 else bob, f"prov {n}")
    today = datetime.now(UTC).date()
    since = search_module._dates(SearchParams(date_from=today - timedelta(days=1)))
    nobody = search_module._filters(SearchParams(author_id=-1))
    bob_only = search_module._filters(SearchParams(author_id=bob.id))
    walk, share = search_module._walk_length, search_module._filter_share
    assert share([], []) == (1.0, None) and walk(0.5, share([], []), 4) == 8
    # a range smaller than the sample is walked whole (all entries are from today)
    entries = db.session.scalar(select(func.count()).select_from(SearchEntry))
    assert entries >= 10
    assert share(since, nobody) == (0.0, entries) and walk(0.5, share(since, nobody), 4) == entries
    monkeypatch.setattr(search_module, "SAMPLE", 4)
    assert walk(0.5, share(since, nobody), 4) == float("inf")
    bob_share, whole = share(since, bob_only)
    assert whole is None and 0 < bob_share < 1
    assert walk(0.5, (bob_share, None), 4) > 8


def test_words_joined_by_underscores_and_styled_letters_are_found(app, make):
    thread = make.thread(title="Tecken")
    code = make.message(thread, make.user(), "Variabeln heter fika_paus_langd")
    styled = make.message(thread, make.user(), "𝐏𝐚𝐫𝐤𝐞𝐫𝐢𝐧𝐠 idag")
    for order in ("relevance", "newest"):
        assert [h.object_id for h in found(None, "fika_paus", order=order)] == [code.id]
        assert [h.object_id for h in found(None, "paus", order=order)] == [code.id]
    assert stemming.fold("𝐏𝐚𝐫𝐤") == "park"
    if db.engine.dialect.name == "sqlite":  # PostgreSQL's parser has its own view of these
        assert [h.object_id for h in found(None, "parkering", order="newest")] == [styled.id]


def test_the_number_of_matches_is_estimated_from_the_newest_ones(app, make, monkeypatch):
    sqlite_only()
    from forum.queries import search as search_module

    thread, author = make.thread(title="Pingis"), make.user()
    for n in range(40):
        make.message(thread, author, "bordtennis" if n % 2 else "fotboll")
    (group,) = search_module._sqlite_groups(stemming.query_terms("bordtennis")) or []
    newest_id = db.session.scalar(select(func.max(SearchEntry.id)))
    assert search_module._estimated_matches(group, newest_id)[0] == 20  # fewer: counted
    monkeypatch.setattr(search_module, "CANDIDATES", 6)
    matches, share = search_module._estimated_matches(group, newest_id)
    assert 10 <= matches <= 30 and 0.3 <= share <= 0.7, (matches, share)


def test_bm25_ranks_title_hits_frequent_hits_and_short_texts_first():
    documents = [
        ("", "lokal park"),
        ("lokal", "park"),
        ("", "lokal lokal park"),
        ("", "lokal park buss buss buss buss"),
        ("", "park buss"),
    ]
    scores = bm25_scores(["lokal"], [1.0], documents)
    assert scores[1] > scores[2] > scores[0] > scores[3] > scores[4] == 0.0
    # a term matches the stems it starts, not the middle of a word
    starts, middle = bm25_scores(["park"], [1.0], [("", "parkering"), ("", "sparka")])
    assert starts > 0.0 and middle == 0.0


def test_bm25_weighs_each_word_by_how_rare_it_is():
    documents = [("", "lokal park park"), ("", "lokal lokal park")]
    rare_park = bm25_scores(["lokal", "park"], [1.0, 5.0], documents)
    rare_lokal = bm25_scores(["lokal", "park"], [5.0, 1.0], documents)
    assert rare_park[0] > rare_park[1] and rare_lokal[1] > rare_lokal[0]


# --- excerpts ------------------------------------------------------------------------


def test_excerpt_is_escaped_then_marked(app, make):
    thread = make.thread(title="Säkerhet")
    make.message(thread, make.user(), "<script>alert(1)</script> `<b>` simhallen & badet")
    (hit,) = found(None, "simhall")
    html = str(hit.excerpt_html)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html
    assert "<mark>simhallen</mark>" in html


def test_highlight_cuts_around_the_first_match():
    text = "ord " * 200 + "badhuset " + "ord " * 200
    html = str(highlight(text, ["badhus"], 100))
    assert html.startswith("…") and html.endswith("…")
    assert "<mark>badhuset</mark>" in html and len(html) < 200


# --- the page ------------------------------------------------------------------------


def test_every_page_has_the_search_field(client):
    page = client.get("/").get_data(as_text=True)
    assert 'role="search"' in page and 'name="q"' in page and 'action="/search"' in page


def test_search_page_shows_highlighted_hits_with_links(app, make, client):
    thread = make.thread(title="Lokaler")
    message = make.message(thread, make.user(), "Föreningar behöver lokaler")
    response = client.get("/search?q=förening")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'href="/threads/{thread.id}#m{message.id}"' in page
    assert "<mark>Föreningar</mark>" in page


def test_search_page_pages_with_a_next_link(app, make, client):
    thread = make.thread(title="Många")
    author = make.user()
    for n in range(23):
        make.message(thread, author, f"höstlov {n}")
    page = client.get("/search?q=höstlov&order=newest").get_data(as_text=True)
    assert page.count('class="search-hit"') == 20 and 'rel="next"' in page
    link = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    second = client.get(link).get_data(as_text=True)
    assert second.count('class="search-hit"') == 3 and 'rel="next"' not in second
    # Stray parameters are not carried on (url_for would take `_method` as its own)
    stray = client.get("/search?q=höstlov&order=newest&_method=POST&_anchor=x&extra=1")
    assert stray.status_code == 200
    link = re.search(r'href="([^"]+)" rel="next"', stray.get_data(as_text=True)).group(1)
    assert "_method" not in link and "_anchor" not in link and "extra" not in link


def _cursor(raw: str) -> str:
    """A hand-made page cursor (base64 of JSON, as the page sends it back)."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=ord&from=igår", "from"),
        ("q=ord&to=2026-13-40", "to"),
        ("q=ord&kind=secret", "kind"),
        ("q=ord&order=random", "order"),
        ("q=ord&cursor=not-a-cursor", "cursor"),
        ("q=ord&cursor=WyJuZXdlc3QiLDEsMl0", "cursor"),
        # ["newest","2026-01-01T00:00:00+00:00",true]: a bool is an int to Python
        (
            "q=ord&order=newest&cursor=" + _cursor('["newest","2026-01-01T00:00:00+00:00",true]'),
            "cursor",
        ),
        # ["relevance",true,5] and ["relevance",0.5,false]
        ("q=ord&cursor=" + _cursor('["relevance",true,5]'), "cursor"),
        ("q=ord&cursor=" + _cursor('["relevance",0.5,false]'), "cursor"),
        # ["relevance",NaN,5] and ["relevance",1e400,5] (infinity): nothing compares with them
        ("q=ord&cursor=" + _cursor('["relevance",NaN,5]'), "cursor"),
        ("q=ord&cursor=" + _cursor('["relevance",1e400,5]'), "cursor"),
        # ["relevance",10**400,5]: an int too large for a float
        (
            "q=ord&cursor=" + _cursor('["relevance",1' + "0" * 400 + ",5]"),
            "cursor",
        ),
    ],
)
def test_bad_search_input_is_a_field_error(client, query, field):
    response = client.get(f"/search?{query}")
    assert response.status_code == 400
    assert f'id="search-{field}-error"' in response.get_data(as_text=True) or field in ("cursor",)


@pytest.mark.parametrize(
    ("dates", "hits"),
    [
        ("to=9999-12-31", 1),
        ("from=0001-01-01", 1),
        ("from=0001-01-01&to=9999-12-31", 1),
        ("to=0001-01-01", 0),
        ("from=9999-12-31", 0),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_ranges_like_any_other(
    app, make, client, dates, hits
):
    """The day after 9999-12-31 (and 0001-01-01 in UTC) is past what a datetime holds: the
    range is then open at that end, not an error page."""
    make.thread(title="Mötesplatser")
    response = client.get(f"/search?q=mötesplatser&{dates}")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count('class="search-hit') == hits


def test_unknown_filters_match_nothing(app, make, client):
    make.message(make.thread(), make.user(), "ordet")
    assert "search-hit" not in client.get("/search?q=ordet&forum=finns-inte").get_data(as_text=True)


def test_search_page_query_count_does_not_grow_with_hits(app, make, client, count_queries):
    thread = make.thread(title="Räkna")
    author = make.user()
    make.message(thread, author, "räknestickor")
    with count_queries() as few:
        client.get("/search?q=räknestickor")
    for n in range(15):
        make.message(make.thread(title=f"Tråd {n}"), author, "räknestickor")
    with count_queries() as many:
        client.get("/search?q=räknestickor")
    assert many.count == few.count


def test_index_follows_the_write_transaction(app, make):
    """A rolled-back write leaves no entry behind."""
    thread = make.thread()
    author = make.user()
    db.session.add(
        Message(
            thread_id=thread.id, author_id=author.id, body="x", html="rullbandet", client_id="r"
        )
    )
    db.session.flush()
    assert db.session.scalar(select(SearchEntry.id).where(SearchEntry.body == "rullbandet"))
    db.session.rollback()
    assert found(None, "rullbandet") == []
    assert not db.session.scalar(select(SearchEntry.id).where(SearchEntry.body == "rullbandet"))


def test_a_closed_accounts_handle_leaves_the_responses_that_mentioned_it(app, make, client):
    """Closing an account rewrites the submitted answers that mentioned it, and the response's
    entry follows: its handle is neither found nor shown in an excerpt."""
    anna, admin = make.user(name="Anna Sökbar"), make.user("admin")
    anna.handle = "annasokbarhandle"
    db.session.commit()
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin, members=[anna])
    round_ = make_round(app, make, official)
    respond(app, org_admin, round_, org, text="Fråga @annasokbarhandle om siffrorna")
    with app.test_request_context():
        consultation_service.close_round(official, round_.id)
    assert kinds(None, "annasokbarhandle") == ["response"]
    with app.test_request_context():
        privacy.close_account(admin, anna.id)
    assert found(None, "annasokbarhandle") == []
    (body,) = db.session.scalars(select(SearchEntry.body).where(SearchEntry.kind == "response"))
    assert "annasokbarhandle" not in body and privacy.pseudonym(anna.id) in body
    page = client.get("/search", query_string={"q": "siffrorna"}).get_data(as_text=True)
    assert "annasokbarhandle" not in page
    if db.engine.dialect.name == "sqlite":  # its stem is no longer kept for prefix lookups
        terms = set(db.session.scalars(text("SELECT term FROM search_terms")))
        assert stemming.stem("annasokbarhandle") not in terms


def test_a_reindex_commits_in_batches_so_other_writers_go_in_between(app, make, monkeypatch):
    """One transaction held SQLite's write lock for the whole rebuild (minutes on a big
    site): the running server's every write waited behind it until it gave up."""
    from forum.services import search_index

    thread = make.thread(title="Batchar")
    person = make.user()
    for n in range(5):
        make.message(thread, person, f"batchord{n}")
    db.session.execute(SearchEntry.__table__.delete())
    db.session.commit()
    commits = []
    real_commit = db.session.commit
    monkeypatch.setattr(db.session, "commit", lambda: (commits.append(1), real_commit()))
    written = search_index.reindex_all(db.session, batch=2)
    monkeypatch.undo()
    assert written >= 7  # five messages, the thread, its forum
    assert len(commits) >= 5  # 3 batches of messages, then the thread's and the forum's
    assert sorted(kinds(None, f"batchord{n}")[0] for n in range(5)) == ["message"] * 5


def test_reindex_command_rebuilds_a_lost_index(app, make):
    make.message(make.thread(title="Återställd"), make.user(), "snöskottning")
    db.session.execute(SearchEntry.__table__.delete())
    db.session.commit()
    assert found(None, "snöskottning") == []
    result = app.test_cli_runner().invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert kinds(None, "snöskottning") == ["message"]
    assert kinds(None, "återställd") == ["thread"]
