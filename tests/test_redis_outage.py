"""A Redis outage loses nothing for good: open pages resync, logouts still close sockets.

With Redis as the message queue a broadcast made while it is down never reaches the
sockets of any process, and those sockets stay connected (to their process), so no
reconnect and no catch-up ever ran: a message sent meanwhile never appeared on pages
already open. Likewise a logout, a log-out-everywhere, a suspension or an access recheck
published while it was down was dropped, and the session's sockets on other processes
stayed open. Each process now watches Redis (forum/realtime/presence.py): when it answers
again, the process publishes the disconnect and recheck requests it kept and sends
`resync` to its own sockets, which answer with their catch-up join.

Each test runs its own redis-server on a free port, killed and started again.
"""

from __future__ import annotations

import shutil
import time

import pytest
from production_stack import RedisServer, wait_until
from serverproc import ServerProcess
from test_delivery import Client, _logout

# Redis going away under serving processes: what the database is does not matter here, so
# CI runs these once, in its PostgreSQL stage (the production path).
pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server"),
    pytest.mark.ci_postgresql,
]


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def watch_by_hand(monkeypatch):
    """presence.watch_once, for a test that drives the watcher's clock itself. A process's
    watcher thread, once an earlier test's socket started it, keeps calling watch_once with
    the real clock; it gets a no-op meanwhile, so its rounds don't fall into this test's."""
    from forum.realtime import presence

    watch_once = presence.watch_once
    monkeypatch.setattr(presence, "watch_once", lambda now=None: 0)
    return watch_once


def _process(db_url, redis):
    return ServerProcess(db_url, FORUM_REDIS_URL=redis.url, FORUM_MESSAGE_RATE_LIMIT="off")


def test_open_pages_resync_and_catch_up_after_redis_returns(db_url, make, own_redis, clients):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    with _process(db_url, own_redis) as server:
        reader, writer = Client(server, bob), Client(server, alice)
        clients += [reader, writer]
        assert reader.call("join", {"thread_id": thread.id})["ok"]
        before = writer.call(
            "message:send", {"thread_id": thread.id, "body": "före", "client_id": "r0"}
        )
        seen = reader.wait_for("message:new", 1)[-1]["message"]["id"]
        assert seen == before["message"]["id"]

        own_redis.stop()
        time.sleep(2)  # the watcher's PING notices (it asks every second)
        during = writer.call(
            "message:send", {"thread_id": thread.id, "body": "under avbrottet", "client_id": "r1"}
        )
        assert during["ok"], during
        own_redis.start()

        # (whether the broadcast itself got through depends on how long its publish
        # retried; the page's catch-up join brings the message either way)
        assert reader.wait_for("resync", 1, timeout=10), reader.events
        caught = reader.call("join", {"thread_id": thread.id, "since": seen})
        assert [m["id"] for m in caught["messages"]] == [during["message"]["id"]]


def test_kept_requests_are_published_again_and_dropped_after_the_final_round(
    app, own_redis, watch_by_hand
):
    import json

    import redis

    from forum import events
    from forum.realtime import presence

    app.config["FORUM_REDIS_URL"] = own_redis.url
    presence.configure(own_redis.url)
    try:
        own_redis.stop()
        with app.app_context():
            events.disconnect_room("session:gone")
        assert watch_by_hand(now=100.0) == 0
        own_redis.start()
        listener = redis.Redis.from_url(own_redis.url).pubsub(ignore_subscribe_messages=True)
        with app.app_context():
            listener.subscribe(events.disconnect_channel())
        assert watch_by_hand(now=110.0) == 1
        assert watch_by_hand(now=111.0) == 0  # not yet
        assert watch_by_hand(now=200.0) == 2
        assert watch_by_hand(now=201.0) == 0
        got = []
        wait_until(
            lambda: (m := listener.get_message(timeout=0.2)) and got.append(m) or len(got) >= 2,
            5,
        )
        assert [json.loads(m["data"])["room"] for m in got] == ["session:gone"] * 2
        assert not events._unsent
    finally:
        presence.configure(None)
        events._unsent.clear()


