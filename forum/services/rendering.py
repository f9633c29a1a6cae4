"""User text to stored HTML: length limits and mentions resolved to profile links.

The sanitiser itself is `forum.text`; this module adds what needs the database
(who a mention names) and is shared by every service that stores user text.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

from ..extensions import db
from ..links import path_for
from ..models import Message, MessageRevision, User
from ..text import Rendered, render_markdown

MAX_BODY = 10_000
MAX_TITLE = 200
MAX_DESCRIPTION = 5_000


def resolve_mentions(handles: set[str]) -> Mapping[str, tuple[int, str]]:
    """Look up mentioned handles in one query: {handle: (user_id, profile path)}."""
    rows = db.session.execute(
        select(User.id, User.handle).where(
            func.lower(User.handle).in_(handles),
            ~User.is_closed,  # a closed account is mentioned no more
        )
    )
    return {handle.lower(): (uid, path_for("forums.person", handle=handle)) for uid, handle in rows}


def render_body(body: str) -> Rendered:
    """Markdown source to sanitised HTML, with @mentions linked."""
    return render_markdown(body, resolve_mentions)


def replace_text(message: Message, body: str, *, admin_only: bool = False) -> MessageRevision:
    """Give a message new text; the text it had is kept as a revision, never dropped
    (`admin_only`: a moderator's redaction keeps the original for admins alone)."""
    kept = MessageRevision(
        message_id=message.id,
        body=message.body,
        html=message.html,
        created_at=message.edited_at or message.created_at,
        admin_only=admin_only,
    )
    db.session.add(kept)
    message.body = body
    message.html = render_body(body).html
    return kept
