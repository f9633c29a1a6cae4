"""Keeps the search index current in the same transaction as every write.

An ORM `after_flush` hook sees each new, changed or deleted message, thread,
forum, round, response version (or a changed answer in one), feedback,
organisation and action, whichever service wrote it, and rewrites its `search_entries` row
(with its terms: the FTS5 row on SQLite, the `document` tsvector on PostgreSQL, both from
forum/stemming.py) on the flush's own connection: the index commits or rolls back with
the write. The text indexed is always taken from the stored, sanitised HTML.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Text,
    bindparam,
    cast,
    column,
    delete,
    event,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session, scoped_session

from .. import stemming
from ..models import (
    Action,
    ConsultationFeedback,
    ConsultationQuestion,
    ConsultationRound,
    Forum,
    Message,
    Organisation,
    ResponseVersion,
    SearchEntry,
    Thread,
    VersionAnswer,
)
from ..models.consultations import ConsultationResponse
from ..text import plain_text

Key = tuple[str, int]

# The attributes whose change alters what an object's entry says.
WATCHED: dict[type, tuple[str, tuple[str, ...]]] = {
    Message: ("message", ("html", "thread_id")),
    Thread: ("thread", ("title", "forum_id")),
    Forum: ("forum", ("title", "description_html")),
    ConsultationRound: ("round", ("title", "problem_html", "background_html", "department_id")),
    ConsultationFeedback: ("feedback", ("heard_html", "action_html")),
    Organisation: ("organisation", ("name", "description")),
    Action: (
        "action",
        ("title", "description_html", "owner_department_id", "owner_organisation_id"),
    ),
}


def _changed(obj: Any, names: Iterable[str]) -> bool:
    state = sa_inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def affected_keys(session: Session) -> tuple[set[Key], set[Key], dict[int, int]]:
    """(keys to rewrite, keys to remove, moved thread id -> new forum id) for this flush."""
    rewrite: set[Key] = set()
    remove: set[Key] = set()
    moved: dict[int, int] = {}
    changed_versions: set[int] = set()
    retitled_rounds: set[int] = set()  # a response's entry is titled by its round
    for obj in session.new:
        kind = WATCHED.get(type(obj))
        if kind is not None:
            rewrite.add((kind[0], obj.id))
        elif isinstance(obj, ConsultationQuestion):
            rewrite.add(("round", obj.round_id))
        elif isinstance(obj, ResponseVersion):
            rewrite.add(("response", obj.response_id))
    for obj in session.dirty:
        kind = WATCHED.get(type(obj))
        if kind is not None and _changed(obj, kind[1]):
            rewrite.add((kind[0], obj.id))
            if isinstance(obj, Thread) and _changed(obj, ("forum_id",)):
                moved[obj.id] = obj.forum_id
            if isinstance(obj, ConsultationRound) and _changed(obj, ("title",)):
                retitled_rounds.add(obj.id)
        elif isinstance(obj, ConsultationRound) and _changed(obj, ("questions",)):
            # a question taken out of the round's list: an orphan the flush deletes, which
            # is in no list of deleted objects this hook sees
            rewrite.add(("round", obj.id))
        elif isinstance(obj, ConsultationQuestion) and _changed(obj, ("text",)):
            rewrite.add(("round", obj.round_id))
        elif isinstance(obj, VersionAnswer) and _changed(obj, ("html",)):
            # a submitted answer rewritten in place (a closed account's mention pseudonymised)
            changed_versions.add(obj.version_id)
    if changed_versions:
        responses = session.connection().scalars(
            select(ResponseVersion.response_id).where(ResponseVersion.id.in_(changed_versions))
        )
        rewrite.update(("response", response_id) for response_id in responses)
    if retitled_rounds:
        responses = session.connection().scalars(
            select(ConsultationResponse.id).where(
                ConsultationResponse.round_id.in_(retitled_rounds)
            )
        )
        rewrite.update(("response", response_id) for response_id in responses)
    for obj in session.deleted:
        kind = WATCHED.get(type(obj))
        if kind is not None:
            remove.add((kind[0], obj.id))
        elif isinstance(obj, ConsultationResponse):
            remove.add(("response", obj.id))
        elif isinstance(obj, ConsultationQuestion):  # deleted by itself
            rewrite.add(("round", obj.round_id))
    return rewrite - remove, remove, moved


# --- what each kind of entry says --------------------------------------------


def _message(conn: Connection, object_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(Message.html, Message.thread_id, Message.author_id, Message.created_at)
        .add_columns(Thread.forum_id)
        .join(Thread, Thread.id == Message.thread_id)
        .where(Message.id == object_id)
    ).first()
    if row is None:
        return None
    return {
        "title": "",  # the thread's title is the thread's entry; shown, not searched, here
        "body": plain_text(row.html),
        "forum_id": row.forum_id,
        "thread_id": row.thread_id,
        "author_id": row.author_id,
        "created_at": row.created_at,
    }


def _thread(conn: Connection, object_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(Thread.title, Thread.forum_id, Thread.author_id, Thread.created_at).where(
            Thread.id == object_id
        )
    ).first()
    if row is None:
        return None
    return {
        "title": row.title,
        "body": "",
        "forum_id": row.forum_id,
        "thread_id": object_id,
        "author_id": row.author_id,
        "created_at": row.created_at,
    }


def _forum(conn: Connection, object_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(Forum.title, Forum.description_html, Forum.created_by_id, Forum.created_at).where(
            Forum.id == object_id
        )
    ).first()
    if row is None:
        return None
    return {
        "title": row.title,
        "body": plain_text(row.description_html),
        "forum_id": object_id,
        "author_id": row.created_by_id,
        "created_at": row.created_at,
    }


def _round(conn: Connection, object_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(ConsultationRound.__table__).where(ConsultationRound.id == object_id)
    ).first()
    if row is None:
        return None
    r = row._mapping
    questions = conn.scalars(
        select(ConsultationQuestion.text)
        .where(ConsultationQuestion.round_id == object_id)
        .order_by(ConsultationQuestion.position)
    ).all()
    body = "\n".join(
        [plain_text(r["problem_html"] or ""), plain_text(r["background_html"] or ""), *questions]
    )
    return {
        "title": r["title"],
        "body": body.strip(),
        "round_id": object_id,
        "department_id": r["department_id"],
        "author_id": r["created_by_id"],
        "created_at": r["created_at"],
    }


def _response(conn: Connection, object_id: int) -> dict[str, Any] | None:
    version = conn.execute(
        select(ResponseVersion.id, ResponseVersion.submitted_at)
        .where(ResponseVersion.response_id == object_id)
        .order_by(ResponseVersion.number.desc())
        .limit(1)
    ).first()
    if version is None:
        return None  # never submitted: a draft is not searchable
    row = conn.execute(
        select(
            ConsultationResponse.round_id,
            ConsultationResponse.organisation_id,
            Organisation.name,
            ConsultationRound.title,
            ConsultationRound.department_id,
        )
        .join(Organisation, Organisation.id == ConsultationResponse.organisation_id)
        .join(ConsultationRound, ConsultationRound.id == ConsultationResponse.round_id)
        .where(ConsultationResponse.id == object_id)
    ).first()
    if row is None:
        return None
    answers = conn.scalars(
        select(VersionAnswer.html).where(VersionAnswer.version_id == version.id)
    ).all()
    return {
        "title": f"{row.name} – {row.title}",
        "body": "\n".join(plain_text(a) for a in answers),
        "round_id": row.round_id,
        "organisation_id": row.organisation_id,
        "department_id": row.department_id,
        "created_at": version.submitted_at,
    }


def _feedback(conn: Connection, object_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(
            ConsultationFeedback.heard_html,
            ConsultationFeedback.action_html,
            ConsultationFeedback.round_id,
            ConsultationFeedback.updated_at,
            ConsultationQuestion.text,
            ConsultationRound.department_id,
        )
        .join(ConsultationQuestion, ConsultationQuestion.id == ConsultationFeedback.question_id)
        .join(ConsultationRound, ConsultationRound.id == ConsultationFeedback.round_id)
        .where(ConsultationFeedback.id == object_id)
    ).first()
    if row is None:
        return None
    return {
        "title": row.text,
        "body": f"{plain_text(row.heard_html)}\n{plain_text(row.action_html)}".strip(),
        "round_id": row.round_id,
        "department_id": row.department_id,
        "created_at": row.updated_at,
    }


def _organisation(conn: Connection, object_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(Organisation.name, Organisation.description, Organisation.created_at).where(
            Organisation.id == object_id
        )
    ).first()
    if row is None:
        return None
    return {
        "title": row.name,
        "body": row.description or "",
        "organisation_id": object_id,
        "created_at": row.created_at,
    }


def _action(conn: Connection, object_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(
            Action.title,
            Action.description_html,
            Action.owner_department_id,
            Action.owner_organisation_id,
            Action.source_thread_id,
            Action.proposed_by_id,
            Action.created_at,
            Thread.forum_id,
        )
        .outerjoin(Thread, Thread.id == Action.source_thread_id)
        .where(Action.id == object_id)
    ).first()
    if row is None:
        return None
    return {
        "title": row.title,
        "body": plain_text(row.description_html),
        "department_id": row.owner_department_id,
        "organisation_id": row.owner_organisation_id,
        "thread_id": row.source_thread_id,
        "forum_id": row.forum_id,
        "author_id": row.proposed_by_id,
        "created_at": row.created_at,
    }


BUILDERS = {
    "message": _message,
    "thread": _thread,
    "forum": _forum,
    "round": _round,
    "response": _response,
    "feedback": _feedback,
    "organisation": _organisation,
    "action": _action,
}

COLUMNS = (
    "title",
    "body",
    "forum_id",
    "thread_id",
    "round_id",
    "organisation_id",
    "department_id",
    "author_id",
    "created_at",
)


# --- writing the index -------------------------------------------------------


_TERMS_INSERT = text(
    "INSERT OR IGNORE INTO search_terms (term) SELECT value FROM json_each(:terms)"
)


def write_terms(conn: Connection, *stemmed: str) -> None:
    """Remember the stems of FTS5 texts in `search_terms` (SQLite), where a query's prefix is
    looked up (forum/queries/search.py). Kept when a text changes (a stem nothing contains
    any more costs a query one empty lookup); `forget_terms` drops a closed account's."""
    terms = sorted({term for text_ in stemmed for term in stemming.fts_tokens(text_)})
    if terms:
        conn.execute(_TERMS_INSERT, {"terms": json.dumps(terms, ensure_ascii=False)})


