"""What every message of a page shares, worked out once per page instead of once per message.

`templates/forums/_message.html` renders each message of a thread page (50 or more per view).
Per message it used to build seven links with `url_for`, fetch the CSRF token ten times and
translate fifteen reaction labels through Flask-Babel's lazy strings: two thirds of the page's
time. `message_shared()` gives the macro the same values, computed once per request (links,
token) or once per language (the reaction labels, which never change while the process runs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..formatting import locale_zone, translations
from ..labels import REACTION_NAMES
from .remembered import Remembered, app_store

# An id no message has, replaced by the real one: url_for once per page instead of per message.
_SLOT = 987654321987


class IdLink:
    """`url_for(endpoint, **{arg: id})` for any id, from one `url_for` call."""

    def __init__(self, endpoint: str, arg: str) -> None:
        values: dict[str, Any] = {arg: _SLOT}
        self.prefix, self.suffix = url_for(endpoint, **values).split(str(_SLOT))

    def __call__(self, message_id: int | None) -> str:
        """The link for a message, or '#' for the blank <template> message (no id yet)."""
        return f"{self.prefix}{message_id}{self.suffix}" if message_id else "#"


@dataclass
class Reaction:
    """One reaction's labels in one language (what the macro's ngettext calls produced)."""

    emoji: str
    name: str
    label_one: Markup
    label_two: Markup
    pick_label: Markup
    _counts: dict[int, Markup] = field(default_factory=dict)

    def label(self, count: int) -> Markup:
        """'React with thumbs up, 3 people' for the button's current count."""
        found = self._counts.get(count)
        if found is None:
            found = self._counts[count] = _reaction_label(self.name, count)
        return found


def _reaction_label(name: str, count: int) -> Markup:
    # As Jinja's newstyle ngettext in an autoescaped template: Markup, arguments escaped.
    text = translations().ungettext(
        "React with %(name)s, %(num)d person", "React with %(name)s, %(num)d people", count
    )
    return Markup(text) % {"name": name, "num": count}  # noqa: S704 — our catalogue; name escaped


_REACTIONS: dict[str, list[Reaction]] = {}


def reactions() -> list[Reaction]:
    """The reactions with their labels in the request's language (cached per language)."""
    key = locale_zone()[0]
    found = _REACTIONS.get(key)
    if found is None:
        found = []
        for emoji, lazy_name in REACTION_NAMES.items():
            name = str(lazy_name)
            found.append(
                Reaction(
                    emoji=emoji,
                    name=name,
                    label_one=_reaction_label(name, 1),
                    label_two=_reaction_label(name, 2),
                    pick_label=Markup(  # noqa: S704 — our catalogue; the name is escaped
                        translations().ugettext("React with %(name)s")
                    )
                    % {"name": name},
                )
            )
        _REACTIONS[key] = found
    return found


@dataclass
class MessageShared:
    """The per-page values of the message macro."""

    csrf: str
    react: IdLink
    new_action: IdLink
    edit: IdLink
    delete: IdLink
    revisions: IdLink
    flag: IdLink
    moderate: IdLink
    reactions: list[Reaction]


def message_shared() -> MessageShared:
    """The values every message on this page shares (built on the first message of a request)."""
    found: MessageShared | None = g.get("_message_shared")
    current = reactions()
    if found is None or found.reactions is not current:  # first message, or force_locale
        found = MessageShared(
            csrf=generate_csrf(),
            react=IdLink("forums.react", "message_id"),
            new_action=IdLink("follow_up.new", "message"),
            edit=IdLink("forums.edit_message", "message_id"),
            delete=IdLink("forums.delete_message", "message_id"),
            revisions=IdLink("forums.revisions", "message_id"),
            flag=IdLink("moderation.flag", "message_id"),
            moderate=IdLink("moderation.message", "message_id"),
            reactions=current,
        )
        g._message_shared = found
    return found


# The CSRF token in a remembered rendering: NUL never reaches a page (message text refuses it),
# so the slot cannot be forged by what people write.
_CSRF_SLOT = Markup("\x00csrf\x00")
_RENDERED_LIMIT = 4096


class MessageRenderer:
    """`message_item(m, ...)` from _message.html for each message of one page, remembered: a
    thread page shows the same 50 messages to everyone who opens it, and rendering the macro
    was most of the page's time.

    The key is everything the macro reads: the message's dict (its text, state, edits, author,
    quote and reactions with this viewer's own), what this viewer may do with it, the language,
    the time zone and where the app is mounted; all but the dict are the same for the whole
    page and worked out once. A rendering is kept split at its CSRF slots, and the page's token
    is joined in (no search through the HTML per message)."""

    def __init__(
        self,
        viewer_id: int,
        can_send: bool,
        can_moderate: bool,
        thread_open: bool,
        takes_part: bool = False,
    ):
        self.app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.rendered: Remembered = app_store("forum_message_html", _RENDERED_LIMIT)
        self.args = (viewer_id, can_send, can_moderate, thread_open, takes_part)
        locale, zone = locale_zone()
        self.page_key = (
            bool(viewer_id),
            bool(can_send),
            bool(can_moderate),
            bool(thread_open),
            bool(takes_part),
            locale,
            zone,
            request.script_root,
        )
        self.shared = message_shared()

    def __call__(self, m: dict) -> Markup:
        viewer_id = self.args[0]
        mine = bool(viewer_id) and m["author"]["id"] == viewer_id
        # a digest, not the text: a long message's dict would otherwise be held twice
        key = (hashlib.blake2b(repr(m).encode(), digest_size=20).digest(), mine, self.page_key)
        parts = self.rendered.get(key)
        if parts is None:
            parts = self._render(m)
            self.rendered.put(key, parts)
        # The macro's output (autoescaped); the token is URL-safe base64 and dots.
        return Markup(self.shared.csrf.join(parts))  # noqa: S704

    def _render(self, m: dict) -> tuple[str, ...]:
        shared = self.shared
        real_csrf, shared.csrf = shared.csrf, _CSRF_SLOT
        try:
            macro = self.app.jinja_env.get_template("forums/_message.html").module.message_item
            html = str(macro(m, *self.args))
        finally:
            shared.csrf = real_csrf
        return tuple(html.split(_CSRF_SLOT))
