"""The API's resources: thin views that read through queries/ and write through services/."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, NoReturn

from flask import Request, jsonify, request, url_for
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser

from .. import policy
from ..errors import AuthRequired, Forbidden, NotFound
from ..formatting import iso_utc
from ..models import (
    Action,
    ApiToken,
    ConsultationResponse,
    ConsultationRound,
    Document,
    Forum,
    Message,
    MessageState,
    Organisation,
    Thread,
    User,
)
from ..models.base import utcnow
from ..queries import consultations as consultation_queries
from ..queries import follow_up as follow_up_queries
from ..queries import open_data
from ..services import api_tokens
from ..services import consultations as consultation_service
from ..services import follow_up as follow_up_service
from ..services.transaction import discard_changes
from . import error_body, schemas


class ArgumentsParser(FlaskParser):
    """webargs' parser, with a 400 for every JSON body `json.loads` cannot take: webargs
    answers only its JSONDecodeError, while nesting deeper than the recursion limit raises
    RecursionError and a number longer than Python's digit limit a plain ValueError."""

    def _raw_load_json(self, req: Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs' own handling
        except (RecursionError, ValueError) as err:
            self._handle_invalid_json_error(err, req)

    def _handle_invalid_json_error(
        self, error: Exception, req: Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        super()._handle_invalid_json_error(error, req, *args, **kwargs)  # type: ignore[arg-type]
        raise AssertionError("unreachable")  # webargs aborts with a 400


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()


bp = ApiBlueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Open data: read-only unless a token's scope says otherwise.",
)

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,119}")


# --- who is asking ---------------------------------------------------------------


def current_token() -> ApiToken | None:
    """The bearer token of this request (AuthRequired if one is sent and is not valid).

    Looked up once per request: the rate limiter asks first (`valid_token`), and every
    endpoint refuses a token that is not valid (`_refuse_invalid_tokens`), those that read
    only public data too."""
    found = request.environ.get(_ENVIRON_KEY, _UNASKED)  # this request's, not the app context's
    if found is _UNASKED:
        try:
            found = _bearer_token()
        except AuthRequired as refused:
            found = refused
        request.environ[_ENVIRON_KEY] = found
    if isinstance(found, AuthRequired):
        raise AuthRequired(found.message)
    return found


_UNASKED = object()
_ENVIRON_KEY = "forum.api_token"


def _bearer_token() -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, space, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not space:  # the scheme is case-insensitive (RFC 7235)
        raise AuthRequired(_("Send the token as 'Authorization: Bearer <token>'."))
    return api_tokens.authenticate(credentials.strip())


def valid_token() -> ApiToken | None:
    """The request's token if it is a valid one, else None (for the rate limiter's key)."""
    try:
        return current_token()
    except AuthRequired:
        return None


@bp.before_request
def _refuse_invalid_tokens() -> None:
    current_token()


def reader() -> User | None:
    """The token's owner (reads what they may read), or None for a visitor. Never the cookie.

    A token without the `read` scope (one made only to answer consultations) reads what a
    visitor reads: a script given such a token learns nothing private."""
    token = current_token()
    return token.user if token is not None and policy.can_read_with_token(token) else None


def _slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise NotFound(_("Nothing here."))
    return value


def _found(value: Any) -> Any:
    if value is None:
        raise NotFound(_("Nothing here."))
    return value


# --- representations -------------------------------------------------------------


def _api(endpoint: str, **values: Any) -> str:
    return url_for(f"api.{endpoint}", _external=True, **values)


def _commitment_refs(items: list) -> list[dict[str, Any]]:
    return [{"slug": c.slug, "url": _api("commitment", slug=c.slug)} for c in items]


def _page(page: open_data.Page, items: list[dict[str, Any]], endpoint: str, **values: Any):
    limit = request.args.get("limit")
    extra = {"limit": limit} if limit else {}
    following = (
        _api(endpoint, after=page.next_after, **values, **extra)
        if page.next_after is not None
        else None
    )
    return {"items": items, "next": following}


