"""Confirm before what cannot be undone, without JavaScript: submitting a formal response,
publishing feedback, suspending a person, closing an account on request. Nothing happens
until the confirmation's form posts."""

from __future__ import annotations

import re

import pytest
from consultation_support import consultation_people, english, make_round, respond
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import (
    AuditEntry,
    ConsultationRound,
    Notification,
    ResponseVersion,
    RoundState,
    User,
)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def _english(client):
    english(client)


@pytest.fixture
def people(make):
    return consultation_people(make)


# --- submitting a formal response ------------------------------------------------------------


def test_submit_asks_first_and_keeps_the_typed_text_as_draft(app, make, people, client, auth):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    qid = round_.questions[0].id
    auth.login(chair)
    asked = client.post(
        f"/consultations/{round_.id}/response",
        data={"organisation_id": org.id, f"answer-{qid}": "<b>Vårt</b> svar", "action": "submit"},
    )
    assert asked.status_code == 302
    url = f"/consultations/{round_.id}/response/submit?organisation={org.id}"
    assert asked.headers["Location"].endswith(url)
    assert count(ResponseVersion) == 0
    page = text(client.get(url))
    assert "Submit the response?" in page and "&lt;b&gt;Vårt&lt;/b&gt; svar" in page
    assert "<b>Vårt" not in page  # shown as text, never as HTML
    # the confirmation is a plain form: no JavaScript needed
    action = url.replace("?", "?").replace("&", "&amp;")
    assert f'<form method="post" action="{action}"' in page
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page)[1]
    done = client.post(url, data={"organisation_id": org.id, "fingerprint": fingerprint})
    assert done.status_code == 302
    version = db.session.scalar(select(ResponseVersion))
    assert version is not None and "<b>Vårt</b> svar" in [a.body for a in version.answers]


def test_a_draft_changed_after_the_question_is_not_submitted(app, make, people, client, auth):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, submit=False, text="Först")
    auth.login(chair)
    url = f"/consultations/{round_.id}/response/submit?organisation={org.id}"
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', text(client.get(url)))[1]
    respond(app, member, round_, org, submit=False, text="Ändrat av en medlem")
    refused = client.post(url, data={"organisation_id": org.id, "fingerprint": fingerprint})
    assert refused.status_code == 302 and refused.headers["Location"].endswith(url)
    assert count(ResponseVersion) == 0
    forged = client.post(url, data={"organisation_id": org.id, "fingerprint": "x" * 64})
    assert forged.status_code == 302 and count(ResponseVersion) == 0
    assert "The draft changed" in text(client.get(url))


def test_only_admins_see_or_answer_the_submit_confirmation(app, make, people, client, auth):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, submit=False)
    url = f"/consultations/{round_.id}/response/submit?organisation={org.id}"
    auth.login(member)
    assert client.get(url).status_code == 403
    assert client.post(url, data={"organisation_id": org.id}).status_code == 403
    auth.logout()
    assert client.get(url).status_code == 302  # to the login
    auth.login(chair)
    assert client.get(f"/consultations/{round_.id}/response/submit").status_code == 404
    assert (
        client.get(f"/consultations/{round_.id}/response/submit?organisation=abc").status_code
        == 404
    )
    assert count(ResponseVersion) == 0


def test_an_empty_draft_or_a_closed_round_is_not_confirmed(app, make, people, client, auth):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    auth.login(chair)
    url = f"/consultations/{round_.id}/response/submit?organisation={org.id}"
    empty = client.get(url)
    assert empty.status_code == 302 and "/response/submit" not in empty.headers["Location"]
    closed = make_round(app, make, official, "closed")
    response = client.get(f"/consultations/{closed.id}/response/submit?organisation={org.id}")
    assert response.status_code == 302
    assert count(ResponseVersion) == 0


# --- publishing feedback ---------------------------------------------------------------------


def _closed_with_response(app, make, people):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        from forum.services import consultations as service

        service.close_round(official, round_.id)
    return round_


def test_publish_asks_first_and_tells_nobody_before(app, make, people, client, auth):
    official = people[0]
    round_ = _closed_with_response(app, make, people)
    qid = round_.questions[0].id
    auth.login(official)
    asked = client.post(
        f"/consultations/{round_.id}/feedback",
        data={f"heard-{qid}": "Vi hörde <script>x</script>", "action": "publish"},
    )
    assert asked.status_code == 302
    assert asked.headers["Location"].endswith(f"/consultations/{round_.id}/feedback/publish")
    stored = db.session.get(ConsultationRound, round_.id)
    assert stored.state != RoundState.published
    assert count(Notification, Notification.kind == "consultation_feedback") == 0
    page = text(client.get(f"/consultations/{round_.id}/feedback/publish"))
    assert "Publish the feedback?" in page and "Vi hörde &lt;script&gt;" in page
    assert "the 1 organisation that responded is told" in page
    assert client.post(f"/consultations/{round_.id}/feedback/publish").status_code == 302
    db.session.expire_all()
    assert db.session.get(ConsultationRound, round_.id).state == RoundState.published
    assert count(Notification, Notification.kind == "consultation_feedback") == 2  # both members
    # asking again shows the round: it is already published, nobody is told twice
    again = client.get(f"/consultations/{round_.id}/feedback/publish")
    assert again.status_code == 302
    assert client.post(f"/consultations/{round_.id}/feedback/publish").status_code == 302
    assert count(Notification, Notification.kind == "consultation_feedback") == 2


