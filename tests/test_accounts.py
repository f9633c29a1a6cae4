"""Accounts: register, log in (throttling, rotation, remember me), log out, reset, settings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support import at_once, without_csrf_tokens

from forum.extensions import socketio
from forum.models import LoginAttempt, OutboxMail, PasswordReset, User
from forum.models.base import utcnow

# The password that the `make` factory (tests/conftest.py) gives every user; not imported,
# because `conftest` is an ambiguous module name once tests/ has several conftest files.
PASSWORD = "correct horse battery"
NEW_PASSWORD = "purple elephant umbrella"
WRONG = "wrong horse battery"
REMEMBER = "forum_remember"


# --- helpers -------------------------------------------------------------------


def english(client):
    """Ask for English pages, so the assertions survive the Swedish translation."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture(autouse=True)
def _english(client):
    """Pages are asked for in English, so the assertions survive the Swedish translation."""
    english(client)


def new_client(app):
    return english(app.test_client())


def fresh(db) -> None:
    """End the test's own transaction, so the next query sees what the requests wrote."""
    db.session.rollback()


def count(db, model) -> int:
    fresh(db)
    return db.session.scalar(select(func.count()).select_from(model))


def text(response) -> str:
    return response.get_data(as_text=True)


def live_sessions(db, user) -> int:
    """How many server-side sessions of `user` are not revoked."""
    from forum.models import UserSession

    return len(
        db.session.scalars(
            select(UserSession).where(
                UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
            )
        ).all()
    )


def login(client, email, password=PASSWORD, remember=False, address=None, **extra):
    data = {"email": email, "password": password, **extra}
    if remember:
        data["remember"] = "y"
    kwargs = {"environ_base": {"REMOTE_ADDR": address}} if address else {}
    return client.post("/login", data=data, **kwargs)


def register(client, email="new@example.se", display_name="Ny Person", password=PASSWORD, **extra):
    data = {"email": email, "display_name": display_name, "password": password, **extra}
    return client.post("/register", data=data)


def logged_in(client) -> bool:
    """Is the client logged in? (/settings answers 200 only then.)"""
    response = client.get("/settings")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def copy_cookies(source, target, names=("session", REMEMBER)) -> None:
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value, domain=cookie.domain, path=cookie.path)


def client_with_only(app, source, name):
    other = new_client(app)
    copy_cookies(source, other, names=(name,))
    return other


def reset_link(db, email) -> str:
    fresh(db)
    mail = db.session.scalars(
        select(OutboxMail).where(OutboxMail.to_address == email).order_by(OutboxMail.id.desc())
    ).first()
    assert mail is not None, "no reset mail was queued"
    match = re.search(r"http://localhost(/reset/[A-Za-z0-9_\-]+)", mail.body)
    assert match, mail.body
    return match.group(1)


def csrf_from(response) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(response))
    assert match, "no CSRF token on the page"
    return match.group(1)


# --- register ------------------------------------------------------------------


def test_register_creates_account_and_sends_to_login(client, db):
    response = register(client, email="  Ny.Person@Example.SE ", display_name="  Ny   Person ")
    assert response.status_code == 303
    assert response.location == "/login?next=/forums"
    fresh(db)
    user = db.session.scalar(select(User).where(User.email == "ny.person@example.se"))
    assert user is not None
    assert user.display_name == "Ny Person"
    assert PASSWORD not in user.password_hash
    assert "We have sent a mail to" in text(client.get(response.location))
    assert not logged_in(client)  # logging in is the same step for everyone (issue 11)
    assert login(client, "ny.person@example.se").status_code == 303
    assert logged_in(client)
    with client.session_transaction() as session:
        assert session["_user_id"] == user.get_id()
        assert len(session["nonce"]) >= 16


def test_register_page_is_accessible_markup(client):
    page = text(client.get("/register"))
    assert '<label for="email">' in page
    assert 'autocomplete="email"' in page
    assert 'autocomplete="name"' in page
    assert 'autocomplete="new-password"' in page
    assert "<h1>" in page