_TERM_FORGET = text(
    "DELETE FROM search_terms WHERE term = :term "
    "AND NOT EXISTS (SELECT 1 FROM search_fts WHERE search_fts MATCH :quoted)"
)


def forget_terms(conn: Connection, *texts: str) -> None:
    """Drop the stems of `texts` that no indexed text contains any more (SQLite), so that a
    closed account's name, handle and address leave no trace in `search_terms`."""
    if conn.dialect.name != "sqlite":
        return
    stems = {stem for text_ in texts for stem in stemming.fts_tokens(stemming.index_text(text_))}
    for stem in sorted(stems):
        conn.execute(_TERM_FORGET, {"term": stem, "quoted": stemming.fts_quoted(stem)})


def _write_fts(conn: Connection, entry_id: int, title: str, body: str) -> None:
    conn.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": entry_id})
    stemmed = {"title": stemming.index_text(title), "body": stemming.index_text(body)}
    conn.execute(
        text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, :title, :body)"),
        {"id": entry_id, **stemmed},
    )
    write_terms(conn, stemmed["title"], stemmed["body"])


_DOCUMENT_UPDATE = text(
    "UPDATE search_entries SET document = CAST(:document AS tsvector) WHERE id = :id"
)


def write_document(conn: Connection, entry_id: int, title: str, body: str) -> None:
    """PostgreSQL: the entry's `document`, the same terms as SQLite's FTS5 row (stemming.py)."""
    conn.execute(_DOCUMENT_UPDATE, {"id": entry_id, "document": stemming.tsvector(title, body)})


