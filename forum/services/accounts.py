"""Accounts: registration, login with throttling, sessions, password reset, settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import String, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import Conflict, Invalid, NotFound, RateLimited
from ..extensions import db
from ..formatting import in_language_of, local_datetime
from ..ids import whole_id
from ..links import url_for_mail
from ..models import Department, LoginAttempt, PasswordReset, ReadingChange, User, UserSession
from ..models.base import utcnow
from ..queries.organisations import departments
from ..text import slugify
from . import audit, throttle
from .api_tokens import revoke_all_tokens
from .mail import queue_mail
from .names import check_not_imitating, check_visible
from .transaction import insert_on_conflict, lock_name, lock_person
from .validation import check_characters

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
MAX_DISPLAY_NAME = 80
MAX_RESETS_PER_WINDOW = 3


@cache
def common_passwords() -> frozenset[str]:
    """The list of passwords too common to allow (lower-cased)."""
    text = resources.files("forum").joinpath("data/common-passwords.txt").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(line.lower() for line in lines if line and not line.startswith("#"))


def normalise_email(raw: str) -> str:
    """Validate an email address and return its canonical, lower-cased form."""
    raw = (raw or "").strip()
    if len(raw) > 254:
        raise Invalid(_("The email address is too long."), field="email")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        raise Invalid(_("Enter a valid email address."), field="email") from None
    return result.normalized.lower()


def check_password_strength(password: str, field: str = "password") -> None:
    """Raise Invalid for a short, overlong or common password."""
    check_characters(password, field)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            _("The password must be at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), field=field
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(_("The password is too long."), field=field)
    if password.lower() in common_passwords() or len(set(password)) < 3:
        raise Invalid(_("That password is too common. Choose another."), field=field)


def clean_display_name(raw: str, current: str | None = None) -> str:
    """Trimmed, not empty, not overlong, and without invisible or control characters.

    `current` is the name the person has now: kept unchanged, it is not checked for
    invisible characters again (a name stored before a check was added or tightened
    must not stop them saving their other settings)."""
    check_characters(raw or "", "display_name")
    name = " ".join((raw or "").split())
    if not _unchanged(name, current):
        check_visible(raw or "")
    if not name:
        raise Invalid(_("Enter a display name."), field="display_name")
    if len(name) > MAX_DISPLAY_NAME:
        raise Invalid(
            _("The display name can be at most %(n)d characters.", n=MAX_DISPLAY_NAME),
            field="display_name",
        )
    return name


def _unchanged(name: str, current: str | None) -> bool:
    """Is the cleaned `name` the stored name `current` (spaces evened out as they are)?"""
    return current is not None and name == " ".join(current.split())


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["FORUM_PASSWORD_HASH"])


def _handle_base(display_name: str) -> str:
    return slugify(display_name, "user", separator=".", max_length=30)


def _unique_handle(display_name: str) -> str:
    base = _handle_base(display_name)
    taken = set(db.session.scalars(select(User.handle).where(User.handle.like(f"{base}%"))).all())
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


HANDLE_ATTEMPTS = 5  # people registering the same name at the same moment, one after another


def _email_taken(email: str) -> bool:
    return db.session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None


def register_user(email: str, display_name: str, password: str, locale: str | None = None) -> User:
    """Create a member account. Email is unique regardless of case.

    The password is hashed (the slow part) before the handle is chosen, right before
    the insert; if someone took that handle meanwhile (the same display name at the
    same moment), the next one is tried. Only a taken address is a Conflict on `email`.
    """
    email = normalise_email(email)
    name = clean_display_name(display_name)
    check_not_imitating(name)
    check_password_strength(password)
    password_hash = hash_password(password)
    email_taken = Conflict(_("An account with that email address already exists."), field="email")
    if _email_taken(email):
        raise email_taken
    for _attempt in range(HANDLE_ATTEMPTS):
        user = User(
            email=email,
            display_name=name,
            handle=_unique_handle(name),
            password_hash=password_hash,
            locale=locale if locale in ("sv", "en") else None,
        )
        try:
            with db.session.begin_nested():
                db.session.add(user)
        except IntegrityError:
            if _email_taken(email):
                raise email_taken from None
            continue  # the handle was taken a moment ago: choose again
        db.session.commit()
        return user
    raise Conflict(_("Many people are registering at this moment. Try again."))


def register_member(
    email: str,
    display_name: str,
    password: str,
    locale: str | None = None,
    address: str | None = None,
) -> User | None:
    """Registration from the web: the answer never tells whether the address has an account.

    A new address gets its account and a welcome mail; an address that already has
    an account gets no second one, and its owner is mailed instead ("someone tried
    to register with your address"), unless the account was made moments ago with this
    same password: a double-clicked or resent form, whose welcome is on its way.
    Returns the new user, or None. Both paths hash the password (or check it, the same
    work), so they take as long. `address` (the client's) registers at most
    FORUM_REGISTER_RATE_LIMIT accounts (`_reserve_registration`).
    """
    email = normalise_email(email)
    name = clean_display_name(display_name)
    check_not_imitating(name)
    check_password_strength(password)
    _reserve_registration(address)  # before the address is looked up: it tells nobody
    owner = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if owner is None:
        try:
            user = register_user(email, name, password, locale)
        except Conflict as err:
            if err.field != "email":
                raise
            # registered a moment ago by a parallel request
            owner = db.session.scalar(select(User).where(func.lower(User.email) == email))
        else:
            _mail_account(user, registered=True)
            db.session.commit()
            return user
    if owner is None:
        hash_password(password)  # the same work as creating an account
    elif not _sent_again(owner, password):
        _tell_owner(owner)
    return None


def _reserve_registration(address: str | None) -> None:
    """Count a registration from `address` (`address_key`: an IPv6 address by its /64)
    against FORUM_REGISTER_RATE_LIMIT, else RateLimited. Each account mails a welcome to
    the address asked for, greeting it with the name given: without a limit, one client
    could send the city's mail to anyone, in words of its choosing. Redis's moving window
    when there is one; else a row in the throttle's table, stored and counted under a lock
    on the address (`lock_name`; SQLite's write lock, taken by the insert), so parallel
    requests are counted one after another: exactly the limit pass. A refused request is
    not recorded, so waiting is enough."""
    limit = current_app.config["FORUM_REGISTER_RATE_LIMIT"]
    if not limit.enabled:
        return
    key = f"register-from:{address_key(address)}"
    allowed = throttle.redis_hit("register", key, limit.count, limit.seconds)
    if allowed is None:
        lock_name(key)
        db.session.add(LoginAttempt(email=key, address=""))
        db.session.flush()
        since = utcnow() - timedelta(seconds=limit.seconds)
        counted = db.session.scalar(
            select(func.count()).where(LoginAttempt.email == key, LoginAttempt.at > since)
        )
        allowed = (counted or 0) <= limit.count
        if allowed:
            db.session.commit()
        else:
            db.session.rollback()
    if not allowed:
        raise RateLimited(
            ngettext(
                "Too many accounts were registered from your network in a short time. "
                "Wait %(num)d minute and try again.",
                "Too many accounts were registered from your network in a short time. "
                "Wait %(num)d minutes and try again.",
                max(1, math.ceil(limit.seconds / 60)),
            ),
            retry_after=limit.seconds,
        )


def forget_old_attempts(now: datetime | None = None) -> int:
    """Delete the throttle's rows (failed logins with the address they came from, counted
    registrations and mails) that no window looks at any more: the privacy notice
    promises failed logins are kept for a short time. Returns how many went."""
    longest = max(
        _throttle_window(),
        timedelta(seconds=current_app.config["FORUM_REGISTER_RATE_LIMIT"].seconds),
    )
    result = db.session.execute(
        delete(LoginAttempt).where(LoginAttempt.at < (now or utcnow()) - longest)
    )
    gone: int = result.rowcount or 0  # type: ignore[attr-defined]  # a DELETE's CursorResult
    db.session.commit()
    return gone


def _tell_owner(owner: User) -> None:
    """Mail `owner` that someone tried to register with their address: at most
    MAX_RESETS_PER_WINDOW such mails in the throttle window, as reset links, so nobody can
    flood a mailbox by registering with it again and again. The requester hears the same
    either way. Each mail is noted in the throttle's table (key "register:<id>"), counted
    under the person's lock, so parallel requests are counted one after another."""
    key = _register_key(owner)
    lock_person(owner.id)
    recent = db.session.scalar(
        select(func.count()).where(
            LoginAttempt.email == key, LoginAttempt.at > utcnow() - _throttle_window()
        )
    )
    if not recent or recent < MAX_RESETS_PER_WINDOW:
        db.session.add(LoginAttempt(email=key, address=key))
        _mail_account(owner, registered=False)
    db.session.commit()  # also when nothing is stored: the lock ends now


REGISTRATION_GRACE = timedelta(minutes=10)


def _sent_again(owner: User, password: str) -> bool:
    """Whether `owner`'s account was made within REGISTRATION_GRACE with `password`: the
    same form sent twice (a double click, a reload), not someone else trying the address.
    Checking the password takes as long as hashing it for a new account."""
    try:
        same = check_password_hash(owner.password_hash, password)
    except UnicodeEncodeError:
        same = False
    return same and owner.created_at > utcnow() - REGISTRATION_GRACE


def _mail_account(user: User, registered: bool) -> None:
    login = url_for_mail("auth.login")
    reset = url_for_mail("auth.forgot_password")
    with in_language_of(user):
        if registered:
            subject = _("Welcome to Dialogforum")
            body = _(
                "Hello %(name)s,\n\nYour account is ready. Log in here with your email "
                "address and the password you chose:\n%(login)s",
                name=user.display_name,
                login=login,
            )
        else:
            subject = _("Someone tried to register with your address")
            body = _(
                "Hello %(name)s,\n\nSomeone tried to register a new Dialogforum account with "
                "this address, which already has one. If it was you, log in here:\n%(login)s"
                "\n\nForgot your password? Choose a new one here:\n%(reset)s\n\n"
                "If it was not you, you need not do anything: no account was created.",
                name=user.display_name,
                login=login,
                reset=reset,
            )
    queue_mail(user.email, subject, body)


def create_user_with_role(
    email: str, name: str, password: str, role: str, department: str | None = None
) -> User:
    """Create an account with a role, from the command line (the first admin comes this way)."""
    if role == "official" and not " ".join((department or "").split()):
        raise Invalid(_("An official needs a department."), field="department")
    if role == "official":
        _department_name(department or "")  # refused before the account is made, not after
    user = register_user(email, name, password)
    _apply_role(user, role, department)
    audit.record(None, "role.granted", "user", user.id, f"{role} (command line)")
    db.session.commit()
    return user


def _department_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise Invalid(_("Enter a department name."), field="department")
    return name


def _department(name: str) -> Department:
    return department_named(_department_name(name))


def department_named(name: str) -> Department:
    """The department called `name` (whatever its case: SQLite's lower() folds ASCII only, so
    compared in Python), made when there is none. Made with INSERT ... ON CONFLICT DO
    NOTHING: two admins naming the same new department at once both get the one row (the
    second insert met the unique name and failed the request)."""
    wanted = name.casefold()
    found = next((d for d in departments() if d.name.casefold() == wanted), None)
    if found is not None:
        return found
    table: Any = Department.__table__
    db.session.execute(
        insert_on_conflict(table, db.session.get_bind().dialect.name)
        .values(name=name)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    made = db.session.scalar(select(Department).where(Department.name == name))
    assert made is not None
    return made


def _apply_role(user: User, role: str, department: str | None) -> None:
    if role == "admin":
        user.is_admin = True
    elif role == "moderator":
        user.is_moderator = True
    elif role == "official":
        user.department = _department(department or "")
        user.department_id = user.department.id
    elif role != "member":
        raise Invalid(_("Unknown role."), field="role")


def _throttle_window() -> timedelta:
    return timedelta(minutes=current_app.config["FORUM_LOGIN_WINDOW_MINUTES"])


def address_key(address: str | None) -> str:
    """The address as the throttle counts it: an IPv6 address by its /64, the block one
    household or machine is given (anyone holding one can use 2^64 addresses in it, which
    would otherwise each be a fresh address); anything else as it is."""
    address = (address or "unknown")[:64]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


def _too_many_attempts() -> RateLimited:
    return RateLimited(
        ngettext(
            "Too many failed attempts. Wait %(num)d minute and try again, or reset your password.",
            "Too many failed attempts. Wait %(num)d minutes and try again, or reset your password.",
            current_app.config["FORUM_LOGIN_WINDOW_MINUTES"],
        )
    )


def _reserve_attempt(key: str, address: str | None) -> LoginAttempt:
    """Record this attempt *before* the password is checked, then count: atomic throttling.

    `key` is what is guessed at (an account's email), `address` who guesses (the
    `address_key` of the client). Within FORUM_LOGIN_WINDOW_MINUTES, with `limit` =
    FORUM_LOGIN_MAX_FAILURES:

    * an address gets at most `limit` password checks, whatever accounts it tries;
    * an account that more than `limit` failures came to (from any addresses) is under
      attack: then an address gets one check on it and no more, until the window has
      passed or the password is reset. So guessing from many addresses is slowed to one
      guess per address, and the owner's right password from an address that has not
      failed on the account still gets through (strangers' failures cannot lock them out);
    * with `address` None (a logged-in person confirming their own password, where `key`
      is the person) only the key's own failures count: at most `limit` checks.

    A refused attempt is not recorded: it is no failure, and one request every few minutes
    cannot keep a lock on forever. The attempt is committed first and each count includes
    it, so of any number of parallel attempts from one address (or on one key without an
    address) at most `limit` get a password check: the last of them to count sees every
    other's row. A success forgets the account's attempts; a failure's record stays as the
    failure.
    """
    attempt = LoginAttempt(email=key, address=address or "")
    db.session.add(attempt)
    db.session.commit()
    recent = LoginAttempt.at > utcnow() - _throttle_window()
    limit = current_app.config["FORUM_LOGIN_MAX_FAILURES"]

    def attempts(*where: Any) -> int:
        return db.session.scalar(select(func.count()).where(recent, *where)) or 0

    if address is None:
        refused = attempts(LoginAttempt.email == key) > limit
    else:
        refused = attempts(LoginAttempt.address == address) > limit or (
            attempts(LoginAttempt.email == key) > limit
            and attempts(LoginAttempt.email == key, LoginAttempt.address == address) > 1
        )
    if refused:
        db.session.delete(attempt)
        db.session.commit()
        raise _too_many_attempts()
    return attempt


class Suspended(Invalid):
    """The right password for a suspended account (only then is the suspension told):
    `details["user_id"]` is whose, for the login page's appeal link."""


def reserve_form_attempt(address: str | None) -> LoginAttempt:
    """Count a post of an anonymous form that holds a secret (the appeal link's) with the
    login attempts of its address: the same limit, FORUM_LOGIN_MAX_FAILURES in
    FORUM_LOGIN_WINDOW_MINUTES, else RateLimited. A post that succeeds is forgotten
    (`forget_attempt`), as a successful login is."""
    address = address_key(address)
    return _reserve_attempt(f"form:{address}", address)


def forget_attempt(attempt: LoginAttempt) -> None:
    db.session.delete(attempt)
    db.session.commit()


@cache
def _dummy_hash(method: str) -> str:
    """A hash to check against when there is no account, so both cases take as long."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def authenticate(email: str, password: str, address: str) -> tuple[User, str]:
    """Check credentials; throttled per address and per account (`_reserve_attempt`)
    without revealing accounts. Returns the person and the password hash the password was
    checked against, for `open_session` to find unchanged.

    A successful login forgets the account's earlier failures (the address's
    failures for other accounts still count).
    """
    try:
        email = normalise_email(email)
    except Invalid:
        email = (email or "").strip().lower()[:254]
    _reserve_attempt(email, address_key(address))
    user = db.session.scalar(select(User).where(User.email == email))
    stored = user.password_hash if user else _dummy_hash(current_app.config["FORUM_PASSWORD_HASH"])
    try:
        correct = check_password_hash(stored, password or "")
    except UnicodeEncodeError:  # a lone surrogate cannot be any password
        correct = False
    if not correct or user is None:
        raise _wrong_credentials()
    _check_not_suspended(user)
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    db.session.commit()
    return user, stored


def _wrong_credentials() -> Invalid:
    return Invalid(_("Wrong email address or password."), field="password")


def _check_not_suspended(user: User) -> None:
    if user.is_suspended(utcnow()):
        raise Suspended(
            _(
                "This account is suspended until %(time)s.",
                time=local_datetime(user.suspended_until),
            ),
            user_id=user.id,
        )


# --- server-side sessions -------------------------------------------------------

TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often
# A remember-me token just replaced is still taken this long: another tab of the same
# browser, or a request whose answer a patchy network lost, may carry it.
ROTATION_GRACE = timedelta(minutes=5)


def _idle_limit() -> timedelta:
    return timedelta(minutes=current_app.config["FORUM_SESSION_IDLE_MINUTES"])


def _max_age() -> timedelta:
    return timedelta(days=current_app.config["FORUM_SESSION_MAX_DAYS"])


def session_is_live(row: UserSession, now: datetime) -> bool:
    """Not revoked, not past its absolute age, and (without remember-me) not idle too long."""
    if row.revoked_at is not None or row.created_at + _max_age() <= now:
        return False
    if row.remember_hash is not None and row.remember_expires_at is not None:
        return row.remember_expires_at > now
    return row.last_seen_at + _idle_limit() > now


def open_session(
    user: User, user_agent: str | None, remember: bool, password_hash: str | None = None
) -> tuple[UserSession, str | None]:
    """Record a new login; returns the row and, with remember-me, the token for the cookie.

    Under the person's lock, and only for an account still open. A login by password gives
    the hash `authenticate` checked (`password_hash`), and what that checked is checked again
    here: the password is still that one, and no suspension came since. A new password (a
    reset, a change), a closing or a suspension kept while the password was being checked
    ended every session there was then, and must not be followed by one more made with the
    old password. They take the same lock, so either this session is one they end, or it
    finds what they changed."""
    lock_person(user.id)
    db.session.refresh(user)
    try:
        if user.is_closed or (password_hash is not None and user.password_hash != password_hash):
            raise _wrong_credentials()
        if password_hash is not None:
            _check_not_suspended(user)  # (Suspended is an Invalid)
    except Invalid:
        db.session.rollback()  # the person's lock
        raise
    now = utcnow()
    row = UserSession(
        key=secrets.token_urlsafe(24),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        user_agent=(user_agent or "")[:200],
    )
    token = None
    if remember:
        token = _remember_token(row.key, 0)
        row.remember_hash = _token_hash(token)
        row.remember_expires_at = now + _max_age()
    db.session.add(row)
    db.session.commit()
    return row, token


@cache
def _session_user_statement() -> Any:
    """Built once per process (parameter `key`): building and keying the statement cost
    more than running it, on every request."""
    return (
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.key == bindparam("key", type_=String))
    )


def session_user(key: str | None, user_id: str | None) -> User | None:
    """The user of a live session (the cookie's user id must match), touching last_seen."""
    uid = whole_id(user_id)
    if not key or uid is None:
        return None
    # The session and its person in one query: this runs on every request and socket event.
    found = db.session.execute(_session_user_statement(), {"key": key}).first()
    now = utcnow()
    if found is None or found[0].user_id != uid:
        return None
    row, user = found
    if not session_is_live(row, now):
        if row.revoked_at is None:
            _revoke([row])  # expired: its sockets close too, like a logout's
        return None
    if user.is_suspended(now) or user.is_closed:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return user


def use_remember_token(
    value: str | None, rotate: bool
) -> tuple[User, UserSession, str | None] | None:
    """Log in from a remember-me cookie `<key>.<token>`; with `rotate`, the token to set.

    The token is replaced on every use. The one it replaced is still taken for
    `ROTATION_GRACE` and answered with the current one, so a browser restoring several
    tabs at once, or retrying a request whose answer was lost, keeps its login and ends up
    holding the current token. A replaced token used after that means a copy may be in
    someone else's hands (or an answer was lost and retried much later): the session ends
    for whoever holds either, and the ending is logged. Tokens are derived from the
    session and its generation (`_remember_token`), so two requests replacing the same
    token at once make the same new one.

    A socket cannot set a cookie, so it checks the token without replacing it.
    """
    key, _sep, token = (value or "").partition(".")
    if not key or not token or not token.isascii():
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.key == key))
    now = utcnow()
    if row is None or row.remember_hash is None:
        return None
    hashed = _token_hash(token)
    current = secrets.compare_digest(row.remember_hash, hashed)
    if not current:
        previous = row.remember_previous_hash
        was_previous = previous is not None and secrets.compare_digest(previous, hashed)
        rotated = row.remember_rotated_at
        if not (was_previous and rotated is not None and now - rotated <= ROTATION_GRACE):
            if (was_previous or _is_earlier_token(row, token)) and row.revoked_at is None:
                audit.record(None, "session.token_reused", "user", row.user_id)
                _revoke([row])
            return None  # anything else: knowing a session's key ends nothing
    if not session_is_live(row, now):
        if row.revoked_at is None:
            _revoke([row])  # expired: its sockets close too
        return None
    user = db.session.get(User, row.user_id)
    if user is None or user.is_suspended(now) or user.is_closed:
        return None
    new_token = None
    if rotate and not current:  # answered with the current token, made again
        again = _remember_token(row.key, row.remember_generation)
        if secrets.compare_digest(row.remember_hash, _token_hash(again)):
            new_token = again
    if rotate and new_token is None:  # or replaced (also when the secret key changed since)
        new_token = _replace_token(row, now)
    row.last_seen_at = now
    db.session.commit()
    return user, row, new_token


def _replace_token(row: UserSession, now: datetime) -> str:
    """The session's next token, stored only if nobody replaced the one read meanwhile
    (another process may have): either way the caller gets the next generation's token,
    which is the one the other request made, or the one just before the current."""
    generation = row.remember_generation + 1
    token = _remember_token(row.key, generation)
    db.session.execute(
        update(UserSession)
        .where(
            UserSession.id == row.id,
            UserSession.remember_generation == row.remember_generation,
            UserSession.revoked_at.is_(None),
        )
        .values(
            remember_generation=generation,
            remember_hash=_token_hash(token),
            remember_previous_hash=row.remember_hash,
            remember_rotated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return token


def _remember_token(key: str, generation: int) -> str:
    """Session `key`'s remember-me token at `generation`: `<generation>.<MAC>`, keyed by
    the app's secret (only its hash is stored), so an earlier token is recognised."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    mac = hmac.new(secret, f"forum-remember:{key}:{generation}".encode(), hashlib.sha256)
    return f"{generation}.{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"


def _is_earlier_token(row: UserSession, token: str) -> bool:
    """Whether `token` (ASCII) is one this session had before its current one."""
    generation, sep, _mac = token.partition(".")
    if not (sep and generation.isdigit() and len(generation) < 10):
        return False
    earlier = int(generation)
    return earlier < row.remember_generation and hmac.compare_digest(
        token.encode(), _remember_token(row.key, earlier).encode()
    )


def _revoke(rows: list[UserSession]) -> None:
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        row.remember_hash = None
    db.session.commit()
    from ..events import disconnect_session

    for row in rows:
        disconnect_session(row.key)


def _expired(now: datetime) -> Any:
    """The condition for a session not yet revoked that `session_is_live` finds expired:
    past the absolute age, or idle too long (without a remember-me token), or past its
    remember-me token's expiry."""
    remembered = UserSession.remember_hash.is_not(None) & UserSession.remember_expires_at.is_not(
        None
    )
    return UserSession.revoked_at.is_(None) & (
        (UserSession.created_at <= now - _max_age())
        | (remembered & (UserSession.remember_expires_at <= now))
        | (~remembered & (UserSession.last_seen_at <= now - _idle_limit()))
    )


def end_expired_sessions(now: datetime | None = None, batch: int = 500) -> int:
    """Revoke every session past its idle or absolute limit and close its sockets (the
    scheduler's tick, or `flask users end-expired-sessions` from cron): a browser that makes
    no further request would otherwise keep hearing, on an open socket, the rooms its
    session gave it. Returns how many ended."""
    now = now or utcnow()
    ended = 0
    while True:
        found = db.session.scalars(
            select(UserSession).where(_expired(now)).order_by(UserSession.id).limit(batch)
        ).all()
        rows = [row for row in found if not session_is_live(row, now)]
        if rows:
            _revoke(rows)
            ended += len(rows)
        if len(found) < batch or not rows:
            db.session.commit()
            return ended


def end_every_session(batch: int = 500) -> int:
    """Every session of everyone ends and its sockets close: after restoring a backup, which
    brings back the sessions ended since it was made (`flask users end-all-sessions`).
    Everyone logs in again. Returns how many ended."""
    ended = 0
    while rows := db.session.scalars(
        select(UserSession)
        .where(UserSession.revoked_at.is_(None))
        .order_by(UserSession.id)
        .limit(batch)
    ).all():
        _revoke(list(rows))  # commits each batch: a lock held briefly, never the whole table
        ended += len(rows)
    return ended


def _live_rows(user_id: int) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def revoke_session(key: str | None) -> None:
    """Log out one session: its cookie, remember-me token and sockets stop working."""
    if not key:
        return
    row = db.session.scalar(select(UserSession).where(UserSession.key == key))
    if row is not None and row.revoked_at is None:
        _revoke([row])


def revoke_remembered(value: str | None) -> None:
    """Log out the session a remember-me cookie `<key>.<token>` names, if the token is its own.

    Knowing a session's key is not enough to end it: only its token holder may.
    """
    key, _sep, token = (value or "").partition(".")
    if not key or not token:
        return
    row = db.session.scalar(select(UserSession).where(UserSession.key == key))
    if (
        row is not None
        and row.revoked_at is None
        and row.remember_hash is not None
        and secrets.compare_digest(row.remember_hash, _token_hash(token))
    ):
        _revoke([row])


def device_label(user_agent: str) -> str:
    """ "Firefox on Linux" from a User-Agent header (ua-parser's rules); a fallback otherwise."""
    from ua_parser import parse

    result = parse(user_agent or "")
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    if browser in (None, "Other"):
        browser = None
    if system in (None, "Other"):
        system = None
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")


def active_sessions(user: User) -> list[UserSession]:
    """The person's sessions that still work, most recently used first."""
    now = utcnow()
    return [row for row in _live_rows(user.id) if session_is_live(row, now)]


def end_session_by_id(user: User, session_id: int) -> UserSession:
    """End one of one's own sessions (from the settings page)."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFound(_("That session does not exist or has already ended."))
    _revoke([row])
    return row


def end_all_sessions(user: User, keep: str | None = None) -> None:
    """Every session, remember-me token and socket (but `keep`) ends: after a new password
    and a suspension. The API tokens stay (`log_out_everywhere` ends them too)."""
    _revoke([row for row in _live_rows(user.id) if row.key != keep])
    from ..events import disconnect_user

    if keep is None:
        disconnect_user(user.id)


def log_out_everywhere(user: User) -> None:
    """The settings page's "log out everywhere": every session ends (`end_all_sessions`)
    and every API token is revoked, so nothing made with the account keeps working."""
    revoke_all_tokens(user, user, "log out everywhere")
    end_all_sessions(user)  # one commit with the tokens (revoke_all_tokens)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_password_reset(email: str) -> None:
    """Mail a single-use reset link if the account exists; say nothing either way."""
    try:
        email = normalise_email(email)
    except Invalid:
        return
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        return
    # The person's row is locked before the count, so parallel requests are counted one
    # after another: each counted the others' links as not there yet, and eight at once
    # mailed five (a way to flood someone's mailbox).
    lock_person(user.id)
    recent = db.session.scalar(
        select(func.count()).where(
            PasswordReset.user_id == user.id,
            PasswordReset.created_at > utcnow() - _throttle_window(),
        )
    )
    if recent and recent >= MAX_RESETS_PER_WINDOW:
        db.session.commit()  # nothing to store: the lock ends now, not with the request
        return  # enough links are on their way; don't let anyone flood a mailbox
    token = secrets.token_urlsafe(32)
    minutes = current_app.config["FORUM_RESET_TOKEN_MINUTES"]
    db.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=_token_hash(token),
            expires_at=utcnow() + timedelta(minutes=minutes),
        )
    )
    link = url_for_mail("auth.reset_password", token=token)
    with in_language_of(user):
        subject = _("Reset your Dialogforum password")
        body = _(
            "Hello %(name)s,\n\nOpen this link within %(minutes)d minutes to choose a new "
            "password:\n%(link)s\n\nIf you did not ask for this, ignore this mail.",
            name=user.display_name,
            minutes=minutes,
            link=link,
        )
    queue_mail(user.email, subject, body, secret=True)
    db.session.commit()


def _invalid_link() -> NotFound:
    return NotFound(_("This reset link is invalid, used or expired. Ask for a new one."))


def _valid_reset(token: str) -> PasswordReset:
    token_hash = _token_hash(token or "")
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash))
    if reset is None or reset.used_at is not None or reset.expires_at < utcnow():
        raise _invalid_link()
    return reset


def check_reset_token(token: str) -> None:
    """Raise NotFound unless the token can still be used."""
    _valid_reset(token)


def _claim_reset(token: str) -> int:
    """Use the link up now, if it is still open and unexpired: whose it is, else NotFound.

    One statement checks and marks it, so of two requests with the same link (a leaked
    link racing its owner) only one sets a password: on PostgreSQL the second waits for
    the first's row, then finds it used; SQLite has one writer at a time. Read first and
    marked after, both found it unused and the second password replaced the first."""
    now = utcnow()
    user_id = db.session.scalar(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == _token_hash(token or ""),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at >= now,  # as _valid_reset: expired only once past
        )
        .values(used_at=now)
        .returning(PasswordReset.user_id)
        .execution_options(synchronize_session="fetch")
    )
    if user_id is None:
        raise _invalid_link()
    return user_id


def _use_up_resets(user: User) -> None:
    """Mark every open reset link of `user` used: a new password, however it was chosen,
    ends the links asked for before it (one may sit in a mailbox someone else reads)."""
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def reset_password(token: str, new_password: str) -> User:
    """Use a reset token once: set the password and end every other session.

    The account's failed logins are forgotten, so a locked-out owner can log in. A used
    or expired link is told before the password is judged, and a weak password leaves
    the link usable.
    """
    person_id = _valid_reset(token).user_id
    check_password_strength(new_password)
    # the person's row before the link's: the order a password change and a closing take
    # them (the person, then their reset links), so none of the three waits for another
    lock_person(person_id)
    user = db.session.get(User, _claim_reset(token))
    assert user is not None
    _replace_password(user, new_password, user, "password reset")
    return user


def set_password(user: User, new_password: str) -> None:
    """A new password chosen without the old one (an operator's `flask users set-password`):
    checked like the registration form's; every open reset link is used up, the failed
    logins forgotten, every session ends and every API token is revoked. It is logged, and
    the person is told by mail: whoever runs the command could otherwise take an account
    over without a trace."""
    check_password_strength(new_password)
    audit.record(None, "account.password_set", "user", user.id, "command line")
    with in_language_of(user):
        subject = _("Your Dialogforum password was set")
        body = _(
            "Hello %(name)s,\n\nThe password of your Dialogforum account was set by the "
            "service's operators, and you were logged out everywhere. If you did not ask "
            "for this, tell them. To choose a password of your own:\n%(reset)s",
            name=user.display_name,
            reset=url_for_mail("auth.forgot_password"),
        )
    queue_mail(user.email, subject, body)
    _replace_password(user, new_password, None, "password set without the old one")


def _replace_password(user: User, new_password: str, actor: User | None, why: str) -> None:
    """`set_password` after the password is checked. Whoever chose it may have taken the
    account over (the link was in their mailbox) or be shutting someone out of it, so
    nothing made with the old password goes on working: sessions end and the person's API
    tokens are revoked (audited, by `actor`, with `why`). The account's failed logins and
    the person's failed confirmations are forgotten, so a locked-out owner can log in."""
    _use_up_resets(user)
    user.password_hash = hash_password(new_password)
    db.session.execute(
        delete(LoginAttempt).where(LoginAttempt.email.in_([user.email, _confirm_key(user)]))
    )
    revoke_all_tokens(user, actor, why)  # takes the person's lock, held to the commit
    end_all_sessions(user)  # commits it all at once: no token or session made in between


def update_settings(
    user: User, display_name: str, locale: str | None, email_notifications: bool
) -> None:
    """Change display name, language (None: the browser's) and mail preference."""
    name = clean_display_name(display_name, user.display_name)
    if not _unchanged(name, user.display_name):
        check_not_imitating(name, user.id)
    if locale not in (None, "", "sv", "en"):
        raise Invalid(_("Unknown language."), field="locale")
    if name != user.display_name:
        # the name it replaces, in the audit log's "Name (user N)" form: closing the
        # account finds every name the person went by there (privacy.names_used)
        audit.record(user, "account.renamed", "user", user.id, audit.person(user))
    user.display_name = name
    user.locale = locale or None
    user.email_notifications = bool(email_notifications)
    db.session.commit()


def confirm_password(
    user: User, password: str | None, address: str | None, field: str = "password"
) -> None:
    """Check a logged-in person's password before a grave step (Invalid on `field` if wrong).

    Throttled on its own, per person: a wrong password counts against this person's own
    confirmations (FORUM_LOGIN_MAX_FAILURES in the window), so a borrowed session cannot
    be used to guess it; a right one is not a failure. Failed logins on the person's
    email, which anyone can cause, do not count here: a stranger cannot stop the owner
    changing their password or closing their account. (`address` is not needed: the
    session, not the address, says who is guessing.)
    """
    attempt = _reserve_attempt(_confirm_key(user), None)
    try:
        correct = check_password_hash(user.password_hash, password or "")
    except UnicodeEncodeError:
        correct = False
    if not correct:
        raise Invalid(_("The current password is wrong."), field=field)
    db.session.delete(attempt)
    db.session.commit()


def _confirm_key(user: User) -> str:
    """The throttle's key for `user`'s own password confirmations."""
    return f"confirm:{user.id}"


def _register_key(user: User) -> str:
    """The throttle's key for the mails telling `user` someone registered with their address."""
    return f"register:{user.id}"


def throttle_keys(user: User) -> list[str]:
    """Every key the throttle counts `user`'s rows under (closing the account removes them)."""
    return [user.email, _confirm_key(user), _register_key(user)]


def change_password(
    user: User, current_password: str, new_password: str, address: str | None = None
) -> str:
    """Change the password after checking the current one; other sessions and every
    reset link asked for before end. Returns the new hash, for the session that goes on
    (`open_session`: a reset kept in between ended this one too)."""
    confirm_password(user, current_password, address, field="current_password")
    check_password_strength(new_password, field="new_password")
    new_hash = hash_password(new_password)  # (slow: before the locks)
    # the person's row, then their reset links': the order a reset and a closing take them
    lock_person(user.id)  # a login checking the old password meanwhile (open_session)
    _use_up_resets(user)
    user.password_hash = new_hash
    end_all_sessions(user)  # commits the new password with the ended sessions
    return new_hash


def reading_changed(user: User) -> None:
    """What `user` may read changed by a change of their own (a forum's members or
    moderators, a role, a department), in the caller's transaction: the open-data API
    answers a `changed_since` from before it "walk the whole list again" (the changes
    since then cannot say what the person gained or lost)."""
    now = utcnow()
    db.session.execute(
        insert_on_conflict(ReadingChange, db.session.get_bind().dialect.name)
        .values(user_id=user.id, changed_at=now)
        .on_conflict_do_update(index_elements=["user_id"], set_={"changed_at": now})
    )
