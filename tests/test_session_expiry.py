"""A session that expires (idle or absolute limit) closes its sockets too.

Before, an expired session was only marked revoked when its browser made its next request,
and its open socket kept hearing an invite-only thread's room; a socket whose owner made no
further request was never cut off. Now expiry revokes through the path that disconnects, and
the scheduler's tick sweeps expired sessions.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from test_delivery import postgres_url, redis_url  # noqa: F401 — fixtures

from forum import scheduler
from forum.extensions import socketio
from forum.models import UserSession
from forum.models.base import utcnow
from forum.services import accounts

PASSWORD = "correct horse battery"


def login(app, user, remember=False):
    browser = app.test_client()
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert browser.post("/login", data=data).status_code == 303
    return browser


def listening(app, make, remember=False):
    """A guest of an invite-only forum, logged in, whose socket is in the thread's room."""
    owner = make.user("official")
    guest, speaker = make.user(), make.user()
    forum = make.forum(owner=owner, visibility="invite", members=[guest, speaker])
    thread = make.thread(forum, author=speaker)
    browser = login(app, guest, remember=remember)
    sock = socketio.test_client(app, flask_test_client=browser)
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    sock.get_received()
    return guest, speaker, thread, browser, sock


def heard(sock) -> list[str]:
    if not sock.is_connected():
        return []
    return [e["name"] for e in sock.get_received()]


def age(db, user, **values) -> None:
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id).values(**values))
    db.session.commit()


def rows_of(db, user) -> list[UserSession]:
    db.session.rollback()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))


IDLE = {"last_seen_at": lambda: utcnow() - timedelta(days=2)}
OLD = {
    "created_at": lambda: utcnow() - timedelta(days=40),
    "last_seen_at": lambda: utcnow(),
}


@pytest.mark.parametrize("limit", [IDLE, OLD], ids=["idle", "absolute"])
def test_the_next_request_of_an_expired_session_closes_its_sockets(app, make, db, limit):
    guest, speaker, thread, browser, sock = listening(app, make)
    age(db, guest, **{k: v() for k, v in limit.items()})
    assert browser.get("/settings").status_code == 302
    assert not sock.is_connected()
    make.message(thread, speaker, "efter utgången session")
    assert "message:new" not in heard(sock)
    assert all(row.revoked_at is not None for row in rows_of(db, guest))


def test_a_socket_event_of_an_expired_session_is_refused_and_closes_it(app, make, db):
    guest, speaker, thread, _browser, sock = listening(app, make)
    age(db, guest, last_seen_at=utcnow() - timedelta(days=2))
    ack = sock.emit(
        "message:send", {"thread_id": thread.id, "body": "x", "client_id": "c"}, callback=True
    )
    assert ack is None or ack["error"]["code"] == "auth_required"
    assert not sock.is_connected()
    make.message(thread, speaker, "ännu ett meddelande")
    assert "message:new" not in heard(sock)


@pytest.mark.parametrize("limit", [IDLE, OLD], ids=["idle", "absolute"])
def test_the_sweep_closes_the_socket_of_a_session_nobody_uses_again(app, make, db, limit):
    """No further request from the browser: the scheduler's next tick cuts the socket off."""
    guest, speaker, thread, _browser, sock = listening(app, make)
    age(db, guest, **{k: v() for k, v in limit.items()})
    make.message(thread, speaker, "före svepet")  # until the sweep, expiry is not yet noticed
    scheduler.run_due_jobs(app, "2026-12-07", utcnow())
    assert not sock.is_connected()
    make.message(thread, speaker, "efter svepet: bara för inbjudna")
    assert "message:new" not in heard(sock)
    assert all(row.revoked_at is not None for row in rows_of(db, guest))


def test_the_sweep_closes_a_remembered_session_past_its_token_expiry(app, make, db):
    guest, speaker, thread, _browser, sock = listening(app, make, remember=True)
    age(db, guest, remember_expires_at=utcnow() - timedelta(minutes=1))
    with app.test_request_context():
        assert accounts.end_expired_sessions() == 1
    assert not sock.is_connected()
    make.message(thread, speaker, "efter svepet")
    assert "message:new" not in heard(sock)


def test_the_sweep_leaves_live_sessions_alone(app, make, db):
    """Used recently; remembered and idle (remember-me carries a session through idle time);
    already ended: nothing is revoked, no socket closed."""
    guest, speaker, thread, _browser, sock = listening(app, make)
    remembered, ended = make.user(), make.user()
    login(app, remembered, remember=True)
    age(db, remembered, last_seen_at=utcnow() - timedelta(days=3))
    login(app, ended)
    age(
        db,
        ended,
        revoked_at=utcnow() - timedelta(days=1),
        last_seen_at=utcnow() - timedelta(days=9),
    )
    with app.test_request_context():
        assert accounts.end_expired_sessions() == 0
    assert sock.is_connected()
    assert rows_of(db, remembered)[0].revoked_at is None
    make.message(thread, speaker, "fortfarande här")
    assert "message:new" in heard(sock)


