"""Accounts: registration, login with throttling, sessions, password reset, settings."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache
from importlib import resources

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import Conflict, Invalid, NotFound, RateLimited
from ..extensions import db
from ..formatting import local_datetime
from ..links import url_for_mail
from ..models import Department, LoginAttempt, PasswordReset, User
from ..models.base import utcnow
from ..text import slugify
from . import audit
from .mail import queue_mail

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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            _("The password must be at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), field=field
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(_("The password is too long."), field=field)
    if password.lower() in common_passwords() or len(set(password)) < 3:
        raise Invalid(_("That password is too common. Choose another."), field=field)


def clean_display_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise Invalid(_("Enter a display name."), field="display_name")
    if len(name) > MAX_DISPLAY_NAME:
        raise Invalid(
            _("The display name can be at most %(n)d characters.", n=MAX_DISPLAY_NAME),
            field="display_name",
        )
    return name


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


def register_user(email: str, display_name: str, password: str, locale: str | None = None) -> User:
    """Create a member account. Email is unique regardless of case."""
    email = normalise_email(email)
    name = clean_display_name(display_name)
    check_password_strength(password)
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict(_("An account with that email address already exists."), field="email")
    user = User(
        email=email,
        display_name=name,
        handle=_unique_handle(name),
        password_hash=hash_password(password),
        locale=locale if locale in ("sv", "en") else None,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            _("An account with that email address already exists."), field="email"
        ) from None
    return user


def create_user_with_role(
    email: str, name: str, password: str, role: str, department: str | None = None
) -> User:
    """Create an account with a role, from the command line (the first admin comes this way)."""
    if role == "official" and not department:
        raise Invalid(_("An official needs a department."), field="department")
    user = register_user(email, name, password)
    _apply_role(user, role, department)
    audit.record(None, "role.granted", "user", user.id, f"{role} (command line)")
    db.session.commit()
    return user


def _department(name: str) -> Department:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise Invalid(_("Enter a department name."), field="department")
    dept = db.session.scalar(select(Department).where(Department.name == name))
    if dept is None:
        dept = Department(name=name)
        db.session.add(dept)
        db.session.flush()
    return dept


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


def _check_throttle(email: str, address: str | None) -> None:
    since = utcnow() - _throttle_window()
    limit = current_app.config["FORUM_LOGIN_MAX_FAILURES"]
    checks = [(LoginAttempt.email, email)]
    if address is not None:
        checks.append((LoginAttempt.address, address))
    for column, value in checks:
        failures = db.session.scalar(
            select(func.count()).where(column == value, LoginAttempt.at > since)
        )
        if failures and failures >= limit:
            minutes = current_app.config["FORUM_LOGIN_WINDOW_MINUTES"]
            raise RateLimited(
                _(
                    "Too many failed attempts. Wait %(minutes)d minutes and try again, "
                    "or reset your password.",
                    minutes=minutes,
                )
            )


@cache
def _dummy_hash(method: str) -> str:
    """A hash to check against when there is no account, so both cases take as long."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def authenticate(email: str, password: str, address: str) -> User:
    """Check credentials; throttled per account and per address without revealing accounts.

    A successful login forgets the account's earlier failures (the address's
    failures for other accounts still count).
    """
    try:
        email = normalise_email(email)
    except Invalid:
        email = (email or "").strip().lower()[:254]
    address = (address or "unknown")[:64]
    _check_throttle(email, address)
    user = db.session.scalar(select(User).where(User.email == email))
    stored = user.password_hash if user else _dummy_hash(current_app.config["FORUM_PASSWORD_HASH"])
    if not check_password_hash(stored, password or "") or user is None:
        db.session.add(LoginAttempt(email=email, address=address))
        db.session.commit()
        raise Invalid(_("Wrong email address or password."), field="password")
    if user.is_suspended(utcnow()):
        raise Invalid(
            _(
                "This account is suspended until %(time)s.",
                time=local_datetime(user.suspended_until),
            )
        )
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    db.session.commit()
    return user


def load_user_from_session_id(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session version, so old sessions stop working."""
    user_id, _sep, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or user.is_suspended(utcnow()):
        return None
    return user


def end_all_sessions(user: User) -> None:
    """ "Log out everywhere": every cookie and socket of this user stops working."""
    user.session_version += 1
    db.session.commit()
    from ..events import disconnect_user

    disconnect_user(user.id)


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
    recent = db.session.scalar(
        select(func.count()).where(
            PasswordReset.user_id == user.id,
            PasswordReset.created_at > utcnow() - _throttle_window(),
        )
    )
    if recent and recent >= MAX_RESETS_PER_WINDOW:
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
    with force_locale(user.locale or "sv"):
        subject = _("Reset your Dialogforum password")
        body = _(
            "Hello %(name)s,\n\nOpen this link within %(minutes)d minutes to choose a new "
            "password:\n%(link)s\n\nIf you did not ask for this, ignore this mail.",
            name=user.display_name,
            minutes=minutes,
            link=link,
        )
    queue_mail(user.email, subject, body)
    db.session.commit()


def _valid_reset(token: str) -> PasswordReset:
    token_hash = _token_hash(token or "")
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash))
    if reset is None or reset.used_at is not None or reset.expires_at < utcnow():
        raise NotFound(_("This reset link is invalid, used or expired. Ask for a new one."))
    return reset


def check_reset_token(token: str) -> None:
    """Raise NotFound unless the token can still be used."""
    _valid_reset(token)


def reset_password(token: str, new_password: str) -> User:
    """Use a reset token once: set the password and end every other session.

    The account's failed logins are forgotten, so a locked-out owner can log in.
    """
    reset = _valid_reset(token)
    check_password_strength(new_password)
    user = db.session.get(User, reset.user_id)
    assert user is not None
    now = utcnow()
    reset.used_at = now
    for other in db.session.scalars(
        select(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    ):
        other.used_at = now
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == user.email))
    db.session.commit()
    from ..events import disconnect_user

    disconnect_user(user.id)
    return user


def update_settings(
    user: User, display_name: str, locale: str | None, email_notifications: bool
) -> None:
    """Change display name, language (None: the browser's) and mail preference."""
    name = clean_display_name(display_name)
    if locale not in (None, "", "sv", "en"):
        raise Invalid(_("Unknown language."), field="locale")
    user.display_name = name
    user.locale = locale or None
    user.email_notifications = bool(email_notifications)
    db.session.commit()


def change_password(
    user: User, current_password: str, new_password: str, address: str | None = None
) -> None:
    """Change the password after checking the current one; other sessions end.

    Wrong current passwords count as failed logins (per account and, when
    given, per address), so a borrowed session cannot be used to guess it.
    """
    _check_throttle(user.email, (address or "unknown")[:64] if address else None)
    if not check_password_hash(user.password_hash, current_password or ""):
        db.session.add(LoginAttempt(email=user.email, address=(address or "unknown")[:64]))
        db.session.commit()
        raise Invalid(_("The current password is wrong."), field="current_password")
    check_password_strength(new_password, field="new_password")
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    db.session.commit()
    from ..events import disconnect_user

    disconnect_user(user.id)
