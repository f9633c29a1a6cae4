"""Bad input never crashes a route: every rule of the URL map (but `static`, which
tests/test_static_versions.py covers), by each of its methods, as a visitor and as each of
the demo's people, with real, missing and out-of-range URL values, junk query strings, junk
forms and uploads, and for the API junk tokens and bodies. No answer may be a 500 (a 503
only where it is documented: /healthz); a 4xx from /api/ has a JSON error body. Every
failure is collected and the test reports them all at once, each with the request that
caused it.

The world is the demo (forum.demo.seed_demo) plus what it lacks for a route to see a real
row: an API token, a personal export, a suspension's appeal link, an unsubscribe link and a
password reset link of the person, and an organisation waiting to be verified. The test is
split by role, so pytest-xdist can spread it.

A form is first read from the page that shows it (as the role sees it), sent as it is, and
then sent again with one field at a time replaced by junk (each role a different junk per
field); besides, every name the code reads is sent at once with junk. A query of all names
with one junk value that a page refuses is split in halves until the refused names stand
alone, so one name's refusal cannot hide another's crash (forms are not split: the one field
at a time above does that for the fields a page shows).

Run time: each role sends a quarter of the junk values (the roles take turns, and each
role's "mixed" request gives every name one of all the values); FORUM_FUZZ_FULL=1 sends all
of them as every role, several times as long."""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select
from support import Auth, Factory
from werkzeug.exceptions import HTTPException

from forum.ids import MAX_ID

ROOT = Path(__file__).resolve().parent.parent
ROLES = ["visitor", "admin", "tjansteperson", "moderator", "ordforande", "medlem"]

SKIPPED = {"static"}  # tests/test_static_versions.py and test_page_caches.py

# FORUM_FUZZ_FULL=1: every junk value as every role (see the module's docstring).
FULL = os.environ.get("FORUM_FUZZ_FULL") == "1"

# Only these may answer 503 (documented: a dependency is down, the schema not at its head).
DOCUMENTED_503 = {"health.healthz"}

QUERY_JUNK = ["", "abc", "-1", "0", "9" * 30, "2026-13-45", "1e309", "x" * 5000]
FORM_JUNK = [
    "a\x00b",
    "x" * 100_000,
    "-1",
    "99999999999999999999",
    "abc",
    "\u202e🙂",
    "",
    "2026-13-45T25:61",
]
LONG = "x" * 100_000

# Query parameter names read through helpers (not `request.args.get("name")` literally).
HELPER_QUERY_NAMES = {"since", "until", "from", "to", "department", "changed_since", "as_of"}


# --- the names the code reads ---------------------------------------------------------------


def _source_names(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "forum").rglob("*.py"), *(ROOT / "templates").rglob("*.html")]:
        found |= set(re.findall(pattern, path.read_text(encoding="utf-8")))
    return found


def query_names() -> list[str]:
    """Every query parameter name the code reads: request.args in views and templates, the
    API's query schemas, and the names read through helpers."""
    from marshmallow import Schema

    from forum.api import schemas
    from forum.web.search import SEARCH_ARGS

    names = _source_names(r"""(?:request\.)?args\.get\(\s*["']([\w-]+)["']""")
    names |= _source_names(r"""["']([\w-]+)["']\s+(?:not\s+)?in\s+request\.args""")
    for item in vars(schemas).values():
        if isinstance(item, type) and issubclass(item, Schema) and item.__name__.endswith("Args"):
            names |= {f.data_key or name for name, f in item._declared_fields.items()}
    return sorted(names | HELPER_QUERY_NAMES | set(SEARCH_ARGS))


def form_names() -> list[str]:
    """Every form field name the code reads: request.form in views and templates, and the
    fields of every WTForms form class of the web package."""
    import pkgutil
    from importlib import import_module

    from flask_wtf import FlaskForm
    from wtforms.fields.core import UnboundField

    import forum.web

    for module in pkgutil.iter_modules(forum.web.__path__):
        import_module(f"forum.web.{module.name}")
    names = _source_names(r"""request\.(?:form|values)\.get(?:list)?\(\s*["']([\w-]+)["']""")
    names |= _source_names(r"""["']([\w-]+)["']\s+(?:not\s+)?in\s+request\.form""")
    classes, seen = [FlaskForm], set()
    while classes:
        cls = classes.pop()
        if cls in seen:
            continue
        seen.add(cls)
        classes.extend(cls.__subclasses__())
        names |= {n for n in dir(cls) if isinstance(getattr(cls, n, None), UnboundField)}
    return sorted(names - {"csrf_token"})


