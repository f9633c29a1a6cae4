"""schemathesis against the generated OpenAPI document: no 5xx, every response as described.

A bounded number of generated requests per operation keeps CI time small; the data
is a public forum with a thread and messages, an organisation, an open round with a
document and a closed one whose published response has one.
"""

from __future__ import annotations

import schemathesis
from consultation_support import make_round, respond
from hypothesis import HealthCheck, given, settings

from forum.config import parse_rate_limit
from forum.demo.pdf import simple_pdf
from forum.services import consultations, documents

EXAMPLES_PER_OPERATION = 12


def test_api_matches_its_openapi_document(app, make):
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    app.config["FORUM_API_RATE_LIMIT"] = "100000 per minute"
    thread = make.thread()
    author = make.user()
    for n in range(3):
        make.message(thread, author, f"Meddelande {n}")
    org_admin, official = make.user(), make.user("official")
    org = make.organisation(admin=org_admin)
    open_round = make_round(app, make, official)
    closing = make_round(app, make, official)
    with app.test_request_context():
        documents.add_round_document(official, open_round.id, "Underlag.pdf", simple_pdf(["U"]))
        documents.add_response_document(
            org_admin, closing.id, org.id, "Brev.pdf", simple_pdf(["B"])
        )
    respond(app, org_admin, closing, org)
    with app.test_request_context():
        consultations.close_round(official, closing.id)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            response = case.call_and_validate()
            assert response.status_code < 500, (case.path, response.text)
            if response.status_code >= 400 and response.status_code != 405:
                body = response.json()
                assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])

        check()
