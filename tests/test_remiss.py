"""A consultation run like a real remiss: documents, changes on the record, who is told."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from consultation_support import (
    consultation_people,
    english,
    in_english,
    local,
    make_round,
    respond,
)
from sqlalchemy import func, select
from support import at_once, csrf_tokens

from forum.demo.pdf import simple_pdf
from forum.errors import Conflict, Forbidden, Invalid
from forum.extensions import db as _db
from forum.models import (
    AuditEntry,
    ConsultationRound,
    Document,
    Notification,
    OutboxMail,
    ResponseVersion,
    RoundRevision,
    User,
)
from forum.queries import consultations as cq
from forum.services import consultations as service
from forum.services import documents as documents
from forum.services import notifications
from forum.services.mail import build_message
from forum.services.storage import DiskStorage, S3Storage

PDF = simple_pdf(["Underlag till samrådet", "Sida ett"])


def count(model, *where) -> int:
    return _db.session.scalar(select(func.count()).select_from(model).where(*where))


def kinds_for(user) -> list[str]:
    return list(
        _db.session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


def mails_to(user) -> list[OutboxMail]:
    return list(_db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == user.email)))


def zipped(entries: dict[str, bytes], first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if first:
            archive.writestr(first, entries.pop(first), compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


DOCX_TYPES = (
    b'<?xml version="1.0"?><Types><Override PartName="/word/document.xml" ContentType='
    b'"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


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


# --- documents: types by content ------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PDF, "pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "jpg"),
        (zipped({"[Content_Types].xml": DOCX_TYPES, "word/document.xml": b"<w/>"}), "docx"),
        (
            zipped(
                {
                    "mimetype": b"application/vnd.oasis.opendocument.text",
                    "content.xml": b"<office/>",
                },
                first="mimetype",
            ),
            "odt",
        ),
    ],
)
def test_accepted_types_are_known_by_their_bytes(app, data, kind):
    assert documents.sniff(data).extension == kind


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00" + b"\0" * 100,  # a Windows executable named .pdf
        b"\x7fELF" + b"\0" * 100,
        b"<html><script>alert(1)</script></html>",
        zipped({"evil.exe": b"MZ"}),  # a plain zip
        zipped(  # a macro-enabled Word file
            {
                "[Content_Types].xml": DOCX_TYPES.replace(
                    b"wordprocessingml.document.main", b"ms-word.document.macroEnabled.main"
                )
            }
        ),
        b"PK\x03\x04 not really a zip",
    ],
)
def test_other_content_is_refused_whatever_its_name(app, data):
    with pytest.raises(Invalid) as err:
        documents.sniff(data)
    assert err.value.field == "file"


def test_a_zip_bomb_is_refused_by_its_unpacked_size(app):
    bomb = zipped(
        {"[Content_Types].xml": DOCX_TYPES, "word/document.xml": b"\0" * (210 * 1024 * 1024)}
    )
    assert len(bomb) < 1024 * 1024
    with in_english(app), pytest.raises(Invalid, match="unpacks to more"):
        documents.sniff(bomb)


def test_a_zip_with_too_many_entries_is_refused(app):
    many = zipped({"[Content_Types].xml": DOCX_TYPES, **{f"x/{n}": b"" for n in range(2_100)}})
    with in_english(app), pytest.raises(Invalid, match="too many parts"):
        documents.sniff(many)


def test_download_name_is_cleaned_and_takes_the_real_extension(app):
    assert documents.clean_filename("../../Underlag för år 2027.exe", documents.PDF) == (
        "Underlag för år 2027.pdf"
    )
    assert documents.clean_filename('a"<b>.pdf', documents.PDF) == "a__b.pdf"


# --- documents: upload and download over HTTP -------------------------------------------


def upload(client, url, data, name="underlag.pdf", **extra):
    return client.post(
        url,
        data={"file": (io.BytesIO(data), name), **extra},
        content_type="multipart/form-data",
    )


def test_official_attaches_a_round_document_that_everyone_can_download(
    app, client, auth, make, people, tmp_path
):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    auth.login(official)
    response = upload(client, f"/consultations/{round_.id}/documents", PDF, "Underlag 2027.pdf")
    assert response.status_code == 302, text(response)
    document = _db.session.scalar(select(Document))
    assert document.filename == "Underlag 2027.pdf" and document.content_type == "application/pdf"
    # stored under a random name, not the uploaded one
    stored = list((tmp_path / "documents").iterdir())
    assert [p.name for p in stored] == [document.storage_key]
    assert "Underlag" not in document.storage_key
    auth.logout()
    page = text(client.get(f"/consultations/{round_.id}"))
    link = f"/documents/{document.id}/Underlag%202027.pdf"
    assert link in page
    got = client.get(link)
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Underlag%202027.pdf" in got.headers["Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]
    assert got.headers["Content-Type"] == "application/pdf"
    assert count(AuditEntry, AuditEntry.action == "consultation.document.added") == 1
    # without poppler-utils there is no preview, and the upload did not wait for one
    if document.page_count is None:
        assert client.get(f"/documents/{document.id}/preview/first-page.png").status_code == 404


def test_wrong_type_renamed_executable_and_oversize_are_refused(app, client, auth, make, people):
    official, *_ = people
    round_ = make_round(app, make, official, "open")
    auth.login(official)
    url = f"/consultations/{round_.id}/documents"
    refused = upload(client, url, b"MZ\x90\x00" + b"\0" * 64, "rapport.pdf")
    assert refused.status_code == 400 and "not accepted" in text(refused)
    app.config["FORUM_DOCUMENT_MAX_MB"] = 1
    # (through the service: werkzeug's test client leaks the temporary file of a large body)
    with in_english(app), pytest.raises(Invalid, match="larger than 1 MB"):
        documents.add_round_document(official, round_.id, "stor.pdf", PDF + b"\0" * (1024 * 1024))
    empty = client.post(url, data={}, content_type="multipart/form-data")
    assert empty.status_code == 400 and "Choose a file" in text(empty)
    assert count(Document) == 0


def test_too_large_for_the_server_is_a_413_page(app, client, auth, make, people):
    official, *_ = people
    round_ = make_round(app, make, official, "open")
    auth.login(official)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = upload(client, f"/consultations/{round_.id}/documents", PDF + b"\0" * 4096)
    assert response.status_code == 413


def test_count_limit(app, client, auth, make, people):
    official, *_ = people
    round_ = make_round(app, make, official, "open")
    app.config["FORUM_DOCUMENT_MAX_COUNT"] = 2
    for n in range(2):  # two different files (the same one twice is refused as such)
        documents.add_round_document(official, round_.id, f"d{n}.pdf", simple_pdf([f"d{n}"]))
    with in_english(app), pytest.raises(Invalid, match="At most 2 documents"):
        documents.add_round_document(official, round_.id, "d3.pdf", PDF)


def test_only_the_rounds_officials_attach_to_it(app, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    other_official = make.user("official")
    other_official.department_id = None
    _db.session.commit()
    with pytest.raises(Forbidden):
        documents.add_round_document(chair, round_.id, "x.pdf", PDF)
    draft = make_round(app, make, official, "draft")
    from forum.errors import NotFound

    with pytest.raises(NotFound):  # a draft the person cannot read
        documents.add_response_document(chair, draft.id, org.id, "x.pdf", PDF)


def test_response_letter_is_versioned_and_private_until_the_round_closes(
    app, client, auth, make, people
):
    official, chair, member, org = people
    outsider = make.user()
    round_ = make_round(app, make, official, "open")
    auth.login(member)
    response = upload(
        client,
        f"/consultations/{round_.id}/response",
        PDF,
        "Brev.pdf",
        organisation_id=str(org.id),
        action="upload",
    )
    assert response.status_code == 302, text(response)
    letter = _db.session.scalar(select(Document))
    assert letter.response_id is not None
    link = f"/documents/{letter.id}/Brev.pdf"
    assert client.get(link).status_code == 200  # the organisation's own members
    auth.login(outsider)
    assert client.get(link).status_code == 404
    auth.login(official)
    assert client.get(link).status_code == 404  # a draft is not the city's to read
    respond(app, chair, round_, org)
    version = _db.session.scalar(select(ResponseVersion))
    assert [d.id for d in version.documents] == [letter.id]
    assert client.get(link).status_code == 200  # submitted: the round's officials
    auth.login(outsider)
    assert client.get(link).status_code == 404
    with app.test_request_context():
        service.close_round(official, round_.id)
    auth.logout()
    assert client.get(link).status_code == 200  # public with the responses
    page = text(client.get(f"/consultations/{round_.id}"))
    assert link in page
    # removing it from the working copy keeps it in the submitted version
    documents.remove_document(member, letter.id) if False else None


def test_removed_letter_stays_in_the_submitted_version(app, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    letter = documents.add_response_document(member, round_.id, org.id, "Brev.pdf", PDF)
    respond(app, chair, round_, org)
    documents.remove_document(member, letter.id)
    respond(app, chair, round_, org, text="Ny version")
    first, second = _db.session.scalars(select(ResponseVersion).order_by(ResponseVersion.number))
    assert [d.id for d in first.documents] == [letter.id]
    assert second.documents == []


def test_submitting_the_same_draft_twice_makes_one_version_and_tells_once(
    app, client, auth, make, people
):
    """A double click or a resent form: the second answers as the first and changes nothing."""
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, member, round_, org, submit=False)
    auth.login(chair)
    url = f"/consultations/{round_.id}/response/submit?organisation={org.id}"
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', text(client.get(url)))
    for _attempt in range(2):
        done = client.post(url, data={"organisation_id": org.id, "fingerprint": fingerprint[1]})
        assert done.status_code == 302
        assert "The response is submitted." in text(client.get(done.headers["Location"]))
    assert count(ResponseVersion) == 1
    assert kinds_for(official).count("consultation_response_submitted") == 1
    assert len([m for m in mails_to(official) if "response arrived" in m.subject]) == 1
    # a real revision is still a new version, and so is a changed set of letters
    respond(app, chair, round_, org, text="Ändrat")
    respond(app, chair, round_, org, text="Ändrat")
    assert count(ResponseVersion) == 2
    documents.add_response_document(member, round_.id, org.id, "Brev.pdf", PDF)
    respond(app, chair, round_, org, text="Ändrat")
    assert count(ResponseVersion) == 3
    assert kinds_for(official).count("consultation_response_submitted") == 3


def test_two_submits_at_once_make_one_version(app, make, people, db_url):
    """Two requests with the same draft at the same moment: the row lock orders them."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks (FOR UPDATE); its unique version number holds")
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, member, round_, org, submit=False)
    round_id, org_id, chair_id = round_.id, org.id, chair.id  # not the test's session in threads
    both_read = threading.Barrier(2, timeout=10)

    def submit(_i: int) -> None:
        draft = cq.own_response(round_id, org_id)  # as the confirmation view reads it
        assert draft is not None
        saved = {a.question_id: a.body for a in draft.answers}
        both_read.wait()
        user = _db.session.get(User, chair_id)
        service.save_response(user, round_id, org_id, saved, submit=True)

    failures = [out for out in at_once(app, submit, 2) if out is not None]
    assert failures == []
    assert count(ResponseVersion) == 1
    assert kinds_for(official).count("consultation_response_submitted") == 1


