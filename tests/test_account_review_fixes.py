"""Account review fixes: registering with someone's address mails them a bounded number of
times; strangers' failed logins cannot lock the owner out (nor keep a lock on by retrying),
while guessing stays throttled; a password reset and "log out everywhere" revoke the
person's API tokens, an ordinary password change does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support import steps_at_once, stored_count
from test_accounts import NEW_PASSWORD, PASSWORD, WRONG, english

from forum.config import parse_rate_limit
from forum.errors import Invalid
from forum.extensions import db as _db
from forum.models import ApiToken, AuditEntry, LoginAttempt, OutboxMail, User
from forum.services import accounts, api_tokens, privacy

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"


def login(client, email, password=PASSWORD, address=ATTACKER):
    data = {"email": email, "password": password}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def mails_to(db, address) -> list[OutboxMail]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == address)))


def time_passes(db, minutes: int) -> None:
    """The throttle's clock moves on: every recorded attempt is `minutes` older."""
    db.session.rollback()
    for row in db.session.scalars(select(LoginAttempt)):
        row.at -= timedelta(minutes=minutes)
    db.session.commit()


# --- 1. "someone tried to register with your address" ----------------------------------


def register(client, email, password):
    data = {"email": email, "display_name": "Spam Person", "password": password}
    return client.post("/register", data=data)


# the mails to the owner are capped on their own; the limit per address would stop these
# twelve requests first (test_registration_throttle)
@pytest.mark.config(FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("off"))
def test_registering_with_a_taken_address_again_and_again_mails_the_owner_a_few_times(
    app, client, make, db
):
    make.user(email="victim@example.se")
    answers = [register(client, "victim@example.se", f"Hemligt-lösen-{i:03d}x") for i in range(12)]
    assert len(mails_to(db, "victim@example.se")) == accounts.MAX_RESETS_PER_WINDOW
    # past the cap the requester hears exactly what a new address hears
    new = register(english(app.test_client()), "someone-new@example.se", "Hemligt-lösen-new")
    assert {(a.status_code, a.location) for a in answers} == {(new.status_code, new.location)}
    # a window later the owner is told again
    time_passes(db, app.config["FORUM_LOGIN_WINDOW_MINUTES"] + 1)
    register(client, "victim@example.se", "Hemligt-lösen-later")
    assert len(mails_to(db, "victim@example.se")) == accounts.MAX_RESETS_PER_WINDOW + 1


def test_closing_the_account_removes_its_throttle_rows_under_every_key(app, client, make, db):
    """The rows counting the person's own confirmations and the mails about registrations
    with their address were kept after the account closed (only its email's were removed)."""
    person = make.user(email="stanger@example.se")
    register(client, person.email, "Hemligt-lösen-001x")
    with app.test_request_context():
        with pytest.raises(Invalid):
            accounts.confirm_password(person, WRONG, None)
        keys = accounts.throttle_keys(person)
        rows = select(func.count()).where(LoginAttempt.email.in_(keys))
        assert db.session.scalar(rows) == 2
        privacy.close_account(person, person.id, PASSWORD, None)
    assert db.session.scalar(rows) == 0


# --- 2. strangers' failures and the owner ----------------------------------------------


def test_strangers_failures_do_not_lock_the_owner_out(app, make, db):
    victim = make.user()
    attacker = app.test_client()
    for i in range(8):
        login(attacker, victim.email, f"wrong guess {i}")
    assert login(attacker, victim.email).status_code == 429  # the guesser is stopped
    owner = app.test_client()
    assert login(owner, victim.email, address=OWNER).status_code == 303


def test_a_refused_attempt_does_not_keep_the_lock_on(app, make, db):
    """One request every two minutes used to be recorded as a failure each time, so more
    than five were always in the window and the account stayed locked for ever."""
    victim = make.user()
    attacker = app.test_client()
    for i in range(5):
        assert login(attacker, victim.email, f"wrong guess {i}").status_code == 400
    for _ in range(7):  # 14 minutes of one try every two minutes: all refused
        time_passes(db, 2)
        assert login(attacker, victim.email, WRONG).status_code == 429
    time_passes(db, 2)  # the five failures are older than the window now
    assert login(app.test_client(), victim.email).status_code == 303


