"""Documents, as a review of uploads found them: a removal before anyone outside its side
saw the file deletes it, a failed write leaves no partial file, a PDF cut off half-way is
refused, and a removal waits for the feedback's publication."""

import errno
import io
import os

import pytest
from consultation_support import consultation_people, english, make_round, respond
from sqlalchemy import select
from support import Auth, one_inside_the_other

from forum.demo.pdf import simple_pdf
from forum.errors import Conflict
from forum.extensions import db as _db
from forum.models import ConsultationRound, Document, RoundRevision
from forum.services import consultations as service
from forum.services import documents
from forum.services.storage import DiskStorage

LETTER = simple_pdf(["Brev", "fel fil: medlemsregister med personnummer"])


@pytest.fixture
def store(app, client, tmp_path):
    english(client)
    folder = tmp_path / "documents"
    app.extensions["forum_storage"] = DiskStorage(folder)
    return folder


def upload(client, url, data, name, **extra):
    return client.post(
        url, data={"file": (io.BytesIO(data), name), **extra}, content_type="multipart/form-data"
    )


# --- F1: removing a document never deletes it ------------------------------------------


def test_a_draft_letter_removed_before_any_submit_is_deleted(app, client, make, store):
    """A member attaches the wrong file to the draft and removes it at once (no version
    ever held it): it should be gone, not kept in storage and served at its old URL."""
    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    Auth(client).login(member)
    url = f"/consultations/{round_.id}/response"
    assert (
        upload(client, url, LETTER, "Brev.pdf", organisation_id=org.id, action="upload").status_code
        == 302
    )
    letter = _db.session.scalar(select(Document))
    key, link = letter.storage_key, f"/documents/{letter.id}/Brev.pdf"
    removed = client.post(
        url, data={"organisation_id": org.id, "action": "remove_document", "document_id": letter.id}
    )
    assert removed.status_code == 302
    # the round closes with no version holding the letter
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
    later_member = make.user(name="Ny Medlem")
    make.member(org, later_member)
    Auth(client).login(later_member)  # joined after the letter was removed
    assert client.get(link).status_code == 404
    assert not (store / key).exists()


def test_a_document_removed_from_a_draft_round_is_deleted(app, client, make, store):
    """A basis document removed from a round still in draft was never shown to anyone and
    no revision refers to it: its bytes should not stay in storage for good."""
    official, *_ = consultation_people(make)
    round_ = make_round(app, make, official, "draft")
    Auth(client).login(official)
    assert (
        upload(client, f"/consultations/{round_.id}/documents", LETTER, "fel.pdf").status_code
        == 302
    )
    doc = _db.session.scalar(select(Document))
    assert client.post(f"/consultations/{round_.id}/documents/{doc.id}/remove").status_code == 302
    assert not (store / doc.storage_key).exists()


# --- F2: a failed storage write leaves a partial file behind ------------------------------


def test_a_failed_storage_write_leaves_no_partial_file(app, client, make, store, monkeypatch):
    """The disk fills up while a letter is written: the upload fails, and nothing of it
    should stay in the documents folder (today a `<key>.part` file does, forever)."""
    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    Auth(client).login(official)

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    response = upload(client, f"/consultations/{round_.id}/documents", LETTER, "underlag.pdf")
    monkeypatch.undo()
    assert response.status_code >= 400
    assert _db.session.scalar(select(Document)) is None
    leftovers = sorted(p.name for p in store.iterdir()) if store.exists() else []
    assert leftovers == []


# --- F3: any bytes after "%PDF-" are accepted as a PDF ---------------------------------


@pytest.mark.parametrize(
    "data",
    [
        LETTER[: len(LETTER) // 2],  # a copy cut off half-way: no xref, no %%EOF
        b"%PDF-1.7\n<html><body>Not found</body></html>",
    ],
    ids=["truncated", "not-a-pdf"],
)
def test_a_file_that_is_not_a_valid_pdf_is_refused(app, client, make, store, data):
    official, *_ = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    Auth(client).login(official)
    response = upload(client, f"/consultations/{round_.id}/documents", data, "underlag.pdf")
    assert response.status_code == 400
    assert _db.session.scalar(select(Document)) is None


# --- F4: removal does not wait for the publication of the feedback (PostgreSQL) -----------


def test_a_basis_document_cannot_be_removed_while_the_feedback_is_published(app, make, row_locks):
    """Official A removes a basis document while official B publishes the feedback. Adding
    takes the round's lock for exactly this; removing reads the round unlocked, so the
    document is taken off (and a 'document removed' revision is written) after the
    feedback was published, when the round's documents are meant to be final."""
    official = make.user("official")
    other = make.user("official")
    chair = make.user(name="Olle")
    org = make.organisation(admin=chair, name="Föreningen")
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        doc = documents.add_round_document(official, round_.id, "underlag.pdf", LETTER)
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
        question = round_.questions[0]
        service.save_feedback(official, round_.id, {question.id: service.FeedbackInput(heard="h")})
    round_id, doc_id = round_.id, doc.id
    _db.session.commit()

    outcomes = one_inside_the_other(
        app,
        lambda person: documents.remove_document(person, doc_id),
        lambda person: service.publish_feedback(person, round_id),
        [official.id, other.id],
        after="FROM consultation_rounds",
    )
    _db.session.expire_all()
    published = _db.session.get(ConsultationRound, round_id)
    assert published.state.value == "published"
    # either the removal was refused as final, or it came first (publication waited)
    removed_at = _db.session.get(Document, doc_id).removed_at
    after_publication = removed_at is not None and removed_at > published.feedback_published_at
    assert not after_publication, outcomes
    late = _db.session.scalars(
        select(RoundRevision).where(
            RoundRevision.round_id == round_id, RoundRevision.part == "document-removed"
        )
    ).all()
    assert all(r.changed_at <= published.feedback_published_at for r in late), outcomes
    assert any(isinstance(o, Conflict) for o in outcomes) or removed_at is not None