def rewrite_entry(conn: Connection, kind: str, object_id: int) -> None:
    """Make the entry of (kind, object_id) say what the object says now (or remove it)."""
    values = BUILDERS[kind](conn, object_id)
    existing = conn.scalar(
        select(SearchEntry.id).where(SearchEntry.kind == kind, SearchEntry.object_id == object_id)
    )
    if values is None:
        if existing is not None:
            conn.execute(delete(SearchEntry).where(SearchEntry.id == existing))
        return
    row = {name: values.get(name) for name in COLUMNS}
    if existing is None:
        result = conn.execute(insert(SearchEntry).values(kind=kind, object_id=object_id, **row))
        entry_id = result.inserted_primary_key[0]  # type: ignore[index]
    else:
        conn.execute(update(SearchEntry).where(SearchEntry.id == existing).values(**row))
        entry_id = existing
    if conn.dialect.name == "sqlite":
        _write_fts(conn, entry_id, row["title"] or "", row["body"] or "")
    else:
        write_document(conn, entry_id, row["title"] or "", row["body"] or "")


_MESSAGE_ENTRY_COLUMNS = (
    "kind",
    "object_id",
    "title",
    "body",
    "thread_id",
    "author_id",
    "created_at",
)
_message_entry_insert: dict[str, Any] = {}