def test_guessing_from_many_addresses_gets_one_guess_per_address(app, make, db):
    """Once an account has more failures than the limit, an address that failed on it
    gets no further check (not even with the right password) until the window passes;
    an address that has not failed on it, such as the owner's, still does."""
    victim = make.user()
    guesser = app.test_client()
    for n in range(6):
        assert login(guesser, victim.email, WRONG, address=f"192.0.2.{n}").status_code == 400
    for n in range(6):
        assert login(guesser, victim.email, PASSWORD, address=f"192.0.2.{n}").status_code == 429
    assert login(guesser, victim.email, WRONG, address="192.0.2.77").status_code == 400
    assert login(guesser, victim.email, WRONG, address="192.0.2.77").status_code == 429
    assert login(app.test_client(), victim.email, address=OWNER).status_code == 303


def test_one_ipv6_block_counts_as_one_address(app, make, db):
    """Whoever has an IPv6 /64 has 2^64 addresses: they count as one."""
    victim = make.user()
    guesser = app.test_client()
    for n in range(1, 6):
        assert login(guesser, victim.email, WRONG, address=f"2001:db8::{n}").status_code == 400
    assert login(guesser, victim.email, WRONG, address="2001:db8::ffff:1").status_code == 429
    assert login(guesser, "other@example.se", WRONG, address="2001:db8::99").status_code == 429
    assert login(app.test_client(), victim.email, address="2001:db8:0:1::1").status_code == 303


def test_strangers_failures_do_not_stop_a_logged_in_owner(app, make, db, client, auth):
    """Changing the password and closing the account confirm the password: throttled by the
    person's own failures only, not by anonymous logins on their email."""
    victim = make.user(name="Utsatt Person")
    auth.login(victim)
    attacker = app.test_client()
    for i in range(8):
        login(attacker, victim.email, f"wrong guess {i}")
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    own = {"REMOTE_ADDR": OWNER}
    assert client.post("/settings/password", data=data, environ_base=own).status_code == 303
    for i in range(8):
        login(attacker, victim.email, f"more guesses {i}")
    closed = client.post("/settings/close", data={"password": NEW_PASSWORD}, environ_base=own)
    assert closed.status_code == 303
    db.session.rollback()
    assert db.session.get(User, victim.id).display_name != "Utsatt Person"


def test_a_borrowed_session_still_cannot_guess_the_password(app, make, db, client, auth):
    """The person's own wrong confirmations are throttled, from whatever address, and a
    password reset lifts that throttle as it lifts the login one."""
    user = make.user()
    auth.login(user)
    for n in range(5):
        data = {"current_password": WRONG, "new_password": NEW_PASSWORD}
        address = {"REMOTE_ADDR": f"192.0.2.{n}"}
        assert client.post("/settings/password", data=data, environ_base=address).status_code == 400
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    fresh_address = {"REMOTE_ADDR": OWNER}
    response = client.post("/settings/password", data=data, environ_base=fresh_address)
    assert response.status_code == 429
    # nor do those failures lock the account's logins
    assert login(app.test_client(), user.email, address=OWNER).status_code == 303
    with app.test_request_context():
        accounts.set_password(db.session.get(User, user.id), "another long password 7")
    again = app.test_client()
    assert login(again, user.email, "another long password 7", address=OWNER).status_code == 303
    data = {"current_password": "another long password 7", "new_password": NEW_PASSWORD}
    assert again.post("/settings/password", data=data).status_code == 303


# --- 3. API tokens after a reset and "log out everywhere" ------------------------------


@pytest.fixture
def token(app, make):
    user = make.user()
    with app.test_request_context():
        _row, raw = api_tokens.create_token(user, "skript", ["read"])
    return user, raw


def api_status(client, raw) -> int:
    return client.get("/api/v1/forums", headers={"Authorization": f"Bearer {raw}"}).status_code


def revocations(db, user) -> list[AuditEntry]:
    db.session.rollback()
    ids = select(ApiToken.id).where(ApiToken.user_id == user.id)
    return list(
        db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "api_token.revoke", AuditEntry.target_id.in_(ids)
            )
        )
    )


