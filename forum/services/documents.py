"""Documents on rounds and responses: checked by content, stored under random names.

A file is accepted only if its bytes say it is one of the allowed kinds (PDF,
ODT, DOCX, XLSX, PNG, JPEG); the name the uploader gave decides nothing. The
zip-based formats are opened and checked for their declared type (ODF's
`mimetype` entry, OOXML's `[Content_Types].xml`) with limits on the number of
entries and their total uncompressed size, so a zip bomb is refused unread.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import re
import secrets
import shutil
import subprocess  # noqa: S404 - poppler's tools, fixed arguments, no shell
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update

from .. import policy
from ..errors import Conflict, DomainError, Invalid, NotFound
from ..extensions import db
from ..models import (
    ConsultationResponse,
    ConsultationRound,
    Document,
    FileDeletion,
    Phase,
    RoundState,
    User,
)
from ..models.base import utcnow
from ..models.documents import version_documents
from ..queries.consultations import get_round
from ..queries.organisations import get_organisation
from . import audit
from .consultations import _require_open, _response_row, record_document_change, tell_drafted
from .storage import no_such_object, storage
from .transaction import lock_row

MAX_ZIP_ENTRIES = 2_000
MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024
MAX_MIMETYPE_ENTRY = 200  # ODF's `mimetype` entry holds one short line (about 40 bytes)
MAX_CONTENT_TYPES_ENTRY = 1_000_000
MAX_NAME = 150
PREVIEW_TIMEOUT = 20
FILE_DELETIONS_PER_RUN = 100


@dataclass(frozen=True)
class Kind:
    """An accepted type: its MIME type and the extension the download gets."""

    mimetype: str
    extension: str
    label: str


PDF = Kind("application/pdf", "pdf", "PDF")
PNG = Kind("image/png", "png", "PNG")
JPEG = Kind("image/jpeg", "jpg", "JPEG")
ODT = Kind("application/vnd.oasis.opendocument.text", "odt", "ODT")
DOCX = Kind(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "DOCX"
)
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "XLSX")
OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
}
ACCEPT = ".pdf,.odt,.docx,.xlsx,.png,.jpg,.jpeg"


# What zipfile raises on a damaged or unusual archive, opening it or reading an entry.
DAMAGED_ZIP = (
    zipfile.BadZipFile,  # a bad header, directory or CRC
    zlib.error,  # a damaged deflate stream
    lzma.LZMAError,  # a damaged LZMA stream (bzip2's is an OSError)
    EOFError,  # a compressed stream cut short
    RuntimeError,  # encrypted
    NotImplementedError,  # an unknown compression method or zip version
    ValueError,
    OSError,
)


def _refuse() -> Invalid:
    return Invalid(
        _("That file type is not accepted. Upload a PDF, ODT, DOCX, XLSX, PNG or JPEG file."),
        field="file",
    )


def _read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, limit: int) -> bytes:
    """The entry's bytes, refused when it declares or unpacks to more than `limit`: never
    more than `limit` + 1 bytes are inflated, whatever its header says."""
    if entry.file_size > limit:
        raise _refuse()
    with archive.open(entry) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise _refuse()
    return data


def _zip_kind(data: bytes) -> Kind:
    """ODT, DOCX or XLSX by what the archive declares inside; bombs and others refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except DAMAGED_ZIP:
        raise _refuse() from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise Invalid(_("The file has too many parts to be checked."), field="file")
    if sum(e.file_size for e in entries) > MAX_ZIP_UNCOMPRESSED:
        raise Invalid(_("The file unpacks to more than can be checked."), field="file")
    names = {e.filename: e for e in entries}
    try:
        if entries and entries[0].filename == "mimetype":
            mimetype = _read_entry(archive, entries[0], MAX_MIMETYPE_ENTRY)
            declared = mimetype.decode("ascii", "replace").strip()
            if declared == ODT.mimetype:
                return ODT
            raise _refuse()
        if "[Content_Types].xml" in names:
            content_types = names["[Content_Types].xml"]
            types = _read_entry(archive, content_types, MAX_CONTENT_TYPES_ENTRY).decode(
                "utf-8", "replace"
            )
            for main in re.findall(r'ContentType="([^"]+)"', types):
                if main in OOXML_MAIN:
                    return OOXML_MAIN[main]
    except DAMAGED_ZIP:
        raise _refuse() from None
    raise _refuse()


