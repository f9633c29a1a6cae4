"""The one shape of a message, thread, author and notification.

Socket events, acknowledgements, the JSON API and templates all use these, so a
client sees the same fields whichever way a thing reached it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import Table, bindparam, inspect, select

from ..extensions import db
from ..formatting import LOCALES, iso_utc
from ..links import path_for
from ..models import (
    Membership,
    MembershipStatus,
    Message,
    MessageState,
    Notification,
    Organisation,
    OrganisationStatus,
    Principle,
    Thread,
    User,
)
from ..models.base import utcnow
from ..text import content_language, excerpt


def _organisation_names() -> Any:
    memberships = cast(Table, Membership.__table__)
    organisations = cast(Table, Organisation.__table__)
    return (
        select(memberships.c.user_id, organisations.c.name)
        .join(organisations, organisations.c.id == memberships.c.organisation_id)
        .where(
            memberships.c.status == MembershipStatus.approved,
            organisations.c.status == OrganisationStatus.verified,
        )
        .order_by(memberships.c.id)
    )


def author_organisation_expr(user_id: Any) -> Any:
    """The same rule as author_organisations, for one person, as a scalar subquery
    (the send path loads it together with the thread)."""
    memberships = cast(Table, Membership.__table__)
    names = _organisation_names().where(memberships.c.user_id == user_id).limit(1).subquery()
    return select(names.c.name).scalar_subquery()


@cache
def _organisations_statement() -> Any:
    """Built once per process (a Core statement): parameter `user_ids`."""
    memberships = cast(Table, Membership.__table__)
    return _organisation_names().where(
        memberships.c.user_id.in_(bindparam("user_ids", expanding=True))
    )


def author_organisations(user_ids: set[int]) -> dict[int, str]:
    """Each author's first verified organisation's name, in one query (a Core statement
    built once per process, parameter `user_ids`)."""
    if not user_ids:
        return {}
    rows = db.session.execute(_organisations_statement(), {"user_ids": list(user_ids)}).all()
    out: dict[int, str] = {}
    for user_id, name in rows:
        out.setdefault(user_id, name)
    return out


def author_dict(user: User, organisations: dict[int, str]) -> dict[str, Any]:
    return _author(user.id, user.display_name, user.handle, organisations)


def _author(user_id: int, name: str, handle: str, organisations: dict[int, str]) -> dict[str, Any]:
    """A person as payloads show them: a message's author, a mention suggestion."""
    return {
        "id": user_id,
        "display_name": name,
        "handle": handle,
        "organisation": organisations.get(user_id),
    }


class MessageRow(NamedTuple):
    """What a message's payload shows, in the order `message_rows_select` selects it: the
    message, its author's name and handle, and the message it replies to (None for each
    when it replies to none)."""

    id: int
    thread_id: int
    author_id: int
    author_name: str
    author_handle: str
    html: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    reply_to_id: int | None
    client_id: str
    state: MessageState
    hidden_reason: str | None
    hidden_principle_sv: str | None
    hidden_principle_en: str | None
    reply_id: int | None
    reply_author_name: str | None
    reply_html: str | None
    reply_state: MessageState | None
    changed_at: datetime | None


