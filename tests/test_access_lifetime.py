"""Access that ends when it should (issue 11): the "after access is lost" columns.

Every test here is a probe that worked on the old code: a copied cookie after
logout, a remember-me cookie with no server-side limit, a socket that kept
receiving a thread after its person lost access to it.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select, update
from test_delivery import postgres_url, redis_url  # noqa: F401 — fixtures

from forum.extensions import db as _db
from forum.extensions import socketio
from forum.models import AuditEntry, User, UserSession
from forum.models.base import utcnow
from forum.realtime import presence
from forum.services import accounts

PASSWORD = "correct horse battery"
REMEMBER = "forum_remember"


# --- helpers -------------------------------------------------------------------


def new_client(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def login(client, email, remember=False, agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"):
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data, headers={"User-Agent": agent})
    assert response.status_code == 303
    return response


def logged_in(client) -> bool:
    response = client.get("/settings")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def copy_of(app, source, names=("session", REMEMBER)):
    """A second browser holding copies of `source`'s cookies (what a thief would have)."""
    other = new_client(app)
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            other.set_cookie(name, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def sessions_of(db, user) -> list[UserSession]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
        )
    )


def socket_with(app, http):
    return socketio.test_client(app, flask_test_client=http)


def events(sock, name: str) -> list[dict]:
    return [e["args"][0] for e in sock.get_received() if e["name"] == name]


# --- sessions --------------------------------------------------------------------


def test_a_copied_session_cookie_stops_working_at_logout(app, make):
    user = make.user()
    browser = new_client(app)
    login(browser, user.email)
    thief = copy_of(app, browser, names=("session",))
    assert logged_in(thief)
    browser.post("/logout")
    assert not logged_in(thief)
    # and a new socket with the copied cookie is a visitor's, not the person's
    sock = socket_with(app, thief)
    forum = make.forum(visibility="members")
    thread = make.thread(forum)
    ack = sock.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "auth_required"
    sock.disconnect()


def test_a_copied_remember_cookie_stops_working_at_logout(app, make, db):
    user = make.user()
    browser = new_client(app)
    login(browser, user.email, remember=True)
    thief = copy_of(app, browser, names=(REMEMBER,))
    browser.post("/logout")
    assert not logged_in(thief)
    assert all(row.revoked_at is not None for row in sessions_of(db, user))


def test_a_session_key_without_its_token_cannot_end_the_session(app, make, db):
    """Logout ends the session a remember-me cookie names only when the token is its own."""
    user = make.user()
    browser = new_client(app)
    login(browser, user.email, remember=True)
    key = browser.get_cookie(REMEMBER).value.partition(".")[0]
    prankster = new_client(app)
    prankster.set_cookie(REMEMBER, f"{key}.not-the-token", domain="localhost")
    prankster.post("/logout")
    assert logged_in(browser)
    assert all(row.revoked_at is None for row in sessions_of(db, user))


def remembering(app, make):
    """A new person logged in with "remember me": (person, browser, remember-me cookie)."""
    user = make.user()
    browser = new_client(app)
    login(browser, user.email, remember=True)
    return user, browser, browser.get_cookie(REMEMBER).value


def remembered(app, value: str):
    """A browser that was closed: only its remember-me cookie is left."""
    browser = new_client(app)
    browser.set_cookie(REMEMBER, value, domain="localhost")
    return browser


def rotated_minutes_ago(db, minutes: float) -> None:
    db.session.execute(
        update(UserSession).values(remember_rotated_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def test_the_remember_token_rotates_on_use(app, make):
    user, browser, first = remembering(app, make)
    restarted = copy_of(app, browser, names=(REMEMBER,))  # browser restart: session cookie gone
    assert logged_in(restarted)
    second = restarted.get_cookie(REMEMBER).value
    assert second != first
    again = copy_of(app, restarted, names=(REMEMBER,))
    assert logged_in(again)
    assert again.get_cookie(REMEMBER).value not in (first, second)


def test_tabs_restored_at_once_all_stay_logged_in_and_agree_on_the_token(app, make, db):
    """A browser restoring three tabs sends the same remember-me token three times; the
    first request replaces it. The others must not log the person out (or delete the
    cookie), and every answer must leave the browser holding the current token."""
    user, browser, old = remembering(app, make)
    tabs = [remembered(app, old) for _ in range(3)]
    assert all(logged_in(tab) for tab in tabs)
    tokens = {tab.get_cookie(REMEMBER).value for tab in tabs}
    assert len(tokens) == 1 and old not in tokens
    assert logged_in(remembered(app, tokens.pop()))
    assert len(sessions_of(db, user)) == 1
    assert sessions_of(db, user)[0].revoked_at is None


def test_a_request_whose_answer_was_lost_is_answered_again_with_the_current_token(app, make, db):
    """On a patchy network the answer carrying the new token can be lost: the retry still
    carries the old one, within the grace time, and gets the current token."""
    user, browser, old = remembering(app, make)
    lost = remembered(app, old)
    assert logged_in(lost)
    current = lost.get_cookie(REMEMBER).value
    rotated_minutes_ago(db, 4)
    retry = remembered(app, old)
    assert logged_in(retry)
    assert retry.get_cookie(REMEMBER).value == current
    assert sessions_of(db, user)[0].remember_generation == 1  # answered, not replaced again


def test_a_replaced_token_used_after_the_grace_time_ends_the_session(app, make, db):
    """A replaced token used later means someone else holds the current one (a copied
    cookie): the session ends for whoever holds either, and the ending is logged."""
    from forum.models import AuditEntry

    user, owner, copied = remembering(app, make)
    thief = remembered(app, copied)
    assert logged_in(thief)  # the thief used it first and holds the current token
    stolen = thief.get_cookie(REMEMBER).value
    sock = socket_with(app, thief)
    assert sock.is_connected()
    rotated_minutes_ago(db, 6)
    owner_later = remembered(app, copied)
    assert not logged_in(owner_later)
    assert owner_later.get_cookie(REMEMBER) is None  # the dead cookie is deleted
    assert not logged_in(thief)
    assert not logged_in(remembered(app, stolen))
    assert not sock.is_connected()
    assert all(row.revoked_at is not None for row in sessions_of(db, user))
    logged = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "session.token_reused")
    ).all()
    assert [(e.target_type, e.target_id, e.actor_id) for e in logged] == [("user", user.id, None)]


def test_a_token_two_replacements_old_ends_the_session_even_within_the_grace(app, make, db):
    user, browser, first = remembering(app, make)
    second_browser = remembered(app, first)
    assert logged_in(second_browser)
    third_browser = remembered(app, second_browser.get_cookie(REMEMBER).value)
    assert logged_in(third_browser)
    assert not logged_in(remembered(app, first))
    assert sessions_of(db, user)[0].revoked_at is not None


@pytest.mark.parametrize(
    "token",
    [
        "0.not-the-mac",
        "1.x",
        "99999999999999999999.x",
        "\u00b2.x",
        "0.\u00e9",
        "\u00e9",
        "-1.x",
        "0",
        "",
        ".",
        "0.",
    ],
)
def test_a_made_up_token_is_refused_and_ends_nothing(app, make, db, token):
    """Only a token this session really had can end it: a session's key with anything
    else (in the shape of a replaced token or not) is refused and changes nothing."""
    user = make.user()
    browser = new_client(app)
    login(browser, user.email, remember=True)
    key, _dot, current = browser.get_cookie(REMEMBER).value.partition(".")
    assert logged_in(remembered(app, f"{key}.{current}"))  # now at generation 1
    rotated_minutes_ago(db, 60)
    prankster = remembered(app, f"{key}.{token}")
    assert not logged_in(prankster)
    assert sessions_of(db, user)[0].revoked_at is None
    assert logged_in(browser)


def test_a_token_from_before_tokens_had_generations_gets_the_same_grace(app, make, db):
    """Tokens made before this change are random (no generation): the tabs a browser
    restores with one still keep the login, and a late copy still ends the session."""
    import hashlib
    import secrets

    user = make.user()
    browser = new_client(app)
    login(browser, user.email, remember=True)
    key = browser.get_cookie(REMEMBER).value.partition(".")[0]
    legacy = secrets.token_urlsafe(32)
    db.session.execute(
        update(UserSession).values(
            remember_hash=hashlib.sha256(legacy.encode()).hexdigest(), remember_generation=0
        )
    )
    db.session.commit()
    tabs = [remembered(app, f"{key}.{legacy}") for _ in range(2)]
    assert all(logged_in(tab) for tab in tabs)
    assert tabs[0].get_cookie(REMEMBER).value == tabs[1].get_cookie(REMEMBER).value
    rotated_minutes_ago(db, 6)
    assert not logged_in(remembered(app, f"{key}.{legacy}"))
    assert sessions_of(db, user)[0].revoked_at is not None


