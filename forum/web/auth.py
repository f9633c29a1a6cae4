"""Accounts: register, log in and out, password reset, settings.

Views parse a form, call `services.accounts`, and render or redirect; they never
commit. Every login (and every re-login after a password change) rotates the
session: the old session is cleared and a fresh random `nonce` names the
Socket.IO room of this browser session, so logging out can close its sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
)
from wtforms.validators import InputRequired, ValidationError

from ..config import REMEMBER_COOKIE
from ..errors import DomainError, Invalid, NotFound, RateLimited
from ..formatting import page_language
from ..models import User
from ..services import accounts, appeal_links
from ..services.transaction import discard_changes
from .navigation import safe_next

bp = Blueprint("auth", __name__)

# Session keys that survive a rotation: only the visitor's language choice.
KEPT_ON_ROTATION = ("lang",)


def _rotate_session(user: User) -> None:
    """Empty the session for `user`'s login, keeping only KEPT_ON_ROTATION. Not the language
    chosen as a visitor (or kept from the last person to log out in this browser): once
    logged in, the person's own setting decides, and "the language of my browser" means
    the browser's, not that choice."""
    kept = {key: session[key] for key in KEPT_ON_ROTATION if key in session}
    session.clear()
    if user.locale is not None:  # their language wins anyway; kept for the database's absence
        session.update(kept)


# --- helpers -----------------------------------------------------------------


def form_error(form: FlaskForm, err: DomainError) -> str | None:
    """Attach a service error to the field it names; return it if no field fits. What the
    refused call left in the session (and the locks it took) is discarded first."""
    discard_changes()
    field = getattr(form, err.field, None) if err.field else None
    if field is None:
        return err.message
    field.errors = [*field.errors, err.message] if isinstance(field.errors, list) else [err.message]
    return None


def checked_by(check: Callable[[str], object]) -> Callable[[FlaskForm, object], None]:
    """A WTForms validator running one of the service's pure checks, so every field's
    problem shows at once (the service checks again when it is called)."""

    def validator(_form: FlaskForm, field) -> None:  # noqa: ANN001 — WTForms signature
        try:
            check(field.data or "")
        except Invalid as err:
            raise ValidationError(err.message) from None

    return validator


def client_address() -> str:
    return request.remote_addr or "unknown"


def answers_get(path: str) -> bool:
    """Whether a GET of `path`, on this site, reaches a page: an action that takes only
    POST (joining, leaving, changing the password) would answer 405."""
    path = unquote(urlsplit(path).path)
    root = request.script_root
    if root and (path == root or path.startswith(f"{root}/")):
        path = path[len(root) :] or "/"
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:
        return True  # the path with a slash added, say
    except HTTPException:
        return False
    return True


def return_target(raw_next: str | None) -> str | None:
    """Where to go after logging in (or registering): `next` if it is a page on this site;
    if it is a POST-only action (a session expired before the button was pressed), the
    page the button was on, known from the Referer of the login page; else None (home)."""
    target = safe_next(raw_next)
    if target and answers_get(target):
        return target
    if request.method == "GET" and target:
        referrer = request.referrer or ""
        if referrer.startswith(request.host_url):
            parts = urlsplit(referrer)
            back = safe_next(f"{parts.path}?{parts.query}" if parts.query else parts.path)
            own = (url_for("auth.login"), url_for("auth.register"))
            if back and parts.path not in own and answers_get(back):
                return back
    return None


def _remember_cookie(value: str | None) -> None:
    """Set (or, with None, delete) the remember-me cookie on this request's response."""
    g.remember_cookie = value if value is not None else ""


