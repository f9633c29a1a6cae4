"""The /uppfoljning dashboard: values against a hand-counted fixture, fixed query counts, CSV."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from consultation_support import make_round
from sqlalchemy import select

from forum.config import parse_rate_limit
from forum.models import Commitment, Department, RoundState
from forum.models.base import utcnow
from forum.queries import follow_up as fq
from forum.services import api_tokens, forums
from forum.services import follow_up as service

YEAR = utcnow().year - 1  # a whole year in the past: every date in it has passed


def at(month: int, day: int) -> datetime:
    return datetime(YEAR, month, day, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def commitments(db) -> tuple[Commitment, Commitment]:
    a, b = db.session.scalars(select(Commitment).order_by(Commitment.position).limit(2))
    return a, b


def thread_on(app, forum, author, ids):
    with app.test_request_context():
        return forums.start_thread(author, forum, f"Tråd {ids}", ids)


def message_at(make, db, thread, author, when, body="Hej"):
    message = make.message(thread, author, body)
    message.created_at = when
    db.session.commit()
    return message


def action_at(app, db, user, dept, ids, when, due, title="Åtgärd", accept=True):
    with app.test_request_context():
        action = service.propose_action(
            user,
            service.ActionInput(
                title=title,
                owner=f"department:{dept.id}",
                due_date=due.isoformat(),
                commitment_ids=ids,
            ),
        )
    if not accept:
        action.accepted_at = None
    action.created_at = when
    db.session.commit()
    return action


def closed_round(app, make, db, official, ids, closes, decision_days, published_days=None):
    round_ = make_round(app, make, official, "closed", commitment_ids=ids)
    round_.opens_at = closes - timedelta(days=14)
    round_.closes_at = closes
    round_.decision_date = closes.date() + timedelta(days=decision_days)
    if published_days is not None:
        round_.state = RoundState.published
        round_.feedback_published_at = closes + timedelta(days=published_days)
    db.session.commit()
    return round_


@pytest.fixture
def fixture(app, make, db):
    """Hand-counted: see the expected figures in the test below."""
    a, b = commitments(db)
    official = make.user("official")
    dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    member_x, member_y = make.user(), make.user()
    make.organisation(admin=member_x)
    make.organisation(admin=member_y)
    forum = make.forum(owner=official)
    t1 = thread_on(app, forum, official, [a.id])
    t2 = thread_on(app, forum, official, [a.id, b.id])
    t3 = thread_on(app, forum, official, [b.id])
    message_at(make, db, t1, member_x, at(2, 1))
    message_at(make, db, t1, member_y, at(2, 2))
    message_at(make, db, t1, member_x, at(3, 1))
    message_at(make, db, t2, member_x, at(4, 1))
    message_at(make, db, t2, official, at(4, 2))
    hidden = message_at(make, db, t2, member_y, at(4, 3))
    hidden.state = "hidden"
    message_at(make, db, t3, member_y, datetime(YEAR - 1, 6, 1, tzinfo=UTC))  # the year before
    db.session.commit()

    closed_round(app, make, db, official, [a.id], at(3, 1), 28, published_days=10)
    closed_round(app, make, db, official, [a.id, b.id], at(5, 1), 14)
    closed_round(app, make, db, official, [b.id], at(6, 1), 35, published_days=20)
    old = closed_round(app, make, db, official, [a.id], at(1, 20), 7)
    old.opens_at = datetime(YEAR - 1, 12, 20, tzinfo=UTC)  # opened the year before
    make_round(app, make, official, "draft", commitment_ids=[a.id])
    db.session.commit()

    far = date(YEAR + 5, 1, 1)
    past = date(YEAR, 6, 1)
    a1 = action_at(app, db, official, dept, [a.id], at(2, 1), past, "Försenad")
    action_at(app, db, official, dept, [a.id], at(2, 1), far, "Planerad")
    a3 = action_at(app, db, official, dept, [a.id, b.id], at(3, 1), far, "Klar")
    a4 = action_at(app, db, official, dept, [b.id], at(3, 1), past, "Släppt")
    action_at(app, db, official, dept, [a.id], at(3, 1), past, "Förslag", accept=False)
    action_at(app, db, official, dept, [a.id], datetime(YEAR - 1, 3, 1, tzinfo=UTC), past, "Gammal")
    with app.test_request_context():
        service.change_action(official, a1.id, "in_progress", "40")
        service.change_action(official, a3.id, "done", "100")
        service.change_action(official, a4.id, "dropped", "0", "Ingen budget")
    return a, b


def test_indicators_match_the_hand_count(app, db, fixture):
    a, b = fixture
    board = fq.dashboard(YEAR, service.today(), utcnow())
    rows = {c.id: ind for c, ind in board.rows}
    ia, ib, total = rows[a.id], rows[b.id], board.total
    assert (ia.dialogues, ia.messages, ia.organisations) == (2, 5, 2)
    assert (ib.dialogues, ib.messages, ib.organisations) == (1, 2, 1)
    assert (total.dialogues, total.messages, total.organisations) == (2, 5, 2)

    assert (ia.rounds, ia.closed_rounds, ia.feedback_published) == (2, 2, 1)
    assert ia.feedback_share == 0.5
    assert ia.median_feedback_days == 10
    assert ia.median_decision_weeks == 3  # median of 4 and 2 weeks
    assert (ib.rounds, ib.closed_rounds, ib.feedback_published) == (2, 2, 1)
    assert ib.median_feedback_days == 20
    assert ib.median_decision_weeks == 3.5  # median of 2 and 5 weeks
    assert (total.rounds, total.closed_rounds, total.feedback_published) == (3, 3, 2)
    assert total.median_feedback_days == 15
    assert total.median_decision_weeks == 4

    assert ia.actions == {"planned": 1, "in_progress": 1, "done": 1, "dropped": 0}
    assert ia.overdue == 1
    assert ib.actions == {"planned": 0, "in_progress": 0, "done": 1, "dropped": 1}
    assert ib.overdue == 0
    assert total.actions == {"planned": 1, "in_progress": 1, "done": 1, "dropped": 1}
    assert total.overdue == 1

    others = [ind for c, ind in board.rows if c.id not in (a.id, b.id)]
    assert all(ind.messages == 0 and ind.rounds == 0 and ind.action_total == 0 for ind in others)


def test_filters(app, db, fixture):
    a, _b = fixture
    culture = db.session.scalar(select(Department).where(Department.name == "Kulturnämnden"))
    board = fq.dashboard(YEAR, service.today(), utcnow(), department_id=culture.id)
    assert board.total.messages == 0 and board.total.rounds == 0 and board.total.action_total == 0
    only_a = fq.dashboard(YEAR, service.today(), utcnow(), commitment_id=a.id)
    assert [c.id for c, _ind in only_a.rows] == [a.id]
    assert fq.dashboard(YEAR - 1, service.today(), utcnow()).total.messages == 1


def test_dashboard_pages(app, db, client, fixture):
    a, _b = fixture
    page = client.get(f"/uppfoljning?year={YEAR}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'role="img"' in html and "<title id=" in html
    assert "Messages per commitment" in html
    assert f'id="row-{a.slug}"' in html
    assert client.get(f"/uppfoljning?year={YEAR}&commitment={a.slug}").status_code == 200
    assert client.get("/uppfoljning?commitment=nope").status_code == 404
    assert client.get("/uppfoljning?year=1900").status_code == 404
    assert client.get("/uppfoljning?year=abc").status_code == 200  # falls back to this year
    report = client.get(f"/uppfoljning/rapport?year={YEAR}").get_data(as_text=True)
    assert f"Annual follow-up report {YEAR}" in report
    assert "Försenad" in report  # the overdue action is listed

    csv = client.get(f"/uppfoljning/export.csv?year={YEAR}")
    assert csv.status_code == 200
    assert csv.headers["Content-Type"].startswith("text/csv")
    body = csv.data.decode("utf-8")
    assert body.startswith("\ufeffYear,Commitment,Active dialogues")
    lines = body.strip().split("\r\n")
    assert len(lines) == 1 + 13 + 1
    assert lines[1].startswith(f"{YEAR},{a.title('en')},2,5,2,2,2,50,10.0,3.0,1,1,1,0,1")


def test_commitment_page_lists_actions(app, client, fixture):
    a, _b = fixture
    html = client.get(f"/commitments/{a.slug}").get_data(as_text=True)
    assert "Försenad" in html and "Overdue" in html
    assert "Förslag" in html  # proposals are listed, marked as awaiting the owner
    assert "Proposed, awaiting the owner" in html


def test_principle_page(client, db):
    from forum.models import Principle

    slug = db.session.scalar(select(Principle.slug).limit(1))
    assert client.get(f"/principles/{slug}").status_code == 200
    assert client.get("/principles/nope").status_code == 404


def grow(app, make, db, n):
    """More of everything: threads, messages, organisations, rounds and actions."""
    a, b = commitments(db)
    official = make.user("official")
    dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    forum = make.forum(owner=official)
    for i in range(n):
        member = make.user()
        make.organisation(admin=member)
        thread = thread_on(app, forum, official, [a.id, b.id])
        for _ in range(3):
            message_at(make, db, thread, member, at(2, 1 + i))
        closed_round(app, make, db, official, [a.id], at(3, 1 + i), 21, published_days=i + 1)
        action_at(app, db, official, dept, [a.id, b.id], at(2, 1 + i), date(YEAR, 12, 1))


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_query_count_does_not_grow_with_data(app, make, db, client, count_queries):
    counts = []
    for n in (1, 6):
        grow(app, make, db, n)
        db.session.expire_all()
        with count_queries() as counter:
            fq.dashboard(YEAR, service.today(), utcnow())
        page_counter = count_queries()
        with page_counter:
            assert client.get(f"/uppfoljning?year={YEAR}").status_code == 200
        with count_queries() as csv_counter:
            assert client.get(f"/uppfoljning/export.csv?year={YEAR}").status_code == 200
        counts.append((counter.count, page_counter.count, csv_counter.count))
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 6


def _summary(page: str) -> str:
    """The report's line "Actions: n (overdue: m)"."""
    match = re.search(r"Actions: \d+ \(overdue: \d+\)", page)
    assert match, page
    return match.group(0)


