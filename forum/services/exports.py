"""Exports: archives of public records, a person's own data, and CSV for Swedish Excel.

An archive (a forum, a thread or a consultation round) is one self-contained zip:
`data.json` for machines, `index.html` that opens in a browser with no server, and
`manifest.json` with the SHA-256 of every file. Hidden messages are included and
marked, with their moderation record: hidden is not destroyed.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import re
import secrets
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar

from flask import Flask, current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from .. import policy
from ..errors import NotFound
from ..extensions import db
from ..formatting import STOCKHOLM, in_language_of, iso_utc
from ..links import url_for_mail
from ..models import (
    ActionKind,
    AuditEntry,
    ConsultationRound,
    Document,
    Flag,
    Forum,
    Message,
    MessageRevision,
    MessageState,
    ModerationAction,
    PersonalExport,
    RoundState,
    Thread,
    User,
    Visibility,
)
from ..models.base import utcnow
from ..queries import consultations as consultation_queries
from ..queries import payloads
from . import documents
from .audit import record as audit
from .mail import queue_mail

log = logging.getLogger(__name__)

EXPORT_DAYS = 7
# A ready copy younger than this is the answer to asking again: nothing is built or mailed.
# After it, a new copy is made, and once ready it replaces the old one.
KEEP_READY = timedelta(hours=1)
# A copy whose build failed this many times is given up (status "failed"): the person's
# page says so and they may ask again; the job goes on with everyone else's.
MAX_BUILD_ATTEMPTS = 3
# How long a worker holds a copy it prepares; a claim that runs out (the worker died) frees it.
CLAIM = timedelta(minutes=15)
ARCHIVE_KINDS = ("forum", "thread", "round")
CHUNK = 1024 * 1024  # how much of a file goes into the zip (and its hash) at a time
# What the audit log records of flags hiding a message and a moderator dismissing them.
FLAG_ACTIONS = ("message.auto_hidden", "flags.dismissed")
# The moderation actions that are decisions about a message (a restore is a hide's reversal).
MESSAGE_ACTIONS = (ActionKind.hide, ActionKind.redact)
# What the audit log records of moderators changing a thread itself.
THREAD_ACTIONS = ("thread.renamed", "thread.locked", "thread.unlocked", "thread.moved")
# How many rows of a forum's archive are fetched at a time (its messages above all).
ROWS_AT_A_TIME = 1000

Row = TypeVar("Row")


# --- archives of public records ---------------------------------------------------


def _thread_records(which: ColumnElement[bool]) -> list[dict[str, Any]]:
    """The archive's record of every thread `which` selects (a forum's, or one thread), in
    the same number of queries however many threads, messages and moves there are: each
    kind of row is read for all the threads at once (through a subquery of their ids, not a
    list of them) and grouped here by thread and message."""
    threads = db.session.scalars(
        select(Thread).options(joinedload(Thread.forum)).where(which).order_by(Thread.id)
    ).all()
    if not threads:
        return []
    thread_ids = select(Thread.id).where(which)
    message_ids = select(Message.id).where(Message.thread_id.in_(thread_ids))
    revisions = _revisions(message_ids)
    moderation = _message_moderation(message_ids)
    flags = _flags(message_ids)
    changes = _thread_moderation(threads, thread_ids)
    # last: the messages are streamed, and nothing else is read while they are
    messages = _messages(thread_ids, revisions, moderation, flags)
    return [
        {
            "id": thread.id,
            "title": thread.title,
            "forum_id": thread.forum_id,
            "created_at": iso_utc(thread.created_at),
            "locked": thread.locked,
            "archived": thread.archived,
            "moderation": changes[thread.id],
            "messages": messages.get(thread.id, []),
        }
        for thread in threads
    ]


def _revisions(message_ids: Select[int]) -> dict[int, list[dict[str, Any]]]:
    """Each message's earlier versions, oldest first."""
    revisions: dict[int, list[dict[str, Any]]] = {}
    for r in _streamed(
        select(MessageRevision)
        .where(
            MessageRevision.message_id.in_(message_ids),
            # a moderator's redaction keeps the original for admins only, not for the record
            MessageRevision.admin_only.is_(False),
        )
        .order_by(MessageRevision.id)
    ):
        revisions.setdefault(r.message_id, []).append(
            {
                "html": r.html,
                "created_at": iso_utc(r.created_at),
                "replaced_at": iso_utc(r.replaced_at),
            }
        )
    return revisions