def message_rows_select() -> Any:
    """A Core SELECT of `MessageRow`s (the caller adds WHERE, ORDER BY and LIMIT): no ORM
    object is built for a message, its author or the message it replies to."""
    messages = cast(Table, Message.__table__)
    users = cast(Table, User.__table__)
    principles = cast(Table, Principle.__table__)
    reply = messages.alias("reply")
    reply_author = users.alias("reply_author")
    statement = (
        select(
            messages.c.id,
            messages.c.thread_id,
            messages.c.author_id,
            users.c.display_name.label("author_name"),
            users.c.handle.label("author_handle"),
            messages.c.html,
            messages.c.body,
            messages.c.created_at,
            messages.c.edited_at,
            messages.c.reply_to_id,
            messages.c.client_id,
            messages.c.state,
            messages.c.hidden_reason,
            principles.c.name_sv.label("hidden_principle_sv"),
            principles.c.name_en.label("hidden_principle_en"),
            reply.c.id.label("reply_id"),
            reply_author.c.display_name.label("reply_author_name"),
            reply.c.html.label("reply_html"),
            reply.c.state.label("reply_state"),
            messages.c.changed_at,
        )
        .select_from(messages)
        .join(users, users.c.id == messages.c.author_id)
        .outerjoin(principles, principles.c.id == messages.c.hidden_principle_id)
        .outerjoin(reply, reply.c.id == messages.c.reply_to_id)
        .outerjoin(reply_author, reply_author.c.id == reply.c.author_id)
    )
    # message_dict unpacks a row by position: a column out of place would put, say, the
    # hidden reason where the text goes. Checked where the statement is built (once).
    assert tuple(statement.selected_columns.keys()) == MessageRow._fields, "MessageRow order"
    return statement


def payload_row(message: Message) -> MessageRow:
    """The `MessageRow` of a message already loaded (a send, an edit, a moderation)."""
    reply = message.reply_to
    principle = message.hidden_principle if message.state == MessageState.hidden else None
    return MessageRow(
        message.id,
        message.thread_id,
        message.author_id,
        message.author.display_name,
        message.author.handle,
        message.html,
        message.body,
        message.created_at,
        message.edited_at,
        message.reply_to_id,
        message.client_id,
        message.state,
        message.hidden_reason,
        principle.name_sv if principle is not None else None,
        principle.name_en if principle is not None else None,
        reply.id if reply is not None else None,
        reply.author.display_name if reply is not None else None,
        reply.html if reply is not None else None,
        reply.state if reply is not None else None,
        _version(message),
    )


def _version(message: Message) -> datetime | None:
    """The message's `changed_at` as its payload's version: with changes not yet flushed
    (an edit, a hide: the payload is built before the flush stamps it), now, which the
    flush's stamp is at or after; a state read before it is older either way."""
    if inspect(message).modified:
        return utcnow()
    return message.changed_at


def message_dict(row: MessageRow, organisations: dict[int, str]) -> dict[str, Any]:
    """A message as the socket protocol carries it; hidden and deleted text is not sent."""
    (
        message_id,
        thread_id,
        author_id,
        author_name,
        author_handle,
        html,
        body,
        created_at,
        edited_at,
        reply_to_id,
        client_id,
        state,
        hidden_reason,
        hidden_principle_sv,
        hidden_principle_en,
        reply_id,
        reply_author_name,
        reply_html,
        reply_state,
        changed_at,
    ) = row
    visible = state == MessageState.visible
    quote = None
    if reply_id is not None:
        assert reply_html is not None and reply_state is not None
        quote = {
            "id": reply_id,
            "author_name": reply_author_name,
            "excerpt": excerpt(reply_html, 160) if reply_state == MessageState.visible else None,
            "lang": (
                content_language(reply_html, html=True)
                if reply_state == MessageState.visible
                else None
            ),
            "state": reply_state.value,
        }
    item: dict[str, Any] = {
        "id": message_id,
        "thread_id": thread_id,
        "author": _author(author_id, author_name, author_handle, organisations),
        "html": html if visible else "",
        "body": body if visible else "",
        # the language it is written in (forum.text.content_language), for its `lang`
        "lang": content_language(body) if visible else None,
        "created_at": iso_utc(created_at),
        "edited_at": iso_utc(edited_at),
        "reply_to": reply_to_id,
        "reply_quote": quote,
        "client_id": client_id,
        "state": state.value,
        "hidden_reason": None,
        "hidden_reasons": None,
        # the state's version: a page shows no state older than the one it shows (an
        # acknowledgement read before a change that reached the page live)
        "changed_at": iso_utc(changed_at),
    }
    if state == MessageState.hidden:
        principle = None
        if hidden_principle_sv is not None and hidden_principle_en is not None:
            principle = {"sv": hidden_principle_sv, "en": hidden_principle_en}
        reasons = hidden_reasons(principle, hidden_reason)
        # the reader's language; a broadcast carries every language and the page picks its own
        locale = get_locale()
        item["hidden_reason"] = reasons.get(str(locale) if locale else "sv", reasons["sv"])
        item["hidden_reasons"] = reasons
    return item