def _changes_page(
    page: open_data.Page, items: list[dict[str, Any]], endpoint: str, args: dict, now: datetime
):
    """A page of a list a consumer can synchronise: its `next` keeps the `changed_since`
    filter and the first page's `as_of` (open_data.sync_point), and the answer says it."""
    as_of = iso_utc(open_data.sync_point(now, args["as_of"]))
    since = iso_utc(args["changed_since"])
    body = _page(page, items, endpoint, as_of=as_of, **({"changed_since": since} if since else {}))
    body["as_of"] = as_of
    return body


def commitment_dict(c) -> dict[str, Any]:  # noqa: ANN001
    return {
        "id": c.id,
        "slug": c.slug,
        "position": c.position,
        "title_sv": c.title_sv,
        "title_en": c.title_en,
        "description_sv": c.description_sv,
        "description_en": c.description_en,
        "url": _api("commitment", slug=c.slug),
        "html_url": url_for("main.commitment", slug=c.slug, _external=True),
    }


def forum_dict(f: Forum) -> dict[str, Any]:
    return {
        "id": f.id,
        "slug": f.slug,
        "title": f.title,
        "description_html": f.description_html,
        "visibility": f.visibility.value,
        "created_at": iso_utc(f.created_at),
        "commitments": _commitment_refs(f.commitments),
        "url": _api("forum", slug=f.slug),
        "threads_url": _api("forum_threads", slug=f.slug),
        "html_url": url_for("forums.forum", slug=f.slug, _external=True),
    }


def thread_dict(t: Thread) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "forum": {"id": t.forum_id, "url": _api("forum", slug=t.forum.slug)},
        "created_at": iso_utc(t.created_at),
        "locked": t.locked,
        "archived": t.archived,
        "message_count": t.message_count,
        "commitments": _commitment_refs(t.commitments),
        "url": _api("thread", thread_id=t.id),
        "messages_url": _api("thread_messages", thread_id=t.id),
        "html_url": url_for("forums.thread", thread_id=t.id, _external=True),
    }


def message_dict(m: Message) -> dict[str, Any]:
    visible = m.state == MessageState.visible
    return {
        "id": m.id,
        "thread_id": m.thread_id,
        "author": {"id": m.author.id, "display_name": m.author.display_name},
        "state": m.state.value,
        "html": m.html if visible else "",
        "created_at": iso_utc(m.created_at),
        "edited_at": iso_utc(m.edited_at),
        "reply_to": m.reply_to_id,
    }


def document_dict(d: Document) -> dict[str, Any]:
    return {
        "id": d.id,
        "filename": d.filename,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256 or None,
        "created_at": iso_utc(d.created_at),
        "url": url_for("documents.download", document_id=d.id, filename=d.filename, _external=True),
    }


def readable_documents(
    user: User | None,
    round_: ConsultationRound,
    response: ConsultationResponse | None,
    documents: list[Document],
) -> list[dict[str, Any]]:
    """The documents the download route would give this reader (policy.can_read_document)."""
    return [
        document_dict(d) for d in documents if policy.can_read_document(user, round_, response, d)
    ]


def round_documents(rounds: list[ConsultationRound]) -> dict[int, list[Document]]:
    """The rounds' own documents (their basis, as their pages list it), in one query."""
    from sqlalchemy import select

    from ..extensions import db

    found: dict[int, list[Document]] = {r.id: [] for r in rounds}
    if found:
        for d in db.session.scalars(
            select(Document)
            .where(
                Document.round_id.in_(found),
                Document.response_id.is_(None),
                Document.removed_at.is_(None),
            )
            .order_by(Document.id)
        ):
            found[d.round_id].append(d)
    return found


def round_dict(
    r: ConsultationRound, user: User | None, documents: list[Document], now: datetime
) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "department": r.department.name,
        "phase": r.phase(now).value,
        "stage": r.stage.value,
        "problem_html": r.problem_html,
        "background_html": r.background_html,
        "opens_at": iso_utc(r.opens_at),
        "closes_at": iso_utc(r.closes_at),
        "decision_date": r.decision_date.isoformat() if r.decision_date else None,
        "changed_at": iso_utc(r.public_changed_at(now)),
        "questions": [
            {"id": q.id, "position": q.position, "text": q.text, "guidance": q.guidance}
            for q in r.questions
        ],
        "documents": readable_documents(user, r, None, documents),
        "commitments": _commitment_refs(r.commitments),
        "url": _api("consultation_round", round_id=r.id),
        "responses_url": _api("round_responses", round_id=r.id),
        "feedback_url": _api("round_feedback", round_id=r.id),
        "html_url": url_for("consultations.show", round_id=r.id, _external=True),
    }