def _message_moderation(message_ids: Select[int]) -> dict[int, list[dict[str, Any]]]:
    """Each message's moderation record, in time order: moderators' decisions about it, and
    what the audit log holds of flags hiding it."""
    moderation: dict[int, list[dict[str, Any]]] = {}
    for a in _streamed(
        select(ModerationAction)
        .options(joinedload(ModerationAction.principle))
        .where(
            ModerationAction.message_id.in_(message_ids),
            # decisions about the message itself; a warning, mute or suspension naming it
            # is addressed to the person, privately, and is no part of the public record
            ModerationAction.kind.in_(MESSAGE_ACTIONS),
        )
        .order_by(ModerationAction.id)
    ):
        moderation.setdefault(a.message_id or 0, []).append(
            {
                "kind": str(a.kind.value if hasattr(a.kind, "value") else a.kind),
                "reason": payloads.decision_reason(a.principle, a.reason),
                "actor_id": a.actor_id,
                "created_at": iso_utc(a.created_at),
                "reversed_at": iso_utc(a.reversed_at),
            }
        )
    # Flags hide a message with no moderator's action: the log holds that step (and a
    # moderator's dismissing of the flags), and the flags say why, as reason codes only
    # (who flagged and their notes are not part of the public record).
    for e in _streamed(
        select(AuditEntry)
        .where(
            AuditEntry.target_type == "message",
            AuditEntry.target_id.in_(message_ids),
            AuditEntry.action.in_(FLAG_ACTIONS),
        )
        .order_by(AuditEntry.id)
    ):
        moderation.setdefault(e.target_id or 0, []).append(
            {
                "kind": e.action,
                "reason": e.reason,
                "actor_id": e.actor_id,
                "created_at": iso_utc(e.created_at),
                "reversed_at": None,
            }
        )
    for entries in moderation.values():
        entries.sort(key=lambda entry: entry["created_at"] or "")
    return moderation


def _flags(message_ids: Select[int]) -> dict[int, list[dict[str, Any]]]:
    """Each message's flags: the reason codes and what became of them, not who or why."""
    flags: dict[int, list[dict[str, Any]]] = {}
    for f in _streamed(select(Flag).where(Flag.message_id.in_(message_ids)).order_by(Flag.id)):
        flags.setdefault(f.message_id, []).append(
            {
                "reason": f.reason.value,
                "created_at": iso_utc(f.created_at),
                "resolved_at": iso_utc(f.resolved_at),
                "resolution": f.resolution,
            }
        )
    return flags


def _messages(
    thread_ids: Select[int],
    revisions: dict[int, list[dict[str, Any]]],
    moderation: dict[int, list[dict[str, Any]]],
    flags: dict[int, list[dict[str, Any]]],
) -> dict[int, list[dict[str, Any]]]:
    """Each thread's messages as the archive writes them, in order, with their revisions,
    moderation and flags. The rows are streamed: a forum's many messages are never held
    as rows beside the records made of them."""
    messages: dict[int, list[dict[str, Any]]] = {}
    for m in _streamed(
        select(Message)
        .options(joinedload(Message.author), joinedload(Message.hidden_principle))
        .where(Message.thread_id.in_(thread_ids))
        .order_by(Message.thread_id, Message.id)
    ):
        messages.setdefault(m.thread_id, []).append(
            {
                "id": m.id,
                "author": {"id": m.author_id, "display_name": m.author.display_name},
                "state": m.state.value,
                "hidden_reason": payloads.hidden_reason_in_both(m.hidden_principle, m.hidden_reason)
                if m.state == MessageState.hidden
                else None,
                "html": m.html,
                "created_at": iso_utc(m.created_at),
                "edited_at": iso_utc(m.edited_at),
                "deleted_at": iso_utc(m.deleted_at),
                "reply_to": m.reply_to_id,
                "revisions": revisions.get(m.id, []),
                "moderation": moderation.get(m.id, []),
                "flags": flags.get(m.id, []),
            }
        )
    return messages


def _streamed(query: Select[Row]) -> Iterator[Row]:
    """The rows of `query`, fetched ROWS_AT_A_TIME at a time (a server-side cursor on
    PostgreSQL), so that only the records made of them pile up, not the rows as well."""
    return iter(db.session.scalars(query.execution_options(yield_per=ROWS_AT_A_TIME)))


