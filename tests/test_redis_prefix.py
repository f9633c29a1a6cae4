"""FORUM_REDIS_PREFIX: two installations share one Redis and see nothing of each other.

Two pairs of real server processes (each pair one installation: its own SQLite file,
its own prefix) on the same Redis. Within a pair the queue carries broadcasts and
disconnects between the processes; across pairs nothing arrives.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
import redis
from serverproc import ServerProcess
from support import PASSWORD, app_settings, create_schema, service_missing
from test_delivery import Client, _logout

from forum.config import ConfigError, load_config, parse_redis_prefix
from forum.extensions import db

pytestmark = [pytest.mark.server, pytest.mark.redis]


def test_prefix_setting(tmp_path):
    env = {"FORUM_SECRET_KEY": "x" * 32}
    assert load_config(tmp_path, env)["FORUM_REDIS_PREFIX"] == "dialogforum"
    assert load_config(tmp_path, {**env, "FORUM_REDIS_PREFIX": "kommun-b"})[
        "FORUM_REDIS_PREFIX"
    ] == ("kommun-b")
    for bad in ("två ord", "a:b", "x" * 65, "*"):
        with pytest.raises(ConfigError):
            parse_redis_prefix(bad)


def test_channels_carry_the_prefix(app, db_url):
    from forum import create_app
    from forum.events import disconnect_channel
    from forum.extensions import socketio

    other = create_app(
        app_settings(db_url, FORUM_REDIS_URL="redis://127.0.0.1:1/0", FORUM_REDIS_PREFIX="stad-a")
    )
    try:
        assert socketio.server.manager.channel == "stad-a:socketio"
        with other.app_context():
            assert disconnect_channel() == "stad-a:disconnect"
    finally:
        create_app(app_settings(db_url))  # the process-wide server forgets the queue again


def test_api_rate_limits_are_counted_per_installation(app, db_url):
    """Two installations on one Redis, the same address: each has its own API budget, kept
    under its own prefix."""
    from forum import create_app

    redis_url = os.environ.get("FORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        server = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
        server.ping()
    except redis.RedisError:
        service_missing("Redis")
    run = f"{os.environ['FORUM_REDIS_PREFIX']}-api-{uuid.uuid4().hex[:6]}"
    common = {"FORUM_REDIS_URL": redis_url, "FORUM_API_RATE_LIMIT": "2 per minute"}
    apps = {
        name: create_app(app_settings(db_url, FORUM_REDIS_PREFIX=f"{run}-{name}", **common))
        for name in ("a", "b")
    }
    address = {"REMOTE_ADDR": "192.0.2.15"}
    try:
        codes = {
            name: [
                other.test_client().get("/api/v1/principles", environ_base=address).status_code
                for _ in range(3)
            ]
            for name, other in apps.items()
        }
        assert codes == {"a": [200, 200, 429], "b": [200, 200, 429]}
        for name in ("a", "b"):
            assert list(server.scan_iter(f"*/{run}-{name}:api/addr:192.0.2.15/*"))
    finally:
        for key in server.scan_iter(f"*/{run}-*"):
            server.delete(key)
        for other in apps.values():  # their pools' connections, or they are left open
            with other.app_context():
                db.engine.dispose()
        create_app(app_settings(db_url))  # the process-wide server forgets the queue again


def _installation(path: Path) -> tuple[str, int, str, str]:
    """A SQLite installation with two members and one public thread."""
    from forum import create_app
    from forum.extensions import db
    from forum.services import accounts, agreement, forums

    url = f"sqlite:///{path}"
    app = create_app(app_settings(url))
    with app.app_context(), app.test_request_context():
        create_schema()
        agreement.seed_agreement()
        alice = accounts.create_user_with_role("alice@prefix.se", "Alice", PASSWORD, "member")
        bob = accounts.create_user_with_role("bob@prefix.se", "Bob", PASSWORD, "member")
        official = accounts.create_user_with_role(
            "off@prefix.se", "Off", PASSWORD, "official", "Kulturnämnden"
        )
        forum = forums.create_forum(official, "Delad Redis", "", "public", [1])
        thread_id = forums.start_thread(alice, forum, "Samma id i båda", [1]).id
        emails = alice.email, bob.email
        db.session.remove()
        db.engine.dispose()
    return url, thread_id, *emails


def _person(email: str):
    return type("Person", (), {"email": email})()


def test_two_installations_on_one_redis_see_nothing_of_each_other(tmp_path):
    redis_url = os.environ.get("FORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing("Redis")
    run = uuid.uuid4().hex[:6]
    setups = {name: _installation(tmp_path / f"{name}.sqlite3") for name in ("a", "b")}
    servers = {
        name: [
            ServerProcess(
                setups[name][0],
                FORUM_REDIS_URL=redis_url,
                FORUM_REDIS_PREFIX=f"test-{run}-{name}",
                FORUM_MESSAGE_RATE_LIMIT="off",
            )
            for _ in range(2)
        ]
        for name in ("a", "b")
    }
    clients: list[Client] = []
    started: list[ServerProcess] = []
    try:
        for pair in servers.values():
            for server in pair:
                started.append(server.start())
        listeners = {}
        for name, (_url, thread_id, _alice, bob) in setups.items():
            for i, server in enumerate(servers[name]):
                client = Client(server, _person(bob))
                clients.append(client)
                assert client.call("join", {"thread_id": thread_id})["ok"]
                listeners[name, i] = client
        # Alice of installation a sends on its first process.
        _url, thread_a, alice_a, _bob = setups["a"]
        sender = Client(servers["a"][0], _person(alice_a))
        clients.append(sender)
        ack = sender.call(
            "message:send", {"thread_id": thread_a, "body": "bara för a", "client_id": "p1"}
        )
        assert ack["ok"], ack
        for i in range(2):
            got = listeners["a", i].wait_for("message:new", 1, timeout=5)
            assert [g["message"]["id"] for g in got] == [ack["message"]["id"]]
        # Bob of installation a logs out everywhere: both of a's sockets close.
        bob_a = Client(servers["a"][1], _person(setups["a"][3]))
        clients.append(bob_a)
        _logout(bob_a, "/settings/logout-everywhere")
        assert listeners["a", 0].disconnected.wait(2) and listeners["a", 1].disconnected.wait(2)
        time.sleep(0.5)
        # Installation b, same thread id and user ids, got neither the message nor the logout.
        for i in range(2):
            assert listeners["b", i].received("message:new") == []
            assert listeners["b", i].sio.connected
        # And b's own queue works: a send on b's second process reaches b's first,
        # and not a's socket in the thread with the same id.
        assert sender.call("join", {"thread_id": thread_a})["ok"]
        sender_b = Client(servers["b"][1], _person(setups["b"][2]))
        clients.append(sender_b)
        ack_b = sender_b.call(
            "message:send", {"thread_id": setups["b"][1], "body": "bara b", "client_id": "p2"}
        )
        assert ack_b["ok"], ack_b
        assert len(listeners["b", 0].wait_for("message:new", 1, timeout=5)) == 1
        time.sleep(0.3)
        assert sender.received("message:new") == []
    finally:
        for client in clients:
            client.close()
        for server in started:
            server.stop()