def test_register_with_a_taken_address_answers_the_same_and_mails_the_owner(client, db, make):
    make.user(email="anna@example.se")
    before = count(db, User)
    taken = register(client, email="ANNA@Example.se", password=NEW_PASSWORD)
    fresh_one = register(new_client(client.application), email="nyanna@example.se")
    assert (taken.status_code, taken.location) == (fresh_one.status_code, fresh_one.location)
    assert count(db, User) == before + 1
    assert not logged_in(client)
    fresh(db)
    mails = db.session.scalars(
        select(OutboxMail).where(OutboxMail.to_address == "anna@example.se")
    ).all()
    assert len(mails) == 1  # "someone tried to register with your address"
    assert "/reset" in mails[0].body and "/login" in mails[0].body


def subjects(db, email) -> list[str]:
    fresh(db)
    return list(
        db.session.scalars(
            select(OutboxMail.subject).where(OutboxMail.to_address == email).order_by(OutboxMail.id)
        )
    )


def test_a_form_sent_twice_makes_one_account_and_one_mail(client, db):
    """A double click (or a reload) sends the registration again: the account it made a
    moment ago with this password is its own, not someone else's attempt to mail about."""
    first, again = register(client), register(client)
    assert (first.status_code, first.location) == (again.status_code, again.location)
    assert count(db, User) == 1
    assert subjects(db, "new@example.se") == ["Welcome to Dialogforum"]


def test_registering_again_later_or_with_another_password_mails_the_owner(client, db):
    register(client)
    register(client, password=NEW_PASSWORD)  # not the one who chose the account's password
    fresh(db)
    user = db.session.scalar(select(User))
    user.created_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    register(client)  # the owner, long after: reminded how to log in or reset
    tried = "Someone tried to register with your address"
    assert subjects(db, "new@example.se") == ["Welcome to Dialogforum", tried, tried]


