"""What a review of the consultation workflow found: documents in the submitted response, who
is listed and told, a round's basis changed on the record, and the smaller slips."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from consultation_support import consultation_people, english, local, make_round, respond
from sqlalchemy import select
from support import Auth

from forum.demo.pdf import simple_pdf
from forum.extensions import db as _db
from forum.models import Notification, ResponseVersion
from forum.services.storage import DiskStorage

PDF = simple_pdf(["Underskrivet brev"])


@pytest.fixture(autouse=True)
def _setup(app, client, tmp_path):
    english(client)
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")


@pytest.fixture
def people(make):
    # notices and mail in English, so the assertions read plainly
    return consultation_people(make, "en")


def text(response) -> str:
    return response.get_data(as_text=True)


def kinds_for(user) -> list[str]:
    return list(
        _db.session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


def upload(client, url, data=PDF, name="Brev.pdf", **extra):
    return client.post(
        url, data={"file": (io.BytesIO(data), name), **extra}, content_type="multipart/form-data"
    )


# --- 2. documents are part of what is submitted ------------------------------------------


def test_confirmation_lists_the_documents_and_refuses_a_draft_whose_documents_changed(
    app, client, make, people
):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    Auth(client).login(chair)
    url = f"/consultations/{round_.id}/response"
    assert (
        upload(
            client, url, name="Styrelsens brev.pdf", organisation_id=org.id, action="upload"
        ).status_code
        == 302
    )
    asked = client.post(
        url,
        data={
            "organisation_id": org.id,
            "action": "submit",
            **{f"answer-{q.id}": "Svar" for q in round_.questions},
        },
    )
    confirm = text(client.get(asked.headers["Location"]))
    assert "Styrelsens brev.pdf" in confirm
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', confirm)[1]
    # meanwhile a member attaches a private draft: the confirmation no longer holds
    other = english(app.test_client())
    Auth(other).login(member)
    assert (
        upload(
            other,
            url,
            simple_pdf(["Privat utkast"]),
            name="Privat utkast.pdf",
            organisation_id=org.id,
            action="upload",
        ).status_code
        == 302
    )
    done = client.post(
        asked.headers["Location"], data={"organisation_id": org.id, "fingerprint": fingerprint}
    )
    assert done.status_code == 302 and "/response/submit" in done.headers["Location"]
    assert _db.session.scalar(select(ResponseVersion)) is None


def test_an_attached_letter_is_an_unsubmitted_change_and_the_admins_are_told(
    app, client, make, people
):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)  # version 1
    before = kinds_for(chair)
    Auth(client).login(member)
    url = f"/consultations/{round_.id}/response"
    assert (
        upload(
            client, url, name="Underskrivet brev.pdf", organisation_id=org.id, action="upload"
        ).status_code
        == 302
    )
    assert kinds_for(chair) == [*before, "consultation_response_drafted"]
    Auth(client).login(chair)
    page = text(client.get(f"{url}?organisation={org.id}"))
    assert "The draft below has changes that are not submitted." in page
    assert "Underskrivet brev.pdf" in page


# --- 3. the remiss list is who was asked ------------------------------------------------------


def remiss_rows(page: str) -> list[str]:
    body = re.search(r'id="remiss-list".*?</table>', page, re.S)[0]
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r'<tr class="remiss-.*?</tr>', body, re.S)
    ]


def test_the_remiss_list_is_the_organisations_asked_when_the_round_opened(
    app, client, make, people
):
    from forum.services import consultations as service
    from forum.services import organisations as organisation_service

    official, chair, _member, org = people
    admin = make.user("admin")
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
    late = make.organisation(admin=make.user(), verified=False, name="Nybildade Föreningen")
    with app.test_request_context():
        organisation_service.verify_organisation(admin, late.id)
    page = text(client.get(f"/consultations/{round_.id}/compilation"))
    assert remiss_rows(page) == ["Föreningen Gemenskap Answered (version 1)"]
    with app.test_request_context():
        organisation_service.reject_organisation(admin, org.id, "Fel organisationsnummer")
    page = text(client.get(f"/consultations/{round_.id}/compilation"))
    assert remiss_rows(page) == ["Föreningen Gemenskap Answered (version 1)"]


def test_an_organisation_verified_while_a_round_is_open_is_asked_listed_and_reminded(
    app, client, make, people
):
    """Who may answer, who is reminded and who is listed as asked are one list: an
    organisation verified while an "every verified organisation" round is open may answer it,
    so it is on its remiss list and the officials' overview, and a reminder counts it once."""
    from forum.models import Audience
    from forum.queries import consultations as cq
    from forum.services import consultations as service
    from forum.services import organisations as organisation_service

    official, chair, _member, org = people
    admin = make.user("admin")
    round_ = make_round(app, make, official, "open")
    later = make_round(app, make, official, "open", opens_at=local(timedelta(days=1)))
    invited = make_round(app, make, official, "open", audience="invited", invited_ids=[org.id])
    late_admin = make.user(name="Lena Sen")
    late_admin.locale = "en"
    late = make.organisation(admin=late_admin, verified=False, name="Beta Föreningen")
    with app.test_request_context():
        organisation_service.verify_organisation(admin, late.id)
    _db.session.expire_all()
    # asked by the open round and the one that opens later, told so; not by an invited one
    for r in (round_, later):
        assert [o.name for o in r.asked] == ["Beta Föreningen", "Föreningen Gemenskap"]
    assert [o.name for o in invited.asked] == ["Föreningen Gemenskap"]
    assert invited.audience == Audience.invited
    assert kinds_for(late_admin).count("consultation_opened") == 2
    with app.test_request_context():
        overview = [row.organisation.name for row in cq.overview(round_) if not row.responded]
        listed = [row.organisation.name for row in cq.remiss_list(round_)]
        reminded = service.send_reminder(official, round_.id)
    assert overview == listed == ["Beta Föreningen", "Föreningen Gemenskap"]
    assert reminded == 2
    assert "consultation_reminder" in kinds_for(late_admin)
    with app.test_request_context():
        service.close_round(official, round_.id)
    page = text(client.get(f"/consultations/{round_.id}/compilation"))
    assert remiss_rows(page) == [
        "Beta Föreningen Not answered",
        "Föreningen Gemenskap Not answered",
    ]


