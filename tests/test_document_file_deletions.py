"""A withdrawn document's stored files are deleted for certain, not best effort.

Its file and preview were deleted once, after the commit, and a failure (object storage
down, a permission refused) was only logged: the file stayed in storage for good,
unreferenced and unreadable. The keys are now listed for deletion with the removal itself
(`file_deletions`) and deleted after the commit; one that storage refuses stays listed,
and the job (`documents.delete_pending_files`: the embedded clock, `flask documents
delete-files` in production) tries again, a bounded number a run, until it is gone. A file
a live document or a submitted version still uses is never deleted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from consultation_support import consultation_people, english, in_english, make_round, respond
from sqlalchemy import func, select

from forum import scheduler
from forum.demo.pdf import simple_pdf
from forum.errors import Invalid
from forum.extensions import db
from forum.models import Document, FileDeletion
from forum.services import documents
from forum.services.storage import DiskStorage

LETTER = simple_pdf(["Brev", "fel fil: medlemsregister"])
PAGE = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


class Refusing(DiskStorage):
    """A storage that keeps and serves files but cannot delete them (down, no permission);
    `only`: refuse just these keys."""

    def __init__(self, root, only: set[str] | None = None) -> None:
        super().__init__(root)
        self.only = only

    def delete(self, key: str) -> None:
        if self.only is None or key in self.only:
            raise PermissionError(13, "Permission denied", key)
        super().delete(key)


@pytest.fixture
def folder(app, client, tmp_path):
    english(client)
    path = tmp_path / "documents"
    app.extensions["forum_storage"] = DiskStorage(path)
    return path


def use(app, storage) -> None:
    app.extensions["forum_storage"] = storage


def pending() -> list[str]:
    return sorted(db.session.scalars(select(FileDeletion.storage_key)))


def stored(folder) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def with_preview(monkeypatch) -> None:
    """The round's PDFs get a first-page image, as with poppler-utils installed."""
    monkeypatch.setattr(documents, "pdf_preview", lambda _data: (1, PAGE))


def draft_document(app, make, official):
    """A document on a round still in draft (removing it withdraws it)."""
    round_ = make_round(app, make, official, "draft")
    with app.test_request_context():
        document = documents.add_round_document(official, round_.id, "fel.pdf", LETTER)
    return db.session.get(Document, document.id)


def test_a_delete_that_fails_leaves_the_removal_standing_and_the_files_listed(
    app, make, folder, monkeypatch, caplog
):
    official, *_ = consultation_people(make)
    with_preview(monkeypatch)
    document = draft_document(app, make, official)
    keys = sorted([document.storage_key, document.preview_key])
    assert stored(folder) == set(keys)

    use(app, Refusing(folder))
    with app.test_request_context(), caplog.at_level(logging.WARNING):
        documents.remove_document(official, document.id)
    db.session.expire_all()
    assert db.session.get(Document, document.id).removed_at is not None
    assert pending() == keys
    assert stored(folder) == set(keys)  # not deleted yet
    assert all(key in caplog.text for key in keys)

    # the job, while storage still refuses: nothing lost, counted, tried again later
    with app.test_request_context():
        assert documents.delete_pending_files() == (0, 2)
    assert pending() == keys
    assert set(db.session.scalars(select(FileDeletion.attempts))) == {2}

    use(app, DiskStorage(folder))
    with app.test_request_context():
        assert documents.delete_pending_files() == (2, 0)
    assert stored(folder) == set()
    assert pending() == []
    with app.test_request_context():
        assert documents.delete_pending_files() == (0, 0)  # a second run: nothing to do


def test_a_letter_removed_from_the_draft_is_listed_and_deleted_by_the_scheduler(app, make, folder):
    """The response's side, and the embedded clock's tick as the job's caller."""
    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        letter = documents.add_response_document(member, round_.id, org.id, "Brev.pdf", LETTER)
    key = db.session.get(Document, letter.id).storage_key
    use(app, Refusing(folder))
    with app.test_request_context():
        documents.remove_document(member, letter.id)
    assert pending() == [key]
    assert stored(folder) == {key}

    use(app, DiskStorage(folder))
    scheduler.run_due_jobs(app, "2026-12-07", datetime(2026, 12, 7, 5, 0, tzinfo=UTC))
    assert stored(folder) == set()
    assert pending() == []


def test_a_working_storage_deletes_at_once_and_leaves_nothing_listed(app, make, folder):
    official, *_ = consultation_people(make)
    document = draft_document(app, make, official)
    with app.test_request_context():
        documents.remove_document(official, document.id)
    assert stored(folder) == set()
    assert pending() == []


