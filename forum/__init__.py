"""Dialogforum: real-time dialogue and early consultation between a city and civil society."""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.routing import IntegerConverter, UnicodeConverter

from .config import ConfigError, load_config, parse_log_level, redis_client_options
from .errors import DomainError, busy_reason, database_busy, database_unreachable
from .extensions import babel, csrf, db, login_manager, migrate, socketio
from .formatting import LOCALES, page_language
from .ids import MAX_ID

ROOT = Path(__file__).resolve().parent.parent

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # and the import map's hash (content_security_policy)
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def content_security_policy() -> str:
    """CONTENT_SECURITY_POLICY with base.html's import map allowed by its hash (the one inline
    script: forum/web/static_files.py); as it is outside a request (Socket.IO's responses)."""
    from .web.static_files import script_source

    source = script_source()
    if source is None:
        return CONTENT_SECURITY_POLICY
    return _policy_with(source)


@functools.lru_cache(maxsize=8)
def _policy_with(source: str) -> str:
    return CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' {source}", 1)


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number beyond the id columns' range is a 404, not a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class TextConverter(UnicodeConverter):
    """`<slug>` (the default converter) in every route: no NUL, which PostgreSQL can neither
    hold nor compare. A path with one names no row, so it matches no route: a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        super().__init__(map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]")


def refuse_nul_in_query() -> None:
    """A query string with a NUL is no question any page can ask the database: 400. Every
    value of a repeated name counts, and the names too (a view that reads them all, or
    passes them on into a link, would otherwise meet one)."""
    if any("\x00" in name + value for name, value in request.args.items(multi=True)):
        from werkzeug.exceptions import BadRequest

        raise BadRequest()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from FORUM_* variables, overridden by `config` (tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_relative_config=True,
    )
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter
    app.before_request(refuse_nul_in_query)
    try:
        settings = load_config(Path(app.instance_path))
    except ConfigError as err:
        from .cli import config_error_for_command_line

        # under a `flask` command: the message and exit status 1, not a traceback
        raise config_error_for_command_line(err) from None
    app.config.from_mapping(settings)
    if config:
        app.config.update(config)
    configure_logging(app.config)
    register_extensions(app)
    register_blueprints(app)
    register_static_files(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_commands(app)
    register_realtime(app)
    register_search(app)
    register_api(app)
    register_serving(app)
    return app


LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"


def configure_logging(config: Any) -> None:
    """The app's own log lines (`forum.*`: mail written to the log without SMTP, the
    scheduler) reach stderr at FORUM_LOG_LEVEL (default INFO) when nobody configured
    logging: not when the `forum` or root logger already has a handler (gunicorn's
    config, an operator's dictConfig, pytest), and never a second handler."""
    forum_log = logging.getLogger("forum")
    if forum_log.handlers or logging.getLogger().handlers:
        return
    # an unknown level is refused (load_config has refused one from the environment)
    name = parse_log_level(config.get("FORUM_LOG_LEVEL") or os.environ.get("FORUM_LOG_LEVEL"))
    level = logging.getLevelNamesMapping()[name.upper()]
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    forum_log.addHandler(handler)
    forum_log.setLevel(level)


def select_locale() -> str:
    """The user's setting wins, then a visitor's choice, then Accept-Language, then Swedish."""
    if not has_request_context():
        return "sv"
    from sqlalchemy.exc import DBAPIError

    try:
        if current_user.is_authenticated and current_user.locale in LOCALES:
            return current_user.locale
    except DBAPIError:  # the database is away: the message saying so still needs a language
        pass
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or "sv"


def private_instance(instance: Path, database_url: str) -> None:
    """The instance folder (secret key, SQLite database) is the owner's alone: 0700,
    and a SQLite file is created 0600 before SQLite opens it (its -wal and -shm
    files take the same mode)."""
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        instance.chmod(0o700)
    except OSError:  # not ours to change (a shared mount): leave it
        pass
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        path = Path(database_url.removeprefix(prefix).split("?", 1)[0])
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    private_instance(Path(app.instance_path), app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    from .models.search import include_in_autogenerate

    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        include_object=include_in_autogenerate,
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    from .web.auth import load_user, load_user_from_remember_cookie

    login_manager.user_loader(load_user)
    login_manager.request_loader(load_user_from_remember_cookie)
    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    login_manager.unauthorized_handler(_unauthorized)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            from . import sqlite

            options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
            sqlite.configure(db.engine, options.get("connect_args", {}).get("timeout", 30))
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from .services.validation import check_model_text

    if not event.contains(Session, "before_flush", check_model_text):
        event.listen(Session, "before_flush", check_model_text)


def _unauthorized() -> Any:
    """Flask-Login's answer to a visitor on a page that needs a login: the login page, then
    back (its own default); a form sent after the login ended gives back what was written."""
    from flask_login.utils import login_url

    page = logged_out_page()
    if page is not None:
        return page
    flash(str(login_manager.login_message), login_manager.login_message_category)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def register_blueprints(app: Flask) -> None:
    """Attach the HTML areas."""
    from .web import admin, auth, consultations, forums, main, organisations

    for module in (main, auth, organisations, admin, forums, consultations):
        app.register_blueprint(module.bp)
    from .web import moderation

    app.register_blueprint(moderation.bp)
    from .web import follow_up

    app.register_blueprint(follow_up.bp)
    from .web import privacy, search, tokens

    app.register_blueprint(search.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(privacy.bp)
    from .web import documents, notification_settings

    app.register_blueprint(documents.bp)
    app.register_blueprint(notification_settings.bp)


def register_static_files(app: Flask) -> None:
    """Static addresses with their content's version (`?v=`), cached a year when current."""
    from .web import static_files

    static_files.register(app)
    app.jinja_env.globals["import_map"] = static_files.import_map_element


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"
    )


def json_error(code: str, message: str, details: dict | None = None) -> Response:
    """An error as JSON: the open-data API's one shape (its OpenAPI document says so),
    elsewhere the Socket.IO acknowledgement's shape with `ok: false`."""
    body: dict[str, Any] = {"error": {"code": code, "message": message, **(details or {})}}
    if not request.path.startswith("/api/"):
        body = {"ok": False, **body}
    return jsonify(body)


GIVE_BACK = (403, 404, 409, 423)  # refusals of a form whose text a page gives back


def register_error_handlers(app: Flask) -> None:
    """Domain errors and HTTP errors become a page or a JSON body, never a stack trace."""

    def error_response(status: int, code: str, message: str, details: dict | None = None):
        if wants_json():
            return json_error(code, message, details), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(DomainError)
    def on_domain_error(err: DomainError):
        db.session.rollback()
        # A form refused where its view does not show it again (sent after its login
        # ended, to a thread moved out of reach, for a message hidden meanwhile): what was
        # written comes back with the reason, not lost behind an error page.
        if err.status == 401:
            page = logged_out_page()
        else:
            page = given_back_page(err.message, err.status) if err.status in GIVE_BACK else None
        if page is not None:
            return page
        details = {"field": err.field} if err.field else None
        # a response object for the HTML page too (render_template gives a str), so that a
        # RateLimited page says when to come back as the JSON answer does
        response = app.make_response(error_response(err.status, err.code, err.message, details))
        retry = err.details.get("retry_after")
        if retry is not None:
            response.headers["Retry-After"] = str(retry)
        return response

    @app.errorhandler(CSRFError)
    def on_csrf_error(err: CSRFError):
        """A form that expired (logged out and in again in another tab, a page left open
        for days) did nothing; its page shows again what was typed, to copy and send anew.
        (The consultation forms check their token themselves and show the form again.)"""
        db.session.rollback()
        from flask_babel import gettext

        message = gettext("The form had expired or was not sent from this site. Try again.")
        typed = typed_texts(request.form) if request.method == "POST" else []
        if wants_json() or not typed:
            return error_response(400, "invalid", message)
        page = render_template(
            "form_expired.html", message=message, typed=typed, back=same_site_referrer()
        )
        return page, 400

    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def on_http_error(err: HTTPException):
        from flask_babel import gettext

        status = err.code or 500
        code = {401: "auth_required", 403: "forbidden", 404: "not_found", 429: "rate_limited"}
        explained = {
            400: gettext("The request could not be understood."),
            401: gettext("You need to log in first."),
            403: gettext("You may not do that."),
            404: gettext("There is no page at this address."),
            405: gettext("That is not possible at this address."),
            413: gettext("What you sent is too large."),
            422: gettext("The input is not valid."),
            429: gettext("Too many attempts. Wait a moment and try again."),
        }
        allowed = getattr(err, "valid_methods", None)
        if status == 405 and not _path_exists(allowed or ()):
            status = 404  # no rule takes this path by any method (an id out of range)
        details = None
        if status == 422:
            details = _invalid_field(err)
        response = app.make_response(
            error_response(
                status,
                code.get(status, "invalid"),
                explained.get(status, err.description or ""),
                details,
            )
        )
        if status == 405 and allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def on_database_error(err: Exception):
        """A database that does not answer, or is too busy to take the request in time (its
        lock held, every connection in use), is a 503 page, rendered without touching it."""
        try:
            db.session.rollback()
        except DBAPIError:
            pass
        if database_busy(err):
            app.logger.warning("database busy: %s", busy_reason(err))
            return unavailable_response(busy=True)
        if not database_unreachable(err):
            return on_unexpected(err)
        app.logger.warning("database unavailable: %s", type(getattr(err, "orig", err)).__name__)
        return unavailable_response()

    @app.errorhandler(Exception)
    def on_unexpected(err: Exception):
        db.session.rollback()
        try:  # the error page's language and header ask who is reading
            _ = current_user.is_authenticated
        except Exception:  # noqa: BLE001 — finding that out was the fault: answer as to a visitor
            db.session.rollback()
            login_manager._update_request_context_with_user()  # noqa: SLF001 — Flask-Login's own
        from flask_babel import gettext

        from .errors import is_out_of_range

        if is_out_of_range(err):  # an id no row can have: the same as a missing one
            return error_response(404, "not_found", gettext("There is no page at this address."))
        who = current_user.get_id() if current_user.is_authenticated else "-"
        app.logger.exception("unhandled error in %s (user %s)", request_for_log(), who)
        return error_response(500, "internal", gettext("Something went wrong on our side."))


# a path part in a route whose value is a capability (a reset, unsubscribe or appeal token)
_ROUTE_PART = re.compile(r"<(?:[^:>]+:)?(\w+)>")


def request_for_log() -> str:
    """This request's method and path for a log line, without what could let a reader of
    the log in: a path part named like a secret (`<token>`) is shown as its name, and the
    query string by its parameters' names only (a value may be a token, or a search)."""
    path = request.path
    rule, args = request.url_rule, request.view_args or {}
    if rule is not None and any(_SECRET_FIELD.search(name) for name in args):

        def part(match: re.Match[str]) -> str:
            name = match.group(1)
            secret = _SECRET_FIELD.search(name) or name not in args
            return f"<{name}>" if secret else str(args[name])

        path = _ROUTE_PART.sub(part, rule.rule)
    names = sorted(set(request.args))
    query = "?" + "&".join(f"{name}=…" for name in names) if names else ""
    from .services.validation import one_line

    return one_line(f"{request.method} {path}{query}")[:500]  # what a client sent: one line


# Form fields that are not what a person wrote: tokens, ids, choices; and never a password.
_TECHNICAL_VALUE = re.compile(r"[\w.:/-]*")
_SECRET_FIELD = re.compile(r"password|token|secret", re.IGNORECASE)


def typed_texts(form: Any) -> list[str]:
    """The texts a refused form carried that someone wrote (more than one word, or not a
    token, id or choice), in the form's order, each once."""
    found: list[str] = []
    for name, value in form.items(multi=True):
        text = value.strip()
        if _SECRET_FIELD.search(name) or not text or _TECHNICAL_VALUE.fullmatch(text):
            continue
        if text not in found:
            found.append(text)
    return found[:20]


def logged_out_page() -> Any:
    """A form sent after its login ended (idle too long, logged out on another device): it
    did nothing, and would otherwise go to the login page or a 401 page with what was
    written lost. This page says so and gives the text back, with a link to log in again
    and return to the form. None when there is nothing written to give back."""
    from flask_babel import gettext

    if not g.get("login_ended"):
        return None
    message = gettext("Your login ended before this was sent: log in again.")
    return given_back_page(message, 401, login=True)


def given_back_page(message: str, status: int, *, login: bool = False) -> Any:
    """A refused form's text, given back on a page of its own with the reason (and with
    `login`, a link to log in and return to the form), when the view did not show the form
    again itself; None when it is no form post or nothing was written in it."""
    if request.method != "POST" or wants_json():
        return None
    typed = typed_texts(request.form)
    if not typed:
        return None
    back = same_site_referrer()
    again = back[len(request.host_url) - 1 :] if back else request.path
    page = render_template(
        "form_expired.html",
        message=message,
        typed=typed,
        back=back,
        login=url_for("auth.login", next=again) if login else None,
    )
    # what the person wrote: never kept by a cache (the login that would mark it so may
    # be the one that just ended)
    return page, status, {"Cache-Control": "private, no-store"}


def same_site_referrer() -> str | None:
    """The page the form was on, when it is on this site (else None)."""
    referrer = request.referrer or ""
    root = request.host_url
    return referrer if referrer.startswith(root) else None


def _path_exists(methods: Any) -> bool:
    """Whether a rule takes this request's path by one of `methods`. Werkzeug answers 405
    when a rule's pattern matches for another method even if its converter then refuses
    the value (an id beyond the columns' range): that path is a 404 by every method."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in methods:
        try:
            adapter.match(method=method)
        except RequestRedirect:
            return True  # the path with a slash added, say
        except HTTPException:
            continue
        return True
    return False


def security_headers(app: Flask) -> list[tuple[str, str]]:
    """The headers every response carries, pages and Socket.IO alike."""
    headers = [
        ("Content-Security-Policy", content_security_policy()),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]
    if app.config["SESSION_COOKIE_SECURE"]:
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


def unavailable_response(busy: bool = False):
    """503 without the database: no user, no notification count, the language from the request.
    `busy`: it is there, but another writer held it for longer than a request waits."""
    from flask_babel import force_locale, gettext

    locale = request.accept_languages.best_match(LOCALES) or "sv"
    with force_locale(locale):
        message = (
            gettext("The site is busy right now. Try again in a minute.")
            if busy
            else gettext("The database cannot be reached right now. Try again in a minute.")
        )
        if wants_json():
            response = json_error("unavailable", message)
        else:
            response = current_app.make_response(
                render_template("unavailable.html", lang=locale, message=message)
            )
    response.status_code = 503
    response.headers["Retry-After"] = "10"
    return response


def _invalid_field(err: Exception) -> dict[str, str] | None:
    """The first field a request-parsing error (webargs, status 422) names."""
    messages = getattr(err, "data", {}).get("messages") if hasattr(err, "data") else None
    path: list[str] = []
    node = messages
    while isinstance(node, dict) and node:
        key = next(iter(node))
        if key not in ("json", "query", "view_args", "form", "headers"):
            path.append(str(key))
        node = node[key]
    return {"field": ".".join(path)} if path else None


def register_security_headers(app: Flask) -> None:
    """CSP without inline script, nosniff, no framing, a strict referrer policy; and no
    caching of what a logged-in person is answered."""

    @app.after_request
    def add_headers(response):
        for name, value in security_headers(app):
            response.headers.setdefault(name, value)
        return response

    @app.after_request
    def keep_private_answers_out_of_caches(response):
        """An answer to a browser that carries a login is `private, no-store`: on a shared
        computer, the back button or the cache would show the next person the last one's
        notifications, settings or invite-only threads. An answer that chose its own caching
        (static files, documents) keeps it; a visitor's pages stay cacheable."""
        if "Cache-Control" not in response.headers and _carries_login():
            response.headers["Cache-Control"] = "private, no-store"
        return response


def _carries_login() -> bool:
    """Whether this request comes with a login (a session naming a person, or a remember-me
    cookie), judged without loading the person: that may fail, or cost a query, here."""
    from .config import REMEMBER_COOKIE

    return "_user_id" in session or REMEMBER_COOKIE in request.cookies


def register_template_helpers(app: Flask) -> None:
    """Filters for dates in Europe/Stockholm and the current locale in templates."""
    from . import formatting
    from .services.notifications import describe

    app.jinja_env.add_extension("jinja2.ext.do")
    formatting.install_template_gettext(app.jinja_env)
    app.jinja_env.filters["localtime"] = formatting.local_datetime
    app.jinja_env.filters["localiso"] = formatting.local_from_iso
    app.jinja_env.filters["isotime"] = formatting.iso_utc
    app.jinja_env.globals["locales"] = LOCALES
    app.jinja_env.globals["describe"] = describe
    from .labels import REACTION_NAMES, audit_label, audit_reason, enum_label, target_label

    app.jinja_env.globals["audit_label"] = audit_label
    app.jinja_env.globals["audit_reason"] = audit_reason
    app.jinja_env.globals["enum_label"] = enum_label
    app.jinja_env.globals["target_label"] = target_label
    app.jinja_env.globals["reaction_names"] = REACTION_NAMES
    from .web.message_view import MessageRenderer, message_shared

    app.jinja_env.globals["message_shared"] = message_shared
    app.jinja_env.globals["message_renderer"] = MessageRenderer
    from .web.fragments import fragment

    app.jinja_env.globals["fragment"] = fragment
    from .web.forms import shows_refusal

    app.jinja_env.globals["shows_refusal"] = shows_refusal
    app.jinja_env.filters["decimal"] = formatting.decimal
    app.jinja_env.filters["percent"] = formatting.percent
    from .text import language_attributes, text_attributes

    app.jinja_env.filters["text_attrs"] = text_attributes
    app.jinja_env.filters["lang_attrs"] = language_attributes

    @app.context_processor
    def inject() -> dict[str, Any]:
        from . import policy

        def moderation_waiting() -> int:
            """Flags and appeals waiting for the current moderator (the header's count)."""
            from .queries.moderation import waiting_count

            return waiting_count(current_user) if current_user.is_authenticated else 0

        def header_facts() -> Any:
            """The header's unread count and whether the reader moderates a forum (1 query)."""
            from .queries.moderation import header_facts

            return header_facts(current_user)

        return {
            "policy": policy,
            "lang": page_language(),
            "moderation_waiting": moderation_waiting,
            "header_facts": header_facts,
        }


def register_commands(app: Flask) -> None:
    """The `flask --app forum ...` commands."""
    from .cli import register

    register(app)


def register_search(app: Flask) -> None:
    """Keep the search index current in every writing transaction."""
    from .services import search_index

    search_index.register()


def register_api(app: Flask) -> None:
    """The open-data JSON API under /api/v1/ with its OpenAPI description."""
    from .api import init_api

    init_api(app)


def register_realtime(app: Flask) -> None:
    """Socket.IO in the configured async mode (never eventlet), Redis as message queue when set."""
    from . import events
    from .config import socket_origins
    from .message_queue import BoundedRedisManager
    from .realtime import handlers, presence

    # None: engine.io allows the app's own origin only; extra origins come on top of it,
    # each as a browser's Origin header spells it (engine.io compares exact strings)
    extra = app.config["FORUM_ALLOWED_ORIGINS"]
    origins: Any = socket_origins(app.config["FORUM_BASE_URL"], extra) if extra else None
    # The SocketIO object is process-wide: forget a queue an earlier app configured.
    socketio.server_options.pop("client_manager", None)
    socketio.server_options.pop("channel", None)
    url = app.config["FORUM_REDIS_URL"]
    channel = events.socketio_channel(app.config["FORUM_REDIS_PREFIX"])
    queue: dict[str, Any] = {"message_queue": url, "channel": channel}
    if url:  # redis:// or rediss:// (forum/config.py refuses anything else, so never Kombu)
        # publishing bounded by FORUM_REDIS_TIMEOUT, listening blocking (forum/message_queue.py)
        manager = BoundedRedisManager(url, channel, app.config["FORUM_REDIS_TIMEOUT"])
        queue = {"message_queue": url, "client_manager": manager}
    socketio.init_app(
        app,
        async_mode=app.config["FORUM_ASYNC_MODE"],
        **queue,
        cors_allowed_origins=origins,
        logger=False,
        engineio_logger=False,
    )
    events.register_publishing()
    handlers.register()
    presence.configure(
        app.config["FORUM_REDIS_URL"],
        app.config["FORUM_PRESENCE_TTL"],
        str(app.config.get("FORUM_REDIS_PREFIX") or "forum"),
        redis_client_options(app.config),
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def register_serving(app: Flask) -> None:
    """ProxyFix for the configured proxies only, and security headers on Socket.IO responses."""
    from .serving import wrap_wsgi
    from .web import health

    app.register_blueprint(health.bp)
    app.wsgi_app = wrap_wsgi(  # type: ignore[method-assign,assignment]
        app.wsgi_app, app.config["FORUM_PROXY_COUNT"], lambda: security_headers(app)
    )
