"""Consultation rounds: the whole loop, times, bad input, reminders, exports, query counts."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from consultation_support import (
    consultation_people,
    english,
    expire_deadline,
    local,
    make_round,
    respond,
    round_input,
)
from sqlalchemy import func, select
from support import csrf_tokens, form_login

from forum.errors import Conflict, Forbidden, Invalid, NotFound
from forum.models import (
    ConsultationResponse,
    Notification,
    OutboxMail,
    Phase,
    ResponseVersion,
    RoundNotice,
    Thread,
)
from forum.services import consultations as service


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(autouse=True)
def _english(client):
    english(client)


@pytest.fixture
def people(make):
    return consultation_people(make)


def text(response) -> str:
    return response.get_data(as_text=True)


def confirm_submit(client, round_id: int, org_id: int) -> None:
    """Say yes on the confirmation page, as a person would: its form carries what was shown."""
    page = text(client.get(f"/consultations/{round_id}/response/submit?organisation={org_id}"))
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page)
    assert fingerprint, page
    done = client.post(
        f"/consultations/{round_id}/response/submit?organisation={org_id}",
        data={"organisation_id": org_id, "fingerprint": fingerprint[1]},
    )
    assert done.status_code == 302


def confirm_publish(client, round_id: int) -> None:
    page = client.get(f"/consultations/{round_id}/feedback/publish")
    assert page.status_code == 200 and 'id="confirm"' in text(page)
    assert client.post(f"/consultations/{round_id}/feedback/publish").status_code == 302


# --- time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entered", "utc"),
    [
        ("2026-10-25T23:59", datetime(2026, 10, 25, 22, 59, tzinfo=UTC)),  # summer time ended
        ("2026-03-29T23:59", datetime(2026, 3, 29, 21, 59, tzinfo=UTC)),  # summer time began
        ("2026-10-24T23:59", datetime(2026, 10, 24, 21, 59, tzinfo=UTC)),
        ("2026-12-24 15:00", datetime(2026, 12, 24, 14, 0, tzinfo=UTC)),
    ],
)
def test_stockholm_wall_time_becomes_the_right_instant(app, entered, utc):
    assert service.parse_local(entered, "closes_at") == utc


def test_round_closing_at_2359_on_dst_day_closes_at_that_instant(app, make, people):
    official, *_ = people
    closes = service.parse_local("2026-10-25T23:59", "closes_at")
    round_ = make_round(
        app,
        make,
        official,
        "draft",
        opens_at="2026-10-01T09:00",
        closes_at="2026-10-25T23:59",
    )
    assert round_.closes_at == closes
    round_.state = "open"
    assert round_.phase(closes - timedelta(seconds=1)) == Phase.open
    assert round_.phase(closes) == Phase.closed
    # an hour later than a naive "+02:00" reading would give
    assert closes == datetime(2026, 10, 25, 23, 59, tzinfo=UTC) - timedelta(hours=1)
    assert service.local_input(closes) == "2026-10-25T23:59"


def test_a_time_the_clocks_skip_is_refused(app):
    with pytest.raises(Invalid) as err:
        service.parse_local("2026-03-29T02:30", "opens_at")
    assert err.value.field == "opens_at"


@pytest.mark.parametrize("entered", ["0001-01-01T00:30", "1899-12-31T12:00", "3000-01-01T00:00"])
def test_a_time_outside_the_years_a_round_can_have_is_the_fields_error(app, entered):
    # 0001-01-01 00:30 in Stockholm is in year 0 in UTC: converting it raised OverflowError,
    # which the round form showed as a "Not found" page
    with pytest.raises(Invalid) as err:
        service.parse_local(entered, "closes_at")
    assert err.value.field == "closes_at"


def test_the_round_form_gives_a_year_one_deadline_back_as_a_field_error(
    app, client, auth, make, people
):
    official, *_ = people
    auth.login(official)
    response = client.post(
        "/consultations/new",
        data={
            "title": "Lokaler",
            "problem": "Hur delar vi lokaler?",
            "stage": "options",
            "audience": "all_verified",
            "commitments": [str(make.commitment_ids(1)[0])],
            "opens_at": "2026-10-01T09:00",
            "closes_at": "0001-01-01T00:30",
            "question-1": "Vilka lokaler använder ni?",
        },
    )
    assert response.status_code == 400
    assert "Choose a time between the years 2000 and 2999." in text(response)


# --- the loop ----------------------------------------------------------------


def test_whole_loop_over_http(app, client, auth, make, people, db):
    official, chair, member, org = people
    auth.login(official)
    commitments = [str(i) for i in make.commitment_ids(2)]
    response = client.post(
        "/consultations/new",
        data={
            "title": "Lokaler för föreningar",
            "problem": "Hur delar vi **lokaler**? <script>alert(1)</script>",
            "background": "",
            "stage": "options",
            "decision_date": (datetime.now(UTC) + timedelta(days=60)).date().isoformat(),
            "audience": "all_verified",
            "commitments": commitments,
            "opens_at": local(-timedelta(minutes=5)),
            "closes_at": local(timedelta(days=14)),
            "question-1": "Vilka lokaler använder ni?",
            "guidance-1": "Namnge gärna adressen.",
            "question-2": "",
            "guidance-2": "",
            "question-3": "Vad skulle ni kunna dela?",
            "guidance-3": "",
        },
    )
    assert response.status_code == 302, text(response)
    round_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = text(client.get(f"/consultations/{round_id}"))
    assert "Preview of a draft" in page and "<script>alert" not in page
    assert "<strong>lokaler</strong>" in page
    # a visitor does not see the draft, nor in the list
    auth.logout()
    assert client.get(f"/consultations/{round_id}").status_code == 404
    assert "Lokaler för föreningar" not in text(client.get("/consultations"))
    auth.login(official)
    assert client.post(f"/consultations/{round_id}/open").status_code == 302
    # the audience is told: stored, mailed
    assert count(db, Notification, Notification.user_id == chair.id) == 1
    assert count(db, Notification, Notification.user_id == member.id) == 1
    assert count(db, OutboxMail, OutboxMail.to_address == chair.email) == 1
    # a member drafts; only the admin submits
    auth.login(member)
    form = text(client.get(f"/consultations/{round_id}/response"))
    assert "Submitted responses become public when the round closes." in form
    questions = sorted(int(x) for x in __import__("re").findall(r'name="answer-(\d+)"', form))
    assert len(questions) == 2
    data = {
        "organisation_id": str(org.id),
        f"answer-{questions[0]}": "Vi använder *Blå huset*.",
        f"answer-{questions[1]}": "Köket.",
        "action": "save",
    }
    assert client.post(f"/consultations/{round_id}/response", data=data).status_code == 302
    assert (
        client.post(
            f"/consultations/{round_id}/response", data={**data, "action": "submit"}
        ).status_code
        == 403
    )
    auth.login(chair)
    saved = text(client.get(f"/consultations/{round_id}/response?organisation={org.id}"))
    assert "Vi använder *Blå huset*." in saved
    asked = client.post(f"/consultations/{round_id}/response", data={**data, "action": "submit"})
    assert asked.status_code == 302 and "/response/submit" in asked.headers["Location"]
    assert count(db, ResponseVersion) == 0  # nothing is submitted before the confirmation
    confirm_submit(client, round_id, org.id)
    assert count(db, ResponseVersion) == 1
    # before closing, the public does not see the response
    auth.logout()
    assert "Blå huset" not in text(client.get(f"/consultations/{round_id}"))
    # the official closes; the response is public
    auth.login(official)
    assert client.post(f"/consultations/{round_id}/close").status_code == 302
    auth.logout()
    page = text(client.get(f"/consultations/{round_id}"))
    assert "<em>Blå huset</em>" in page and "Föreningen Gemenskap" in page
    # feedback, linked to the response
    auth.login(official)
    response_id = db.session.scalar(select(ConsultationResponse.id))
    feedback = {
        f"heard-{questions[0]}": "Många delar kök.",
        f"action-{questions[0]}": "Vi öppnar **Blå huset** på kvällar.",
        f"sources-{questions[0]}": [str(response_id)],
        "action": "publish",
    }
    assert client.post(f"/consultations/{round_id}/feedback", data=feedback).status_code == 302
    assert count(db, Notification, Notification.kind == "consultation_feedback") == 0
    confirm_publish(client, round_id)
    assert count(db, Notification, Notification.kind == "consultation_feedback") == 2
    auth.logout()
    page = text(client.get(f"/consultations/{round_id}"))
    assert "Feedback published" in page and "<strong>Blå huset</strong> på kvällar" in page
    assert f'href="#response-{response_id}"' in page
    org_page = text(client.get(f"/organisations/{org.slug}"))
    assert "What happened with our input" in org_page
    assert "Vi öppnar <strong>Blå huset</strong> på kvällar." in org_page
    # the list filters and the commitment page
    assert "Lokaler för föreningar" in text(client.get("/consultations?phase=published"))
    assert "Lokaler för föreningar" not in text(client.get("/consultations?phase=open"))
    from forum.models import Commitment

    slug = db.session.get(Commitment, int(commitments[0])).slug
    assert "Lokaler för föreningar" in text(client.get(f"/commitments/{slug}"))
    assert "Lokaler för föreningar" in text(client.get(f"/consultations?commitment={slug}"))


def test_opening_notifies_live_in_the_members_room(app, make, people, socket_for):
    official, chair, _member, _org = people
    sock = socket_for(chair)
    sock.get_received()
    make_round(app, make, official, "open")
    events = [e for e in sock.get_received() if e["name"] == "notification"]
    assert len(events) == 1
    note = events[0]["args"][0]["notification"]
    assert note["kind"] == "consultation_opened" and note["url"].startswith("/consultations/")


def test_round_page_viewers_get_live_updates(app, make, people, socket_for):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    watcher = socket_for(None)
    assert watcher.emit("join", {"thread_id": round_.thread_id}, callback=True)["ok"]
    watcher.get_received()
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
    events = [e["args"][0] for e in watcher.get_received() if e["name"] == "consultation:updated"]
    assert [(e["event"], e["phase"], e["responded"]) for e in events] == [
        ("submitted", "open", 1),
        ("closed", "closed", 1),
    ]


def test_nothing_is_broadcast_when_the_write_fails(app, make, people, socket_for):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    watcher = socket_for(None)
    watcher.emit("join", {"thread_id": round_.thread_id}, callback=True)
    watcher.get_received()
    expire_deadline(round_)
    with app.test_request_context(), pytest.raises(Conflict):
        respond(app, chair, round_, org)
    assert not [e for e in watcher.get_received() if e["name"] == "consultation:updated"]


def test_second_response_is_a_revision_and_each_version_is_kept(app, make, people, db):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, text="Första")
    respond(app, chair, round_, org, text="Andra")
    assert count(db, ConsultationResponse) == 1
    versions = db.session.scalars(select(ResponseVersion).order_by(ResponseVersion.number)).all()
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].answers[0].body.startswith("Första")
    assert versions[1].answers[0].body.startswith("Andra")


def test_the_unique_constraint_refuses_a_duplicate_response(app, make, people, db):
    from sqlalchemy.exc import IntegrityError

    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    db.session.add(ConsultationResponse(round_id=round_.id, organisation_id=org.id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_public_sees_the_latest_submitted_version_not_the_draft(app, client, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, text="Inskickat")
    respond(app, member, round_, org, submit=False, text="Utkast")
    with app.test_request_context():
        service.close_round(official, round_.id)
    page = text(client.get(f"/consultations/{round_.id}"))
    assert "Inskickat 1" in page and "Utkast" not in page


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closes_at": local(-timedelta(days=2))}, "closes_at"),
        ({"questions": []}, "questions"),
        ({"questions": [("", "")]}, "questions"),
        ({"questions": [("", "bara vägledning")]}, "questions"),
        ({"title": ""}, "title"),
        ({"problem": ""}, "problem"),
        ({"stage": "decided"}, "stage"),
        ({"audience": "everyone"}, "audience"),
        ({"commitment_ids": []}, "commitments"),
        ({"commitment_ids": [999999]}, "commitments"),
        ({"opens_at": "i morgon"}, "opens_at"),
        ({"decision_date": "2027-13-01"}, "decision_date"),
        ({"audience": "invited", "invited_ids": [999999]}, "invited"),
    ],
)
def test_bad_round_input_is_refused(app, make, people, db, overrides, field):
    official, *_ = people
    from forum.models import ConsultationRound

    with app.test_request_context(), pytest.raises(Invalid) as err:
        service.create_round(official, round_input(make, **overrides))
    assert err.value.field == field
    db.session.rollback()
    assert count(db, ConsultationRound) == 0


def test_closing_before_opening_over_http(client, auth, make, people, db):
    official, *_ = people
    auth.login(official)
    response = client.post(
        "/consultations/new",
        data={
            "title": "Baklänges",
            "problem": "Något",
            "stage": "problem",
            "audience": "all_verified",
            "commitments": [str(make.commitment_ids(1)[0])],
            "opens_at": "2027-01-10T10:00",
            "closes_at": "2027-01-09T10:00",
            "question-1": "Fråga?",
        },
    )
    assert response.status_code == 400
    assert "The round must close after it opens." in text(response)
    from forum.models import ConsultationRound

    assert count(db, ConsultationRound) == 0


def test_opening_without_an_audience_is_refused(app, make, people, db):
    official, *_ = people
    round_ = make_round(app, make, official, "draft", audience="invited", invited_ids=[])
    with app.test_request_context(), pytest.raises(Invalid) as err:
        service.open_round(official, round_.id)
    assert err.value.field == "audience"
    db.session.rollback()
    assert count(db, Notification) == 0


def test_opening_an_unverified_only_audience_is_refused(app, make, people, db):
    official, *_ = people
    unverified = make.organisation(verified=False)
    with app.test_request_context(), pytest.raises(Invalid):
        service.create_round(
            official, round_input(make, audience="invited", invited_ids=[unverified.id])
        )


def test_answers_over_the_limit_are_refused(app, make, people, db):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    too_long = "å" * (service.MAX_ANSWER + 1)
    with app.test_request_context(), pytest.raises(Invalid) as err:
        service.save_response(chair, round_.id, org.id, {round_.questions[0].id: too_long})
    assert err.value.field == f"answer-{round_.questions[0].id}"
    db.session.rollback()
    assert count(db, ConsultationResponse) == 0


def test_overlong_answer_over_http_keeps_the_text(client, auth, app, make, people, db):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    auth.login(chair)
    qid = round_.questions[0].id
    response = client.post(
        f"/consultations/{round_.id}/response",
        data={"organisation_id": org.id, f"answer-{qid}": "x" * 9000, "action": "save"},
    )
    assert response.status_code == 400
    page = text(response)
    assert "An answer can be at most" in page
    assert f'id="answer-{qid}-error"' in page and 'aria-invalid="true"' in page
    assert "x" * 9000 in page  # nothing typed is lost
    assert count(db, ConsultationResponse) == 0


def test_response_page_for_someone_in_several_organisations(client, auth, app, make, people):
    official, chair, _member, org = people
    second = make.organisation(admin=chair, name="Andra föreningen")
    round_ = make_round(app, make, official, "open")
    auth.login(chair)
    response = client.get(f"/consultations/{round_.id}/response")
    assert response.status_code == 302 and response.headers["Location"].endswith("#respond")
    page = text(client.get(f"/consultations/{round_.id}"))
    assert f"organisation={org.id}" in page and f"organisation={second.id}" in page
    auth.login(make.user())
    assert client.get(f"/consultations/{round_.id}/response").status_code == 403


@pytest.mark.parametrize("state", ["draft", "closed"])
def test_responding_to_a_draft_or_closed_round_is_refused(app, make, people, db, state):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, state)
    # a draft is invisible to the organisation (not found); a closed round refuses (conflict)
    error = Conflict if state == "closed" else NotFound
    with app.test_request_context(), pytest.raises(error) as raised:
        respond(app, chair, round_, org)
    assert type(raised.value) is error
    db.session.rollback()
    assert count(db, ConsultationResponse) == 0


def test_deadline_is_enforced_even_from_a_form_loaded_earlier(client, auth, app, make, people, db):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    auth.login(chair)
    form = client.get(f"/consultations/{round_.id}/response")
    assert form.status_code == 200 and 'name="action" value="submit"' in text(form)
    expire_deadline(round_)  # the form stays open in the browser while the deadline passes
    qid = round_.questions[0].id
    response = client.post(
        f"/consultations/{round_.id}/response",
        data={"organisation_id": org.id, f"answer-{qid}": "För sent", "action": "submit"},
    )
    assert response.status_code == 409
    assert "Responses can no longer be changed." in text(response)
    assert count(db, ConsultationResponse) == 0


def test_forged_organisation_ids_are_refused(client, auth, app, make, people, db):
    official, chair, _member, _org = people
    other_admin = make.user()
    other = make.organisation(admin=other_admin)
    round_ = make_round(app, make, official, "open")
    auth.login(chair)
    qid = round_.questions[0].id
    for org_id, status in [(other.id, 403), (999999, 404), ("abc", 404)]:
        response = client.post(
            f"/consultations/{round_.id}/response",
            data={"organisation_id": org_id, f"answer-{qid}": "Kapat", "action": "submit"},
        )
        assert response.status_code == status, org_id
    assert count(db, ConsultationResponse) == 0


@pytest.mark.parametrize(
    "spelled",
    [
        lambda org_id: "²",  # "²".isdigit() is true, int("²") fails
        lambda org_id: "".join(chr(0x660 + int(d)) for d in str(org_id)),  # Arabic-Indic digits
        lambda org_id: f"+{org_id}",
        lambda org_id: f" {org_id}",
        lambda org_id: str(2**31),  # beyond PostgreSQL's INTEGER
    ],
    ids=["superscript", "arabic", "plus", "space", "too-large"],
)
def test_an_organisation_id_that_is_not_plain_digits_is_not_found(
    client, auth, app, make, people, db, spelled
):
    """Only ASCII digits name an organisation; anything int() also reads is a 404, not a 500."""
    official, chair, _member, org = people
    raw = spelled(org.id)
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, submit=False)
    auth.login(chair)
    for url in (
        f"/consultations/{round_.id}/response?organisation={raw}",
        f"/consultations/{round_.id}/response/submit?organisation={raw}",
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, data={"action": "save"}).status_code == 404, url


def test_a_department_id_that_is_not_plain_digits_is_a_field_error(client, auth, make, db):
    admin = make.user("admin")
    auth.login(admin)
    response = client.post(
        "/consultations/new",
        data={
            "title": "Siffror",
            "problem": "Något",
            "stage": "problem",
            "audience": "all_verified",
            "commitments": [str(make.commitment_ids(1)[0])],
            "department_id": "²",
            "opens_at": local(timedelta(hours=1)),
            "closes_at": local(timedelta(days=3)),
            "question-1": "Fråga?",
        },
    )
    assert response.status_code == 400
    assert "Choose the department." in text(response)
    from forum.models import ConsultationRound

    assert count(db, ConsultationRound) == 0


def test_forged_question_ids_are_refused(app, make, people, db):
    official, chair, _member, org = people
    first = make_round(app, make, official, "open")
    second = make_round(app, make, official, "open")
    with app.test_request_context(), pytest.raises(Invalid):
        service.save_response(chair, first.id, org.id, {second.questions[0].id: "fel runda"})


def test_invited_rounds_accept_only_invited_organisations(app, make, people, db):
    official, chair, _member, org = people
    outsider_admin = make.user()
    outsider = make.organisation(admin=outsider_admin)
    round_ = make_round(app, make, official, "open", audience="invited", invited_ids=[org.id])
    with app.test_request_context(), pytest.raises(Forbidden):
        respond(app, outsider_admin, round_, outsider)
    db.session.rollback()
    respond(app, chair, round_, org)


def test_feedback_before_closing_is_refused(client, auth, app, make, people, db):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    items = {round_.questions[0].id: service.FeedbackInput(heard="tidigt")}
    with app.test_request_context(), pytest.raises(Conflict):
        service.save_feedback(official, round_.id, items, publish=True)
    db.session.rollback()
    auth.login(official)
    response = client.post(
        f"/consultations/{round_.id}/feedback",
        data={f"heard-{round_.questions[0].id}": "tidigt", "action": "publish"},
    )
    assert response.status_code == 409
    assert count(db, Notification, Notification.kind == "consultation_feedback") == 0


def test_feedback_cannot_link_to_another_rounds_response(app, make, people, db):
    official, chair, _member, org = people
    first = make_round(app, make, official, "open")
    second = make_round(app, make, official, "open")
    foreign = respond(app, chair, second, org)
    respond(app, chair, first, org)
    with app.test_request_context():
        service.close_round(official, first.id)
    items = {first.questions[0].id: service.FeedbackInput(heard="x", source_ids=[foreign.id])}
    with app.test_request_context(), pytest.raises(Invalid):
        service.save_feedback(official, first.id, items)


def test_only_a_draft_can_be_edited_and_opened_once(app, make, people, db):
    official, *_ = people
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        with pytest.raises(Conflict):
            service.update_round(official, round_.id, round_input(make))
        with pytest.raises(Conflict):
            service.open_round(official, round_.id)


def test_draft_thread_is_hidden_from_forum_listing_until_opened(
    client, auth, app, make, people, db
):
    official, chair, *_ = people
    round_ = make_round(app, make, official, "draft", title="Hemlig runda")
    assert "Hemlig runda" not in text(client.get("/forums/tidigt-samrad"))
    # a visitor gets a 404, as for a thread that does not exist (no login page telling it does)
    assert client.get(f"/threads/{round_.thread_id}").status_code == 404
    auth.login(chair)
    assert client.get(f"/threads/{round_.thread_id}").status_code == 404
    assert client.get(f"/consultations/{round_.id}").status_code == 404
    with app.test_request_context():
        service.open_round(official, round_.id)
    assert "Hemlig runda" in text(client.get("/forums/tidigt-samrad"))
    assert client.get(f"/threads/{round_.thread_id}").status_code == 200
    assert db.session.get(Thread, round_.thread_id).commitments


# --- reminders ---------------------------------------------------------------


def reminded(db) -> list[tuple[int, int]]:
    """(round, organisation) for every organisation reminded of a round."""
    rows = db.session.execute(
        select(RoundNotice.round_id, RoundNotice.scope).where(
            RoundNotice.kind == RoundNotice.REMINDED
        )
    )
    return sorted(tuple(row) for row in rows)


def test_remind_once_per_organisation_and_round(app, make, people, db, socket_for):
    official, chair, member, org = people
    quiet_admin = make.user()
    quiet = make.organisation(admin=quiet_admin)
    round_ = make_round(app, make, official, "open", closes_at=local(timedelta(days=2)))
    later = make_round(app, make, official, "open", closes_at=local(timedelta(days=20)))
    respond(app, chair, round_, org)
    watcher = socket_for(None)
    watcher.emit("join", {"thread_id": round_.thread_id}, callback=True)
    watcher.get_received()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["consultations", "remind", "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "Reminded 1 organisation(s)." in result.output
    assert reminded(db) == [(round_.id, quiet.id)]
    assert count(db, Notification, Notification.kind == "consultation_reminder") == 1
    assert (
        count(db, Notification, Notification.user_id == quiet_admin.id) == 3
    )  # 2 opened, 1 reminder
    events = [e for e in watcher.get_received() if e["name"] == "consultation:updated"]
    assert events and events[0]["args"][0]["event"] == "reminder"
    # again: nobody is reminded twice
    result = runner.invoke(args=["consultations", "remind", "--days", "3"])
    assert "Reminded 0 organisation(s)." in result.output
    assert reminded(db) == [(round_.id, quiet.id)]
    # the round closing in 20 days was outside the 3-day window, not skipped for another
    # reason: a 21-day window reminds both organisations of it (neither has responded)
    result = runner.invoke(args=["consultations", "remind", "--days", "21"])
    assert "Reminded 2 organisation(s)." in result.output
    assert reminded(db) == sorted([(round_.id, quiet.id), (later.id, org.id), (later.id, quiet.id)])


def test_remind_command_refuses_negative_days(app):
    result = app.test_cli_runner().invoke(args=["consultations", "remind", "--days", "-1"])
    assert result.exit_code != 0


# --- exports -----------------------------------------------------------------


@pytest.fixture
def closed_round(app, make, people):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        service.save_response(
            chair,
            round_.id,
            org.id,
            {
                round_.questions[0].id: '=HYPERLINK("http://evil")',
                round_.questions[1].id: "Åsa, Äta, Öl",
            },
            submit=True,
        )
        service.close_round(official, round_.id)
    return round_


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_spreadsheet_safe_neutralises_formulas(start):
    from forum.web.exports import spreadsheet_safe

    assert spreadsheet_safe(f"{start}SUM(A1)") == f"'{start}SUM(A1)"
    assert spreadsheet_safe("Vanlig text") == "Vanlig text"


def test_csv_export(client, closed_round, people, app, db):
    _official, _chair, _member, org = people
    response = client.get(f"/consultations/{closed_round.id}/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    raw = response.data
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][2] == "Organisation"
    assert len(rows) == 1 + len(closed_round.questions)
    assert rows[1][2] == "Föreningen Gemenskap" and rows[1][6] == '\'=HYPERLINK("http://evil")'
    assert rows[2][6] == "Åsa, Äta, Öl"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_compilation_page(client, closed_round):
    page = client.get(f"/consultations/{closed_round.id}/compilation")
    assert page.status_code == 200
    assert "Föreningen Gemenskap" in text(page) and "Åsa, Äta, Öl" in text(page)


def test_exports_of_an_open_round_are_for_officials_only(client, auth, app, make, people):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    for url in (
        f"/consultations/{round_.id}/export.csv",
        f"/consultations/{round_.id}/compilation",
    ):
        assert client.get(url).status_code == 404
        auth.login(chair)
        assert client.get(url).status_code == 404
        auth.login(official)
        assert client.get(url).status_code == 200
        auth.logout()


# --- query counts ------------------------------------------------------------


def _published_round(app, make, official, n_orgs):
    admins = [make.user() for _ in range(n_orgs)]
    orgs = [make.organisation(admin=admin) for admin in admins]
    round_ = make_round(app, make, official, "open")
    responses = []
    for admin, org in zip(admins, orgs, strict=True):
        responses.append(respond(app, admin, round_, org))
        respond(app, admin, round_, org, text="Reviderat")
    with app.test_request_context():
        service.close_round(official, round_.id)
        items = {
            q.id: service.FeedbackInput(
                heard="hört", action="gör", source_ids=[r.id for r in responses]
            )
            for q in round_.questions
        }
        service.save_feedback(official, round_.id, items, publish=True)
    return round_, responses


@pytest.mark.parametrize("who", ["visitor", "official", "org_admin"])
@pytest.mark.parametrize("page", ["round", "list", "organisation", "compilation"])
def test_page_queries_do_not_grow_with_responses(
    app, make, client, auth, count_queries, db, who, page
):
    counts = []
    official = make.user("official")
    for n in (2, 9):
        round_, responses = _published_round(app, make, official, n)
        org_admin = make.user()
        make.organisation(admin=org_admin)
        login = {"visitor": None, "official": official, "org_admin": org_admin}[who]
        if login is None:
            auth.logout()
        else:
            auth.login(login)
        org_slug = db.session.get(ConsultationResponse, responses[0].id).organisation.slug
        url = {
            "round": f"/consultations/{round_.id}",
            "list": "/consultations",
            "organisation": f"/organisations/{org_slug}",
            "compilation": f"/consultations/{round_.id}/compilation",
        }[page]
        client.get(url)
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_socket_join_of_a_draft_rounds_thread(app, make, people, socket_for):
    official, chair, *_ = people
    round_ = make_round(app, make, official, "draft")
    assert socket_for(official).emit("join", {"thread_id": round_.thread_id}, callback=True)["ok"]
    ack = socket_for(chair).emit("join", {"thread_id": round_.thread_id}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"


# --- a form that expired keeps what was typed -----------------------------------


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_an_answer_sent_from_an_expired_form_is_shown_again_not_lost(client, app, make, people, db):
    """Logged out and in again in another tab: the old tab's token no longer holds."""
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    form_login(client, chair)
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    [old_token] = csrf_tokens(text(client.get(url)))
    home = text(client.get("/"))
    client.post("/logout", data={"csrf_token": sorted(csrf_tokens(home))[0]})
    form_login(client, chair)
    answer = f"answer-{round_.questions[0].id}"
    typed = "Ett långt svar som tog en timme att skriva"
    for token in (old_token, "forged", None):
        data = {"action": "save", answer: typed} | ({"csrf_token": token} if token else {})
        again = client.post(url, data=data)
        assert again.status_code == 400
        page = text(again)
        assert typed in page and "What you wrote is kept below" in page
        assert count(db, ConsultationResponse) == 0  # nothing done without a valid token
    [fresh] = csrf_tokens(page) - {old_token}
    sent = client.post(url, data={"action": "save", answer: typed, "csrf_token": fresh})
    assert sent.status_code == 302
    assert count(db, ConsultationResponse) == 1


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_an_expired_change_or_feedback_form_keeps_the_text(client, auth, app, make, people, db):
    from forum.models import ConsultationFeedback, RoundRevision

    official, *_ = people
    open_round = make_round(app, make, official, "open")
    closed_round = make_round(app, make, official, "closed")
    auth.login(official)
    changed = client.post(
        f"/consultations/{open_round.id}/change",
        data={
            "csrf_token": "expired",
            "change": "text",
            "part": "background",
            "text": "Den rättade bakgrunden",
            "reason": "Ett stavfel",
        },
    )
    assert changed.status_code == 400
    page = text(changed)
    assert "Den rättade bakgrunden" in page and "Ett stavfel" in page
    assert '<option value="background" selected>' in page
    assert "What you wrote is kept below" in page
    assert count(db, RoundRevision) == 0
    question = closed_round.questions[0].id
    written = client.post(
        f"/consultations/{closed_round.id}/feedback",
        data={"csrf_token": "expired", f"heard-{question}": "Vi hörde mycket", "action": "save"},
    )
    assert written.status_code == 400
    assert "Vi hörde mycket" in text(written)
    assert count(db, ConsultationFeedback) == 0