def test_registration_mails_are_in_the_pages_language(client, db):
    """The page was English (the visitor's choice or the browser's): so are the mails and
    the account's language."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "sv"
    with client.session_transaction() as session:
        session["lang"] = "en"
    assert 'lang="en"' in text(client.get("/register"))
    register(client)
    fresh(db)
    assert db.session.scalar(select(User.locale)) == "en"
    client.post("/reset", data={"email": "new@example.se"})
    assert subjects(db, "new@example.se") == [
        "Welcome to Dialogforum",
        "Reset your Dialogforum password",
    ]


def test_two_people_with_one_name_registering_at_once_both_get_accounts(app, monkeypatch):
    """Both choose the handle before either has inserted: the one who inserts second
    takes the next handle, and is not told that their address is taken."""
    import threading

    from forum.extensions import db
    from forum.services import accounts

    both_hashing = threading.Barrier(2, timeout=5)
    hash_password = accounts.hash_password

    def slow_hash(password):
        try:
            both_hashing.wait()
        except threading.BrokenBarrierError:
            pass
        return hash_password(password)

    monkeypatch.setattr(accounts, "hash_password", slow_hash)

    def register_anna(i):
        user = accounts.register_member(f"anna{i}@example.se", "Anna Andersson", PASSWORD)
        return user.handle if user else None

    results = at_once(app, register_anna, 2)
    assert sorted(results, key=str) == ["anna.andersson", "anna.andersson2"], results
    fresh(db)
    assert sorted(db.session.scalars(select(OutboxMail.to_address))) == [
        "anna0@example.se",
        "anna1@example.se",
    ]


def test_a_handle_taken_meanwhile_is_chosen_again_not_called_a_taken_address(
    app, make, monkeypatch
):
    from forum.services import accounts

    make.user(name="Anna Andersson")  # has the handle anna.andersson
    stale = iter(["anna.andersson"])  # what a read before that insert would have chosen
    choose = accounts._unique_handle
    monkeypatch.setattr(accounts, "_unique_handle", lambda name: next(stale, None) or choose(name))
    with app.test_request_context():
        user = accounts.register_member("anna@example.se", "Anna Andersson", PASSWORD)
    assert user is not None
    assert user.handle == "anna.andersson2"


def test_a_handle_that_stays_taken_asks_to_try_again(client, make, monkeypatch, db):
    """Never "thank you, we have sent a mail" with no account made and no mail sent."""
    from forum.services import accounts

    make.user(name="Anna Andersson")
    monkeypatch.setattr(accounts, "_unique_handle", lambda name: "anna.andersson")
    response = register(client, email="anna@example.se", display_name="Anna Andersson")
    assert response.status_code == 400
    assert "Many people are registering at this moment. Try again." in text(response)
    fresh(db)
    assert db.session.scalar(select(User.id).where(User.email == "anna@example.se")) is None
    assert subjects(db, "anna@example.se") == []


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("email", {"email": "not-an-email"}, "valid email address"),
        ("email", {"email": "anna@"}, "valid email address"),
        ("email", {"email": ""}, "Enter your email address"),
        ("password", {"password": "short1"}, "at least 10 characters"),
        ("password", {"password": "password123"}, "too common"),
        ("password", {"password": "Qwertyuiop"}, "too common"),
        ("password", {"password": "aaaaaaaaaaaa"}, "too common"),
        ("display_name", {"display_name": "   "}, "Enter a display name"),
        ("display_name", {"display_name": "x" * 81}, "at most 80 characters"),
    ],
)
def test_register_bad_input_shows_field_error_and_writes_nothing(
    client, db, field, values, message
):
    response = register(client, **values)
    page = text(response)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page
    assert message in page
    assert 'class="error-summary"' in page
    assert f'href="#{field}"' in page
    assert count(db, User) == 0
    assert not logged_in(client)


def test_register_overlong_display_name_is_not_truncated(client, db):
    response = register(client, display_name="Å" * 200)
    assert response.status_code == 400
    assert count(db, User) == 0
    # the input keeps everything that was typed, so the person can shorten it themselves
    assert 'value="' + "Å" * 200 + '"' in text(response)


def test_register_shows_every_problem_at_once(client, db):
    response = register(client, email="nope", display_name="", password="short")
    page = text(response)
    assert response.status_code == 400
    for field in ("email", "display_name", "password"):
        assert f'id="{field}-error"' in page
    assert count(db, User) == 0


# --- log in --------------------------------------------------------------------


def test_login_page_has_the_fields_the_server_helper_needs(client):
    page = text(client.get("/login"))
    for name in ("email", "password", "remember"):
        assert f'name="{name}"' in page
    assert 'autocomplete="current-password"' in page
    assert 'type="checkbox"' in page


def test_login_success_redirects_home(client, make):
    user = make.user()
    response = login(client, user.email.upper())
    assert response.status_code in (302, 303)
    assert response.location == "/"
    assert logged_in(client)


def test_login_wrong_password_and_unknown_email_look_the_same(client, make, db):
    user = make.user()
    wrong = login(client, user.email, WRONG)
    unknown = login(client, "nobody@example.se", WRONG)
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong email address or password." in text(wrong)
    assert "Wrong email address or password." in text(unknown)
    assert not logged_in(client)
    assert count(db, LoginAttempt) == 2


def test_login_with_empty_form_is_a_form_error(client, db):
    response = client.post("/login", data={})
    assert response.status_code == 400
    assert 'id="email-error"' in text(response)
    assert count(db, LoginAttempt) == 0


def test_login_is_throttled_per_account_after_five_failures(client, make):
    user = make.user()
    for _ in range(5):
        assert login(client, user.email, WRONG).status_code == 400
    response = login(client, user.email)  # even the right password waits now
    assert response.status_code == 429
    assert "Too many failed attempts" in text(response)
    assert not logged_in(client)
    # an address that has not failed on the account still gets its check: strangers'
    # failures must not lock the owner out (guesses from many addresses are slowed down
    # instead, tests/test_account_review_fixes.py)
    assert login(new_client(client.application), user.email, address="10.9.9.9").status_code == 303


def test_throttle_for_unknown_email_gives_the_same_answer(client, make):
    user = make.user()
    for n in range(5):  # each account is guessed at from five addresses
        login(client, user.email, WRONG, address=f"10.0.0.{n}")
        login(client, "ghost@example.se", WRONG, address=f"10.0.1.{n}")
    # an address that already failed on an account under attack gets no second check
    known = login(client, user.email, WRONG, address="10.0.0.0")
    unknown = login(client, "ghost@example.se", WRONG, address="10.0.1.0")
    assert known.status_code == unknown.status_code == 429

    def message(response):
        return re.search(
            r'role="alert"[^>]*>\s*<h2>[^<]*</h2>\s*<p>([^<]*)</p>', text(response)
        ).group(1)

    assert message(known) == message(unknown)


def test_login_is_throttled_per_address_across_emails(client, make):
    user = make.user()
    for n in range(5):
        assert login(client, f"guess{n}@example.se", WRONG, address="10.1.1.1").status_code == 400
    assert login(client, user.email, address="10.1.1.1").status_code == 429
    assert not logged_in(client)
    assert login(client, user.email, address="10.2.2.2").status_code == 303


def test_successful_login_forgets_the_accounts_failures(client, make):
    user = make.user()
    for _ in range(4):
        login(client, user.email, WRONG)
    assert login(client, user.email).status_code == 303
    other = new_client(client.application)
    for _ in range(4):
        assert login(other, user.email, WRONG).status_code == 400
    assert login(other, user.email).status_code == 303


def test_remember_me_sets_a_lasting_cookie_only_when_asked(client, app, make):
    user = make.user()
    login(client, user.email, remember=False)
    assert client.get_cookie(REMEMBER) is None

    other = new_client(app)
    login(other, user.email, remember=True)
    cookie = other.get_cookie(REMEMBER)
    assert cookie is not None
    assert cookie.http_only
    assert cookie.expires is not None and cookie.expires > utcnow() + timedelta(days=30)
    # the cookie alone (browser restarted, session cookie gone) logs in
    assert logged_in(client_with_only(app, other, REMEMBER))


def test_login_rotates_the_session(client, make):
    user = make.user()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["nonce"] = "old-nonce"
        session["_user_id"] = "999:1"
    assert login(client, user.email).status_code == 303
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["nonce"] != "old-nonce"
        assert len(session["nonce"]) >= 16
        assert session["_user_id"] == user.get_id()


def test_each_login_gets_its_own_nonce(app, make):
    user = make.user()
    nonces = set()
    for _ in range(3):
        http = new_client(app)
        login(http, user.email)
        with http.session_transaction() as session:
            nonces.add(session["nonce"])
    assert len(nonces) == 3


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/forums", "/forums"),
        ("/threads/5?before=10", "/threads/5?before=10"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example/path", "/"),
        ("/%0d%0aSet-Cookie:x=y", "/"),
    ],
)
def test_login_honours_only_a_safe_next(client, make, target, expected):
    user = make.user()
    response = client.post(
        f"/login?next={target}", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.location == expected


def test_after_an_expired_session_a_button_leads_back_to_its_page(client, make):
    """The session ended before "Join" was pressed: login must not end in a GET of the
    POST-only action (405), but on the page the button was on."""
    user = make.user()
    org = make.organisation(admin=make.user())
    pressed = client.post(f"/organisations/{org.slug}/join")
    assert pressed.status_code in (302, 303)
    assert f"next=%2Forganisations%2F{org.slug}%2Fjoin" in pressed.location
    page = client.get(
        pressed.location, headers={"Referer": f"http://localhost/organisations/{org.slug}"}
    )
    assert f'name="next" type="hidden" value="/organisations/{org.slug}"' in text(page)
    response = login(client, user.email, next=f"/organisations/{org.slug}")
    assert response.location == f"/organisations/{org.slug}"
    assert client.get(response.location).status_code == 200


@pytest.mark.parametrize(
    ("target", "referrer"),
    [
        ("/settings/password", None),
        ("/settings/password", "http://evil.example/settings"),
        ("/settings/password", "http://localhost/login"),
        ("/logout", "http://localhost/settings/password"),  # no GET either
    ],
)
def test_a_post_only_next_without_its_page_goes_home(client, make, target, referrer):
    user = make.user()
    headers = {"Referer": referrer} if referrer else {}
    page = text(client.get(f"/login?next={target}", headers=headers))
    assert 'name="next" type="hidden" value=""' in page
    assert login(client, user.email, next=target).location == "/"


def test_a_post_only_next_goes_back_to_the_settings_page(client, make):
    user = make.user()
    referrer = {"Referer": "http://localhost/settings"}
    page = text(client.get("/login?next=/settings/password", headers=referrer))
    assert 'name="next" type="hidden" value="/settings"' in page
    assert login(client, user.email, next="/settings").location == "/settings"


def test_next_survives_a_failed_attempt_in_the_form(client, make):
    user = make.user()
    page = text(client.get("/login?next=/forums"))
    assert 'name="next" type="hidden" value="/forums"' in page
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "next": "/forums"}
    )
    assert response.location == "/forums"


def test_logged_in_user_visiting_login_goes_on(client, auth, make):
    auth.login(make.user())
    assert client.get("/login").status_code == 302


# --- log out -------------------------------------------------------------------


def test_logout_requires_post(client, make):
    user = make.user()
    login(client, user.email)
    assert client.get("/logout").status_code == 405
    assert logged_in(client)
    response = client.post("/logout")
    assert response.status_code == 303
    assert response.location == "/"
    assert "You are logged out." in text(client.get("/"))
    assert not logged_in(client)


def test_logout_removes_the_remember_cookie(client, make):
    user = make.user()
    login(client, user.email, remember=True)
    assert client.get_cookie(REMEMBER) is not None
    client.post("/logout")
    assert client.get_cookie(REMEMBER) is None
    assert not logged_in(client)


def test_logout_closes_only_this_sessions_sockets(app, make):
    user = make.user()
    here, there = new_client(app), new_client(app)
    login(here, user.email)
    login(there, user.email)
    sock_here = socketio.test_client(app, flask_test_client=here)
    sock_there = socketio.test_client(app, flask_test_client=there)
    try:
        assert sock_here.is_connected() and sock_there.is_connected()
        here.post("/logout")
        assert not sock_here.is_connected()
        assert sock_there.is_connected()
        assert logged_in(there)
    finally:
        for sock in (sock_here, sock_there):
            if sock.is_connected():
                sock.disconnect()


def test_logout_keeps_the_users_language(client, make, db):
    user = make.user()
    login(client, user.email)
    client.post("/settings", data={"display_name": user.display_name, "locale": "sv"})
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    client.post("/logout")
    assert '<html lang="sv">' in text(client.get("/", headers={"Accept-Language": "en"}))


@pytest.mark.parametrize("before_login", ["visitor's choice", "someone else logged out"])
def test_the_language_of_my_browser_is_the_browsers_after_login(client, make, db, before_login):
    """A visitor's choice of English, or the language kept from the last person to log out
    in this browser, outranked a user's own setting "the language of my browser"."""
    if before_login == "visitor's choice":
        client.post("/language", data={"lang": "en", "next": "/"})
    else:
        other = make.user(name="Eng Lish")
        db.session.get(User, other.id).locale = "en"
        db.session.commit()
        login(client, other.email)
        client.post("/logout")
    assert '<html lang="en">' in text(client.get("/", headers={"Accept-Language": "sv"}))
    user = make.user()
    db.session.get(User, user.id).locale = None  # "the language of my browser"
    db.session.commit()
    login(client, user.email)
    assert '<html lang="sv">' in text(client.get("/", headers={"Accept-Language": "sv"}))
    assert '<html lang="en">' in text(client.get("/", headers={"Accept-Language": "en"}))
    # a choice made while logged in still holds (the header offers none, but a page open
    # from before the login may post it)
    client.post("/language", data={"lang": "en", "next": "/"})
    assert '<html lang="en">' in text(client.get("/", headers={"Accept-Language": "sv"}))


