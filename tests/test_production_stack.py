"""The production path with real processes: nginx, two gunicorn processes, Redis, PostgreSQL.

Everything runs through `./scripts/production` (the same nginx snippet and gunicorn
settings a real installation uses). These tests need PostgreSQL: they run in the
PostgreSQL stage (FORUM_TEST_DATABASE_URL=postgresql://...) and are skipped on
SQLite. Each starts its own redis-server; the outage test its own PostgreSQL cluster.
Every wait is bounded; the module takes about a minute on two busy cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from production_stack import (
    ROOT,
    Client,
    PostgresCluster,
    RedisServer,
    Stack,
    login,
    make_forum_data,
    make_open_round,
    stored_client_ids,
    wait_until,
)
from support import service_missing

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]

TEST_DATABASE = os.environ.get("FORUM_TEST_DATABASE_URL", "")


@pytest.fixture(scope="module", autouse=True)
def _needs_postgres_and_nginx():
    if not TEST_DATABASE.startswith("postgresql"):
        pytest.skip("multi-process tests run in the PostgreSQL stage (FORUM_TEST_DATABASE_URL)")
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        service_missing("nginx")
    if not shutil.which("redis-server"):
        service_missing("redis-server")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def stack_database():
    """A fresh database next to the test database; scripts/production migrates it."""
    base_name = urlsplit(TEST_DATABASE).path.lstrip("/") or "test"
    name = f"{base_name}_prod_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(TEST_DATABASE, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(TEST_DATABASE, name)
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_database, redis_server):
    running = Stack(tmp_path_factory.mktemp("run"), stack_database, redis_server.url).start()
    yield running
    running.stop()


def health(url: str) -> tuple[int, dict]:
    response = requests.get(url + "/healthz", timeout=10)
    return response.status_code, response.json()


def send(client: Client, thread_id: int, body: str, client_id: str, timeout: float = 10) -> dict:
    payload = {"thread_id": thread_id, "body": body, "client_id": client_id}
    return client.call("message:send", payload, timeout=timeout)


# --- many clients over both processes -------------------------------------------------------


def test_twenty_clients_over_two_processes_get_every_message_once_and_in_order(stack, clients):
    emails, thread_id = make_forum_data(stack.env["FORUM_DATABASE_URL"], 20)
    for n, email in enumerate(emails, start=1):
        clients.append(Client(stack, email, n))
    for client in clients:
        assert client.call("join", {"thread_id": thread_id})["ok"]

    # the clients really are on both processes
    counts = [health(stack.backend(i))[1]["sockets"] for i in (1, 2)]
    assert sum(counts) >= 20 and min(counts) > 0, counts

    # presence lists all 20 wherever each one is connected
    def everyone_sees_everyone():
        return all(
            c.received("presence") and len(c.received("presence")[-1]["users"]) == 20
            for c in clients
        )

    wait_until(everyone_sees_everyone, 15, what="presence listing all 20 on every client")

    # typing crosses processes too
    typing_before = [len(c.received("typing")) for c in clients]
    assert clients[0].call("typing", {"thread_id": thread_id})["ok"]
    wait_until(
        lambda: all(
            len(c.received("typing")) > typing_before[i] for i, c in enumerate(clients[1:], 1)
        ),
        10,
        what="typing on every other client",
    )

    senders = clients[:4]
    acked: list[int] = []
    acked_by: list[int] = []
    lock = threading.Lock()

    def burst(client: Client, who: int) -> None:
        for i in range(5):
            ack = send(client, thread_id, f"hej {who}.{i}", f"c{who}-{i}")
            assert ack["ok"], ack
            with lock:
                acked.append(ack["message"]["id"])
                acked_by.append(who)

    workers = [threading.Thread(target=burst, args=(c, n)) for n, c in enumerate(senders)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(acked) == 20

    wait_until(
        lambda: all(len(c.message_ids()) >= 20 for c in clients), 20, what="20 messages each"
    )
    time.sleep(0.5)  # anything extra (a duplicate) would arrive now
    orders = [c.message_ids() for c in clients]
    assert all(len(order) == 20 and set(order) == set(acked) for order in orders)
    # Each sender's messages arrive in the order they were sent, on every client. Messages
    # of different senders on different processes may cross in flight (a process hands its
    # own broadcasts to its sockets at once and the other's through Redis); the page places
    # every message by its id, so everyone sees one order (tests/browser: older on scroll).
    by_sender: dict[int, list[int]] = {n: [] for n in range(len(senders))}
    for ack_id, sender in zip(acked, acked_by, strict=True):
        by_sender[sender].append(ack_id)
    for order in orders:
        for sent in by_sender.values():
            assert [i for i in order if i in sent] == sorted(sent), (order, sent)


# --- Redis goes away and comes back --------------------------------------------------------------


def test_redis_restart_delivery_resumes_and_catch_up_covers_the_gap(stack, redis_server, clients):
    emails, thread_id = make_forum_data(stack.env["FORUM_DATABASE_URL"], 4)
    for n, email in enumerate(emails, start=30):
        clients.append(Client(stack, email, n))
    for client in clients:
        assert client.call("join", {"thread_id": thread_id})["ok"]
    first = send(clients[0], thread_id, "före", "r-before")
    assert first["ok"]
    wait_until(lambda: all(c.message_ids() for c in clients), 10, what="the first message")

    redis_server.stop()
    status, body = health(stack.url)
    assert status == 503 and body["message_queue"].startswith("down")
    assert body["database"] == "ok"
    during = [send(clients[1], thread_id, f"under {i}", f"r-during-{i}") for i in range(3)]
    assert all(ack["ok"] for ack in during), "sends are stored while Redis is away"

    redis_server.start()  # same port
    wait_until(lambda: health(stack.url)[0] == 200, 15, what="/healthz back to 200")
    for i in (1, 2):
        wait_until(lambda i=i: health(stack.backend(i))[0] == 200, 15, what=f"process {i}")

    # delivery resumes by itself: a message after the restart reaches everyone
    def resumed():
        ack = send(clients[2], thread_id, "efter", f"r-after-{uuid.uuid4().hex[:6]}")
        assert ack["ok"]
        return wait_until_quiet(
            lambda: all(ack["message"]["id"] in c.message_ids() for c in clients)
        )

    wait_until(resumed, 30, interval=0.5, what="delivery after the Redis restart")

    # what was sent meanwhile reaches every client at its catch-up at the latest
    stored = stored_client_ids(stack.env["FORUM_DATABASE_URL"], thread_id)
    for i in range(3):
        assert stored.count(f"r-during-{i}") == 1
    for client in clients:
        caught_up = client.call("join", {"thread_id": thread_id, "since": first["message"]["id"]})
        seen = set(client.message_ids()) | {m["id"] for m in caught_up["messages"]}
        assert {ack["message"]["id"] for ack in during} <= seen


def wait_until_quiet(check, seconds: float = 3) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_polling_clients_stick_to_one_process_through_nginx(stack, clients):
    """Each poll is its own HTTP request: without ip_hash half would reach a process
    that does not know the session and the client would be dropped."""
    emails, thread_id = make_forum_data(stack.env["FORUM_DATABASE_URL"], 4)
    for n, email in enumerate(emails, start=150):
        clients.append(Client(stack, email, n, polling=True))
    assert all(c.sio.transport() == "polling" for c in clients)
    cursors = []
    for client in clients:
        joined = client.call("join", {"thread_id": thread_id})
        assert joined["ok"]
        cursors.append(joined["cursor"])
    for i, client in enumerate(clients):
        for j in range(3):
            assert send(client, thread_id, f"poll {i}.{j}", f"poll-{i}-{j}")["ok"]

    # Right after the Redis restart of the test before, a process can miss what went through
    # Redis until its listener has subscribed again; it then tells its sockets to `resync`
    # and the page catches up (static/js/thread/connection.js). These clients do as the page
    # does, so a message lost without a `resync` still fails the test.
    caught: list[set[int]] = [set() for _ in clients]

    def seen(n: int) -> set[int]:
        return set(clients[n].message_ids()) | caught[n]

    def everyone_has_all() -> bool:
        for n, client in enumerate(clients):
            if len(seen(n)) < 12 and client.received("resync"):
                ack = client.call(
                    "join",
                    {"thread_id": thread_id, "since": max(seen(n)), "changed_since": cursors[n]},
                )
                caught[n] |= {m["id"] for m in ack["messages"] + ack.get("changed", [])}
        return all(len(seen(n)) >= 12 for n in range(len(clients)))

    try:
        wait_until(everyone_has_all, 30, what="polls")
    except AssertionError as err:  # which client fell behind, and whether it was dropped
        state = [
            (len(seen(n)), bool(c.received("resync")), c.sio.connected, c.connects)
            for n, c in enumerate(clients)
        ]
        raise AssertionError(
            f"{err}: (received, told to resync, connected, connects) per client {state}"
        ) from None
    assert all(c.sio.connected for c in clients)
    assert all(c.connects == 1 for c in clients), "a polling client had to reconnect"


def test_the_proxy_names_no_versions(stack):
    response = requests.get(stack.url + "/healthz/live", timeout=10)
    assert response.headers["Server"] == "nginx"
    direct = requests.get(stack.backend(2) + "/healthz/live", timeout=10)
    assert direct.headers["Server"] == "gunicorn"


# --- a server process dies while clients send ------------------------------------------------------


def connect_tracked(stack: Stack, email: str, n: int, reconnect: bool) -> tuple[Client, int]:
    """Connect a client and tell which process (1 or 2) took it, from process 1's socket count."""
    before = health(stack.backend(1))[1]["sockets"]
    client = Client(stack, email, n, reconnect=reconnect)
    after = health(stack.backend(1))[1]["sockets"]
    return client, 1 if after > before else 2


