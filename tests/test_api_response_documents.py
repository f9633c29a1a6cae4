"""The API: the published responses of a round list their documents with a
fixed number of queries, however many responses and documents (no check per document),
and each reader is given the same documents as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from consultation_support import make_round, respond
from sqlalchemy import select

from forum import policy
from forum.config import parse_rate_limit
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import ConsultationResponse, ConsultationRound, Document, RoundState
from forum.queries import consultations as cq
from forum.services import api_tokens, documents
from forum.services import consultations as service
from forum.services.storage import DiskStorage

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


@pytest.fixture(autouse=True)
def _storage(app, tmp_path):
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")


def bearer(app, user, scopes=("read",), organisation=None) -> dict[str, str]:
    with app.test_request_context():
        _token, raw = api_tokens.create_token(
            user, "test", scopes, organisation.id if organisation else None
        )
    return {"Authorization": f"Bearer {raw}"}


def answered_round(app, make, official, responses: int, letters: int):
    """An open round that `responses` organisations answered, each with `letters` documents:
    (the round, the organisations' admins, their organisations)."""
    admins = [make.user() for _n in range(responses)]
    orgs = [make.organisation(admin=admin) for admin in admins]
    round_ = make_round(app, make, official)
    for admin, org in zip(admins, orgs, strict=True):
        with app.test_request_context():
            for i in range(letters):
                documents.add_response_document(
                    admin, round_.id, org.id, f"Brev {i}.pdf", simple_pdf([f"brev {i}"])
                )
        respond(app, admin, round_, org)
    return round_, admins, orgs


def close(app, official, round_) -> None:
    with app.test_request_context():
        service.close_round(official, round_.id)


@pytest.mark.parametrize("who", ["visitor", "read token of an answering organisation", "official"])
def test_published_responses_take_the_same_queries_for_few_and_many_documents(
    app, make, client, count_queries, who
):
    counts = []
    for responses, letters in [(2, 2), (12, 2)]:
        official = make.user("official")
        round_, admins, orgs = answered_round(app, make, official, responses, letters)
        close(app, official, round_)
        headers = {
            "visitor": {},
            "read token of an answering organisation": bearer(app, admins[0]),
            "official": bearer(app, official),
        }[who]
        url = f"/api/v1/consultations/{round_.id}/responses"
        db.session.expire_all()
        with count_queries() as counter:
            got = client.get(url, headers=headers)
        assert got.status_code == 200, got.get_data(as_text=True)
        items = got.get_json()["items"]
        assert len(items) == responses
        assert all(len(item["documents"]) == letters for item in items)
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


@pytest.fixture
def cast(app, make):
    """A round two organisations answered: the first submitted a letter, took it out and
    submitted again with another; the second submitted one letter. Everyone who reads it,
    each with the headers their API requests carry."""
    official = make.user("official")
    other_official = make.user("official", department="Kulturnämnd")
    admin = make.user("admin")
    chair, member, outsider, second = make.user(), make.user(), make.user(), make.user()
    org = make.organisation(admin=chair, members=[member])
    make.organisation(admin=outsider)
    second_org = make.organisation(admin=second)
    round_ = make_round(app, make, official)
    with app.test_request_context():
        old = documents.add_response_document(
            chair, round_.id, org.id, "Gammalt.pdf", simple_pdf(["gammalt"])
        )
    respond(app, chair, round_, org)
    with app.test_request_context():
        documents.remove_document(chair, old.id)
        documents.add_response_document(chair, round_.id, org.id, "Nytt.pdf", simple_pdf(["n"]))
        documents.add_response_document(
            second, round_.id, second_org.id, "Andra.pdf", simple_pdf(["andra"])
        )
    respond(app, chair, round_, org, text="Andra versionen")
    respond(app, second, round_, second_org)
    readers = {
        "visitor": (None, {}),
        "organisation admin": (chair, bearer(app, chair)),
        "organisation member": (member, bearer(app, member)),
        "other organisation": (outsider, bearer(app, outsider)),
        "round official": (official, bearer(app, official)),
        "another department's official": (other_official, bearer(app, other_official)),
        "site admin": (admin, bearer(app, admin)),
        # no read scope: the API reads for it what it reads for a visitor
        "organisation admin's token without read": (
            None,
            bearer(app, chair, scopes=("respond",), organisation=org),
        ),
    }
    return round_, official, readers


def listed(client, round_, headers) -> list[list[str]]:
    got = client.get(f"/api/v1/consultations/{round_.id}/responses", headers=headers)
    assert got.status_code == 200, got.get_data(as_text=True)
    return [[d["filename"] for d in item["documents"]] for item in got.get_json()["items"]]


def per_document(round_, reader) -> list[list[str]]:
    """What the download route's rule gives the reader of a closed round, document by
    document."""
    round_ = db.session.get(ConsultationRound, round_.id)
    return [
        [
            d.filename
            for d in p.version.documents
            if policy.can_read_document(reader, round_, p.response, d)
        ]
        for p in cq.latest_versions(round_.id)
    ]


def test_each_reader_is_listed_the_documents_it_was_listed_before(app, client, cast):
    """Open: the round's managers see the latest versions' documents, others no responses;
    closed: everyone sees them, and never the letter taken out before the second version."""
    round_, official, readers = cast
    names = {r.organisation.name: r for r in db.session.scalars(select(ConsultationResponse))}
    assert len(names) == 2
    open_lists = {who: listed(client, round_, headers) for who, (_u, headers) in readers.items()}
    managers = {"round official", "site admin"}
    order = sorted(names, key=str.lower)
    expected_both = [["Nytt.pdf"] if names[n].version_count == 2 else ["Andra.pdf"] for n in order]
    assert open_lists == {who: (expected_both if who in managers else []) for who in readers}
    close(app, official, round_)
    closed_lists = {who: listed(client, round_, headers) for who, (_u, headers) in readers.items()}
    assert closed_lists == {who: expected_both for who in readers}
    # and that is what the download route's rule, document by document, gives each of them
    for who, (user, _headers) in readers.items():
        assert closed_lists[who] == per_document(round_, user), who
    old = db.session.scalar(select(Document).where(Document.filename == "Gammalt.pdf"))
    assert old is not None and old.removed_at is not None


@pytest.mark.parametrize("state", ["open", "deadline passed", "closed", "published"])
def test_the_batch_rule_is_the_per_document_rule_for_the_latest_version(
    app, make, client, cast, state
):
    """policy.can_read_latest_version_documents says, for everyone and in every phase, what
    policy.can_read_document says of each document of the latest submitted version."""
    round_, official, readers = cast
    round_ = db.session.get(ConsultationRound, round_.id)
    if state == "deadline passed":
        round_.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    elif state in ("closed", "published"):
        close(app, official, round_)
        round_ = db.session.get(ConsultationRound, round_.id)
        if state == "published":
            round_.state = RoundState.published
    db.session.commit()
    round_ = db.session.get(ConsultationRound, round_.id)
    for who, (user, _headers) in readers.items():
        for p in cq.latest_versions(round_.id):
            assert p.version.documents
            each = {
                policy.can_read_document(user, round_, p.response, d) for d in p.version.documents
            }
            assert each == {policy.can_read_latest_version_documents(user, round_, p.response)}, (
                who,
                state,
            )