def test_a_remembered_login_with_the_browsers_language_drops_a_visitors_choice(app, make, db):
    user = make.user()
    db.session.get(User, user.id).locale = None
    db.session.commit()
    first = new_client(app)
    login(first, user.email, remember=True)
    browser = client_with_only(app, first, REMEMBER)  # restarted: the session cookie is gone
    with browser.session_transaction() as session:
        session["lang"] = "en"  # chosen as a visitor before the remembered login took over
    page = text(browser.get("/", headers={"Accept-Language": "sv"}))
    assert '<html lang="sv">' in page and logged_in(browser)


# --- CSRF ----------------------------------------------------------------------


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_forms_without_a_valid_csrf_token_are_refused(client, db, make):
    user = make.user()
    assert register(client).status_code == 400
    assert register(client, csrf_token="forged").status_code == 400
    assert count(db, User) == 1
    assert login(client, user.email).status_code == 400
    assert login(client, user.email, csrf_token="forged").status_code == 400
    assert not logged_in(client)

    token = csrf_from(client.get("/login"))
    assert login(client, user.email, csrf_token=token).status_code == 303
    assert logged_in(client)

    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert logged_in(client)
    before = live_sessions(db, user)
    assert client.post("/settings/logout-everywhere").status_code == 400
    assert (
        client.post("/settings", data={"display_name": "Changed", "locale": "en"}).status_code
        == 400
    )
    fresh(db)
    again = db.session.get(User, user.id)
    assert live_sessions(db, user) == before
    assert again.display_name == user.display_name
    assert logged_in(client)

    token = csrf_from(client.get("/settings"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not logged_in(client)


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_register_with_token_works_and_login_page_token_matches_helper(client, db):
    token = csrf_from(client.get("/register"))
    assert register(client, csrf_token=token).status_code == 303
    assert count(db, User) == 1


# --- password reset ------------------------------------------------------------


def test_reset_link_works_once_and_ends_other_sessions(client, app, make, db):
    user = make.user()
    elsewhere = new_client(app)
    login(elsewhere, user.email, remember=True)
    remembered = client_with_only(app, elsewhere, REMEMBER)
    assert logged_in(elsewhere)

    response = client.post("/reset", data={"email": user.email.upper()})
    assert response.status_code == 200
    assert "If there is an account" in text(response)
    link = reset_link(db, user.email)

    page = client.get(link)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'autocomplete="new-password"' in text(page)
    response = client.post(link, data={"password": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.location == "/login"

    assert not logged_in(elsewhere)
    assert not logged_in(remembered)
    assert login(new_client(app), user.email, PASSWORD).status_code == 400
    assert login(new_client(app), user.email, NEW_PASSWORD).status_code == 303

    used = client.get(link)
    assert used.status_code == 404
    assert "invalid, used or expired" in text(used)
    assert client.post(link, data={"password": "another fine passphrase"}).status_code == 404
    assert login(new_client(app), user.email, NEW_PASSWORD).status_code == 303


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(client, make, db):
    user = make.user()
    known = text(client.post("/reset", data={"email": user.email}))
    unknown = text(client.post("/reset", data={"email": "nobody@example.se"}))
    assert without_csrf_tokens(known.replace(user.email, "X")) == without_csrf_tokens(
        unknown.replace("nobody@example.se", "X")
    )
    fresh(db)
    assert db.session.scalars(select(OutboxMail.to_address)).all() == [user.email]


def test_reset_request_needs_a_valid_address(client, db):
    response = client.post("/reset", data={"email": "not an address"})
    assert response.status_code == 400
    assert 'id="email-error"' in text(response)
    assert count(db, OutboxMail) == 0


def test_reset_mails_are_capped_per_account(client, make, db):
    user = make.user()
    for _ in range(6):
        assert client.post("/reset", data={"email": user.email}).status_code == 200
    assert count(db, OutboxMail) == 3


def test_expired_reset_link_is_refused(client, make, db):
    user = make.user()
    client.post("/reset", data={"email": user.email})
    link = reset_link(db, user.email)
    reset = db.session.scalars(select(PasswordReset)).one()
    reset.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(link).status_code == 404
    assert client.post(link, data={"password": NEW_PASSWORD}).status_code == 404
    assert login(client, user.email, NEW_PASSWORD).status_code == 400


def test_unknown_reset_token_is_a_clear_404(client):
    response = client.get("/reset/made-up-token")
    assert response.status_code == 404
    assert "invalid, used or expired" in text(response)
    assert 'href="/reset"' in text(response)


def test_weak_password_at_reset_keeps_the_link_usable(client, make, db):
    user = make.user()
    client.post("/reset", data={"email": user.email})
    link = reset_link(db, user.email)
    response = client.post(link, data={"password": "password123"})
    assert response.status_code == 400
    assert 'id="password-error"' in text(response)
    assert client.post(link, data={"password": NEW_PASSWORD}).status_code == 303


def test_only_the_newest_links_survive_a_reset(client, make, db):
    user = make.user()
    client.post("/reset", data={"email": user.email})
    first = reset_link(db, user.email)
    client.post("/reset", data={"email": user.email})
    second = reset_link(db, user.email)
    assert first != second
    assert client.post(second, data={"password": NEW_PASSWORD}).status_code == 303
    assert client.get(first).status_code == 404


def test_reset_lifts_the_login_throttle(client, make, db):
    user = make.user()
    for _ in range(5):
        login(client, user.email, WRONG)
    assert login(client, user.email).status_code == 429
    client.post("/reset", data={"email": user.email})
    client.post(reset_link(db, user.email), data={"password": NEW_PASSWORD})
    assert login(client, user.email, NEW_PASSWORD).status_code == 303


# --- settings ------------------------------------------------------------------


def test_visitor_is_sent_to_login_from_settings(client):
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert "next=%2Fsettings" in response.location
    for path in ("/settings/password", "/settings/logout-everywhere"):
        assert client.post(path).status_code == 302


def test_settings_change_language_name_and_notifications(client, make, db):
    user = make.user()
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")  # a Swedish browser
    login(client, user.email)
    assert '<html lang="sv">' in text(client.get("/"))
    response = client.post(
        "/settings", data={"display_name": "  Nytt   Namn ", "locale": "en", "save_settings": "1"}
    )
    assert response.status_code == 303
    page = text(client.get("/settings"))
    assert '<html lang="en">' in page
    assert "Your settings are saved." in page
    fresh(db)
    saved = db.session.get(User, user.id)
    assert (saved.display_name, saved.locale, saved.email_notifications) == (
        "Nytt Namn",
        "en",
        False,
    )

    client.post(
        "/settings", data={"display_name": "Nytt Namn", "locale": "", "email_notifications": "y"}
    )
    fresh(db)
    saved = db.session.get(User, user.id)
    assert (saved.locale, saved.email_notifications) == (None, True)
    assert '<html lang="en">' in text(client.get("/", headers={"Accept-Language": "en"}))
    assert '<html lang="sv">' in text(client.get("/", headers={"Accept-Language": "sv"}))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"display_name": "x" * 81, "locale": "en"}, "display_name"),
        ({"display_name": "", "locale": "en"}, "display_name"),
        ({"display_name": "Fine Name", "locale": "de"}, "locale"),
    ],
)
def test_settings_bad_input_changes_nothing(client, make, db, data, field):
    user = make.user()
    login(client, user.email)
    response = client.post("/settings", data=data)
    assert response.status_code == 400
    assert f'id="{field}-error"' in text(response) or f"{field}-error" in text(response)
    fresh(db)
    saved = db.session.get(User, user.id)
    assert (saved.display_name, saved.locale) == (user.display_name, None)
    # the page header still shows the stored name, not the rejected one
    assert user.display_name in text(response)


