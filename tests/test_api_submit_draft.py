"""Submitting through the API files the whole draft, so it needs the draft's digest as the
client read it: a submit checked only the answers it sent, and filed a colleague's answer to
another question, or a document a colleague attached, that the script had never read. The
web form's confirmation has always checked the whole draft (answers and documents)."""

from __future__ import annotations

import pytest
from test_api_review_fixes2 import bo_writes, save, scene, versions  # noqa: F401

from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import ResponseVersion
from forum.queries.consultations import own_response
from forum.services import consultations as service
from forum.services import documents


def own(client, w) -> dict:
    answer = client.get(w["url"] + "/own", headers=w["headers"])
    assert answer.status_code == 200
    return answer.get_json()


def file(client, w, answers: list[dict], draft: object):
    body = {"answers": answers, "submit": True, "draft": draft}
    return client.post(w["url"], json=body, headers=w["headers"])


def second_question(w) -> int:
    return w["round"].questions[1].id


def test_a_colleagues_answer_to_a_question_not_sent_is_not_filed_unseen(client, scene):  # noqa: F811
    w = scene
    digests = save(client, w, "Vårt svar")
    read = own(client, w)
    assert read["draft"] == service.draft_fingerprint({w["question"]: "Vårt svar"})
    with w["app"].test_request_context():  # Bo answers question 2 in the browser
        service.save_response(
            w["bo"], w["round"].id, w["org"].id, {second_question(w): "Bos svar"}, loaded={}
        )
    sent = [{"question_id": w["question"], "text": "Vårt svar", "base": digests[w["question"]]}]
    refused = file(client, w, sent, read["draft"])
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "draft_changed"
    assert versions() == 0
    # read again: Bo's answer is seen, and the draft is filed with it
    again = own(client, w)
    assert "Bos svar" in [a["text"] for a in again["answers"]]
    filed = file(client, w, sent, again["draft"])
    assert filed.status_code == 200, filed.get_data(as_text=True)
    assert filed.get_json()["status"] == "submitted"
    version = db.session.query(ResponseVersion).one()
    assert {a.question_id: a.body for a in version.answers if a.body} == {
        w["question"]: "Vårt svar",
        second_question(w): "Bos svar",
    }


def test_a_document_a_colleague_attached_since_is_not_filed_unseen(client, scene):  # noqa: F811
    w = scene
    digests = save(client, w, "Vårt svar")
    read = own(client, w)
    with w["app"].test_request_context():
        documents.add_response_document(
            w["bo"], w["round"].id, w["org"].id, "Bilaga.pdf", simple_pdf(["Bos bilaga"])
        )
    sent = [{"question_id": w["question"], "text": "Vårt svar", "base": digests[w["question"]]}]
    refused = file(client, w, sent, read["draft"])
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "draft_changed"
    assert versions() == 0
    assert own(client, w)["draft"] != read["draft"]  # the document is part of the draft


def test_the_last_saves_draft_is_the_one_to_submit(client, scene):  # noqa: F811
    w = scene
    body = {"answers": [{"question_id": w["question"], "text": "Vårt svar"}]}
    saved = client.post(w["url"], json=body, headers=w["headers"]).get_json()
    assert saved["draft"] == own(client, w)["draft"]
    base = saved["answers"][0]["digest"]
    sent = [{"question_id": w["question"], "text": "Vårt svar", "base": base}]
    assert file(client, w, sent, saved["draft"]).status_code == 200
    assert versions() == 1


def test_a_first_submit_in_one_request_needs_the_empty_drafts_digest(client, scene):  # noqa: F811
    w = scene
    empty = own(client, w)
    assert empty["id"] is None and empty["draft"] == service.draft_fingerprint({})
    sent = [{"question_id": w["question"], "text": "Allt på en gång"}]
    assert file(client, w, sent, empty["draft"]).status_code == 200
    assert versions() == 1


