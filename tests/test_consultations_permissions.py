"""Who may do what with consultation rounds: every role, every action, over HTTP and socket.

The rules live in forum/policy.py (can_*_round, can_*_response); this table is their
specification for rounds.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from consultation_support import english, local, make_round, respond
from sqlalchemy import func, select

from forum.models import ConsultationResponse, ConsultationRound, ResponseVersion

ROLES = [
    "visitor",
    "member",  # member of an organisation that is not verified
    "audience_member",  # member of a verified organisation in the audience
    "org_admin",  # admin of that organisation
    "official",  # official of the round's department
    "other_official",  # official of another department
    "admin",
]
MANAGERS = {"official", "admin"}
VIEW_DRAFT = MANAGERS
DRAFT_RESPONSE = {"audience_member", "org_admin"}
SUBMIT_RESPONSE = {"org_admin"}
CREATE = {"official", "other_official", "admin"}


@pytest.fixture
def world(app, make, client):
    english(client)
    official = make.user("official", department="Kulturnämnden")
    people = {
        "member": make.user(),
        "audience_member": make.user(),
        "org_admin": make.user(),
        "official": official,
        "other_official": make.user("official", department="Idrotts- och föreningsnämnden"),
        "admin": make.user("admin"),
    }
    unverified = make.organisation(admin=people["member"], verified=False)
    invited = make.organisation(admin=people["org_admin"], members=[people["audience_member"]])
    make.organisation(admin=make.user())  # verified, but not invited
    # each its own title: the same draft sent again within minutes is made once
    asked = {"audience": "invited", "invited_ids": [invited.id]}
    rounds = {
        state: make_round(app, make, official, state, title=f"Runda: {state}", **asked)
        for state in ("draft", "open", "closed")
    }
    # the closed round has a response, so there is something to give feedback on
    reopened = make_round(app, make, official, "open", title="Runda med svar", **asked)
    respond(app, people["org_admin"], reopened, invited)
    from forum.extensions import db
    from forum.services import consultations as service

    with app.test_request_context():
        service.close_round(official, reopened.id)
    rounds["closed"] = db.session.get(ConsultationRound, reopened.id)
    return people, rounds, {"invited": invited, "unverified": unverified}


def login_as(auth, people, role):
    if role == "visitor":
        auth.logout()
    else:
        auth.login(people[role])


def refused(response, role, hidden=False):
    """A visitor is sent to log in; others get 403, or 404 where the thing is hidden."""
    if role == "visitor":
        return response.status_code in (302, 404) and (
            response.status_code == 404 or "/login" in response.headers["Location"]
        )
    return response.status_code == (404 if hidden else 403)


@pytest.mark.parametrize("role", ROLES)
def test_view_round_pages(world, client, auth, role):
    people, rounds, _orgs = world
    login_as(auth, people, role)
    for state, round_ in rounds.items():
        response = client.get(f"/consultations/{round_.id}")
        allowed = state != "draft" or role in VIEW_DRAFT
        assert response.status_code == (200 if allowed else 404), state
        listing = client.get("/consultations").get_data(as_text=True)
        assert (f'href="/consultations/{round_.id}"' in listing) is allowed, state


@pytest.mark.parametrize("role", ROLES)
def test_join_the_discussion_thread_over_socket(world, socket_for, role):
    people, rounds, _orgs = world
    sock = socket_for(people.get(role))
    for state, round_ in rounds.items():
        ack = sock.emit("join", {"thread_id": round_.thread_id}, callback=True)
        allowed = state != "draft" or role in VIEW_DRAFT
        assert ack["ok"] is allowed, (state, ack)
        if not allowed:  # a draft's thread: not_found for everyone, visitors too (issue 11)
            assert ack["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ROLES)
def test_post_in_a_draft_rounds_thread_over_socket(world, socket_for, role):
    people, rounds, _orgs = world
    ack = socket_for(people.get(role)).emit(
        "message:send",
        {"thread_id": rounds["draft"].thread_id, "body": "hej", "client_id": f"c-{role}"},
        callback=True,
    )
    assert ack["ok"] is False  # the draft's thread is closed until the round opens


@pytest.mark.parametrize("role", ROLES)
def test_create_a_round(world, client, auth, make, db, role):
    people, *_ = world
    login_as(auth, people, role)
    before = db.session.scalar(select(func.count()).select_from(ConsultationRound))
    response = client.post(
        "/consultations/new",
        data={
            "title": f"Runda av {role}",
            "problem": "Ett problem",
            "stage": "problem",
            "audience": "all_verified",
            "commitments": [str(make.commitment_ids(1)[0])],
            "opens_at": local(timedelta(hours=-1)),
            "closes_at": local(timedelta(days=3)),
            "question-1": "Fråga?",
            "department_id": str(people["official"].department_id),
        },
    )
    after = db.session.scalar(select(func.count()).select_from(ConsultationRound))
    if role in CREATE:
        assert response.status_code == 302, response.get_data(as_text=True)
        assert after == before + 1
        created = db.session.scalar(select(ConsultationRound).order_by(ConsultationRound.id.desc()))
        own = people[role].department_id
        # officials always write for their own department; admins choose
        assert created.department_id == (
            own if role != "admin" else people["official"].department_id
        )
    else:
        assert refused(response, role)
        assert after == before


@pytest.mark.parametrize("role", ROLES)
def test_edit_and_open_a_draft(world, client, auth, role):
    people, rounds, _orgs = world
    login_as(auth, people, role)
    draft = rounds["draft"]
    edit = client.get(f"/consultations/{draft.id}/edit")
    opened = client.post(f"/consultations/{draft.id}/open")
    if role in MANAGERS:
        assert edit.status_code == 200
        assert opened.status_code == 302
    else:
        assert refused(edit, role, hidden=True)
        assert refused(opened, role, hidden=True)


@pytest.mark.parametrize("role", ROLES)
def test_close_an_open_round(world, client, auth, role):
    people, rounds, _orgs = world
    login_as(auth, people, role)
    response = client.post(f"/consultations/{rounds['open'].id}/close")
    if role in MANAGERS:
        assert response.status_code == 302
    else:
        assert refused(response, role)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["save", "submit"])
def test_respond_for_the_invited_organisation(world, client, auth, db, role, action):
    people, rounds, orgs = world
    login_as(auth, people, role)
    round_ = rounds["open"]
    question = round_.questions[0].id
    response = client.post(
        f"/consultations/{round_.id}/response",
        data={
            "organisation_id": orgs["invited"].id,
            f"answer-{question}": f"{role} svarar",
            "action": action,
        },
    )
    allowed = role in (SUBMIT_RESPONSE if action == "submit" else DRAFT_RESPONSE)
    if action == "submit":  # submitting is confirmed on a page of its own, for admins only
        url = f"/consultations/{round_.id}/response/submit?organisation={orgs['invited'].id}"
        asked = client.get(url)
        if allowed:
            fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', asked.text)
            done = client.post(url, data={"fingerprint": fingerprint[1] if fingerprint else ""})
            assert done.status_code == 302
        else:
            assert refused(asked, role)
            assert refused(client.post(url, data={"fingerprint": "x"}), role)
    stored = db.session.scalar(
        select(ConsultationResponse).where(ConsultationResponse.round_id == round_.id)
    )
    if allowed:
        assert response.status_code == 302
        assert stored is not None
        assert (stored.version_count == 1) is (action == "submit")
    elif action == "submit" and role in DRAFT_RESPONSE:
        # a member who may draft but not submit: refused, and what they typed is the draft
        assert response.status_code == 403
        assert stored is not None and stored.version_count == 0
    else:
        assert refused(response, role)
        assert stored is None


@pytest.mark.parametrize("role", ROLES)
def test_respond_for_an_unverified_organisation(world, client, auth, db, role):
    people, rounds, orgs = world
    login_as(auth, people, role)
    round_ = rounds["open"]
    response = client.post(
        f"/consultations/{round_.id}/response",
        data={
            "organisation_id": orgs["unverified"].id,
            f"answer-{round_.questions[0].id}": "x",
            "action": "submit",
        },
    )
    assert refused(response, role)
    assert db.session.scalar(select(func.count()).select_from(ConsultationResponse)) == 1


@pytest.mark.parametrize("role", ROLES)
def test_nobody_edits_another_organisations_response(world, client, auth, make, db, role):
    """The response of the invited organisation, written by its admin, is changed by no one else."""
    people, rounds, orgs = world
    round_ = rounds["open"]
    from flask import current_app

    respond(current_app, people["org_admin"], round_, orgs["invited"], text="Vårt svar")
    login_as(auth, people, role)
    if role in DRAFT_RESPONSE:
        return  # members of the organisation itself may
    response = client.post(
        f"/consultations/{round_.id}/response",
        data={
            "organisation_id": orgs["invited"].id,
            f"answer-{round_.questions[0].id}": "kapat",
            "action": "save",
        },
    )
    assert refused(response, role)
    db.session.expire_all()
    versions = db.session.scalars(select(ResponseVersion)).all()
    assert all("kapat" not in a.body for v in versions for a in v.answers)


@pytest.mark.parametrize("role", ROLES)
def test_write_and_publish_feedback(world, client, auth, role):
    people, rounds, _orgs = world
    login_as(auth, people, role)
    round_ = rounds["closed"]
    page = client.get(f"/consultations/{round_.id}/feedback")
    response = client.post(
        f"/consultations/{round_.id}/feedback",
        data={f"heard-{round_.questions[0].id}": "hört", "action": "publish"},
    )
    if role in MANAGERS:
        assert page.status_code == 200
        assert response.status_code == 302
    else:
        assert refused(page, role)
        assert refused(response, role)


@pytest.mark.parametrize("role", ROLES)
def test_exports(world, client, auth, role):
    people, rounds, _orgs = world
    login_as(auth, people, role)
    for state, round_ in rounds.items():
        for url in (
            f"/consultations/{round_.id}/export.csv",
            f"/consultations/{round_.id}/compilation",
        ):
            response = client.get(url)
            if state == "closed":
                allowed = True
            else:
                allowed = role in MANAGERS
            assert response.status_code == (200 if allowed else 404), (state, url)


@pytest.mark.parametrize("role", ROLES)
def test_see_the_officials_overview(world, client, auth, role):
    people, rounds, _orgs = world
    login_as(auth, people, role)
    page = client.get(f"/consultations/{rounds['open'].id}").get_data(as_text=True)
    assert ("Who has responded" in page) is (role in MANAGERS)