def test_a_new_secret_key_between_the_two_tabs_replaces_the_token_again(app, make, db):
    """The current token cannot be made again under a new secret key: the late tab gets
    a newly made one instead, and a later restart still works."""
    user, browser, old = remembering(app, make)
    assert logged_in(remembered(app, old))
    app.config["SECRET_KEY"] = "another secret key for this test"
    late = remembered(app, old)
    assert logged_in(late)
    newest = late.get_cookie(REMEMBER).value
    assert newest != old
    assert sessions_of(db, user)[0].remember_generation == 2
    assert logged_in(remembered(app, newest))


def test_a_replacement_that_lost_a_race_stores_nothing(app, make, db):
    """A process that read the row before others replaced its token twice stores nothing
    (the generation never goes back) and answers with the next generation's token, which
    is still taken: the one just before the current."""
    user, browser, token = remembering(app, make)
    stale = sessions_of(db, user)[0]  # read at generation 0, as the slower process did
    db.session.expunge(stale)
    first = remembered(app, token)
    assert logged_in(first)
    second = remembered(app, first.get_cookie(REMEMBER).value)
    assert logged_in(second)
    before = sessions_of(db, user)[0]
    assert before.remember_generation == 2
    stored = (before.remember_hash, before.remember_previous_hash, before.remember_rotated_at)
    with app.test_request_context():
        slower = accounts._replace_token(stale, utcnow())
        db.session.commit()
    after = sessions_of(db, user)[0]
    assert after.remember_generation == 2
    assert (after.remember_hash, after.remember_previous_hash, after.remember_rotated_at) == stored
    assert f"{stale.key}.{slower}" == first.get_cookie(REMEMBER).value
    assert logged_in(remembered(app, f"{stale.key}.{slower}"))  # within the grace time


def test_a_replacement_after_the_session_ended_stores_nothing(app, make, db):
    user = make.user()
    browser = new_client(app)
    login(browser, user.email, remember=True)
    stale = sessions_of(db, user)[0]
    db.session.expunge(stale)
    browser.post("/logout")
    with app.test_request_context():
        accounts._replace_token(stale, utcnow())
        db.session.commit()
    row = sessions_of(db, user)[0]
    assert row.revoked_at is not None
    assert row.remember_hash is None and row.remember_generation == 0


def test_a_socket_takes_the_replaced_token_within_the_grace_time_only(app, make, db):
    """A page's socket may connect with the token its page just replaced; after the grace
    time that token is a visitor's on an invite-only forum, and ends the session."""
    user = make.user()
    thread = make.thread(make.forum(visibility="invite", members=[user]), author=user)
    browser = new_client(app)
    login(browser, user.email, remember=True)
    old = browser.get_cookie(REMEMBER).value
    assert logged_in(remembered(app, old))
    sock = socket_with(app, remembered(app, old))
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    sock.disconnect()
    rotated_minutes_ago(db, 6)
    late = socket_with(app, remembered(app, old))
    ack = late.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["ok"] is False
    assert sessions_of(db, user)[0].revoked_at is not None


def test_a_socket_that_came_on_the_remember_cookie_outlives_its_token_being_replaced(app, make, db):
    """A restored tab's socket connects with the remember-me cookie alone, while its token is
    current. Another tab of the browser then loads a page, which replaces the token. The
    socket's events later on are the session's, not the old token's: they go on working long
    after the grace time, nothing is taken for a stolen token, and the session still ends
    for the socket when the person logs out everywhere."""
    user, _browser, value = remembering(app, make)
    thread = make.thread(make.forum(visibility="invite", members=[user]), author=user)
    message = make.message(thread, user, "Hej")
    sock = socket_with(app, remembered(app, value))
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    other_tab = remembered(app, value)
    assert logged_in(other_tab)
    assert other_tab.get_cookie(REMEMBER).value != value  # replaced
    rotated_minutes_ago(db, 60)

    for _ in range(2):
        read = {"thread_id": thread.id, "message_id": message.id}
        assert sock.emit("read", read, callback=True)["ok"]
        assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    assert sessions_of(db, user)[0].revoked_at is None
    assert logged_in(other_tab)
    reused = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "session.token_reused")
    ).all()
    assert reused == []

    with app.test_request_context():
        accounts.log_out_everywhere(db.session.get(User, user.id))
    assert not sock.is_connected()


def test_a_socket_back_with_only_the_remember_cookie_of_an_ended_login_is_told_so(app, make, db):
    """A browser restarted with its tabs restored has lost its session cookie; the tab
    shows a page drawn for the person, whose socket connects with the remember-me cookie
    alone. When that login ended meanwhile (logged out everywhere from another device),
    the socket is a visitor's and is told `session:ended`, as one with the old session
    cookie is, so the page stops offering to write. A live one is told nothing."""
    user, _browser, value = remembering(app, make)
    live = socket_with(app, remembered(app, value))
    assert events(live, "session:ended") == []
    live.disconnect()
    with app.test_request_context():
        accounts.log_out_everywhere(db.session.get(User, user.id))

    restored = socket_with(app, remembered(app, value))
    assert restored.is_connected()
    assert events(restored, "session:ended") == [{}]
    refused = restored.emit(
        "message:send", {"thread_id": 1, "body": "Hej", "client_id": "c-1"}, callback=True
    )
    assert refused["error"]["code"] == "auth_required"
    restored.disconnect()
    visitor = socket_with(app, new_client(app))  # no cookie at all: nothing to end
    assert events(visitor, "session:ended") == []


def test_the_remember_token_expires_after_the_maximum_age(app, make, db):
    user = make.user()
    browser = new_client(app)
    login(browser, user.email, remember=True)
    stale = utcnow() - timedelta(days=app.config["FORUM_SESSION_MAX_DAYS"], minutes=1)
    db.session.execute(update(UserSession).values(created_at=stale))
    db.session.commit()
    assert not logged_in(copy_of(app, browser, names=(REMEMBER,)))
    assert not logged_in(browser)


@pytest.mark.config(FORUM_SESSION_IDLE_MINUTES=30)
def test_an_idle_session_expires(app, make, db):
    user = make.user()
    browser = new_client(app)
    login(browser, user.email)
    assert logged_in(browser)
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=29)))
    db.session.commit()
    assert logged_in(browser)  # used within the idle time: still live, and touched
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    db.session.commit()
    assert not logged_in(browser)
    assert sessions_of(db, user)[0].revoked_at is not None


def test_a_session_past_the_absolute_age_expires_even_when_used(app, make, db):
    user = make.user()
    browser = new_client(app)
    login(browser, user.email)
    old = utcnow() - timedelta(days=app.config["FORUM_SESSION_MAX_DAYS"], seconds=1)
    db.session.execute(update(UserSession).values(created_at=old, last_seen_at=utcnow()))
    db.session.commit()
    assert not logged_in(browser)


def test_settings_list_the_active_sessions_and_end_one(app, make, db):
    user = make.user()
    laptop, phone = new_client(app), new_client(app)
    login(laptop, user.email, agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko Firefox/128.0")
    login(
        phone,
        user.email,
        agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile",
    )
    page = laptop.get("/settings").get_data(as_text=True)
    assert "Firefox on Linux" in page
    assert "Chrome on Android" in page
    assert "(this device)" in page
    phone_socket = socket_with(app, phone)
    assert phone_socket.is_connected()
    phone_row = sessions_of(db, user)[1]
    response = laptop.post(f"/settings/sessions/{phone_row.id}/end")
    assert response.status_code == 303
    assert not phone_socket.is_connected()
    assert not logged_in(phone)
    assert logged_in(laptop)
    assert "Android" not in laptop.get("/settings").get_data(as_text=True)


def _meanwhile(monkeypatch, module, name, step):
    """Run `step` just before the first call of `module.name` (what another request kept
    while this one was checking a password)."""
    original = getattr(module, name)
    steps = [step]

    def racing(*args, **kwargs):
        if steps:
            steps.pop()()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, racing)


@pytest.mark.parametrize("meanwhile", ["password reset", "account closed", "suspended"])
def test_a_login_whose_password_check_a_reset_or_a_closing_overtook_opens_no_session(
    app, make, db, monkeypatch, meanwhile
):
    """The login checks the password, then opens its session. A reset (or the owner closing
    the account, or a moderator suspending it) kept in between ended every session there
    was: the login must not then open one more with the old password."""
    from forum.services import moderation, privacy

    user = make.user()
    moderator = make.user("moderator")
    user_id = user.id

    def step():
        person = db.session.get(User, user_id)
        with app.test_request_context():
            if meanwhile == "password reset":
                accounts.set_password(person, "a brand new passphrase 42")
            elif meanwhile == "account closed":
                privacy.close_account(person, user_id, PASSWORD, "10.0.0.9")
            else:
                moderation.suspend_person(moderator, user_id, 60, "Hot mot andra.")

    _meanwhile(monkeypatch, accounts, "open_session", step)
    browser = new_client(app)
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    monkeypatch.undo()
    assert not logged_in(browser)
    assert all(row.revoked_at is not None for row in sessions_of(db, user))