@pytest.mark.parametrize(
    "draft", [None, "", "x", "0" * 63, "0" * 65, "A" * 64, 64, ["0" * 64], "0" * 5000]
)
def test_a_submit_without_a_draft_digest_or_a_malformed_one_is_refused(
    client,
    scene,  # noqa: F811
    draft,
):
    w = scene
    body = {"answers": [{"question_id": w["question"], "text": "Svar"}], "submit": True}
    if draft is not None:
        body["draft"] = draft
    refused = client.post(w["url"], json=body, headers=w["headers"])
    assert refused.status_code == 422, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "invalid" and error["field"] == "draft"
    assert versions() == 0
    # a save without submit needs none
    del body["submit"]
    body.pop("draft", None)
    assert client.post(w["url"], json=body, headers=w["headers"]).status_code == 200


def test_a_draft_with_answers_saved_earlier_is_filed_though_the_answer_sent_is_blank(
    client,
    scene,  # noqa: F811
):
    """ "Answer at least one question" looked only at the answers sent: a script sending a
    blank answer to question 2 could not file a draft whose question 1 was answered."""
    w = scene
    save(client, w, "Vårt svar")
    read = own(client, w)
    sent = [{"question_id": second_question(w), "text": ""}]
    assert file(client, w, sent, read["draft"]).status_code == 200
    # and a draft left with no answer at all is still refused
    w2 = read["answers"][0]
    blank = [{"question_id": w2["question_id"], "text": "", "base": w2["digest"]}]
    refused = file(client, w, blank, own(client, w)["draft"])
    assert refused.status_code == 400
    assert refused.get_json()["error"]["field"] == "answers"


def test_the_openapi_document_describes_the_draft(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "draft" in schemas["OwnResponse"]["required"]
    assert "draft" in schemas["ResponseSaved"]["required"]
    assert "draft_changed" in str(spec["paths"])
    assert "draft" in schemas["ResponseInput"]["properties"]


def test_a_submit_sent_again_after_its_answer_was_lost_is_answered_as_done(client, scene):  # noqa: F811
    """The draft it carries is the one before its own first submit: that is no colleague's
    change, and the same request again files nothing new (as a double click on the web)."""
    w = scene
    read = own(client, w)  # an empty draft: the answer and the submit go in one request
    sent = [{"question_id": w["question"], "text": "Vårt svar"}]
    first = file(client, w, sent, read["draft"])
    assert first.status_code == 200 and first.get_json()["version_count"] == 1
    again = file(client, w, sent, read["draft"])
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json()["version_count"] == 1
    assert versions() == 1
    # a colleague's change since is still refused
    with w["app"].test_request_context():
        service.save_response(
            w["bo"], w["round"].id, w["org"].id, {second_question(w): "Bos svar"}, loaded={}
        )
    now = own(client, w)
    base = {a["question_id"]: a["digest"] for a in now["answers"]}[w["question"]]
    refused = file(client, w, [{**sent[0], "base": base}], service.stored_fingerprint(None))
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "draft_changed"


def test_a_stale_submit_is_not_told_done_when_a_colleague_filed_another_draft(client, scene):  # noqa: F811
    """The script read the draft; Bo answered question 2 and an admin filed the draft in the
    browser. The script's submit of its unchanged answer equals the version filed, but the
    draft it read is not the one filed: it is refused, not answered as its own submit."""
    w = scene
    digests = save(client, w, "Vårt svar")
    read = own(client, w)
    with w["app"].test_request_context():
        service.save_response(
            w["bo"], w["round"].id, w["org"].id, {second_question(w): "Bos svar"}, loaded={}
        )
        response = own_response(w["round"].id, w["org"].id)
        service.save_response(
            w["admin"],
            w["round"].id,
            w["org"].id,
            {},
            submit=True,
            confirmed=service.stored_fingerprint(response),
        )
    assert versions() == 1
    sent = [{"question_id": w["question"], "text": "Vårt svar", "base": digests[w["question"]]}]
    refused = file(client, w, sent, read["draft"])
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["code"] == "draft_changed"
    assert versions() == 1
    # read again, it is what was filed: submitting it is done, and files nothing new
    done = file(client, w, sent, own(client, w)["draft"])
    assert done.status_code == 200 and done.get_json()["version_count"] == 1
    assert versions() == 1