def _message_entry_statement(dialect: str) -> Any:
    """INSERT ... SELECT of a new message's entry, built once per process (building it cost more
    than running it on the send path); parameters `e_<column>`, on PostgreSQL `e_document`
    too (the tsvector, in the same statement)."""
    if dialect not in _message_entry_insert:
        columns = SearchEntry.__table__.c
        names = [*_MESSAGE_ENTRY_COLUMNS, "forum_id"]
        values: list[Any] = [
            *(
                bindparam(f"e_{name}", type_=columns[name].type).label(name)
                for name in _MESSAGE_ENTRY_COLUMNS
            ),
            Thread.forum_id,
        ]
        target: Any = SearchEntry.__table__
        if dialect == "postgresql":
            # `document` is no model column (SQLite has none): the table as a plain clause
            target = table("search_entries", *(column(n) for n in [*names, "document", "id"]))
            names.append("document")
            values.append(cast(bindparam("e_document", type_=Text), TSVECTOR).label("document"))
        source = select(*values).where(Thread.id == bindparam("e_thread_id"))
        _message_entry_insert[dialect] = (
            insert(target).from_select(names, source).returning(target.c.id)
        )
    return _message_entry_insert[dialect]


def add_message_entry(conn: Connection, message: Message) -> None:
    """The entry of a message just inserted: one INSERT ... SELECT for the forum id (the send path
    is counted in statements, so the new message's own attributes are not read back)."""
    body = plain_text(message.html)
    values: dict[str, Any] = {
        "e_kind": "message",
        "e_object_id": message.id,
        "e_title": "",
        "e_body": body,
        "e_thread_id": message.thread_id,
        "e_author_id": message.author_id,
        "e_created_at": message.created_at,
    }
    if conn.dialect.name == "postgresql":
        values["e_document"] = stemming.tsvector("", body)
    entry_id = conn.scalar(_message_entry_statement(conn.dialect.name), values)
    if entry_id is not None and conn.dialect.name == "sqlite":
        stemmed = stemming.index_text(body)
        conn.execute(
            text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, '', :body)"),
            {"id": entry_id, "body": stemmed},
        )
        write_terms(conn, stemmed)


def remove_entry(conn: Connection, kind: str, object_id: int) -> None:
    conn.execute(
        delete(SearchEntry).where(SearchEntry.kind == kind, SearchEntry.object_id == object_id)
    )


def _after_flush(session: Session, _context: Any) -> None:
    rewrite, remove, moved = affected_keys(session)
    if not (rewrite or remove or moved):
        return
    conn = session.connection()
    new_messages = [obj for obj in session.new if type(obj) is Message]
    for message in new_messages:
        add_message_entry(conn, message)
        rewrite.discard(("message", message.id))
    for kind, object_id in sorted(remove):
        remove_entry(conn, kind, object_id)
    for kind, object_id in sorted(rewrite):
        rewrite_entry(conn, kind, object_id)
    for thread_id, forum_id in moved.items():
        conn.execute(
            update(SearchEntry).where(SearchEntry.thread_id == thread_id).values(forum_id=forum_id)
        )


def register() -> None:
    """Hook the index into every ORM session (once per process)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


# How many entries a reindex writes per transaction.
REINDEX_BATCH = 500


def reindex_all(session: Session | scoped_session[Any], batch: int = REINDEX_BATCH) -> int:
    """Rebuild every entry from the stored rows (after a migration or a restore), committing
    every `batch` entries. In one transaction a big site's reindex held SQLite's write lock
    for minutes, and every write of the running server waited behind it until it gave up;
    in batches the server's writes go in between. Each entry is written from its row as it
    is then, and a change made meanwhile rewrites its own entry (after_flush), so the index
    is whole at the end whichever comes first."""
    sources = {
        "message": Message,
        "thread": Thread,
        "forum": Forum,
        "round": ConsultationRound,
        "feedback": ConsultationFeedback,
        "organisation": Organisation,
        "action": Action,
        "response": ConsultationResponse,
    }
    count = 0
    for kind, model in sources.items():
        ids = session.scalars(select(model.id).order_by(model.id)).all()  # type: ignore[attr-defined]
        for start in range(0, len(ids), batch):
            conn = session.connection()
            for object_id in ids[start : start + batch]:
                rewrite_entry(conn, kind, object_id)
                count += 1
            session.commit()
    return count