def test_sigkill_one_process_while_sending_loses_and_duplicates_nothing(stack, clients):
    emails, thread_id = make_forum_data(stack.env["FORUM_DATABASE_URL"], 7)
    time.sleep(1)  # let the previous tests' sockets finish closing: counts tell placement
    placed: dict[int, list[Client]] = {1: [], 2: []}
    for n, email in enumerate(emails[:6], start=60):
        client, where = connect_tracked(stack, email, n, reconnect=True)
        clients.append(client)
        placed[where].append(client)
    assert placed[1] and placed[2], "the clients did not spread over both processes"
    # someone on process 1 who will not come back: presence must forget them
    gone = None
    for n in range(100, 140):
        candidate, where = connect_tracked(stack, emails[6], n, reconnect=False)
        clients.append(candidate)
        if where == 1:
            gone = candidate
            break
        candidate.close()
    assert gone is not None, "no source address reached process 1"
    for client in [*clients[:6], gone]:
        assert client.call("join", {"thread_id": thread_id})["ok"]
    survivors = clients[:6]

    def names(client: Client) -> list[str]:
        latest = client.received("presence")
        return [u["display_name"] for u in latest[-1]["users"]] if latest else []

    wait_until(
        lambda: any(name.startswith("Person 06 ") for name in names(survivors[-1])),
        10,
        what="the client on process 1 in presence",
    )

    acked: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + 45

    def keep_sending(client: Client, who: int) -> None:
        for i in range(12):
            client_id = f"k{who}-{i}"
            while time.monotonic() < stop_at:  # an unacknowledged send is retried, same id
                try:
                    ack = send(client, thread_id, f"{who}:{i}", client_id, timeout=3)
                except Exception:  # noqa: BLE001 — timed out or disconnected: retry
                    time.sleep(0.2)
                    continue
                if ack.get("ok"):
                    with lock:
                        acked[client_id] = ack["message"]["id"]
                    break
                time.sleep(0.2)
            time.sleep(0.05)

    # senders on both processes, the killed one included
    sending = [placed[1][0], placed[2][0], (placed[1] + placed[2])[2]]
    senders = [threading.Thread(target=keep_sending, args=(c, n)) for n, c in enumerate(sending)]
    for worker in senders:
        worker.start()
    wait_until(lambda: len(acked) >= 6, 20, what="a few acknowledged sends")
    stack.kill_server(1)
    for worker in senders:
        worker.join(50)
    assert len(acked) == 36, f"only {len(acked)} of 36 sends were acknowledged"

    # every client is connected again (through nginx, to the surviving process)
    wait_until(lambda: all(c.sio.connected for c in survivors), 20, what="reconnects")
    assert health(stack.backend(2))[1]["sockets"] >= len(survivors)

    stored = stored_client_ids(stack.env["FORUM_DATABASE_URL"], thread_id)
    assert sorted(stored) == sorted(acked), "each acknowledged send is stored exactly once"
    for client in survivors:
        caught_up = client.call("join", {"thread_id": thread_id, "since": 0})
        seen = set(client.message_ids()) | {m["id"] for m in caught_up["messages"]}
        assert set(acked.values()) <= seen
    status, body = health(stack.url)
    assert status == 200 and body["pid"] == health(stack.backend(2))[1]["pid"]

    # the dead process's presence entries expire (TTL 6 s here) and the room is told
    wait_until(
        lambda: (
            names(survivors[0])
            and not any(name.startswith("Person 06 ") for name in names(survivors[0]))
        ),
        15,
        what="the killed process's person to leave presence",
    )
    assert len(names(survivors[0])) == 6


