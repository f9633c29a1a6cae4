"""Socket.IO event handlers: parse the payload, call a service, acknowledge.

Every client event is acknowledged with `{"ok": true, ...}` or
`{"ok": false, "error": {"code", "message"}}`. Domain errors become error
acknowledgements here and only here.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g, request, session
from flask_babel import gettext as _
from flask_login import current_user
from flask_socketio import disconnect, join_room, leave_room

from ..config import REMEMBER_COOKIE
from ..errors import (
    DomainError,
    Invalid,
    busy_reason,
    database_busy,
    database_unreachable,
    is_out_of_range,
)
from ..events import (
    forum_room,
    session_room,
    set_connect_times,
    set_rechecker,
    start_listener,
    thread_room,
    user_room,
)
from ..extensions import db, socketio
from ..formatting import iso_utc
from ..models import Thread
from ..models.base import utcnow
from ..queries import forums as forum_queries
from ..queries import mentions, payloads
from ..services import forums as forum_service
from ..services import reactions as reaction_service
from ..services.validation import int_field, require_mapping, str_field
from . import access, budget, presence

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _user():
    return current_user if current_user.is_authenticated else None


def fresh_user() -> None:
    """Load the user from this socket's session, never from an outer context's cache."""
    g.pop("_login_user", None)


def _user_id() -> int | None:
    """Who asks (for the `mine` of reactions, which only their own ack carries)."""
    user = _user()
    return user.id if user is not None else None


def acknowledged(fn: Handler) -> Callable[..., dict[str, Any]]:
    """Wrap a handler: validate the payload is an object, turn errors into error acks."""

    @functools.wraps(fn)
    def wrapper(data: Any = None, *_extra: Any) -> dict[str, Any]:
        fresh_user()
        refused = _spend_budget()
        if refused is not None:
            return refused
        try:
            result = fn(require_mapping(data))
        except DomainError as err:
            db.session.rollback()
            return {"ok": False, "error": err.as_dict()}
        except Exception as err:
            try:
                db.session.rollback()
            except Exception:  # noqa: BLE001 — the connection may be gone with the database
                log.debug("rollback failed", exc_info=True)
            if is_out_of_range(err):
                return {
                    "ok": False,
                    "error": {"code": "invalid", "message": _("A number is out of range.")},
                }
            if database_busy(err):
                log.warning("socket handler %s: database busy: %s", fn.__name__, busy_reason(err))
                message = _("The site is busy right now. Try again in a minute.")
                return {"ok": False, "error": {"code": "unavailable", "message": message}}
            if database_unreachable(err):
                log.warning("socket handler %s: database unavailable", fn.__name__)
                message = _("The database cannot be reached right now. Try again in a minute.")
                return {"ok": False, "error": {"code": "unavailable", "message": message}}
            log.exception("socket handler %s failed", fn.__name__)
            return {
                "ok": False,
                "error": {"code": "internal", "message": _("Something went wrong on our side.")},
            }
        return {"ok": True, **result}

    return wrapper


def _spend_budget() -> dict[str, Any] | None:
    """Count one event against the socket's flood budget: None while it may go on, else
    the refusal to answer with (the socket is disconnected when it keeps flooding)."""
    verdict = budget.spend(request.sid)  # type: ignore[attr-defined]
    if verdict == "ok":
        return None
    if verdict == "disconnect":
        log.warning("socket %s flooded; disconnecting it", request.sid)  # type: ignore[attr-defined]
        budget.cool_off(_flooder())
        disconnect()
    return {
        "ok": False,
        "error": {
            "code": "rate_limited",
            "message": _("Too many events. Slow down."),
            "retry_after": 1,
        },
    }


def _flooder() -> str:
    """Who a flood is held against: the login session, or a visitor's address."""
    key = session.get("nonce")
    return f"session:{key}" if key else f"address:{request.remote_addr}"


def _ended_login() -> bool:
    """Whether the cookies name a login that no longer loads: the session ended (idle,
    suspended, logged out everywhere) while this browser was away, and its socket comes back
    with the old session cookie, or with only the remember-me cookie (a browser restarted
    with its tabs restored drops the session cookie; the page the tab shows was drawn for
    the person)."""
    if current_user.is_authenticated:
        return False
    return "_user_id" in session or bool(request.cookies.get(REMEMBER_COOKIE))


