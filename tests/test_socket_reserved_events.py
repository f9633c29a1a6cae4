"""Events named "connect" and "disconnect" sent by a client: python-socketio hands them to
the server's own connection handlers. Answered now as any event the protocol does not
define, without touching the access registry, the flood budget or presence."""

import pytest

from forum.realtime import presence


def test_a_client_sent_disconnect_event_keeps_a_removed_member_hearing_an_invite_only_thread(
    app, make, socket_for
):
    """A member of an invite-only forum sends an EVENT packet named "disconnect" (a raw
    frame `42["disconnect"]`; python-socketio's client emits it too). The server runs
    on_disconnect for it while the socket stays connected: the socket is dropped from the
    access registry, so when the owner removes the member the recheck skips it and it
    goes on receiving the thread's messages."""
    owner = make.user("official")
    guest, stays = make.user(), make.user()
    forum = make.forum(owner=owner, visibility="invite", members=[guest, stays])
    thread = make.thread(forum, author=stays)
    guest_sock, owner_sock = socket_for(guest), socket_for(owner)
    for sock in (guest_sock, owner_sock):
        assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]

    guest_sock.emit("disconnect", callback=True)  # a made-up client event, not a disconnect
    assert guest_sock.is_connected()
    guest_sock.get_received()

    from forum.services import forums

    with app.test_request_context():
        forums.change_forum_people(owner, forum, guest.email, "member", add=False)
    ack = owner_sock.emit(
        "message:send",
        {"thread_id": thread.id, "body": "bara för medlemmar", "client_id": "after"},
        callback=True,
    )
    assert ack["ok"], ack

    received = guest_sock.get_received()
    news = [e for e in received if e["name"] == "message:new"]
    assert news == [], "a removed member still hears the invite-only thread"
    assert [e["args"][0] for e in received if e["name"] == "thread:revoked"] == [
        {"thread_id": thread.id}
    ]


@pytest.mark.parametrize(
    "app",
    [
        {
            "FORUM_SOCKET_BURST": 5,
            "FORUM_SOCKET_EVENTS_PER_SECOND": 0.01,
            "FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT": 1000,
        }
    ],
    indirect=True,
)
def test_a_client_sent_disconnect_event_refills_the_flood_budget(app, make, socket_for):
    """The event budget (FORUM_SOCKET_BURST, then FORUM_SOCKET_EVENTS_PER_SECOND) is
    forgotten by on_disconnect, which a client can trigger with an event named
    "disconnect" (not itself counted): one such event every few keeps a flooding socket
    at a full budget forever, so it is never slowed nor disconnected."""
    user = make.user()
    thread = make.thread(author=user)
    sock = socket_for(user)
    codes = []
    for i in range(60):
        if i % 4 == 0:
            sock.emit("disconnect")
        ack = sock.emit("typing", {"thread_id": thread.id}, callback=True)
        codes.append(ack.get("error", {}).get("code") if not ack["ok"] else "ok")
    assert codes.count("rate_limited") >= 50, codes


def test_a_client_sent_disconnect_event_is_answered_as_an_unknown_event(app, make, socket_for):
    """The protocol: every client event is acknowledged `{ok, ...}`; an event the protocol
    does not define answers `invalid`. "disconnect" and "connect" sent as client events
    run the server's connection handlers instead (ack `[]` and `true`) and the socket
    drops out of the thread's presence while it is still there."""
    user = make.user()
    thread = make.thread(author=user)
    sock = socket_for(user)
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    assert user.id in {p["id"] for p in presence.snapshot(thread.id)["users"]}

    for name in ("disconnect", "connect"):
        ack = sock.emit(name, {"x": 1}, callback=True)
        assert isinstance(ack, dict) and ack.get("ok") is False, (name, ack)
        assert ack["error"]["code"] == "invalid"
    assert sock.is_connected()
    assert user.id in {p["id"] for p in presence.snapshot(thread.id)["users"]}


def test_over_a_real_server_a_disconnect_event_keeps_a_removed_member_in_the_room(
    app, make, db_url, clients
):
    """The same against a `flask serve` process with the python-socketio client (whose
    emit sends "disconnect" as an ordinary event); the owner removes the guest on the
    forum's people page of that process."""
    import re
    import time

    from serverproc import ServerProcess
    from support import PASSWORD
    from test_delivery import Client

    owner = make.user("official")
    guest, stays = make.user(), make.user()
    forum = make.forum(owner=owner, visibility="invite", members=[guest, stays])
    thread = make.thread(forum, author=stays)
    with ServerProcess(db_url) as server:
        g = Client(server, guest)
        o = Client(server, owner)
        clients.extend([g, o])
        assert g.call("join", {"thread_id": thread.id})["ok"]
        assert o.call("join", {"thread_id": thread.id})["ok"]
        g.sio.emit("disconnect", {})
        time.sleep(0.3)
        assert g.sio.connected

        http = server.login(owner.email, PASSWORD)
        page = http.get(f"{server.url}/forums/{forum.slug}/people", timeout=5).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        done = http.post(
            f"{server.url}/forums/{forum.slug}/people",
            data={"csrf_token": token, "email": guest.email, "role": "member", "action": "remove"},
            timeout=5,
            allow_redirects=False,
        )
        assert done.status_code in (302, 303), done.text[:300]
        ack = o.call(
            "message:send",
            {"thread_id": thread.id, "body": "bara för medlemmar", "client_id": "real-after"},
        )
        assert ack["ok"], ack
        time.sleep(0.5)
        assert g.received("message:new") == [], "a removed member still hears the thread"
        assert g.received("thread:revoked") == [{"thread_id": thread.id}]