def sniff(data: bytes) -> Kind:
    """The accepted kind the bytes are, by their content; else Invalid."""
    if data.startswith(b"%PDF-"):
        # a PDF ends with %%EOF (within its last 1024 bytes, as readers look for it): a copy
        # cut off half-way, or another file that begins so, is refused, not published broken
        if b"%%EOF" not in data[-1024:]:
            raise _refuse()
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    raise _refuse()


def clean_filename(name: str, kind: Kind) -> str:
    """A safe download name: letters (å ä ö too), digits, space, . - _; the kind's extension."""
    text = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    stem = text.rsplit(".", 1)[0] if "." in text else text
    stem = re.sub(r"[^\w .-]", "_", stem, flags=re.UNICODE)
    # cut to length first, so the cut never leaves a trailing space, dot or dash
    stem = re.sub(r"\s+", " ", stem)[:MAX_NAME].strip(" ._-") or _("document")
    return f"{stem}.{kind.extension}"


# --- preview (poppler-utils, when present) ------------------------------------


def pdf_preview(data: bytes) -> tuple[int | None, bytes | None]:
    """(page count, first page as PNG) with pdfinfo/pdftoppm; (None, None) without them."""
    pdfinfo, pdftoppm = shutil.which("pdfinfo"), shutil.which("pdftoppm")
    if not pdfinfo or not pdftoppm:
        return None, None
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(data)
        try:
            info = subprocess.run(  # noqa: S603
                [pdfinfo, str(source)],
                capture_output=True,
                timeout=PREVIEW_TIMEOUT,
                check=False,
            )
            match = re.search(rb"^Pages:\s+(\d+)", info.stdout, re.MULTILINE)
            pages = int(match[1]) if match else None
            subprocess.run(  # noqa: S603
                [pdftoppm, "-png", "-f", "1", "-l", "1", "-scale-to", "800", "-singlefile"]
                + [str(source), str(Path(folder) / "page")],
                capture_output=True,
                timeout=PREVIEW_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None, None
        image = Path(folder) / "page.png"
        return pages, image.read_bytes() if image.exists() else None


# --- upload and removal ---------------------------------------------------------


def _limits(data: bytes) -> None:
    max_mb = current_app.config["FORUM_DOCUMENT_MAX_MB"]
    if len(data) > max_mb * 1024 * 1024:
        raise Invalid(_("The file is larger than %(n)d MB.", n=max_mb), field="file")
    if not data:
        raise Invalid(_("Choose a file to upload."), field="file")


def _count_check(query) -> None:  # noqa: ANN001
    most = current_app.config["FORUM_DOCUMENT_MAX_COUNT"]
    count = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if count >= most:
        raise Invalid(_("At most %(n)d documents. Remove one first.", n=most), field="file")


def _refuse_duplicate(round_: ConsultationRound, response_id: int | None, data: bytes) -> None:
    """The same file twice on the round (or on one response) is refused, naming the first.

    Final only after the parent row is locked (`_store`'s `lock`): two uploads at once
    would both pass it otherwise."""
    digest = hashlib.sha256(data).hexdigest()
    owner = (
        Document.response_id.is_(None)
        if response_id is None
        else Document.response_id == response_id
    )
    existing = db.session.scalar(
        select(Document.filename)
        .where(
            Document.round_id == round_.id,
            owner,
            Document.sha256 == digest,
            Document.removed_at.is_(None),
        )
        .limit(1)
    )
    if existing is not None:
        raise Invalid(
            _("This file is already attached, as “%(name)s”.", name=existing), field="file"
        )


def _store(
    user: User,
    round_: ConsultationRound,
    filename: str,
    data: bytes,
    response_id: int | None,
    lock: Callable[[], None],
) -> Document:
    """Check, store and record the file. `lock` locks the row the document goes on (and
    makes the checks that must hold at that moment): the duplicate check is made again
    after it, so of two uploads of one file at once the second is refused. A round's
    document has its slow part (the PDF preview, the bytes to storage) before the lock,
    which is then held only to commit; a response's row is already locked by
    `_response_row` (which may have to make it), and its documents get no preview."""
    kind = sniff(data)
    _refuse_duplicate(round_, response_id, data)  # at once, before the slow part
    key = secrets.token_urlsafe(24)
    pages, image = pdf_preview(data) if kind is PDF and response_id is None else (None, None)
    storage().put(key, data, kind.mimetype)
    preview_key = None
    if image is not None:
        preview_key = secrets.token_urlsafe(24)
        storage().put(preview_key, image, "image/png")
    try:
        lock()
        _refuse_duplicate(round_, response_id, data)
    except DomainError:
        # refused: nothing of the upload is kept (as the caller's rollback would), and the
        # bytes just stored are listed and deleted, or deleted later if storage fails now
        db.session.rollback()
        stored = _list_for_deletion([key, preview_key])
        db.session.commit()
        _delete_now(stored)
        raise
    document = Document(
        round_id=round_.id,
        response_id=response_id,
        filename=clean_filename(filename, kind),
        content_type=kind.mimetype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=key,
        preview_key=preview_key,
        page_count=pages,
        uploaded_by_id=user.id,
    )
    db.session.add(document)
    db.session.flush()
    return document


def _round_for(user: User | None, round_id: int) -> ConsultationRound:
    return get_round(user, round_id)


def _require_round_documents_open(round_: ConsultationRound) -> None:
    """The round's own documents change until its feedback is published; then they are
    the record the feedback answers (adding and removing alike: Conflict)."""
    if round_.state == RoundState.published:
        raise Conflict(_("The feedback is published; the round's documents are final."))


def add_round_document(user: User | None, round_id: int, filename: str, data: bytes) -> Document:
    """An official attaches a document to the round (its basis: a draft, a memo, a map)."""
    policy.require_login(user)
    assert user is not None
    round_ = _round_for(user, round_id)
    policy.require(
        policy.can_manage_round(user, round_),
        _("Only officials of the round's department can do that."),
    )
    _require_round_documents_open(round_)
    _limits(data)
    count = select(Document.id).where(
        Document.round_id == round_.id,
        Document.response_id.is_(None),
        Document.removed_at.is_(None),
    )
    _count_check(count)

    def lock() -> None:
        # the round's row: one upload (or publication of the feedback) at a time
        lock_row(ConsultationRound, round_id)
        _require_round_documents_open(round_)
        _count_check(count)

    document = _store(user, round_, filename, data, None, lock)
    audit.record(user, "consultation.document.added", "consultation", round_.id, document.filename)
    record_document_change(round_, user, document.filename, added=True)
    db.session.commit()
    return document


def add_response_document(
    user: User | None, round_id: int, organisation_id: int, filename: str, data: bytes
) -> Document:
    """A member attaches a document (a signed letter) to the organisation's working response."""
    policy.require_login(user)
    assert user is not None
    round_ = _round_for(user, round_id)
    org = get_organisation(organisation_id)
    policy.require(
        policy.can_draft_response(user, round_, org),
        _("Only members of a verified organisation that the round asks can respond for it."),
    )
    _require_open(round_, utcnow())
    _limits(data)
    response = _response_row(round_, org)  # its row locked
    count = select(Document.id).where(
        Document.response_id == response.id, Document.removed_at.is_(None)
    )
    _count_check(count)
    document = _store(user, round_, filename, data, response.id, lambda: _count_check(count))
    response.updated_at = utcnow()
    response.updated_by_id = user.id
    name, filename = user.display_name, document.filename
    tell_drafted(
        round_,
        org,
        user,
        lambda: _(
            "%(name)s attached “%(file)s” to the draft. Read it and submit it before the deadline.",
            name=name,
            file=filename,
        ),
    )
    db.session.commit()
    return document


def remove_document(user: User | None, document_id: int) -> Document:
    """Take a document off the round or the working response (submitted versions keep it)."""
    policy.require_login(user)
    assert user is not None
    # A response's letter: the response's row first, as a submission takes it before it
    # lists the letters into its version. The other order (the letter, then the response's
    # row for its `updated_at`) met a submission holding the row and waiting for the letter:
    # PostgreSQL ended one of them as a deadlock. Now the removal comes after the
    # submission's commit and finds the letter in its version (its file kept), or before.
    found = db.session.get(Document, document_id)
    if found is not None and found.response_id is not None:
        lock_row(ConsultationResponse, found.response_id)
    # locked and read afresh: of two removals at once, the second finds it removed
    document = lock_row(Document, document_id)
    if document is None or document.removed_at is not None:
        raise NotFound(_("No such document."))
    round_ = _round_for(user, document.round_id)
    if document.response_id is None:
        policy.require(
            policy.can_manage_round(user, round_),
            _("Only officials of the round's department can do that."),
        )
        # the round's row, read afresh: as for an upload, the feedback published at this
        # moment makes the documents final before or after this, not during it
        lock_row(ConsultationRound, round_.id)
        _require_round_documents_open(round_)
        audit.record(
            user, "consultation.document.removed", "consultation", round_.id, document.filename
        )
        record_document_change(round_, user, document.filename, added=False)
    else:
        response = db.session.get(ConsultationResponse, document.response_id)
        assert response is not None
        policy.require(
            policy.can_draft_response(user, round_, response.organisation),
            _("Only members of a verified organisation that the round asks can respond for it."),
        )
        _require_open(round_, utcnow())
        response.updated_at = utcnow()
        response.updated_by_id = user.id
        name, filename = user.display_name, document.filename
        tell_drafted(
            round_,
            response.organisation,
            user,
            lambda: _(
                "%(name)s removed “%(file)s” from the draft. Read it and submit it before the "
                "deadline.",
                name=name,
                file=filename,
            ),
        )
    document.removed_at = utcnow()
    # nobody else ever saw it: a draft round's basis, or a letter in no submitted version;
    # its files are listed with the removal, so a delete that fails is tried again
    gone = (
        _list_for_deletion([document.storage_key, document.preview_key])
        if _withdrawn(document, round_)
        else []
    )
    db.session.commit()
    _delete_now(gone)  # after the commit: never a listed document without its bytes
    return document


def _in_versions(document: Document) -> bool:
    """Whether a submitted version of a response holds the document."""
    found = db.session.scalar(
        select(version_documents.c.version_id)
        .where(version_documents.c.document_id == document.id)
        .limit(1)
    )
    return found is not None


def _withdrawn(document: Document, round_: ConsultationRound) -> bool:
    """policy.document_withdrawn, with whether a submitted version holds the document."""
    in_versions = document.response_id is not None and _in_versions(document)
    return policy.document_withdrawn(document, round_, in_versions)


# --- deleting stored files ------------------------------------------------------


def _list_for_deletion(keys: list[str | None]) -> list[str]:
    """List the files of `keys` (None: none) for deletion, in the caller's transaction."""
    listed = [key for key in keys if key is not None]
    db.session.add_all([FileDeletion(storage_key=key) for key in listed])
    return listed


def _delete_now(keys: list[str]) -> None:
    """Delete the files just listed (committed): at once, or, if that fails, at a later run
    of delete_pending_files. Never an error: what the caller did is committed."""
    if not keys:
        return
    try:
        delete_pending_files(keys=keys)
    except Exception:  # noqa: BLE001 - the listing stands; the job deletes them later
        db.session.rollback()
        current_app.logger.exception("could not delete the stored files %s now", keys)


def _still_used(keys: Collection[str]) -> set[str]:
    """Those of `keys` that a document not withdrawn (live, kept on the record, or held by
    a submitted version) has as its file or its preview: one query for all the keys."""
    if not keys:
        return set()
    users = db.session.scalars(
        select(Document).where(or_(Document.storage_key.in_(keys), Document.preview_key.in_(keys)))
    ).all()
    used: set[str] = set()
    for document in users:
        round_ = db.session.get(ConsultationRound, document.round_id)
        if round_ is None or not _withdrawn(document, round_):
            used.update(k for k in (document.storage_key, document.preview_key) if k and k in keys)
    return used


def delete_pending_files(
    limit: int = FILE_DELETIONS_PER_RUN, keys: Collection[str] | None = None
) -> tuple[int, int]:
    """Delete the listed files (FileDeletion), at most `limit` a run, those tried fewest
    times first, so a file that keeps failing holds up no other; `keys`: only these.
    Returns (deleted, failed). A delete that fails is logged and counted, and the file stays
    listed for the next run (the scheduler's tick, `flask documents delete-files`). A file a
    document still uses is never deleted: its listing is dropped, with an error in the log.
    Two runs at once delete a file twice at worst (deleting is idempotent)."""
    query = select(FileDeletion).order_by(FileDeletion.attempts, FileDeletion.id).limit(limit)
    if keys is not None:
        query = query.where(FileDeletion.storage_key.in_(keys))
    rows = [(row.id, row.storage_key) for row in db.session.scalars(query)]
    used = _still_used({key for _id, key in rows})
    done: list[int] = []
    failed: list[int] = []
    deleted = 0
    for row_id, key in rows:
        if key in used:
            current_app.logger.error(
                "the stored file %s is listed for deletion but a document uses it: kept", key
            )
            done.append(row_id)
            continue
        try:
            storage().delete(key)
        except Exception as err:  # noqa: BLE001 - one file's failure must not stop the others
            current_app.logger.warning(
                "could not delete the stored file %s (tried again later): %r", key, err
            )
            failed.append(row_id)
        else:
            done.append(row_id)
            deleted += 1
    if done:
        db.session.execute(delete(FileDeletion).where(FileDeletion.id.in_(done)))
    if failed:
        db.session.execute(
            update(FileDeletion)
            .where(FileDeletion.id.in_(failed))
            .values(attempts=FileDeletion.attempts + 1)
        )
    db.session.commit()
    return deleted, len(failed)


# --- reading ------------------------------------------------------------------


def readable(user: User | None, document_id: int) -> Document:
    """The document if the user may read it (policy.can_read_document), else NotFound."""
    document = db.session.get(Document, document_id)
    if document is None:
        raise NotFound(_("No such document."))
    round_ = db.session.get(ConsultationRound, document.round_id)
    response = (
        db.session.get(ConsultationResponse, document.response_id)
        if document.response_id is not None
        else None
    )
    if round_ is None or not policy.can_read_document(user, round_, response, document):
        raise NotFound(_("No such document."))
    return document


def content(document: Document, preview: bool = False) -> bytes:
    """The document's bytes (or its preview's). NotFound, with a warning in the log, when
    storage has none under its key (a partial restore, a lost disk or bucket): a "no such
    document" page, not a 500 on every request for it. Any other failure of the storage
    (down, refused) is an error."""
    key = document.preview_key if preview else document.storage_key
    if key is None:
        raise NotFound(_("No such document."))
    try:
        return storage().get(key)
    except FileNotFoundError:
        pass
    except Exception as err:
        if not no_such_object(err):
            raise
    current_app.logger.warning(
        "document %s: its %s %s is missing from storage",
        document.id,
        "preview" if preview else "file",
        key,
    )
    raise NotFound(_("No such document."))


def is_public_phase(round_: ConsultationRound) -> bool:
    return round_.phase(utcnow()) in (Phase.closed, Phase.published)