# --- the world --------------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, Any]
    values: dict[str, list[Any]] = field(default_factory=dict)
    api_tokens: dict[str, str] = field(default_factory=dict)
    joint: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def build_world(app, db, role: str) -> World:
    """The demo, and what it lacks for a route to see a real row."""
    from forum import models as m
    from forum.demo import seed_demo
    from forum.services import accounts, api_tokens, appeal_links, exports, moderation
    from forum.services import notifications as notification_service
    from forum.services.agreement import seed_agreement

    with app.test_request_context():
        seed_agreement()
        seed_demo()
    session = db.session
    users = {u.email.split("@")[0]: u for u in session.scalars(select(m.User))}
    person = users.get(role) or users["medlem"]  # whose links a visitor is given
    org = session.scalar(
        select(m.Organisation).where(m.Organisation.slug == "foreningen-gemenskap")
    )
    world = World(users=users)
    waiting = Factory(app).organisation(verified=False, name="Väntande förening")
    with app.test_request_context():
        for local in ROLES[1:]:
            scopes = ["read", "respond"] if local == "ordforande" else ["read"]
            org_id = org.id if local == "ordforande" else None
            _token, raw = api_tokens.create_token(users[local], "fuzz", scopes, org_id)
            world.api_tokens[local] = raw
        export = exports.request_personal_export(person)
        export_token = exports.prepare_personal_export(export.id)
        suspension = moderation.suspend_person(
            users["admin"], users["sam.sokande"].id, 24 * 60, "Fuzz: ett skäl."
        )
        appeal_token = appeal_links.link_path(suspension).rsplit("/", 1)[1]
        kind = sorted(notification_service.KINDS)[0]
        unsubscribe = notification_service.unsubscribe_token(person.id, kind)
        accounts.request_password_reset(person.email)
        other_login, _key = accounts.open_session(person, "fuzz", remember=False)
    session.expire_all()
    mail = session.scalars(
        select(m.OutboxMail)
        .where(m.OutboxMail.to_address == person.email)
        .order_by(m.OutboxMail.id.desc())
    ).all()
    reset = next(
        found.group(1)
        for found in (re.search(r"/reset/([\w-]+)", mail_row.body) for mail_row in mail)
        if found
    )

    def ids(model, *where, limit: int = 3) -> list[int]:
        rows = session.scalars(select(model.id).where(*where).order_by(model.id)).all()
        return (
            list(rows[:limit]) if len(rows) <= limit else [rows[0], rows[len(rows) // 2], rows[-1]]
        )

    documents = session.scalars(select(m.Document).order_by(m.Document.id)).all()
    memberships = session.scalars(select(m.Membership).order_by(m.Membership.id)).all()
    world.values = {
        "follow_up_action": ids(m.Action),
        "moderation_action": ids(m.ModerationAction),
        "org_id": [waiting.id, org.id],
        "user_id": [users["sam.sokande"].id, users["medlem"].id],
        "round_id": ids(m.ConsultationRound, limit=5),
        "message_id": ids(m.Message, limit=5),
        "thread_id": ids(m.Thread),
        "appeal_id": ids(m.Appeal),
        "notification_id": ids(m.Notification, m.Notification.user_id == person.id)
        + ids(m.Notification, limit=1),
        "session_id": [other_login.id],
        "token_id": ids(m.ApiToken, m.ApiToken.user_id == person.id) + ids(m.ApiToken, limit=1),
        "forum_slug": list(session.scalars(select(m.Forum.slug).order_by(m.Forum.id)))[:3],
        "commitment_slug": list(session.scalars(select(m.Commitment.slug)))[:2],
        "principle_slug": list(session.scalars(select(m.Principle.slug)))[:1],
        "org_slug": [org.slug, waiting.slug],
        "handle": [users["medlem"].handle, users["sam.sokande"].handle],
        "export_token": [export_token],
        "appeal_token": [appeal_token],
        "unsubscribe_token": [unsubscribe],
        "reset_token": [reset],
        "op": ["dismiss", "hide", "restore", "redact", "warn", "mute", "unknown-op"],
        "kind": ["mute", "suspend", "unknown-kind"],
        "asset": ["swagger-ui.css", "swagger-ui-bundle.js"],
    }
    world.joint = {
        "documents": [
            {"document_id": d.id, "filename": d.filename, "round_id": d.round_id} for d in documents
        ],
        "memberships": [
            {"slug": org.slug, "membership_id": ms.id}
            for ms in memberships
            if ms.organisation_id == org.id
        ][:3],
    }
    session.commit()
    return world


# Which list of world.values a URL variable takes, by endpoint (then by the variable's name).
VALUE_OF = {
    ("follow_up", "action_id"): "follow_up_action",
    ("api", "action_id"): "follow_up_action",
    ("moderation", "action_id"): "moderation_action",
    ("forums", "slug"): "forum_slug",
    ("api.forum", "slug"): "forum_slug",
    ("api.forum_threads", "slug"): "forum_slug",
    ("main.commitment", "slug"): "commitment_slug",
    ("api.commitment", "slug"): "commitment_slug",
    ("follow_up.principle", "slug"): "principle_slug",
    ("organisations", "slug"): "org_slug",
    ("api.organisation", "slug"): "org_slug",
    ("privacy.download_export", "token"): "export_token",
    ("moderation.appeal_by_link", "token"): "appeal_token",
    ("notification_settings", "token"): "unsubscribe_token",
    ("auth.reset_password", "token"): "reset_token",
    ("api_reference.assets", "filename"): "asset",
}
GENERIC = {
    "org_id",
    "user_id",
    "round_id",
    "message_id",
    "thread_id",
    "appeal_id",
    "notification_id",
    "session_id",
    "token_id",
    "handle",
    "op",
    "kind",
}
# Rules whose URL values belong together (a document of its round, a membership of its
# organisation): their real values come as a whole.
JOINT = {
    "consultations.remove_document": "documents",
    "documents.download": "documents",
    "documents.preview": "documents",
    "organisations.approve": "memberships",
    "organisations.reject": "memberships",
    "organisations.remove": "memberships",
    "organisations.set_role": "memberships",
}


def value_list(endpoint: str, name: str) -> str:
    """The name of the world's list for this URL variable of this endpoint (KeyError: none)."""
    blueprint = endpoint.split(".")[0]
    for key in ((endpoint, name), (blueprint, name)):
        if key in VALUE_OF:
            return VALUE_OF[key]
    if name in GENERIC:
        return name
    raise KeyError(f"{endpoint}: no real value for <{name}>")


def real_args(rule, world: World) -> list[dict[str, Any]]:
    """Real values for the rule's URL variables, a few combinations."""
    names = sorted(rule.arguments)
    if not names:
        return [{}]
    if rule.endpoint in JOINT:
        return [
            {name: row[name] for name in names} for row in world.joint[JOINT[rule.endpoint]]
        ] or [{}]
    lists = [world.values[value_list(rule.endpoint, name)] for name in names]
    empty = [name for name, values in zip(names, lists, strict=True) if not values]
    assert not empty, f"{rule.endpoint}: the world has no real value for {empty}"
    longest = max(len(values) for values in lists)
    return [
        {name: values[i % len(values)] for name, values in zip(names, lists, strict=True)}
        for i in range(longest)
        if all(values for values in lists)
    ]


def fuzzed_rules(app) -> list:
    """Every rule but SKIPPED, in a fixed order."""
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED),
        key=lambda r: (r.rule, r.endpoint),
    )