def _forums(ids: set[int]) -> dict[int, Forum]:
    """The forums of these ids that exist, in one query (none for no ids)."""
    if not ids:
        return {}
    return {f.id: f for f in db.session.scalars(select(Forum).where(Forum.id.in_(ids)))}


def _names_other(archived: Forum, other: Forum | None) -> bool:
    """Whether an archive of `archived` may name `other` (its title, a thread's title there):
    only when everyone who reads the one reads the other too."""
    if other is None:
        return False
    if other.id == archived.id or other.visibility == Visibility.public:
        return True
    return other.visibility == Visibility.members and archived.visibility != Visibility.public


def _renamed_to(entries: list[AuditEntry], title: str) -> dict[int, str]:
    """Each rename's new title, never the old one (a rename is how a moderator takes away a
    title that names someone). A rename's reason reads "old → new"; walking back from the
    title the thread has now gives every new title exactly, whatever arrows a title holds."""
    out: dict[int, str] = {}
    for entry in reversed(entries):
        reason = entry.reason or ""
        if reason.endswith(f" → {title}"):
            out[entry.id] = title
            title = reason.removesuffix(f" → {title}")
        else:  # the title changed some other way since: the part after the last arrow
            out[entry.id] = reason.rsplit(" → ", 1)[-1] if " → " in reason else ""
            title = ""
    return out


def _thread_moderation(
    threads: Sequence[Thread], thread_ids: Select[int]
) -> dict[int, list[dict[str, Any]]]:
    """Each thread's moderators' changes to the thread itself, as the audit log recorded
    them (`_thread_changes`), read for all the threads at once."""
    entries: dict[int, list[AuditEntry]] = {thread.id: [] for thread in threads}
    for entry in db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.target_type == "thread",
            AuditEntry.target_id.in_(thread_ids),
            AuditEntry.action.in_(THREAD_ACTIONS),
        )
        .order_by(AuditEntry.id)
    ):
        if entry.target_id in entries:
            entries[entry.target_id].append(entry)
    moved_to = _forums(
        {
            e.forum_id
            for listed in entries.values()
            for e in listed
            if e.action == "thread.moved" and e.forum_id
        }
    )
    return {thread.id: _thread_changes(thread, entries[thread.id], moved_to) for thread in threads}


def _thread_changes(
    thread: Thread, entries: list[AuditEntry], forums: dict[int, Forum]
) -> list[dict[str, Any]]:
    """A thread's changes by moderators: a rename with the new title only, a move with the
    forum's title only when the archive's readers can all read that forum (otherwise its
    id). `forums` holds every forum a move names that still exists."""
    new_titles = _renamed_to([e for e in entries if e.action == "thread.renamed"], thread.title)
    out: list[dict[str, Any]] = []
    for e in entries:
        record: dict[str, Any] = {
            "action": e.action,
            "reason": e.reason,
            "actor_id": e.actor_id,
            "created_at": iso_utc(e.created_at),
        }
        if e.action == "thread.renamed":
            record["reason"], record["title"] = "", new_titles[e.id]
        elif e.action == "thread.moved":
            record["forum_id"] = e.forum_id
            other = forums.get(e.forum_id) if e.forum_id else None
            if not _names_other(thread.forum, other):
                record["reason"] = ""
        out.append(record)
    return out


