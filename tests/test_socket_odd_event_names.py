"""Events whose name is "*" or not text at all: python-socketio hands a client's event named
"*" to the catch-all handler without its name, so Flask-SocketIO took the payload for the
socket's id, and it raised on a name it cannot look up (a list, an object). Both are now
answered as any event the protocol does not define, for the socket that sent them."""

import pytest

from forum.extensions import socketio


def _sid(sock) -> str:
    return socketio.server.manager.sid_from_eio_sid(sock.eio_sid, "/")


@pytest.mark.parametrize("args", [(), ({"thread_id": 1},), ("text",), ({}, "two")])
def test_an_event_named_star_is_answered_as_an_unknown_event(make, socket_for, args):
    """`42["*", ...]` raised (IndexError with no payload, TypeError with an object as the
    "sid") or answered `["", 400]`, not `{ok: false, error}`."""
    user = make.user()
    thread = make.thread(author=user)
    sock = socket_for(user)

    ack = sock.emit("*", *args, callback=True)

    assert isinstance(ack, dict) and ack["ok"] is False, ack
    assert ack["error"]["code"] == "invalid"
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]


@pytest.mark.parametrize("name", [["join"], {"event": "join"}])
def test_an_event_whose_name_is_not_text_is_answered_as_an_unknown_event(make, socket_for, name):
    """A list or object as the event's name raised TypeError (unhashable) in the server."""
    user = make.user()
    thread = make.thread(author=user)
    sock = socket_for(user)

    ack = sock.emit(name, {"thread_id": thread.id}, callback=True)

    assert isinstance(ack, dict) and ack["ok"] is False, ack
    assert ack["error"]["code"] == "invalid"
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]


@pytest.mark.config(
    FORUM_SOCKET_BURST=3,
    FORUM_SOCKET_EVENTS_PER_SECOND=0.01,
    FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT=2,
)
def test_an_event_named_star_cannot_spend_another_sockets_flood_budget(make, socket_for):
    """With another socket's id as its payload, `42["*", "<sid>"]` ran the catch-all in
    THAT socket's context: it spent the other socket's flood budget until the server
    disconnected it as a flooder and cooled its login session off (its reconnects
    refused). Now the event counts against the socket that sent it."""
    attacker, victim = make.user(), make.user()
    thread = make.thread(author=victim)
    a, b = socket_for(attacker), socket_for(victim)
    target = _sid(b)

    for _ in range(10):
        if not a.is_connected():
            break
        a.emit("*", target, callback=True)

    assert b.is_connected(), "the victim was disconnected as a flooder"
    ack = b.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["ok"] is True, ack