def on_connect(auth: Any = None) -> bool:
    """Sent by every client when it connects; visitors may connect to read public threads.
    A session disconnected for flooding is refused until its cool-off ends. A socket that
    comes back with the cookie of a session that ended meanwhile is told `session:ended`
    (as an open one is before it is closed) and stays connected as a visitor's: a page
    drawn for the person stops offering to write, and one drawn for a visitor (the cookie
    outlives the session) goes on reading public threads live."""
    if _sent_as_an_event():
        return on_unknown("connect")  # type: ignore[return-value]  # an ack to a client's event
    if budget.cooling_off(_flooder()):
        return False
    fresh_user()
    if _ended_login():
        socketio.emit("session:ended", {}, to=request.sid)  # type: ignore[attr-defined]
    if current_app.config["FORUM_REDIS_URL"]:
        start_listener(current_app.config["FORUM_REDIS_URL"])
        presence.watch()  # resync and kept disconnects after a Redis outage
    access.remember_socket(
        request.sid,  # type: ignore[attr-defined]
        current_user.id if current_user.is_authenticated else None,
    )
    if current_user.is_authenticated:
        join_room(user_room(current_user.id))
        nonce = session.get("nonce")
        if nonce:
            join_room(session_room(nonce))
    return True


def on_disconnect(*_args: Any) -> dict[str, Any] | None:
    """Sent when a client goes away: update presence in the threads it was in."""
    if _sent_as_an_event():
        return on_unknown("disconnect")
    access.forget_socket(request.sid)  # type: ignore[attr-defined]
    budget.forget(request.sid)  # type: ignore[attr-defined]
    for thread_id in presence.leave_all(request.sid):  # type: ignore[attr-defined]
        socketio.emit("presence", presence.snapshot(thread_id), to=thread_room(thread_id))
    return None


def _sent_as_an_event() -> bool:
    """Whether "connect" or "disconnect" came as a client's own event, not from the server:
    python-socketio hands a client event of those names to their handlers. The server calls
    them while the socket is still connecting or already going; a client's event comes on a
    connected socket. Run, it dropped the socket from the access rechecks (a member removed
    from an invite-only forum kept hearing its thread) and refilled its flood budget."""
    manager = socketio.server.manager
    return bool(manager.is_connected(request.sid, request.namespace or "/"))  # type: ignore[attr-defined]


def _person() -> dict[str, Any] | None:
    user = _user()
    if user is None:
        return None
    return {"id": user.id, "display_name": user.display_name}


def _time_field(data: dict[str, Any], name: str) -> datetime | None:
    """An optional ISO 8601 time with its offset, as the server sent it (a cursor)."""
    value = data.get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(value)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid(
            _("%(field)s must be a time as the server sent it.", field=name), field=name
        ) from None


def _enter_thread_room(thread_id: int) -> Thread:
    """The thread, with this socket in its room, checked before and after entering.

    In the room first, then everything the acknowledgement carries is read: a message, an
    edit or a hide committed from then on reaches the socket live, and an access change's
    recheck (access.recheck) finds the socket in the room; what was committed before is in
    what is read. Read first and entered after, a message committed in between reached
    neither the acknowledgement nor the page, and a person removed in between was in no
    room when the recheck looked, then entered it and kept hearing the thread. The check
    before entering keeps a socket that may not read the thread from hearing it at all; a
    refused join leaves the room."""
    user = _user()
    room = thread_room(thread_id)
    try:
        forum_queries.visible_page_thread(user, thread_id)
        join_room(room)
        return forum_queries.visible_page_thread(user, thread_id)  # read afresh
    except DomainError:
        # refused before or after entering; also out of a room it was in from an earlier
        # join, should an access change's recheck have missed it (Redis away meanwhile),
        # and out of the room's "here now"
        leave_room(room)
        if presence.leave_if_present(thread_id, request.sid):  # type: ignore[attr-defined]
            socketio.emit("presence", presence.snapshot(thread_id), to=room)
        raise