def _converter_kind(rule, name: str) -> str:
    return type(rule._converters[name]).__name__


def odd_args(rule, real: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """URL values that name nothing: one variable at a time, the others real; each as the
    raw text of the path part (already quoted)."""
    out: list[tuple[str, dict[str, str]]] = []
    for name in sorted(rule.arguments):
        kind = _converter_kind(rule, name)
        if kind == "IdConverter":
            odd = {
                "missing": "999999",
                "largest id": str(MAX_ID),
                "one past the largest id": str(MAX_ID + 1),
                "30 digits": "9" * 30,
                "zero": "0",
            }
        else:
            odd = {
                "missing": "no-such-thing-404",
                "very long": "x" * 5000,
                "unicode": quote("Åäö-🙂-\u202e-ﬀ", safe=""),
                "percent junk": "%ff%fe%c0%af..%25%2e",
                "encoded NUL": "a%00b",
                "dot dot": "..",
            }
            if kind == "PathConverter":
                odd["traversal"] = "../../../etc/passwd"
                odd["nested"] = "a/b/c.pdf"
        for label, raw in odd.items():
            parts = {k: quote(str(v), safe="/" if k == "filename" else "") for k, v in real.items()}
            parts[name] = raw
            out.append((f"<{name}> {label}", parts))
    return out


def path_of(rule, parts: dict[str, str]) -> str:
    """The rule's path with each variable replaced by its raw (quoted) text."""
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda match: parts[match.group(1)], rule.rule)


