"""Review fixes on follow-up actions, over HTTP as a person meets them: the change form saves
only what its sender changed (a conflict otherwise), a muted member is refused before typing
and keeps the text when refused on sending, and due dates are YYYY-MM-DD in a plausible range."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select
from support import Auth
from test_follow_up import world  # noqa: F401 — the follow-up world fixture

from forum.models import Action, ActionHistory
from forum.services import follow_up as service
from forum.services import moderation


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def team(world, make):  # noqa: F811 — test_follow_up's world, with a colleague and a moderator
    world.official2 = make.user("official")  # the same department as world.official
    world.moderator = make.user("moderator")
    return world


def _accepted_action(app, w) -> int:
    """An action the official proposes for their own department: accepted at once."""
    data = service.ActionInput(
        title="Kvällsöppet på mötesplatsen",
        owner=f"department:{w.dept.id}",
        due_date=(service.today() + timedelta(days=60)).isoformat(),
        commitment_ids=[w.thread.commitments[0].id],
        message_id=w.message.id,
    )
    with app.test_request_context():
        action = service.propose_action(w.official, data)
        assert action.accepted
        return action.id


def _second_client(app, user):
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    Auth(other).login(user)
    return other


class _FormFields(HTMLParser):
    """What a browser sends from the form whose action ends with `suffix`: its inputs'
    values, each select's selected option, each textarea's text."""

    def __init__(self, suffix: str) -> None:
        super().__init__()
        self.suffix = suffix
        self.inside = False
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "form":
            self.inside = (a.get("action") or "").endswith(self.suffix)
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea or ""] = ""

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):  # noqa: ANN001
        if self._textarea:
            self.values[self._textarea] += data


def change_form(page: str) -> dict[str, str]:
    parser = _FormFields("/change")
    parser.feed(page)
    assert "status" in parser.values, "the page has no change form"
    return parser.values


def _load(client, action_id: int) -> dict[str, str]:
    response = client.get(f"/actions/{action_id}")
    assert response.status_code == 200
    return change_form(response.get_data(as_text=True))


def _stored(db, action_id: int) -> Action:
    db.session.expire_all()
    return db.session.get(Action, action_id)


def _field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', page, re.S)
    assert match, f"no error on {name}"
    return match[1]


# --- 1. the change form saves only what its sender changed --------------------------


def test_status_change_from_an_older_page_keeps_anothers_new_due_date(app, team, db, client, auth):
    w = team
    action_id = _accepted_action(app, w)
    auth.login(w.official)
    mine = _load(client, action_id)  # A opens the action
    # B, on their own page, moves the due date
    other = _second_client(app, w.official2)
    theirs = _load(other, action_id)
    new_due = (service.today() + timedelta(days=120)).isoformat()
    response = other.post(f"/actions/{action_id}/change", data={**theirs, "due_date": new_due})
    assert response.status_code == 302
    # A saves a status change from the page they loaded before B's change
    old_due = mine["due_date"]
    assert old_due != new_due
    response = client.post(
        f"/actions/{action_id}/change", data={**mine, "status": "in_progress", "progress": "30"}
    )
    assert response.status_code == 302
    action = _stored(db, action_id)
    assert action.due_date.isoformat() == new_due  # B's change stays
    assert (action.status.value, action.progress) == ("in_progress", 30)  # A's is saved
    reverts = db.session.scalar(
        select(func.count()).where(
            ActionHistory.action_id == action_id,
            ActionHistory.field == "due_date",
            ActionHistory.new_value == old_due,
        )
    )
    assert reverts == 0


def test_both_changing_the_due_date_is_a_conflict_shown_on_the_form(app, team, db, client, auth):
    w = team
    action_id = _accepted_action(app, w)
    auth.login(w.official)
    mine = _load(client, action_id)
    other = _second_client(app, w.official2)
    theirs_due = service.today() + timedelta(days=120)
    response = other.post(
        f"/actions/{action_id}/change",
        data={**_load(other, action_id), "due_date": theirs_due.isoformat()},
    )
    assert response.status_code == 302
    my_due = (service.today() + timedelta(days=200)).isoformat()
    response = client.post(
        f"/actions/{action_id}/change",
        data={**mine, "status": "in_progress", "progress": "30", "due_date": my_due},
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    # nothing of the post is saved: B's date stays, A's status change waits too
    action = _stored(db, action_id)
    assert action.due_date == theirs_due
    assert (action.status.value, action.progress) == ("planned", 0)
    # the field's error, with the date saved now, tied to the field and in the summary
    error = _field_error(page, "due_date")
    assert "Someone else changed this after you opened the form" in error
    assert f"{theirs_due.day} {theirs_due.strftime('%B')} {theirs_due.year}" in error
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="due_date"', page) or re.search(
        r'<input[^>]*id="due_date"[^>]*aria-invalid="true"', page
    )
    assert re.search(r'aria-describedby="[^"]*\bdue_date-error\b', page)
    assert '<div class="error-summary"' in page and 'href="#due_date"' in page
    # what A typed is kept (the date, and the status and progress they changed)
    again = change_form(page)
    assert again["due_date"] == my_due
    assert (again["status"], again["progress"]) == ("in_progress", "30")
    # saving again is taken as A's decision
    response = client.post(f"/actions/{action_id}/change", data=again)
    assert response.status_code == 302
    action = _stored(db, action_id)
    assert action.due_date.isoformat() == my_due
    assert (action.status.value, action.progress) == ("in_progress", 30)


def test_progress_changed_by_both_is_a_conflict_and_others_fields_show_the_saved_values(
    app, team, db, client, auth
):
    w = team
    action_id = _accepted_action(app, w)
    auth.login(w.official)
    mine = _load(client, action_id)
    other = _second_client(app, w.official2)
    response = other.post(
        f"/actions/{action_id}/change",
        data={**_load(other, action_id), "status": "in_progress", "progress": "60"},
    )
    assert response.status_code == 302
    response = client.post(f"/actions/{action_id}/change", data={**mine, "progress": "20"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Saved now: 60 %" in _field_error(page, "progress")
    again = change_form(page)
    assert again["progress"] == "20"  # typed, kept
    assert again["status"] == "in_progress"  # not changed here: the value saved now
    assert _stored(db, action_id).progress == 60


# --- 2. a muted member --------------------------------------------------------------


def test_muted_member_is_refused_the_form_and_keeps_the_text_when_refused_on_sending(
    app, team, db, client, auth
):
    w = team
    auth.login(w.member)
    url = f"/actions/new?message={w.message.id}"
    assert client.get(url).status_code == 200  # not muted: the form
    form_page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="form_token"[^>]*value="([^"]+)"', form_page)
    assert token
    with app.test_request_context():
        moderation.mute_person(w.moderator, w.member.id, w.forum.id, 60, "ton")
    # muted now: no form to fill in for nothing
    response = client.get(url)
    assert response.status_code == 403
    assert "You are muted in this forum" in response.get_data(as_text=True)
    # the form opened before the mute: refused on the form, the text kept
    text = "Min långa genomtänkta beskrivning UNIQUE123"
    response = client.post(
        url,
        data={
            "title": "Öppna kvällstid",
            "description": text,
            "owner": f"department:{w.dept.id}",
            "due_date": (service.today() + timedelta(days=30)).isoformat(),
            "commitments": [str(w.thread.commitments[0].id)],
            "form_token": token[1],
        },
    )
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "You are muted in this forum" in page
    assert "UNIQUE123" in page and 'value="Öppna kvällstid"' in page
    assert '<form method="post"' in page
    assert db.session.scalar(select(func.count()).select_from(Action)) == 0


# --- 3. due dates: YYYY-MM-DD, from the start of last year to ten years ahead --------


def _propose(client, w, due: str, once: str = "fixed"):
    return client.post(
        f"/actions/new?message={w.message.id}",
        data={
            "title": "Kvällsöppet",
            "owner": f"department:{w.dept.id}",
            "due_date": due,
            "commitments": [str(w.thread.commitments[0].id)],
            "form_token": once,
        },
    )


def _plausible_range() -> tuple[date, date]:
    """From the start of last year to ten years ahead (as the form's error says)."""
    today = service.today()
    try:
        last = today.replace(year=today.year + 10)
    except ValueError:  # 29 February
        last = today.replace(year=today.year + 10, day=28)
    return date(today.year - 1, 1, 1), last


def _due(kind: str) -> str:
    first, last = _plausible_range()
    if kind == "before-first":
        return (first - timedelta(days=1)).isoformat()
    if kind == "after-last":
        return (last + timedelta(days=1)).isoformat()
    return kind


@pytest.mark.parametrize(
    ("due", "message"),
    [
        (d, "Choose a date from")
        for d in ["0001-01-01", "1900-01-01", "9999-12-31", "before-first", "after-last"]
    ]
    + [(d, "Write the date as YYYY-MM-DD.") for d in ["2026-W01-1", "20261231", "2026-001"]],
)
def test_implausible_or_odd_due_dates_are_the_fields_error(team, db, client, auth, due, message):
    due = _due(due)
    auth.login(team.official)
    response = _propose(client, team, due)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in _field_error(page, "due_date")
    assert f'value="{due}"' in page  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(Action)) == 0


