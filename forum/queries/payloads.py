"""The one shape of a message, thread, author and notification.

Socket events, acknowledgements, the JSON API and templates all use these, so a
client sees the same fields whichever way a thing reached it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..formatting import iso_utc
from ..links import path_for
from ..models import (
    Membership,
    MembershipStatus,
    Message,
    MessageState,
    Notification,
    Organisation,
    OrganisationStatus,
    Thread,
    User,
)
from ..text import excerpt


def _organisation_names():
    return (
        select(Membership.user_id, Organisation.name)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Membership.status == MembershipStatus.approved,
            Organisation.status == OrganisationStatus.verified,
        )
        .order_by(Membership.id)
    )


def author_organisation_expr(user_id: Any) -> Any:
    """The same rule as author_organisations, for one person, as a scalar subquery
    (the send path loads it together with the thread)."""
    names = _organisation_names().where(Membership.user_id == user_id).limit(1).subquery()
    return select(names.c.name).scalar_subquery()


def author_organisations(user_ids: set[int]) -> dict[int, str]:
    """Each author's first verified organisation's name, in one query."""
    if not user_ids:
        return {}
    rows = db.session.execute(_organisation_names().where(Membership.user_id.in_(user_ids))).all()
    out: dict[int, str] = {}
    for user_id, name in rows:
        out.setdefault(user_id, name)
    return out


def author_dict(user: User, organisations: dict[int, str]) -> dict[str, Any]:
    return {
        "id": user.id,
        "display_name": user.display_name,
        "handle": user.handle,
        "organisation": organisations.get(user.id),
    }


def message_dict(message: Message, organisations: dict[int, str]) -> dict[str, Any]:
    """A message as the socket protocol carries it; hidden and deleted text is not sent."""
    visible = message.state == MessageState.visible
    reply = message.reply_to
    quote = None
    if reply is not None:
        quote = {
            "id": reply.id,
            "author_name": reply.author.display_name,
            "excerpt": excerpt(reply.html, 160) if reply.state == MessageState.visible else None,
            "state": reply.state.value,
        }
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "author": author_dict(message.author, organisations),
        "html": message.html if visible else "",
        "body": message.body if visible else "",
        "created_at": iso_utc(message.created_at),
        "edited_at": iso_utc(message.edited_at),
        "reply_to": message.reply_to_id,
        "reply_quote": quote,
        "client_id": message.client_id,
        "state": message.state.value,
        "hidden_reason": message.hidden_reason if message.state == MessageState.hidden else None,
    }


def messages_dicts(messages: list[Message], viewer_id: int | None = None) -> list[dict[str, Any]]:
    """Messages with their authors' organisations and reactions (one query each, any number).

    Reactions are hidden with the message; `mine` is set only for the one viewer asking.
    """
    from . import reactions as rq

    organisations = author_organisations({m.author_id for m in messages})
    reactions = rq.summaries(m.id for m in messages if m.state == MessageState.visible)
    result = []
    for m in messages:
        item = message_dict(m, organisations)
        summary = reactions.get(m.id, [])
        item["reactions"] = (
            rq.public(summary) if viewer_id is None else rq.for_viewer(summary, viewer_id)
        )
        result.append(item)
    return result


def room_message(message: Message) -> dict[str, Any]:
    """A message as a room event carries it (edited, deleted, hidden, restored).

    The same shape as `join` and `history`: its reactions, without `mine` (a room is many
    people), and none at all while it is hidden or deleted.
    """
    return messages_dicts([message])[0]


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
        "created_at": iso_utc(n.created_at),
        "read": n.read_at is not None,
    }