def quoted(real: dict[str, Any]) -> dict[str, str]:
    return {k: quote(str(v), safe="/" if k == "filename" else "") for k, v in real.items()}


# --- forms as pages show them -------------------------------------------------------------------


class _Forms(HTMLParser):
    """The forms of a page that post: their action and fields (name, value) as a browser
    would send them, and whether they take files."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._radios: set[str] = set()

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            if attrs.get("method", "get").lower() == "post":
                self._form = {
                    "action": attrs.get("action", ""),
                    "fields": [],
                    "files": "multipart" in attrs.get("enctype", ""),
                }
                self.forms.append(self._form)
                self._radios = set()
            return
        form = self._form
        if form is None or "name" not in attrs:
            return
        name = attrs["name"]
        if tag == "input":
            kind = attrs.get("type", "text").lower()
            if kind == "file":
                form["files"] = True
            elif kind in ("checkbox", "radio"):
                if "checked" in attrs or (kind == "radio" and name not in self._radios):
                    if kind == "radio":
                        self._radios.add(name)
                        form["fields"] = [f for f in form["fields"] if f[0] != name]
                    form["fields"].append((name, attrs.get("value", "on")))
            elif kind not in ("submit", "button", "image", "reset"):
                form["fields"].append((name, attrs.get("value", "")))
        elif tag == "textarea":
            self._textarea = name
            form["fields"].append((name, ""))
        elif tag == "select":
            self._select, self._select_value = name, None
        elif tag == "button" and attrs.get("type", "submit") == "submit":
            form.setdefault("buttons", []).append((name, attrs.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea and self._form is not None:
            name, value = self._form["fields"][-1]
            self._form["fields"][-1] = (name, value + data)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._form is not None and self._select:
            self._form["fields"].append((self._select, self._select_value or ""))
            self._select = None


class _FormsWithOptions(_Forms):
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        if tag == "option" and self._select is not None:
            attrs = {k: v or "" for k, v in attrs_list}
            if self._select_value is None or "selected" in attrs:
                self._select_value = attrs.get("value", "")
            return
        super().handle_starttag(tag, attrs_list)


def page_forms(html: str) -> list[dict[str, Any]]:
    parser = _FormsWithOptions()
    parser.feed(html)
    return parser.forms


# --- requests and what is wrong with their answers ---------------------------------------------


class _Keep(logging.Handler):
    """Keeps the exception of each error the app logs (its 500 handler logs the crash)."""

    def __init__(self, into: list[BaseException | None]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.exc_info[1] if record.exc_info else None)


def _crash(err: BaseException) -> str:
    """An exception in one line: its type, message and the app's line that raised it."""
    tail = traceback.extract_tb(err.__traceback__)
    own = [f for f in tail if "/forum/" in f.filename][-1:] or tail[-1:]
    at = f" at {Path(own[0].filename).name}:{own[0].lineno}" if own else ""
    return f"{type(err).__name__}: {_show(str(err), 200)}{at}"


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    if len(text) > limit:
        text = f"{text[: limit - 20]}…({len(str(value))} chars)"
    return text