@pytest.mark.parametrize(
    "stored",
    [
        "Anna\ufe0f Berg",  # a selector after a letter, refused since it was stored
        "Anna\u3164Berg",  # a Hangul filler
    ],
)
def test_a_name_stored_before_a_check_does_not_block_the_other_settings(client, make, db, stored):
    """Someone whose name was accepted when they chose it, and would be refused as a new
    name now, can still turn off mail without changing the name; a new name is checked."""
    user = make.user()
    row = db.session.get(User, user.id)
    row.display_name = stored  # as saved before the check
    row.email_notifications = True
    db.session.commit()
    login(client, user.email)
    response = client.post("/settings", data={"display_name": stored, "locale": "en"})
    assert response.status_code == 303, text(response)
    fresh(db)
    saved = db.session.get(User, user.id)
    assert (saved.display_name, saved.email_notifications, saved.locale) == (stored, False, "en")

    response = client.post(
        "/settings",
        data={"display_name": "Anna\u3164Bergh", "locale": "en", "email_notifications": "y"},
    )
    assert response.status_code == 400
    assert 'id="display_name-error"' in text(response)
    assert "invisible or control character (U+3164)" in text(response)
    fresh(db)
    saved = db.session.get(User, user.id)
    assert (saved.display_name, saved.email_notifications) == (stored, False)


