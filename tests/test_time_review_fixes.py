"""Dates and times as a reader in Stockholm meets them: a moved deadline in the reader's
language, the days left to a deadline at midnight, a planned decision date that is a typo,
and the audit log's date filter at the ends of what a date picker allows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from consultation_support import consultation_people, make_round, round_input
from sqlalchemy import select

from forum.errors import Invalid
from forum.formatting import days_until
from forum.models import RoundRevision
from forum.services import consultations as service
from forum.services import moderation

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01"])
def test_the_audit_log_filtered_by_a_date_at_the_pickers_ends_is_shown(
    app, client, make, auth, query
):
    """The date picker allows 9999-12-31 and 0001-01-01; the day's start overflowed a
    datetime and the app answered "page not found". Such a day is no bound, as in search."""
    admin = make.user("admin")
    auth.login(admin)
    thread = make.thread(forum=make.forum(owner=admin))
    with app.test_request_context():
        moderation.lock_thread(admin, thread.id)  # something in the log
    response = client.get(f"/moderation/audit?{query}", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "<table" in response.get_data(as_text=True)


def test_a_moved_deadline_is_shown_in_the_readers_language(app, make, client):
    """An official working in Swedish moves a deadline; an English reader of the round's
    changes read "10 okt. 2030" (the times were stored as the official saw them)."""
    official, *_ = consultation_people(make, locale="sv")
    round_ = make_round(app, make, official, closes_at="2030-10-10T23:59")
    with app.test_request_context(headers={"Accept-Language": "sv"}):
        service.change_deadline(official, round_.id, "2030-10-17T23:59", "Fler hinner svara")
    changes = {}
    for lang in ("en", "sv"):
        text = client.get(
            f"/consultations/{round_.id}", headers={"Accept-Language": lang}
        ).get_data(as_text=True)
        changes[lang] = text[text.index('id="changes"') :][:2000]
    assert "Oct 2030" in changes["en"] and "okt" not in changes["en"]
    assert "okt. 2030" in changes["sv"] and "17 okt. 2030 23:59" in changes["sv"]


def test_a_deadline_change_saved_as_text_before_is_shown_as_it_was(app, make, db, client):
    """Revisions saved before the times were stored as ISO keep their text."""
    official, *_ = consultation_people(make)
    round_ = make_round(app, make, official)
    with app.test_request_context():
        service.change_deadline(
            official,
            round_.id,
            service.local_input(round_.closes_at + timedelta(days=7)),
            "Mer tid",
        )
    revision = db.session.scalar(select(RoundRevision))
    revision.before, revision.after = "10 okt. 2030 23:59", "17 okt. 2030 23:59"
    db.session.commit()
    text = client.get(f"/consultations/{round_.id}").get_data(as_text=True)
    assert "10 okt. 2030 23:59" in text and "17 okt. 2030 23:59" in text


def test_a_deadline_at_midnight_is_the_day_befores(app):
    """A round closing at 00:00 takes its last answers the evening before: "Closes today"
    that day, not "1 day left" (the next day it is closed)."""
    evening = datetime(2027, 3, 1, 21, 0, tzinfo=UTC)  # 22:00 in Stockholm
    midnight = datetime.combine(date(2027, 3, 2), time.min, tzinfo=STOCKHOLM)
    with app.test_request_context():
        assert days_until(midnight, evening) == 0
        assert days_until(midnight + timedelta(minutes=1), evening) == 1
        assert days_until(midnight + timedelta(days=1), evening) == 1


def test_the_start_page_says_a_round_closing_at_midnight_tonight_closes_today(app, make, client):
    now = datetime.now(UTC).astimezone(STOCKHOLM)
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=STOCKHOLM)
    if midnight - now < timedelta(minutes=10):
        pytest.skip("too close to midnight in Stockholm for the round to be made before it")
    official, *_ = consultation_people(make)
    make_round(app, make, official, closes_at=midnight.strftime("%Y-%m-%dT%H:%M"))
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Closes today" in page and "1 day left" not in page


@pytest.mark.parametrize("typo", ["0001-03-01", "0206-03-01", "9999-12-31"])
def test_a_planned_decision_date_that_is_a_typo_is_refused_beside_its_field(app, make, typo):
    """Stored, it showed on the round and made the public dashboard's weeks from closing to
    planned decision -95,003."""
    official, *_ = consultation_people(make)
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        service.create_round(official, round_input(make, decision_date=typo))
    assert refused.value.field == "decision_date"
    assert "Välj ett datum från" in refused.value.message


def test_a_planned_decision_date_stored_earlier_may_stay_as_it_is(app, make, db):
    """Editing a draft whose decision date is now out of the window (it was set long ago)
    does not refuse the unchanged date; changing it to another old date does."""
    official, *_ = consultation_people(make)
    round_ = make_round(app, make, official, state="draft")
    round_.decision_date = date(2001, 5, 1)
    db.session.commit()
    with app.test_request_context():
        service.update_round(official, round_.id, round_input(make, decision_date="2001-05-01"))
        with pytest.raises(Invalid):
            service.update_round(official, round_.id, round_input(make, decision_date="2001-05-02"))