@dataclass
class Fuzzer:
    app: Any
    db: Any
    world: World
    role: str
    failures: list[str] = field(default_factory=list)
    count: int = 0
    pages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.logged: list[BaseException | None] = []
        self.app.logger.addHandler(_Keep(self.logged))
        self.client = self.app.test_client()
        self.user = self.world.users.get(self.role)
        self.turn = ROLES.index(self.role)
        self.login()

    def login(self) -> None:
        self.client = self.app.test_client()  # no cookie of an earlier request or logout
        if self.user is not None:
            self.db.session.rollback()
            self.db.session.refresh(self.user)
            if self.user.is_closed:
                return  # a real value closed the account (fuzzed last): a visitor from now on
            Auth(self.client).login(self.user)

    def send(self, rule, method: str, path: str, label: str, **kwargs: Any):
        """One request; a crash or a 5xx (or an /api/ 4xx without a JSON body) is noted."""
        self.count += 1
        where = f"[{self.role}] {method} {_show(path, 120)} ({rule.endpoint}: {label})"
        self.logged.clear()
        try:
            response = self.client.open(path, method=method, **kwargs)
        except Exception as err:  # noqa: BLE001 — every crash is collected and reported
            self.db.session.rollback()
            self.failures.append(f"{where}: raised {_crash(err)}")
            return None
        try:
            status = response.status_code
            if status >= 500 and not (status == 503 and rule.endpoint in DOCUMENTED_503):
                # the app's handler logged what it turned into the 500 page
                crash = next((_crash(e) for e in self.logged if e is not None), "no exception")
                self.failures.append(f"{where}: {status}, {crash}")
            elif path.startswith("/api/") and 400 <= status < 500:
                body = response.get_json(silent=True)
                if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
                    self.failures.append(f"{where}: {status} without a JSON error body")
            return response
        finally:
            if response.direct_passthrough or response.is_streamed:
                response.close()

    # the parts of one rule

    def share(self, values: list[str]) -> list[str]:
        """This role's share of the junk values: all with FORUM_FUZZ_FULL=1, else every
        fourth (the roles take turns, so the six of them send all; and each role's mixed
        request gives every name one of all the values)."""
        return values if FULL else values[self.turn % 4 :: 4]

    def urls(self, rule, method: str) -> list[tuple[str, str]]:
        """(path, label): the real values, then the odd ones."""
        reals = real_args(rule, self.world)
        out = [(path_of(rule, quoted(real)), f"real {real}") for real in reals]
        for label, parts in odd_args(rule, reals[0] if reals else {}):
            if set(parts) == set(rule.arguments):
                out.append((path_of(rule, parts), label))
        return out

    def fuzz_get(self, rule, names: list[str]) -> None:
        headers = self.api_headers(rule)
        for path, label in self.urls(rule, "GET")[len(real_args(rule, self.world)) :]:
            self.send(rule, "GET", path, label, headers=headers)
        reals = real_args(rule, self.world)
        for real in reals[1:]:  # the other real rows: as they are (the first is below)
            self.send(rule, "GET", path_of(rule, quoted(real)), f"real {real}", headers=headers)
        path = path_of(rule, quoted(reals[0]))
        base = self.send(rule, "GET", path, "no query", headers=headers)
        # refused before any query is read (a login, a right, a row): one mixed request only
        refused = base is None or base.status_code in (301, 302, 303, 307, 401, 403, 404, 405)
        turn = 0 if refused else self.turn
        mixed = [(name, QUERY_JUNK[(i + turn) % len(QUERY_JUNK)]) for i, name in enumerate(names)]
        self.send(
            rule, "GET", path, "every query name, mixed junk", query_string=mixed, headers=headers
        )
        if not refused:
            assert base is not None
            for value in self.share(QUERY_JUNK):
                self.query_junk(rule, path, names, value, base.status_code, headers)
        repeated = [(name, value) for name in names for value in ("1", "abc", "")]
        self.send(
            rule, "GET", path, "each query name thrice", query_string=repeated, headers=headers
        )
        for query, label in (
            ([(names[0], "a\x00b")], "a NUL in a value"),
            ([("q", "ok"), ("q", "\x00")], "a NUL in a repeated value"),
            ([("\x00", "1")], "a NUL in a name"),
        ):
            answer = self.send(rule, "GET", path, label, query_string=query, headers=headers)
            if answer is not None and answer.status_code != 400:
                self.failures.append(
                    f"[{self.role}] GET {path} ({rule.endpoint}: {label}): "
                    f"{answer.status_code}, not the 400 of refuse_nul_in_query"
                )

    def query_junk(self, rule, path, names, value, usual: int, headers) -> None:
        """Every name = value; where that is refused (one name's refusal may hide another's
        crash), each half again, down to the names refused on their own."""
        label = (
            f"?{names[0]}={_show(value)}"
            if len(names) == 1
            else (f"{len(names)} query names = {_show(value)}")
        )
        query = [(name, value) for name in names]
        answer = self.send(rule, "GET", path, label, query_string=query, headers=headers)
        if answer is None or answer.status_code in (usual,) or answer.status_code >= 500:
            return
        if len(names) > 1:
            half = len(names) // 2
            self.query_junk(rule, path, names[:half], value, usual, headers)
            self.query_junk(rule, path, names[half:], value, usual, headers)

    def api_headers(self, rule) -> dict[str, str]:
        raw = self.world.api_tokens.get(self.role)
        if rule.endpoint.startswith("api.") and raw:
            return {"Authorization": f"Bearer {raw}"}
        return {}

    def page_forms(self, page: str) -> list[dict[str, Any]]:
        """The forms of a page as this role sees it (each page read once per test)."""
        if page not in self.pages:
            self.pages[page] = []
            try:
                self.app.url_map.bind("localhost").match(page, method="GET")
            except HTTPException:  # no page there
                return []
            response = self.client.get(page)
            if response.status_code == 200 and response.mimetype == "text/html":
                self.pages[page] = page_forms(response.get_data(as_text=True))
            response.close()
        return self.pages[page]

    def forms_for(self, rule, path: str) -> list[dict[str, Any]]:
        """The forms that post to this rule on the pages where it is offered: its own page,
        the page one level up, and a thread's page (message buttons)."""
        pages = [path]
        parent = path
        while "/" in parent.strip("/"):
            parent = parent.rsplit("/", 1)[0]
            pages.append(parent)
        pages += [f"/threads/{t}" for t in self.world.values["thread_id"][:1]]
        pages += ["/settings", "/admin", "/moderation"]
        adapter = self.app.url_map.bind("localhost")
        found: list[dict[str, Any]] = []
        for page in pages:
            for form in self.page_forms(page):
                action = urlsplit(form["action"]).path or page
                try:
                    endpoint, _args = adapter.match(action, method="POST")
                except HTTPException:  # a form to elsewhere
                    continue
                if endpoint == rule.endpoint and urlsplit(form["action"]).path in ("", path):
                    found.append(form)
            if found:
                break
        return found

    def fuzz_post(self, rule, names: list[str], session_ending: bool) -> None:
        def post(path: str, label: str, **kwargs: Any) -> None:
            if session_ending:
                self.login()
            self.send(rule, "POST", path, label, **kwargs)

        headers = self.api_headers(rule)
        odd = self.urls(rule, "POST")[len(real_args(rule, self.world)) :]
        if "GET" in rule.methods and not FULL:  # the GET above went through them all
            odd = [
                (path, label) for path, label in odd if label.endswith(("missing", "largest id"))
            ]
        for path, label in [*self.urls(rule, "POST")[:1], *odd]:
            post(path, label, headers=headers)
        if rule.endpoint.startswith("api."):
            for real in real_args(rule, self.world):
                self.fuzz_api_body(rule, path_of(rule, quoted(real)))
            return
        reals = real_args(rule, self.world)
        path = path_of(rule, quoted(reals[0]))
        forms = self.forms_for(rule, path) or [{"fields": [], "files": False}]
        own: list[str] = []
        for n, form in enumerate(forms[:3]):
            fields = form["fields"] + form.get("buttons", [])[:1]
            post(path, f"form {n} as shown", data=_multi(fields))
            own += [name for name, _value in fields]
            for i, (name, _value) in enumerate(fields):
                value = FORM_JUNK[(i + self.turn) % len(FORM_JUNK)]
                changed = [(k, value if k == name else v) for k, v in fields]
                post(path, f"form {n}, {name}={_show(value)}", data=_multi(changed))
            if form["files"] or rule.endpoint == "consultations.add_document":
                self.fuzz_files(rule, path, fields, post)
        for real in reals[1:]:  # the other real rows: the first form as it was shown
            fields = forms[0]["fields"] + forms[0].get("buttons", [])[:1]
            post(path_of(rule, quoted(real)), f"real {real}, form 0", data=_multi(fields))
        everything = sorted(set(names) | set(own))
        mixed = [(k, FORM_JUNK[(i + self.turn) % len(FORM_JUNK)]) for i, k in enumerate(everything)]
        post(
            path,
            "every form name, mixed junk",
            data=_multi([(k, v) for k, v in mixed if v != LONG]),
        )
        for value in self.share(FORM_JUNK):
            chosen = (own or everything) if value == LONG else everything
            post(
                path, f"every form name = {_show(value)}", data=_multi([(k, value) for k in chosen])
            )
        lists = [(k, v) for k in everything for v in ("1", "abc", "\x00")]
        post(path, "every form name thrice", data=_multi(lists))

    def fuzz_files(self, rule, path: str, fields: list[tuple[str, str]], post) -> None:
        names = {name for name, _v in fields} | {"file"}
        for label, upload in (
            ("no file chosen", (BytesIO(b""), "")),
            ("an empty file", (BytesIO(b""), "tom.pdf")),
            ("a wrong extension", (BytesIO(b"%PDF-1.4\n"), "program.exe")),
            ("text called PDF", (BytesIO(b"just text"), "text.pdf")),
            ("a NUL in the name", (BytesIO(b"%PDF-1.4\n"), "a\x00b.pdf")),
            ("a very long name", (BytesIO(b"%PDF-1.4\n"), "x" * 5000 + ".pdf")),
        ):
            data: dict[str, Any] = {k: v for k, v in fields}
            for name in names - {k for k, _v in fields if k != "file"}:
                data[name] = (BytesIO(upload[0].getvalue()), upload[1])
            post(path, f"upload: {label}", data=data, content_type="multipart/form-data")
        data = {k: v for k, v in fields}
        data["file"] = (BytesIO(b"%PDF-1.4\n"), "doc.pdf", "text/html\x7f")
        post(path, "upload: a wrong content type", data=data, content_type="multipart/form-data")

    def fuzz_api_body(self, rule, path: str) -> None:
        good = self.api_headers(rule)
        question = self.world.values["round_id"][0]
        bodies: list[tuple[str, dict[str, Any]]] = [
            ("invalid JSON", {"data": "{", "content_type": "application/json"}),
            ("a JSON array", {"json": []}),
            ("a JSON string", {"json": "answers"}),
            ("JSON null", {"data": "null", "content_type": "application/json"}),
            ("answers not a list", {"json": {"answers": "x", "submit": "yes"}}),
            ("answers of wrong types", {"json": {"answers": [{"question_id": "1", "text": 5}]}}),
            ("a float id", {"json": {"answers": [{"question_id": 1.5, "text": "a"}]}}),
            ("a huge id", {"json": {"answers": [{"question_id": 10**30, "text": "a"}]}}),
            (
                "a NUL in a text",
                {"json": {"answers": [{"question_id": question, "text": "a\x00"}]}},
            ),
            ("a NUL in a key", {"json": {"answers\x00": []}}),
            (
                "submit without draft",
                {"json": {"answers": [{"question_id": 1, "text": "a"}], "submit": True}},
            ),
            (
                "a bad draft",
                {
                    "json": {
                        "answers": [{"question_id": 1, "text": "a"}],
                        "submit": True,
                        "draft": "\x00" * 64,
                    }
                },
            ),
            (
                "a lone surrogate",
                {
                    "data": '{"answers": [{"question_id": 1, "text": "\\ud800"}]}',
                    "content_type": "application/json",
                },
            ),
            ("deep nesting", {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}),
            (
                "1e309",
                {
                    "data": '{"answers": [{"question_id": 1e309, "text": "a"}]}',
                    "content_type": "application/json",
                },
            ),
            ("a form body", {"data": {"answers": "x"}}),
            (
                "JSON as text/plain",
                {"data": json.dumps({"answers": []}), "content_type": "text/plain"},
            ),
            ("an empty body", {}),
        ]
        for headers_label, headers in (
            ("token", good),
            ("no token", {}),
            ("bad token", {"Authorization": "Bearer not-a-token"}),
            ("malformed header", {"Authorization": "Basic dXNlcjpwYXNz"}),
            ("bare scheme", {"Authorization": "Bearer"}),
            ("junk header", {"Authorization": "Bearer " + "x" * 5000}),
        ):
            if not headers and headers_label == "token":
                continue
            for label, kwargs in bodies if headers_label == "token" else bodies[:2]:
                self.send(
                    rule, "POST", path, f"{headers_label}, {label}", headers=headers, **kwargs
                )

    def fuzz_api_headers(self, rule, path: str) -> None:
        for label, headers in (
            ("no token", {}),
            ("bad token", {"Authorization": "Bearer not-a-token"}),
            ("malformed header", {"Authorization": "Basic dXNlcjpwYXNz"}),
            ("bare scheme", {"Authorization": "Bearer"}),
            ("two spaces", {"Authorization": "Bearer  "}),
            ("unicode token", {"Authorization": "Bearer åäö"}),
            ("a very long token", {"Authorization": "Bearer " + "x" * 5000}),
        ):
            self.send(rule, "GET", path, label, headers=headers)