def test_actions_from_an_invite_only_thread_count_only_for_those_who_may_read_it(
    app, make, db, client, auth
):
    """The figures, the CSV and the report agree with /actions for the same reader."""
    official = make.user("official")
    dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    forum = make.forum(owner=official, visibility="invite")
    thread = make.thread(forum=forum, author=official)
    message = make.message(thread, official, "En hemlig idé")
    with app.test_request_context():
        action = service.propose_action(
            official,
            service.ActionInput(
                title="Hemlig åtgärd",
                owner=f"department:{dept.id}",
                due_date=date(YEAR, 6, 1).isoformat(),
                commitment_ids=[thread.commitments[0].id],
                message_id=message.id,
            ),
        )
    action.created_at = at(2, 1)
    db.session.commit()
    assert action.accepted

    def seen() -> tuple[bool, list[str], str, bool]:
        listed = "Hemlig åtgärd" in client.get("/actions").get_data(as_text=True)
        body = client.get(f"/uppfoljning/export.csv?year={YEAR}").get_data(as_text=True)
        total = body.strip().split("\r\n")[-1].split(",")[-5:]  # per status, then overdue
        report = client.get(f"/uppfoljning/rapport?year={YEAR}").get_data(as_text=True)
        return listed, total, _summary(report), "Hemlig åtgärd" in report

    assert seen() == (False, ["0", "0", "0", "0", "0"], "Actions: 0 (overdue: 0)", False)
    assert fq.dashboard(YEAR, service.today(), utcnow()).total.action_total == 0
    outsider = make.user("official")
    auth.login(outsider)
    assert seen() == (False, ["0", "0", "0", "0", "0"], "Actions: 0 (overdue: 0)", False)
    auth.login(official)
    assert seen() == (True, ["1", "0", "0", "0", "1"], "Actions: 1 (overdue: 1)", True)

    # the open-data API's figures are the same: a visitor's, or a token owner's
    def api_total(headers: dict[str, str]) -> int:
        body = client.get(f"/api/v1/indicators?year={YEAR}", headers=headers).get_json()
        return sum(body["total"]["actions"].values())

    with app.test_request_context():
        _token, raw = api_tokens.create_token(official, "figures", ["read"])
    assert api_total({}) == 0
    assert api_total({"Authorization": f"Bearer {raw}"}) == 1


