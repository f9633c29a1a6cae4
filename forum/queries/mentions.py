"""Whom a message in a thread could mention: people who can read the thread, by handle or name.

The composer's autocomplete asks this as someone types `@` and a few letters. The SQL only
narrows the people looked at (matching text, open accounts, an invite-only forum's members
and staff); policy.can_view_thread decides for each one, so nobody who cannot read the
thread is ever suggested.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, exists, func, or_, select

from .. import policy
from ..errors import Invalid
from ..extensions import db
from ..models import Message, Thread, User, Visibility
from ..models.base import utcnow
from ..models.forums import forum_members, forum_moderators
from ..text import MENTION_RE
from . import forums, payloads

MAX_SUGGESTIONS = 8
MAX_QUERY = 40  # a handle's length (text.MENTION_RE)
# People looked at per request, at most: the policy check runs for each until enough are found.
_CANDIDATES = 40


def _may_read_invite_forum(forum_id: int) -> Any:
    """SQL narrowing for policy.can_view_forum on an invite-only forum: members, the forum's
    moderators and site staff."""
    return or_(
        User.is_admin.is_(True),
        User.is_moderator.is_(True),
        exists().where(forum_members.c.forum_id == forum_id, forum_members.c.user_id == User.id),
        exists().where(
            forum_moderators.c.forum_id == forum_id, forum_moderators.c.user_id == User.id
        ),
    )


def suggestions(asker: User, thread: Thread, prefix: str, now: datetime) -> list[dict[str, Any]]:
    """Up to MAX_SUGGESTIONS people (author payloads) whose handle, or a word of whose name,
    starts with `prefix`; those who took part in the thread first, then by name. Never the
    asker, a closed or suspended account, or anyone policy does not let read the thread."""
    text = prefix.lower()
    name = func.lower(User.display_name)
    took_part = exists().where(Message.thread_id == thread.id, Message.author_id == User.id)
    query = (
        select(User)
        .where(
            or_(
                func.lower(User.handle).startswith(text, autoescape=True),
                name.startswith(text, autoescape=True),
                name.contains(" " + text, autoescape=True),
            ),
            User.id != asker.id,
            ~User.is_closed,
            or_(User.suspended_until.is_(None), User.suspended_until <= now),
        )
        .order_by(case((took_part, 0), else_=1), User.display_name, User.id)
        .limit(_CANDIDATES)
    )
    if thread.forum.visibility == Visibility.invite:
        query = query.where(_may_read_invite_forum(thread.forum_id))
    people: list[User] = []
    for person in db.session.scalars(query):
        if policy.can_view_thread(person, thread):
            people.append(person)
            if len(people) == MAX_SUGGESTIONS:
                break
    organisations = payloads.author_organisations({p.id for p in people})
    return [payloads.author_dict(p, organisations) for p in people]


def suggest(asker: User | None, thread_id: int, prefix: str) -> list[dict[str, Any]]:
    """suggestions() for a logged-in person who can read the thread; `prefix` is what follows
    the `@` (empty: those who took part first). Invalid unless it could start a handle."""
    user = policy.require_login(asker)
    thread = forums.visible_thread(user, thread_id)
    if prefix and (len(prefix) > MAX_QUERY or not MENTION_RE.fullmatch("@" + prefix)):
        raise Invalid(_("Write the start of a name or handle."), field="q")
    return suggestions(user, thread, prefix, utcnow())
