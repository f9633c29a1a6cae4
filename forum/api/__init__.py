"""The open-data JSON API under /api/v1/: read-only public data, tokens for more.

Built with flask-smorest: it fits the app factory as an ordinary extension
(`Api.init_app`) on our plain Flask app, and generates the OpenAPI 3.1 document
from the marshmallow schemas in `schemas.py` (APIFlask would replace the Flask
class itself). Its own error handlers are not installed: errors keep the API's
one shape, `{"error": {"code", "message", "field"?}}`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from flask_smorest.spec import openapi_cli

from ..extensions import csrf
from . import schemas

API_PREFIX = "/api/v1"


class OpenDataApi(Api):
    """flask-smorest's Api without its app-wide error handlers (the app has its own), and
    with its OpenAPI document made when it is first read rather than when the app is made:
    describing every view was about two fifths of making an app, and the document's standard
    parts (a response for each of the sixty HTTP statuses) a third of what was left. Most
    processes (and every test's app) never serve the document."""

    ERROR_SCHEMA = schemas.Error

    def __init__(self) -> None:
        self._undocumented: list[Callable[[], None]] = []
        # re-entered by the thread making the document (flask-smorest reads `spec` while it
        # makes it); other threads wait until it is whole
        self._documenting = threading.RLock()
        self._describing = False
        self._spec: Any = None
        super().__init__()

    @property  # type: ignore[override]
    def spec(self) -> Any:
        """The APISpec, made, with every registered blueprint's views described in it."""
        if self._undocumented:
            with self._documenting:
                while self._undocumented and not self._describing:
                    self._describing = True
                    try:
                        self._undocumented[0]()
                    finally:
                        self._describing = False
                    self._undocumented.pop(0)  # taken off once done
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value

    def _init_spec(self, **options: Any) -> None:
        """flask-smorest's, deferred to the document's first reading (before any view is
        described in it); only its `flask openapi` commands are added at once."""
        self._app.cli.add_command(openapi_cli)
        self._undocumented.insert(0, partial(super()._init_spec, **options))

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """What Api.register_blueprint does, with the views described on first reading."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)

        def describe() -> None:
            blp.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
            self._spec.tag({"name": name, "description": blp.description})

        self._undocumented.append(describe)

    def _register_error_handlers(self) -> None:
        return None


def rate_limit_key() -> str:
    """Per token when a valid one is sent, else per address: a made-up or revoked token
    counts against its address (and is then refused), so inventing tokens buys nothing."""
    from .views import valid_token

    token = valid_token()
    if token is not None:
        return f"token:{token.id}"
    return "addr:" + (get_remote_address() or "unknown")


def rate_limit_value() -> str:
    from .views import valid_token

    if valid_token() is not None:
        return str(current_app.config["FORUM_API_TOKEN_RATE_LIMIT"])
    return str(current_app.config["FORUM_API_RATE_LIMIT"])


RATE_LIMIT_SCOPE = "api-v1"


def init_api(app: Flask) -> None:
    """Attach the API blueprint, its OpenAPI document, the limiter, CORS and ETags."""
    app.config.setdefault("API_TITLE", "Dialogforum open data")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("FORUM_API_RATE_LIMIT", "120 per minute")
    app.config.setdefault("FORUM_API_TOKEN_RATE_LIMIT", "600 per minute")
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("FORUM_REDIS_URL") or "memory://")
    # The installation's Redis namespace, as everything else it keeps there: two sites on
    # one Redis count their API requests apart.
    app.config.setdefault(
        "RATELIMIT_KEY_PREFIX", f"{app.config.get('FORUM_REDIS_PREFIX', 'forum')}:api"
    )
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": (
                    "Read-only open data from Dialogforum: the agreement's commitments and "
                    "principles, public forums, threads and messages, consultation rounds "
                    "with their questions, published responses and feedback, organisations, "
                    "follow-up actions and the yearly indicators. Lists are paged by id: "
                    "follow `next`. To keep a copy up to date, do not remember the highest id "
                    "(a round drafted earlier is opened later, and items you have change): "
                    "the consultations and actions lists take `changed_since` (ISO 8601 with "
                    "a zone) and give only the items whose public state changed at or after "
                    "it, each with its `changed_at`, still paged by id; every answer's "
                    "`as_of` is the `changed_since` to send once you have reached the last "
                    "page. It lags by a few minutes so that no change being saved meanwhile "
                    "is missed: some come twice, so take each item as its new state by id. "
                    "An action a moderator hid is in no answer (its address is a 404); "
                    "with `changed_since`, a page of actions names in `removed` the ids of "
                    "those you could read and no longer can since then, to delete. "
                    "After a change of what the token's owner may read (added to or removed "
                    "from an invite-only forum or its moderators, a role, a department), "
                    "those lists answer a `changed_since` from before it 410 `resync`: walk "
                    "the whole list again, without it. "
                    "Times are ISO 8601 in UTC. A personal access token "
                    "(Authorization: Bearer ...) reads what its owner may read and, with the "
                    "`respond` scope, saves its organisation's consultation response. "
                    "Send each answer's `digest` (from GET .../responses/own) back as its "
                    "`base`: an answer someone else changed meanwhile is then a 409 "
                    "`conflict` and nothing is saved. An answer without a base is taken as "
                    "written on an empty answer, so it never overwrites a colleague's text. "
                    "A submit files the whole draft: send the `draft` digest you read with "
                    "it, and a draft changed since is a 409 `draft_changed`."
                ),
                "license": {"name": "CC0-1.0", "identifier": "CC0-1.0"},
            },
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {
                    "token": {"type": "http", "scheme": "bearer", "bearerFormat": "dfp_..."}
                }
            },
        },
    )
    api = OpenDataApi()
    api.init_app(app)
    from . import views

    csrf.exempt(views.bp)  # no cookies: the API authenticates by bearer token only
    # One limiter per app: Flask-Limiter keeps its storage and key prefix on the limiter,
    # so a module-wide one would count every app in the process with the last one's.
    limiter = Limiter(key_func=rate_limit_key, default_limits=[], headers_enabled=True)
    limiter.init_app(app)
    # One budget per address (or valid token) over the whole API, not one per endpoint.
    limiter.shared_limit(rate_limit_value, scope=RATE_LIMIT_SCOPE, key_func=rate_limit_key)(
        views.bp
    )
    api.register_blueprint(views.bp)
    # flask-smorest's own blueprint (registered already): its hook in the app's table, so
    # no other request pays for the check
    app.before_request_funcs.setdefault("api-docs", []).append(_refuse_invalid_tokens)
    from . import reference

    app.register_blueprint(reference.bp)
    app.after_request(_api_headers)


def _refuse_invalid_tokens() -> None:
    """The OpenAPI document refuses a token that is not valid, as every endpoint of the API
    does: a script with a mistyped or revoked token learns it at its first request,
    whichever that is."""
    from .views import current_token

    current_token()


def _api_headers(response: Response) -> Response:
    """CORS for reads, and an ETag with If-None-Match answered by 304 (for GET and HEAD:
    a HEAD is answered with the headers its GET would have, the ETag too). An answer to a
    valid token is `private, no-cache`: it may hold what only the token's owner may read
    (an invite-only forum), which no shared cache may keep; its ETag still saves the body.
    A visitor's answers are the same for everyone and stay cacheable."""
    if not request.path.startswith(API_PREFIX + "/") or request.path.startswith(
        API_PREFIX + "/reference"
    ):
        return response
    from .views import valid_token

    if valid_token() is not None:
        response.headers["Cache-Control"] = "private, no-cache"
    if request.method in ("GET", "HEAD", "OPTIONS"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, If-None-Match"
        response.headers["Access-Control-Expose-Headers"] = (
            "ETag, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
        )
        response.headers["Vary"] = "Authorization"
    if request.method in ("GET", "HEAD") and response.status_code == 200 and response.is_json:
        response.add_etag()
        response.make_conditional(request)
    return response


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return {"error": body}