def _moved_out(forum: Forum, present: set[int]) -> list[dict[str, Any]]:
    """Threads moved out of the forum (and not back): where to and when, not their messages.
    Into a forum some of this one's readers cannot read: the ids and the time only.

    A move is logged as two entries in a row: under the old forum ("from …"), then under the
    new one ("to …"); the latest move out of this forum of each thread is listed. The moves
    come with the threads' titles, and their destinations are read together.
    """
    moves = db.session.execute(
        select(AuditEntry, Thread.title)
        .outerjoin(Thread, Thread.id == AuditEntry.target_id)
        .where(
            AuditEntry.target_type == "thread",
            AuditEntry.action == "thread.moved",
            AuditEntry.target_id.in_(
                select(AuditEntry.target_id).where(
                    AuditEntry.action == "thread.moved", AuditEntry.forum_id == forum.id
                )
            ),
        )
        .order_by(AuditEntry.id)
    ).all()
    by_thread: dict[int, list[AuditEntry]] = {}
    titles: dict[int, str | None] = {}
    for entry, title in moves:
        if entry.target_id is not None and entry.target_id not in present:
            by_thread.setdefault(entry.target_id, []).append(entry)
            titles[entry.target_id] = title
    last_moves: list[tuple[int, AuditEntry, AuditEntry]] = []
    for thread_id, entries in sorted(by_thread.items()):
        pairs = list(zip(entries[::2], entries[1::2], strict=False))
        last = next((p for p in reversed(pairs) if p[0].forum_id == forum.id), None)
        if last is not None:
            last_moves.append((thread_id, *last))
    destinations = _forums({to.forum_id for _id, _moved, to in last_moves if to.forum_id})
    out: list[dict[str, Any]] = []
    for thread_id, moved, to in last_moves:
        destination = destinations.get(to.forum_id) if to.forum_id else None
        named = _names_other(forum, destination)
        out.append(
            {
                "id": thread_id,
                "title": (titles[thread_id] or "") if named else "",  # None: the thread is gone
                "moved_at": iso_utc(moved.created_at),
                "to_forum": {
                    "id": to.forum_id,
                    "title": destination.title if destination is not None and named else "",
                },
            }
        )
    return out


def _document_record(document: Document) -> dict[str, Any]:
    """A document as the archive lists it; `path` is where its bytes are in the zip."""
    return {
        "id": document.id,
        "filename": document.filename,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "uploaded_at": iso_utc(document.created_at),
        "path": f"documents/{document.id}/{document.filename}",
    }


def _round_record(round_: ConsultationRound) -> dict[str, Any]:
    # the city's feedback once published, as on the round's page, its CSV and the API: a
    # draft saved but not published is not the round's feedback
    published = round_.state == RoundState.published
    feedback = consultation_queries.feedback_by_question(round_.id) if published else {}
    return {
        "id": round_.id,
        "title": round_.title,
        "department": round_.department.name,
        "state": round_.state.value,
        "problem_html": round_.problem_html,
        "background_html": round_.background_html,
        "opens_at": iso_utc(round_.opens_at),
        "closes_at": iso_utc(round_.closes_at),
        "feedback_published_at": iso_utc(round_.feedback_published_at),
        "questions": [
            {"id": q.id, "position": q.position, "text": q.text} for q in round_.questions
        ],
        "documents": [_document_record(d) for d in consultation_queries.round_documents(round_.id)],
        "responses": [
            {
                "organisation": p.organisation.name,
                "organisation_number": p.organisation.org_number,
                "version": p.version.number,
                "submitted_at": iso_utc(p.version.submitted_at),
                "answers": {str(k): v for k, v in p.answers.items()},
                "documents": [_document_record(d) for d in p.version.documents],
            }
            for p in consultation_queries.latest_versions(round_.id)
        ],
        "feedback": [
            {
                "question_id": qid,
                "heard_html": f.heard_html,
                "action_html": f.action_html,
                "source_response_ids": [r.id for r in f.sources],
            }
            for qid, f in sorted(feedback.items())
        ],
        "discussion": _discussion(round_.thread_id),
    }


def _discussion(thread_id: int | None) -> dict[str, Any] | None:
    records = _thread_records(Thread.id == thread_id) if thread_id else []
    return records[0] if records else None


def archive_record(kind: str, object_id: int) -> dict[str, Any]:
    """The archive's data for a forum, a thread or a round."""
    if kind == "thread":
        records = _thread_records(Thread.id == object_id)
        if not records:
            raise NotFound(_("No such thread."))
        return {"thread": records[0]}
    if kind == "forum":
        forum = db.session.get(Forum, object_id)
        if forum is None:
            raise NotFound(_("No such forum."))
        threads = _thread_records(Thread.forum_id == forum.id)
        return {
            "forum": {
                "id": forum.id,
                "slug": forum.slug,
                "title": forum.title,
                "description_html": forum.description_html,
                "visibility": forum.visibility.value,
                "threads": threads,
                "moved_out": _moved_out(forum, {t["id"] for t in threads}),
            }
        }
    if kind == "round":
        round_ = db.session.get(ConsultationRound, object_id)
        if round_ is None:
            raise NotFound(_("No such consultation round."))
        return {"round": _round_record(round_)}
    raise NotFound(_("Nothing here."))


