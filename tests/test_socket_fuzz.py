"""Bad input never crashes a socket handler: every event the server registers, from a
visitor, a member, a moderator and an admin, with payloads of every wrong shape.

The event names come from the Socket.IO server itself, so an event added later without a
case here fails `test_every_registered_event_has_a_case`. For each case the test asserts:
the handler raised nothing and logged no ERROR; the acknowledgement is `{"ok": bool, ...}`
and, refused, carries an `error` dict with a code (never `internal`); a refused event wrote
nothing and a second client in every room heard nothing; a payload that must be refused
was refused; and the socket still answers a valid `history`. Failures are collected and
reported together, one line per case.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from consultation_support import make_round
from sqlalchemy import event
from support import Auth, app_settings

from forum import create_app, policy
from forum.config import parse_rate_limit
from forum.errors import Invalid
from forum.events import forum_room, thread_room
from forum.extensions import socketio
from forum.ids import MAX_ID
from forum.models import Thread
from forum.queries import forums as forum_queries
from forum.queries import reactions as reaction_queries
from forum.services import forums as forum_service
from forum.services import moderation

# The flood budget and the message rate limit would refuse most of a run's hundreds of
# events before their payload is read: lifted, so every case reaches the handler's checks.
# CI runs it once, on PostgreSQL, which refuses more than SQLite (a NUL in text, an id
# past 64 bits).
pytestmark = [
    pytest.mark.config(
        FORUM_SOCKET_BURST=100_000,
        FORUM_SOCKET_EVENTS_PER_SECOND=10_000,
        FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT=100_000,
        FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"),
    ),
    pytest.mark.ci_postgresql,
]

ROLES = ("visitor", "member", "moderator", "admin")
REFUSE, ANY = "refuse", "any"  # what the ack must say: ok false, or either (well formed)

# Values of every JSON type (and bytes, which Socket.IO sends as a binary attachment).
WRONG_TYPES: dict[str, Any] = {
    "str": "text",
    "int": 12,
    "float": 1.5,
    "bool": True,
    "None": None,
    "list": [1, 2],
    "dict": {"id": 1},
    "bytes": b"\x00\x01bytes",
}
ODD_IDS: dict[str, Any] = {
    "0": 0,
    "-1": -1,
    "999999": 999_999,
    "2**31": 2**31,
    "2**63": 2**63,
    "2**70": 2**70,
    "-2**63": -(2**63),
    "'12'": "12",
    "1.5": 1.5,
    "True": True,
    "nan": float("nan"),
}
ODD_TEXT: dict[str, Any] = {
    "empty": "",
    "spaces": " \n\t ",
    "NUL": "a\x00b",
    "100k chars": "x" * 100_000,
    "lone surrogate": "a\ud800b",
    "RTL marks": "\u200f\u202eabc\u202c",
    "emoji": "😀👍🏽",
    "LIKE wildcards": "%_\\",
}
# Markdown that is slow or deep to render, and markup: tried on message bodies.
ODD_MARKDOWN: dict[str, Any] = {
    "markup": "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "nested quotes": ">" * 9_000,
    "nested lists": "- " * 4_000,
    "brackets": "[" * 9_000 + "]" * 900,
    "emphasis": "*a_" * 3_000,
    "mentions": "@a " * 3_000,
    "links": "[x](javascript:alert(1)) " * 300,
    "line breaks": "\r\n" * 4_000 + "x",
}
# A payload that is not an object at all: the handler's first argument.
NOT_OBJECTS: dict[str, Any] = {
    "None": None,
    "str": "thread_id",
    "int": 1,
    "float": 1.5,
    "bool": True,
    "list": [{"thread_id": 1}],
    "bytes": b"\x00\x01",
    "NUL str": "\x00",
}
# Event names no handler of its own takes, in groups (one test, one world each).
UNKNOWN_NAMES: dict[str, dict[str, Any]] = {
    "made up": {
        "made-up": "nosuch:event",
        "NUL": "join\x00",
        "NUL only": "\x00",
        "100k chars": "e" * 100_000,
        "empty": "",
        "lone surrogate": "\ud800",
        "JOIN": "JOIN",
        "join with space": "join ",
    },
    "reserved": {
        "message": "message",
        "json": "json",
        "error": "error",
        "connect_error": "connect_error",
        "disconnecting": "disconnecting",
        "newListener": "newListener",
        "removeListener": "removeListener",
        "ping": "ping",
        "*": "*",
    },
    "not text": {
        "number": 12,
        "None": None,
        "list": ["join"],
        "object": {"event": "join"},
        "bool": True,
        "float": 1.5,
    },
}


@dataclass
class Field:
    """One payload field: its kind, whether it must be there, its smallest accepted value."""

    kind: str  # id, int, text, emoji, time, ids
    required: bool = True
    minimum: int = 1
    maximum: int = MAX_ID
    world: bool = True  # also tried with each thread/message of the world


@dataclass
class World:
    """The forums, threads, messages and sockets one test runs against."""

    users: dict[str, Any]
    observer: Any
    threads: dict[str, int]
    messages: dict[str, int]
    forums: dict[str, int]
    own: dict[str, int] = field(default_factory=dict)  # role -> a message of theirs
    sockets: dict[str, Any] = field(default_factory=dict)
    readable: dict[str, set[str]] = field(default_factory=dict)  # role -> rooms it may be in
    serial: itertools.count = field(default_factory=itertools.count)


EVENT_FIELDS: dict[str, dict[str, Field]] = {
    "join": {
        "thread_id": Field("id"),
        "since": Field("id", required=False, minimum=0),
        "changed_since": Field("time", required=False),
    },
    "leave": {"thread_id": Field("id")},
    "message:send": {
        "thread_id": Field("id"),
        "body": Field("text"),
        "client_id": Field("text"),
        "reply_to": Field("id", required=False),
    },
    "message:edit": {"message_id": Field("id"), "body": Field("text")},
    "message:delete": {"message_id": Field("id")},
    "reaction:add": {"message_id": Field("id"), "emoji": Field("emoji")},
    "reaction:remove": {"message_id": Field("id"), "emoji": Field("emoji")},
    "mention:suggest": {"thread_id": Field("id"), "q": Field("text", required=False)},
    "history": {
        "thread_id": Field("id"),
        "before": Field("id", world=False),
        "limit": Field("int", required=False, maximum=100),
    },
    "typing": {"thread_id": Field("id")},
    "read": {"thread_id": Field("id"), "message_id": Field("id")},
    "watch": {"forum_ids": Field("ids")},
}
# What the observer (another person, in every room, watching every forum) may hear when
# the event is accepted; in this fuzz the tested sockets join no thread before `leave`.
HEARD_WHEN_ACCEPTED: dict[str, set[str]] = {
    "join": {"presence"},
    "leave": set(),
    "message:send": {"message:new", "forum:activity"},
    "message:edit": {"message:edited"},
    "message:delete": {"message:deleted", "forum:activity"},
    "reaction:add": {"reaction:updated"},
    "reaction:remove": {"reaction:updated"},
    "mention:suggest": set(),
    "history": set(),
    "typing": {"typing"},
    "read": set(),
    "watch": set(),
}
# Events with no handler of their own in EVENT_FIELDS, each fuzzed by a test of its own.
SPECIAL = {"connect", "disconnect", "*"}


def registered_events() -> set[str]:
    """Every event name the Socket.IO server has a handler for in the default namespace."""
    create_app(app_settings("sqlite://"))  # registers the handlers on the shared server
    return set(socketio.server.handlers.get("/", {}))


def test_every_registered_event_has_a_case() -> None:
    """A new event handler cannot escape the fuzz: each name the server knows has a case."""
    names = registered_events()
    missing = names - set(EVENT_FIELDS) - SPECIAL
    assert not missing, f"events with no fuzz case in EVENT_FIELDS: {sorted(missing)}"
    assert set(EVENT_FIELDS) <= names, f"cases for no event: {set(EVENT_FIELDS) - names}"
    assert SPECIAL <= names


# ---------------------------------------------------------------------------- the world


def build_world(make, socket_for, db) -> World:
    """Public, members-only and invite-only forums; threads (one locked); messages of each
    role and of others, one hidden, one deleted; a logged-in socket per role, a visitor's,
    and an observer's (an admin in every room) that must hear nothing of a refused event."""
    owner = make.user("official")
    author = make.user(name="Xena Författare")
    users = {
        "visitor": None,
        "member": make.user(name="Maja Medlem"),
        "moderator": make.user("moderator", name="Moa Moderator"),
        "admin": make.user("admin", name="Ada Admin"),
    }
    watcher = make.user("admin", name="Olle Observatör")
    public = make.forum(owner=owner)
    members = make.forum(owner=owner, visibility="members")
    invite = make.forum(owner=owner, visibility="invite", members=[author])
    threads = {
        "public": make.thread(public, author=author).id,
        "members": make.thread(members, author=author).id,
        "invite": make.thread(invite, author=author).id,
        "locked": make.thread(public, author=author).id,
        "quiet": make.thread(public, author=author).id,  # no messages: the liveness check's
    }
    tp = db.session.get(Thread, threads["public"])
    messages = {
        "others": make.message(tp, author, "Hej från Xena").id,
        "hidden": make.message(tp, author, "Dold").id,
        "deleted": make.message(tp, author, "Borttagen").id,
        "members": make.message(db.session.get(Thread, threads["members"]), author, "M").id,
        "invite": make.message(db.session.get(Thread, threads["invite"]), author, "I").id,
        "locked": make.message(db.session.get(Thread, threads["locked"]), author, "L").id,
    }
    # more states a thread can be in: archived, slow mode, a draft consultation round's
    # and a closed one's discussion, and a forum where the member is muted
    make.organisation(admin=author)  # a verified organisation for the rounds to ask
    for state in ("draft", "closed"):
        round_ = make_round(make.app, make, owner, state=state, title=f"Samråd ({state})")
        if round_.thread_id is not None:
            threads[f"{state} round"] = round_.thread_id
    threads["archived"] = make.thread(public, author=author).id
    threads["slow"] = make.thread(public, author=author).id
    threads["muted"] = make.thread(members, author=author).id
    for name in ("archived", "slow", "muted", "closed round"):
        if name in threads:
            messages[name] = make.message(db.session.get(Thread, threads[name]), author, name).id
    own = {}
    for role, user in users.items():
        if user is not None:
            own[role] = make.message(tp, user, f"Mitt ({role})").id
            messages[f"own {role}"] = own[role]
    admin = users["admin"]
    with make.app.test_request_context():
        moderation.hide_message(admin, messages["hidden"], "other", "Fuzz")
        forum_service.delete_message(author, messages["deleted"])
        moderation.lock_thread(admin, threads["locked"])
        moderation.archive_thread(admin, threads["archived"])
        moderation.set_slow_mode(admin, threads["slow"], 3600)
        moderation.mute_person(admin, users["member"].id, members.id, 60, "Fuzz")
    observer = socket_for(watcher)
    for thread_id in threads.values():
        assert observer.emit("join", {"thread_id": thread_id}, callback=True)["ok"]
    forum_ids = [f.id for f in forum_queries.visible_forums(watcher)]
    assert observer.emit("watch", {"forum_ids": forum_ids}, callback=True)["ok"]
    world = World(
        users=users,
        observer=observer,
        threads=threads,
        messages=messages,
        forums={"public": public.id, "members": members.id, "invite": invite.id},
        own=own,
    )
    for role, user in users.items():
        world.sockets[role] = socket_for(user)
        world.readable[role] = {forum_room(f.id) for f in forum_queries.visible_forums(user)} | {
            thread_room(t)
            for t in threads.values()
            if policy.can_view_thread(user, db.session.get(Thread, t))
        }
    db.session.rollback()
    observer.get_received()
    return world


