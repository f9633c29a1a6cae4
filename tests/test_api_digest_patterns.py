"""An answer's `base` and a submit's `draft` are checked as the OpenAPI document's pattern
says, the whole value (a review's finding): Python's `$` also matches before a final line
break, so a digest with a "\\n" after it passed the check and was answered 409 (or saved),
not the 422 the document promises for a value its JSON Schema pattern refuses."""

from __future__ import annotations

import re

from test_api_conflicts import assert_error, bearer, setting, stored  # noqa: F401

from forum.services import consultations as service

EMPTY = service.text_digest("")


def published_pattern(client, schema: str, field: str) -> str:
    spec = client.get("/api/v1/openapi.json").get_json()
    return spec["components"]["schemas"][schema]["properties"][field]["pattern"]


def test_a_base_with_a_line_break_after_the_digest_is_a_422(client, setting):  # noqa: F811
    s = setting
    pattern = published_pattern(client, "AnswerInput", "base")
    assert pattern == "^[0-9a-f]{32}$"  # the JSON Schema form: `$` is the very end
    assert re.fullmatch(pattern, EMPTY) and not re.fullmatch(pattern, EMPTY + "\n")
    sent = {"answers": [{"question_id": s["q"][0], "text": "Vårt svar", "base": EMPTY + "\n"}]}
    response = client.post(s["save"], json=sent, headers=bearer(s["token"]))
    assert_error(response, 422, "invalid", "answers.0.base")
    assert stored() == {}


def test_a_draft_with_a_line_break_after_the_digest_is_a_422(client, setting):  # noqa: F811
    s = setting
    assert published_pattern(client, "ResponseInput", "draft") == "^[0-9a-f]{64}$"
    saved = client.post(
        s["save"],
        json={"answers": [{"question_id": s["q"][0], "text": "Vårt svar", "base": EMPTY}]},
        headers=bearer(s["token"]),
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    draft = client.get(s["own"], headers=bearer(s["token"])).get_json()["draft"]
    assert re.fullmatch("[0-9a-f]{64}", draft)
    body = {"answers": [{"question_id": s["q"][0], "text": "Vårt svar"}], "submit": True}
    response = client.post(
        s["save"], json={**body, "draft": draft + "\n"}, headers=bearer(s["token"])
    )
    assert_error(response, 422, "invalid", "draft")
    assert client.get(s["own"], headers=bearer(s["token"])).get_json()["status"] == "draft"