def test_a_letter_removed_while_the_response_is_submitted(
    app, make, people, db_url, tmp_path, monkeypatch
):
    """The admin submits the draft while a member takes a letter off it: the submission holds
    the response's row when the removal starts. The removal locked the letter first and then
    waited for the response's row, while the submission, listing the letter into its
    version, waited for the letter: PostgreSQL ended one of them as a deadlock (a 500). The
    removal now waits for the response's row first; the version keeps the letter, and its
    file (PostgreSQL; SQLite has one writer at a time)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks (FOR UPDATE): one writer at a time orders them")
    store = DiskStorage(tmp_path / "documents")
    app.extensions["forum_storage"] = store
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, member, round_, org, submit=False)
    with app.test_request_context():
        letter = documents.add_response_document(member, round_.id, org.id, "Brev.pdf", PDF)
    ids = {"round": round_.id, "org": org.id, "letter": letter.id}
    ids.update(member=member.id, chair=chair.id)
    submission_holds_the_row = threading.Event()
    locked = service._response_row

    def lock_then_pause(*args, **kwargs):
        row = locked(*args, **kwargs)
        submission_holds_the_row.set()
        time.sleep(0.5)  # the removal starts meanwhile
        return row

    monkeypatch.setattr(service, "_response_row", lock_then_pause)

    def step(i: int) -> None:
        if i == 0:
            draft = cq.own_response(ids["round"], ids["org"])
            saved = {a.question_id: a.body for a in draft.answers}
            chair_ = _db.session.get(User, ids["chair"])
            service.save_response(chair_, ids["round"], ids["org"], saved, submit=True)
            return
        assert submission_holds_the_row.wait(10)
        documents.remove_document(_db.session.get(User, ids["member"]), ids["letter"])

    assert [out for out in at_once(app, step, 2) if out is not None] == []
    _db.session.expire_all()
    (version,) = _db.session.scalars(select(ResponseVersion)).all()
    assert [d.id for d in version.documents] == [ids["letter"]]
    assert store.get(version.documents[0].storage_key) == PDF  # kept: a version holds it
    assert _db.session.get(Document, ids["letter"]).removed_at is not None  # off the draft


def test_s3_backend_round_trip(app):
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="dokument")
        store = S3Storage("dokument", "forum/", client=client)
        store.put("abcdefghijklmnopqrstuvwx", PDF, "application/pdf")
        assert store.get("abcdefghijklmnopqrstuvwx") == PDF
        listed = client.list_objects_v2(Bucket="dokument")["Contents"]
        assert [o["Key"] for o in listed] == ["forum/abcdefghijklmnopqrstuvwx"]
        store.delete("abcdefghijklmnopqrstuvwx")
        assert "Contents" not in client.list_objects_v2(Bucket="dokument")
        with pytest.raises(ValueError):
            store.get("../etc/passwd")


class NoSuchKeyClient:
    """An S3-compatible service that answers a delete of a missing object with 404."""

    def __init__(self, code: str) -> None:
        self.code = code

    def delete_object(self, **_kwargs):
        raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "DeleteObject")


def test_deleting_an_object_that_is_not_there_is_done_on_s3():
    """AWS answers 204 either way; other S3-compatible services answer 404 NoSuchKey. A
    file deleted already (by another run, say) is done, not an error tried on every run."""
    S3Storage("dokument", client=NoSuchKeyClient("NoSuchKey")).delete("abcdefghijklmnopqrstuvwx")
    with pytest.raises(ClientError, match="AccessDenied"):
        S3Storage("dokument", client=NoSuchKeyClient("AccessDenied")).delete(
            "abcdefghijklmnopqrstuvwx"
        )


# --- changing an open round, on the record ---------------------------------------------


def test_extension_tells_only_those_who_have_not_answered(app, client, auth, make, people):
    official, chair, member, org = people
    quiet_admin = make.user()
    quiet = make.organisation(admin=quiet_admin, name="Tysta föreningen")
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    auth.login(official)
    new = local(timedelta(days=20))
    response = client.post(
        f"/consultations/{round_.id}/change",
        data={"change": "deadline", "closes_at": new, "reason": "Sommaruppehållet"},
    )
    assert response.status_code == 302, text(response)
    assert service.local_input(_db.session.get(ConsultationRound, round_.id).closes_at) == new
    assert kinds_for(quiet_admin).count("consultation_changed") == 1
    assert "consultation_changed" not in kinds_for(chair)
    assert quiet.id
    revision = _db.session.scalar(select(RoundRevision))
    assert (revision.part, revision.reason, revision.changed_by_id) == (
        "closes_at",
        "Sommaruppehållet",
        official.id,
    )
    assert count(AuditEntry, AuditEntry.action == "consultation.deadline.changed") == 1
    page = text(client.get(f"/consultations/{round_.id}"))
    assert 'id="changes"' in page and "Sommaruppehållet" in page and "Changed" in page


def test_shortening_after_a_response_is_refused_with_the_reason(app, client, auth, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, submit=False)
    with in_english(app), pytest.raises(Conflict, match="cannot be brought forward"):
        service.change_deadline(official, round_.id, local(timedelta(days=2)), "Snabbare")
    auth.login(official)
    page = client.post(
        f"/consultations/{round_.id}/change",
        data={"change": "deadline", "closes_at": local(timedelta(days=2)), "reason": "x"},
    )
    assert page.status_code == 409 and "cannot be brought forward" in text(page)
    question = round_.questions[0]
    with in_english(app), pytest.raises(Conflict, match="cannot be removed"):
        service.remove_question(official, round_.id, question.id, "Onödig")
    assert count(RoundRevision) == 0


@pytest.mark.parametrize(
    "lang, question, title", [("en", "Question", "Title"), ("sv", "Fråga", "Rubrik")]
)
def test_the_audit_log_names_the_part_a_correction_changed(
    app, client, auth, make, people, lang, question, title
):
    """The audit log gave a correction's reason as stored: "question-12: Stavfel"."""
    official, _chair, _member, _org = people
    round_ = make_round(app, make, official, "open")
    q = round_.questions[0]
    with app.test_request_context():
        service.revise_text(official, round_.id, f"question-{q.id}", "Vad saknas?!", "Stavfel")
        service.revise_text(official, round_.id, "title", "En ny rubrik", "Kortare")
    auth.login(make.user("admin"))
    page = text(client.get("/moderation/audit", headers={"Accept-Language": lang}))
    assert f"{question}: Stavfel" in page and f"{title}: Kortare" in page
    assert f"question-{q.id}" not in page and "title: Kortare" not in page