def test_files_still_used_are_never_deleted(app, make, folder, caplog):
    """A live document's file, and a letter a submitted version keeps (removed from the
    draft since): neither is listed by its removal, and one listed by mistake (a restored
    backup, a bug) is kept and its listing dropped, not tried on every run."""
    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        live = documents.add_round_document(official, round_.id, "Underlag.pdf", LETTER)
        letter = documents.add_response_document(
            member, round_.id, org.id, "Brev.pdf", simple_pdf(["Vårt svar"])
        )
    respond(app, chair, round_, org)  # the submitted version keeps the letter
    with app.test_request_context():
        documents.remove_document(member, letter.id)
    assert pending() == []  # not withdrawn: nobody lists it

    live_key = db.session.get(Document, live.id).storage_key
    letter_key = db.session.get(Document, letter.id).storage_key
    db.session.add_all([FileDeletion(storage_key=live_key), FileDeletion(storage_key=letter_key)])
    db.session.commit()
    with app.test_request_context(), caplog.at_level(logging.WARNING):
        assert documents.delete_pending_files() == (0, 0)
    assert stored(folder) == {live_key, letter_key}
    assert pending() == []
    assert live_key in caplog.text and letter_key in caplog.text


def test_the_job_is_bounded_per_run_and_a_file_that_keeps_failing_holds_up_no_other(
    app, make, folder
):
    store = DiskStorage(folder)
    keys = [f"orphan-file-number-{n:02d}" for n in range(5)]
    for key in keys:
        store.put(key, b"x", "application/pdf")
        db.session.add(FileDeletion(storage_key=key))
    db.session.commit()
    use(app, Refusing(folder, only={keys[0]}))  # the first, tried first, always fails

    with app.test_request_context():
        assert documents.delete_pending_files(limit=2) == (1, 1)
    assert stored(folder) == set(keys) - {keys[1]}
    with app.test_request_context():
        assert documents.delete_pending_files(limit=2) == (2, 0)  # the untried ones first
        assert documents.delete_pending_files(limit=2) == (1, 1)
    assert stored(folder) == {keys[0]}
    assert pending() == [keys[0]]


def test_the_command_deletes_the_listed_files(app, make, folder):
    DiskStorage(folder).put("orphan-file-number-00", b"x", "application/pdf")
    db.session.add(FileDeletion(storage_key="orphan-file-number-00"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["documents", "delete-files"])
    assert result.exit_code == 0, result.output
    assert "1 stored file(s) deleted" in result.output
    assert stored(folder) == set()
    assert pending() == []


def test_an_upload_refused_at_the_last_moment_lists_its_file_when_storage_fails(
    app, make, folder, monkeypatch
):
    """Two officials upload the round's last allowed document at once: the second is
    refused after its bytes were stored. Storage failing then replaced the refusal with a
    500 and left the file for good; now the refusal stands and the file is listed."""
    official, *_ = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    check = documents._count_check
    calls = []

    def full_when_locked(query):
        calls.append(query)
        if len(calls) > 1:  # the check made again under the round's lock
            raise Invalid("At most 10 documents. Remove one first.", field="file")
        check(query)

    monkeypatch.setattr(documents, "_count_check", full_when_locked)
    use(app, Refusing(folder))
    with in_english(app), pytest.raises(Invalid):
        documents.add_round_document(official, round_.id, "sist.pdf", LETTER)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    [key] = stored(folder)
    assert pending() == [key]

    use(app, DiskStorage(folder))
    with app.test_request_context():
        assert documents.delete_pending_files() == (1, 0)
    assert stored(folder) == set()


@pytest.mark.parametrize("listed", [2, 6])
def test_a_run_asks_the_same_queries_however_many_files_it_deletes(
    app, make, folder, count_queries, listed
):
    """Whether a listed file is still used is one question for the run's keys, not one per
    key: the job's queries do not grow with the files it deletes."""
    official, *_ = consultation_people(make)
    round_ = make_round(app, make, official, "draft")
    use(app, Refusing(folder))  # the removals' own deletes fail: the files stay listed
    with app.test_request_context():
        for n in range(listed):
            document = documents.add_round_document(official, round_.id, f"fel{n}.pdf", LETTER)
            documents.remove_document(official, document.id)
    keys = pending()
    assert len(keys) == listed and set(keys) <= stored(folder)

    use(app, DiskStorage(folder))
    with app.test_request_context(), count_queries() as counter:
        assert documents.delete_pending_files() == (listed, 0)
    assert pending() == [] and not set(keys) & stored(folder)
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    # the listing, the documents with those keys, their round
    assert len(selects) <= 3, selects