def _is_socket(req) -> bool:  # noqa: ANN001 — a request or the socket's
    return getattr(req, "sid", None) is not None or req.path.startswith("/socket.io")


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the signed cookie names a server-side session that must be live.

    One that ended (idle, suspended, logged out everywhere) is forgotten by the cookie this
    answer sets: the browser is a visitor's from now on, as its pages already are, and its
    socket is not told again on every connect that a session ended (a socket cannot set a
    cookie, and keeps the login it came with to be told so: realtime.handlers)."""
    user = accounts.session_user(session.get("nonce"), user_id)
    if user is None and not _is_socket(request):
        for key in ("_user_id", "_fresh", "nonce"):
            session.pop(key, None)
        g.login_ended = True  # a form sent now gets its text back (forum.logged_out_page)
    return user


def load_user_from_remember_cookie(req) -> User | None:  # noqa: ANN001 — Flask-Login signature
    """No live session: a remember-me token restores one (rotated; a socket only checks it)."""
    value = req.cookies.get(REMEMBER_COOKIE)
    if not value:
        return None
    is_socket = _is_socket(req)
    found = accounts.use_remember_token(value, rotate=not is_socket)
    if found is None:
        if not is_socket:
            _remember_cookie(None)
            g.login_ended = True
        return None
    user, row, token = found
    if not is_socket:
        _rotate_session(user)
        _remember_cookie(f"{row.key}.{token}")
    # The login is the session's from now on. A page's cookie carries it; a socket keeps it
    # in its own session (Flask-SocketIO's, one per socket), so its later events are checked
    # against the session row, as a page's are, and not against the token it connected
    # with: another tab replaces that token, and five minutes on it would read as stolen.
    session["nonce"] = row.key
    session["_user_id"] = user.get_id()
    session["_fresh"] = False
    return user


@bp.after_app_request
def _write_remember_cookie(response):  # noqa: ANN001, ANN202
    value = g.pop("remember_cookie", None)
    if value is None:
        return response
    config = current_app.config
    if value:
        response.set_cookie(
            REMEMBER_COOKIE,
            value,
            max_age=int(timedelta(days=config["FORUM_SESSION_MAX_DAYS"]).total_seconds()),
            httponly=True,
            secure=bool(config.get("REMEMBER_COOKIE_SECURE")),
            samesite="Lax",
        )
    else:
        response.delete_cookie(REMEMBER_COOKIE, httponly=True, samesite="Lax")
    return response


def start_session(user: User, remember: bool, password_hash: str | None = None) -> None:
    """Log `user` in on a fresh server-side session: rotation, only the language choice
    survives. `password_hash`: the one the login checked (accounts.open_session refuses the
    session if it changed meanwhile; the browser's session is left as it was)."""
    row, token = accounts.open_session(
        user, request.headers.get("User-Agent"), remember, password_hash
    )
    _rotate_session(user)
    session["nonce"] = row.key
    login_user(user, remember=False)
    if token is not None:
        _remember_cookie(f"{row.key}.{token}")
    elif has_remember_cookie():
        _remember_cookie(None)  # an older remember-me cookie must not outlive this login


def end_session(locale: str | None = None) -> None:
    """Log out here: revoke the server-side session (its sockets close), forget the cookie.
    The pages after it stay in the person's language (`locale`: as it was before their
    account was closed, which forgets it)."""
    locale = locale or (current_user.locale if current_user.is_authenticated else None)
    accounts.revoke_session(session.get("nonce"))
    session.clear()
    logout_user()
    if has_remember_cookie():
        accounts.revoke_remembered(request.cookies.get(REMEMBER_COOKIE))
        _remember_cookie(None)
    if locale:
        session["lang"] = locale  # the pages after logging out stay in the user's language


def has_remember_cookie() -> bool:
    return REMEMBER_COOKIE in request.cookies


# --- forms -------------------------------------------------------------------


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email address"), validators=[InputRequired(_l("Enter your email address."))]
    )
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Enter your password."))])
    remember = BooleanField(_l("Remember me on this device"))
    next = HiddenField()


class RegisterForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            InputRequired(_l("Enter your email address.")),
            checked_by(accounts.normalise_email),
        ],
    )
    display_name = StringField(
        _l("Display name"),
        validators=[
            InputRequired(_l("Enter a display name.")),
            checked_by(accounts.clean_display_name),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            InputRequired(_l("Choose a password.")),
            checked_by(accounts.check_password_strength),
        ],
    )
    next = HiddenField()


class ForgotForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            InputRequired(_l("Enter your email address.")),
            checked_by(accounts.normalise_email),
        ],
    )


class ResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            InputRequired(_l("Choose a password.")),
            checked_by(accounts.check_password_strength),
        ],
    )


def _clean_own_display_name(value: str) -> str:
    """The settings form's name check: the name kept as it is passes, even one that would
    be refused as a new name (stored before a check was tightened)."""
    return accounts.clean_display_name(value, current_user.display_name)


class SettingsForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        validators=[
            InputRequired(_l("Enter a display name.")),
            checked_by(_clean_own_display_name),
        ],
    )
    locale = RadioField(
        _l("Language"),
        choices=[
            SelectChoice("sv", "Svenska"),
            SelectChoice("en", "English"),
            SelectChoice("", _l("The language of my browser")),
        ],
        default="",
    )
    email_notifications = BooleanField(_l("Send me notifications by email"))


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(_l("Enter your current password."))]
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            InputRequired(_l("Choose a new password.")),
            checked_by(lambda value: accounts.check_password_strength(value, "new_password")),
        ],
    )


class LogoutEverywhereForm(FlaskForm):
    """Only the CSRF token."""


class CloseAccountForm(FlaskForm):
    """The password that confirms closing one's account (checked by the service, which names
    this field when it is wrong)."""

    password = PasswordField(
        _l("Your password, to confirm"),
        id="close-password",
        # blank is no wrong guess: asked for, not counted against the person's attempts
        validators=[InputRequired(_l("Enter your password."))],
    )


# --- log in, register, log out -------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with email and password; throttled per account and per address."""
    form = LoginForm()
    target = return_target(form.next.data or request.args.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(target or url_for("main.home"))
        form.next.data = target or ""
        return render_template("auth/login.html", form=form, problem=None)
    status = 400
    problem = None
    suspended, appeal_url = False, None
    if form.validate_on_submit():
        try:
            user, checked = accounts.authenticate(
                form.email.data, form.password.data, client_address()
            )
            start_session(user, remember=bool(form.remember.data), password_hash=checked)
        except RateLimited as err:
            problem, status = err.message, err.status
        except accounts.Suspended as err:
            # the password was right: how to appeal is theirs to know
            problem, suspended = err.message, True
            suspension = appeal_links.current_suspension(int(str(err.details["user_id"])))
            appeal_url = appeal_links.link_path(suspension) if suspension else None
        except DomainError as err:
            problem = form_error(form, err)
        else:
            flash(_("You are logged in."), "success")
            return redirect(target or url_for("main.home"), 303)
    form.next.data = target or ""
    page = render_template(
        "auth/login.html",
        form=form,
        problem=problem,
        suspended=suspended,
        appeal_url=appeal_url,
    )
    response = current_app.make_response((page, status))
    if suspended:  # the page holds a link that appeals: not for the next person at this computer
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Register; the answer is the same whether the address already has an account
    (its owner is mailed instead), so the page never tells who is registered."""
    form = RegisterForm()
    target = return_target(form.next.data or request.args.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(target or url_for("main.home"))
        form.next.data = target or ""
        return render_template("auth/register.html", form=form, problem=None)
    problem = None
    status = 400
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            accounts.register_member(
                form.email.data,
                form.display_name.data,
                form.password.data,
                locale=page_language(),  # the page's language: the mails' too
                address=client_address(),
            )
        except DomainError as err:
            problem = form_error(form, err)
            if isinstance(err, RateLimited):
                status = err.status
                headers["Retry-After"] = str(err.details.get("retry_after", 60))
        else:
            flash(
                _(
                    "Thank you. We have sent a mail to %(email)s. Log in with that address "
                    "and the password you chose.",
                    email=form.email.data.strip(),
                ),
                "success",
            )
            return redirect(url_for("auth.login", next=target or url_for("forums.index")), 303)
    form.next.data = target or ""
    return render_template("auth/register.html", form=form, problem=problem), status, headers


@bp.post("/logout")
def logout():
    """Log out in this browser (POST with a CSRF token only)."""
    was_logged_in = current_user.is_authenticated
    message = _("You are logged out.")
    end_session()
    if was_logged_in:
        flash(message, "success")
    return redirect(url_for("main.home"), 303)


# --- settings ------------------------------------------------------------------


def _settings_form() -> SettingsForm:
    return SettingsForm(
        formdata=None,
        display_name=current_user.display_name,
        locale=current_user.locale or "",
        email_notifications=current_user.email_notifications,
    )


def settings_page(
    settings_form: SettingsForm | None = None,
    password_form: PasswordForm | None = None,
    problem: str | None = None,
    status: int = 200,
    close_form: CloseAccountForm | None = None,
):
    return render_template(
        "auth/settings.html",
        form=settings_form or _settings_form(),
        password_form=password_form or PasswordForm(formdata=None),
        everywhere_form=LogoutEverywhereForm(formdata=None),
        close_form=close_form or CloseAccountForm(formdata=None),
        sessions=accounts.active_sessions(current_user),
        current_session=session.get("nonce"),
        device_label=accounts.device_label,
        problem=problem,
    ), status


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """Display name, language and email notifications (the password has its own form)."""
    if request.method == "GET":
        return settings_page()
    form = SettingsForm()
    problem = None
    if form.validate_on_submit():
        try:
            accounts.update_settings(
                current_user,
                form.display_name.data,
                form.locale.data or None,
                bool(form.email_notifications.data),
            )
        except DomainError as err:
            problem = form_error(form, err)
        else:
            refresh()  # the confirmation in the language just chosen
            flash(_("Your settings are saved."), "success")
            return redirect(url_for("auth.settings"), 303)
    return settings_page(settings_form=form, problem=problem, status=400)


@bp.post("/settings/password")
@login_required
def change_password():
    """Change the password; other sessions end, this one continues on a fresh session."""
    form = PasswordForm()
    problem, status = None, 400
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            changed = accounts.change_password(
                user, form.current_password.data, form.new_password.data, client_address()
            )
        except DomainError as err:
            problem = form_error(form, err)
            if isinstance(err, RateLimited):
                status = err.status
        else:
            try:
                start_session(user, remember=has_remember_cookie(), password_hash=changed)
            except DomainError:
                # changed, but a reset (or a closing, a suspension) came before this device's
                # next session: it ended this one too, and it logs in again
                flash(_("Your password was changed, and then your login ended: log in again."))
                return redirect(url_for("auth.login"), 303)
            flash(_("Your password is changed. You were logged out everywhere else."), "success")
            return redirect(url_for("auth.settings"), 303)
    return settings_page(password_form=form, problem=problem, status=status)


@bp.post("/settings/logout-everywhere")
@login_required
def logout_everywhere():
    """End every session of this account (all browsers, remember-me cookies and sockets)
    and revoke its API tokens."""
    form = LogoutEverywhereForm()
    if not form.validate_on_submit():  # only fails on a bad CSRF token, normally caught earlier
        return settings_page(problem=_("The form had expired. Try again."), status=400)
    message = _("You are logged out on all your devices.")
    accounts.log_out_everywhere(current_user._get_current_object())
    end_session()
    flash(message, "success")
    return redirect(url_for("main.home"), 303)


@bp.post("/settings/sessions/<int:session_id>/end")
@login_required
def end_one_session(session_id: int):
    """End one of the person's sessions (a lost phone, a shared computer); its sockets close."""
    form = LogoutEverywhereForm()
    if not form.validate_on_submit():
        return settings_page(problem=_("The form had expired. Try again."), status=400)
    try:
        row = accounts.end_session_by_id(current_user._get_current_object(), session_id)
    except NotFound:
        abort(404)
    if row.key == session.get("nonce"):
        end_session()
        flash(_("You are logged out."), "success")
        return redirect(url_for("main.home"), 303)
    flash(_("The session is ended."), "success")
    return redirect(url_for("auth.settings"), 303)


# --- password reset ------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link; the answer is the same whether the account exists or not."""
    form = ForgotForm()
    if request.method == "GET":
        return render_template("auth/forgot.html", form=form, sent=False)
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form, sent=False), 400
    accounts.request_password_reset(form.email.data)
    return render_template("auth/forgot.html", form=form, sent=True, email=form.email.data)


def _no_referrer(response):
    """The token is in the address: don't pass it on in a Referer header."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password with a single-use link from the mail."""
    form = ResetForm()
    try:
        accounts.check_reset_token(token)
    except NotFound as err:
        page = render_template("auth/reset_invalid.html", message=err.message)
        return _no_referrer(current_app.make_response((page, 404)))
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                accounts.reset_password(token, form.password.data)
            except NotFound as err:
                page = render_template("auth/reset_invalid.html", message=err.message)
                return _no_referrer(current_app.make_response((page, 404)))
            except DomainError as err:
                form_error(form, err)
            else:
                flash(_("Your password is changed. Log in with the new password."), "success")
                return redirect(url_for("auth.login"), 303)
    page = render_template("auth/reset.html", form=form)
    return _no_referrer(current_app.make_response((page, status)))