# --- PostgreSQL goes away and comes back --------------------------------------------------------------


def test_postgres_outage_errors_fast_answers_503_and_recovers(tmp_path, redis_server, clients):
    cluster = PostgresCluster().init()
    cluster.start()
    stack = None
    try:
        admin = psycopg.connect(cluster.url, autocommit=True, connect_timeout=5)
        admin.execute("CREATE DATABASE forum")
        admin.close()
        database = _with_database(cluster.url, "forum")
        stack = Stack(tmp_path / "run", database, redis_server.url).start()
        emails, thread_id = make_forum_data(database, 2)
        for n, email in enumerate(emails, start=90):
            clients.append(Client(stack, email, n))
        for client in clients:
            assert client.call("join", {"thread_id": thread_id})["ok"]
        assert send(clients[0], thread_id, "före", "pg-before")["ok"]
        assert health(stack.url)[0] == 200

        # hung (SIGSTOP), with pooled connections open: /healthz still answers in seconds
        for i in (1, 2):
            assert health(stack.backend(i))[0] == 200
        hung = _stop_postgres(cluster)
        try:
            for i in (1, 2):
                started = time.monotonic()
                status, body = health(stack.backend(i))
                assert status == 503 and body["database"].startswith("down"), body
                assert time.monotonic() - started < 5, "/healthz waited on the hung database"
        finally:
            for pid in hung:
                os.kill(pid, signal.SIGCONT)
        for i in (1, 2):
            wait_until(lambda i=i: health(stack.backend(i))[0] == 200, 20, what=f"process {i}")

        cluster.stop()
        started = time.monotonic()
        ack = send(clients[0], thread_id, "under avbrottet", "pg-during", timeout=10)
        assert time.monotonic() - started < 5, "the error acknowledgement took too long"
        assert ack["ok"] is False and ack["error"]["code"] == "unavailable"
        page = requests.get(stack.url + "/forums", timeout=10)
        assert page.status_code == 503
        status, body = health(stack.url)
        assert status == 503 and body["database"].startswith("down")
        assert requests.get(stack.url + "/healthz/live", timeout=10).status_code == 200

        cluster.start()
        wait_until(lambda: health(stack.url)[0] == 200, 20, what="/healthz after PostgreSQL")
        for i in (1, 2):
            wait_until(lambda i=i: health(stack.backend(i))[0] == 200, 20, what=f"process {i}")
        retry = send(clients[0], thread_id, "under avbrottet", "pg-during")
        assert retry["ok"], retry
        assert requests.get(stack.url + "/forums", timeout=10).status_code == 200
        assert stored_client_ids(database, thread_id) == ["pg-before", "pg-during"]

        # the rehearsal script stops everything it started on SIGTERM
        pids = [stack.pid("nginx"), stack.pid("server-1"), stack.pid("server-2")]
        for client in clients:
            client.close()
        assert stack.stop() == 143
        for pid in pids:
            assert not _alive(pid), f"process {pid} survived SIGTERM"
        assert not list((tmp_path / "run").glob("*.pid"))
    finally:
        if stack is not None:
            stack.stop()
        cluster.remove()


