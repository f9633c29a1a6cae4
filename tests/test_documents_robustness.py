"""Documents: a damaged archive is refused as a file type (never a 500), and a published
round's documents are final for removal as for adding."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from consultation_support import english, make_round, respond
from support import Auth

from forum.demo.pdf import simple_pdf
from forum.errors import Conflict, Invalid
from forum.extensions import db
from forum.models import Document
from forum.services import consultations as service
from forum.services import documents
from forum.services.storage import DiskStorage

TYPES_NAME = "[Content_Types].xml"
DOCX_TYPES = (
    b'<?xml version="1.0"?><Types><Override PartName="/word/document.xml" ContentType='
    b'"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    + b" " * 500
    + b"</Types>"
)
NOT_ACCEPTED = "That file type is not accepted"


@pytest.fixture(autouse=True)
def _setup(app, client, tmp_path):
    english(client)
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")


def docx(compression: int = zipfile.ZIP_DEFLATED) -> bytearray:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        archive.writestr(TYPES_NAME, DOCX_TYPES)
    return bytearray(out.getvalue())


def data_start() -> int:
    """Where the first entry's compressed bytes begin (after its 30-byte local header)."""
    return 30 + len(TYPES_NAME)


def damaged_deflate() -> bytes:
    data = docx()
    data[data_start()] = data[data_start() + 1] = 0xFF  # an invalid block type: zlib.error
    return bytes(data)


def cut_short_deflate() -> bytes:
    """The stream ends early but the sizes still say it is whole: EOFError."""
    data = docx()
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    kept = info.compress_size // 2
    body = data[data_start() : data_start() + kept] + b"\0" * (info.compress_size - kept)
    # a stored block header claiming more than there is ends the stream early
    body[kept - 1 : kept + 4] = b"\x00\xff\xff\x00\x00"
    data[data_start() : data_start() + info.compress_size] = body
    return bytes(data)


def unknown_compression() -> bytes:
    data = docx()
    struct.pack_into("<H", data, 8, 99)  # the local header's method: unknown
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 10, 99)
    return bytes(data)


def future_zip_version() -> bytes:
    data = docx()
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 6, 99)  # "version needed to extract": 9.9
    return bytes(data)


DAMAGED = [damaged_deflate, cut_short_deflate, unknown_compression, future_zip_version]


def test_the_undamaged_archive_is_a_docx():
    assert documents.sniff(bytes(docx())) is documents.DOCX


@pytest.mark.parametrize("damage", DAMAGED)
def test_a_damaged_archive_is_refused_as_a_file_type(app, damage):
    with pytest.raises(Invalid) as refused:
        documents.sniff(damage())
    assert refused.value.field == "file"


@pytest.mark.parametrize("damage", DAMAGED)
def test_uploading_a_damaged_archive_answers_400(app, client, make, damage):
    official = make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official, state="open")
    Auth(client).login(official)
    response = client.post(
        f"/consultations/{round_.id}/documents",
        data={"file": (io.BytesIO(damage()), "brev.docx")},
    )
    assert response.status_code == 400
    assert NOT_ACCEPTED in response.get_data(as_text=True)
    assert db.session.query(Document).count() == 0


# --- a published round's documents are final -------------------------------------------


@pytest.fixture
def published(app, make):
    """A published round with one document of its own; (official, round, document)."""
    official = make.user("official")
    chair = make.user(name="Olle")
    org = make.organisation(admin=chair, name="Föreningen")
    round_ = make_round(app, make, official, state="open")
    with app.test_request_context():
        document = documents.add_round_document(
            official, round_.id, "underlag.pdf", simple_pdf(["x"])
        )
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
        question = round_.questions[0]
        service.save_feedback(
            official, round_.id, {question.id: service.FeedbackInput(heard="h")}, publish=True
        )
    return official, round_, document


def test_a_published_rounds_document_cannot_be_removed(app, published):
    official, _round, document = published
    with app.test_request_context(headers={"Accept-Language": "en"}), pytest.raises(Conflict):
        documents.remove_document(official, document.id)
    db.session.rollback()
    assert db.session.get(Document, document.id).removed_at is None


def test_removing_from_a_published_round_answers_409_like_adding(app, client, published):
    official, round_, document = published
    Auth(client).login(official)
    removed = client.post(f"/consultations/{round_.id}/documents/{document.id}/remove")
    added = client.post(
        f"/consultations/{round_.id}/documents",
        data={"file": (io.BytesIO(simple_pdf(["y"])), "ny.pdf")},
    )
    assert removed.status_code == added.status_code == 409
    assert "documents are final" in removed.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Document, document.id).removed_at is None


def test_an_open_rounds_document_can_still_be_removed(app, client, make):
    official = make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official, state="open")
    with app.test_request_context():
        document = documents.add_round_document(
            official, round_.id, "underlag.pdf", simple_pdf(["x"])
        )
    Auth(client).login(official)
    response = client.post(f"/consultations/{round_.id}/documents/{document.id}/remove")
    assert response.status_code == 302
    assert db.session.get(Document, document.id).removed_at is not None