def test_a_stored_name_like_an_officials_does_not_block_the_other_settings(client, make, db):
    """A name stored before the imitation check caught it can be kept while other settings
    change; taking another name like the official's is still refused."""
    make.user("official", name="Tina Tjänsteperson")
    user = make.user()
    row = db.session.get(User, user.id)
    row.display_name = "Tina Tjänstepers0n"  # saved before the check caught it
    row.email_notifications = True
    db.session.commit()
    login(client, user.email)
    response = client.post("/settings", data={"display_name": "Tina Tjänstepers0n", "locale": "en"})
    assert response.status_code == 303, text(response)
    fresh(db)
    assert db.session.get(User, user.id).email_notifications is False

    response = client.post("/settings", data={"display_name": "Tina Tjänsteperson", "locale": "en"})
    assert response.status_code == 400
    assert "officials" in text(response)
    fresh(db)
    assert db.session.get(User, user.id).display_name == "Tina Tjänstepers0n"


def test_change_password_keeps_this_session_and_ends_the_others(client, app, make, db):
    user = make.user()
    login(client, user.email, remember=True)
    other = new_client(app)
    login(other, user.email)
    with client.session_transaction() as session:
        old_nonce = session["nonce"]
    old_remember = client.get_cookie(REMEMBER).value

    response = client.post(
        "/settings/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "change_password": "1"},
    )
    assert response.status_code == 303
    assert logged_in(client)
    with client.session_transaction() as session:
        assert session["nonce"] != old_nonce
    assert client.get_cookie(REMEMBER).value != old_remember  # re-issued for the new version
    assert logged_in(client_with_only(app, client, REMEMBER))
    assert not logged_in(other)
    assert login(new_client(app), user.email, PASSWORD).status_code == 400
    assert login(new_client(app), user.email, NEW_PASSWORD).status_code == 303