def _stop_postgres(cluster: PostgresCluster) -> list[int]:
    """SIGSTOP the cluster's postmaster and its backends; the pids, for SIGCONT."""
    postmaster = int((cluster.data / "db" / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, timeout=5
    ).stdout.split()
    stopped = []
    for pid in [postmaster, *map(int, children)]:
        os.kill(pid, signal.SIGSTOP)
        stopped.append(pid)
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


# --- what nginx lets through --------------------------------------------------------------------


def test_a_5_mb_document_goes_through_nginx(stack):
    """nginx's client_max_body_size follows the app's MAX_CONTENT_LENGTH (20 MB documents)."""
    import re

    email, round_id = make_open_round(stack.env["FORUM_DATABASE_URL"])
    http = login(stack.url, email, "127.0.70.1")
    page = http.get(f"{stack.url}/consultations/{round_id}", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    pdf = b"%PDF-1.4\n%" + b"x" * (5 * 1024 * 1024) + b"\n%%EOF\n"
    response = http.post(
        f"{stack.url}/consultations/{round_id}/documents",
        data={"csrf_token": token.group(1)} if token else {},
        files={"file": ("plan.pdf", pdf, "application/pdf")},
        timeout=60,
        allow_redirects=False,
    )
    assert response.status_code in (302, 303), (response.status_code, response.text[:200])
    page = http.get(f"{stack.url}/consultations/{round_id}", timeout=10).text
    assert "plan.pdf" in page
    http.close()


def test_nginx_gzips_static_css_and_javascript(stack):
    for path in ("/static/css/site.css", "/static/js/" + _a_script()):
        response = requests.get(stack.url + path, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert response.status_code == 200
        assert response.headers.get("Content-Encoding") == "gzip", path


def test_nginx_gzips_pages_and_api_answers_but_not_socket_io(stack):
    """A thread page is a tenth of its size gzipped: on a phone's slow link that is most of
    its wait. Pages and the API's JSON are compressed when the browser asks; Socket.IO's
    polling frames are not (their types are left out), nor an answer to one that does not ask."""
    emails, thread_id = make_forum_data(stack.env["FORUM_DATABASE_URL"], 1)
    http = login(stack.url, emails[0], "127.0.71.1")
    page = http.get(f"{stack.url}/threads/{thread_id}", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers.get("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in page.headers.get("Vary", "")
    assert "<!doctype html>" in page.text.lower() and f"/threads/{thread_id}" in page.text
    plain = http.get(f"{stack.url}/threads/{thread_id}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    http.close()

    api = requests.get(
        stack.url + "/api/v1/commitments", headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert api.status_code == 200 and api.headers.get("Content-Encoding") == "gzip"
    assert len(api.json()["items"]) == 13

    polling = requests.get(
        stack.url + "/socket.io/?EIO=4&transport=polling",
        headers={"Accept-Encoding": "gzip"},
        timeout=10,
    )
    assert polling.status_code == 200 and polling.text.startswith("0{")
    assert "Content-Encoding" not in polling.headers


def test_nginx_passes_on_the_apps_caching_of_static_files(stack):
    """./scripts/production's nginx hands /static/ to the app: the versioned address a page
    names is kept a year, a plain one or an old version is asked for again."""
    import re

    page = requests.get(stack.url + "/forums", timeout=10).text
    sheet = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', page)
    assert sheet is not None
    for address, expected in [
        (sheet.group(1), "public, max-age=31536000, immutable"),
        ("/static/css/site.css", "no-cache"),
        ("/static/css/site.css?v=0123456789ab", "no-cache"),
    ]:
        response = requests.get(
            stack.url + address, headers={"Accept-Encoding": "gzip"}, timeout=10
        )
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == expected, address
        assert response.headers.get("Content-Encoding") == "gzip", address


def _a_script() -> str:
    """The largest script (one below nginx's gzip_min_length, 1 KB, is sent as it is)."""
    return max((ROOT / "static" / "js").glob("*.js"), key=lambda p: p.stat().st_size).name


# --- Redis hangs (SIGSTOP) ----------------------------------------------------------------------


def test_a_hung_redis_leaves_sends_api_and_healthz_answering_in_seconds(
    stack, redis_server, clients
):
    import signal

    emails, thread_id = make_forum_data(stack.env["FORUM_DATABASE_URL"], 1)
    clients.append(Client(stack, emails[0], 71))
    assert clients[0].call("join", {"thread_id": thread_id})["ok"]
    assert redis_server.proc is not None
    os.kill(redis_server.proc.pid, signal.SIGSTOP)  # connects, never answers
    try:
        started = time.monotonic()
        ack = send(clients[0], thread_id, "under hängd redis", "hung-1", timeout=20)
        assert ack["ok"], ack  # stored meanwhile, as after a Redis restart
        assert time.monotonic() - started < 8, "the send waited on the hung Redis"
        started = time.monotonic()
        assert requests.get(stack.url + "/api/v1/forums", timeout=20).status_code == 200
        assert time.monotonic() - started < 8, "the API waited on the hung Redis"
        started = time.monotonic()
        status, body = health(stack.url)
        assert status == 503 and body["message_queue"].startswith("down")
        assert time.monotonic() - started < 8
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    wait_until(lambda: health(stack.url)[0] == 200, 20, what="/healthz after SIGCONT")
    assert stored_client_ids(stack.env["FORUM_DATABASE_URL"], thread_id) == ["hung-1"]


# --- the rehearsal's scheduled jobs -------------------------------------------------------------


def _queue_mail(database_url: str, subject: str) -> None:
    """A mail waiting in the outbox (as a password reset leaves one), through the service."""
    from support import app_settings

    from forum import create_app
    from forum.extensions import db
    from forum.services.mail import queue_mail

    app = create_app(app_settings(database_url))
    with app.app_context():
        try:
            queue_mail("glomsk@prod.se", subject, "Länken: http://x/reset/abc", secret=True)
            db.session.commit()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_the_rehearsal_sends_mail_from_its_first_process_only(stack, tmp_path, redis_server):
    """Production leaves the scheduled jobs to systemd timers, which ./scripts/production
    has not: it ran none, and a password reset's mail stayed in the outbox for good. Its
    first process now runs them (FORUM_DIGEST_SCHEDULER=1 for it alone), so a mail waiting
    when it starts is sent, to that process's log without SMTP, and the other sends none;
    with FORUM_DIGEST_SCHEDULER=0 (as the stack above runs) it says no mail is sent."""
    assert "no mail is sent" in stack.log_path.read_text()
    base_name = urlsplit(TEST_DATABASE).path.lstrip("/") or "test"
    name = f"{base_name}_mail_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(TEST_DATABASE, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    database = _with_database(TEST_DATABASE, name)
    rehearsal = Stack(tmp_path / "run", database, redis_server.url)
    rehearsal.env.pop("FORUM_DIGEST_SCHEDULER", None)
    try:
        migrate = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "flask", "--app", "forum", "setup"],
            env={**rehearsal.env, "FORUM_DEMO": "0"}, cwd=ROOT,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stderr
        subject = f"Återställ lösenordet {uuid.uuid4().hex[:8]}"
        _queue_mail(database, subject)
        rehearsal.start()
        from forum.scheduler import TICK_SECONDS

        said = rehearsal.log_path.read_text()
        assert (
            f"run in server process 1 at its start and every {TICK_SECONDS // 60} minutes" in said
        )

        def sent() -> bool:
            with psycopg.connect(database, connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT sent_at FROM outbox_mail WHERE subject = %s", (subject,)
                ).fetchone()
            return row is not None and row[0] is not None

        wait_until(sent, 60, interval=0.5, what="the waiting mail sent")
        logs = [(tmp_path / "run" / f"server-{i}.log").read_text() for i in (1, 2)]
        assert subject in logs[0] and subject not in logs[1]
    finally:
        rehearsal.stop()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()