def test_a_round_past_its_deadline_does_not_ask_an_organisation_verified_after_it(
    app, make, people
):
    from consultation_support import expire_deadline

    from forum.services import organisations as organisation_service

    official, _chair, _member, _org = people
    admin = make.user("admin")
    round_ = make_round(app, make, official, "open")
    expire_deadline(round_)  # still open on the record: nobody has closed it yet
    late = make.organisation(admin=make.user(), verified=False, name="Beta Föreningen")
    with app.test_request_context():
        organisation_service.verify_organisation(admin, late.id)
    _db.session.expire_all()
    assert [o.name for o in round_.asked] == ["Föreningen Gemenskap"]


def test_a_reminder_skips_an_asked_organisation_that_can_no_longer_answer(app, make, people):
    """The remiss list keeps an organisation asked whose verification was withdrawn; it cannot
    answer, so it is not reminded to."""
    from forum.services import consultations as service
    from forum.services import organisations as organisation_service

    official, chair, _member, org = people
    other = make.organisation(admin=make.user(), name="Andra Föreningen")
    admin = make.user("admin")
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        organisation_service.reject_organisation(admin, other.id, "Fel organisationsnummer")
        assert service.send_reminder(official, round_.id) == 1
    _db.session.expire_all()
    assert [o.name for o in round_.asked] == ["Andra Föreningen", "Föreningen Gemenskap"]


# --- 5. and 8. the daily summary -------------------------------------------------------------


def test_the_summary_leaves_out_a_draft_of_an_organisation_the_person_has_left(app, make):
    from forum.models import Membership, OutboxMail
    from forum.services import notifications
    from forum.services import organisations as organisation_service

    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    former = make.user(name="Eva Ex")
    member = make.user(name="Mira Medlem")
    org = make.organisation(admin=chair, members=[member], name="Föreningen Gemenskap")
    membership = Membership(
        organisation_id=org.id, user_id=former.id, role="admin", status="approved"
    )
    _db.session.add(membership)
    former.locale = "en"
    _db.session.commit()
    with app.test_request_context():
        for person in (former, chair):
            notifications.set_preference(person, "consultation_response_drafted", "digest")
        _db.session.commit()
    round_ = make_round(app, make, official, "open")
    respond(app, member, round_, org, submit=False, text="Känsligt utkast")
    assert "consultation_response_drafted" in kinds_for(former)
    with app.test_request_context():
        organisation_service.remove_member(chair, org.id, membership.id)
    with app.test_request_context():
        notifications.send_digests(datetime.now(UTC) + timedelta(days=1))
    mails = _db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == former.email))
    assert not [m for m in mails if "drafted" in m.body or "saved a draft" in m.body]
    # the admin who still is one gets it
    to_chair = _db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == chair.email))
    assert any("saved a draft" in m.body or "sparade ett utkast" in m.body for m in to_chair)


