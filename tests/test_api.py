"""The open-data API: public reads, pages, ETags, CORS, tokens, scopes, limits, errors."""

from __future__ import annotations

import hashlib
import re

import pytest
from consultation_support import make_round, respond
from sqlalchemy import func, select

from forum.config import parse_rate_limit
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import ApiToken, ConsultationResponse
from forum.services import api_tokens, documents, moderation
from forum.services import consultations as consultation_service

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def token_for(app, user, scopes=("read",), organisation=None) -> str:
    with app.test_request_context():
        _token, raw = api_tokens.create_token(
            user, "test", scopes, organisation.id if organisation else None
        )
    return raw


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"]
    if field:
        assert body["error"]["field"] == field


def test_openapi_document_is_3_1_and_describes_every_route(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    for path in ("/api/v1/forums", "/api/v1/threads/{thread_id}/messages", "/api/v1/indicators"):
        assert path in spec["paths"]
    assert "token" in spec["components"]["securitySchemes"]
    schemas = spec["components"]["schemas"]
    for holder in ("Round", "PublishedResponse"):
        assert schemas[holder]["properties"]["documents"]["items"] == {
            "$ref": "#/components/schemas/Document"
        }
    assert {"filename", "content_type", "size", "sha256", "created_at", "url"} <= set(
        schemas["Document"]["required"]
    )


def test_the_document_is_written_once_and_whole_for_readers_at_once(app):
    """The document is written on first reading (not when the app is made); readers that
    come at once all wait for the whole of it, and every path of the API is in it."""
    import threading

    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    assert api._spec is None, "made with the app, not on first reading"
    barrier = threading.Barrier(4)
    seen: list[set[str]] = []
    documents: list[dict] = []

    def read() -> None:
        barrier.wait()
        document = api.spec.to_dict()
        documents.append(document)
        seen.append(set(document["paths"]))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=30)
    routes = {
        rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and not rule.rule.startswith(("/api/v1/reference", "/api/v1/openapi"))
    }
    assert len(seen) == 4 and all(paths == routes for paths in seen), (seen, routes)
    # the standard parts too: the error shape every answer refers to, once and for all readers
    assert all(document == documents[0] for document in documents)
    assert documents[0]["components"]["schemas"]["Error"]["properties"]["error"]


def test_reference_page_lists_the_operations(client):
    page = client.get("/api/v1/reference/").get_data(as_text=True)
    assert "/api/v1/consultations/{round_id}/responses" in page and "openapi.json" in page
    explorer = client.get("/api/v1/reference/explorer").get_data(as_text=True)
    assert "assets/swagger-ui-bundle.js" in explorer and "https://" not in explorer
    asset = client.get("/api/v1/reference/assets/swagger-ui-bundle.js")
    asset.close()
    assert asset.status_code == 200


def test_public_reads_with_links_and_utc_times(app, make, client):
    forum = make.forum()
    thread = make.thread(forum=forum)
    make.message(thread, make.user(), "Hej **alla**")
    forums = client.get("/api/v1/forums").get_json()["items"]
    assert [f["slug"] for f in forums] == [forum.slug]
    threads = client.get(forums[0]["threads_url"]).get_json()["items"]
    assert threads[0]["id"] == thread.id
    (message,) = client.get(threads[0]["messages_url"]).get_json()["items"]
    assert message["html"] == "<p>Hej <strong>alla</strong></p>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", message["created_at"])
    commitments = client.get("/api/v1/commitments").get_json()["items"]
    assert len(commitments) == 13
    assert client.get(commitments[0]["url"]).get_json()["slug"] == commitments[0]["slug"]
    assert len(client.get("/api/v1/principles").get_json()["items"]) == 6


def test_messages_page_by_id_with_next_links(app, make, client):
    thread = make.thread()
    author = make.user()
    ids = [make.message(thread, author, f"nr {n}").id for n in range(5)]
    seen, url = [], f"/api/v1/threads/{thread.id}/messages?limit=2"
    while url:
        body = client.get(url).get_json()
        seen += [m["id"] for m in body["items"]]
        url = body["next"]
    assert seen == ids


def test_hidden_messages_are_placeholders(app, make, client):
    thread = make.thread()
    message = make.message(thread, make.user(), "hemligt")
    with app.test_request_context():
        moderation.hide_message(make.user("moderator"), message.id, "other", "Test")
    (item,) = client.get(f"/api/v1/threads/{thread.id}/messages").get_json()["items"]
    assert item["state"] == "hidden" and item["html"] == "" and "hemligt" not in str(item)