def organisation_dict(o: Organisation) -> dict[str, Any]:
    return {
        "id": o.id,
        "slug": o.slug,
        "name": o.name,
        "form": o.form.value,
        "org_number": o.org_number,
        "description": o.description,
        "website": o.website,
        "verified": o.is_verified,
        "url": _api("organisation", slug=o.slug),
        "html_url": url_for("organisations.show", slug=o.slug, _external=True),
    }


def _org_ref(o: Organisation) -> dict[str, Any]:
    return {"id": o.id, "url": _api("organisation", slug=o.slug)}


def action_dict(a: Action) -> dict[str, Any]:
    return {
        "id": a.id,
        "title": a.title,
        "description_html": a.description_html,
        "status": a.status.value,
        "accepted": a.accepted_at is not None,
        "declined": a.declined_at is not None,
        "decline_reason": a.decline_reason,
        "progress": a.progress,
        "due_date": a.due_date.isoformat(),
        "owner_department": a.owner_department.name if a.owner_department else None,
        "owner_organisation": _org_ref(a.owner_organisation) if a.owner_organisation else None,
        "source_thread": (
            {"id": a.source_thread_id, "url": _api("thread", thread_id=a.source_thread_id)}
            if a.source_thread_id
            else None
        ),
        "commitments": _commitment_refs(a.commitments),
        "created_at": iso_utc(a.created_at),
        "changed_at": iso_utc(a.updated_at),
        "url": _api("action", action_id=a.id),
        "html_url": url_for("follow_up.show", action_id=a.id, _external=True),
    }


# --- the index ------------------------------------------------------------------

COLLECTIONS = (
    "commitments",
    "principles",
    "forums",
    "consultations",
    "organisations",
    "actions",
    "indicators",
)
# the view behind each collection's address
_COLLECTION_ENDPOINTS = {"consultations": "rounds"}


class IndexLinks(Schema):
    class Meta:
        ordered = True

    commitments = fields.Url(required=True)
    principles = fields.Url(required=True)
    forums = fields.Url(required=True)
    consultations = fields.Url(required=True)
    organisations = fields.Url(required=True)
    actions = fields.Url(required=True)
    indicators = fields.Url(required=True)


class Index(Schema):
    class Meta:
        ordered = True

    name = fields.Str(required=True)
    version = fields.Str(required=True)
    resources = fields.Nested(IndexLinks, required=True)
    openapi = fields.Url(required=True, metadata={"description": "the OpenAPI 3.1 document"})
    reference = fields.Url(required=True, metadata={"description": "the reference for people"})


@bp.get("/")
@bp.response(200, Index)
def index():
    """Where to start: a link to each collection, the reference and the OpenAPI document."""
    return {
        "name": "Dialogforum open data",
        "version": "1",
        "resources": {name: _api(_COLLECTION_ENDPOINTS.get(name, name)) for name in COLLECTIONS},
        "openapi": url_for("api-docs.openapi_json", _external=True),
        "reference": url_for("api_reference.index", _external=True),
    }


# --- the agreement ---------------------------------------------------------------


@bp.get("/commitments")
@bp.response(200, schemas.Commitments)
def commitments():
    """The agreement's thirteen commitments."""
    return {"items": [commitment_dict(c) for c in open_data.commitments()]}


@bp.get("/commitments/<slug>")
@bp.response(200, schemas.Commitment)
def commitment(slug: str):
    """One commitment."""
    _slug(slug)
    return commitment_dict(
        _found(next((c for c in open_data.commitments() if c.slug == slug), None))
    )


