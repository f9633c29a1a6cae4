"""Reacting to a message with one of a fixed set of emoji; the room is told after commit."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..errors import Invalid, NotFound
from ..events import emit_after_commit, thread_room
from ..extensions import db
from ..models import MessageReaction, MessageState, User
from ..models.base import utcnow
from ..queries import forums as forum_queries
from ..queries import reactions as rq
from . import moderation


def _emoji(value: object) -> str:
    if not isinstance(value, str) or value not in rq.REACTIONS:
        raise Invalid(_("Choose one of the reactions offered."), field="emoji")
    return value


def react(user: User | None, message_id: int, emoji: object, add: bool) -> list[dict[str, Any]]:
    """Add (or take back) the user's reaction; returns the message's reactions for this user.

    Whoever may read the thread and post in it (not muted, thread not locked) may react; a
    hidden or withdrawn message cannot be reacted to (it is reported as missing).
    """
    policy.require_login(user)
    assert user is not None
    chosen = _emoji(emoji)
    message = forum_queries.visible_message(user, message_id)
    if message.state != MessageState.visible:
        raise NotFound(_("No such message."))
    policy.require_can_send(user, message.thread)
    moderation.check_not_muted(user, message.thread)
    mine = select(MessageReaction.id).where(
        MessageReaction.message_id == message.id,
        MessageReaction.user_id == user.id,
        MessageReaction.emoji == chosen,
    )
    exists = db.session.scalar(mine) is not None
    if add != exists:
        message.changed_at = utcnow()  # a reconnecting page catches up on it (join)
    if add and not exists:
        db.session.add(MessageReaction(message_id=message.id, user_id=user.id, emoji=chosen))
    elif not add and exists:
        db.session.execute(
            delete(MessageReaction).where(MessageReaction.id.in_(mine.scalar_subquery()))
        )
    try:
        db.session.flush()
    except IntegrityError:  # the same reaction raced in from another tab: it is there
        db.session.rollback()
        return rq.for_viewer(rq.summaries([message_id])[message_id], user.id)
    reactions = rq.summaries([message.id])[message.id]
    if add != exists:
        emit_after_commit(
            "reaction:updated",
            {"message_id": message.id, "reactions": rq.public(reactions)},
            thread_room(message.thread_id),
        )
    db.session.commit()
    return rq.for_viewer(reactions, user.id)