def test_invite_only_forums_need_a_token_of_someone_invited(app, make, client):
    invited = make.user()
    forum = make.forum(visibility="invite", members=[invited])
    thread = make.thread(forum=forum, author=invited)
    assert client.get("/api/v1/forums").get_json()["items"] == []
    assert_error(client.get(f"/api/v1/forums/{forum.slug}"), 404, "not_found")
    assert_error(client.get(f"/api/v1/threads/{thread.id}/messages"), 404, "not_found")
    raw = token_for(app, invited)
    assert client.get(f"/api/v1/threads/{thread.id}", headers=bearer(raw)).status_code == 200
    outsider = token_for(app, make.user())
    assert client.get(f"/api/v1/threads/{thread.id}", headers=bearer(outsider)).status_code == 404


def test_a_token_without_the_read_scope_reads_as_a_visitor(app, make, client):
    """A token made only to answer consultations (given to a script) reads nothing private."""
    invited = make.user()
    org = make.organisation(admin=invited)
    forum = make.forum(visibility="invite", members=[invited])
    thread = make.thread(forum=forum, author=invited)
    respond_only = token_for(app, invited, ("respond",), org)
    for path in (f"/api/v1/forums/{forum.slug}", f"/api/v1/threads/{thread.id}/messages"):
        assert_error(client.get(path, headers=bearer(respond_only)), 404, "not_found")
    listed = client.get("/api/v1/forums", headers=bearer(respond_only)).get_json()["items"]
    assert forum.slug not in {item["slug"] for item in listed}
    both = token_for(app, invited, ("read", "respond"), org)
    assert client.get(f"/api/v1/forums/{forum.slug}", headers=bearer(both)).status_code == 200


def test_the_session_cookie_is_not_an_api_credential(app, make, client, auth):
    invited = make.user()
    forum = make.forum(visibility="invite", members=[invited])
    auth.login(invited)
    assert client.get(f"/api/v1/forums/{forum.slug}").status_code == 404


def test_rounds_drafts_and_published_responses(app, make, client):
    official = make.user("official")
    admin = make.user()
    org = make.organisation(admin=admin)
    draft = make_round(app, make, official, state="draft", title="Utkast till runda")
    open_round = make_round(app, make, official)
    respond(app, admin, open_round, org, text="Vårt svar")
    assert_error(client.get(f"/api/v1/consultations/{draft.id}"), 404, "not_found")
    body = client.get(f"/api/v1/consultations/{open_round.id}").get_json()
    assert body["phase"] == "open" and len(body["questions"]) == 2
    assert client.get(body["responses_url"]).get_json()["items"] == []
    with app.test_request_context():
        consultation_service.close_round(official, open_round.id)
    (published,) = client.get(body["responses_url"]).get_json()["items"]
    assert published["organisation"]["id"] == org.id and "Vårt svar" in str(published)
    assert client.get(body["feedback_url"]).get_json()["items"] == []


def _download(client, document: dict) -> bytes:
    response = client.get(document["url"])
    assert response.status_code == 200, document
    assert response.mimetype == document["content_type"]
    return response.data


def test_round_and_response_documents_with_their_downloads(app, make, client):
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin)
    round_ = make_round(app, make, official)
    basis, letter = simple_pdf(["Underlag"]), simple_pdf(["Brev"])
    with app.test_request_context():
        documents.add_round_document(official, round_.id, "Underlag 2027.pdf", basis)
        gone = documents.add_round_document(official, round_.id, "Gammalt.pdf", basis + b" ")
        documents.remove_document(official, gone.id)
        documents.add_response_document(org_admin, round_.id, org.id, "Brev.pdf", letter)
    respond(app, org_admin, round_, org)
    body = client.get(f"/api/v1/consultations/{round_.id}").get_json()
    (doc,) = body["documents"]  # the removed one is not listed, as on the page
    assert doc["filename"] == "Underlag 2027.pdf" and doc["content_type"] == "application/pdf"
    assert doc["size"] == len(basis) and doc["sha256"] == hashlib.sha256(basis).hexdigest()
    assert doc["created_at"].endswith("Z") and doc["url"].startswith("http://localhost/")
    assert _download(client, doc) == basis
    listed = client.get("/api/v1/consultations").get_json()["items"]
    assert [d["id"] for d in listed[0]["documents"]] == [doc["id"]]
    with app.test_request_context():
        consultation_service.close_round(official, round_.id)
    (published,) = client.get(body["responses_url"]).get_json()["items"]
    (attached,) = published["documents"]
    assert attached["filename"] == "Brev.pdf" and _download(client, attached) == letter