def rooms_of(sock: Any) -> set[str]:
    """The thread and forum rooms a test client's socket is in."""
    sid = socketio.server.manager.sid_from_eio_sid(sock.eio_sid, "/")
    rooms = socketio.server.manager.get_rooms(sid, "/")
    return {r for r in rooms if r.startswith(("thread:", "forum:"))}


def base_payload(event: str, role: str, world: World) -> dict[str, Any]:
    """A payload of `event` that `role` may send (as far as the role may send it at all)."""
    thread = world.threads["public"]
    mine = world.own.get(role, world.messages["others"])
    serial = next(world.serial)
    return {
        "join": {"thread_id": thread, "since": 0, "changed_since": "2026-01-01T00:00:00Z"},
        "leave": {"thread_id": thread},
        "message:send": {"thread_id": thread, "body": "Hej", "client_id": f"fuzz-{serial}"},
        "message:edit": {"message_id": mine, "body": f"Ändrad {serial}"},
        "message:delete": {"message_id": mine},
        "reaction:add": {"message_id": world.messages["others"], "emoji": "👍"},
        "reaction:remove": {"message_id": world.messages["others"], "emoji": "👍"},
        "mention:suggest": {"thread_id": thread, "q": "x"},
        "history": {"thread_id": thread, "before": MAX_ID, "limit": 5},
        "typing": {"thread_id": thread},
        "read": {"thread_id": thread, "message_id": world.messages["others"]},
        "watch": {"forum_ids": [world.forums["public"]]},
    }[event]


