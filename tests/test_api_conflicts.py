"""An API client and a colleague in the browser writing the same consultation response:
the API saves with the same check as the web form, so nobody's text is overwritten unseen.

The client reads its organisation's working response (each answer with its digest), sends
each digest back as the answer's `base`; an answer someone else changed meanwhile, and this
client changed too, is a 409 that names it and carries the stored text, and nothing of the
request is saved. An answer sent without a base is checked as read empty: it fills an
unanswered question and never overwrites a colleague's text.
"""

from __future__ import annotations

import pytest
from consultation_support import make_round
from sqlalchemy import func, select

from forum.config import parse_rate_limit
from forum.extensions import db
from forum.models import ConsultationResponse, ResponseVersion
from forum.services import api_tokens
from forum.services import consultations as service

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))

EMPTY = service.text_digest("")


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"]
    if field:
        assert body["error"]["field"] == field
    return body["error"]


@pytest.fixture
def setting(app, make):
    """An open round; an organisation whose admin has a `respond` token and whose member
    (Bo) writes in the browser; the URLs of the response and of the token's own one."""
    admin, bo = make.user(name="Olle Ordförande"), make.user(name="Bo Bidrag")
    org = make.organisation(admin=admin, members=[bo], name="Föreningen Gemenskap")
    round_ = make_round(app, make, make.user("official"))
    with app.test_request_context():
        _token, raw = api_tokens.create_token(admin, "test", ("read", "respond"), org.id)
    base = f"/api/v1/consultations/{round_.id}"
    return {
        "round": round_,
        "org": org,
        "bo": bo,
        "admin": admin,
        "token": raw,
        "save": f"{base}/responses",
        "own": f"{base}/responses/own",
        "q": [q.id for q in round_.questions],
    }


def browser_save(app, s, answers: dict[int, str], loaded: dict[int, str | None]) -> None:
    """Bo saves in the web form (the service call its view makes)."""
    with app.test_request_context():
        service.save_response(s["bo"], s["round"].id, s["org"].id, answers, loaded=loaded)


def stored() -> dict[int, str]:
    db.session.expire_all()
    response = db.session.scalar(select(ConsultationResponse))
    return {a.question_id: a.body for a in response.answers} if response else {}


def own(client, s) -> dict:
    got = client.get(s["own"], headers=bearer(s["token"]))
    assert got.status_code == 200, got.get_data(as_text=True)
    return got.get_json()


def digests(body: dict) -> dict[int, str]:
    return {a["question_id"]: a["digest"] for a in body["answers"]}