def _document_files(record: dict[str, Any]) -> list[tuple[str, Callable[[], bytes | None]]]:
    """Every document a round's archive lists, under its `path`, read when it is written
    (one whose bytes storage no longer has is marked missing in `record` instead)."""
    round_ = record.get("round")
    if round_ is None:
        return []
    listed = [*round_["documents"], *(d for r in round_["responses"] for d in r["documents"])]
    found = {
        d.id: d
        for d in db.session.scalars(
            select(Document).where(Document.id.in_([d["id"] for d in listed]))
        )
    }
    return [(d["path"], partial(_document_bytes, found[d["id"]], d)) for d in listed]


def _document_bytes(document: Document, listed: dict[str, Any]) -> bytes | None:
    """The document's bytes; None, and `listed` marked missing, when storage has none for
    it (deleted, a restore without it; `documents.content` logs it): the archive says so
    rather than failing. Any other failure of the storage (down, refused) fails the
    export, so present is never missing."""
    try:
        return documents.content(document)
    except NotFound:
        listed["missing"] = True
        return None


def _write_zip(
    target: IO[bytes],
    files: Iterable[tuple[str, Callable[[], bytes | None]]],
    meta: dict[str, Any],
) -> None:
    """Write the zip into `target` one file at a time (only one document is ever in memory),
    hashing each while it is written, and the manifest of those hashes last. A file whose
    `load` gives None is not there to write: the manifest lists it under `missing`."""
    hashes: dict[str, str] = {}
    missing: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, load in files:
            loaded = load()
            if loaded is None:
                missing.append(name)
                continue
            data = memoryview(loaded)
            digest = hashlib.sha256()
            with archive.open(name, "w", force_zip64=len(data) >= zipfile.ZIP64_LIMIT) as out:
                for start in range(0, len(data), CHUNK):
                    piece = data[start : start + CHUNK]
                    digest.update(piece)
                    out.write(piece)
            hashes[name] = digest.hexdigest()
            del data, loaded
        manifest = {**meta, "files": dict(sorted(hashes.items()))}
        if missing:
            manifest["missing"] = missing
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))