@pytest.mark.parametrize(
    ("locale", "one", "two"),
    [
        (
            "sv",
            "Din dagliga sammanfattning: 1 avisering",
            "Din dagliga sammanfattning: 2 aviseringar",
        ),
        ("en", "Your daily summary: 1 notification", "Your daily summary: 2 notifications"),
    ],
)
def test_the_summary_subject_says_one_notification_in_the_singular(app, make, locale, one, two):
    from forum.models import OutboxMail
    from forum.services import notifications

    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    org = make.organisation(admin=chair, name="Föreningen Gemenskap")
    chair.locale = locale
    _db.session.commit()
    with app.test_request_context():
        notifications.set_preference(chair, "consultation_opened", "digest")
        _db.session.commit()
    make_round(app, make, official, "open")
    with app.test_request_context():
        notifications.send_digests(datetime.now(UTC) + timedelta(days=1))
    make_round(app, make, official, "open", title="Andra rundan")
    make_round(app, make, official, "open", title="Tredje rundan")
    with app.test_request_context():
        notifications.send_digests(datetime.now(UTC) + timedelta(days=2))
    subjects = list(
        _db.session.scalars(
            select(OutboxMail.subject)
            .where(OutboxMail.to_address == chair.email)
            .order_by(OutboxMail.id)
        )
    )
    assert subjects == [one, two]
    assert org


# --- 6. a basis document added or removed after opening is a change on the record ----------


def test_a_basis_document_removed_from_an_open_round_is_on_the_record_and_told(
    app, client, make, people
):
    from forum.models import RoundRevision
    from forum.services import documents

    official, chair, _member, _org = people
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        document = documents.add_round_document(official, round_.id, "Förslag.pdf", PDF)
    with app.test_request_context():
        documents.remove_document(official, document.id)
    parts = list(_db.session.scalars(select(RoundRevision.part).order_by(RoundRevision.id)))
    assert parts == ["document-added", "document-removed"]
    assert kinds_for(chair).count("consultation_changed") == 2
    page = text(client.get(f"/consultations/{round_.id}"))
    assert "The round was changed after it opened" in page
    assert "Document removed" in page and "Förslag.pdf" in page


def test_a_draft_rounds_documents_are_not_changes(app, make, people):
    from forum.models import RoundRevision
    from forum.services import documents

    official, chair, _member, _org = people
    round_ = make_round(app, make, official, "draft")
    with app.test_request_context():
        documents.add_round_document(official, round_.id, "Förslag.pdf", PDF)
    assert _db.session.scalar(select(RoundRevision.id)) is None
    assert "consultation_changed" not in kinds_for(chair)


# --- 7. a round that has not opened cannot be closed ------------------------------------------


def test_closing_a_round_before_it_opens_is_refused(app, client, make, people):
    from consultation_support import local

    from forum.models import ConsultationRound
    from forum.services import consultations as service

    official, *_ = people
    round_ = make_round(
        app,
        make,
        official,
        "open",
        opens_at=local(timedelta(days=2)),
        closes_at=local(timedelta(days=10)),
    )
    Auth(client).login(official)
    page = text(client.get(f"/consultations/{round_.id}"))
    assert 'id="close-round"' not in page
    refused = client.post(f"/consultations/{round_.id}/close")
    assert refused.status_code == 409
    assert "has not opened yet" in text(refused)
    _db.session.expire_all()
    stored = _db.session.get(ConsultationRound, round_.id)
    assert stored.state == "open" and stored.closes_at > stored.opens_at
    assert service  # the service refuses too (the page is only the visible half)


# --- 9. publishing twice ----------------------------------------------------------------------


def test_publishing_the_feedback_again_says_it_already_is(app, client, make, people):
    from forum.services import consultations as service

    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
        service.save_feedback(
            official,
            round_.id,
            {round_.questions[0].id: service.FeedbackInput(heard="Kvällar", action="Öppnar")},
        )
    Auth(client).login(official)
    url = f"/consultations/{round_.id}/feedback/publish"
    first = client.post(url, follow_redirects=True)
    assert "The feedback is published and the organisations are told." in text(first)
    told = kinds_for(chair).count("consultation_feedback")
    again = client.post(url, follow_redirects=True)
    page = text(again)
    assert "The feedback is already published." in page
    assert "organisations are told" not in page
    assert kinds_for(chair).count("consultation_feedback") == told


# --- 10. upload names and the same file twice ------------------------------------------------


def test_a_long_name_is_cut_before_its_ending_is_tidied(app):
    from forum.services import documents

    name = documents.clean_filename("a" * 149 + " bb.pdf", documents.PDF)
    assert name == "a" * 149 + ".pdf"


def test_the_same_file_twice_is_refused_naming_the_first(app, client, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    Auth(client).login(official)
    url = f"/consultations/{round_.id}/documents"
    assert upload(client, url, name="Underlag.pdf").status_code == 302
    again = upload(client, url, name="Underlag kopia.pdf")
    assert again.status_code == 400
    assert "already attached, as “Underlag.pdf”" in text(again)
    # a response may carry the same file as the round (a different place)
    Auth(client).login(member)
    response_url = f"/consultations/{round_.id}/response"
    assert upload(client, response_url, organisation_id=org.id, action="upload").status_code == 302
    twice = upload(client, response_url, name="Igen.pdf", organisation_id=org.id, action="upload")
    assert twice.status_code == 400 and "already attached, as “Underlag.pdf”" not in text(twice)
    assert "already attached, as “Brev.pdf”" in text(twice)