def test_due_dates_at_the_ends_of_the_range_are_taken(team, db, client, auth):
    auth.login(team.official)
    first, last = _plausible_range()
    for day in (first, last):
        assert _propose(client, team, day.isoformat(), once=f"t{day}").status_code == 302
    assert sorted(db.session.scalars(select(Action.due_date))) == [first, last]


def test_change_form_refuses_an_implausible_due_date(app, team, db, client, auth):
    action_id = _accepted_action(app, team)
    auth.login(team.official)
    before = _stored(db, action_id).due_date
    response = client.post(
        f"/actions/{action_id}/change", data={**_load(client, action_id), "due_date": "9999-12-31"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose a date from" in _field_error(page, "due_date")
    assert change_form(page)["due_date"] == "9999-12-31"
    assert _stored(db, action_id).due_date == before


def test_an_action_with_an_older_stored_date_stays_editable(app, team, db, client, auth):
    action_id = _accepted_action(app, team)
    old = date(service.today().year - 5, 3, 1)
    db.session.execute(Action.__table__.update().values(due_date=old))
    db.session.commit()
    auth.login(team.official)
    form = _load(client, action_id)
    assert form["due_date"] == old.isoformat()
    response = client.post(
        f"/actions/{action_id}/change", data={**form, "status": "in_progress", "progress": "40"}
    )
    assert response.status_code == 302
    action = _stored(db, action_id)
    assert (action.status.value, action.progress, action.due_date) == ("in_progress", 40, old)
    # but moving it to another date out of range is refused
    response = client.post(
        f"/actions/{action_id}/change",
        data={**_load(client, action_id), "due_date": date(old.year, 3, 2).isoformat()},
    )
    assert response.status_code == 400
    assert _stored(db, action_id).due_date == old