def test_a_password_change_that_a_reset_overtook_keeps_no_session(app, make, db, monkeypatch):
    """The settings page changes the password, then opens the session that goes on. A reset
    by mail kept in between ended every session, this one's too: the new one is not opened
    with the password the reset replaced."""
    user = make.user()
    browser = new_client(app)
    login(browser, user.email)

    def step():
        with app.test_request_context():
            accounts.set_password(db.session.get(User, user.id), "the owner's own reset 77")

    _meanwhile(monkeypatch, accounts, "open_session", step)
    data = {"current_password": PASSWORD, "new_password": "a hijacker's choice 1234"}
    changed = browser.post("/settings/password", data=data)
    assert changed.status_code == 303 and changed.headers["Location"].endswith("/login")
    monkeypatch.undo()
    told = browser.get("/login").get_data(as_text=True)
    assert "Your password was changed, and then your login ended: log in again." in told
    assert not logged_in(browser)
    assert all(row.revoked_at is not None for row in sessions_of(db, user))


def test_a_login_that_comes_first_is_ended_by_the_reset(app, make, db):
    """The other order: the session opened before the new password is one it ends."""
    user = make.user()
    browser = new_client(app)
    login(browser, user.email)
    with app.test_request_context():
        accounts.set_password(db.session.get(User, user.id), "a brand new passphrase 42")
    assert not logged_in(browser)


def test_a_token_asked_for_by_a_login_that_ended_meanwhile_is_not_made(app, make, db, monkeypatch):
    """ "Log out everywhere" (or a new password) kept while the token form was being handled
    revoked every token and session there was: no token is made after it with that login."""
    from forum.models import ApiToken
    from forum.services import api_tokens

    user = make.user()
    browser = new_client(app)
    login(browser, user.email)

    def step():
        with app.test_request_context():
            accounts.log_out_everywhere(db.session.get(User, user.id))

    _meanwhile(monkeypatch, api_tokens, "lock_person", step)
    response = browser.post("/settings/tokens", data={"name": "Skript", "scopes": ["read"]})
    monkeypatch.undo()
    assert response.status_code in (302, 303, 400)
    db.session.rollback()
    assert db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all() == []


def test_a_token_asked_for_by_a_live_login_is_made(app, make, db):
    from forum.models import ApiToken

    user = make.user()
    browser = new_client(app)
    login(browser, user.email)
    response = browser.post("/settings/tokens", data={"name": "Skript", "scopes": ["read"]})
    assert response.status_code == 201
    assert len(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()) == 1


def test_nobody_ends_another_persons_session(app, make, db):
    owner, other = make.user(), make.user()
    mine, theirs = new_client(app), new_client(app)
    login(mine, owner.email)
    login(theirs, other.email)
    their_row = sessions_of(db, other)[0]
    assert mine.post(f"/settings/sessions/{their_row.id}/end").status_code == 404
    assert mine.post("/settings/sessions/99999999999999999999/end").status_code == 404
    assert logged_in(theirs)


def test_log_out_everywhere_revokes_every_session_row(app, make, db):
    user = make.user()
    here, there = new_client(app), new_client(app)
    login(here, user.email)
    login(there, user.email, remember=True)
    sock = socket_with(app, there)
    here.post("/settings/logout-everywhere")
    assert not sock.is_connected()
    assert not logged_in(there)
    assert not logged_in(copy_of(app, there, names=(REMEMBER,)))
    assert all(row.revoked_at is not None for row in sessions_of(db, user))


def test_a_socket_event_after_revocation_is_refused(app, make, db):
    """Even before the disconnect arrives, every event checks the session again."""
    user = make.user()
    forum = make.forum()
    thread = make.thread(forum)
    browser = new_client(app)
    login(browser, user.email)
    sock = socket_with(app, browser)
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    db.session.execute(update(UserSession).values(revoked_at=utcnow()))
    db.session.commit()
    ack = sock.emit(
        "message:send", {"thread_id": thread.id, "body": "hej", "client_id": "c1"}, callback=True
    )
    assert ack["ok"] is False and ack["error"]["code"] == "auth_required"
    sock.disconnect()


# --- rooms follow access (one process; the Redis test below covers two) -------------


def invite_only_with_a_guest(make):
    """An invite-only forum with a thread: its owner, a guest and a member who stays."""
    owner = make.user("official")
    guest, stays = make.user(), make.user()
    forum = make.forum(owner=owner, visibility="invite", members=[guest, stays])
    return owner, guest, stays, forum, make.thread(forum, author=stays)


def joined(sock, thread) -> None:
    ack = sock.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["ok"], ack
    sock.get_received()


def say(sock, thread, body, client_id):
    ack = sock.emit(
        "message:send",
        {"thread_id": thread.id, "body": body, "client_id": client_id},
        callback=True,
    )
    assert ack["ok"], ack


def assert_cut_off(sock, thread, speaker) -> None:
    """`sock` was told, and no longer gets the thread's messages, typing or presence."""
    assert events(sock, "thread:revoked") == [{"thread_id": thread.id}]
    say(speaker, thread, "after the change", f"after-{thread.id}")
    speaker.emit("typing", {"thread_id": thread.id}, callback=True)
    names = {e["name"] for e in sock.get_received()}
    assert not names & {"message:new", "typing", "presence"}


def assert_still_in(sock, thread, speaker) -> None:
    assert events(sock, "thread:revoked") == []
    say(speaker, thread, "for the ones still here", f"still-{thread.id}")
    assert [m["message"]["thread_id"] for m in events(sock, "message:new")] == [thread.id]


def test_a_member_removed_from_an_invite_only_forum_leaves_its_rooms(app, make, socket_for):
    owner, guest, stays, forum, thread = invite_only_with_a_guest(make)
    guest_sock, stays_sock, owner_sock = socket_for(guest), socket_for(stays), socket_for(owner)
    for sock in (guest_sock, stays_sock, owner_sock):
        joined(sock, thread)
    from forum.services import forums

    with app.test_request_context():
        forums.change_forum_people(owner, forum, guest.email, "member", add=False)
    presence = events(owner_sock, "presence")
    assert presence and guest.id not in {p["id"] for p in presence[-1]["users"]}
    assert_cut_off(guest_sock, thread, owner_sock)
    assert_still_in(stays_sock, thread, owner_sock)
    # and it cannot simply come back
    ack = guest_sock.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["error"]["code"] == "not_found"


def meanwhile(monkeypatch, module, name: str, app, change) -> None:
    """The first call of `module.name` is followed, before it returns, by `change` made as
    another request on another thread and committed: something that happens while a socket
    event is being handled."""
    original = getattr(module, name)
    done: list[bool] = []

    def then_the_change(*args, **kwargs):
        result = original(*args, **kwargs)
        if not done:
            done.append(True)
            failed: list[BaseException] = []

            def other_request() -> None:
                try:
                    with app.test_request_context():
                        change()
                except BaseException as err:  # noqa: BLE001 — reported on the test's thread
                    failed.append(err)

            worker = threading.Thread(target=other_request)
            worker.start()
            worker.join(timeout=30)
            assert not worker.is_alive() and not failed, failed
        return result

    monkeypatch.setattr(module, name, then_the_change)


def removed_meanwhile(app, monkeypatch, query: str, owner, forum, guest) -> None:
    """The owner removes the guest, as another request, right after the next call of the
    read-side query `query` (forum.queries.forums)."""
    from forum.queries import forums as forum_queries
    from forum.services import forums

    def remove() -> None:
        forums.change_forum_people(owner, forum, guest.email, "member", add=False)

    meanwhile(monkeypatch, forum_queries, query, app, remove)


@pytest.mark.parametrize(
    "during",
    [
        "visible_page_thread",  # after join's access check, before the socket is in the room
        "latest_page",  # after it is in the room, while the page of messages is read
    ],
)
def test_a_member_removed_while_their_join_is_handled_does_not_hear_the_thread(
    app, make, socket_for, monkeypatch, during
):
    """join checked access and read the messages, then entered the room: a removal committed
    in between rechecked the person's sockets while this one was in no room, and it then
    entered and heard the invite-only thread until it closed. It enters the room first now
    and checks again: refused, or found in the room by the removal's recheck."""
    owner, guest, stays, forum, thread = invite_only_with_a_guest(make)
    speaker, guest_sock = socket_for(stays), socket_for(guest)
    joined(speaker, thread)
    removed_meanwhile(app, monkeypatch, during, owner, forum, guest)
    ack = guest_sock.emit("join", {"thread_id": thread.id}, callback=True)
    if during == "visible_page_thread":
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack
    else:  # the acknowledgement was read before the removal; the recheck then found it
        assert ack["ok"], ack
        assert events(guest_sock, "thread:revoked") == [{"thread_id": thread.id}]
    say(speaker, thread, "only for the members now", "after-removal")
    speaker.emit("typing", {"thread_id": thread.id}, callback=True)
    names = {e["name"] for e in guest_sock.get_received()}
    assert not names & {"message:new", "typing", "presence"}, names