@acknowledged
def on_join(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by clients entering a thread (or rejoining after a reconnect with `since`, and
    `changed_since`, the `cursor` of its last join: then the ack's `changed` carries the
    current state of the messages up to `since` that changed meanwhile)."""
    thread_id = int_field(data, "thread_id")
    since = int_field(data, "since", required=False, minimum=0)
    changed_since = _time_field(data, "changed_since")
    # with the joiner's roles in the forum, not its every member: a phone on a patchy
    # network joins again on every reconnect
    assert thread_id is not None
    thread = _enter_thread_room(thread_id)
    now = utcnow()
    limit = current_app.config["FORUM_CATCH_UP_LIMIT"]  # missed and changed, each
    page = (
        forum_queries.messages_after(thread.id, since, limit)
        if since is not None
        else forum_queries.latest_page(thread.id)
    )
    changes = (
        forum_queries.changed_messages(thread.id, since, changed_since, now, limit)
        if since is not None and changed_since is not None
        else forum_queries.Changes([], forum_queries.change_cursor(now), False)
    )
    presence.enter(thread.id, request.sid, _person())  # type: ignore[attr-defined]
    socketio.emit("presence", presence.snapshot(thread.id), to=thread_room(thread.id))
    # one look-up of organisations and reactions for both lists
    both = payloads.messages_dicts([*page.messages, *changes.messages], _user_id())
    return {
        "thread": payloads.thread_dict(thread),
        "messages": both[: len(page.messages)],
        "changed": both[len(page.messages) :],
        "cursor": iso_utc(changes.cursor),
        "has_more": page.has_more or changes.has_more,
        "read_marker": forum_queries.read_marker(_user(), thread.id),
        # the joiner's mute in the thread's forum (None: may write), also after a reconnect
        # that missed its `mute:changed`
        "muted_until": iso_utc(thread.forum.viewer_muted_until),
    }


@acknowledged
def on_leave(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by clients leaving a thread. The room hears the new presence only when this
    socket was in it: a `leave` of any other thread (anyone may send one) changes nothing."""
    thread_id = int_field(data, "thread_id")
    assert thread_id is not None
    leave_room(thread_room(thread_id))
    if presence.leave_if_present(thread_id, request.sid):  # type: ignore[attr-defined]
        socketio.emit("presence", presence.snapshot(thread_id), to=thread_room(thread_id))
    return {}


@acknowledged
def on_send(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by clients posting a message; a retry with the same client_id is answered, not repeated."""
    thread_id = int_field(data, "thread_id")
    body = str_field(data, "body", max_length=forum_service.MAX_BODY)
    client_id = str_field(data, "client_id", max_length=forum_service.MAX_CLIENT_ID)
    reply_to = int_field(data, "reply_to", required=False)
    sent = forum_service.send(_user(), thread_id, body, client_id, reply_to)  # type: ignore[arg-type]
    # The acknowledgement is the payload the room got: built once, before commit.
    return {"message": sent.payload, "duplicate": not sent.created}


@acknowledged
def on_edit(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by an author changing their message."""
    message_id = int_field(data, "message_id")
    body = str_field(data, "body", max_length=forum_service.MAX_BODY)
    message = forum_service.edit_message(_user(), message_id, body)  # type: ignore[arg-type]
    return {"message": payloads.message_payload(message, _user_id())}


@acknowledged
def on_delete(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by an author withdrawing their message."""
    message_id = int_field(data, "message_id")
    message = forum_service.delete_message(_user(), message_id)  # type: ignore[arg-type]
    return {"message": payloads.message_payload(message, _user_id())}


@acknowledged
def on_reaction_add(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by a person reacting to a message with one of the fixed emoji."""
    message_id = int_field(data, "message_id")
    reactions = reaction_service.react(_user(), message_id, data.get("emoji"), add=True)  # type: ignore[arg-type]
    return {"message_id": message_id, "reactions": reactions}


@acknowledged
def on_reaction_remove(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by a person taking their reaction back."""
    message_id = int_field(data, "message_id")
    reactions = reaction_service.react(_user(), message_id, data.get("emoji"), add=False)  # type: ignore[arg-type]
    return {"message_id": message_id, "reactions": reactions}


@acknowledged
def on_mention_suggest(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by the composer as its person types `@` and letters: whom they could mention."""
    thread_id = int_field(data, "thread_id")
    prefix = str_field(data, "q", required=False, max_length=mentions.MAX_QUERY) or ""
    return {"people": mentions.suggest(_user(), thread_id, prefix)}  # type: ignore[arg-type]


@acknowledged
def on_history(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by clients scrolling up: messages before an id, newest page last."""
    thread_id = int_field(data, "thread_id")
    before = int_field(data, "before")
    limit = int_field(data, "limit", required=False) or forum_queries.PAGE_SIZE
    if limit > forum_queries.MAX_PAGE_SIZE:
        raise Invalid(
            _("limit can be at most %(n)d.", n=forum_queries.MAX_PAGE_SIZE), field="limit"
        )
    thread = forum_queries.visible_page_thread(_user(), thread_id)  # type: ignore[arg-type]
    page = forum_queries.messages_before(thread.id, before, limit)
    return {
        "messages": payloads.messages_dicts(page.messages, _user_id()),
        "has_more": page.has_more,
    }


@acknowledged
def on_typing(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by clients while their person types; the others in the room are told."""
    thread_id = int_field(data, "thread_id")
    thread = forum_service.check_typing(_user(), thread_id)  # type: ignore[arg-type]
    if not budget.may_announce_typing(request.sid):  # type: ignore[attr-defined]
        return {"throttled": True}  # the room heard it a moment ago
    socketio.emit(
        "typing",
        {"thread_id": thread.id, "user": _person()},
        to=thread_room(thread.id),
        skip_sid=request.sid,  # type: ignore[attr-defined]
    )
    return {}


@acknowledged
def on_read(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by clients when their person has seen messages up to an id."""
    thread_id = int_field(data, "thread_id")
    message_id = int_field(data, "message_id")
    marker = forum_service.mark_read(_user(), thread_id, message_id)  # type: ignore[arg-type]
    return {"read_marker": marker}


def on_unknown(event: str, *_args: Any) -> dict[str, Any]:
    """Any event name the protocol does not define; it spends the flood budget like any
    other event, so a stream of made-up names is refused and disconnected too."""
    refused = _spend_budget()
    if refused is not None:
        return refused
    return {
        "ok": False,
        "error": {"code": "invalid", "message": _("Unknown event: %(e)s", e=str(event)[:64])},
    }


MAX_WATCHED_FORUMS = 200


@acknowledged
def on_watch(data: dict[str, Any]) -> dict[str, Any]:
    """Sent by the forum list and a forum page: live `forum:activity` for the forums it may see."""
    raw = data.get("forum_ids")
    if (
        not isinstance(raw, list)
        or len(raw) > MAX_WATCHED_FORUMS
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in raw)
    ):
        raise Invalid(_("forum_ids must be a list of forum ids."), field="forum_ids")
    visible = {f.id for f in forum_queries.visible_forums(_user())}
    watched = set(raw) & visible
    for forum_id in watched:
        join_room(forum_room(forum_id))
    # In the rooms, asked again (as join does, _enter_thread_room): a person removed from a
    # forum in between was in no room when its recheck looked, then entered and kept hearing.
    # Any asked for and not visible is left too (in it from before, a recheck missed it).
    still = {f.id for f in forum_queries.visible_forums(_user())}
    for forum_id in set(raw) - still:
        leave_room(forum_room(forum_id))
    return {"forums": sorted(watched & still)}


EVENTS: dict[str, Callable[..., Any]] = {
    "watch": on_watch,
    "join": on_join,
    "leave": on_leave,
    "message:send": on_send,
    "message:edit": on_edit,
    "message:delete": on_delete,
    "reaction:add": on_reaction_add,
    "reaction:remove": on_reaction_remove,
    "mention:suggest": on_mention_suggest,
    "history": on_history,
    "typing": on_typing,
    "read": on_read,
}


def register() -> None:
    """Attach the handlers to the server that init_app just made."""
    set_rechecker(access.recheck)
    set_connect_times(access.connected_at)
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    for name, handler in EVENTS.items():
        socketio.on_event(name, handler)
    socketio.on_event("*", on_unknown)
    _route_odd_names_to_the_catch_all(socketio.server)


def _route_odd_names_to_the_catch_all(server: Any) -> None:
    """A client's event named "*", or whose name is not text, goes to on_unknown with its
    name, as any other unknown event does. python-socketio found the catch-all's own key
    for "*" and called it without the name, so Flask-SocketIO took the payload for the
    socket's id: with another socket's id it ran the event as THAT socket (spent its flood
    budget until it was disconnected and its login cooled off), else it raised. A list or
    object as the name raised too (unhashable in the handlers' dict)."""
    find = server._get_event_handler

    def event_handler(event: Any, namespace: str, args: tuple[Any, ...]) -> Any:
        if event == "*" or not isinstance(event, str):
            catch_all = server.handlers.get(namespace, {}).get("*")
            if catch_all is not None:
                return catch_all, (event, *args)
        return find(event, namespace, args)

    server._get_event_handler = event_handler