def test_the_own_response_lists_every_answer_with_its_digest(app, client, setting):
    s = setting
    q1, q2 = s["q"]
    first = own(client, s)
    assert first["id"] is None and first["version_count"] == 0
    assert first["answers"] == [
        {"question_id": q1, "text": "", "digest": EMPTY},
        {"question_id": q2, "text": "", "digest": EMPTY},
    ]
    browser_save(app, s, {q1: "Bos svar"}, {q1: EMPTY})
    second = own(client, s)
    assert second["id"] is not None and second["status"] == "draft"
    assert second["answers"][0] == {
        "question_id": q1,
        "text": "Bos svar",
        "digest": service.text_digest("Bos svar"),
    }
    # the save answers with the new digests too, to send as the next bases
    saved = client.post(
        s["save"],
        json={"answers": [{"question_id": q2, "text": "API", "base": EMPTY}]},
        headers=bearer(s["token"]),
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert digests(saved.get_json()) == {
        q1: service.text_digest("Bos svar"),
        q2: service.text_digest("API"),
    }


def test_an_answer_changed_by_both_is_a_409_and_nothing_is_saved(app, client, setting):
    s = setting
    q1, q2 = s["q"]
    browser_save(app, s, {q1: "Första utkast"}, {q1: EMPTY})
    bases = digests(own(client, s))  # the script reads the response ...
    browser_save(app, s, {q1: "Bos nya text"}, {q1: bases[q1]})  # ... Bo changes answer 1 ...
    sent = {  # ... and the script sends its own change of answer 1, and a new answer 2
        "answers": [
            {"question_id": q1, "text": "Skriptets text", "base": bases[q1]},
            {"question_id": q2, "text": "Svar två", "base": bases[q2]},
        ]
    }
    refused = client.post(s["save"], json=sent, headers=bearer(s["token"]))
    error = assert_error(refused, 409, "conflict")
    assert error["conflicts"] == [
        {
            "question_id": q1,
            "current": "Bos nya text",
            "digest": service.text_digest("Bos nya text"),
        }
    ]
    assert stored() == {q1: "Bos nya text"}  # nothing of the request, answer 2 neither
    # submitting is refused alike: no version is made
    # the answer's conflict is told before the draft's (it names what to merge)
    refused = client.post(
        s["save"], json={**sent, "submit": True, "draft": "0" * 64}, headers=bearer(s["token"])
    )
    assert_error(refused, 409, "conflict")
    assert db.session.scalar(select(func.count()).select_from(ResponseVersion)) == 0
    # merged, on the base the 409 gave: saved
    sent["answers"][0] = {
        "question_id": q1,
        "text": "Bos nya text, och skriptets",
        "base": error["conflicts"][0]["digest"],
    }
    merged = client.post(s["save"], json=sent, headers=bearer(s["token"]))
    assert merged.status_code == 200, merged.get_data(as_text=True)
    assert stored() == {q1: "Bos nya text, och skriptets", q2: "Svar två"}


def test_an_answer_the_client_did_not_change_leaves_the_colleagues_text(app, client, setting):
    """A script that sends back every answer it read, having changed one, does not undo
    what someone typed meanwhile in another."""
    s = setting
    q1, q2 = s["q"]
    browser_save(app, s, {q1: "Ett", q2: "Två"}, {q1: EMPTY, q2: EMPTY})
    body = own(client, s)
    browser_save(app, s, {q2: "Bos ändrade två"}, {q2: digests(body)[q2]})
    answers = [
        {"question_id": a["question_id"], "text": a["text"], "base": a["digest"]}
        for a in body["answers"]
    ]
    answers[0]["text"] = "Ett, ändrat av skriptet"
    saved = client.post(s["save"], json={"answers": answers}, headers=bearer(s["token"]))
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert stored() == {q1: "Ett, ändrat av skriptet", q2: "Bos ändrade två"}


def test_without_a_base_an_answer_is_taken_as_read_empty(app, client, setting):
    """An answer sent without `base` fills a question nobody has answered, and where a
    colleague has written something it is a 409 like any conflict: a client that never read
    the response cannot overwrite Bo's text. Sending his text back unchanged is not a
    conflict, and neither is an empty answer (nothing changed here)."""
    s = setting
    q1, q2 = s["q"]
    browser_save(app, s, {q1: "Bos text"}, {q1: EMPTY})
    fill = {"answers": [{"question_id": q2, "text": "Skriptets två"}]}
    assert client.post(s["save"], json=fill, headers=bearer(s["token"])).status_code == 200
    assert stored() == {q1: "Bos text", q2: "Skriptets två"}

    over = {
        "answers": [
            {"question_id": q1, "text": "Skrivet över"},
            {
                "question_id": q2,
                "text": "Skriptets två, ändrad",
                "base": digests(own(client, s))[q2],
            },
        ]
    }
    error = assert_error(
        client.post(s["save"], json=over, headers=bearer(s["token"])), 409, "conflict"
    )
    assert error["conflicts"] == [
        {"question_id": q1, "current": "Bos text", "digest": service.text_digest("Bos text")}
    ]
    assert stored() == {q1: "Bos text", q2: "Skriptets två"}  # nothing of the request saved

    same = {"answers": [{"question_id": q1, "text": "Bos text"}, {"question_id": q2, "text": ""}]}
    assert client.post(s["save"], json=same, headers=bearer(s["token"])).status_code == 200
    assert stored() == {q1: "Bos text", q2: "Skriptets två"}


@pytest.mark.parametrize(
    "base",
    [123, None, ["a"], {"x": 1}, True, "", "x" * 32, "A" * 32, "0" * 31, "0" * 33, "0" * 64],
)
def test_a_base_that_is_not_a_digest_is_a_422(client, setting, base):
    s = setting
    sent = {"answers": [{"question_id": s["q"][0], "text": "x", "base": base}]}
    response = client.post(s["save"], json=sent, headers=bearer(s["token"]))
    assert_error(response, 422, "invalid", "answers.0.base")
    assert stored() == {}


def test_other_bad_input_is_a_4xx_json_never_a_500(client, setting):
    s = setting
    headers = bearer(s["token"])
    unknown = {"answers": [{"question_id": 999_999, "text": "x", "base": EMPTY}]}
    assert_error(client.post(s["save"], json=unknown, headers=headers), 400, "invalid", "answers")
    for answers in (
        [{"question_id": "ett", "text": "x", "base": EMPTY}],
        [{"question_id": s["q"][0], "text": 5, "base": EMPTY}],
        [{"question_id": s["q"][0], "base": EMPTY}],
        "inte en lista",
        [["a"]],
    ):
        response = client.post(s["save"], json={"answers": answers}, headers=headers)
        assert_error(response, 422, "invalid")
    assert stored() == {}


def test_the_own_response_needs_a_respond_token_for_an_asked_organisation(
    app, make, client, setting
):
    s = setting
    assert_error(client.get(s["own"]), 401, "auth_required")
    with app.test_request_context():
        _t, read_only = api_tokens.create_token(s["admin"], "r", ("read",), None)
    assert_error(client.get(s["own"], headers=bearer(read_only)), 403, "forbidden")
    assert_error(
        client.get("/api/v1/consultations/999999/responses/own", headers=bearer(s["token"])),
        404,
        "not_found",
    )
    # a round only invited organisations answer: this one is not asked
    invited = make.organisation(admin=make.user())
    closed_to_us = make_round(
        app, make, make.user("official"), audience="invited", invited_ids=[invited.id]
    )
    response = client.get(
        f"/api/v1/consultations/{closed_to_us.id}/responses/own", headers=bearer(s["token"])
    )
    assert response.status_code in (403, 404)
    assert response.get_json()["error"]["code"] in ("forbidden", "not_found")


def test_the_reference_documents_bases_and_the_409(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "base" in schemas["AnswerInput"]["properties"]
    assert "base" not in schemas["AnswerInput"].get("required", [])
    described = schemas["AnswerInput"]["properties"]["base"]["description"]
    assert "without" in described.lower()
    post = spec["paths"]["/api/v1/consultations/{round_id}/responses"]["post"]
    assert "409" in post["responses"]
    assert "/api/v1/consultations/{round_id}/responses/own" in spec["paths"]
    page = client.get("/api/v1/reference/").get_data(as_text=True)
    assert "/api/v1/consultations/{round_id}/responses/own" in page