def test_publish_confirmation_is_for_the_officials_only(app, make, people, client, auth):
    _official, chair, _member, _org = people
    round_ = _closed_with_response(app, make, people)
    auth.login(chair)
    assert client.get(f"/consultations/{round_.id}/feedback/publish").status_code == 403
    assert client.post(f"/consultations/{round_.id}/feedback/publish").status_code == 403
    assert client.get("/consultations/999999/feedback/publish").status_code == 404
    assert count(Notification, Notification.kind == "consultation_feedback") == 0


def test_empty_feedback_is_not_offered_for_publishing(app, make, people, client, auth):
    official = people[0]
    round_ = _closed_with_response(app, make, people)
    auth.login(official)
    response = client.get(f"/consultations/{round_.id}/feedback/publish")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/consultations/{round_.id}/feedback")
    assert "Write feedback on at least one question first." in text(
        client.get(f"/consultations/{round_.id}/feedback")
    )


# --- suspending a person ---------------------------------------------------------------------


def test_suspending_asks_first(make, client, auth):
    moderator = make.user("moderator")
    person = make.user(name="Sune Suspenderad")
    auth.login(moderator)
    asked = client.post(
        "/moderation/people/suspend",
        data={"person": person.handle, "minutes": 60 * 24, "reason": 'Hot <a href="x">här</a>'},
    )
    assert asked.status_code == 200
    page = text(asked)
    assert "Suspend Sune Suspenderad?" in page and "For 1 day." in page
    assert "Hot &lt;a href=&#34;x&#34;&gt;här&lt;/a&gt;" in page or "Hot &lt;a href=" in page
    assert 'name="confirmed" value="1"' in page
    db.session.refresh(person)
    assert person.suspended_until is None
    assert count(AuditEntry, AuditEntry.action == "user.suspended") == 0
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert hidden["person"] == person.handle and hidden["minutes"] == str(60 * 24)
    done = client.post(
        "/moderation/people/suspend",
        data={
            "person": hidden["person"],
            "minutes": hidden["minutes"],
            "reason": "Hot",
            "confirmed": "1",
        },
    )
    assert done.status_code == 302
    db.session.refresh(person)
    assert person.suspended_until is not None
    assert count(AuditEntry, AuditEntry.action == "user.suspended") == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"person": "ingen-sadan", "minutes": "60", "reason": "x"}, "No one has that handle"),
        ({"minutes": "sextio", "reason": "x"}, "must be a whole number"),
        ({"minutes": "", "reason": "x"}, "Choose how long."),
        ({"minutes": "-5", "reason": "x"}, "between one minute and one year"),
    ],
)
def test_bad_suspension_input_is_refused_before_the_question(make, client, auth, data, field):
    moderator = make.user("moderator")
    person = make.user()
    auth.login(moderator)
    response = client.post("/moderation/people/suspend", data={"person": person.handle, **data})
    assert response.status_code == 400
    page = text(response)
    assert field in page and 'name="confirmed"' not in page
    db.session.refresh(person)
    assert person.suspended_until is None


def test_an_already_suspended_person_is_not_asked_about_again(make, client, auth):
    moderator = make.user("moderator")
    person = make.user()
    auth.login(moderator)
    data = {"person": person.handle, "minutes": 60, "reason": "x", "confirmed": "1"}
    assert client.post("/moderation/people/suspend", data=data).status_code == 302
    again = client.post("/moderation/people/suspend", data={**data, "confirmed": ""})
    assert again.status_code == 409 and 'name="confirmed"' not in text(again)
    assert count(User, User.suspended_until.is_not(None)) == 1


# --- closing an account on request --------------------------------------------------------


def test_closing_an_account_on_request_asks_first_and_says_what_happens(make, client, auth):
    admin = make.user("admin")
    person = make.user(name="Ture Tillstängning", email="ture@example.se")
    auth.login(admin)
    listed = text(client.get("/admin", query_string={"q": "Ture"}))
    assert f'action="/admin/users/{person.id}/close"' in listed
    assert "Close account on request" in listed
    asked = client.post(f"/admin/users/{person.id}/close")
    assert asked.status_code == 200
    page = text(asked)
    assert re.search(r"<h1>Close Ture Tillstängning(&#39;|')s account\?</h1>", page)
    assert f"Före detta användare {person.id}" in page and "personal data is deleted" in page
    assert 'name="confirmed" value="1"' in page
    db.session.refresh(person)
    assert not person.is_closed and count(AuditEntry, AuditEntry.action == "account.close") == 0
    done = client.post(f"/admin/users/{person.id}/close", data={"confirmed": "1"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin")
    db.session.refresh(person)
    assert person.is_closed and person.display_name == f"Före detta användare {person.id}"
    assert count(AuditEntry, AuditEntry.action == "account.close") == 1
    assert client.post(f"/admin/users/{person.id}/close").status_code == 404  # closed already


def test_closing_an_organisations_last_admin_is_refused_on_the_confirmation(make, client, auth):
    admin = make.user("admin")
    chair = make.user(name="Olle Ordförande")
    make.organisation(admin=chair, name="Föreningen Gemenskap")
    auth.login(admin)
    refused = client.post(f"/admin/users/{chair.id}/close", data={"confirmed": "1"})
    assert refused.status_code == 400
    assert "last admin of Föreningen Gemenskap" in text(refused)
    db.session.refresh(chair)
    assert not chair.is_closed


@pytest.mark.parametrize("role", ["member", "official", "moderator"])
def test_only_admins_may_close_an_account_on_request(make, client, auth, role):
    person = make.user(name="Ture Tillstängning")
    auth.login(make.user(role))
    assert client.post(f"/admin/users/{person.id}/close").status_code == 403
    assert (
        client.post(f"/admin/users/{person.id}/close", data={"confirmed": "1"}).status_code == 403
    )
    db.session.refresh(person)
    assert not person.is_closed