def test_change_password_ends_the_reset_links_asked_for_before(client, app, make, db):
    user = make.user()
    client.post("/reset", data={"email": user.email})
    link = reset_link(db, user.email)
    login(client, user.email)
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/settings/password", data=data).status_code == 303

    visitor = new_client(app)
    assert visitor.get(link).status_code == 404
    assert visitor.post(link, data={"password": "another fine passphrase"}).status_code == 404
    assert login(new_client(app), user.email, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        (WRONG, NEW_PASSWORD, "current_password"),
        (PASSWORD, "short", "new_password"),
        (PASSWORD, "password1234", "new_password"),
        ("", NEW_PASSWORD, "current_password"),
    ],
)
def test_change_password_bad_input(client, make, db, current, new, field):
    user = make.user()
    login(client, user.email)
    response = client.post(
        "/settings/password", data={"current_password": current, "new_password": new}
    )
    assert response.status_code == 400
    assert f'id="{field}-error"' in text(response)
    assert logged_in(client)
    fresh(db)
    assert live_sessions(db, user) == 1
    assert login(new_client(client.application), user.email, PASSWORD).status_code == 303


def test_guessing_the_current_password_is_throttled(client, make):
    user = make.user()
    login(client, user.email)
    for _ in range(5):
        data = {"current_password": WRONG, "new_password": NEW_PASSWORD}
        assert client.post("/settings/password", data=data).status_code == 400
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = client.post("/settings/password", data=data)
    assert response.status_code == 429
    assert "Too many failed attempts" in text(response)


