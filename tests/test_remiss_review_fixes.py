"""Fixes from the remiss review: a response document taken out before the response was
submitted again is not published with the round; a zip's `mimetype` entry is never
inflated whole; a NUL or bidi control in a round's question is a field error on the form
(what was typed kept, nothing stored), not a bare error page."""

from __future__ import annotations

import html
import io
import tracemalloc
import zipfile
from datetime import timedelta

import pytest
from consultation_support import english, in_english, local, make_round
from sqlalchemy import func, select

from forum.demo.pdf import simple_pdf
from forum.errors import Invalid
from forum.extensions import db
from forum.models import ConsultationQuestion, ConsultationRound, Document
from forum.services import consultations as service
from forum.services import documents
from forum.services.storage import DiskStorage

NOT_ACCEPTED = "That file type is not accepted"
ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"


@pytest.fixture(autouse=True)
def _setup(app, client, tmp_path):
    english(client)
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")


# --- a superseded response document ---------------------------------------------------


@pytest.fixture
def superseded(app, make):
    """A round whose organisation submitted a letter in version 1, took it out and
    submitted version 2 with another: (round, official, org admin, org member, other
    organisation's admin, the old letter, the new one)."""
    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    member = make.user(name="Mira Medlem")
    org = make.organisation(admin=chair, members=[member], name="Föreningen Gemenskap")
    outsider = make.user(name="Otto Utomstående")
    make.organisation(admin=outsider, name="Andra föreningen")
    round_ = make_round(app, make, official, "open")
    answers = {q.id: "Svar" for q in round_.questions}
    with app.test_request_context():
        old = documents.add_response_document(
            chair, round_.id, org.id, "Brev med nummer.pdf", simple_pdf(["070-1234567"])
        )
        service.save_response(chair, round_.id, org.id, answers, submit=True)
        documents.remove_document(chair, old.id)
        new = documents.add_response_document(
            chair, round_.id, org.id, "Brev.pdf", simple_pdf(["utan nummer"])
        )
        service.save_response(chair, round_.id, org.id, answers, submit=True)
    return round_, official, chair, member, outsider, old, new


def _status(client, auth, user, document: Document) -> int:
    if user is None:
        auth.logout()
    else:
        auth.login(user)
    return client.get(f"/documents/{document.id}/{document.filename}").status_code


def test_a_superseded_document_is_not_published_when_the_round_closes(
    app, client, auth, superseded
):
    round_, official, chair, member, outsider, old, new = superseded
    with app.test_request_context():
        service.close_round(official, round_.id)
    readers = {
        "visitor": None,
        "other organisation": outsider,
        "organisation member": member,
        "organisation admin": chair,
        "round official": official,
    }
    got = {
        who: (_status(client, auth, u, old), _status(client, auth, u, new))
        for who, u in readers.items()
    }
    assert got == {
        "visitor": (404, 200),
        "other organisation": (404, 200),
        "organisation member": (200, 200),
        "organisation admin": (200, 200),
        "round official": (200, 200),
    }
    # what the round's page and the API list for a visitor is what a visitor may download
    auth.logout()
    page = client.get(f"/consultations/{round_.id}").get_data(as_text=True)
    assert f"/documents/{new.id}/" in page and f"/documents/{old.id}/" not in page
    items = client.get(f"/api/v1/consultations/{round_.id}/responses").get_json()["items"]
    assert [[d["id"] for d in item["documents"]] for item in items] == [[new.id]]


def test_before_the_round_closes_only_the_organisation_and_officials_read_them(
    app, client, auth, superseded
):
    _round, official, chair, member, outsider, old, new = superseded
    got = {
        who: (_status(client, auth, u, old), _status(client, auth, u, new))
        for who, u in {
            "visitor": None,
            "other organisation": outsider,
            "organisation member": member,
            "round official": official,
        }.items()
    }
    assert got == {
        "visitor": (404, 404),
        "other organisation": (404, 404),
        "organisation member": (200, 200),
        "round official": (200, 200),
    }


# --- a zip's mimetype entry ----------------------------------------------------------------