def test_the_reports_overdue_list_is_what_its_count_counts(app, make, db, client):
    """Same department, commitment and year as the figures; proposals are nobody's promise yet."""
    a, b = commitments(db)
    official = make.user("official")
    social = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    culture = db.session.scalar(select(Department).where(Department.name == "Kulturnämnden"))
    past = date(YEAR, 6, 1)
    action_at(app, db, official, social, [a.id], at(2, 1), past, "Sociala försenad")
    action_at(app, db, official, social, [b.id], at(2, 1), past, "Andra åtagandet")
    culture_late = action_at(app, db, official, culture, [a.id], at(2, 1), past, "Kulturens")
    culture_late.accepted_at = culture_late.created_at  # Kulturnämnden took it on
    proposal = action_at(app, db, official, culture, [a.id], at(2, 1), past, "Bara förslag")
    assert proposal.accepted_at is None
    db.session.commit()

    def report(query: str) -> tuple[str, list[str]]:
        page = client.get(f"/uppfoljning/rapport?year={YEAR}{query}").get_data(as_text=True)
        overdue = page.split('id="r-overdue"', 1)[1]
        titles = ["Sociala försenad", "Andra åtagandet", "Kulturens", "Bara förslag"]
        return _summary(page), [t for t in titles if t in overdue]

    assert report("") == (
        "Actions: 3 (overdue: 3)",
        ["Sociala försenad", "Andra åtagandet", "Kulturens"],
    )
    assert report(f"&department={social.id}") == (
        "Actions: 2 (overdue: 2)",
        ["Sociala försenad", "Andra åtagandet"],
    )
    assert report(f"&department={social.id}&commitment={a.slug}") == (
        "Actions: 1 (overdue: 1)",
        ["Sociala försenad"],
    )
    assert report(f"&department={culture.id}") == ("Actions: 1 (overdue: 1)", ["Kulturens"])
    overdue_list = client.get("/actions?overdue=1").get_data(as_text=True)
    assert "Kulturens" in overdue_list and "Bara förslag" not in overdue_list


