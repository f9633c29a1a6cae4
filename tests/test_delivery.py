"""Delivery guarantees against real server processes with the python-socketio client."""

from __future__ import annotations

import os
import threading
import time
import uuid

import psycopg
import pytest
import redis
import socketio as sio_client
from serverproc import ServerProcess, cookie_header
from sqlalchemy import func, select
from support import PASSWORD, app_settings, create_schema, service_missing

from forum.models import Message

pytestmark = pytest.mark.server


class Client:
    """A python-socketio client that records the events it receives."""

    def __init__(self, server: ServerProcess, user=None) -> None:
        self.events: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.sio = sio_client.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.disconnected = threading.Event()
        self.sio.on("disconnect", lambda *a: self.disconnected.set())
        headers = {}
        if user is not None:
            self.http = server.login(user.email, PASSWORD)
            headers["Cookie"] = cookie_header(self.http)
        self.server = server
        self.headers = headers
        self.connect()

    def connect(self) -> None:
        self.disconnected.clear()
        self.sio.connect(
            self.server.url, headers=self.headers, transports=["websocket"], wait_timeout=10
        )

    def _record(self, event, data=None) -> None:
        with self.lock:
            self.events.append((event, data))

    def call(self, event: str, data: dict) -> dict:
        return self.sio.call(event, data, timeout=10)

    def received(self, event: str) -> list[dict]:
        with self.lock:
            return [data for name, data in self.events if name == event]

    def wait_for(self, event: str, count: int, timeout: float = 5) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(event)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return self.received(event)

    def close(self) -> None:
        """Close without waiting out the websocket's close handshake (3 s per client)."""
        if self.sio.connected:
            threading.Thread(
                target=self.sio.eio.disconnect, kwargs={"abort": True}, daemon=True
            ).start()
            self.disconnected.wait(1)


@pytest.fixture
def server(app, db_url):
    with ServerProcess(db_url) as proc:
        yield proc


def new_client(clients, server, user=None) -> Client:
    client = Client(server, user)
    clients.append(client)
    return client