def _zip(first: str, content: bytes, *others: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(first, content)
        for name, data in others:
            archive.writestr(name, data)
    return out.getvalue()


def _mimetype_bomb(megabytes: int = 64) -> bytes:
    """A small upload whose first entry, `mimetype`, unpacks to `megabytes` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("mimetype", "w", force_zip64=False) as entry:
            chunk = b"\0" * (1 << 20)
            for _ in range(megabytes):
                entry.write(chunk)
    return out.getvalue()


def test_an_odt_is_still_known_by_its_mimetype_entry(app):
    assert documents.sniff(_zip("mimetype", ODT_MIMETYPE, ("content.xml", b"<o/>"))) is (
        documents.ODT
    )


def test_an_oversized_mimetype_entry_is_refused_as_a_file_type(app):
    padded = ODT_MIMETYPE + b" " * 300  # the right type, in an entry no ODT has
    with in_english(app), pytest.raises(Invalid) as refused:
        documents.sniff(_zip("mimetype", padded, ("content.xml", b"<o/>")))
    assert refused.value.field == "file" and NOT_ACCEPTED in refused.value.message


def test_a_mimetype_bomb_is_refused_without_being_unpacked(app):
    data = _mimetype_bomb()
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        with in_english(app), pytest.raises(Invalid) as refused:
            documents.sniff(data)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.field == "file" and NOT_ACCEPTED in refused.value.message
    assert peak < 8 * 1024 * 1024  # the archive itself and a few small reads, not 64 MB


def test_uploading_a_mimetype_bomb_answers_400_cheaply(app, client, auth, make):
    official = make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official, "open")
    auth.login(official)
    data = _mimetype_bomb()
    tracemalloc.start()
    try:
        response = client.post(
            f"/consultations/{round_.id}/documents",
            data={"file": (io.BytesIO(data), "brev.odt")},
        )
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert NOT_ACCEPTED in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert peak < 24 * 1024 * 1024


# --- NUL and bidi controls in a round's questions ---------------------------------------


def _round_form(make, **overrides) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Parker i ytterstaden",
        "problem": "Hur används parkerna?",
        "background": "Bakgrund som skrevs in",
        "stage": "problem",
        "decision_date": "",
        "audience": "all_verified",
        "opens_at": local(-timedelta(hours=1)),
        "closes_at": local(timedelta(days=5)),
        "question-1": "Vilka parker besöker ni?",
        "guidance-1": "Tänk på kvällar",
        "question-2": "Vad saknas?",
        "guidance-2": "",
        "commitments": [str(i) for i in make.commitment_ids(1)],
    }
    data.update(overrides)
    return data


BAD_QUESTIONS = [
    pytest.param("question-2", "Vad\x00 saknas?", "Question 2 contains a NUL character.", id="nul"),
    pytest.param(
        "guidance-1", "Tänk\x00 på kvällar", "Question 1 contains a NUL character.", id="nul-guide"
    ),
    pytest.param(
        "question-2",
        "Vad saknas? \u202etxt.exe",
        "Contains an invisible or control character (U+202E).",
        id="bidi",
    ),
]


def _assert_form_kept(body: str, message: str, field: str, typed: str) -> None:
    assert f'<p class="error" id="questions-error">{html.escape(message)}</p>' in body
    assert 'value="Parker i ytterstaden"' in body or ">Parker i ytterstaden<" in body
    assert "Hur används parkerna?" in body and "Bakgrund som skrevs in" in body
    assert "Vilka parker besöker ni?" in body
    assert f'name="{field}" rows="2" maxlength="2000">{html.escape(typed, quote=False)}<' in body


@pytest.mark.parametrize(("field", "typed", "message"), BAD_QUESTIONS)
def test_a_bad_character_in_a_new_rounds_question_keeps_the_form(
    app, client, auth, make, field, typed, message
):
    official = make.user("official")
    auth.login(official)
    response = client.post("/consultations/new", data=_round_form(make, **{field: typed}))
    assert response.status_code == 400
    _assert_form_kept(response.get_data(as_text=True), message, field, typed)
    assert db.session.scalar(select(func.count()).select_from(ConsultationRound)) == 0
    assert db.session.scalar(select(func.count()).select_from(ConsultationQuestion)) == 0


@pytest.mark.parametrize(("field", "typed", "message"), BAD_QUESTIONS)
def test_a_bad_character_in_an_edited_rounds_question_keeps_the_form(
    app, client, auth, make, field, typed, message
):
    official = make.user("official")
    round_ = make_round(app, make, official, "draft")
    round_id, title = round_.id, round_.title
    stored = [(q.text, q.guidance) for q in round_.questions]
    auth.login(official)
    response = client.post(
        f"/consultations/{round_id}/edit", data=_round_form(make, **{field: typed})
    )
    assert response.status_code == 400
    _assert_form_kept(response.get_data(as_text=True), message, field, typed)
    db.session.expire_all()
    round_ = db.session.get(ConsultationRound, round_id)
    assert round_.title == title
    assert [(q.text, q.guidance) for q in round_.questions] == stored


def test_the_service_refuses_a_nul_in_a_question_on_the_questions_field(app, make):
    official = make.user("official")
    with in_english(app), pytest.raises(Invalid) as err:
        service.create_round(
            official,
            service.RoundInput(
                title="Runda",
                problem="Problem",
                commitment_ids=make.commitment_ids(1),
                opens_at=local(-timedelta(hours=1)),
                closes_at=local(timedelta(days=5)),
                questions=[("Fr\x00åga", "")],
            ),
        )
    assert err.value.field == "questions"
    db.session.rollback()