def test_log_out_everywhere_ends_every_cookie(client, app, make):
    user = make.user()
    login(client, user.email)
    copy = new_client(app)
    copy_cookies(client, copy)  # the same session cookie, e.g. stolen or in another tab
    second = new_client(app)
    login(second, user.email)
    assert logged_in(copy) and logged_in(second)

    response = client.post("/settings/logout-everywhere")
    assert response.status_code == 303
    assert response.location == "/"
    assert not logged_in(client)
    assert not logged_in(copy)
    assert not logged_in(second)
    assert login(new_client(app), user.email).status_code == 303  # the password still works


def test_remember_me_cookie_stops_working_after_log_out_everywhere(client, app, make):
    user = make.user()
    phone = new_client(app)
    login(phone, user.email, remember=True)
    assert logged_in(client_with_only(app, phone, REMEMBER))

    login(client, user.email)
    client.post("/settings/logout-everywhere")
    assert not logged_in(client_with_only(app, phone, REMEMBER))
    assert not logged_in(phone)


def test_log_out_everywhere_closes_every_socket(app, make, auth):
    user = make.user()
    stranger = make.user()
    clients = [new_client(app) for _ in range(3)]
    for http, who in zip(clients, (user, user, stranger), strict=True):
        type(auth)(http).login(who)
    socks = [socketio.test_client(app, flask_test_client=http) for http in clients]
    try:
        assert all(sock.is_connected() for sock in socks)
        assert clients[0].post("/settings/logout-everywhere").status_code == 303
        assert [sock.is_connected() for sock in socks] == [False, False, True]
    finally:
        for sock in socks:
            if sock.is_connected():
                sock.disconnect()


def test_session_from_remember_cookie_gets_a_nonce(app, make):
    user = make.user()
    phone = new_client(app)
    login(phone, user.email, remember=True)
    restarted = client_with_only(app, phone, REMEMBER)
    assert logged_in(restarted)
    with restarted.session_transaction() as session:
        assert len(session.get("nonce", "")) >= 16