def kept_and_revoked(db, user) -> bool:
    db.session.rollback()
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    return len(rows) == 1 and rows[0].revoked_at is not None


def test_a_password_reset_revokes_the_api_tokens(app, client, db, token):
    user, raw = token
    assert api_status(client, raw) == 200
    client.post("/reset", data={"email": user.email})
    body = mails_to(db, user.email)[-1].body
    link = body[body.index("/reset/") :].split()[0]
    assert client.post(link, data={"password": NEW_PASSWORD}).status_code == 303
    assert api_status(client, raw) == 401
    assert kept_and_revoked(db, user)
    [entry] = revocations(db, user)
    assert entry.actor_id == user.id and "skript" in entry.reason


def test_an_operators_new_password_revokes_the_api_tokens(app, client, db, token):
    user, raw = token
    with app.test_request_context():
        accounts.set_password(user, NEW_PASSWORD)
    assert api_status(client, raw) == 401
    assert kept_and_revoked(db, user)
    assert [entry.actor_id for entry in revocations(db, user)] == [None]


def test_log_out_everywhere_revokes_the_api_tokens(app, client, db, auth, token):
    user, raw = token
    auth.login(user)
    assert client.post("/settings/logout-everywhere").status_code == 303
    assert api_status(app.test_client(), raw) == 401
    assert kept_and_revoked(db, user)
    assert len(revocations(db, user)) == 1


def test_changing_the_password_keeps_the_api_tokens(app, client, db, auth, token):
    user, raw = token
    auth.login(user)
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/settings/password", data=data).status_code == 303
    assert api_status(app.test_client(), raw) == 200
    assert revocations(db, user) == []


# --- at the same moment (PostgreSQL) ----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
def test_many_registrations_with_a_taken_address_at_once_mail_at_most_the_limit(app, make):
    """Each parallel request would count the others' mails as not there yet: the person's
    lock makes them count one after another."""
    email = make.user(email="busy@example.se").email
    steps = [
        lambda i=i: accounts.register_member(email, "Spam Person", f"Hemligt-lösen-{i}x")
        for i in range(8)
    ]
    outcomes = steps_at_once(app, steps)
    assert outcomes == ["ok"] * 8, outcomes
    assert stored_count(OutboxMail.to_address == email) == accounts.MAX_RESETS_PER_WINDOW


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
@pytest.mark.parametrize("ending", ["reset", "log out everywhere"])
def test_a_token_being_made_meanwhile_is_revoked_too(app, make, ending):
    """A token inserted but not yet committed when the reset or "log out everywhere"
    revokes would survive it: they take the person's lock first, as making a token does, so
    they wait for the token and revoke it."""
    for _round in range(3):
        user = make.user()
        user_id = user.id
        with app.test_request_context():
            accounts.request_password_reset(user.email)
        link = reset_token(user.email)

        def make_token(user_id: int = user_id) -> None:
            api_tokens.create_token(_db.session.get(User, user_id), "skript", ["read"])

        def end_all(user_id: int = user_id, link: str = link) -> None:
            if ending == "reset":
                accounts.reset_password(link, NEW_PASSWORD)
            else:
                accounts.log_out_everywhere(_db.session.get(User, user_id))

        outcomes = steps_at_once(app, [make_token, end_all], pause_after="INSERT INTO api_tokens")
        assert outcomes == ["ok", "ok"], outcomes
        assert stored_count(ApiToken.user_id == user_id) == 1
        assert stored_count(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)) == 0


def reset_token(email: str) -> str:
    _db.session.rollback()
    body = _db.session.scalar(
        select(OutboxMail.body).where(OutboxMail.to_address == email).order_by(OutboxMail.id.desc())
    )
    return body[body.index("/reset/") + len("/reset/") :].split()[0]


def test_refused_attempts_leave_no_rows(app, make, db):
    """What was refused is not stored (the attempts table holds failures)."""
    victim = make.user()
    attacker = app.test_client()
    for _ in range(5):
        login(attacker, victim.email, WRONG)
    for _ in range(10):
        assert login(attacker, victim.email, WRONG).status_code == 429
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 5