def test_ack_carries_the_committed_message_and_others_receive_it(server, make, clients, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    a, b = new_client(clients, server, alice), new_client(clients, server, bob)
    assert b.call("join", {"thread_id": thread.id})["ok"]

    ack = a.call("message:send", {"thread_id": thread.id, "body": "hej", "client_id": "real-1"})

    assert ack["ok"]
    db.session.expire_all()
    assert db.session.get(Message, ack["message"]["id"]).body == "hej"
    got = b.wait_for("message:new", 1)
    assert [g["message"]["id"] for g in got] == [ack["message"]["id"]]


def test_every_client_sees_the_same_messages_in_one_id_order(server, make, clients):
    senders = [make.user() for _ in range(3)]
    watcher = make.user()
    thread = make.thread(author=senders[0])
    watchers = [new_client(clients, server, watcher) for _ in range(2)]
    for w in watchers:
        assert w.call("join", {"thread_id": thread.id})["ok"]
    sending = [new_client(clients, server, s) for s in senders]

    acked: dict[int, list[int]] = {}

    def burst(client, author_id, n):
        acked[author_id] = [
            client.call(
                "message:send",
                {"thread_id": thread.id, "body": f"m{i}", "client_id": uuid.uuid4().hex},
            )["message"]["id"]
            for i in range(n)
        ]

    workers = [
        threading.Thread(target=burst, args=(c, s.id, 5))
        for c, s in zip(sending, senders, strict=True)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    # each sender's messages got increasing ids in the order they were sent
    for ids in acked.values():
        assert ids == sorted(ids) and len(set(ids)) == 5
    everything = sorted(i for ids in acked.values() for i in ids)
    for w in watchers:
        arrived = [m["message"] for m in w.wait_for("message:new", 15)]
        # every watcher got each message exactly once ...
        assert sorted(m["id"] for m in arrived) == everything
        # ... and one sender's messages in the order that sender sent them (the broadcast
        # leaves before the acknowledgement, so nothing can overtake it)
        for author_id, ids in acked.items():
            assert [m["id"] for m in arrived if m["author"]["id"] == author_id] == ids
            assert [m["body"] for m in arrived if m["author"]["id"] == author_id] == [
                f"m{i}" for i in range(5)
            ]
    # the server hands out the one order, by id, without the client sorting anything
    rejoin = watchers[0].call("join", {"thread_id": thread.id})
    assert [m["id"] for m in rejoin["messages"]] == everything


def test_retry_after_lost_ack_returns_the_stored_message_and_broadcasts_once(
    server, make, clients, db
):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    a, b = new_client(clients, server, alice), new_client(clients, server, bob)
    b.call("join", {"thread_id": thread.id})
    payload = {"thread_id": thread.id, "body": "bara en gång", "client_id": "lost-ack"}
    a.sio.emit("message:send", payload)  # fire and forget: the ack is "lost"
    retry = a.call("message:send", payload)
    assert retry["ok"]
    time.sleep(0.5)
    assert [m["message"]["id"] for m in b.received("message:new")] == [retry["message"]["id"]]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_concurrent_duplicate_sends_store_one_message(server, make, clients, db):
    alice = make.user()
    thread = make.thread(author=alice)
    senders = [new_client(clients, server, alice) for _ in range(4)]
    payload = {"thread_id": thread.id, "body": "kapplöpning", "client_id": "race"}
    results: list[dict] = []
    workers = [
        threading.Thread(target=lambda c=c: results.append(c.call("message:send", payload)))
        for c in senders
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert all(r["ok"] for r in results)
    assert len({r["message"]["id"] for r in results}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_reconnect_with_since_gets_exactly_what_was_missed(server, make, clients):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    a, b = new_client(clients, server, alice), new_client(clients, server, bob)
    b.call("join", {"thread_id": thread.id})
    first = a.call("message:send", {"thread_id": thread.id, "body": "före", "client_id": "r0"})[
        "message"
    ]
    b.wait_for("message:new", 1)
    b.close()
    b = new_client(clients, server, bob)
    missed = [
        a.call(
            "message:send", {"thread_id": thread.id, "body": f"under {i}", "client_id": f"r{i + 1}"}
        )["message"]["id"]
        for i in range(3)
    ]
    ack = b.call("join", {"thread_id": thread.id, "since": first["id"]})
    assert [m["id"] for m in ack["messages"]] == missed
    after = a.call("message:send", {"thread_id": thread.id, "body": "efter", "client_id": "r9"})[
        "message"
    ]
    got = b.wait_for("message:new", 1)
    assert [m["message"]["id"] for m in got] == [after["id"]]


def _logout(client: Client, path: str) -> None:
    import re

    page = client.http.get(client.server.url + "/settings", timeout=5).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.http.post(
        client.server.url + path, data={"csrf_token": token}, timeout=5, allow_redirects=False
    )
    assert response.status_code in (302, 303)


def test_logout_disconnects_that_sessions_sockets_within_a_second(server, make, clients):
    alice = make.user()
    a = new_client(clients, server, alice)
    other_session = new_client(clients, server, alice)
    _logout(a, "/logout")
    # within a second of the logout's answer (not of its request: CI failed when a loaded
    # machine took two seconds to answer the settings page and the logout)
    assert a.disconnected.wait(1.0), "socket still open after logout"
    time.sleep(0.3)
    assert other_session.sio.connected  # another browser of the same person stays


def test_log_out_everywhere_disconnects_every_socket(server, make, clients):
    alice = make.user()
    a = new_client(clients, server, alice)
    b = new_client(clients, server, alice)
    _logout(a, "/settings/logout-everywhere")
    assert a.disconnected.wait(1.0) and b.disconnected.wait(1.0)
    # the old cookie no longer authenticates a new socket
    retry = sio_client.Client(reconnection=False)
    retry.connect(server.url, headers=b.headers, transports=["websocket"], wait_timeout=10)
    try:
        ack = retry.call(
            "message:send", {"thread_id": 1, "body": "x", "client_id": "old-cookie"}, timeout=5
        )
        assert ack["ok"] is False and ack["error"]["code"] == "auth_required"
    finally:
        retry.disconnect()


# --- Redis: two processes share rooms --------------------------------------


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database with the schema and the agreement."""
    base = os.environ.get("FORUM_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"forum_mq_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        service_missing("PostgreSQL")
    admin.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + f"/{name}"
    yield url
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def redis_url():
    url = os.environ.get("FORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing("Redis")
    return url


@pytest.mark.redis
@pytest.mark.postgres
def test_two_processes_share_rooms_through_redis(postgres_url, redis_url):
    from forum import create_app
    from forum.extensions import db
    from forum.services import accounts, agreement, forums

    app = create_app(app_settings(postgres_url))
    with app.app_context(), app.test_request_context():
        create_schema()
        agreement.seed_agreement()
        alice = accounts.create_user_with_role("alice@mq.se", "Alice MQ", PASSWORD, "member")
        bob = accounts.create_user_with_role("bob@mq.se", "Bob MQ", PASSWORD, "member")
        official = accounts.create_user_with_role(
            "off@mq.se", "Off MQ", PASSWORD, "official", "Kulturnämnden"
        )
        forum = forums.create_forum(official, "MQ", "", "public", [1])
        thread = forums.start_thread(alice, forum, "Över två processer", [1])
        thread_id = thread.id
        alice_email, bob_email = alice.email, bob.email
        db.session.remove()
        db.engine.dispose()
    one = ServerProcess(postgres_url, FORUM_REDIS_URL=redis_url)
    two = ServerProcess(postgres_url, FORUM_REDIS_URL=redis_url)
    made: list[Client] = []
    with one, two:
        assert one.port != two.port
        assert __import__("requests").get(one.url + "/healthz").json()["message_queue"] == "ok"
        on_one = Client(one, type("U", (), {"email": bob_email})())
        on_two = Client(two, type("U", (), {"email": alice_email})())
        made += [on_one, on_two]
        try:
            assert on_one.call("join", {"thread_id": thread_id})["ok"]
            ack = on_two.call(
                "message:send",
                {"thread_id": thread_id, "body": "via process två", "client_id": "mq-1"},
            )
            assert ack["ok"]
            got = on_one.wait_for("message:new", 1, timeout=5)
            assert [g["message"]["id"] for g in got] == [ack["message"]["id"]]
            # logging out everywhere on process two ends Bob's socket on process one
            bob_two = Client(two, type("U", (), {"email": bob_email})())
            made.append(bob_two)
            _logout(bob_two, "/settings/logout-everywhere")
            assert on_one.disconnected.wait(1.5)
        finally:
            for client in made:
                client.close()
