"""The API's `respond` side, as a review found it: a submit filed a colleague's text that
the client had never read (it sent its own, unchanged from what it had read), and a submit
whose answers a colleague had meanwhile cleared filed a blank response, which the web
refuses ("Answer at least one question")."""

from __future__ import annotations

import pytest
from consultation_support import make_round
from sqlalchemy import func, select

from forum.config import parse_rate_limit
from forum.extensions import db
from forum.models import ResponseVersion
from forum.services import api_tokens
from forum.services import consultations as service

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


@pytest.fixture
def scene(app, make):
    """A round, the organisation's admin with a read+respond token, and a member (Bo) who
    works on the same draft in the browser; the client has saved its answer to question 1."""
    admin, bo = make.user(), make.user()
    org = make.organisation(admin=admin, members=[bo])
    round_ = make_round(app, make, make.user("official"))
    with app.test_request_context():
        _token, raw = api_tokens.create_token(admin, "system", ("read", "respond"), org.id)
    return {
        "app": app,
        "admin": admin,
        "bo": bo,
        "org": org,
        "round": round_,
        "headers": {"Authorization": f"Bearer {raw}"},
        "url": f"/api/v1/consultations/{round_.id}/responses",
        "question": round_.questions[0].id,
    }


def save(client, w, text: str, **extra) -> dict:
    body = {"answers": [{"question_id": w["question"], "text": text, **extra}]}
    answer = client.post(w["url"], json=body, headers=w["headers"])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {a["question_id"]: a["digest"] for a in answer.get_json()["answers"]}


def bo_writes(w, text: str, digest: str) -> None:
    with w["app"].test_request_context():
        service.save_response(
            w["bo"],
            w["round"].id,
            w["org"].id,
            {w["question"]: text},
            loaded={w["question"]: digest},
        )


def versions() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ResponseVersion))


def submit(client, w, text: str, base: str):
    """Submit, with the whole draft's digest as the client reads it now (the answer's own
    `base` is what these tests are about)."""
    draft = client.get(w["url"] + "/own", headers=w["headers"]).get_json()["draft"]
    body = {
        "answers": [{"question_id": w["question"], "text": text, "base": base}],
        "submit": True,
        "draft": draft,
    }
    return client.post(w["url"], json=body, headers=w["headers"])


def test_a_submit_does_not_file_a_colleagues_text_the_client_never_read(client, scene):
    w = scene
    digest = save(client, w, "Vårt svar")[w["question"]]
    bo_writes(w, "Bos helt andra text", digest)
    refused = submit(client, w, "Vårt svar", digest)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "conflict"
    assert "Bos helt andra text" in str(error["conflicts"])  # what to read before filing
    assert versions() == 0
    # having read it (its digest as the base), the client files it
    current = client.get(w["url"] + "/own", headers=w["headers"]).get_json()
    now = {a["question_id"]: a["digest"] for a in current["answers"]}[w["question"]]
    assert submit(client, w, "Bos helt andra text", now).status_code == 200
    assert versions() == 1


def test_a_submit_of_answers_a_colleague_cleared_files_nothing(client, scene):
    w = scene
    digest = save(client, w, "Vårt svar")[w["question"]]
    bo_writes(w, "", digest)
    refused = submit(client, w, "Vårt svar", digest)
    assert refused.status_code in (409, 422)
    assert versions() == 0


def test_an_unchanged_draft_the_client_read_is_filed(client, scene):
    w = scene
    digest = save(client, w, "Vårt svar")[w["question"]]
    assert submit(client, w, "Vårt svar", digest).status_code == 200
    assert versions() == 1


def test_the_tokens_page_says_which_organisation_a_token_acts_for(app, make, client, auth):
    """Someone in two organisations could not tell which token answers for which."""
    person = make.user()
    first = make.organisation(admin=person, name="Läxhjälpen")
    second = make.organisation(admin=person, name="Språkcaféet")
    with app.test_request_context():
        api_tokens.create_token(person, "ärenden", ("read", "respond"), first.id)
        api_tokens.create_token(person, "statistik", ("read",), None)
        api_tokens.create_token(person, "svar", ("respond",), second.id)
    auth.login(person)
    table = client.get("/settings/tokens").get_data(as_text=True).split('id="list-heading"')[1]
    rows = [row.split("</tr>")[0] for row in table.split("<tr>")[2:]]
    acts_for = {
        name: row
        for name in ("ärenden", "statistik", "svar")
        for row in rows
        if f"<td>{name}</td>" in row
    }
    assert "Läxhjälpen" in acts_for["ärenden"] and "Språkcaféet" in acts_for["svar"]
    assert "Läxhjälpen" not in acts_for["statistik"] and "Språkcaféet" not in acts_for["statistik"]


def test_an_answer_with_crlf_line_breaks_is_counted_as_the_form_counts_it(client, scene):
    """A Windows script's CR LF line breaks counted twice: an answer the web form and the
    service take was a 422 from the API. One longer than the limit is still refused."""
    w = scene
    text = ("a" * 98 + "\r\n") * (service.MAX_ANSWER // 99)
    text += "a" * (service.MAX_ANSWER - len(text.replace("\r\n", "\n")))
    assert len(text) > service.MAX_ANSWER == len(text.replace("\r\n", "\n"))
    save(client, w, text)
    too_long = {"answers": [{"question_id": w["question"], "text": text + "b"}]}
    refused = client.post(w["url"], json=too_long, headers=w["headers"])
    assert refused.status_code == 422
    assert refused.get_json()["error"]["field"] == "answers.0.text"