def _given(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def build_archive(actor: User | None, kind: str, object_id: int) -> tuple[str, IO[bytes]]:
    """(file name, the zip) of an archive export; admins only, and logged once it is built.

    The zip is an anonymous temporary file, rewound: the system removes it when it is closed
    (sending it as the response closes it), so no archive is ever held in memory whole. The
    documents go in first, so that data.json and index.html, written after them, can say
    which of them storage no longer had.
    """
    policy.require(policy.can_administer(actor))
    record = archive_record(kind, object_id)
    created = utcnow()

    def data() -> bytes:
        return json.dumps(record, indent=2, ensure_ascii=False).encode()

    def html() -> bytes:
        return render_template(
            "exports/archive.html", record=record, kind=kind, created_at=iso_utc(created)
        ).encode()

    meta = {"kind": kind, "id": object_id, "created_at": iso_utc(created), "format": 1}
    files = [*_document_files(record), ("data.json", data), ("index.html", html)]
    target = tempfile.TemporaryFile()  # noqa: SIM115 — the caller closes it (sending it)
    try:
        _write_zip(target, files, meta)
        target.seek(0)
        audit(actor, "archive.export", kind, object_id)
        db.session.commit()
    except BaseException:
        target.close()
        raise
    return f"dialogforum-{kind}-{object_id}.zip", target


# --- a person's own data -----------------------------------------------------------


def exports_dir() -> Path:
    path = Path(current_app.instance_path) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _waiting(now: datetime) -> ColumnElement[bool]:
    """A copy to prepare: pending, or running under a claim that has run out (its worker
    died: killed, or the server restarted) or that predates claims."""
    return or_(
        PersonalExport.status == "pending",
        and_(
            PersonalExport.status == "running",
            or_(PersonalExport.claimed_until.is_(None), PersonalExport.claimed_until <= now),
        ),
    )


def ready_copy(user_id: int) -> PersonalExport | None:
    """The person's ready copy whose link still works: unexpired, its file on this host."""
    export = db.session.scalar(
        select(PersonalExport)
        .where(
            PersonalExport.user_id == user_id,
            PersonalExport.status == "ready",
            PersonalExport.expires_at > utcnow(),
        )
        .order_by(PersonalExport.id.desc())
        .limit(1)
    )
    if export is None or not export.file_name:
        return None
    return export if (exports_dir() / export.file_name).is_file() else None


def latest_copy(user_id: int) -> PersonalExport | None:
    """What the person's settings page tells of their copy: one being prepared after their
    ready one (they asked anew), else the ready one, else the newest given up. An expired
    or replaced copy is nothing to tell."""
    newest = db.session.scalar(
        select(PersonalExport)
        .where(
            PersonalExport.user_id == user_id,
            PersonalExport.status.in_(("pending", "running", "failed")),
        )
        .order_by(PersonalExport.id.desc())
        .limit(1)
    )
    ready = ready_copy(user_id)
    if ready is None or (newest is not None and newest.id > ready.id and newest.status != "failed"):
        return newest
    return ready


def request_personal_export(user: User | None) -> PersonalExport:
    """Ask for "download my data"; it is prepared in the background and mailed as a link.

    A ready copy made less than KEEP_READY ago is returned as it is (status "ready"):
    nothing is built or mailed again, whoever asks how often. Asking again while a copy is
    prepared gets that one: the database holds one pending or running copy a person (a
    partial unique index), so requests at once (a double click) make one copy and one
    mail. A copy whose worker died is pending again; one given up is forgotten.
    """
    user = policy.require_login(user)
    user_id = user.id
    recent = ready_copy(user_id)
    if recent is not None and recent.ready_at and recent.ready_at > utcnow() - KEEP_READY:
        return recent
    for _attempt in range(3):
        waiting = db.session.scalar(
            select(PersonalExport).where(
                PersonalExport.user_id == user_id,
                PersonalExport.status.in_(("pending", "running")),
            )
        )
        if waiting is not None:
            db.session.execute(
                update(PersonalExport)
                .where(
                    PersonalExport.id == waiting.id,
                    PersonalExport.status == "running",
                    _waiting(utcnow()),
                )
                .values(status="pending", claimed_until=None)
            )
            db.session.commit()
            return waiting
        db.session.execute(
            delete(PersonalExport).where(
                PersonalExport.user_id == user_id, PersonalExport.status == "failed"
            )
        )
        export = PersonalExport(user_id=user_id)
        db.session.add(export)
        try:
            db.session.commit()
        except IntegrityError:  # another request made it meanwhile: that one it is
            db.session.rollback()
            continue
        return export
    # Each time, the copy that stood in the way was finished (and mailed) in between: that one.
    latest = db.session.scalar(
        select(PersonalExport)
        .where(PersonalExport.user_id == user_id)
        .order_by(PersonalExport.id.desc())
        .limit(1)
    )
    assert latest is not None
    return latest


def _claim(export_id: int) -> bool:
    """Take a waiting export for this worker until `now + CLAIM`; of workers racing for it,
    exactly one wins."""
    now = utcnow()
    claimed = db.session.execute(
        update(PersonalExport)
        .where(PersonalExport.id == export_id, _waiting(now))
        .values(status="running", claimed_until=now + CLAIM)
    )
    db.session.commit()
    return bool(getattr(claimed, "rowcount", 0))


def prepare_personal_export(export_id: int) -> str | None:
    """Build the zip, store it, mail the expiring link; returns the link's secret (tests).

    A build that raises counts as a failed attempt (given up after MAX_BUILD_ATTEMPTS);
    one stopped from outside (the worker killed, the process ending) does not.
    """
    if not _claim(export_id):
        return None
    try:
        return _build_personal_export(export_id)
    except Exception:
        _release(export_id, failed=True)
        raise
    except BaseException:
        _release(export_id, failed=False)
        raise


def _release(export_id: int, failed: bool) -> None:
    """Hand a copy whose build stopped back: pending for the next run, or given up (status
    "failed", kept EXPORT_DAYS for the person's page to say so) after its last attempt."""
    db.session.rollback()
    attempts = PersonalExport.attempts + (1 if failed else 0)
    db.session.execute(
        update(PersonalExport)
        .where(PersonalExport.id == export_id)
        .values(
            attempts=attempts,
            status=case((attempts >= MAX_BUILD_ATTEMPTS, "failed"), else_="pending"),
            expires_at=case(
                (attempts >= MAX_BUILD_ATTEMPTS, utcnow() + timedelta(days=EXPORT_DAYS)),
                else_=None,
            ),
            claimed_until=None,
        )
    )
    db.session.commit()


def _build_personal_export(export_id: int) -> str:
    from .privacy import personal_data

    export = db.session.get(PersonalExport, export_id)
    assert export is not None
    user = db.session.get(User, export.user_id)
    assert user is not None
    data = personal_data(user)
    sections = [
        (name, json.dumps(value, indent=2, ensure_ascii=False)) for name, value in data.items()
    ]
    html = render_template("exports/personal.html", sections=sections).encode()
    raw = secrets.token_urlsafe(32)
    name = f"personal-{export.id}-{secrets.token_hex(8)}.zip"
    path = exports_dir() / name
    try:
        with path.open("wb") as target:
            _write_zip(
                target,
                [
                    ("data.json", _given(json.dumps(data, indent=2, ensure_ascii=False).encode())),
                    ("index.html", _given(html)),
                ],
                {
                    "kind": "personal",
                    "user_id": user.id,
                    "created_at": iso_utc(utcnow()),
                    "format": 1,
                },
            )
        _record_ready(export, user, name, raw)
    except BaseException:
        _unlink(path)  # e.g. the account was closed meanwhile: no copy outlives it
        raise
    return raw


def _record_ready(export: PersonalExport, user: User, name: str, raw: str) -> None:
    """Mark the copy ready and mail its link; the person's older ready copies expire with
    it (files deleted once that is committed), so nobody holds two."""
    now = utcnow()
    replaced = db.session.scalars(
        select(PersonalExport).where(
            PersonalExport.user_id == user.id,
            PersonalExport.id != export.id,
            PersonalExport.status == "ready",
            PersonalExport.expires_at > now,
        )
    ).all()
    for old in replaced:
        old.expires_at = now
    export.status = "ready"
    export.claimed_until = None
    export.file_name = name
    export.token_hash = hashlib.sha256(raw.encode()).hexdigest()
    export.ready_at = now
    export.expires_at = now + timedelta(days=EXPORT_DAYS)
    link = url_for_mail("privacy.download_export", token=raw)
    # in the person's language, not the job's: the background thread, `flask exports run`
    # and the scheduler write in the site's, a request in the page's
    with in_language_of(user):
        subject = _("Your data from Dialogforum")
        body = _(
            "The copy of your data is ready. Download it within %(days)d days (log in first):\n\n%(link)s",
            days=EXPORT_DAYS,
            link=link,
        )
    queue_mail(user.email, subject, body)
    db.session.commit()
    for old in replaced:
        if old.file_name:
            _unlink(exports_dir() / old.file_name)  # else expired: the next run tries again


def run_pending_exports() -> int:
    """Prepare every waiting export, oldest first (the background job; also `flask exports
    run`); returns how many were prepared. A copy that fails is logged and left for the
    next run (until given up), and the others are prepared all the same."""
    remove_expired_exports()  # first: a copy that fails to build must not keep these
    ids = db.session.scalars(
        select(PersonalExport.id).where(_waiting(utcnow())).order_by(PersonalExport.id)
    ).all()
    prepared = 0
    for export_id in ids:
        try:
            prepared += prepare_personal_export(export_id) is not None
        except Exception:
            log.exception("personal export %s could not be prepared", export_id)
    return prepared


def remove_expired_exports() -> int:
    """Delete the files and rows of copies whose link has expired, and any file whose row is
    gone (a closed account's, or one a crash left behind); returns how many copies went. A
    file that cannot be deleted is logged and tried again next run (its expired row kept),
    and holds up no other."""
    expired = db.session.scalars(
        select(PersonalExport).where(PersonalExport.expires_at <= utcnow())
    ).all()
    removed = 0
    for export in expired:
        if export.file_name and not _unlink(exports_dir() / export.file_name):
            continue
        db.session.delete(export)
        removed += 1
    db.session.commit()
    known = set(db.session.scalars(select(PersonalExport.id)))
    for path in exports_dir().glob("personal-*.zip"):
        export_id = _export_id(path)
        if export_id is not None and export_id not in known:
            _unlink(path)
    return removed


def _unlink(path: Path) -> bool:
    """Delete a copy's file (one not there is done); False, and logged, when it cannot be
    deleted now (a permission refused): what is kept makes remove_expired_exports try again
    (an expired row, or a file whose row is gone)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        log.warning("could not delete %s (tried again next run): %s", path.name, err)
        return False
    return True


def _export_id(path: Path) -> int | None:
    """The PersonalExport id in a copy's file name (personal-<id>-<random>.zip)."""
    match = re.fullmatch(r"personal-(\d+)-[0-9a-f]+\.zip", path.name)
    return int(match.group(1)) if match else None


def remove_export_files(export_ids: list[int]) -> None:
    """Delete the files of these copies (after their rows went, when an account is closed)."""
    wanted = set(export_ids)
    for path in exports_dir().glob("personal-*.zip"):
        if _export_id(path) in wanted:
            _unlink(path)  # else its row is gone: remove_expired_exports tries again


def start_in_background(app: Flask) -> None:
    """Run the pending exports on a thread of this process (the request returns at once)."""

    def work() -> None:
        with app.app_context():
            run_pending_exports()
            db.session.remove()

    threading.Thread(target=work, name="personal-exports", daemon=True).start()


def personal_export_file(user: User | None, raw: str) -> IO[bytes]:
    """The file behind a link, opened (the caller sends and closes it): the owner's, not
    expired; NotFound otherwise. A copy whose file is gone (deleted, or built on another
    host) is answered the same, and expires: it is not offered again."""
    user = policy.require_login(user)
    digest = hashlib.sha256((raw or "").encode()).hexdigest()
    export = db.session.scalar(select(PersonalExport).where(PersonalExport.token_hash == digest))
    gone = NotFound(_("This link has expired or is not yours. Ask for a new copy."))
    if (
        export is None
        or export.user_id != user.id
        or export.expires_at is None
        or export.expires_at <= utcnow()
        or not export.file_name
    ):
        raise gone
    try:
        return (exports_dir() / export.file_name).open("rb")
    except FileNotFoundError:
        log.warning("personal export %s has no file here; marked expired", export.id)
        export.expires_at = utcnow()
        db.session.commit()
        raise gone from None


# --- CSV for Swedish Excel and LibreOffice ------------------------------------------

# A cell holding either list separator, a quote or a line break is written in quotes, in
# both files: a spreadsheet that splits the file at the other separator (Swedish Excel
# opening our comma file at ";") keeps a cell whole when it begins with the quote. Only a
# number with the other file's separator as its decimal comma ("12,5" in the ";" file) is
# left bare, so that it stays a number; a cell holding the file's own delimiter, a quote or
# a line break is always quoted ("12,5" bare in the comma file was two cells). The text
# itself is never changed beyond the leading apostrophe on a formula-like cell.
_NEEDS_QUOTES = re.compile(r'[,;"\r\n]')
_ALWAYS_QUOTED = re.compile(r'["\r\n]')
_NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")
_ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|\+00:00)$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")