# ---------------------------------------------------------------------------- the cases


@dataclass
class Case:
    """One emit: a description, the arguments after the event name, what the ack must be,
    and the payload field it is about (an `invalid` refusal must name it)."""

    label: str
    args: tuple[Any, ...]
    expect: str = REFUSE
    field: str | None = None


def _accepts(spec: Field, value: Any) -> str:
    """REFUSE when `value` can never be a valid value of the field; else ANY."""
    if value is None:
        return ANY if not spec.required else REFUSE
    if spec.kind in ("id", "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            return REFUSE
        return ANY if spec.minimum <= value <= spec.maximum else REFUSE
    if spec.kind in ("text", "emoji", "time"):
        if not isinstance(value, str):
            return REFUSE
        if "\x00" in value or len(value) > 20_000:
            return REFUSE
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return REFUSE
        if spec.kind == "emoji":
            return ANY if value in reaction_queries.REACTIONS else REFUSE
        if spec.kind == "time":
            return ANY
        if spec.required and not value.strip():
            return REFUSE
        return ANY
    if spec.kind == "ids":
        return ANY if isinstance(value, list) else REFUSE
    raise AssertionError(spec.kind)


def field_values(name: str, spec: Field, world: World) -> dict[str, Any]:
    """Every value the field `name` is tried with."""
    values: dict[str, Any] = {f"{kind}": v for kind, v in WRONG_TYPES.items()}
    if spec.kind in ("id", "int"):
        values.update({f"id {k}": v for k, v in ODD_IDS.items()})
        if spec.world and spec.kind == "id":
            pool = world.messages if name in ("message_id", "reply_to") else world.threads
            values.update({f"{k} {name}": v for k, v in pool.items()})
    if spec.kind in ("text", "emoji", "time"):
        values.update({f"text {k}": v for k, v in ODD_TEXT.items()})
    if name == "body":
        values.update({f"markdown {k}": v for k, v in ODD_MARKDOWN.items()})
    if spec.kind == "time":
        values.update(
            {
                "naive time": "2026-01-01T00:00:00",
                "year 1 east": "0001-01-01T00:00:00+14:00",
                "year 9999 west": "9999-12-31T23:59:59-14:00",
                "garbage time": "yesterday",
                "year 1": "0001-01-01T00:00:00Z",
                "year 9999": "9999-12-31T23:59:59Z",
                "future": "2999-01-01T00:00:00+00:00",
                "leap second": "2016-12-31T23:59:60Z",
            }
        )
    if spec.kind == "ids":
        odd = [v for v in ODD_IDS.values()]
        values.update(
            {
                "empty list": [],
                "odd ids": odd,
                "each forum": list(world.forums.values()),
                "too many": list(range(1, 1000)),
                "nested": [[1]],
                "2**70": [2**70],
                "thread ids": list(world.threads.values()),
            }
        )
        values.update({f"list of {k}": [v] for k, v in ODD_IDS.items()})
    unique: dict[str, Any] = {}  # each value once (1.5 and True are both a type and an id)
    for label, value in values.items():
        if all(type(v) is not type(value) or repr(v) != repr(value) for v in unique.values()):
            unique[label] = value
    return unique


def cases_for(event: str, role: str, world: World) -> list[Case]:
    """The whole table of payloads for one event and role."""
    fields = EVENT_FIELDS[event]
    out = [Case("no argument", ())]
    out += [Case(f"payload {k}", (v,)) for k, v in NOT_OBJECTS.items()]
    out.append(Case("empty object", ({},)))
    for name, spec in fields.items():
        base = base_payload(event, role, world)
        base.pop(name, None)
        out.append(Case(f"without {name}", (base,), REFUSE if spec.required else ANY, name))
        for label, value in field_values(name, spec, world).items():
            payload = {**base_payload(event, role, world), name: value}
            expect = _accepts(spec, value)
            out.append(Case(f"{name}={label}", (payload,), expect, name))
    out.append(
        Case(
            "unknown extra fields",
            ({**base_payload(event, role, world), "extra": "\x00", "__proto__": {"x": 1}},),
            ANY,
        )
    )
    out.append(
        Case(
            "several positional arguments",
            (base_payload(event, role, world), {"thread_id": 1}, "extra", b"\x01"),
            ANY,
        )
    )
    return out


# ---------------------------------------------------------------------------- the checks


class ErrorRecords(logging.Handler):
    """Every record of level ERROR or above logged anywhere while installed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_records():
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


class Writes:
    """The INSERT, UPDATE and DELETE statements committed while installed (those of a
    transaction or savepoint rolled back do not count): what a refused event must not do."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.pending: list[str] = []
        self.committed: list[str] = []
        self.savepoints: dict[str, int] = {}

    def _execute(self, _conn, _cursor, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.pending.append(statement.split("\n", 1)[0][:80])

    def _commit(self, _conn) -> None:
        self.committed += self.pending
        self.pending = []

    def _rollback(self, _conn) -> None:
        self.pending = []

    def _savepoint(self, _conn, name: str) -> None:
        self.savepoints[name] = len(self.pending)

    def _rollback_savepoint(self, _conn, name: str, _context: Any) -> None:
        del self.pending[self.savepoints.pop(name, 0) :]

    HOOKS = {
        "before_cursor_execute": "_execute",
        "commit": "_commit",
        "rollback": "_rollback",
        "savepoint": "_savepoint",
        "rollback_savepoint": "_rollback_savepoint",
    }

    def __enter__(self) -> Writes:
        for name, method in self.HOOKS.items():
            event.listen(self.engine, name, getattr(self, method))
        return self

    def __exit__(self, *_exc: Any) -> None:
        for name, method in self.HOOKS.items():
            event.remove(self.engine, name, getattr(self, method))

    def take(self) -> list[str]:
        """The statements committed since the last take."""
        taken, self.committed = self.committed, []
        return taken


@pytest.fixture
def writes(db):
    with Writes(db.engine) as recorder:
        yield recorder


def describe(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 120 else f"{shown[:100]}… ({len(shown)} chars)"


# The protocol's error codes (README, "The Socket.IO protocol"); `internal` is a failure here.
CODES = {
    "auth_required",
    "forbidden",
    "not_found",
    "invalid",
    "locked",
    "muted",
    "rate_limited",
    "unavailable",
}


def check_ack(ack: Any) -> str | None:
    """What is wrong with an acknowledgement's shape, or None."""
    if not isinstance(ack, dict):
        return f"ack is not an object: {describe(ack)}"
    if not isinstance(ack.get("ok"), bool):
        return f"ack has no boolean ok: {describe(ack)}"
    if ack["ok"] is False:
        error = ack.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("code"), str):
            return f"refusal without an error code: {describe(ack)}"
        if not isinstance(error.get("message"), str) or not error["message"]:
            return f"refusal without a message: {describe(ack)}"
        if error["code"] == "internal":
            return f"answered internal (the handler failed): {describe(ack)}"
        if error["code"] not in CODES:
            return f"answered a code the protocol does not define: {describe(ack)}"
    return None


@dataclass
class Run:
    """Emits cases and collects what went wrong with each."""

    world: World
    db: Any
    errors: ErrorRecords
    writes: Writes
    failures: list[str] = field(default_factory=list)

    def emit(self, who: str, sock: Any, event: Any, case: Case) -> Any:
        where = f"[{who}] {describe(event)} {case.label}"
        self.writes.take()
        self.world.observer.get_received()
        sock.get_received()
        seen = len(self.errors.records)
        try:
            ack = sock.emit(event, *case.args, callback=True)
        except Exception as err:  # noqa: BLE001 — the point: a handler must not raise
            self.db.session.rollback()
            self.failures.append(f"{where}: raised {type(err).__name__}: {describe(str(err))}")
            return None
        problem = check_ack(ack)
        if problem:
            self.failures.append(f"{where}: {problem}")
        elif case.field and ack["ok"] is False and ack["error"]["code"] == "invalid":
            if ack["error"].get("field") != case.field:
                self.failures.append(f"{where}: invalid names no field {case.field}: {ack}")
        logged = self.errors.records[seen:]
        if logged:
            self.failures.append(
                f"{where}: logged ERROR {describe(logged[0].getMessage())}"
                f" {logged[0].exc_info[1] if logged[0].exc_info else ''}"
            )
        refused = isinstance(ack, dict) and ack.get("ok") is False
        if case.expect == REFUSE and isinstance(ack, dict) and ack.get("ok") is True:
            self.failures.append(f"{where}: accepted, must be refused: {describe(ack)}")
        heard = [e["name"] for e in self.world.observer.get_received()]
        written = self.writes.take()
        if refused or problem:
            if written:
                self.failures.append(f"{where}: refused but wrote to the database: {written}")
            if heard:
                self.failures.append(f"{where}: refused but the room heard {heard}")
            mine = [e["name"] for e in sock.get_received()]
            if mine:
                self.failures.append(f"{where}: refused but the sender was sent {mine}")
        else:
            unexpected = set(heard) - HEARD_WHEN_ACCEPTED.get(event, set())
            if unexpected:
                self.failures.append(f"{where}: accepted, and the room heard {sorted(unexpected)}")
        if sock.is_connected():
            unreadable = rooms_of(sock) - self.world.readable[who]
            if unreadable:
                self.failures.append(f"{where}: the socket is in rooms {sorted(unreadable)}")
        self.still_works(who, sock, where)
        return ack

    def still_works(self, who: str, sock: Any, where: str) -> None:
        if not sock.is_connected():
            self.failures.append(f"{where}: the socket was disconnected")
            return
        payload = {"thread_id": self.world.threads["quiet"], "before": MAX_ID, "limit": 1}
        try:
            ack = sock.emit("history", payload, callback=True)
        except Exception as err:  # noqa: BLE001
            self.db.session.rollback()
            self.failures.append(f"{where}: then history raised {type(err).__name__}")
            return
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            self.failures.append(f"{where}: then a valid history answered {describe(ack)}")

    def report(self) -> None:
        shown = "\n".join(self.failures[:300])
        more = len(self.failures) - 300
        assert not self.failures, f"{len(self.failures)} failing cases:\n{shown}" + (
            f"\n… {more} more" if more > 0 else ""
        )


# ---------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("event", sorted(EVENT_FIELDS))
def test_bad_payloads_never_crash_the_event(event, make, socket_for, db, error_records, writes):
    """Every role, every bad payload of `event`: a well-formed ack, nothing written or
    broadcast when refused, the socket still served."""
    world = build_world(make, socket_for, db)
    run = Run(world, db, error_records, writes)
    for role in ROLES:
        for case in cases_for(event, role, world):
            run.emit(role, world.sockets[role], event, case)
    run.report()


def _generic_cases(every_shape: bool = True) -> list[Case]:
    """Payloads of any event: none, each shape that is not an object (`every_shape`, else
    only None and bytes), an object, two arguments."""
    shapes = NOT_OBJECTS if every_shape else {k: NOT_OBJECTS[k] for k in ("None", "bytes")}
    out = [Case("no argument", ())]
    out += [Case(f"payload {k}", (v,)) for k, v in shapes.items()]
    out += [Case("object", ({"thread_id": 1},)), Case("two arguments", ({}, "x"))]
    return out


@pytest.mark.parametrize("group", list(UNKNOWN_NAMES))
def test_unknown_and_reserved_event_names_are_refused(
    group, make, socket_for, db, error_records, writes
):
    """Made-up names, names with NUL, very long or reserved ones: `invalid`, nothing else."""
    world = build_world(make, socket_for, db)
    run = Run(world, db, error_records, writes)
    for (label, name), role in itertools.product(UNKNOWN_NAMES[group].items(), ROLES):
        for case in _generic_cases(every_shape=False):
            case.label = f"(name {label}) {case.label}"
            ack = run.emit(role, world.sockets[role], name, case)
            if isinstance(ack, dict) and ack.get("ok") is True:
                run.failures.append(f"[{role}] {label} {case.label}: accepted {describe(ack)}")
            elif isinstance(ack, dict) and ack.get("error", {}).get("code") != "invalid":
                run.failures.append(f"[{role}] {label} {case.label}: {describe(ack)}")
    run.report()


@pytest.mark.parametrize("name", ["connect", "disconnect"])
def test_connection_events_sent_by_a_client_are_refused(
    name, make, socket_for, db, error_records, writes
):
    """ "connect" and "disconnect" as a client's own events, with any payload: refused as
    unknown events, the socket stays connected."""
    world = build_world(make, socket_for, db)
    run = Run(world, db, error_records, writes)
    for role in ROLES:
        for case in _generic_cases():
            run.emit(role, world.sockets[role], name, case)
    run.report()


CONNECT_AUTH: dict[str, Any] = {
    "None": None,
    "str": "token",
    "int": 1,
    "list": [1, 2],
    "dict": {"token": "x"},
    "NUL": {"token": "\x00"},
    "long": {"token": "x" * 100_000},
    "surrogate": {"token": "\ud800"},
}


def test_connecting_with_any_auth_payload_works(app, make, db, error_records):
    """The connect handler's `auth` argument (what the client sends with CONNECT), of any
    shape: the connection is accepted or refused, never crashes, and a socket let in is
    served."""
    failures = []
    user = make.user()
    thread = make.thread(author=user)
    for who in ("visitor", "member"):
        for label, auth in CONNECT_AUTH.items():
            http = app.test_client()
            if who == "member":
                Auth(http).login(user)
            seen = len(error_records.records)
            try:
                sock = socketio.test_client(app, flask_test_client=http, auth=auth)
            except Exception as err:  # noqa: BLE001
                db.session.rollback()
                failures.append(f"[{who}] auth {label}: raised {type(err).__name__}: {err}")
                continue
            if error_records.records[seen:]:
                failures.append(f"[{who}] auth {label}: logged an ERROR")
            if sock.is_connected():
                payload = {"thread_id": thread.id, "before": MAX_ID}
                ack = sock.emit("history", payload, callback=True)
                if not (isinstance(ack, dict) and ack.get("ok") is True):
                    failures.append(f"[{who}] auth {label}: then history answered {ack!r}")
                sock.disconnect()
    assert not failures, "\n".join(failures)


def test_the_world_is_as_the_cases_assume(make, socket_for, db):
    """The fuzz's valid base payloads are accepted (else every mutation of them would be
    refused for the wrong reason, and the test would prove little), the observer hears
    what a room hears, and the room check sees the rooms a socket is in."""
    world = build_world(make, socket_for, db)
    sock = world.sockets["member"]
    for name in sorted(EVENT_FIELDS):
        if name in ("message:delete", "reaction:remove"):
            continue
        ack = sock.emit(name, base_payload(name, "member", world), callback=True)
        assert isinstance(ack, dict) and ack.get("ok") is True, (name, ack)
    heard = {e["name"] for e in world.observer.get_received()}
    assert {"message:new", "message:edited", "reaction:updated", "typing"} <= heard
    assert {"draft round", "closed round"} <= set(world.threads), world.threads
    assert world.threads["draft round"] != world.threads["closed round"]
    for thread, code in (("muted", "muted"), ("archived", "locked"), ("locked", "locked")):
        ack = sock.emit("typing", {"thread_id": world.threads[thread]}, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == code, (thread, ack)
    visitor = world.readable["visitor"]
    assert {f"thread:{world.threads[k]}" for k in ("public", "locked", "quiet")} <= visitor
    assert f"forum:{world.forums['public']}" in visitor
    for closed in ("members", "invite", "muted", "draft round"):
        assert f"thread:{world.threads[closed]}" not in visitor, closed
    assert f"thread:{world.threads['invite']}" not in world.readable["member"]
    assert f"thread:{world.threads['members']}" in world.readable["member"]
    assert sock.emit("join", {"thread_id": world.threads["members"]}, callback=True)["ok"]
    assert f"thread:{world.threads['members']}" in rooms_of(sock)


def test_the_checks_catch_a_handler_that_crashes_writes_or_tells(
    make, socket_for, db, error_records, writes, monkeypatch
):
    """The fuzz itself: a handler that fails, one that writes or broadcasts and then
    refuses, and one that lets a socket into a room it may not read, each make a failure."""
    world = build_world(make, socket_for, db)
    run = Run(world, db, error_records, writes)
    sock = world.sockets["member"]
    assert sock.emit("join", {"thread_id": world.threads["public"]}, callback=True)["ok"]
    typing = base_payload("typing", "member", world)
    monkeypatch.setattr(forum_service, "check_typing", lambda *_: 1 / 0)
    run.emit("member", sock, "typing", Case("crash", (typing,)))
    assert any("internal" in f for f in run.failures), run.failures
    assert any("logged ERROR" in f for f in run.failures), run.failures

    def tell_then_refuse(user, thread_id):
        socketio.emit("typing", {}, to=thread_room(thread_id))
        make.message(db.session.get(Thread, thread_id), user, "written")
        raise Invalid("no")

    run.failures.clear()
    monkeypatch.setattr(forum_service, "check_typing", tell_then_refuse)
    run.emit("member", sock, "typing", Case("tell", (typing,)))
    assert any("room heard" in f for f in run.failures), run.failures
    assert any("sender was sent" in f for f in run.failures), run.failures
    assert any("wrote to the database" in f for f in run.failures), run.failures

    run.failures.clear()
    sid = socketio.server.manager.sid_from_eio_sid(sock.eio_sid, "/")
    socketio.server.enter_room(sid, thread_room(world.threads["invite"]))
    run.emit("member", sock, "leave", Case("in a room", ({"thread_id": 999_999},), ANY))
    assert any("the socket is in rooms" in f for f in run.failures), run.failures