def test_text_correction_keeps_the_history(app, client, auth, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    q = round_.questions[0]
    with app.test_request_context():
        service.revise_text(
            official, round_.id, f"question-{q.id}", "Vad saknas i dag?!", "Stavfel"
        )
        service.revise_text(official, round_.id, "background", "Ny bakgrund", "Förtydligande")
    revisions = _db.session.scalars(select(RoundRevision).order_by(RoundRevision.id)).all()
    assert [(r.part, r.before, r.after) for r in revisions] == [
        (f"question-{q.id}", "Vad saknas i dag?", "Vad saknas i dag?!"),
        ("background", "Stadsdelarna har olika behov.", "Ny bakgrund"),
    ]
    assert "consultation_changed" in kinds_for(chair)
    page = text(client.get(f"/consultations/{round_.id}"))
    assert "Stavfel" in page and "Förtydligande" in page and "Vad saknas i dag?!" in page
    with app.test_request_context(), pytest.raises(Invalid):
        service.revise_text(official, round_.id, "background", "Ny bakgrund", "Igen")
    with app.test_request_context(), pytest.raises(Invalid):
        service.revise_text(official, round_.id, "title", "Ny titel", "")  # a reason is needed
    with app.test_request_context(), pytest.raises(Forbidden):
        service.revise_text(chair, round_.id, "title", "Kapad", "x")


def test_inviting_more_tells_the_new_organisation(app, make, people):
    official, chair, member, org = people
    late_admin = make.user()
    late = make.organisation(admin=late_admin, name="Sena föreningen")
    round_ = make_round(app, make, official, "open", audience="invited", invited_ids=[org.id])
    before = kinds_for(chair)
    with app.test_request_context():
        assert service.invite_more(official, round_.id, [late.id], "Glömd") == 1
    assert kinds_for(late_admin) == ["consultation_opened"]
    assert kinds_for(chair) == before
    with app.test_request_context(), pytest.raises(Invalid):
        service.invite_more(official, round_.id, [late.id], "")


# --- reminders ---------------------------------------------------------------------------


def test_manual_reminder_at_most_once_a_day(app, client, auth, make, people):
    official, chair, member, org = people
    answered_admin = make.user()
    answered = make.organisation(admin=answered_admin)
    round_ = make_round(app, make, official, "open")
    respond(app, answered_admin, round_, answered)
    auth.login(official)
    assert client.post(f"/consultations/{round_.id}/remind").status_code == 302
    assert kinds_for(chair).count("consultation_reminder") == 1
    assert "consultation_reminder" not in kinds_for(member)  # admins act
    assert "consultation_reminder" not in kinds_for(answered_admin)
    again = client.post(f"/consultations/{round_.id}/remind")
    assert again.status_code == 409 and "next one can be sent" in text(again)
    assert kinds_for(chair).count("consultation_reminder") == 1
    stored = _db.session.get(ConsultationRound, round_.id)
    stored.manual_reminder_at -= timedelta(days=1, minutes=1)
    _db.session.commit()
    assert client.post(f"/consultations/{round_.id}/remind").status_code == 302
    assert kinds_for(chair).count("consultation_reminder") == 2
    auth.login(chair)
    assert client.post(f"/consultations/{round_.id}/remind").status_code == 403


def test_scheduled_notices_three_days_one_day_and_deadline_once_each(app, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open", closes_at=local(timedelta(days=5)))
    closes = _db.session.get(ConsultationRound, round_.id).closes_at
    with app.test_request_context():
        assert service.send_due_notices(closes - timedelta(days=4)) == 0
        assert service.send_due_notices(closes - timedelta(days=2, hours=23)) == 1
        assert service.send_due_notices(closes - timedelta(days=2)) == 0
        assert service.send_due_notices(closes - timedelta(hours=20)) == 1
        assert service.send_due_notices(closes - timedelta(hours=2)) == 0
        assert service.send_due_notices(closes + timedelta(minutes=1)) == 1
        assert service.send_due_notices(closes + timedelta(hours=1)) == 0
    assert kinds_for(chair).count("consultation_reminder") == 2
    assert "consultation_reminder" not in kinds_for(member)
    assert kinds_for(official).count("consultation_deadline_passed") == 1
    assert "consultation_deadline_passed" not in kinds_for(chair)


def reminded_at(round_) -> dict[str, datetime | None]:
    """The official's overview: each organisation's last reminder."""
    stored = _db.session.get(ConsultationRound, round_.id)
    return {row.organisation.name: row.reminded_at for row in cq.overview(stored)}


@pytest.mark.parametrize("first", ["notices", "command"])
def test_remind_command_and_scheduled_notices_tell_each_admin_once(app, make, people, first):
    """Both jobs from cron: one reminder per step, to the admins who submit, none to decliners."""
    official, chair, member, org = people
    decliner = make.user()
    declined = make.organisation(admin=decliner, name="Avböjarna")
    round_ = make_round(app, make, official, "open", closes_at=local(timedelta(days=2)))
    with app.test_request_context():
        service.decline(decliner, round_.id, declined.id, "Vi har inte resurser")
        jobs = [service.send_due_notices, lambda: service.remind(3)]
        if first == "command":
            jobs.reverse()
        assert [job() for job in jobs] == [1, 0]
        assert service.remind(3) == 0 and service.send_due_notices() == 0
    assert kinds_for(chair).count("consultation_reminder") == 1
    assert "consultation_reminder" not in kinds_for(member)  # the admins submit
    assert "consultation_reminder" not in kinds_for(decliner)
    shown = reminded_at(round_)
    assert shown["Föreningen Gemenskap"] is not None and shown["Avböjarna"] is None
    # the 1-day step is the next reminder, whichever job runs then
    closes = _db.session.get(ConsultationRound, round_.id).closes_at
    with app.test_request_context():
        assert service.remind(3, closes - timedelta(hours=20)) == 1
        assert service.send_due_notices(closes - timedelta(hours=19)) == 0
    assert kinds_for(chair).count("consultation_reminder") == 2


def test_overview_shows_the_officials_reminder(app, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    assert reminded_at(round_) == {"Föreningen Gemenskap": None}
    with app.test_request_context():
        service.send_reminder(official, round_.id)
    sent = _db.session.get(ConsultationRound, round_.id).manual_reminder_at
    assert sent is not None and reminded_at(round_) == {"Föreningen Gemenskap": sent}
    # a later reminder is the one shown
    with app.test_request_context():
        _db.session.get(ConsultationRound, round_.id).manual_reminder_at -= timedelta(days=2)
        _db.session.commit()
        service.send_reminder(official, round_.id)
    later = _db.session.get(ConsultationRound, round_.id).manual_reminder_at
    assert later > sent and reminded_at(round_) == {"Föreningen Gemenskap": later}


# --- who is told when responses move -------------------------------------------------------


def test_draft_tells_the_admin_once_and_submission_tells_the_officials(app, make, people):
    official, chair, member, org = people
    colleague = make.user("official")
    colleague.department_id = official.department_id
    _db.session.commit()
    round_ = make_round(app, make, official, "open")
    respond(app, member, round_, org, submit=False)
    respond(app, member, round_, org, submit=False, text="Ändrat")
    assert kinds_for(chair).count("consultation_response_drafted") == 1  # unread: not again
    assert "consultation_response_drafted" not in kinds_for(member)  # not the writer
    respond(app, chair, round_, org)
    assert kinds_for(official).count("consultation_response_submitted") == 1
    assert kinds_for(colleague).count("consultation_response_submitted") == 1
    assert "consultation_response_submitted" not in kinds_for(chair)
    assert "consultation_response_submitted" not in kinds_for(member)
    mail = [m for m in mails_to(official) if "response arrived" in m.subject]
    assert len(mail) == 1 and "Föreningen Gemenskap" in mail[0].body


def test_mail_has_text_html_and_one_click_unsubscribe(app, client, make, people):
    official, chair, member, org = people
    make_round(app, make, official, "open")
    [mail] = mails_to(chair)
    assert mail.html_body and "<a href=" in mail.html_body
    assert mail.unsubscribe_url and mail.unsubscribe_url in mail.body
    message = build_message(mail, "forum@example.se")
    assert message["List-Unsubscribe"] == f"<{mail.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {p.get_content_type() for p in message.iter_parts()} == {"text/plain", "text/html"}
    path = mail.unsubscribe_url.removeprefix("http://localhost")
    assert (
        client.get(path).status_code == 200
    )  # a page with a button: following a link changes nothing
    assert notifications.preferences(chair)["consultation_opened"] == "immediate"
    assert client.post(path).status_code == 200  # one click, no login, no CSRF token
    assert notifications.preferences(chair)["consultation_opened"] == "in_app"
    assert notifications.preferences(chair)["consultation_reminder"] == "immediate"
    assert client.post("/notifications/unsubscribe/forged-token").status_code == 400


def test_digest_collects_and_mails_once(app, make, people):
    official, chair, member, org = people
    notifications.set_preference(chair, "consultation_opened", "digest")
    notifications.set_preference(chair, "consultation_reminder", "digest")
    _db.session.commit()
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        service.send_reminder(official, round_.id)
    assert mails_to(chair) == []
    assert len(kinds_for(chair)) == 2  # still in the app at once
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notifications", "digest"])
    assert result.exit_code == 0, result.output
    [digest] = mails_to(chair)
    assert "2" in digest.subject and digest.html_body
    assert runner.invoke(args=["notifications", "digest"]).exit_code == 0
    assert len(mails_to(chair)) == 1  # nothing twice


def test_preferences_page(app, client, auth, make):
    person = make.user()
    auth.login(person)
    page = client.get("/notifications/settings")
    assert page.status_code == 200 and 'name="consultation_reminder"' in text(page)
    saved = client.post("/notifications/settings", data={"consultation_reminder": "digest"})
    assert saved.status_code == 302
    assert notifications.preferences(person)["consultation_reminder"] == "digest"
    bad = client.post("/notifications/settings", data={"consultation_reminder": "fax"})
    assert bad.status_code == 400


# --- the outcome first, declines, the remiss list ---------------------------------------------


def test_published_round_opens_with_the_feedback(app, client, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
        q = round_.questions[0]
        service.save_feedback(
            official,
            round_.id,
            {q.id: service.FeedbackInput(heard="Kvällar", action="Öppnar längre")},
            publish=True,
        )
    page = text(client.get(f"/consultations/{round_.id}"))
    assert page.index('id="feedback"') < page.index('id="responses"')
    assert page.index('id="feedback"') < page.index('id="problem-heading"')


def test_changing_published_feedback_is_on_the_record(app, client, auth, make, people):
    """Published feedback can still be corrected, shown at once and nobody told again; but
    the change is on the round's record, with what it said before, who changed it and
    when, as a change to an open round is: what the city said it will do was rewritten
    without a trace."""
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    q = round_.questions[0]
    with app.test_request_context():
        service.close_round(official, round_.id)
        service.save_feedback(
            official,
            round_.id,
            {q.id: service.FeedbackInput(heard="Kvällar", action="Öppnar längre")},
            publish=True,
        )
    told = kinds_for(chair).count("consultation_feedback")
    assert count(RoundRevision) == 0  # writing and publishing are not changes
    auth.login(official)
    form = text(client.get(f"/consultations/{round_.id}/feedback"))
    assert "listed among the round's changes" in form
    digests = dict(re.findall(r'name="(loaded-[a-z]+-\d+)" value="([0-9a-f]*)"', form))
    saved = client.post(
        f"/consultations/{round_.id}/feedback",
        data={
            "csrf_token": next(iter(csrf_tokens(form))),
            "action": "save",
            f"heard-{q.id}": "Kvällar",  # unchanged: not a revision
            f"action-{q.id}": "Öppnar längre, från mars",
            **digests,
        },
    )
    assert saved.status_code == 302
    revisions = _db.session.scalars(select(RoundRevision)).all()
    assert [(r.part, r.before, r.after, r.changed_by_id) for r in revisions] == [
        (f"action-{q.id}", "Öppnar längre", "Öppnar längre, från mars", official.id)
    ]
    assert kinds_for(chair).count("consultation_feedback") == told  # nobody told again
    visitor = english(app.test_client())
    page = text(visitor.get(f"/consultations/{round_.id}"))
    changes = page[page.index('id="changes"') :]
    assert "What the city will do" in changes and "Öppnar längre, från mars" in changes
    assert "Öppnar längre</p>" in changes  # what it said before


def test_a_round_that_opens_later_says_so(app, client, make, people):
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open", opens_at=local(timedelta(days=2)))
    note = _db.session.scalar(select(Notification).where(Notification.user_id == chair.id))
    assert note.excerpt.startswith("Opens ")
    page = text(client.get(f"/consultations/{round_.id}"))
    assert 'id="opens-later"' in page


def test_decline_with_reason_shows_on_the_remiss_list(app, client, auth, make, people):
    official, chair, member, org = people
    quiet = make.organisation(admin=make.user(), name="Tysta föreningen")
    answering_admin = make.user()
    answering = make.organisation(admin=answering_admin, name="Svarande föreningen")
    round_ = make_round(app, make, official, "open")
    letter = documents.add_response_document(
        answering_admin, round_.id, answering.id, "Svar.pdf", PDF
    )
    respond(app, answering_admin, round_, answering)
    auth.login(member)
    refused = client.post(
        f"/consultations/{round_.id}/response",
        data={"organisation_id": org.id, "action": "decline", "decline_reason": "Ej vårt område"},
    )
    assert refused.status_code == 403
    auth.login(chair)
    declined = client.post(
        f"/consultations/{round_.id}/response",
        data={"organisation_id": org.id, "action": "decline", "decline_reason": "Ej vårt område"},
    )
    assert declined.status_code == 302, text(declined)
    with app.test_request_context():
        service.close_round(official, round_.id)
    page = text(client.get(f"/consultations/{round_.id}/compilation"))
    rows = re.findall(r'<tr class="remiss-(\w+)">\s*<td>([^<]+)</td>', page)
    assert sorted(rows) == [
        ("answered", "Svarande föreningen"),
        ("declined", "Föreningen Gemenskap"),
        ("not_answered", "Tysta föreningen"),
    ]
    assert "Ej vårt område" in page and f"/documents/{letter.id}/Svar.pdf" in page
    assert quiet.id


# --- the in-process clock ----------------------------------------------------------------


def test_scheduler_runs_the_digest_once_a_day_after_the_hour(app, make, people):
    from forum import scheduler

    official, chair, member, org = people
    notifications.set_preference(chair, "consultation_opened", "digest")
    _db.session.commit()
    make_round(app, make, official, "open")
    early = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 06:00 in Stockholm
    assert scheduler.run_due_jobs(app, None, early) is None
    assert mails_to(chair) == []
    later = early + timedelta(hours=2)
    assert scheduler.run_due_jobs(app, None, later) == "2026-12-07"
    assert len(mails_to(chair)) == 1 and mails_to(chair)[0].sent_at is not None
    assert scheduler.start(app) is None  # never under TESTING


def test_the_demo_has_a_round_document_and_a_response_letter(app, client):
    from forum.demo import seed_demo

    with app.test_request_context():
        seed_demo()
    round_doc = _db.session.scalar(select(Document).where(Document.response_id.is_(None)))
    letter = _db.session.scalar(select(Document).where(Document.response_id.is_not(None)))
    assert round_doc is not None and letter is not None
    assert round_doc.content_type == letter.content_type == "application/pdf"
    version = _db.session.scalar(
        select(ResponseVersion).where(ResponseVersion.response_id == letter.response_id)
    )
    assert [d.id for d in version.documents] == [letter.id]
    got = client.get(f"/documents/{round_doc.id}/{round_doc.filename}")
    assert got.status_code == 200 and got.data.startswith(b"%PDF-")
    assert client.get(f"/documents/{letter.id}/{letter.filename}").status_code == 200


def test_compilation_as_pdf(app, client, make, people, monkeypatch):
    from forum.web import pdf

    if not pdf.available():  # WeasyPrint missing, or its Pango libraries
        pytest.skip("WeasyPrint cannot run here")
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
    page = text(client.get(f"/consultations/{round_.id}/compilation"))
    assert f'href="/consultations/{round_.id}/compilation.pdf"' in page
    fetched = []
    static_only = pdf._static_only
    monkeypatch.setattr(pdf, "_static_only", lambda url: fetched.append(url) or static_only(url))
    got = client.get(f"/consultations/{round_.id}/compilation.pdf")
    assert got.status_code == 200 and got.data.startswith(b"%PDF-")
    # its stylesheets by their versioned addresses (?v=), found as the files they name
    sheets = {urlsplit(url).path: urlsplit(url).query for url in fetched}
    assert {"/static/css/site.css", "/static/css/consultation.css"} <= set(sheets)
    assert all(query.startswith("v=") for query in sheets.values()), fetched
    assert got.headers["Content-Disposition"].startswith("attachment;")
    draft = make_round(app, make, official, "draft")
    assert client.get(f"/consultations/{draft.id}/compilation.pdf").status_code == 404


def test_pdf_fetches_only_the_apps_static_files(app):
    from forum.web import pdf

    css = pdf._static_only("http://localhost/static/css/consultation.css")
    assert css["mime_type"] == "text/css" and b"@media print" in css["string"]
    versioned = pdf._static_only("http://localhost/static/css/consultation.css?v=0123456789ab")
    assert versioned == css
    for url in (
        "http://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
        "http://localhost/static/../forum/config.py",
        "http://localhost/documents/1/x.pdf",
    ):
        with pytest.raises(ValueError):
            pdf._static_only(url)


def test_round_page_and_remiss_list_queries_do_not_grow(app, client, make, count_queries):
    official = make.user("official")
    counts: dict[str, list[int]] = {"page": [], "list": []}
    for n in (1, 4):
        admins = [make.user() for _ in range(n)]
        orgs = [make.organisation(admin=a, name=f"Förening {n}-{i}") for i, a in enumerate(admins)]
        round_ = make_round(app, make, official, "open")
        documents.add_round_document(official, round_.id, "Underlag.pdf", PDF)
        for i, (admin, org) in enumerate(zip(admins, orgs, strict=True)):
            documents.add_response_document(admin, round_.id, org.id, f"Brev {i}.pdf", PDF)
            respond(app, admin, round_, org)
        with app.test_request_context():
            service.revise_text(official, round_.id, "background", f"Ny {n}", "Rättelse")
            service.close_round(official, round_.id)
        _db.session.expire_all()
        for key, path in (
            ("page", f"/consultations/{round_.id}"),
            ("list", f"/consultations/{round_.id}/compilation"),
        ):
            with count_queries() as counter:
                assert client.get(path).status_code == 200
            counts[key].append(counter.count)
            _db.session.expire_all()
    assert counts["page"][0] == counts["page"][1], counts
    assert counts["list"][0] == counts["list"][1], counts


@pytest.mark.pdf_tools
def test_pdf_preview_when_poppler_tools_are_present(
    app, client, make, people, tmp_path, monkeypatch
):
    official, *_ = people
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "pdfinfo").write_text("#!/bin/sh\necho 'Title: x'\necho 'Pages:          3'\n")
    (tools / "page.png").write_bytes(png)
    # pdftoppm ... -singlefile <in.pdf> <out>: writes <out>.png
    (tools / "pdftoppm").write_text(
        f'#!/bin/sh\nfor last; do :; done\ncp "{tools / "page.png"}" "$last.png"\n'
    )
    for tool in ("pdfinfo", "pdftoppm"):
        (tools / tool).chmod(0o755)
    monkeypatch.setattr(documents.shutil, "which", lambda name: str(tools / name))
    round_ = make_round(app, make, official, "open")
    document = documents.add_round_document(official, round_.id, "Karta.pdf", PDF)
    assert document.page_count == 3 and document.preview_key
    got = client.get(f"/documents/{document.id}/preview/first-page.png")
    assert got.status_code == 200 and got.data == png
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    page = text(client.get(f"/consultations/{round_.id}"))
    assert "3 pages" in page and f"/documents/{document.id}/preview/first-page.png" in page


@pytest.mark.parametrize("answer", ["\u2067\u2069", "\u200b \u200b", "\u202e"])
def test_an_answer_of_nothing_visible_is_refused_not_counted_as_given(app, make, people, answer):
    """An answer made only of characters drawn as nothing (bidi controls, zero-width
    spaces) counted as answered for the submission; the officials read a blank. Refused
    on its question's field, naming the character; an answer with text around such a
    character is kept."""
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    first = round_.questions[0]
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        service.save_response(chair, round_.id, org.id, {first.id: answer}, submit=False)
    assert refused.value.field == f"answer-{first.id}"
    assert "U+" in refused.value.message
    with app.test_request_context():
        kept = service.save_response(
            chair, round_.id, org.id, {first.id: f"Ja{answer}tack"}, submit=False
        )
    assert {a.body for a in kept.answers} == {f"Ja{answer}tack"}