def test_documents_of_drafts_and_unpublished_responses_stay_hidden(app, make, client):
    official, submitter, drafter = make.user("official"), make.user(), make.user()
    org = make.organisation(admin=submitter)
    other = make.organisation(admin=drafter)
    draft = make_round(app, make, official, state="draft", title="Utkast till runda")
    round_ = make_round(app, make, official)
    with app.test_request_context():
        secret = documents.add_round_document(official, draft.id, "Utkast.pdf", simple_pdf(["x"]))
        documents.add_response_document(submitter, round_.id, org.id, "Brev.pdf", simple_pdf(["b"]))
    respond(app, submitter, round_, org)
    respond(app, drafter, round_, other, submit=False)  # never submitted
    with app.test_request_context():
        documents.add_response_document(
            drafter, round_.id, other.id, "Osänt.pdf", simple_pdf(["o"])
        )
        documents.add_response_document(  # after the submission: only in the working copy
            submitter, round_.id, org.id, "Senare.pdf", simple_pdf(["s"])
        )
    for url in ("/api/v1/consultations", f"/api/v1/consultations/{round_.id}/responses"):
        text = client.get(url).get_data(as_text=True)
        assert "Utkast.pdf" not in text and "Brev.pdf" not in text  # still open: unpublished
    assert client.get(f"/documents/{secret.id}/Utkast.pdf").status_code == 404
    official_token = bearer(token_for(app, official))
    body = client.get(f"/api/v1/consultations/{draft.id}", headers=official_token).get_json()
    assert [d["filename"] for d in body["documents"]] == ["Utkast.pdf"]  # its official reads it
    with app.test_request_context():
        consultation_service.close_round(official, round_.id)
    responses = client.get(f"/api/v1/consultations/{round_.id}/responses").get_json()["items"]
    assert [[d["filename"] for d in r["documents"]] for r in responses] == [["Brev.pdf"]]


def test_etag_and_if_none_match(client):
    first = client.get("/api/v1/commitments")
    etag = first.headers["ETag"]
    again = client.get("/api/v1/commitments", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""


def test_cors_for_reads(client):
    response = client.get("/api/v1/commitments", headers={"Origin": "https://example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/api/v1/commitments",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
    )
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    ("path", "status", "code", "field"),
    [
        ("/api/v1/forums?limit=0", 422, "invalid", "limit"),
        ("/api/v1/forums?limit=abc", 422, "invalid", "limit"),
        ("/api/v1/forums?after=-1", 422, "invalid", "after"),
        ("/api/v1/indicators?year=1066", 422, "invalid", "year"),
        ("/api/v1/forums/%00bad", 404, "not_found", None),
        ("/api/v1/threads/999999999999999999", 404, "not_found", None),
        ("/api/v1/no-such-thing", 404, "not_found", None),
    ],
)
def test_bad_requests_get_the_error_shape(client, path, status, code, field):
    assert_error(client.get(path), status, code, field)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,  # deeper than json.loads can go: RecursionError
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b'{"answers": 1' + b"0" * 5000 + b"}",  # longer than int's digit limit: ValueError
        b'{"answers": [{"question_id": 1' + b"0" * 5000 + b', "text": "x"}]}',
    ],
)
def test_bodies_json_cannot_read_are_a_400(client, body):
    response = client.post(
        "/api/v1/consultations/1/responses", data=body, content_type="application/json"
    )
    assert_error(response, 400, "invalid")


def test_a_wrong_method_names_the_allowed_ones_and_an_id_out_of_range_is_404(client):
    response = client.put("/api/v1/forums", json={})
    assert_error(response, 405, "invalid")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    # Werkzeug alone says 405 here: the GET rule's pattern matches, its converter refuses
    for method in ("get", "post"):
        response = getattr(client, method)("/api/v1/consultations/2147483648/responses", json={})
        assert_error(response, 404, "not_found")
    response = client.post("/api/v1/consultations/2147483647/responses", json={})
    assert response.status_code in (401, 422)  # the body is read first: the rule took it