def test_a_message_sent_while_a_join_is_handled_reaches_the_joining_page(
    app, make, socket_for, monkeypatch
):
    """join read the page of messages, then entered the room: a message committed in between
    was neither in the acknowledgement nor heard live, and the page never got it (the next
    live message moved its `since` past it). In the room first, it hears what commits after
    it entered and reads what committed before."""
    from forum.queries import forums as forum_queries
    from forum.services import forums

    author, reader = make.user(), make.user()
    thread = make.thread(author=author)
    make.message(thread, author, "before the join")
    sent: list[int] = []

    def send() -> None:
        message, _created = forums.send_message(
            _db.session.get(type(author), author.id), thread.id, "while joining", "m-join"
        )
        sent.append(message.id)

    meanwhile(monkeypatch, forum_queries, "latest_page", app, send)
    sock = socket_for(reader)
    ack = sock.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["ok"], ack
    heard = [e["message"]["id"] for e in events(sock, "message:new")]
    assert sent and sent[0] in [m["id"] for m in ack["messages"]] + heard, (ack, heard)


def test_the_forum_list_stops_hearing_of_a_forum_the_person_left(app, make, socket_for):
    """The forum list's live counts (which thread is active, who wrote) follow access too."""
    owner, guest, stays, forum, thread = invite_only_with_a_guest(make)
    guest_list, stays_list, speaker = socket_for(guest), socket_for(stays), socket_for(stays)
    for sock in (guest_list, stays_list):
        ack = sock.emit("watch", {"forum_ids": [forum.id]}, callback=True)
        assert ack["ok"] and ack["forums"] == [forum.id]
    joined(speaker, thread)
    from forum.services import forums

    with app.test_request_context():
        forums.change_forum_people(owner, forum, guest.email, "member", add=False)
    guest_list.get_received()
    stays_list.get_received()
    say(speaker, thread, "only for the members now", "forum-room-1")
    assert events(guest_list, "forum:activity") == []
    assert [e["thread_id"] for e in events(stays_list, "forum:activity")] == [thread.id]


def test_a_refused_rejoin_leaves_the_room_a_missed_recheck_left_it_in(make, socket_for):
    """A removal's recheck reaches every process through Redis; one that missed a socket
    (Redis away at that moment) left it in the room. Its next join (a reconnect, a resync)
    is refused, and it now leaves the room too (it heard the thread until it closed) and
    the room's "here now" (it was listed until it disconnected). The
    forum list's watch, asked again, leaves the forum's room the same way."""
    from sqlalchemy import delete

    from forum.models.forums import forum_members

    owner, guest, stays, forum, thread = invite_only_with_a_guest(make)
    speaker, guest_sock = socket_for(stays), socket_for(guest)
    joined(speaker, thread)
    joined(guest_sock, thread)
    guest_list = socket_for(guest)  # the forum list, watching from before
    assert guest_list.emit("watch", {"forum_ids": [forum.id]}, callback=True)["ok"]
    _db.session.execute(  # removed with no recheck, as on a process the recheck missed
        delete(forum_members).where(
            forum_members.c.forum_id == forum.id, forum_members.c.user_id == guest.id
        )
    )
    _db.session.commit()
    speaker.get_received()
    refused = guest_sock.emit("join", {"thread_id": thread.id, "since": 0}, callback=True)
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    # and out of "here now": the others' pages no longer list the guest
    here = events(speaker, "presence")
    assert here and guest.id not in [p["id"] for p in here[-1]["users"]]
    assert guest.id not in [p["id"] for p in presence.snapshot(thread.id)["users"]]
    assert guest_list.emit("watch", {"forum_ids": [forum.id]}, callback=True)["forums"] == []
    guest_list.get_received()
    say(speaker, thread, "only for the members now", "after-missed-recheck")
    assert events(guest_sock, "message:new") == []
    assert events(guest_list, "forum:activity") == []


def test_a_member_removed_while_their_watch_is_handled_does_not_hear_the_forum(
    app, make, socket_for, monkeypatch
):
    """watch asked which forums the person may see, then entered their rooms: removed in
    between, the socket was in no room when the recheck looked, entered, and kept hearing
    which threads were active and who wrote. It asks again once in the rooms."""
    owner, guest, stays, forum, thread = invite_only_with_a_guest(make)
    speaker, guest_list = socket_for(stays), socket_for(guest)
    joined(speaker, thread)
    removed_meanwhile(app, monkeypatch, "visible_forums", owner, forum, guest)
    ack = guest_list.emit("watch", {"forum_ids": [forum.id]}, callback=True)
    assert ack == {"ok": True, "forums": []}
    say(speaker, thread, "only for the members now", "watch-removal")
    assert events(guest_list, "forum:activity") == []


def test_a_forum_closed_to_visitors_drops_their_sockets(app, make, socket_for):
    owner = make.user("official")
    member = make.user()
    forum = make.forum(owner=owner, visibility="public")
    thread = make.thread(forum, author=member)
    visitor, member_sock = socket_for(None), socket_for(member)
    joined(visitor, thread)
    joined(member_sock, thread)
    from forum.services import forums

    with app.test_request_context():
        forums.set_forum_visibility(owner, forum, "members")
    assert_cut_off(visitor, thread, member_sock)
    assert events(member_sock, "thread:revoked") == []


def test_narrowing_a_forum_on_its_page_cuts_off_the_sockets_that_lost_it(app, make, socket_for):
    """The owner makes a members-only forum invite-only through the page and confirms:
    a logged-in reader who was not invited is told and stops receiving messages."""
    owner = make.user("official")
    reader, invited = make.user(), make.user()
    forum = make.forum(owner=owner, visibility="members", members=[invited], moderators=[owner])
    thread = make.thread(forum, author=invited)
    reader_sock, invited_sock, owner_sock = (
        socket_for(reader),
        socket_for(invited),
        socket_for(owner),
    )
    for sock in (reader_sock, invited_sock, owner_sock):
        joined(sock, thread)
    browser = new_client(app)
    login(browser, owner.email)
    asked = browser.post(f"/forums/{forum.slug}/visibility", data={"visibility": "invite"})
    assert asked.status_code == 200  # the confirmation step: nobody is cut off yet
    assert events(reader_sock, "thread:revoked") == []
    done = browser.post(
        f"/forums/{forum.slug}/visibility", data={"visibility": "invite", "confirmed": "1"}
    )
    assert done.status_code == 302
    assert_cut_off(reader_sock, thread, owner_sock)
    assert_still_in(invited_sock, thread, owner_sock)
    ack = reader_sock.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["error"]["code"] == "not_found"


def test_a_thread_moved_into_an_invite_only_forum_drops_visitors(app, make, socket_for):
    admin = make.user("admin")
    member = make.user()
    public = make.forum(visibility="public")
    closed = make.forum(visibility="invite", members=[member])
    thread = make.thread(public, author=member)
    other = make.thread(public, author=member)
    visitor, member_sock = socket_for(None), socket_for(member)
    joined(visitor, thread)
    joined(visitor, other)
    joined(member_sock, thread)
    from forum.services import moderation

    with app.test_request_context():
        moderation.move_thread(admin, thread.id, closed.id)
    assert_cut_off(visitor, thread, member_sock)
    assert events(member_sock, "thread:revoked") == []
    # the visitor's other, still public, thread is untouched
    say(member_sock, other, "still public", "other-1")
    assert [m["message"]["thread_id"] for m in events(visitor, "message:new")] == [other.id]


def test_a_revoked_moderator_role_drops_the_invite_only_rooms_it_gave(app, make, socket_for):
    admin = make.user("admin")
    moderator = make.user("moderator")
    member = make.user()
    forum = make.forum(visibility="invite", members=[member])
    thread = make.thread(forum, author=member)
    mod_sock, member_sock = socket_for(moderator), socket_for(member)
    joined(mod_sock, thread)
    joined(member_sock, thread)
    from forum.services import admin as admin_service

    with app.test_request_context():
        admin_service.revoke_role(admin, moderator.id, "moderator")
    assert_cut_off(mod_sock, thread, member_sock)