@bp.get("/principles")
@bp.response(200, schemas.Principles)
def principles():
    """The agreement's six principles."""
    from sqlalchemy import select

    from ..extensions import db
    from ..models import Principle

    rows = db.session.scalars(select(Principle).order_by(Principle.position))
    return {
        "items": [
            {
                "id": p.id,
                "slug": p.slug,
                "position": p.position,
                "name_sv": p.name_sv,
                "name_en": p.name_en,
                "description_sv": p.description_sv,
                "description_en": p.description_en,
            }
            for p in rows
        ]
    }


# --- forums, threads, messages -------------------------------------------------


@bp.get("/forums")
@bp.arguments(schemas.PageArgs, location="query")
@bp.response(200, schemas.ForumPage)
def forums(args):
    """Forums the reader may read, by id."""
    page = open_data.forums(reader(), args["after"], args["limit"])
    return _page(page, [forum_dict(f) for f in page.items], "forums")


@bp.get("/forums/<slug>")
@bp.response(200, schemas.Forum)
def forum(slug: str):
    """One forum."""
    return forum_dict(_found(open_data.forum(reader(), _slug(slug))))


@bp.get("/forums/<slug>/threads")
@bp.arguments(schemas.PageArgs, location="query")
@bp.response(200, schemas.ThreadPage)
def forum_threads(args, slug: str):
    """A forum's threads, by id."""
    user = reader()
    found = _found(open_data.forum(user, _slug(slug)))
    page = open_data.threads(user, found.id, args["after"], args["limit"])
    return _page(page, [thread_dict(t) for t in page.items], "forum_threads", slug=slug)


@bp.get("/threads/<int:thread_id>")
@bp.response(200, schemas.Thread)
def thread(thread_id: int):
    """One thread."""
    return thread_dict(_found(open_data.thread(reader(), thread_id)))


@bp.get("/threads/<int:thread_id>/messages")
@bp.arguments(schemas.PageArgs, location="query")
@bp.response(200, schemas.MessagePage)
def thread_messages(args, thread_id: int):
    """A thread's messages, oldest first, by id; hidden and deleted ones without text."""
    found = _found(open_data.thread(reader(), thread_id))
    page = open_data.messages(found.id, args["after"], args["limit"])
    return _page(
        page, [message_dict(m) for m in page.items], "thread_messages", thread_id=thread_id
    )


# The sync lists' answer to a `changed_since` from before a change of the reader's own access
RESYNC = bp.alt_response(
    410,
    schema=schemas.Error,
    description=(
        "`resync`: what the token's owner may read changed since `changed_since` by a "
        "change of their own (a forum's members or moderators, a role, a department): "
        "walk the whole list again, without `changed_since`."
    ),
)


# --- consultations ---------------------------------------------------------------


@bp.get("/consultations")
@bp.arguments(schemas.ChangesPageArgs, location="query")
@bp.response(200, schemas.RoundPage)
@RESYNC
def rounds(args):
    """Consultation rounds (drafts only for their officials), by id.

    With `changed_since`, only those whose public state changed at or after it: opened,
    closed or past their deadline, deadline moved, text, questions or documents changed,
    feedback published or changed."""
    user = reader()
    now = utcnow()
    page = open_data.rounds(user, args["after"], args["limit"], args["changed_since"], now)
    documents = round_documents(page.items)
    items = [round_dict(r, user, documents[r.id], now) for r in page.items]
    return _changes_page(page, items, "rounds", args, now)


@bp.get("/consultations/<int:round_id>")
@bp.response(200, schemas.Round)
def consultation_round(round_id: int):
    """One round with its questions and documents."""
    user = reader()
    found = _found(open_data.round_(user, round_id))
    return round_dict(found, user, round_documents([found])[found.id], utcnow())


@bp.get("/consultations/<int:round_id>/responses")
@bp.response(200, schemas.Responses)
def round_responses(round_id: int):
    """The organisations' submitted responses with their documents, published when the
    round closes."""
    user = reader()
    found = _found(open_data.round_(user, round_id))
    if not (open_data.responses_are_public(found) or policy.can_manage_round(user, found)):
        return {"items": []}
    return {
        "items": [
            {
                "id": p.response.id,
                "organisation": _org_ref(p.organisation),
                "version": p.version.number,
                "submitted_at": iso_utc(p.version.submitted_at),
                "answers": [
                    {"question_id": qid, "html": html} for qid, html in sorted(p.answers.items())
                ],
                # the latest version's documents: one decision for all of them, no query each
                "documents": [document_dict(d) for d in p.version.documents]
                if policy.can_read_latest_version_documents(user, found, p.response)
                else [],
            }
            for p in consultation_queries.latest_versions(found.id)
        ]
    }


