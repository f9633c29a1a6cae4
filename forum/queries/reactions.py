"""Reactions to messages, summed per emoji in one query for any number of messages."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from ..extensions import db
from ..models import MessageReaction, User

# The fixed set, in the order it is shown.
REACTIONS = ("👍", "❤️", "🎉", "❓", "✅")


@cache
def _summaries_statement() -> Any:
    """Built once per process (a Core statement): parameter `message_ids`."""
    reactions = cast(Table, MessageReaction.__table__)
    users = cast(Table, User.__table__)
    return (
        select(reactions.c.message_id, reactions.c.emoji, users.c.id, users.c.display_name)
        .join(users, users.c.id == reactions.c.user_id)
        .where(reactions.c.message_id.in_(bindparam("message_ids", expanding=True)))
        .order_by(reactions.c.id)
    )


def summaries(message_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Per message: [{emoji, count, people: [display names], user_ids}] in the fixed order.

    `user_ids` is for computing `mine` for one viewer (see for_viewer); it is never broadcast.
    """
    ids = list(set(message_ids))
    result: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = db.session.execute(_summaries_statement(), {"message_ids": ids})
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
