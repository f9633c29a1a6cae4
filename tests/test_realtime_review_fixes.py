"""What a review of the thread page's socket found: a phone that comes back with the cookie
of a session that ended while it was away (asleep past the idle limit, suspended, logged
out everywhere) was taken as a visitor, so its page said "connected" and offered to send;
and a join acknowledgement read before a hide, arriving after the live `message:hidden`,
could not be told from a newer state (a message now carries its `changed_at`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from forum.extensions import socketio
from forum.models import UserSession
from forum.models.base import utcnow
from forum.realtime import handlers
from forum.services import accounts, moderation

PASSWORD = "correct horse battery"


def _logged_in(app, user):
    browser = app.test_client()
    data = {"email": user.email, "password": PASSWORD}
    assert browser.post("/login", data=data).status_code == 303
    return browser


def _told(sock) -> list[str]:
    return [e["name"] for e in sock.get_received() if e["name"] == "session:ended"]


def _end(app, db, how: str, user, admin) -> None:
    if how == "idle_overnight":  # 13 hours asleep; the idle limit is 12
        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(last_seen_at=utcnow() - timedelta(hours=13))
        )
        db.session.commit()
    elif how == "suspended":
        with app.test_request_context():
            moderation.suspend_person(admin, user.id, 60 * 24, "Hot mot andra")
    else:
        with app.test_request_context():
            accounts.log_out_everywhere(user)


@pytest.mark.parametrize("how", ["idle_overnight", "suspended", "logged_out_everywhere"])
def test_a_socket_back_with_an_ended_sessions_cookie_is_told_it_ended(app, make, db, how):
    alice, admin = make.user(name="Alice A"), make.user("admin")
    thread = make.thread(author=make.user())  # in a public forum
    browser = _logged_in(app, alice)
    sock = socketio.test_client(app, flask_test_client=browser)
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    assert _told(sock) == []
    sock.disconnect()  # the phone sleeps, or loses its network

    _end(app, db, how, alice, admin)

    again = socketio.test_client(app, flask_test_client=browser)  # back, with the old cookie
    assert again.is_connected()
    assert _told(again) == ["session:ended"]
    # still a visitor's socket: what anyone may read, it may read live (the page drawn for
    # the person has stopped offering to write on `session:ended`)
    join = again.emit("join", {"thread_id": thread.id, "since": 0}, callback=True)
    assert join["ok"], join
    refused = again.emit(
        "message:send", {"thread_id": thread.id, "body": "Hej", "client_id": "c-1"}, callback=True
    )
    assert refused["error"]["code"] == "auth_required"
    again.disconnect()


def test_the_first_page_after_the_session_ended_forgets_the_login(app, make, db):
    """The cookie the next page sets no longer names the ended login, so this browser's
    sockets are a visitor's from then on and are not told again that a session ended."""
    alice, admin = make.user(name="Alice A"), make.user("admin")
    thread = make.thread(author=make.user())
    browser = _logged_in(app, alice)
    _end(app, db, "suspended", alice, admin)
    page = browser.get(f"/threads/{thread.id}")
    assert page.status_code == 200 and "session=" in page.headers.get("Set-Cookie", "")
    with browser.session_transaction() as kept:
        assert "_user_id" not in kept and "nonce" not in kept
    sock = socketio.test_client(app, flask_test_client=browser)
    assert _told(sock) == []
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    sock.disconnect()


def test_visitors_and_live_sessions_are_not_told_a_session_ended(app, make, socket_for):
    alice = make.user(name="Alice A")
    thread = make.thread(author=make.user())
    visitor = socket_for(None)
    assert visitor.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    assert _told(visitor) == []
    person = socket_for(alice)
    assert person.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    assert _told(person) == []


def _version(message: dict) -> datetime:
    return datetime.fromisoformat(message["changed_at"].replace("Z", "+00:00"))


def test_an_ack_read_before_a_live_hide_is_older_than_the_hide(app, make, socket_for, monkeypatch):
    """A moderator's hide commits after the join read its rows, before the ack goes: the
    socket hears `message:hidden` first, then the ack with the text. The ack's copy is
    older than the hide's by `changed_at`, so a page keeps the hide."""
    alice, bob, mod = make.user(name="Alice A"), make.user(name="Bob B"), make.user("official")
    thread = make.thread(forum=make.forum(moderators=[mod]), author=alice)
    early = make.message(thread, alice, "early")
    secret = make.message(thread, alice, "personnummer 19800101-1234")
    sock = socket_for(bob)
    enter = handlers.presence.enter

    def enter_while_a_moderator_hides(thread_id, sid, person):
        monkeypatch.setattr(handlers.presence, "enter", enter)
        with app.test_request_context():
            moderation.hide_message(mod, secret.id, moderation.OTHER, "personuppgifter")
        enter(thread_id, sid, person)

    monkeypatch.setattr(handlers.presence, "enter", enter_while_a_moderator_hides)
    ack = sock.emit("join", {"thread_id": thread.id, "since": early.id}, callback=True)
    assert ack["ok"], ack
    hidden = [e["args"][0]["message"] for e in sock.get_received() if e["name"] == "message:hidden"]
    assert [m["id"] for m in hidden] == [secret.id]
    stale = next(m for m in ack["messages"] if m["id"] == secret.id)
    assert stale["state"] == "visible"  # read before the hide
    assert _version(stale) < _version(hidden[0])

    again = sock.emit("join", {"thread_id": thread.id, "since": early.id}, callback=True)
    now = next(m for m in again["messages"] if m["id"] == secret.id)
    assert now["state"] == "hidden"
    assert _version(now) >= _version(hidden[0])  # the state read after it is as new


def test_edits_hides_and_restores_carry_a_later_version_each_time(app, make, socket_for):
    """Each live change's payload is newer than the one before (built before the flush
    stamps the row, it is not the old stamp)."""
    alice, mod = make.user(name="Alice A"), make.user("official")
    thread = make.thread(forum=make.forum(moderators=[mod]), author=alice)
    sock = socket_for(alice)
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    sent = sock.emit(
        "message:send", {"thread_id": thread.id, "body": "Hej", "client_id": "v-1"}, callback=True
    )["message"]
    edited = sock.emit(
        "message:edit", {"message_id": sent["id"], "body": "Hej igen"}, callback=True
    )["message"]
    with app.test_request_context():
        moderation.hide_message(mod, sent["id"], moderation.OTHER, "Prov")
        moderation.restore_message(mod, sent["id"])
    heard = [
        e["args"][0]["message"]
        for e in sock.get_received()
        if e["name"] in ("message:new", "message:edited", "message:hidden", "message:restored")
    ]
    assert [m["state"] for m in heard] == ["visible", "visible", "hidden", "visible"]
    versions = [_version(m) for m in heard]
    assert versions == sorted(versions) and len(set(versions)) == 4, versions
    assert _version(sent) == versions[0] and _version(edited) >= versions[1]