@bp.get("/consultations/<int:round_id>/feedback")
@bp.response(200, schemas.FeedbackList)
def round_feedback(round_id: int):
    """The city's feedback per question, once published."""
    from ..models import RoundState

    user = reader()
    found = _found(open_data.round_(user, round_id))
    if found.state != RoundState.published and not policy.can_manage_round(user, found):
        return {"items": []}
    feedback = consultation_queries.feedback_by_question(found.id)
    return {
        "items": [
            {
                "id": f.id,
                "question_id": f.question_id,
                "heard_html": f.heard_html,
                "action_html": f.action_html,
                "updated_at": iso_utc(f.updated_at),
                "source_response_ids": [r.id for r in f.sources],
            }
            for _qid, f in sorted(feedback.items())
        ]
    }


def _responding_token(round_id: int) -> ApiToken:
    """The request's token if it may answer consultations for its organisation."""
    token = current_token()
    if token is None:
        raise AuthRequired(_("This needs an access token."))
    if token.organisation is None or not policy.can_respond_with_token(token):
        raise Forbidden(_("This token may not answer consultations."))
    if round_id > open_data.MAX_ID:
        raise NotFound(_("Nothing here."))
    return token


def _own_answers(
    round_: ConsultationRound, response: ConsultationResponse | None
) -> list[dict[str, Any]]:
    """Every question's answer as stored, with the digest a save sends back as its base."""
    stored = {a.question_id: a.body for a in response.answers} if response else {}
    return [
        {
            "question_id": q.id,
            "text": stored.get(q.id, ""),
            "digest": consultation_service.text_digest(stored.get(q.id, "")),
        }
        for q in round_.questions
    ]


@bp.get("/consultations/<int:round_id>/responses/own")
@bp.response(200, schemas.OwnResponse)
@bp.doc(security=[{"token": []}])
def own_response(round_id: int):
    """The token's organisation's working response, each answer with its digest: needs
    `respond`.

    Send each answer's `digest` back as its `base` when saving, so that a colleague's text
    changed meanwhile (in the browser, or by another token) is not overwritten unseen."""
    token = _responding_token(round_id)
    organisation = token.organisation
    assert organisation is not None
    round_ = consultation_queries.get_round(token.user, round_id)
    policy.require(
        policy.can_draft_response(token.user, round_, organisation),
        _("Only members of a verified organisation that the round asks can respond for it."),
    )
    response = consultation_queries.own_response(round_id, organisation.id)
    return {
        "id": response.id if response else None,
        "round_id": round_.id,
        "organisation": _org_ref(organisation),
        "status": response.status.value if response else None,
        "version_count": response.version_count if response else 0,
        "updated_at": iso_utc(response.updated_at) if response else None,
        "answers": _own_answers(round_, response),
        "draft": consultation_service.stored_fingerprint(response),
    }