@pytest.mark.parametrize(
    ("field", "owner", "ticked", "error"),
    [
        ("owner", "department:99999999999999999999", None, "Choose who owns the action."),
        ("owner", "department:²", None, "Choose who owns the action."),
        ("commitments", None, "99999999999999999999", "Unknown choice."),
        ("commitments", None, "²", "Unknown choice."),
    ],
)
def test_an_id_beyond_the_range_is_the_fields_error_and_keeps_the_form(
    app, make, db, client, auth, field, owner, ticked, error
):
    """(It reached the database and ended in a 404 page, losing what was typed.)"""
    official = make.user("official")
    dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    auth.login(official)
    response = client.post(
        "/actions/new",
        data={
            "title": "Det jag skrev",
            "owner": owner or f"department:{dept.id}",
            "due_date": "2030-01-01",
            "commitments": [ticked or str(make.commitment_ids(1)[0])],
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="Det jag skrev"' in page
    # a group of boxes is linked by its first box, where the link puts focus
    target = f"{field}-0" if field == "commitments" else field
    assert re.search(rf'<a href="#{target}">[^<]*: {re.escape(error)}</a>', page), page


def test_messages_in_an_invite_only_forum_count_only_for_those_who_may_read_them(
    app, make, db, client, auth
):
    official = make.user("official")
    member = make.user()
    make.organisation(admin=member)
    forum = make.forum(owner=official, visibility="invite", members=[member])
    a, _b = commitments(db)
    thread = thread_on(app, forum, official, [a.id])
    message_at(make, db, thread, member, at(2, 1))

    def figures(user) -> tuple[int, int, int]:  # noqa: ANN001
        total = fq.dashboard(YEAR, service.today(), utcnow(), user=user).total
        return total.dialogues, total.messages, total.organisations

    assert figures(None) == (0, 0, 0)
    assert figures(make.user()) == (0, 0, 0)
    assert figures(member) == (1, 1, 1)
    auth.login(member)
    body = client.get(f"/uppfoljning/export.csv?year={YEAR}").get_data(as_text=True)
    assert body.strip().split("\r\n")[-1].startswith(f"{YEAR},,1,1,1,")


def test_only_verified_organisations_count_as_taking_part(app, make, db, client):
    """A pending or rejected organisation is no organisation taking part: the figures, the
    CSV and the open-data API count only verified ones (as messages name only those)."""
    from forum.models import OrganisationStatus

    official = make.user("official")
    member, asker, faker = make.user(), make.user(), make.user()
    make.organisation(admin=member)
    make.organisation(admin=asker, verified=False)
    rejected = make.organisation(admin=faker, verified=False)
    rejected.status = OrganisationStatus.rejected
    forum = make.forum(owner=official)
    a, _b = commitments(db)
    thread = thread_on(app, forum, official, [a.id])
    for person in (member, asker, faker):
        message_at(make, db, thread, person, at(2, 1))

    board = fq.dashboard(YEAR, service.today(), utcnow())
    assert board.total.organisations == 1
    assert dict((c.id, i.organisations) for c, i in board.rows)[a.id] == 1
    body = client.get(f"/uppfoljning/export.csv?year={YEAR}").get_data(as_text=True)
    assert body.strip().split("\r\n")[-1].startswith(f"{YEAR},,1,3,1,")
    api = client.get(f"/api/v1/indicators?year={YEAR}").get_json()
    assert api["total"]["organisations"] == 1