def test_a_draft_round_given_to_another_department_drops_the_old_departments_sockets(
    app, make, socket_for, db
):
    """Who may read a draft round's thread is its department's officials: changing the
    round's audience keeps them, handing it to another department cuts them off."""
    from consultation_support import make_round, round_input

    from forum.models import Thread
    from forum.services import consultations

    admin = make.user("admin")
    official = make.user("official")
    other = make.user("official", department="Kulturnämnden")
    org = make.organisation(admin=make.user())
    round_ = make_round(app, make, official, state="draft")
    thread = db.session.get(Thread, round_.thread_id)
    sock, admin_sock = socket_for(official), socket_for(admin)
    joined(sock, thread)
    joined(admin_sock, thread)
    with app.test_request_context():
        consultations.update_round(
            admin,
            round_.id,
            round_input(
                make,
                audience="invited",
                invited_ids=[org.id],
                department_id=official.department_id,
            ),
        )
    assert events(sock, "thread:revoked") == []
    with app.test_request_context():
        consultations.update_round(
            admin, round_.id, round_input(make, department_id=other.department_id)
        )
    assert events(sock, "thread:revoked") == [{"thread_id": thread.id}]
    assert events(admin_sock, "thread:revoked") == []
    assert socket_for(other).emit("join", {"thread_id": thread.id}, callback=True)["ok"]


@pytest.mark.parametrize("change", ["role revoked", "moved to another department"])
def test_an_official_leaving_the_department_drops_its_draft_rounds_thread(
    app, make, socket_for, db, change
):
    """A draft round's thread is its department's officials': an official whose role is
    revoked, or who is appointed to another department, loses it."""
    from consultation_support import make_round

    from forum.models import Thread
    from forum.services import admin as admin_service

    admin = make.user("admin")
    official = make.user("official")
    colleague = make.user("official")
    round_ = make_round(app, make, official, state="draft")
    thread = db.session.get(Thread, round_.thread_id)
    sock, colleague_sock = socket_for(official), socket_for(colleague)
    joined(sock, thread)
    joined(colleague_sock, thread)
    with app.test_request_context():
        if change == "role revoked":
            admin_service.revoke_role(admin, official.id, "official")
        else:
            admin_service.grant_role(
                admin, official.id, "official", department_name="Kulturnämnden"
            )
    assert events(sock, "thread:revoked") == [{"thread_id": thread.id}]
    assert events(colleague_sock, "thread:revoked") == []


def test_a_suspension_closes_every_socket_of_the_person(app, make, socket_for):
    moderator = make.user("moderator")
    person = make.user()
    thread = make.thread(author=person)
    sock = socket_for(person)
    joined(sock, thread)
    from forum.services import moderation

    with app.test_request_context():
        moderation.suspend_person(moderator, person.id, 60, "Hot mot andra.")
    assert not sock.is_connected()


def test_access_kept_means_nothing_happens(app, make, socket_for):
    """Removing an organisation member rechecks the person's sockets, and a public thread stays."""
    admin = make.user()
    member = make.user()
    org = make.organisation(admin=admin, members=[member])
    thread = make.thread(author=admin)
    sock, admin_sock = socket_for(member), socket_for(admin)
    joined(sock, thread)
    from sqlalchemy import select

    from forum.models import Membership
    from forum.services import organisations

    membership = app.extensions["sqlalchemy"].session.scalar(
        select(Membership).where(Membership.user_id == member.id)
    )
    with app.test_request_context():
        organisations.remove_member(admin, org.id, membership.id)
    assert_still_in(sock, thread, admin_sock)


# --- two real server processes and Redis -----------------------------------------------


def _post_form(http, server, page: str, path: str, data: dict) -> None:
    import re

    html = http.get(server.url + page, timeout=5).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = http.post(
        server.url + path, data={**data, "csrf_token": token}, timeout=5, allow_redirects=False
    )
    assert response.status_code in (302, 303), response.status_code


@contextmanager
def _fresh_database(url: str):
    """An app context on a new database with the schema and the agreement; the setup
    inside runs with a request context, and the connections are closed afterwards."""
    from support import app_settings, create_schema

    from forum import create_app
    from forum.extensions import db
    from forum.services import agreement

    app = create_app(app_settings(url))
    with app.app_context(), app.test_request_context():
        create_schema()
        agreement.seed_agreement()
        yield
        db.session.remove()
        db.engine.dispose()


@contextmanager
def _two_processes(url: str, queue: str):
    """Two server processes sharing the database and Redis, and a `connect(server, email)`
    that opens a logged-in (email None: a visitor's) socket closed at the end."""
    from serverproc import ServerProcess
    from test_delivery import Client

    one = ServerProcess(url, FORUM_REDIS_URL=queue)
    two = ServerProcess(url, FORUM_REDIS_URL=queue)
    made: list = []

    def connect(server, email=None):
        client = Client(server, type("U", (), {"email": email})() if email else None)
        made.append(client)
        return client

    with one, two:
        try:
            yield one, two, connect
        finally:
            for client in made:
                client.close()


@pytest.mark.server
@pytest.mark.redis
@pytest.mark.postgres
def test_access_lost_on_one_process_reaches_sockets_on_the_other(postgres_url, redis_url):  # noqa: F811
    """Removed member, moved thread and ended session, each changed through process two,
    reach the sockets process one holds."""
    from forum.extensions import db
    from forum.services import accounts, forums

    with _fresh_database(postgres_url):
        owner = accounts.create_user_with_role(
            "owner@lt.se", "Owner LT", PASSWORD, "official", "Kulturnämnden"
        )
        admin = accounts.create_user_with_role("admin@lt.se", "Admin LT", PASSWORD, "admin")
        guest = accounts.create_user_with_role("guest@lt.se", "Guest LT", PASSWORD, "member")
        closed = forums.create_forum(owner, "Inbjudna", "", "invite", [1], moderator_ids=[owner.id])
        closed.members = [guest]
        public = forums.create_forum(owner, "Öppet", "", "public", [1])
        db.session.commit()
        secret = forums.start_thread(admin, closed, "Bara inbjudna", [1])
        open_thread = forums.start_thread(owner, public, "Öppen tråd", [1])
        ids = {"secret": secret.id, "open": open_thread.id, "closed": closed.id}
        closed_slug = closed.slug

    with _two_processes(postgres_url, redis_url) as (one, two, connect):
        guest_one = connect(one, "guest@lt.se")
        visitor_one = connect(one)
        owner_two = connect(two, "owner@lt.se")
        admin_two = connect(two, "admin@lt.se")
        assert guest_one.call("join", {"thread_id": ids["secret"]})["ok"]
        assert visitor_one.call("join", {"thread_id": ids["open"]})["ok"]
        assert owner_two.call("join", {"thread_id": ids["secret"]})["ok"]

        # 1. the owner, on process two, removes the guest from the invite-only forum
        _post_form(
            owner_two.http,
            two,
            f"/forums/{closed_slug}/people",
            f"/forums/{closed_slug}/people",
            {"email": "guest@lt.se", "role": "member", "action": "remove"},
        )
        assert guest_one.wait_for("thread:revoked", 1) == [{"thread_id": ids["secret"]}]
        ack = owner_two.call(
            "message:send",
            {"thread_id": ids["secret"], "body": "efter", "client_id": "lt-1"},
        )
        assert ack["ok"]
        time.sleep(0.5)
        assert guest_one.received("message:new") == []

        # 2. a moderator, on process two, moves the public thread into the closed forum
        _post_form(
            admin_two.http,
            two,
            f"/threads/{ids['open']}",
            f"/threads/{ids['open']}/moderate",
            {"action": "move", "forum_id": str(ids["closed"])},
        )
        assert visitor_one.wait_for("thread:revoked", 1) == [{"thread_id": ids["open"]}]

        # 3. the guest's session, ended from process two's settings page, closes
        #    the socket process one holds
        with psycopg.connect(postgres_url) as conn:
            (session_id,) = conn.execute(
                "SELECT s.id FROM user_sessions s JOIN users u ON u.id = s.user_id "
                "WHERE u.email = 'guest@lt.se' AND s.revoked_at IS NULL"
            ).fetchone()
        _post_form(guest_one.http, two, "/settings", f"/settings/sessions/{session_id}/end", {})
        assert guest_one.disconnected.wait(1.5)