@bp.post("/consultations/<int:round_id>/responses")
@bp.arguments(schemas.ResponseInput)
@bp.response(200, schemas.ResponseSaved)
@bp.alt_response(
    409,
    schema=schemas.Error,
    description=(
        "An answer was changed by someone else since its `base` (the empty answer when "
        "none is sent), and is changed here too: nothing is saved; `error.conflicts` lists "
        "each such answer's stored "
        "text and its digest. Merge, and send again with that digest as the base. "
        "`draft_changed`: with `submit`, the draft is no longer the `draft` sent (an "
        "answer or document changed since it was read); nothing is saved. Also: the "
        "round is not open."
    ),
)
@bp.doc(security=[{"token": []}])
def save_response(data, round_id: int):
    """Save (and with `submit`, file) the token's organisation's response: needs `respond`.

    An answer with a `base` (its digest as read from GET .../responses/own) is checked as
    the web form checks it, and a 409 saves nothing. An answer without one is checked as
    if its base were the empty answer: it fills a question nobody has answered and is a
    409 where a colleague has written something, so nobody's text is overwritten unseen."""
    token = _responding_token(round_id)
    organisation = token.organisation
    assert organisation is not None
    answers = {a["question_id"]: a["text"] for a in data["answers"]}
    loaded = {a["question_id"]: a.get("base") for a in data["answers"]}  # none: read empty
    try:
        response = consultation_service.save_response(
            token.user,
            round_id,
            organisation.id,
            answers,
            submit=data["submit"],
            loaded=loaded,
            confirmed=data.get("draft") if data["submit"] else None,
        )
    except consultation_service.EditConflict as err:
        discard_changes()
        conflicts = [
            {
                "question_id": int(name.removeprefix("answer-")),
                "current": text,
                "digest": err.digests[name],
            }
            for name, text in err.current.items()
        ]
        body = error_body(err.code, err.message)
        body["error"]["conflicts"] = conflicts
        return jsonify(body), err.status
    round_ = consultation_queries.get_round(token.user, round_id)
    return {
        "id": response.id,
        "round_id": response.round_id,
        "organisation": _org_ref(organisation),
        "status": response.status.value,
        "version_count": response.version_count,
        "answers": _own_answers(round_, response),
        "draft": consultation_service.stored_fingerprint(response),
    }


# --- organisations, actions, indicators -------------------------------------------


@bp.get("/organisations")
@bp.arguments(schemas.PageArgs, location="query")
@bp.response(200, schemas.OrganisationPage)
def organisations(args):
    """Organisations (their public fields), by id."""
    page = open_data.organisations(args["after"], args["limit"])
    return _page(page, [organisation_dict(o) for o in page.items], "organisations")


@bp.get("/organisations/<slug>")
@bp.response(200, schemas.Organisation)
def organisation(slug: str):
    """One organisation."""
    return organisation_dict(_found(open_data.organisation(_slug(slug))))


@bp.get("/actions")
@bp.arguments(schemas.ChangesPageArgs, location="query")
@bp.response(200, schemas.ActionPage)
@RESYNC
def actions(args):
    """Follow-up actions, by id.

    With `changed_since`, only those whose public state changed at or after it: proposed,
    accepted or declined, status, progress or due date changed, an update posted, shown
    again after a moderator hid it, its thread moved or its forum's visibility changed;
    and, in `removed`, the ids of those you could read and no longer can since then."""
    now = utcnow()
    page = open_data.actions(reader(), args["after"], args["limit"], args["changed_since"])
    body = _changes_page(page, [action_dict(a) for a in page.items], "actions", args, now)
    body["removed"] = list(page.removed)
    return body


@bp.get("/actions/<int:action_id>")
@bp.response(200, schemas.Action)
def action(action_id: int):
    """One action."""
    return action_dict(_found(open_data.action(reader(), action_id)))


@bp.get("/indicators")
@bp.arguments(schemas.YearArgs, location="query")
@bp.response(200, schemas.Indicators)
def indicators(args):
    """The follow-up dashboard's figures for one year (this year by default)."""
    now = utcnow()
    today = follow_up_service.today(now)
    year = args["year"] or today.year  # the city's year, as the pages and the figures count it
    # the figures of what the token's owner may read, as the pages and the action list
    board = follow_up_queries.dashboard(year, today, now, user=reader())
    return {
        "year": board.year,
        "commitments": [
            {
                "commitment": {"slug": c.slug, "url": _api("commitment", slug=c.slug)},
                "figures": _figures(i),
            }
            for c, i in board.rows
        ],
        "total": _figures(board.total),
    }


def _figures(i) -> dict[str, Any]:  # noqa: ANN001
    return {
        "dialogues": i.dialogues,
        "messages": i.messages,
        "organisations": i.organisations,
        "rounds": i.rounds,
        "closed_rounds": i.closed_rounds,
        "feedback_published": i.feedback_published,
        "feedback_share": i.feedback_share,
        "median_feedback_days": i.median_feedback_days,
        "median_decision_weeks": i.median_decision_weeks,
        "actions": dict(i.actions),
        "overdue": i.overdue,
    }