def _multi(pairs: list[tuple[str, str]]):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


SESSION_ENDING = {
    "auth.logout",
    "auth.logout_everywhere",
    "auth.end_one_session",
    "auth.change_password",
    "privacy.close_account",
}


def run_role(app, db, role: str) -> Fuzzer:
    """Every rule as this role: first every GET (the world as built), then every POST."""
    world = build_world(app, db, role)
    fuzzer = Fuzzer(app, db, world, role)
    queries, forms = query_names(), form_names()
    rules = fuzzed_rules(app)
    for rule in rules:
        if "GET" in rule.methods:
            fuzzer.fuzz_get(rule, queries)
            if rule.endpoint.startswith("api"):
                for real in real_args(rule, world):
                    fuzzer.fuzz_api_headers(rule, path_of(rule, quoted(real)))
    # closing the account last: the role's other forms are fuzzed by the role
    for rule in sorted(rules, key=lambda r: r.endpoint == "privacy.close_account"):
        if "POST" in rule.methods:
            fuzzer.login()
            fuzzer.fuzz_post(rule, forms, rule.endpoint in SESSION_ENDING)
    return fuzzer


# CI runs each role once, the roles in turn on SQLite and on PostgreSQL (which refuses more:
# a NUL in text, an id past 64 bits): the six took about four minutes in CI's PostgreSQL
# stage, the longer of the two.
@pytest.mark.ci_alternate
@pytest.mark.parametrize("role", ROLES)
def test_bad_input_never_crashes_a_route(app, db, role):
    fuzzer = run_role(app, db, role)
    report = "\n".join(f"- {f}" for f in fuzzer.failures)
    assert not fuzzer.failures, f"{len(fuzzer.failures)} of {fuzzer.count} requests:\n{report}"


def test_every_rule_has_a_case(app):
    """A new route cannot escape the fuzz: every rule but SKIPPED is fuzzed, and every URL
    variable of it must have a real value in the world (VALUE_OF, GENERIC or JOINT)."""
    missing = []
    for rule in fuzzed_rules(app):
        if rule.endpoint in JOINT:
            continue
        for name in rule.arguments:
            try:
                value_list(rule.endpoint, name)
            except KeyError as err:
                missing.append(str(err))
    assert not missing, "\n".join(missing)
    assert len(list(app.url_map.iter_rules())) >= 135


def test_the_names_the_code_reads_are_found():
    """The scans find the names (a change of style in the views would find none)."""
    assert {"q", "before", "limit", "after", "year", "since", "from"} <= set(query_names())
    assert {"body", "title", "reason", "email", "password", "person", "note"} <= set(form_names())
