"""The API's answers to input a review found mishandled: a lone surrogate in an answer, an
answer over the service's length limit, a fractional question id, HEAD requests and the
bearer scheme written in lower case."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from test_api import answering, assert_error, token_for

from forum.config import parse_rate_limit
from forum.extensions import db
from forum.models import ConsultationAnswer, ConsultationResponse
from forum.services.consultations import MAX_ANSWER

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def post_json(client, url: str, raw: str, body: str):
    """`body` sent as written (json.dumps escapes a lone surrogate as `\\ud800`, as a
    client would)."""
    return client.post(
        url,
        data=body,
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
    )


def assert_invalid(response, field: str) -> None:
    assert_error(response, 422, "invalid", field)


def responses_stored() -> int:
    return db.session.scalar(select(func.count()).select_from(ConsultationResponse))


# --- answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["a\ud800b", "\udfff", "ok \udc80 ok"])
def test_a_lone_surrogate_in_an_answer_is_a_422_naming_the_field(app, make, client, text):
    """It passed the schema (which refused only NUL) and the request was a 500."""
    round_, raw, url = answering(app, make)
    questions = [q.id for q in round_.questions]
    body = json.dumps(
        {
            "answers": [{"question_id": questions[0], "text": "fine"}]
            + [{"question_id": questions[1], "text": text}]
        }
    )
    assert "\\ud" in body  # the surrogate travels as JSON's escape
    assert_invalid(post_json(client, url, raw, body), "answers.1.text")
    assert responses_stored() == 0


def test_an_answer_is_refused_at_the_length_the_document_gives(app, make, client):
    """The document said 20,000 characters, the service took 8,000 and answered a longer
    one with a 400 naming a web form's field (`answer-<id>`)."""
    round_, raw, url = answering(app, make)
    spec = client.get("/api/v1/openapi.json").get_json()
    text_schema = spec["components"]["schemas"]["AnswerInput"]["properties"]["text"]
    assert text_schema["maxLength"] == MAX_ANSWER
    question = round_.questions[0].id

    too_long = {"answers": [{"question_id": question, "text": "x" * (MAX_ANSWER + 1)}]}
    assert_invalid(post_json(client, url, raw, json.dumps(too_long)), "answers.0.text")
    assert responses_stored() == 0

    longest = {"answers": [{"question_id": question, "text": "x" * MAX_ANSWER}]}
    saved = post_json(client, url, raw, json.dumps(longest))
    assert saved.status_code == 200, saved.get_data(as_text=True)
    stored = db.session.scalar(
        select(ConsultationAnswer.body).where(ConsultationAnswer.question_id == question)
    )
    assert stored == "x" * MAX_ANSWER


@pytest.mark.parametrize("question_id", ["{q}.9", '"{q}"'])
def test_a_question_id_that_is_not_a_json_integer_is_refused(app, make, client, question_id):
    """A question id of 7.9 was read as 7 (truncated), and the answer saved under question
    7, which the client may never have meant; a string of digits was read as its number."""
    round_, raw, url = answering(app, make)
    first = round_.questions[0].id
    written = question_id.format(q=first)
    body = '{"answers": [{"question_id": ' + written + ', "text": "Svar"}]}'
    assert_invalid(post_json(client, url, raw, body), "answers.0.question_id")
    assert responses_stored() == 0
    assert db.session.scalar(select(func.count()).select_from(ConsultationAnswer)) == 0


def test_query_string_numbers_are_still_read_from_their_text(make, client):
    """Only JSON bodies are strict: a query string has nothing but text."""
    for _n in range(2):
        make.forum()
    page = client.get("/api/v1/forums?limit=1")
    assert page.status_code == 200 and len(page.get_json()["items"]) == 1
    assert client.get("/api/v1/indicators?year=2024").status_code == 200


# --- HEAD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/forums", "/api/v1/commitments"])
def test_head_has_the_etag_of_get_and_answers_if_none_match_with_304(make, client, path):
    """HEAD got no ETag and never a 304: a client checking for changes with HEAD had to
    fetch the whole list."""
    make.forum()
    got = client.get(path)
    etag = got.headers["ETag"]
    head = client.head(path)
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["ETag"] == etag
    unchanged = client.head(path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == etag
    changed = client.head(path, headers={"If-None-Match": '"something else"'})
    assert changed.status_code == 200


# --- the bearer scheme --------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(app, make, client, scheme):
    """RFC 7235: the scheme is matched without regard to case; `bearer` was a 401."""
    reader = make.user()
    forum = make.forum(visibility="invite", members=[reader])
    raw = token_for(app, reader)
    listed = client.get("/api/v1/forums", headers={"Authorization": f"{scheme} {raw}"})
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert forum.slug in [f["slug"] for f in listed.get_json()["items"]]


@pytest.mark.parametrize("header", ["Basic eA==", "Bearerx {raw}", "bearer", "Token {raw}"])
def test_other_schemes_are_still_refused(app, make, client, header):
    raw = token_for(app, make.user())
    response = client.get("/api/v1/forums", headers={"Authorization": header.format(raw=raw)})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "auth_required"
