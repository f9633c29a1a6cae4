"""The search page: /search?q=... with filters, order and keyset pages."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..errors import Invalid
from ..extensions import db
from ..formatting import page_language
from ..ids import whole_id
from ..models import Commitment, Department, Organisation, OrganisationStatus
from ..queries import forums as forum_queries
from ..queries import search as search_queries

bp = Blueprint("search", __name__)

KIND_LABELS = {
    "message": _l("Messages"),
    "thread": _l("Threads"),
    "forum": _l("Forums"),
    "round": _l("Consultation rounds"),
    "response": _l("Consultation responses"),
    "feedback": _l("Feedback"),
    "organisation": _l("Organisations"),
    "action": _l("Actions"),
}


def _date(name: str, errors: dict[str, str]) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = str(_l("Write the date as YYYY-MM-DD."))
        return None


def _int(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    return whole_id(raw)


def params_from_args(errors: dict[str, str]) -> search_queries.SearchParams:
    """Read the query string into SearchParams; bad values become field errors."""
    ids = search_queries.resolve_filters(
        request.args.get("forum"),
        request.args.get("commitment"),
        request.args.get("organisation"),
        request.args.get("author"),
    )
    kind = request.args.get("kind") or None
    if kind and kind not in KIND_LABELS:
        errors["kind"] = str(_l("Choose a kind from the list."))
        kind = None
    order = request.args.get("order") or "relevance"
    if order not in search_queries.ORDERS:
        errors["order"] = str(_l("Choose an order from the list."))
        order = "relevance"
    return search_queries.SearchParams(
        q=(request.args.get("q") or "")[:200],
        kind=kind,
        department_id=_int("department"),
        date_from=_date("from", errors),
        date_to=_date("to", errors),
        order=order,
        cursor=request.args.get("cursor") or None,
        forum_id=ids["forum_id"],
        commitment_id=ids["commitment_id"],
        organisation_id=ids["organisation_id"],
        author_id=ids["author_id"],
    )


# What the search form sends (and "More results" carries on); anything else is dropped, so
# a stray `_method` or `_anchor` cannot reach url_for.
SEARCH_ARGS = frozenset(
    ("q", "kind", "forum", "commitment", "department", "organisation", "author", "from", "to")
    + ("order",)
)


@bp.get("/search")
def index():
    """Search everything the reader may read."""
    user = current_user if current_user.is_authenticated else None
    errors: dict[str, str] = {}
    params = params_from_args(errors)
    page = search_queries.SearchPage()
    if params.q.strip():
        try:
            page = search_queries.search(user, params)
        except Invalid as err:
            errors[err.field or "q"] = err.message
    next_args = None
    if page.next_cursor:
        next_args = {k: v for k, v in request.args.items() if v and k in SEARCH_ARGS}
        next_args["cursor"] = page.next_cursor
    status = 400 if errors else 200
    return render_template(
        "search/index.html",
        params=params,
        args=request.args,
        page=page,
        errors=errors,
        next_args=next_args,
        kind_labels=KIND_LABELS,
        forums=forum_queries.visible_forums(user),
        commitments=db.session.scalars(select(Commitment).order_by(Commitment.position)).all(),
        departments=db.session.scalars(select(Department).order_by(Department.name)).all(),
        organisations=db.session.scalars(
            select(Organisation)
            .where(Organisation.status == OrganisationStatus.verified)
            .order_by(Organisation.name)
        ).all(),
        lang=page_language(),
    ), status