def test_bad_tokens_are_refused(app, make, client):
    assert_error(client.get("/api/v1/forums", headers=bearer("dfp_nope")), 401, "auth_required")
    assert_error(
        client.get("/api/v1/forums", headers={"Authorization": "Basic eA=="}), 401, "auth_required"
    )
    user = make.user()
    raw = token_for(app, user)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    with app.test_request_context():
        api_tokens.revoke_token(user, token.id)
    # refused everywhere, also where only public data is read
    for path in ("/api/v1/forums", "/api/v1/organisations", "/api/v1/indicators"):
        assert_error(client.get(path, headers=bearer(raw)), 401, "auth_required")
        assert_error(client.get(path, headers=bearer("dfp_nope")), 401, "auth_required")
        for odd in ("dfp_" + "x" * 5000, "dfp_åäö", "", "dfp_\t"):
            assert_error(client.get(path, headers=bearer(odd)), 401, "auth_required")


def test_the_openapi_document_refuses_a_token_that_is_not_valid(app, make, client):
    """It answered 200 to a made-up or revoked token, where every endpoint says 401: a
    script reading the document first did not learn its token was wrong."""
    assert client.get("/api/v1/openapi.json").status_code == 200
    user = make.user()
    raw = token_for(app, user)
    assert client.get("/api/v1/openapi.json", headers=bearer(raw)).status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    with app.test_request_context():
        api_tokens.revoke_token(user, token.id)
    for odd in (raw, "dfp_nope", "dfp_" + "x" * 5000, "dfp_åäö"):
        assert_error(client.get("/api/v1/openapi.json", headers=bearer(odd)), 401, "auth_required")
    assert_error(
        client.get("/api/v1/openapi.json", headers={"Authorization": "Basic eA=="}),
        401,
        "auth_required",
    )


# --- answering a consultation through the API -----------------------------------------


def _answers(round_, text="Svar via API"):
    return {"answers": [{"question_id": q.id, "text": text} for q in round_.questions]}


def answering(app, make):
    """An open round, a `read`+`respond` token of an organisation's admin, and the round's
    responses URL."""
    admin = make.user()
    org = make.organisation(admin=admin)
    round_ = make_round(app, make, make.user("official"))
    raw = token_for(app, admin, ("read", "respond"), org)
    return round_, raw, f"/api/v1/consultations/{round_.id}/responses"


def test_respond_scope_saves_and_submits_through_the_service(app, make, client):
    round_, raw, url = answering(app, make)
    saved = client.post(url, json=_answers(round_), headers=bearer(raw))
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["status"] == "draft"
    draft = saved.get_json()["draft"]
    filed = client.post(
        url, json={**_answers(round_), "submit": True, "draft": draft}, headers=bearer(raw)
    )
    assert filed.get_json()["status"] == "submitted" and filed.get_json()["version_count"] == 1


def test_scopes_and_policy_limit_what_a_token_may_answer(app, make, client):
    official = make.user("official")
    admin, member = make.user(), make.user()
    org = make.organisation(admin=admin, members=[member])
    round_ = make_round(app, make, official)
    url = f"/api/v1/consultations/{round_.id}/responses"
    read_only = token_for(app, admin, ("read",))
    assert_error(
        client.post(url, json=_answers(round_), headers=bearer(read_only)), 403, "forbidden"
    )
    assert_error(client.post(url, json=_answers(round_)), 401, "auth_required")
    members_token = token_for(app, member, ("respond",), org)
    assert client.post(url, json=_answers(round_), headers=bearer(members_token)).status_code == 200
    assert_error(
        client.post(
            url,
            json={**_answers(round_), "submit": True, "draft": "0" * 64},
            headers=bearer(members_token),
        ),
        403,
        "forbidden",
    )
    bad = client.post(url, json={"answers": [{"question_id": "x"}]}, headers=bearer(members_token))
    assert_error(bad, 422, "invalid", "answers.0.question_id")


def test_two_answers_to_one_question_are_refused_not_merged(app, make, client):
    round_, raw, url = answering(app, make)
    question = round_.questions[0].id
    twice = {"answers": [{"question_id": question, "text": t} for t in ("Långt svar", "Andra")]}
    assert_error(client.post(url, json=twice, headers=bearer(raw)), 422, "invalid", "answers")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConsultationResponse)) == 0