@pytest.mark.config(FORUM_SESSION_IDLE_MINUTES=30)
def test_the_sweep_uses_the_configured_idle_limit(app, make, db):
    guest, _speaker, _thread, _browser, sock = listening(app, make)
    age(db, guest, last_seen_at=utcnow() - timedelta(minutes=29))
    with app.test_request_context():
        assert accounts.end_expired_sessions() == 0
    assert sock.is_connected()
    age(db, guest, last_seen_at=utcnow() - timedelta(minutes=31))
    with app.test_request_context():
        assert accounts.end_expired_sessions() == 1
    assert not sock.is_connected()


def test_the_sweep_works_through_many_sessions_in_batches(app, make, db):
    people = [make.user() for _ in range(5)]
    for person in people:
        with app.test_request_context():
            accounts.open_session(person, "pytest", remember=False)
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    with app.test_request_context():
        assert accounts.end_expired_sessions(batch=2) == 5
    assert all(row.revoked_at is not None for p in people for row in rows_of(db, p))


def test_the_command_for_cron_ends_expired_sessions(app, make, db):
    guest, _speaker, _thread, _browser, sock = listening(app, make)
    age(db, guest, last_seen_at=utcnow() - timedelta(days=2))
    result = app.test_cli_runner().invoke(args=["users", "end-expired-sessions"])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    assert not sock.is_connected()


def test_after_a_restore_one_command_logs_everyone_out(app, make, db):
    """A restored backup brings back the sessions ended since it was made: the command ends
    every live one, in batches, and closes their sockets; asked first, it can be declined."""
    guest, _speaker, _thread, browser, sock = listening(app, make)
    others = [make.user() for _ in range(3)]
    for person in others:
        with app.test_request_context():
            accounts.open_session(person, "pytest", remember=True)
    runner = app.test_cli_runner()

    declined = runner.invoke(args=["users", "end-all-sessions"], input="n\n")
    assert declined.exit_code == 1 and sock.is_connected()
    assert all(row.revoked_at is None for p in [guest, *others] for row in rows_of(db, p))

    with app.test_request_context():
        assert accounts.end_every_session(batch=2) == 4
    assert all(row.revoked_at is not None for p in [guest, *others] for row in rows_of(db, p))
    assert not sock.is_connected()
    assert browser.get("/settings/tokens").status_code in (302, 303)  # logged out

    with app.test_request_context():
        accounts.open_session(others[0], "pytest", remember=False)
    done = runner.invoke(args=["users", "end-all-sessions", "--yes"])
    assert done.exit_code == 0, done.output
    assert "1 session(s) ended" in done.output
    assert all(row.revoked_at is not None for row in rows_of(db, others[0]))


@pytest.mark.server
@pytest.mark.redis
@pytest.mark.postgres
def test_the_cron_command_closes_a_socket_held_by_a_serving_process(postgres_url, redis_url):  # noqa: F811
    """Production runs the sweep from cron, in a process of its own: the disconnect reaches,
    through Redis, the serving process that holds the socket."""
    import subprocess
    import sys
    import time

    import psycopg
    from serverproc import ROOT, ServerProcess
    from test_access_lifetime import _fresh_database
    from test_delivery import Client

    from forum.extensions import db
    from forum.services import forums

    with _fresh_database(postgres_url):
        owner = accounts.create_user_with_role(
            "owner@se.se", "Owner SE", PASSWORD, "official", "Kulturnämnden"
        )
        guest = accounts.create_user_with_role("guest@se.se", "Guest SE", PASSWORD, "member")
        closed = forums.create_forum(owner, "Inbjudna", "", "invite", [1], moderator_ids=[owner.id])
        closed.members = [guest]
        db.session.commit()
        secret = forums.start_thread(owner, closed, "Bara inbjudna", [1]).id

    server = ServerProcess(postgres_url, FORUM_REDIS_URL=redis_url)
    with server:
        listener = Client(server, type("U", (), {"email": "guest@se.se"})())
        speaker = Client(server, type("U", (), {"email": "owner@se.se"})())
        try:
            assert listener.call("join", {"thread_id": secret})["ok"]
            with psycopg.connect(postgres_url) as conn:
                conn.execute(
                    "UPDATE user_sessions SET last_seen_at = now() - interval '2 days' "
                    "WHERE user_id = (SELECT id FROM users WHERE email = 'guest@se.se')"
                )
            done = subprocess.run(
                [sys.executable, "-m", "flask", "--app", "forum", "users", "end-expired-sessions"],
                cwd=ROOT,
                env=server.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert "1 expired session(s) ended." in done.stdout
            assert listener.disconnected.wait(2)
            body = {"thread_id": secret, "body": "efter svepet", "client_id": "se-1"}
            assert speaker.call("message:send", body)["ok"]
            time.sleep(0.5)
            assert listener.received("message:new") == []
        finally:
            listener.close()
            speaker.close()