def test_a_logout_during_an_outage_closes_the_older_sockets_on_other_processes_only(
    db_url, make, own_redis, clients
):
    """A logout that Redis refused is kept and published again (twice) when it answers, so
    the person's sockets on other processes still close; it used to close every socket of
    the person's room, also those of a login made after it."""
    bob = make.user()
    thread = make.thread()
    with _process(db_url, own_redis) as one, _process(db_url, own_redis) as two:
        old_two = Client(two, bob)
        old_one = Client(one, bob)
        clients += [old_two, old_one]
        assert old_two.call("join", {"thread_id": thread.id})["ok"]
        own_redis.stop()
        time.sleep(0.5)
        _logout(old_one, "/settings/logout-everywhere")  # told over Redis: refused
        assert old_one.disconnected.wait(2)  # its own process closes its own at once
        time.sleep(0.5)
        assert not old_two.disconnected.is_set()
        during = Client(two, bob)  # a new login, during the outage but after the logout
        clients.append(during)
        assert during.call("join", {"thread_id": thread.id})["ok"]
        time.sleep(1)
        own_redis.start()
        assert old_two.disconnected.wait(15), old_two.events  # the first round
        assert old_two.received("session:ended") == [{}]
        after = Client(two, bob)  # a new login after the logout reached every process
        clients.append(after)
        assert after.call("join", {"thread_id": thread.id})["ok"]
        # the second round comes about the outage's length (3 s) plus 2 s later
        assert not after.disconnected.wait(8), after.events
        assert not during.disconnected.is_set(), during.events
        assert during.received("session:ended") == []


def test_a_redis_that_refuses_writes_starts_no_resync_storm(db_url, make, own_redis, clients):
    """Out of memory (noeviction) Redis still answers PING but refuses every write: each
    refused presence write counted as an outage, and every page was told to resync (and
    its catch-up join failed to write again) every second."""
    import redis

    bob = make.user()
    thread = make.thread()
    with _process(db_url, own_redis) as server:
        page = Client(server, bob)
        clients.append(page)
        assert page.call("join", {"thread_id": thread.id})["ok"]
        time.sleep(1.5)
        assert page.received("resync") == []
        admin = redis.Redis.from_url(own_redis.url)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)
        assert admin.ping()
        started, answered = time.monotonic(), 0
        while time.monotonic() - started < 12:
            if len(page.received("resync")) > answered:  # the page catches up, as it does
                answered += 1
                page.call("join", {"thread_id": thread.id, "since": 0})
            page.call("join", {"thread_id": thread.id})  # and people keep coming
            time.sleep(0.3)
        assert len(page.received("resync")) <= 2, page.received("resync")


def test_only_connection_failures_count_and_resync_rounds_are_spaced(app, own_redis, watch_by_hand):
    import redis

    from forum import events
    from forum.realtime import presence

    presence.configure(own_redis.url)
    try:
        events.take_redis_failure()
        presence._failed(redis.ResponseError("OOM command not allowed"))
        presence._failed(redis.exceptions.ReadOnlyError("READONLY"))
        assert not events.take_redis_failure()
        presence._failed(redis.ConnectionError("refused"))
        assert events.take_redis_failure()
        presence._failed(redis.TimeoutError("timed out"))
        assert events.take_redis_failure()

        events.note_redis_failure()
        assert watch_by_hand(now=100.0) == 1
        events.note_redis_failure()
        assert watch_by_hand(now=101.0) == 0  # owed, but the last round was just now
        assert watch_by_hand(now=104.0) == 2  # the pair's second round still comes
        assert watch_by_hand(now=120.0) == 0
        assert watch_by_hand(now=100.0 + presence.RESYNC_EVERY_SECONDS) == 1
    finally:
        presence.configure(None)
        events.take_redis_failure()
