"""What a review of search, the admin pages and the organisation pages found: a removed
question and a corrected round title that the index kept, cursors beyond the id range,
closed accounts offered roles, a rejection no page could undo, and a rejected organisation
listed to someone who had only asked to join it."""

from __future__ import annotations

import base64
import json

import pytest
from consultation_support import english, make_round, respond
from sqlalchemy import select

from forum.extensions import db
from forum.models import ConsultationQuestion, Organisation, OrganisationStatus
from forum.queries.search import SearchParams, search
from forum.services import consultations, organisations, privacy


@pytest.fixture(autouse=True)
def _english(client):
    english(client)


def kinds(app, words: str) -> list[tuple[str, str]]:
    with app.test_request_context():
        return [(hit.kind, hit.title) for hit in search(None, SearchParams(q=words)).hits]


def test_a_question_removed_from_an_open_round_is_no_longer_found(app, make, client):
    official = make.user("official")
    make.organisation(admin=make.user())
    questions = [("Vad saknas i dag?", ""), ("Hur använder ni xylofonrummet?", "")]
    round_ = make_round(app, make, official, title="Lokalfrågor", questions=questions)
    removed = next(q.id for q in round_.questions if "xylofon" in q.text)
    assert [kind for kind, _title in kinds(app, "xylofonrummet")] == ["round"]
    with app.test_request_context():
        consultations.remove_question(official, round_.id, removed, "Frågan var fel ställd")
    assert db.session.get(ConsultationQuestion, removed) is None
    assert kinds(app, "xylofonrummet") == []
    assert "<mark>xylofonrummet</mark>" not in client.get("/search?q=xylofonrummet").get_data(
        as_text=True
    )
    assert [kind for kind, _title in kinds(app, "saknas")] == ["round"]  # the rest stays


def test_a_corrected_round_title_reaches_its_responses_entries(app, make):
    official, admin = make.user("official"), make.user()
    organisation = make.organisation(admin=admin, name="Kvartersföreningen")
    round_ = make_round(app, make, official, title="Felstavad bibliotekstitel")
    respond(app, admin, round_, organisation, text="Kvällsöppet")
    with app.test_request_context():
        consultations.revise_text(official, round_.id, "title", "Rättad simhallsrubrik", "Stavfel")
        consultations.close_round(official, round_.id)
    assert ("response", "Kvartersföreningen – Rättad simhallsrubrik") in kinds(
        app, "simhallsrubrik"
    )
    assert kinds(app, "bibliotekstitel") == []


@pytest.mark.parametrize(
    "cursor",
    [
        ["newest", "2026-01-01T00:00:00+00:00", 10**30],
        ["newest", "2026-01-01T00:00:00+00:00", 0],
        ["newest", "0001-01-01T00:00:00+14:00", 5],
        ["newest", "9999-12-31T23:59:59-14:00", 5],
    ],
)
def test_a_cursor_beyond_what_the_database_holds_is_the_pages_own_error(client, cursor):
    """It was a 404 page from the database's range check, not the search page's message."""
    raw = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")
    page = client.get("/search", query_string={"q": "lokaler", "order": "newest", "cursor": raw})
    assert page.status_code == 400
    assert "start the search again" in page.get_data(as_text=True)


def test_closed_accounts_are_not_offered_roles_on_the_admin_page(app, make, client, auth):
    admin, gone = make.user("admin"), make.user(name="Stängda Personen")
    with app.test_request_context():
        privacy.close_account(admin, gone.id)
    auth.login(admin)
    page = client.get("/admin", query_string={"q": "closed"}).get_data(as_text=True)
    assert f"/admin/users/{gone.id}/roles" not in page


def test_an_admin_can_undo_a_rejection_from_the_organisations_page(app, make, client, auth):
    admin = make.user("admin")
    auth.login(admin)
    with app.test_request_context():
        org = organisations.register_organisation(
            make.user(), "Föreningen Fel", "forening", "802456-1238", "", ""
        )
        organisations.reject_organisation(admin, org.id, "Fel organisationsnummer")
    page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    verify = f"/admin/organisations/{org.id}/verify"
    assert verify in page
    assert client.post(verify).status_code in (302, 303)
    db.session.expire_all()
    assert db.session.get(Organisation, org.id).status == OrganisationStatus.verified


def test_a_request_to_join_shows_a_pending_organisation_not_its_rejection(app, make, client, auth):
    """The policy shows a rejected organisation to its members and admins, not to someone
    who only asked to join; the list of one's organisations showed it to them anyway."""
    admin, founder, asking = make.user("admin"), make.user(), make.user()
    with app.test_request_context():
        org = organisations.register_organisation(
            founder, "Kören Kanske", "forening", "802002-5394", "", ""
        )
        organisations.request_membership(asking, org.id)
    auth.login(asking)
    assert "Kören Kanske" in client.get("/organisations").get_data(as_text=True)
    with app.test_request_context():
        organisations.reject_organisation(admin, org.id, "Inte en förening")
    assert "Kören Kanske" not in client.get("/organisations").get_data(as_text=True)
    auth.login(founder)  # its founder, an admin of it, still sees it and why
    assert "Kören Kanske" in client.get("/organisations").get_data(as_text=True)
    assert db.session.scalar(select(Organisation.status).where(Organisation.id == org.id)) == (
        OrganisationStatus.rejected
    )