def test_token_needs_an_organisation_the_user_acts_for(app, make):
    user = make.user()
    other = make.organisation()
    with app.test_request_context(), pytest.raises(Exception) as raised:
        api_tokens.create_token(user, "x", ["respond"], other.id)
    assert getattr(raised.value, "field", None) == "organisation"


# --- tokens on the settings page ------------------------------------------------------


def test_settings_page_makes_and_revokes_tokens_hashed_at_rest(app, make, client, auth):
    user = make.user()
    auth.login(user)
    made = client.post("/settings/tokens", data={"name": "Statistik", "scopes": ["read"]})
    assert made.status_code == 201
    raw = re.search(r'value="(dfp_[^"]+)"', made.get_data(as_text=True)).group(1)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.token_hash != raw and raw not in token.token_hash and token.prefix == raw[:12]
    listing = client.get("/settings/tokens").get_data(as_text=True)
    assert raw not in listing
    assert "<td>Läsa det jag får läsa</td>" in listing  # the permission's words, not its code
    assert client.get("/api/v1/forums", headers=bearer(raw)).status_code == 200
    client.post(f"/settings/tokens/{token.id}/revoke")
    assert client.get("/api/v1/forums", headers=bearer(raw)).status_code == 401


def test_settings_page_reports_bad_token_input(app, make, client, auth):
    auth.login(make.user())
    response = client.post("/settings/tokens", data={"name": "", "scopes": ["read"]})
    assert response.status_code == 400 and 'id="name-error"' in response.get_data(as_text=True)
    response = client.post("/settings/tokens", data={"name": "x", "scopes": ["respond"]})
    assert response.status_code == 400 and 'id="organisation-error"' in response.get_data(
        as_text=True
    )


# --- rate limits --------------------------------------------------------------------


@pytest.mark.config(FORUM_API_RATE_LIMIT="3 per minute", FORUM_API_TOKEN_RATE_LIMIT="5 per minute")
def test_rate_limits_per_address_and_per_token(app, make, client):
    for _ in range(3):
        assert client.get("/api/v1/commitments").status_code == 200
    limited = client.get("/api/v1/commitments")
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    raw = token_for(app, make.user())
    for _ in range(5):
        assert client.get("/api/v1/commitments", headers=bearer(raw)).status_code == 200
    assert client.get("/api/v1/commitments", headers=bearer(raw)).status_code == 429


@pytest.mark.config(FORUM_API_RATE_LIMIT="3 per minute", FORUM_API_TOKEN_RATE_LIMIT="4 per minute")
def test_one_budget_over_the_whole_api(app, make, client):
    """Spreading requests over endpoints buys nothing: the budget is the address's (or the
    token's), not each endpoint's."""
    thread = make.thread()
    for path in ("/api/v1/principles", "/api/v1/forums", f"/api/v1/threads/{thread.id}"):
        assert client.get(path).status_code == 200
    for path in ("/api/v1/consultations", "/api/v1/organisations", "/api/v1/actions"):
        assert_error(client.get(path), 429, "rate_limited")
    raw = token_for(app, make.user())
    for path in ("/api/v1/commitments", "/api/v1/forums", "/api/v1/indicators", "/api/v1/actions"):
        assert client.get(path, headers=bearer(raw)).status_code == 200
    limited = client.get("/api/v1/organisations", headers=bearer(raw))
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0


@pytest.mark.config(FORUM_API_RATE_LIMIT="3 per minute", FORUM_API_TOKEN_RATE_LIMIT="5 per minute")
def test_made_up_tokens_count_against_the_address(app, make, client):
    """A bearer that is not a valid token gets no bucket of its own: else every made-up
    value would start a fresh count, and an address would never be limited."""
    for n in range(3):
        assert_error(
            client.get("/api/v1/indicators", headers=bearer(f"dfp_made-up-{n}")),
            401,
            "auth_required",
        )
    assert_error(client.get("/api/v1/indicators"), 429, "rate_limited")
    for n in range(20):
        response = client.get("/api/v1/indicators", headers=bearer(f"dfp_other-{n}"))
        assert_error(response, 429, "rate_limited")
    raw = token_for(app, make.user())  # a real token still has its own
    assert client.get("/api/v1/indicators", headers=bearer(raw)).status_code == 200