@pytest.mark.server
@pytest.mark.redis
@pytest.mark.postgres
def test_narrowed_forum_revoked_role_and_suspension_on_one_process_reach_the_other(
    postgres_url,  # noqa: F811
    redis_url,  # noqa: F811
):
    """A forum made invite-only on its page, a moderator role revoked on the admin page and
    a suspension on the moderation page, each through process two, reach process one."""
    from forum.extensions import db
    from forum.services import accounts, forums

    with _fresh_database(postgres_url):
        owner = accounts.create_user_with_role(
            "owner@lt2.se", "Owner LT", PASSWORD, "official", "Kulturnämnden"
        )
        accounts.create_user_with_role("admin@lt2.se", "Admin LT", PASSWORD, "admin")
        moderator = accounts.create_user_with_role("mod@lt2.se", "Mod LT", PASSWORD, "moderator")
        reader = accounts.create_user_with_role("reader@lt2.se", "Reader LT", PASSWORD, "member")
        accounts.create_user_with_role("rude@lt2.se", "Rude LT", PASSWORD, "member")
        members = forums.create_forum(owner, "Medlemmar", "", "members", [1], [owner.id])
        closed = forums.create_forum(owner, "Inbjudna", "", "invite", [1], [owner.id])
        closed.members = [reader]
        db.session.commit()
        ids = {
            "members": forums.start_thread(owner, members, "För inloggade", [1]).id,
            "secret": forums.start_thread(owner, closed, "Bara inbjudna", [1]).id,
            "mod": moderator.id,
        }
        members_slug = members.slug

    with _two_processes(postgres_url, redis_url) as (one, two, connect):
        reader_one = connect(one, "reader@lt2.se")
        mod_one = connect(one, "mod@lt2.se")
        rude_one = connect(one, "rude@lt2.se")
        owner_two = connect(two, "owner@lt2.se")
        admin_two = connect(two, "admin@lt2.se")
        assert reader_one.call("join", {"thread_id": ids["members"]})["ok"]
        assert mod_one.call("join", {"thread_id": ids["secret"]})["ok"]
        assert rude_one.call("join", {"thread_id": ids["members"]})["ok"]
        assert owner_two.call("join", {"thread_id": ids["members"]})["ok"]

        # 1. the owner, on process two, makes the members-only forum invite-only
        _post_form(
            owner_two.http,
            two,
            f"/forums/{members_slug}/visibility",
            f"/forums/{members_slug}/visibility",
            {"visibility": "invite", "confirmed": "1"},
        )
        assert reader_one.wait_for("thread:revoked", 1) == [{"thread_id": ids["members"]}]
        assert rude_one.wait_for("thread:revoked", 1) == [{"thread_id": ids["members"]}]
        ack = owner_two.call(
            "message:send",
            {"thread_id": ids["members"], "body": "nu inbjudna", "client_id": "lt2-1"},
        )
        assert ack["ok"]
        time.sleep(0.5)
        assert reader_one.received("message:new") == []
        assert rude_one.received("message:new") == []

        # 2. an admin, on process two, takes the moderator role away
        _post_form(
            admin_two.http,
            two,
            "/admin",
            f"/admin/users/{ids['mod']}/roles/revoke",
            {"role": "moderator"},
        )
        assert mod_one.wait_for("thread:revoked", 1) == [{"thread_id": ids["secret"]}]

        # 3. a site moderator (the admin), on process two, suspends a person whose
        #    socket is on process one: it is closed
        _post_form(
            admin_two.http,
            two,
            "/moderation/people",
            "/moderation/people/suspend",
            {"person": "rude@lt2.se", "minutes": "60", "reason": "Hot.", "confirmed": "1"},
        )
        assert rude_one.disconnected.wait(1.5)
        assert not reader_one.disconnected.is_set()


# --- moderation leaves nothing behind ----------------------------------------------------


PHONE = "070-123 45 67"


def _mention_with_phone(app, make):
    author, mentioned = make.user(), make.user()
    moderator = make.user("moderator")
    thread = make.thread(author=author)
    message = make.message(thread, author, f"Ring @{mentioned.handle} på {PHONE}")
    return author, mentioned, moderator, message


def _traces(db, mentioned):
    """What the mentioned person can still read of the message: notification and queued mail."""
    from forum.models import Notification, OutboxMail

    db.session.rollback()
    notes = db.session.scalars(select(Notification).where(Notification.user_id == mentioned.id))
    mails = db.session.scalars(
        select(OutboxMail).where(
            OutboxMail.to_address == mentioned.email, OutboxMail.sent_at.is_(None)
        )
    )
    return [n.excerpt for n in notes], [m.body for m in mails]


def _page(app, user) -> str:
    from support import Auth

    http = new_client(app)
    Auth(http).login(user)
    return http.get("/notifications").get_data(as_text=True)


def test_hiding_blanks_the_excerpt_everywhere_and_restoring_brings_it_back(app, make, db):
    from forum.services import moderation

    _author, mentioned, moderator, message = _mention_with_phone(app, make)
    excerpts, mails = _traces(db, mentioned)
    assert PHONE in excerpts[0] and PHONE in mails[0]
    with app.test_request_context():
        moderation.hide_message(moderator, message.id, "other", "Telefonnummer")
    excerpts, mails = _traces(db, mentioned)
    assert excerpts == [""]
    assert PHONE not in mails[0] and "/threads/" in mails[0]
    assert PHONE not in _page(app, mentioned)
    with app.test_request_context():
        moderation.restore_message(moderator, message.id)
    excerpts, mails = _traces(db, mentioned)
    assert PHONE in excerpts[0] and PHONE in mails[0]


def test_the_authors_delete_blanks_the_excerpt(app, make, db):
    from forum.services import forums

    author, mentioned, _moderator, message = _mention_with_phone(app, make)
    with app.test_request_context():
        forums.delete_message(author, message.id)
    excerpts, mails = _traces(db, mentioned)
    assert excerpts == [""] and PHONE not in mails[0]


def test_redacting_rewrites_the_queued_mail_too(app, make, db):
    from forum.services import moderation

    _author, mentioned, moderator, message = _mention_with_phone(app, make)
    with app.test_request_context():
        moderation.redact_message(moderator, message.id, "Ring mig", "Telefonnummer")
    excerpts, mails = _traces(db, mentioned)
    assert excerpts == ["Ring mig"]
    assert PHONE not in mails[0] and "Ring mig" in mails[0]


def test_a_sent_reset_mail_keeps_no_link(app, make, db):
    from forum.models import OutboxMail
    from forum.services import accounts, mail

    user = make.user()
    with app.test_request_context():
        accounts.request_password_reset(user.email)
    queued = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == user.email)).one()
    assert "/reset/" in queued.body
    with app.test_request_context():
        assert mail.deliver_pending() >= 1
    db.session.rollback()
    sent = db.session.get(OutboxMail, queued.id)
    assert sent.sent_at is not None and "/reset/" not in sent.body


# --- a mute covers every way to speak in the forum -------------------------------------


@pytest.fixture
def muted(app, make):
    """A person muted in a public forum, with a thread and a message there."""
    from forum.services import moderation

    moderator = make.user("moderator")
    person = make.user()
    forum = make.forum()
    thread = make.thread(forum, author=moderator)
    message = make.message(thread, moderator, "Vi borde ordna en träff.")
    with app.test_request_context():
        moderation.mute_person(moderator, person.id, forum.id, 60, "Upprepade påhopp.")
    return person, forum, thread, message