def decision_reason(principle: Principle | None, note: str | None) -> str:
    """A moderator's reason for what is read in either language (the audit log, the
    bilingual archive, a personal export): the principle's name in both, and the note."""
    if principle is None:
        return note or ""
    name = f"{principle.name_sv} ({principle.name_en})"
    return f"{name}: {note}" if note else name


def hidden_reason_in_both(principle: Principle | None, note: str | None) -> str:
    """Why a message is hidden, in both languages (`decision_reason`), or that flags hid it."""
    if principle is not None or note:
        return decision_reason(principle, note)
    flagged = hidden_reasons(None, None)
    return " / ".join(dict.fromkeys(flagged.values()))


def hidden_reasons(principle: dict[str, str] | None, note: str | None) -> dict[str, str]:
    """Why a message is hidden, in each language of the interface: the principle's name in
    that language and the moderator's words (which stay as written), or, with neither, that
    flags hid it until a moderator looks."""
    reasons = {}
    for lang in LOCALES:
        if principle is not None:
            reasons[lang] = f"{principle[lang]}: {note}" if note else principle[lang]
        elif note:
            reasons[lang] = note
        else:
            with force_locale(lang):
                reasons[lang] = _("Flagged by several people; waiting for a moderator.")
    return reasons


def messages_dicts(
    rows: Sequence[MessageRow], viewer_id: int | None = None
) -> list[dict[str, Any]]:
    """Messages with their authors' organisations and reactions (one query each, any number).

    Reactions are hidden with the message; `mine` is set only for the one viewer asking.
    Both are read with Core statements, which do not autoflush: a caller that has changed
    reactions or memberships in this session flushes first (pages of messages likewise,
    see `forums._message_rows`).
    """
    from . import reactions as rq

    organisations = author_organisations({r.author_id for r in rows})
    reactions = rq.summaries(r.id for r in rows if r.state == MessageState.visible)
    result = []
    for row in rows:
        item = message_dict(row, organisations)
        summary = reactions.get(row.id, [])
        item["reactions"] = (
            rq.public(summary) if viewer_id is None else rq.for_viewer(summary, viewer_id)
        )
        result.append(item)
    return result


def message_payload(message: Message, viewer_id: int | None = None) -> dict[str, Any]:
    """One loaded message as `join` and `history` carry it, reactions included."""
    return messages_dicts([payload_row(message)], viewer_id)[0]


def room_message(message: Message) -> dict[str, Any]:
    """A message as a room event carries it (edited, deleted, hidden, restored).

    The same shape as `join` and `history`: its reactions, without `mine` (a room is many
    people), and none at all while it is hidden or deleted.
    """
    return message_payload(message)


def thread_dict(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "title": thread.title,
        "forum": {"id": thread.forum.id, "slug": thread.forum.slug, "title": thread.forum.title},
        "locked": thread.locked,
        "archived": thread.archived,
        "pinned": thread.pinned,
        "slow_mode_seconds": thread.slow_mode_seconds,
        "last_message_id": thread.last_message_id,
        "url": path_for("forums.thread", thread_id=thread.id),
    }


def notification_dict(n: Notification, actor_name: str, thread_title: str) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "url": n.url,
        "excerpt": n.excerpt,
        "actor": actor_name,
        "thread": thread_title,
        "thread_id": n.thread_id,
        "created_at": iso_utc(n.created_at),
        "read": n.read_at is not None,
    }
