"""Reactions to messages, summed per emoji in one query for any number of messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import MessageReaction, User

# The fixed set, in the order it is shown.
REACTIONS = ("👍", "❤️", "🎉", "❓", "✅")


def summaries(message_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Per message: [{emoji, count, people: [display names], user_ids}] in the fixed order.

    `user_ids` is for computing `mine` for one viewer (see for_viewer); it is never broadcast.
    """
    ids = list(set(message_ids))
    result: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = db.session.execute(
        select(MessageReaction.message_id, MessageReaction.emoji, User.id, User.display_name)
        .join(User, User.id == MessageReaction.user_id)
        .where(MessageReaction.message_id.in_(ids))
        .order_by(MessageReaction.id)
    )
    grouped: dict[int, dict[str, dict[str, Any]]] = {i: {} for i in ids}
    for message_id, emoji, user_id, name in rows:
        entry = grouped[message_id].setdefault(
            emoji, {"emoji": emoji, "count": 0, "people": [], "user_ids": []}
        )
        entry["count"] += 1
        entry["people"].append(name)
        entry["user_ids"].append(user_id)
    for message_id, by_emoji in grouped.items():
        result[message_id] = [by_emoji[e] for e in REACTIONS if e in by_emoji]
    return result


def public(reactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the room gets: no user ids, no `mine`."""
    return [{k: v for k, v in r.items() if k != "user_ids"} for r in reactions]


def for_viewer(reactions: list[dict[str, Any]], user_id: int | None) -> list[dict[str, Any]]:
    """What one person gets: with `mine` set for the reactions that are theirs."""
    return [
        {**{k: v for k, v in r.items() if k != "user_ids"}, "mine": user_id in r["user_ids"]}
        for r in reactions
    ]