def test_a_muted_person_cannot_say_they_are_typing(muted, socket_for):
    person, _forum, thread, _message = muted
    sock = socket_for(person)
    joined(sock, thread)
    ack = sock.emit("typing", {"thread_id": thread.id}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "muted"


def test_a_muted_person_cannot_start_a_thread(app, make, muted):
    from forum.errors import Muted
    from forum.services import forums

    person, forum, _thread, _message = muted
    with app.test_request_context(), pytest.raises(Muted):
        forums.start_thread(person, forum, "Ny tråd", make.commitment_ids(1))


def test_a_muted_person_cannot_turn_a_message_into_an_action(app, make, muted):
    from forum.errors import Muted
    from forum.services import follow_up

    person, forum, _thread, message = muted
    data = follow_up.ActionInput(
        title="Ordna en träff",
        owner=f"department:{make.user('official').department_id}",
        due_date=(utcnow() + timedelta(days=30)).date().isoformat(),
        commitment_ids=make.commitment_ids(1),
        message_id=message.id,
    )
    with app.test_request_context(), pytest.raises(Muted):
        follow_up.propose_action(person, data)


def test_a_muted_persons_appeal_and_flag_notes_reach_moderators_not_the_forum(app, make, muted, db):
    """Appeals and flag notes are the only text a muted person can still write about the
    forum, and neither is public: the appeal is read by the person and the moderators who
    may decide it, a flag note by the forum's moderators. A mute must not take away the
    right to appeal it (the permission matrix's "appeal a decision" row), so both stay open."""
    from forum.models import Appeal, Flag, ModerationAction

    person, forum, thread, message = muted
    mute = db.session.scalar(
        select(ModerationAction).where(ModerationAction.subject_id == person.id)
    )
    appeal_text = "Överklagan: jag citerade bara 070-765 43 21."
    flag_note = "Anmälan: 070-765 43 21 står här."
    browser = new_client(app)
    login(browser, person.email)
    response = browser.post(f"/moderation/actions/{mute.id}/appeal", data={"body": appeal_text})
    assert response.status_code in (302, 303)
    response = browser.post(
        f"/messages/{message.id}/flag", data={"reason": "other", "note": flag_note}
    )
    assert response.status_code in (302, 303)
    db.session.expire_all()
    assert db.session.scalar(select(Appeal.body).where(Appeal.user_id == person.id)) == appeal_text
    assert db.session.scalar(select(Flag.note).where(Flag.user_id == person.id)) == flag_note
    reader = new_client(app)
    login(reader, make.user().email)
    for path in (f"/threads/{thread.id}", f"/forums/{forum.slug}", "/moderation/transparency"):
        page = reader.get(path).get_data(as_text=True)
        assert "070-765 43 21" not in page, path
    assert reader.get(f"/moderation/actions/{mute.id}").status_code == 404
    moderator = new_client(app)
    login(moderator, make.user("moderator").email)
    queue = moderator.get("/moderation").get_data(as_text=True)
    assert appeal_text in queue and flag_note in queue


# --- the moderator who decided does not decide the appeal ------------------------------


def test_the_deciding_moderator_cannot_decide_the_appeal(app, make, db):
    from forum.errors import Forbidden
    from forum.queries import moderation as moderation_queries
    from forum.services import moderation

    first, second = make.user("moderator"), make.user("moderator")
    author = make.user()
    thread = make.thread(author=author)
    message = make.message(thread, author, "Något olämpligt")
    with app.test_request_context():
        action = moderation.hide_message(first, message.id, "other", "Olämpligt")
        appeal = moderation.appeal(author, action.id, "Det var inte olämpligt.")
        assert appeal.id not in [a.id for a in moderation_queries.pending_appeals(first)]
        assert appeal.id in [a.id for a in moderation_queries.pending_appeals(second)]
        with pytest.raises(Forbidden):
            moderation.decide_appeal(first, appeal.id, "reversed", "")
        decided = moderation.decide_appeal(second, appeal.id, "reversed", "Rimligt.")
    assert decided.decided_by_id == second.id


def test_an_admin_decides_when_the_only_forum_moderator_made_the_decision(app, make):
    from forum.queries import moderation as moderation_queries
    from forum.services import moderation

    forum_mod, admin = make.user(), make.user("admin")
    forum = make.forum(moderators=[forum_mod])
    author = make.user()
    thread = make.thread(forum, author=author)
    message = make.message(thread, author, "Något olämpligt")
    with app.test_request_context():
        action = moderation.hide_message(forum_mod, message.id, "other", "Olämpligt")
        appeal = moderation.appeal(author, action.id, "Snälla.")
        assert moderation_queries.pending_appeals(forum_mod) == []
        assert [a.id for a in moderation_queries.pending_appeals(admin)] == [appeal.id]


# --- nothing tells a stranger what exists ----------------------------------------------


def test_a_visitor_cannot_tell_an_invite_only_thread_from_a_missing_one(app, make, socket_for, db):
    from consultation_support import make_round

    official = make.user("official")
    closed = make.forum(visibility="invite")
    secret = make.thread(closed, author=make.user("admin"))
    draft = make_round(app, make, official, state="draft")
    missing = 2_000_000_000
    visitor = socket_for(None)
    for thread_id in (secret.id, draft.thread_id, missing):
        for event, payload in (
            ("join", {"thread_id": thread_id}),
            ("history", {"thread_id": thread_id, "before": 10}),
        ):
            ack = visitor.emit(event, payload, callback=True)
            assert ack["error"]["code"] == "not_found", (thread_id, event)
    http = new_client(app)
    assert http.get(f"/threads/{secret.id}").status_code == 404
    assert http.get(f"/threads/{missing}").status_code == 404
    assert http.get(f"/forums/{closed.slug}").status_code == 404
    assert http.get("/forums/no-such-forum").status_code == 404


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("big", [2**31, 2**63, 2**64])
def test_ids_beyond_the_column_range_are_invalid_not_internal(make, socket_for, app, big):
    user = make.user()
    thread = make.thread(author=user)
    sock = socket_for(user)
    for event, payload in (
        ("join", {"thread_id": big}),
        ("history", {"thread_id": thread.id, "before": big}),
        ("message:send", {"thread_id": big, "body": "x", "client_id": "big"}),
        ("message:send", {"thread_id": thread.id, "body": "x", "client_id": "b2", "reply_to": big}),
        ("message:edit", {"message_id": big, "body": "x"}),
        ("message:delete", {"message_id": big}),
        ("read", {"thread_id": thread.id, "message_id": big}),
        ("typing", {"thread_id": big}),
    ):
        ack = sock.emit(event, payload, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", (event, ack)
    http = new_client(app)
    for path in (f"/threads/{big}", f"/consultations/{big}"):
        assert http.get(path).status_code == 404, path


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "surrogate"])
def test_nul_and_lone_surrogates_are_invalid_with_the_field_named(make, socket_for, bad):
    user = make.user()
    thread = make.thread(author=user)
    message = make.message(thread, user, "Hej")
    sock = socket_for(user)
    for event, payload, field in (
        ("message:send", {"thread_id": thread.id, "body": bad, "client_id": "c1"}, "body"),
        ("message:send", {"thread_id": thread.id, "body": "x", "client_id": bad}, "client_id"),
        ("message:edit", {"message_id": message.id, "body": bad}, "body"),
    ):
        ack = sock.emit(event, payload, callback=True)
        assert ack["ok"] is False, (event, field)
        assert ack["error"]["code"] == "invalid" and ack["error"]["field"] == field, ack


def test_nul_in_a_form_field_is_the_fields_error(app, make):
    from support import Auth

    user = make.user()
    http = new_client(app)
    Auth(http).login(user)
    response = http.post("/settings", data={"display_name": "Ny\x00Namn", "locale": "sv"})
    assert response.status_code == 400
    assert 'id="display_name-error"' in response.get_data(as_text=True)
    response = http.post(
        "/register", data={"email": "x@example.se", "display_name": "X", "password": "a\x00" * 8}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "name",
    [
        "Anna\u202eAndersson",  # right-to-left override
        "Anna\u2066Andersson",  # left-to-right isolate
        "An\u200bna",  # zero-width space
        "An\u200dna",  # zero-width joiner
        "\ufeffAnna",  # byte order mark
    ],
)
def test_display_names_refuse_bidi_controls_and_zero_width_characters(app, make, name):
    from forum.errors import Invalid

    with app.test_request_context(), pytest.raises(Invalid) as err:
        accounts.register_user("bidi@example.se", name, PASSWORD)
    assert err.value.field == "display_name"
    user = make.user()
    with app.test_request_context(), pytest.raises(Invalid):
        accounts.update_settings(user, name, None, True)


@pytest.mark.parametrize(
    "imitation",
    [
        "Eva Official",  # the same name
        "eva  official",  # case and spaces
        "Еvа Оffiсiаl",  # Cyrillic Е, а, О, с
        "Eva 0fficia1",  # digits for letters
        "Évá Official",  # accents
        "Ｅｖａ Ｏｆｆｉｃｉａｌ",  # fullwidth
    ],
)
def test_names_imitating_an_official_are_refused(app, make, imitation):
    from forum.errors import Invalid

    make.user("official", name="Eva Official")
    make.user("admin", name="Ada Admin")
    with app.test_request_context(), pytest.raises(Invalid) as err:
        accounts.register_user("imitator@example.se", imitation, PASSWORD)
    assert err.value.field == "display_name"
    member = make.user()
    with app.test_request_context(), pytest.raises(Invalid):
        accounts.update_settings(member, "Аdа Аdmin", None, True)  # Cyrillic А, а


def test_ordinary_and_swedish_names_are_fine(app, make):

    make.user("official", name="Eva Official")
    with app.test_request_context():
        for n, name in enumerate(["Eva Officiella", "Åsa Öberg", "Мария Иванова", "Eva"]):
            accounts.register_user(f"ok{n}@example.se", name, PASSWORD)


@pytest.mark.parametrize("path", ["/language", "/login"])
@pytest.mark.parametrize(
    "target", ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example"]
)
def test_every_next_uses_the_strict_guard(app, path, target):
    http = new_client(app)
    if path == "/language":
        response = http.post(path, data={"lang": "en", "next": target})
    else:
        response = http.post(path, data={"email": "no@example.se", "password": "x", "next": target})
        page = response.get_data(as_text=True)
        assert "evil.example" not in page
        return
    assert response.status_code in (302, 303)
    assert "evil.example" not in response.headers["Location"]
    assert not response.headers["Location"].startswith("//")


# --- limits that hold under concurrency ----------------------------------------------


def test_typing_is_throttled_per_socket(make, socket_for):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    a, b = socket_for(alice), socket_for(bob)
    joined(a, thread)
    joined(b, thread)
    for _ in range(5):
        assert a.emit("typing", {"thread_id": thread.id}, callback=True)["ok"]
    assert len(events(b, "typing")) == 1


