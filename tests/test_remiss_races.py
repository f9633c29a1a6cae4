"""Consultation writes that arrive at the same moment: the check and the write are one step.

The duplicate-upload check (the same file twice on a round, or on one response) and the
"already published" check of the feedback are made after the parent row is locked
(PostgreSQL: SELECT ... FOR UPDATE, read afresh), or, on SQLite, after the transaction has
taken the one write lock: the second request waits for the first's commit and then sees it.
Each worker waits at a barrier (bounded by a timeout) so the requests really overlap; the
whole exchange is bounded by `at_once`'s timeout. They run on SQLite and on PostgreSQL
(FORUM_TEST_DATABASE_URL).
"""

from __future__ import annotations

import threading

import pytest
from consultation_support import make_round, respond
from sqlalchemy import func, select
from support import at_once

from forum.demo.pdf import simple_pdf
from forum.errors import Invalid
from forum.extensions import db as _db
from forum.models import AuditEntry, ConsultationRound, Document, Notification, User
from forum.queries import consultations as consultation_queries
from forum.services import consultations as service
from forum.services import documents

WORKERS = 3


def count(db, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(*where))


def _one_stored_others_refused(outcomes: list, name: str) -> None:
    stored = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, Invalid)]
    assert len(stored) == 1 and len(refused) == WORKERS - 1, outcomes
    assert all(o.field == "file" and stored[0] in o.message for o in refused), outcomes
    assert stored[0].startswith(name)


def test_the_same_round_document_uploaded_at_once_is_stored_once(app, make, db):
    official = make.user("official")
    make.organisation(admin=make.user())  # someone to ask
    round_ = make_round(app, make, official)
    round_id, official_id = round_.id, official.id
    data = simple_pdf(["Underlag"])
    db.session.commit()
    ready = threading.Barrier(WORKERS, timeout=10)

    def upload(i: int) -> str:
        user = _db.session.get(User, official_id)
        _db.session.get(ConsultationRound, round_id)  # the page's view of the round, first
        ready.wait()
        return documents.add_round_document(user, round_id, f"Underlag {i}.pdf", data).filename

    _one_stored_others_refused(at_once(app, upload, WORKERS), "Underlag")
    assert count(db, Document.round_id == round_id, Document.response_id.is_(None)) == 1


@pytest.mark.parametrize("row_exists", [True, False], ids=["response-row", "no-response-row"])
def test_the_same_response_document_uploaded_at_once_is_stored_once(app, make, db, row_exists):
    """With the response row there, or not yet (the uploads make it, one row by its unique
    pair, and then one document)."""
    admin, member = make.user(), make.user()
    org = make.organisation(admin=admin, members=[member])
    round_ = make_round(app, make, make.user("official"))
    if row_exists:
        respond(app, admin, round_, org, submit=False)
    round_id, org_id, ids = round_.id, org.id, [admin.id, member.id, admin.id]
    data = simple_pdf(["Brev"])
    db.session.commit()
    ready = threading.Barrier(WORKERS, timeout=10)

    def upload(i: int) -> str:
        user = _db.session.get(User, ids[i])
        ready.wait()
        return documents.add_response_document(
            user, round_id, org_id, f"Brev {i}.pdf", data
        ).filename

    _one_stored_others_refused(at_once(app, upload, WORKERS), "Brev")
    assert count(db, Document.response_id.is_not(None)) == 1


def test_feedback_published_at_once_is_published_once(app, make, db):
    """Two officials confirm "Publish" together (each page having read the round as not yet
    published): one publication, one audit entry, each responding organisation told once."""
    one, two = make.user("official"), make.user("official")
    admin = make.user()
    org = make.organisation(admin=admin)
    round_ = make_round(app, make, one)
    respond(app, admin, round_, org)
    with app.test_request_context():
        service.close_round(one, round_.id)
        question = round_.questions[0].id
        service.save_feedback(
            one, round_.id, {question: service.FeedbackInput(heard="Vi hörde er.")}
        )
    round_id, ids = round_.id, [one.id, two.id]
    db.session.commit()
    ready = threading.Barrier(2, timeout=10)

    def publish(i: int) -> bool:
        user = _db.session.get(User, ids[i])
        seen = consultation_queries.get_round(user, round_id)  # as the confirm view does
        assert seen.state.value == "closed"
        ready.wait()
        return service.publish_feedback(user, round_id)

    # the second finds it done: no error, and it knows it did not publish (its page says
    # "already published", not "published and the organisations are told")
    assert sorted(at_once(app, publish, 2)) == [False, True]
    published = count(
        db,
        AuditEntry.action == "consultation.feedback.published",
        AuditEntry.target_id == round_id,
    )
    assert published == 1
    told = count(db, Notification.user_id == admin.id, Notification.kind == "consultation_feedback")
    assert told == 1


def test_a_document_removed_twice_at_once_is_removed_and_logged_once(app, make, db):
    """Two officials press "Remove" on the same document at once: one removal, one entry in
    the audit log and the round's history; the other is told it is no longer there."""
    from forum.errors import NotFound

    official = make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official)
    with app.test_request_context():
        document_id = documents.add_round_document(
            official, round_.id, "Underlag.pdf", simple_pdf(["Underlag"])
        ).id
    official_id = official.id
    db.session.commit()
    ready = threading.Barrier(WORKERS, timeout=10)

    def remove(_i: int) -> object:
        user = _db.session.get(User, official_id)
        _db.session.get(Document, document_id)  # the page's view of the document, first
        ready.wait()
        try:
            return documents.remove_document(user, document_id).id
        except NotFound as refused:
            return refused

    outcomes = at_once(app, remove, WORKERS)
    assert outcomes.count(document_id) == 1, outcomes
    assert sum(isinstance(o, NotFound) for o in outcomes) == WORKERS - 1, outcomes
    assert count(db, AuditEntry.action == "consultation.document.removed") == 1
