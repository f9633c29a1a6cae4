"""The open-data API's incremental sync: `changed_since`, each item's `changed_at`, `as_of`.

A consumer that remembered the highest id it had seen never saw a round drafted earlier
but opened later, nor learnt that a round or an action it had changed. What happened
"long ago" is made so by moving the stored times back two days (a change made in the test
is otherwise within as_of's margin of the sync, and would come again, as it should).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import flask_migrate
import pytest
from consultation_support import local, make_round, respond, round_input
from sqlalchemy import select, text
from support import app_settings as app_config
from test_api import assert_error, bearer, token_for
from test_migrations import database_url, keep_logging, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.config import parse_rate_limit
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import Action, ConsultationRound, Department
from forum.models.base import utcnow
from forum.queries.open_data import SYNC_MARGIN
from forum.services import consultations as service
from forum.services import documents, follow_up, privacy

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))

ROUNDS = "/api/v1/consultations"
ACTIONS = "/api/v1/actions"


def run(app, fn, *args, **kwargs):
    with app.test_request_context():
        return fn(*args, **kwargs)


def official_of(make):
    """An official, and a verified organisation for their rounds to ask."""
    make.organisation(admin=make.user())
    return make.user("official")


def long_ago(*items) -> None:
    """Everything about these rounds and actions happened two days ago."""
    then = utcnow() - timedelta(days=2)
    for item in items:
        if isinstance(item, ConsultationRound):
            item.changed_at = then
            item.opens_at = min(item.opens_at, then)
        else:
            item.updated_at = then
    db.session.commit()


def walk(client, path: str, headers=None, **params) -> tuple[list[int], str]:
    """Every page of a list from its first, following `next`: the ids, and the one as_of."""
    response = client.get(path, query_string=params, headers=headers)
    ids: list[int] = []
    as_ofs = set()
    while True:
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        ids += [item["id"] for item in body["items"]]
        as_ofs.add(body["as_of"])
        if body["next"] is None:
            break
        response = client.get(body["next"], headers=headers)
    assert len(as_ofs) == 1, as_ofs  # every page of one walk answers the first page's
    return ids, as_ofs.pop()


def synced(client, path: str, headers=None) -> str:
    """A consumer reads the whole list now: the changed_since to send next time."""
    return walk(client, path, headers=headers)[1]


def item_of(client, path: str, item_id: int, **params) -> dict:
    body = client.get(path, query_string=params).get_json()
    return next(item for item in body["items"] if item["id"] == item_id)


# --- rounds ------------------------------------------------------------------------


def test_a_round_drafted_earlier_and_opened_after_a_sync_is_in_the_next_changes(app, make, client):
    official = official_of(make)
    drafted = make_round(app, make, official, state="draft", title="Lekplatser")
    opened = make_round(app, make, official, title="Bibliotek")
    long_ago(drafted, opened)
    ids, as_of = walk(client, ROUNDS)
    assert ids == [opened.id]
    # what the consumer did before: above the highest id it had seen, nothing ever again
    assert client.get(ROUNDS, query_string={"after": opened.id}).get_json()["items"] == []

    run(app, service.open_round, official, drafted.id)

    assert walk(client, ROUNDS, changed_since=as_of)[0] == [drafted.id]
    changed_at = item_of(client, ROUNDS, drafted.id, changed_since=as_of)["changed_at"]
    assert changed_at.endswith("Z") and changed_at >= as_of


def _close(app, official, round_):
    service.close_round(official, round_.id)


def _move_deadline(app, official, round_):
    service.change_deadline(official, round_.id, local(timedelta(days=20)), "Fler hinner svara")


def _correct_title(app, official, round_):
    service.revise_text(official, round_.id, "title", "Mötesplatser för unga i Norr", "Stavning")


def _remove_question(app, official, round_):
    question = round_.questions[-1]
    service.remove_question(official, round_.id, question.id, "Den frågan är besvarad")


def _add_document(app, official, round_):
    documents.add_round_document(official, round_.id, "Underlag.pdf", simple_pdf(["Underlag"]))


@pytest.mark.parametrize(
    "change", [_close, _move_deadline, _correct_title, _remove_question, _add_document]
)
def test_a_round_changed_after_a_sync_comes_again(app, make, client, change):
    official = official_of(make)
    changed, untouched = make_round(app, make, official), make_round(app, make, official)
    long_ago(changed, untouched)
    as_of = synced(client, ROUNDS)

    run(app, change, app, official, changed)

    assert walk(client, ROUNDS, changed_since=as_of)[0] == [changed.id]


def test_feedback_published_and_then_changed_comes_again(app, make, client):
    official, chair = official_of(make), make.user()
    org = make.organisation(admin=chair)
    round_ = make_round(app, make, official)
    respond(app, chair, round_, org)
    run(app, service.close_round, official, round_.id)
    question = round_.questions[0]
    heard = {question.id: service.FeedbackInput(heard="Kvällar saknas.", action="Vi öppnar.")}
    run(app, service.save_feedback, official, round_.id, heard)  # written, not yet shown
    long_ago(round_)
    as_of = synced(client, ROUNDS)

    run(app, service.publish_feedback, official, round_.id)
    assert walk(client, ROUNDS, changed_since=as_of)[0] == [round_.id]

    long_ago(round_)
    as_of = synced(client, ROUNDS)
    assert walk(client, ROUNDS, changed_since=as_of)[0] == []
    better = {question.id: service.FeedbackInput(heard="Kvällar och helger.", action="Vi öppnar.")}
    run(app, service.save_feedback, official, round_.id, better)
    assert walk(client, ROUNDS, changed_since=as_of)[0] == [round_.id]


def test_a_deadline_that_passes_with_no_write_is_a_change_at_that_moment(app, make, client):
    """The phase turns closed (and the responses public) when the deadline passes, with
    nothing written: the round counts as changed then."""
    official = official_of(make)
    passing, staying = make_round(app, make, official), make_round(app, make, official)
    long_ago(passing, staying)
    as_of = synced(client, ROUNDS)
    deadline = utcnow() - timedelta(seconds=30)
    passing.closes_at = deadline
    db.session.commit()

    assert walk(client, ROUNDS, changed_since=as_of)[0] == [passing.id]
    item = item_of(client, ROUNDS, passing.id, changed_since=as_of)
    assert item["phase"] == "closed"
    assert item["changed_at"] == deadline.isoformat().replace("+00:00", "Z")
    one = client.get(f"{ROUNDS}/{passing.id}").get_json()
    assert one["changed_at"] == item["changed_at"]


def test_drafts_are_in_the_changes_only_of_those_who_may_read_them(app, make, client):
    """A draft changed after the sync: not for a visitor nor an official of another
    department, for its own officials as in their list. An invite-only round is read by
    everyone (it limits who answers, policy.can_view_round): in everyone's changes. For
    every reader the changes are part of the list."""
    official = official_of(make)
    other = make.user("official", department="Kulturnämnden")
    org = make.organisation(admin=make.user())
    draft = make_round(app, make, official, state="draft")
    invited = make_round(app, make, official, audience="invited", invited_ids=[org.id])
    long_ago(draft, invited)
    readers = {
        "visitor": None,
        "other": bearer(token_for(app, other)),
        "own": bearer(token_for(app, official)),
    }
    since = {name: synced(client, ROUNDS, headers) for name, headers in readers.items()}

    run(app, service.update_round, official, draft.id, round_input(make, title="Ändrad"))
    run(app, service.revise_text, official, invited.id, "background", "Ny bakgrund.", "Tillägg")

    seen = {
        name: walk(client, ROUNDS, headers, changed_since=since[name])[0]
        for name, headers in readers.items()
    }
    assert seen == {
        "visitor": [invited.id],
        "other": [invited.id],
        "own": [draft.id, invited.id],
    }
    for name, headers in readers.items():
        assert set(seen[name]) <= set(walk(client, ROUNDS, headers)[0])


def test_changes_are_paged_by_id_within_the_filter(app, make, client):
    official = official_of(make)
    rounds = [make_round(app, make, official) for _ in range(7)]
    old = rounds[1::3]  # two that stay unchanged, between the others
    long_ago(*rounds)
    as_of = synced(client, ROUNDS)
    changed = [r for r in rounds if r not in old]
    for round_ in changed:
        run(
            app,
            service.revise_text,
            official,
            round_.id,
            "background",
            f"Ny {round_.id}.",
            "Tillägg",
        )

    first = client.get(ROUNDS, query_string={"changed_since": as_of, "limit": 2}).get_json()
    assert [item["id"] for item in first["items"]] == [r.id for r in changed[:2]]
    following = parse_qs(urlsplit(first["next"]).query)
    assert following["changed_since"] == [as_of]
    assert following["after"] == [str(changed[1].id)]
    assert following["as_of"] == [first["as_of"]]
    ids, _as_of = walk(client, ROUNDS, changed_since=as_of, limit=2)
    assert ids == [r.id for r in changed]


def test_as_of_lags_the_present_and_a_next_link_carries_the_first_pages(app, make, client):
    official = official_of(make)
    for _ in range(3):
        make_round(app, make, official)
    before = utcnow()
    for path in (ROUNDS, ACTIONS):
        body = client.get(path).get_json()
        as_of = datetime.fromisoformat(body["as_of"])
        assert body["as_of"].endswith("Z") and as_of.second == as_of.microsecond == 0
        assert before - SYNC_MARGIN - timedelta(minutes=1) < as_of <= utcnow() - SYNC_MARGIN
    earlier = "2026-01-01T00:00:00Z"
    page = client.get(ROUNDS, query_string={"as_of": earlier, "limit": 1}).get_json()
    assert page["as_of"] == earlier
    assert parse_qs(urlsplit(page["next"]).query)["as_of"] == [earlier]
    later = "2100-01-01T00:00:00Z"  # never later than the margin allows
    assert client.get(ROUNDS, query_string={"as_of": later}).get_json()["as_of"] < later


@pytest.mark.parametrize("path", [ROUNDS, ACTIONS])
@pytest.mark.parametrize("field", ["changed_since", "as_of"])
@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-12-01T10:00:00",  # no zone: not guessed
        "2026-12-01",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # would not even convert to UTC
        "9999-12-31T23:59:59-01:00",
        "1969-12-31T23:59:59Z",
        "2026-12-01T10:00:00 01:00",  # a '+' sent unencoded arrives as a space
        "2" * 100_000,
        # Python reads these too, but the documented pattern (RFC 3339) does not allow them
        "2026-W01-1T00:00:00Z",
        "20260101T000000Z",
        "2026-01-01T00:00:00+00:00:30",
        "2026-01-01T00:00:00 Z",
        "2026-01-01t00:00:00z",
    ],
)
def test_a_bad_time_is_a_422_naming_the_field(client, path, field, value):
    assert_error(client.get(path, query_string={field: value}), 422, "invalid", field)


def test_a_time_with_an_offset_is_the_same_instant(app, make, client):
    official = official_of(make)
    round_ = make_round(app, make, official)
    long_ago(round_)
    run(app, service.revise_text, official, round_.id, "background", "Ny bakgrund.", "Tillägg")
    since = utcnow() - timedelta(minutes=10)
    for offset in (0, 1, -5):
        written = since.astimezone(timezone(timedelta(hours=offset))).isoformat()
        assert walk(client, ROUNDS, changed_since=written)[0] == [round_.id]
    ahead = (utcnow() + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    assert walk(client, ROUNDS, changed_since=ahead.isoformat())[0] == []


def test_a_round_and_an_action_whose_text_named_a_closed_account_come_again(app, make, client):
    """Closing an account rewrites the mentions of it in others' public text: the round
    and the action that show it changed."""
    official, admin, mira = official_of(make), make.user("admin"), make.user()
    round_ = make_round(app, make, official, problem=f"Hur tycker @{mira.handle} att det går?")
    assert 'class="mention"' in round_.problem_html  # precondition: a real mention
    action = propose(app, make, official, "Kvällsöppet", description=f"Enligt @{mira.handle}.")
    untouched = make_round(app, make, official, title="Bibliotek")
    long_ago(round_, action, untouched)
    since = {path: synced(client, path) for path in (ROUNDS, ACTIONS)}

    run(app, privacy.close_account, admin, mira.id)

    assert walk(client, ROUNDS, changed_since=since[ROUNDS])[0] == [round_.id]
    assert walk(client, ACTIONS, changed_since=since[ACTIONS])[0] == [action.id]


def test_a_closed_account_named_only_in_text_not_yet_public_moves_no_round(app, make, client):
    """A submitted response is public once the round closes: while it is open, rewriting a
    mention in it changes nothing a visitor reads, and a changed round would tell them that
    a response named the person who just left, and when. Once public, it comes again."""
    official, admin, chair, mira = official_of(make), make.user("admin"), make.user(), make.user()
    org = make.organisation(admin=chair)
    open_round = make_round(app, make, official, title="Öppen")
    closed_round = make_round(app, make, official, title="Stängd")
    for round_ in (open_round, closed_round):
        respond(app, chair, round_, org, text=f"Som @{mira.handle} sa:")
    run(app, service.close_round, official, closed_round.id)
    long_ago(open_round, closed_round)
    since = synced(client, ROUNDS)

    run(app, privacy.close_account, admin, mira.id)

    assert walk(client, ROUNDS, changed_since=since)[0] == [closed_round.id]


# --- actions -------------------------------------------------------------------------


def _department() -> Department:
    return db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))


def propose(
    app, make, official, title: str, description: str = "", message_id: int | None = None
) -> Action:
    """An action owned by the department, proposed by `official` (from a message: its id)."""
    return run(
        app,
        follow_up.propose_action,
        official,
        follow_up.ActionInput(
            title=title,
            description=description,
            owner=f"department:{_department().id}",
            due_date=(follow_up.today() + timedelta(days=60)).isoformat(),
            commitment_ids=make.commitment_ids(1),
            message_id=message_id,
        ),
    )


def test_an_action_changed_after_a_sync_comes_again(app, make, client):
    official = official_of(make)
    changed = propose(app, make, official, "Kvällsöppet på mötesplatsen")
    updated = propose(app, make, official, "Fler bänkar i parken")
    untouched = propose(app, make, official, "Lånecyklar")
    long_ago(changed, updated, untouched)
    ids, as_of = walk(client, ACTIONS)
    assert ids == [changed.id, updated.id, untouched.id]

    run(app, follow_up.change_action, official, changed.id, "in_progress", 40)
    run(app, follow_up.post_update, official, updated.id, "Bänkarna är beställda.")

    assert walk(client, ACTIONS, changed_since=as_of)[0] == [changed.id, updated.id]
    item = item_of(client, ACTIONS, changed.id, changed_since=as_of)
    assert item["status"] == "in_progress" and item["changed_at"] >= as_of
    one = client.get(f"{ACTIONS}/{changed.id}").get_json()
    assert one["changed_at"] == item["changed_at"]
    assert walk(client, ACTIONS, changed_since=as_of, limit=1)[0] == [changed.id, updated.id]


def test_an_action_shown_again_after_a_sync_comes_again(app, make, client):
    """Hidden, it is in no answer; a consumer that synced meanwhile finds it when a
    moderator shows it again (its stored time did not move before)."""
    official, moderator = official_of(make), make.user("moderator")
    action = propose(app, make, official, "Kvällsöppet på mötesplatsen")
    run(app, follow_up.hide_action, moderator, action.id, "Personuppgifter i titeln")
    long_ago(action)
    as_of = synced(client, ACTIONS)
    assert walk(client, ACTIONS)[0] == []

    run(app, follow_up.unhide_action, moderator, action.id)

    assert walk(client, ACTIONS, changed_since=as_of)[0] == [action.id]


# --- the description -------------------------------------------------------------------


def test_the_openapi_document_and_the_reference_describe_the_sync(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "changed_since" in spec["info"]["description"]
    for path in (ROUNDS, ACTIONS):
        parameters = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert "as_of" in parameters["changed_since"]["description"]
        assert parameters["changed_since"]["schema"]["format"] == "date-time"
    schemas = spec["components"]["schemas"]
    for item, page in (("Round", "RoundPage"), ("Action", "ActionPage")):
        assert "changed_at" in schemas[item]["required"]
        assert "changed_since" in schemas[item]["properties"]["changed_at"]["description"]
        assert "as_of" in schemas[page]["required"]
        assert "changed_since" in schemas[page]["properties"]["as_of"]["description"]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get("/api/v1/reference/").get_data(as_text=True)
    assert "changed_since" in page and "as_of" in page


# --- the migration ---------------------------------------------------------------------


def _times(query: str) -> dict[int, datetime]:
    """(id, time) rows as UTC datetimes (SQLite answers text, PostgreSQL its session's zone)."""
    with db.engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    found = {}
    for key, value in rows:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        found[key] = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return found


@pytest.mark.usefixtures("keep_logging")
def test_the_migration_fills_changed_at_from_the_times_on_record(database_url):  # noqa: F811
    """Rounds take their latest time on record (their last audit entry among them);
    an action shown again after hiding, the time it was shown."""
    app = create_app(app_config(database_url))
    times = {n: datetime(2026, 11, n, 12, tzinfo=UTC) for n in range(1, 10)}
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e35sessionrepair")
            with db.engine.begin() as connection:
                connection.execute(text("INSERT INTO departments (id, name) VALUES (1, 'Kultur')"))
                rounds = [
                    # id, state, created, opened, closed, published, revised
                    (1, "draft", times[1], None, None, None, None),
                    (2, "open", times[1], times[2], None, None, times[4]),
                    (3, "published", times[1], times[2], times[3], times[5], None),
                ]
                for rid, state, created, opened, closed, published, revised in rounds:
                    connection.execute(
                        text(
                            "INSERT INTO consultation_rounds (id, department_id, title, problem,"
                            " problem_html, background, background_html, stage, audience,"
                            " state, opens_at, closes_at, created_at, opened_at, closed_at,"
                            " feedback_published_at, revised_at) VALUES (:id, 1, 'R', '', '',"
                            " '', '', 'problem', 'all_verified', :state, :created, :closes,"
                            " :created, :opened, :closed, :published, :revised)"
                        ),
                        {
                            "id": rid,
                            "state": state,
                            "created": created,
                            "closes": times[9],
                            "opened": opened,
                            "closed": closed,
                            "published": published,
                            "revised": revised,
                        },
                    )
                connection.execute(
                    text(
                        "INSERT INTO audit_log (action, target_type, target_id, reason,"
                        " created_at) VALUES ('consultation.document.added', 'consultation',"
                        " 1, 'Underlag.pdf', :when), ('action.unhidden', 'action', 1, '', :shown)"
                    ),
                    {"when": times[6], "shown": times[7]},
                )
                connection.execute(
                    text(
                        "INSERT INTO actions (id, title, description, description_html,"
                        " owner_department_id, due_date, status, progress, created_at,"
                        " updated_at) VALUES (1, 'A', '', '', 1, :due, 'planned', 0, :made,"
                        " :made), (2, 'B', '', '', 1, :due, 'planned', 0, :made, :made)"
                    ),
                    {"due": times[9].date(), "made": times[1]},
                )

            flask_migrate.upgrade()

            assert _times("SELECT id, changed_at FROM consultation_rounds") == {
                1: times[6],  # a draft's document, in the audit log
                2: times[4],
                3: times[5],
            }
            assert _times("SELECT id, updated_at FROM actions") == {1: times[7], 2: times[1]}

            flask_migrate.downgrade(revision="e35sessionrepair")
            flask_migrate.upgrade()
        finally:
            db.session.remove()