@pytest.mark.config(
    FORUM_SOCKET_EVENTS_PER_SECOND=1,
    FORUM_SOCKET_BURST=5,
    FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT=5,
)
def test_a_flooding_socket_is_slowed_then_disconnected(make, socket_for):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    flooder, other = socket_for(alice), socket_for(bob)
    codes = []
    for _ in range(30):
        if not flooder.is_connected():
            break
        ack = flooder.emit("history", {"thread_id": thread.id, "before": 10}, callback=True)
        codes.append("ok" if ack and ack["ok"] else (ack or {}).get("error", {}).get("code"))
    assert codes[:5] == ["ok"] * 5
    assert "rate_limited" in codes
    assert not flooder.is_connected()
    # another person's socket is not affected
    assert other.emit("history", {"thread_id": thread.id, "before": 10}, callback=True)["ok"]


@pytest.mark.config(
    FORUM_SOCKET_EVENTS_PER_SECOND=1,
    FORUM_SOCKET_BURST=5,
    FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT=5,
    FORUM_SOCKET_FLOOD_COOLDOWN_SECONDS=0.5,
)
def test_a_disconnected_flooder_cannot_come_straight_back(app, make, socket_for):
    """Reconnecting at once would buy a fresh budget: the session waits out a cool-off."""
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    http = new_client(app)
    login(http, alice.email)
    flooder = socket_with(app, http)
    for _ in range(30):
        if not flooder.is_connected():
            break
        flooder.emit("typing", {"thread_id": thread.id}, callback=True)
    assert not flooder.is_connected()
    again = socket_with(app, http)
    assert not again.is_connected()
    assert socket_for(bob).is_connected()  # nobody else is held to it
    time.sleep(0.6)
    later = socket_with(app, http)
    assert later.is_connected()
    assert later.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    later.disconnect()


def _parallel(fn, n: int) -> list:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, range(n)))


def _send_all_at_once(clients: list, thread_id: int, tag: str) -> list:
    """Every client sends one message at the same moment; their acks (the clients close)."""
    import threading

    start = threading.Barrier(len(clients))

    def send(i):
        start.wait(10)
        return clients[i].call(
            "message:send",
            {"thread_id": thread_id, "body": f"m{i}", "client_id": f"{tag}-{i}"},
        )

    try:
        return _parallel(send, len(clients))
    finally:
        for client in clients:
            client.close()


@pytest.mark.server
def test_parallel_sockets_of_one_person_store_no_more_than_the_limit(app, db_url, make, db):
    from serverproc import ServerProcess
    from test_delivery import Client

    from forum.models import Message

    alice = make.user()
    thread = make.thread(author=alice)
    thread_id = thread.id
    with ServerProcess(db_url, FORUM_MESSAGE_RATE_LIMIT="10/60s") as server:
        acks = _send_all_at_once([Client(server, alice) for _ in range(20)], thread_id, "par")
    db.session.rollback()
    stored = db.session.scalar(select(func.count()).where(Message.thread_id == thread_id))
    assert stored == 10
    assert sum(1 for a in acks if a["ok"]) == 10
    assert {a["error"]["code"] for a in acks if not a["ok"]} == {"rate_limited"}


@pytest.mark.server
def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(app, db_url, make):
    import re
    import threading

    import requests
    from serverproc import ServerProcess

    email = make.user().email
    with ServerProcess(db_url) as server:
        sessions = []
        for _ in range(30):
            http = requests.Session()
            page = http.get(server.url + "/login", timeout=10).text
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            sessions.append((http, token))
        start = threading.Barrier(30)

        def attempt(i):
            http, token = sessions[i]
            start.wait(10)
            response = http.post(
                server.url + "/login",
                data={"email": email, "password": f"wrong {i}", "csrf_token": token},
                timeout=30,
                allow_redirects=False,
            )
            return response.status_code

        statuses = _parallel(attempt, 30)
    checked = statuses.count(400)  # a real password check that failed
    assert checked <= app.config["FORUM_LOGIN_MAX_FAILURES"]
    assert statuses.count(429) == 30 - checked


# --- files only the owner can read -------------------------------------------------------


def test_the_instance_folder_and_sqlite_file_are_the_owners_alone(tmp_path):
    """What create_app does on first start: the folder, the secret key and the database."""
    import os
    import stat

    from forum import private_instance
    from forum.config import load_config

    old = os.umask(0o022)  # the usual umask would leave them readable by everyone
    try:
        instance = tmp_path / "instance"
        config = load_config(instance, {})
        private_instance(instance, str(config["SQLALCHEMY_DATABASE_URI"]))
        assert stat.S_IMODE(instance.stat().st_mode) == 0o700
        assert stat.S_IMODE((instance / "forum.sqlite3").stat().st_mode) == 0o600
        assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.server
@pytest.mark.redis
@pytest.mark.postgres
def test_the_message_limit_holds_across_two_processes_through_redis(postgres_url, redis_url):  # noqa: F811
    """Twenty sockets of one person on two processes, sending at once: ten messages."""
    import uuid

    import redis
    from serverproc import ServerProcess
    from support import app_settings, create_schema
    from test_delivery import Client

    from forum import create_app
    from forum.extensions import db
    from forum.services import accounts, agreement, forums

    app = create_app(app_settings(postgres_url))
    with app.app_context(), app.test_request_context():
        create_schema()
        agreement.seed_agreement()
        official = accounts.create_user_with_role(
            "off@rl.se", "Off RL", PASSWORD, "official", "Kulturnämnden"
        )
        accounts.create_user_with_role("fast@rl.se", "Fast RL", PASSWORD, "member")
        forum = forums.create_forum(official, "RL", "", "public", [1])
        thread_id = forums.start_thread(official, forum, "Snabbt", [1]).id
        db.session.remove()
        db.engine.dispose()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    env = {"FORUM_REDIS_URL": redis_url, "FORUM_REDIS_PREFIX": prefix}
    env["FORUM_MESSAGE_RATE_LIMIT"] = "10/60s"
    person = type("U", (), {"email": "fast@rl.se"})()
    with ServerProcess(postgres_url, **env) as one, ServerProcess(postgres_url, **env) as two:
        clients = [Client(one if i % 2 else two, person) for i in range(20)]
        acks = _send_all_at_once(clients, thread_id, "rl")
    assert sum(1 for a in acks if a["ok"]) == 10
    assert {a["error"]["code"] for a in acks if not a["ok"]} == {"rate_limited"}
    keys = redis.Redis.from_url(redis_url).keys(f"*{prefix}*")
    assert keys, "the limit was not kept in Redis"
    redis.Redis.from_url(redis_url).delete(*keys)


# --- the matrix's "after access is lost" column: every socket event --------------------

LOSSES = ["removed from the forum", "thread moved away", "forum closed", "role revoked"]
EVENTS_AFTER = [
    "join",
    "history",
    "message:send",
    "message:edit",
    "message:delete",
    "typing",
    "read",
    "mention:suggest",
]


@pytest.mark.parametrize("loss", LOSSES)
def test_after_access_is_lost_every_socket_event_answers_not_found(app, make, socket_for, loss):
    from forum.services import admin as admin_service
    from forum.services import forums, moderation

    admin = make.user("admin")
    owner = make.user("official")
    person = make.user("moderator") if loss == "role revoked" else make.user()
    members = [] if loss in ("role revoked", "forum closed") else [person]
    visibility = "members" if loss == "forum closed" else "invite"
    forum = make.forum(owner=owner, visibility=visibility, members=members, moderators=[owner])
    thread = make.thread(forum, author=admin)
    own = make.message(thread, person, "Mitt eget")
    sock = socket_for(person)
    joined(sock, thread)
    with app.test_request_context():
        if loss == "removed from the forum":
            forums.change_forum_people(owner, forum, person.email, "member", add=False)
        elif loss == "thread moved away":
            elsewhere = make.forum(owner=owner, visibility="invite", moderators=[admin])
            moderation.move_thread(admin, thread.id, elsewhere.id)
        elif loss == "forum closed":
            forums.set_forum_visibility(owner, forum, "invite")
        else:
            admin_service.revoke_role(admin, person.id, "moderator")
    assert events(sock, "thread:revoked") == [{"thread_id": thread.id}]
    payloads = {
        "join": {"thread_id": thread.id},
        "history": {"thread_id": thread.id, "before": own.id + 1},
        "message:send": {"thread_id": thread.id, "body": "x", "client_id": "after"},
        "message:edit": {"message_id": own.id, "body": "ändrat"},
        "message:delete": {"message_id": own.id},
        "typing": {"thread_id": thread.id},
        "read": {"thread_id": thread.id, "message_id": own.id},
        "mention:suggest": {"thread_id": thread.id, "q": ""},
    }
    for name in EVENTS_AFTER:
        ack = sock.emit(name, payloads[name], callback=True)
        assert ack["ok"] is False, (name, ack)
        assert ack["error"]["code"] in ("not_found", "forbidden"), (name, ack)