def _quoted(cell: str, delimiter: str) -> bool:
    if delimiter in cell or _ALWAYS_QUOTED.search(cell):
        return True
    return bool(_NEEDS_QUOTES.search(cell)) and not _NUMBER.match(cell)


def csv_line(cells: Iterable[str], delimiter: str) -> str:
    """One CSV row: a cell with a separator of either kind, a quote or a line break in
    quotes (quotes doubled); only a number whose decimal comma is not `delimiter` bare."""
    return (
        delimiter.join(
            f'"{cell.replace(chr(34), chr(34) * 2)}"' if _quoted(cell, delimiter) else cell
            for cell in cells
        )
        + "\r\n"
    )


def excel_cell(value: str, time: bool = False) -> str:
    """A cell as Swedish Excel reads it: local time (in a column of the app's own times,
    `time`: not an answer that only looks like one), decimal comma."""
    if time and _ISO_UTC.match(value):
        with contextlib.suppress(ValueError):  # 2025-02-29T10:00Z stays as written
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    if _DECIMAL.match(value):
        return value.replace(".", ",")
    return value


def excel_csv(text: str) -> bytes:
    """Our comma CSV as UTF-8 with BOM, semicolons, decimal commas and local times."""
    lines = []
    times: set[int] = set()  # the columns of the app's own times: "Submitted (UTC)"
    for number, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff")))):
        if number == 0:
            times = {i for i, c in enumerate(row) if "(UTC)" in c}
            lines.append(csv_line([c.replace("(UTC)", _("(Swedish time)")) for c in row], ";"))
        else:
            cells = [excel_cell(cell, i in times) for i, cell in enumerate(row)]
            lines.append(csv_line(cells, ";"))
    return ("\ufeff" + "".join(lines)).encode("utf-8")
