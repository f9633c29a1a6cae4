"""Search: one interface, two backends (PostgreSQL full text, SQLite FTS5).

`search(user, params)` returns a page of hits the user may read, newest first or
best match first, paged by a keyset cursor. What the user may read is decided in
the query itself (joins to the live forums, messages and rounds), never by
dropping rows afterwards, so a page is always full and counts never leak.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import (
    ColumnElement,
    Double,
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, aggregate_order_by
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.orm import aliased

from .. import policy, stemming
from ..errors import Invalid
from ..extensions import db
from ..formatting import stockholm_day_start
from ..ids import MAX_ID
from ..links import path_for
from ..models import (
    Action,
    ConsultationFeedback,
    ConsultationResponse,
    ConsultationRound,
    Forum,
    Message,
    MessageState,
    Organisation,
    OrganisationStatus,
    ResponseVersion,
    RoundState,
    SearchEntry,
    Thread,
    User,
    Visibility,
)
from ..models.agreement import Commitment
from ..models.base import UTCDateTime, utcnow
from ..models.consultations import round_commitments
from ..models.follow_up import action_commitments
from ..models.forums import forum_commitments, forum_members, forum_moderators, thread_commitments
from ..models.search import KINDS

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
ORDERS = ("relevance", "newest")
EXCERPT_LENGTH = 240


@dataclass
class SearchParams:
    """What was asked: words, filters, order and where the page starts."""

    q: str = ""
    kind: str | None = None
    forum_id: int | None = None
    commitment_id: int | None = None
    department_id: int | None = None
    organisation_id: int | None = None
    author_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    order: str = "relevance"
    cursor: str | None = None
    limit: int = PAGE_SIZE


@dataclass
class Hit:
    """One result: what it is, where it lives, and a highlighted excerpt."""

    kind: str
    object_id: int
    title: str
    title_html: Markup
    excerpt_html: Markup
    created_at: datetime
    forum_id: int | None
    thread_id: int | None
    round_id: int | None
    organisation_id: int | None
    score: float
    url: str = ""


@dataclass
class SearchPage:
    hits: list[Hit] = field(default_factory=list)
    next_cursor: str | None = None
    terms: list[str] = field(default_factory=list)


# --- who may read what, as SQL -------------------------------------------------


@dataclass(frozen=True)
class Who:
    """What the readability SQL needs to know about a reader (values or bind parameters)."""

    logged_in: bool
    admin: bool
    site_moderator: bool
    official: bool
    user_id: Any = None
    department_id: Any = None


def who(user: User | None) -> Who:
    logged_in = user is not None and bool(getattr(user, "is_authenticated", False))
    return Who(
        logged_in=logged_in,
        admin=policy.is_admin(user),
        site_moderator=policy.is_site_moderator(user),
        official=policy.is_official(user),
        user_id=user.id if logged_in else None,  # type: ignore[union-attr]
        department_id=user.department_id if logged_in else None,  # type: ignore[union-attr]
    )


def _as_who(user: User | Who | None) -> Who:
    return user if isinstance(user, Who) else who(user)


def forum_readable(user: User | Who | None, forum: Any) -> ColumnElement[bool]:
    """SQL for policy.can_view_forum on the forums alias `forum`."""
    return readable_as_forum(user, forum.id, forum.visibility)


def readable_as_forum(
    user: User | Who | None, forum_id: Any, visibility: Any
) -> ColumnElement[bool]:
    """SQL for policy.can_view_forum of the forum `forum_id` were it of `visibility` (columns):
    a forum's own, or the one kept of a thread's forum before it changed."""
    w = _as_who(user)
    if w.site_moderator:
        return true()
    if not w.logged_in:
        return visibility == Visibility.public
    return or_(
        visibility.in_([Visibility.public, Visibility.members]),
        exists().where(forum_members.c.forum_id == forum_id, forum_members.c.user_id == w.user_id),
        exists().where(
            forum_moderators.c.forum_id == forum_id, forum_moderators.c.user_id == w.user_id
        ),
    )


def manages_round(user: User | Who | None, round_: Any) -> ColumnElement[bool]:
    """SQL for policy.can_manage_round."""
    w = _as_who(user)
    if w.admin:
        return true()
    if w.official:
        return round_.department_id == w.department_id
    return false()


def round_readable(user: User | Who | None, round_: Any) -> ColumnElement[bool]:
    """SQL for policy.can_view_round: drafts only for those who manage them."""
    return or_(round_.state != RoundState.draft, manages_round(user, round_))


def thread_readable(user: User | Who | None, thread: Any) -> ColumnElement[bool]:
    """SQL for policy.can_view_thread: its forum, and its round if it is a round's thread."""
    forum = aliased(Forum)
    round_ = aliased(ConsultationRound)
    return and_(
        exists().where(forum.id == thread.forum_id, forum_readable(user, forum)),
        not_(exists().where(round_.thread_id == thread.id, not_(round_readable(user, round_)))),
    )


@lru_cache(maxsize=32)
def _readable_template(shape: Who) -> ColumnElement[bool]:
    """readable() for one kind of reader, with the reader and the time as bind parameters.

    Building this expression costs more than running the query on a small index,
    and a fresh one misses SQLAlchemy's statement cache; one per shape of reader
    is built once per process.
    """
    return _readable(
        Who(
            shape.logged_in,
            shape.admin,
            shape.site_moderator,
            shape.official,
            bindparam("reader_id", type_=Integer),
            bindparam("reader_department", type_=Integer),
        ),
        bindparam("reader_now", type_=UTCDateTime),
    )


def readable_params(user: User | None, now: datetime) -> tuple[ColumnElement[bool], dict]:
    """The cached readability clause for `user` and the values of its parameters."""
    w = who(user)
    shape = Who(w.logged_in, w.admin, w.site_moderator, w.official)
    values = {"reader_id": w.user_id, "reader_department": w.department_id, "reader_now": now}
    return _readable_template(shape), values


def readable(user: User | None, now: datetime) -> ColumnElement[bool]:
    """The entries `user` may read: one clause per kind, OR-ed."""
    return _readable(who(user), now)


def _readable(user: Who, now: Any) -> ColumnElement[bool]:
    entry = SearchEntry
    message, thread, forum = aliased(Message), aliased(Thread), aliased(Forum)
    round_, response = aliased(ConsultationRound), aliased(ConsultationResponse)
    feedback, org, action = aliased(ConsultationFeedback), aliased(Organisation), aliased(Action)
    responses_public = or_(
        round_.state.in_([RoundState.closed, RoundState.published]),
        and_(round_.state == RoundState.open, round_.closes_at <= now),
        manages_round(user, round_),
    )
    clauses = [
        and_(
            entry.kind == "message",
            exists()
            .where(message.id == entry.object_id, message.state == MessageState.visible)
            .where(thread.id == message.thread_id, thread_readable(user, thread)),
        ),
        and_(
            entry.kind == "thread",
            exists().where(thread.id == entry.object_id, thread_readable(user, thread)),
        ),
        and_(
            entry.kind == "forum",
            exists().where(forum.id == entry.object_id, forum_readable(user, forum)),
        ),
        and_(
            entry.kind == "round",
            exists().where(round_.id == entry.object_id, round_readable(user, round_)),
        ),
        and_(
            entry.kind == "response",
            exists()
            .where(response.id == entry.object_id, round_.id == response.round_id)
            .where(round_readable(user, round_), responses_public)
            .where(exists().where(ResponseVersion.response_id == response.id)),
        ),
        and_(
            entry.kind == "feedback",
            exists()
            .where(feedback.id == entry.object_id, round_.id == feedback.round_id)
            .where(or_(round_.state == RoundState.published, manages_round(user, round_))),
        ),
        and_(
            entry.kind == "organisation",
            exists().where(
                org.id == entry.object_id,
                true() if user.admin else org.status != OrganisationStatus.rejected,
            ),
        ),
        and_(
            entry.kind == "action",
            exists().where(
                action.id == entry.object_id,
                action.hidden_at.is_(None),  # hidden by a moderator: not found by anyone
                or_(
                    action.source_thread_id.is_(None),
                    exists().where(
                        thread.id == action.source_thread_id, thread_readable(user, thread)
                    ),
                ),
            ),
        ),
    ]
    return or_(*clauses)


# --- filters -----------------------------------------------------------------


def _commitment_filter(commitment_id: int) -> ColumnElement[bool]:
    entry = SearchEntry
    return or_(
        and_(
            entry.kind.in_(["message", "thread"]),
            exists().where(
                thread_commitments.c.thread_id == entry.thread_id,
                thread_commitments.c.commitment_id == commitment_id,
            ),
        ),
        and_(
            entry.kind == "forum",
            exists().where(
                forum_commitments.c.forum_id == entry.object_id,
                forum_commitments.c.commitment_id == commitment_id,
            ),
        ),
        and_(
            entry.kind.in_(["round", "response", "feedback"]),
            exists().where(
                round_commitments.c.round_id == entry.round_id,
                round_commitments.c.commitment_id == commitment_id,
            ),
        ),
        and_(
            entry.kind == "action",
            exists().where(
                action_commitments.c.action_id == entry.object_id,
                action_commitments.c.commitment_id == commitment_id,
            ),
        ),
    )


def _filters(params: SearchParams) -> list[ColumnElement[bool]]:
    entry = SearchEntry
    out: list[ColumnElement[bool]] = []
    if params.kind:
        out.append(entry.kind == params.kind)
    if params.forum_id:
        out.append(entry.forum_id == params.forum_id)
    if params.commitment_id:
        out.append(_commitment_filter(params.commitment_id))
    if params.department_id:
        out.append(entry.department_id == params.department_id)
    if params.organisation_id:
        out.append(entry.organisation_id == params.organisation_id)
    if params.author_id:
        out.append(entry.author_id == params.author_id)
    return out


def _dates(params: SearchParams) -> list[ColumnElement[bool]]:
    """The date range, a range of the (created_at, id) index."""
    out: list[ColumnElement[bool]] = []
    start = stockholm_day_start(params.date_from) if params.date_from else None
    if start is not None:
        out.append(SearchEntry.created_at >= start)
    end = stockholm_day_start(params.date_to, later=1) if params.date_to else None
    if end is not None:
        out.append(SearchEntry.created_at < end)
    return out


# --- cursors -----------------------------------------------------------------


def encode_cursor(
    order: str, key: float | str, entry_id: int, stats: list[float] | None = None
) -> str:
    """A cursor after (key, entry id); `stats`: what the scores were computed with (SQLite's
    best match: the average length and the terms' weights), for the next pages to use."""
    raw = json.dumps(
        [order, key, entry_id, *([stats] if stats else [])], separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _number(value: Any) -> bool:
    # a bool is an int to Python (True == 1) but no score a cursor holds
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def cursor_stats(cursor: str) -> list[float] | None:
    """The `stats` a (valid) cursor carries, if any."""
    padded = cursor + "=" * (-len(cursor) % 4)
    _kind, _key, _entry_id, *rest = json.loads(base64.urlsafe_b64decode(padded.encode()))
    return [float(value) for value in rest[0]] if rest else None


def decode_cursor(cursor: str, order: str) -> tuple[Any, int]:
    """(sort key, entry id) from a cursor this module made; Invalid for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, key, entry_id, *rest = json.loads(base64.urlsafe_b64decode(padded.encode()))
        # a bool is an int to Python (True == 1) but no id or score a cursor holds
        if kind != order or not isinstance(entry_id, int) or isinstance(entry_id, bool):
            raise ValueError
        if rest and (
            len(rest) > 1
            or order != "relevance"
            or not isinstance(rest[0], list)
            or not 0 < len(rest[0]) <= stemming.MAX_QUERY_TERMS + 1
            or not all(_number(value) and value > 0 for value in rest[0])
        ):
            raise ValueError
        if not 0 < entry_id <= MAX_ID:  # beyond the id column: a 404 from the database
            raise ValueError
        if order == "newest":
            key = datetime.fromisoformat(key)
            if key.tzinfo is None:
                raise ValueError
            key = key.astimezone(UTC)  # a time no UTC date holds (0001-01-01+14:00) is refused
        elif not _number(key):
            raise ValueError
        return key, entry_id
    except (
        ValueError,
        TypeError,
        OverflowError,  # a score of 10**400 is no float
        binascii.Error,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ):
        raise Invalid(
            _("The page link is not valid; start the search again."), field="cursor"
        ) from None


# --- the two backends ------------------------------------------------------------


SEARCH_FTS = table("search_fts", column("rowid"), column("title"), column("body"))

# "Best match" ranks at most this many matches: the newest ones, found by walking the
# index in entry-id order with the match and visibility filters, so the work per query
# does not grow with the number of messages that contain a common word.
CANDIDATES = 1000


def _postgres_tsquery(terms: list[str]) -> ColumnElement[Any]:
    """The prefixes as tsquery input, used as they are: to_tsquery('forum_swedish', ...)
    stemmed the stems again and dropped a prefix that was a stop word ("våren" is "var",
    and the query that was left matched everything)."""
    return cast(bindparam("tsquery", stemming.tsquery(terms), type_=Text), TSQUERY)


def _postgres_match(query: Select, terms: list[str]) -> Select:
    document: ColumnElement[Any] = literal_column("search_entries.document")
    return query.where(document.op("@@")(_postgres_tsquery(terms)))


def _window(
    order: list[ColumnElement[Any]], where: list[ColumnElement[bool]], size: int, terms: list[str]
) -> Any:
    """PostgreSQL: the newest `size` entries in `order`, each with whether it matches.

    The GIN index cannot return entries in order and PostgreSQL cannot estimate a
    prefix query, so left alone it reads every match of a common word. Walking a
    window of the (created_at, id) or primary-key index instead, and testing the
    match on each row as it comes, stops as soon as a page or the candidates are found.
    """
    document: ColumnElement[Any] = literal_column("search_entries.document")
    hit = document.op("@@")(_postgres_tsquery(terms))
    return (
        select(SearchEntry.id, SearchEntry.created_at, hit.label("hit"))
        .where(*where)
        .order_by(*order)
        .limit(size)
        .subquery()
    )


def _matching(query: Select, terms: list[str], ids: list[int] | None) -> Select:
    """PostgreSQL: `query` limited to the matches, or to `ids` when they are known to match."""
    if ids is None:
        return _postgres_match(query, terms)
    # one array parameter: an IN list of thousands costs more to build and plan than to run
    return query.where(SearchEntry.id == any_(bindparam("match_ids", ids, type_=ARRAY(Integer))))


def _postgres_newest(
    after: ColumnElement[bool] | None,
    window: int | None,
    terms: list[str],
    ids: list[int] | None = None,
) -> Select:
    """PostgreSQL: matches newest first, after the cursor position `after`."""
    query: Select = select(SearchEntry, literal_column("0.0").label("score"))
    if window is None:
        if after is not None:
            query = query.where(after)
        return _matching(query, terms, ids).order_by(
            SearchEntry.created_at.desc(), SearchEntry.id.desc()
        )
    order: list[ColumnElement[Any]] = [SearchEntry.created_at.desc(), SearchEntry.id.desc()]
    recent = _window(order, [after] if after is not None else [], window, terms)
    return (
        query.join(recent, recent.c.id == SearchEntry.id)
        .where(recent.c.hit)
        .order_by(recent.c.created_at.desc(), recent.c.id.desc())
    )


def _sqlite_from_hint(self: SQLiteCompiler, table: Any, text: str | None) -> str | None:
    return text


# SQLAlchemy's SQLite compiler drops table hints; SQLite's one table hint is INDEXED BY.
SQLiteCompiler.get_from_hint_text = _sqlite_from_hint  # type: ignore[method-assign,assignment]


def _postgres_best(
    terms: list[str],
    conditions: list[ColumnElement[bool]],
    window: int | None,
    ids: list[int] | None = None,
) -> tuple[Select, ColumnElement[float]]:
    """PostgreSQL: best match first among the CANDIDATES newest readable matches.

    Ranking reads every ranked row's words, so only a bounded set is ranked: the
    candidates come from walking a window of the primary key (or the GIN index's
    matches) with the visibility and the filters applied, and only they are scored.
    The query also returns how many candidates there were, so a window that held
    too few can be widened.
    """
    document: ColumnElement[Any] = literal_column("search_entries.document")
    inner: Select = select(SearchEntry.id, document.label("document"))
    order: ColumnElement[Any]
    if window is None:
        inner = _matching(inner, terms, ids)
        order = SearchEntry.id  # type: ignore[assignment]
    else:
        recent = _window([SearchEntry.id.desc()], [], window, terms)
        inner = inner.join(recent, recent.c.id == SearchEntry.id).where(recent.c.hit)
        order = recent.c.id
    limited = inner.where(*conditions).order_by(order.desc()).limit(CANDIDATES).subquery()
    candidates = select(limited, func.count().over().label("candidates")).subquery()
    # double precision: the cursor carries the exact value back for the keyset comparison
    score: ColumnElement[float] = func.ts_rank_cd(
        candidates.c.document, _postgres_tsquery(terms)
    ).cast(Double)
    query = (
        select(SearchEntry, score.label("score"), candidates.c.candidates)
        .join(candidates, candidates.c.id == SearchEntry.id)
        .order_by(score.desc(), SearchEntry.id.desc())
    )
    return query, score


# PostgreSQL looks for matches in the newest 20,000 entries first, then in all of them.
WINDOWS: tuple[int | None, ...] = (20_000, None)
# A word with at most this many entries is looked up by their ids, and for best match a
# more common one by the ids of its newest this many: PostgreSQL cannot estimate a prefix
# query, and a list of ids is what keeps it from preparing the visibility checks for
# every message (a hashed subplan) and reading every match to rank the newest.
FEW = 5_000


def _postgres_match_ids(terms: list[str], ranked: bool) -> tuple[list[int], bool]:
    """The ids of the matches when there are at most FEW, else (to rank the newest) the
    newest FEW or (newest first, which orders by time) none; and whether they are all
    (PostgreSQL).

    An aggregate, not a LIMIT: with a LIMIT and no estimate PostgreSQL would scan
    the table hoping to stop early; an aggregate makes it read the GIN index. Only
    ranking sorts the ids.
    """
    ids: Any
    if ranked:
        newest_first = aggregate_order_by(SearchEntry.id, SearchEntry.id.desc())
        ids = func.array_agg(newest_first, type_=ARRAY(Integer))[1:FEW]
    else:
        ids = case((func.count() <= FEW, func.array_agg(SearchEntry.id)), else_=None)
    count, found = db.session.execute(_postgres_match(select(func.count(), ids), terms)).one()
    return list(found or []), count <= FEW


def _after_newest(cursor: str) -> ColumnElement[bool]:
    """The entries after a "newest" cursor, with a bound the time index can seek to."""
    at, entry_id = decode_cursor(cursor, "newest")
    return and_(
        SearchEntry.created_at <= at,
        or_(SearchEntry.created_at < at, SearchEntry.id < entry_id),
    )


def _rows(
    terms: list[str],
    params: SearchParams,
    visible: ColumnElement[bool],
    values: dict[str, Any],
    limit: int,
) -> tuple[list[Any], list[float] | None]:
    """The page's (entry, score) rows, plus one to tell whether there is a next page, and
    the statistics the scores were computed with, for the next page's cursor (SQLite)."""
    if db.engine.dialect.name == "sqlite":
        return _sqlite_rows(terms, params, visible, values, limit)
    conditions = [visible, *_dates(params), *_filters(params)]

    def run(window: int | None, ids: list[int] | None = None) -> tuple[Sequence[Any], bool]:
        """The rows, and whether they are enough (a page, or all the candidates)."""
        if params.order == "newest":
            after = _after_newest(params.cursor) if params.cursor else None
            query = _postgres_newest(after, window, terms, ids).where(*conditions)
            rows = db.session.execute(query.limit(limit + 1), values).all()
            return rows, len(rows) > limit
        query, score = _postgres_best(terms, conditions, window, ids)
        if params.cursor:
            best, entry_id = decode_cursor(params.cursor, "relevance")
            query = query.where(or_(score < best, and_(score == best, SearchEntry.id < entry_id)))
        rows = db.session.execute(query.limit(limit + 1), values).all()
        return rows, bool(rows) and rows[0].candidates >= CANDIDATES

    rows: Sequence[Any] = []
    for window in WINDOWS:
        if window is not None:
            rows, enough = run(window)
            if enough:
                break
            continue
        # A rare word by its ids; best match ranks the newest matches, so the newest FEW
        # ids hold them unless too few of those are readable.
        ids, complete = _postgres_match_ids(terms, ranked=params.order == "relevance")
        if complete or params.order == "relevance":
            rows, enough = run(None, ids)
            if complete or enough:
                break
        rows, _enough = run(None)
    # ts_rank_cd scores a document by itself: the next page compares the same numbers
    return [(row[0], row[1]) for row in rows], None


# --- SQLite: FTS5 without its two costs that grow with the data ---------------------
#
# FTS5 answers a prefix query ("motesplat"*) by merging the doclists of every stem with
# that prefix before returning the first row, and its bm25() counts each phrase's rows
# over the whole doclist: both read every match of a common word. So a query's prefixes
# are looked up in `search_terms` and matched as the whole stems they stand for (FTS5
# streams those in rowid order and stops at a LIMIT), and the candidates are ranked here.

# A prefix that stands for more stems than this (a very short word) is left to FTS5.
MAX_STEMS_PER_TERM = 64
_STEMS = text(
    "SELECT term FROM search_terms WHERE term >= :low AND term < :high ORDER BY term LIMIT :n"
)
# Okapi BM25 as FTS5's bm25() computes it, titles weighing 10 times the body.
BM25_K1, BM25_B, TITLE_WEIGHT = 1.2, 0.75, 10.0
# What reading newest-first costs, in microseconds on this machine (bench/search.py):
# per match when all matches are read and sorted by time, per match collected into a
# set, and per entry walked on the time index, testing membership in that set or
# reading and testing the entry's stems.
SORT_COST, COLLECT_COST, STEP_COST, STEMS_COST = 3.0, 0.5, 1.5, 8.0


_WHOLE_STEMS = text("SELECT term FROM search_terms WHERE term IN :terms ORDER BY term").bindparams(
    bindparam("terms", expanding=True)
)


def _sqlite_groups(terms: list[str]) -> list[str] | None:
    """Each term as an FTS5 query of the stems it stands for (those with its prefix, and
    the whole stems of its base forms); None when one matches nothing."""
    groups = []
    for term in terms:
        stems = db.session.scalars(
            _STEMS, {"low": term, "high": term + "\U0010ffff", "n": MAX_STEMS_PER_TERM + 1}
        ).all()
        whole = stemming.whole_stems(term)
        found = db.session.scalars(_WHOLE_STEMS, {"terms": list(whole)}).all() if whole else []
        if not stems and not found:
            return None
        quoted = [stemming.fts_quoted(stem) for stem in [*stems, *found]]
        if len(stems) > MAX_STEMS_PER_TERM:
            quoted = [stemming.fts_quoted(term) + "*", *quoted[len(stems) :]]
            if len(quoted) == 1:
                groups.append(quoted[0])
                continue
        groups.append("(" + " OR ".join(quoted) + ")")
    return groups


def _fts_match(expression: str) -> ColumnElement[bool]:
    fts: ColumnElement[Any] = literal_column("search_fts")
    return fts.op("MATCH")(expression)


def _newest_matches(expression: str) -> tuple[int, int]:
    """How many of the newest CANDIDATES matches there are, and the oldest one's entry id
    (reading at most that many rowids from the doclists)."""
    newest = (
        select(SEARCH_FTS.c.rowid)
        .where(_fts_match(expression))
        .order_by(SEARCH_FTS.c.rowid.desc())
        .limit(CANDIDATES)
        .subquery()
    )
    count, oldest = db.session.execute(select(func.count(), func.min(newest.c.rowid))).one()
    return count, oldest or 0


def _newest_entry_id() -> int:
    return db.session.scalar(select(func.max(SearchEntry.id))) or 0


def _estimated_matches(expression: str, newest_id: int) -> tuple[int, float]:
    """(estimated number of matches, share of entries that match), from how far back the
    newest CANDIDATES matches reach; exact when there are fewer."""
    count, oldest = _newest_matches(expression)
    if count < CANDIDATES:
        return count, count / max(newest_id, 1)
    share = count / max(newest_id - oldest + 1, 1)
    return round(share * newest_id), share


def _occurrences(joined: str, stems: list[str], term: str) -> int:
    """How many of `stems` (`joined`: " " + the stems, space-separated) `term` matches:
    those that start with it, and its whole stems."""
    # counting " term" in " stem stem ..." counts the stems that start with the term
    count = joined.count(" " + term)
    for whole in stemming.whole_stems(term):
        count += stems.count(whole)
    return count


def _contains(title: str, body: str, terms: list[str]) -> bool:
    """Whether FTS5 would match the stems: each term starts one or is one of its whole stems."""
    stems = stemming.fts_tokens(title) + stemming.fts_tokens(body)
    joined = " " + " ".join(stems)
    return all(_occurrences(joined, stems, term) for term in terms)


def _newest_first(query: Select, where: list[ColumnElement[bool]], walk: bool = False) -> Select:
    """`query` over the entries in `where`, newest first; `walk`: along the time index."""
    if walk:
        query = query.with_hint(SearchEntry, "INDEXED BY ix_search_entries_created_id", "sqlite")
    return query.where(*where).order_by(SearchEntry.created_at.desc(), SearchEntry.id.desc())


def _streamed(query: Select) -> Generator[Sequence[Any], None, None]:
    """The rows of `query` a few hundred at a time (fetchmany, not a call per row), the
    statement closed when the reader stops early."""
    result = db.session.connection().execute(query)
    try:
        yield from result.partitions(256)
    finally:
        result.close()


def _walked_matches(
    terms: list[str], where: list[ColumnElement[bool]]
) -> Generator[int, None, None]:
    """Entry ids newest first that match `terms`: the time index walked, each entry's stems
    read from the FTS table by rowid and tested here (a probe of the FTS index per entry
    would parse the query each time)."""
    entries = select(SearchEntry.id, SEARCH_FTS.c.title, SEARCH_FTS.c.body).join(
        SEARCH_FTS, SEARCH_FTS.c.rowid == SearchEntry.id
    )
    for part in _streamed(_newest_first(entries, where, walk=True)):
        yield from (entry_id for entry_id, title, body in part if _contains(title, body, terms))


def _sorted_matches(
    expression: str, where: list[ColumnElement[bool]]
) -> Generator[int, None, None]:
    """Entry ids newest first that match `expression`: every match read from the doclists
    and sorted by time."""
    matches = select(SearchEntry.id).where(
        SearchEntry.id.in_(select(SEARCH_FTS.c.rowid).where(_fts_match(expression)))
    )
    for part in _streamed(_newest_first(matches, where)):
        yield from (entry_id for (entry_id,) in part)


_MATCHING_ROWIDS = "SELECT rowid FROM search_fts WHERE search_fts MATCH ?"


def _set_walked_matches(
    expression: str, where: list[ColumnElement[bool]]
) -> Generator[int, None, None]:
    """Entry ids newest first that match `expression`: the matches' rowids collected from
    the doclists into a set, then the time index (covering) walked until they turn up."""
    # Straight from the driver, in the same transaction: tens of thousands of rowids cost
    # more to pass through SQLAlchemy's result rows than to read.
    sqlite = db.session.connection().connection.driver_connection
    assert sqlite is not None, "a live connection has its driver's"
    matching = {rowid for (rowid,) in sqlite.execute(_MATCHING_ROWIDS, (expression,))}
    for part in _streamed(_newest_first(select(SearchEntry.id), where, walk=True)):
        yield from (entry_id for (entry_id,) in part if entry_id in matching)


def _first_passing(
    ids: Generator[int, None, None],
    conditions: list[ColumnElement[bool]],
    values: dict[str, Any],
    count: int,
) -> list[int]:
    """The first `count` of `ids` that pass `conditions` (the visibility and the filters), in
    order, checked a batch at a time: only the matches are checked, not every entry walked."""
    found: list[int] = []
    batch: list[int] = []
    size = count
    with closing(ids):
        for entry_id in ids:
            batch.append(entry_id)
            if len(batch) < size:
                continue
            found += _passing(batch, conditions, values)
            if len(found) >= count:
                return found[:count]
            batch, size = [], min(size * 2, 512)
    return (found + _passing(batch, conditions, values))[:count]


def _passing(
    batch: list[int], conditions: list[ColumnElement[bool]], values: dict[str, Any]
) -> list[int]:
    if not batch:
        return []
    # NOT INDEXED: by the ids (the rowid), never the kind index the visibility's ORs suggest
    passed = set(
        db.session.scalars(
            select(SearchEntry.id)
            .with_hint(SearchEntry, "NOT INDEXED", "sqlite")
            .where(SearchEntry.id.in_(batch), *conditions),
            values,
        )
    )
    return [entry_id for entry_id in batch if entry_id in passed]


def _sqlite_newest(
    terms: list[str],
    groups: list[str],
    bounds: list[ColumnElement[bool]],
    filters: list[ColumnElement[bool]],
    visible: ColumnElement[bool],
    values: dict[str, Any],
    limit: int,
) -> list[tuple[int, float]]:
    """(entry id, 0.0) newest first, read whichever way is estimated to cost least: every
    match sorted by time (a rare word, or filters that leave little to walk), the matches
    collected and the time index walked until they turn up (a middling word), or the time
    index walked testing each entry's stems (a common one: a page is near). The date range
    and the cursor bound the walk on the index, the filters are tested on the way, and
    only the matches that pass are checked for visibility, a batch at a time."""
    expression = " AND ".join(groups)
    where = [*bounds, *filters]
    newest_id = _newest_entry_id()
    matches, share = _estimated_matches(expression, newest_id)
    ids: Generator[int, None, None]
    if matches < CANDIDATES:
        ids = _sorted_matches(expression, where)
    else:
        walked = _walk_length(share, _filter_share(bounds, filters), limit + 1)
        costs = {
            "sorted": matches * SORT_COST,
            "set": matches * COLLECT_COST + walked * STEP_COST,
            "stems": walked * STEMS_COST,
        }
        cheapest = min(costs, key=costs.__getitem__)
        if cheapest == "stems":
            ids = _walked_matches(terms, where)
        elif cheapest == "set":
            ids = _set_walked_matches(expression, where)
        else:
            ids = _sorted_matches(expression, where)
    return [(entry_id, 0.0) for entry_id in _first_passing(ids, [visible], values, limit + 1)]


# How many entries of a walk are read to estimate the share that passes the filters.
SAMPLE = 1000


def _filter_share(
    bounds: list[ColumnElement[bool]], filters: list[ColumnElement[bool]]
) -> tuple[float, int | None]:
    """The share of a time-index walk's entries that pass `filters`, from its first SAMPLE
    entries, and how many entries the walk has when it has fewer (else None)."""
    if not (bounds or filters):
        return 1.0, None
    first = _newest_first(select(SearchEntry.id), bounds, walk=True).limit(SAMPLE)
    walked = select(func.count()).select_from(first.subquery()).scalar_subquery()
    passed = select(func.count()).where(SearchEntry.id.in_(first), *filters).scalar_subquery()
    sampled, passing = db.session.execute(select(walked, passed)).one()
    return (passing / sampled if sampled else 0.0), (sampled if sampled < SAMPLE else None)


def _walk_length(share: float, passing: tuple[float, int | None], wanted: int) -> float:
    """How many entries a walk of the time index reads to find `wanted` matches, when
    `share` of all entries match the words and `passing` is `_filter_share`'s answer."""
    filtered, whole = passing
    if whole is not None:
        return whole
    return wanted / (share * filtered) if share * filtered else float("inf")


def _with_entries(page: list[tuple[int, float]]) -> list[tuple[SearchEntry, float]]:
    """(entry, score) for each (entry id, score), in order, in one query."""
    if not page:
        return []
    ids = [entry_id for entry_id, _score in page]
    entries = {
        e.id: e for e in db.session.scalars(select(SearchEntry).where(SearchEntry.id.in_(ids)))
    }
    return [(entries[entry_id], score) for entry_id, score in page]


def _idf(expression: str, newest_id: int) -> float:
    """Okapi's inverse document frequency of one term, from its estimated number of matches."""
    matches, _share = _estimated_matches(expression, newest_id)
    value = math.log((newest_id - matches + 0.5) / (matches + 0.5))
    return value if value > 0 else 1e-6


def bm25_scores(
    terms: list[str],
    weights: list[float],
    documents: list[tuple[str, str]],
    average: float | None = None,
) -> list[float]:
    """Okapi BM25 of each (title stems, body stems) document for the query prefixes `terms`,
    each weighted by its inverse document frequency; the average length is `average`, or
    the documents' (`average_length`)."""
    counted = []
    for title, body in documents:
        title_stems, body_stems = stemming.fts_tokens(title), stemming.fts_tokens(body)
        title, body = " " + " ".join(title_stems), " " + " ".join(body_stems)
        hits = [
            TITLE_WEIGHT * _occurrences(title, title_stems, term)
            + _occurrences(body, body_stems, term)
            for term in terms
        ]
        counted.append((hits, len(title_stems) + len(body_stems)))
    if average is None:
        average = average_length(documents)
    scores = []
    for hits, length in counted:
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
        scores.append(
            sum(w * h * (BM25_K1 + 1) / (h + norm) for w, h in zip(weights, hits, strict=True))
        )
    return scores


def average_length(documents: list[tuple[str, str]]) -> float:
    """The average number of stems of (title stems, body stems) documents (at least 1)."""
    lengths = [
        len(stemming.fts_tokens(title)) + len(stemming.fts_tokens(body))
        for title, body in documents
    ]
    return max(sum(lengths) / len(lengths), 1.0) if lengths else 1.0


def _sqlite_best(
    terms: list[str],
    groups: list[str],
    cursor: str | None,
    dates: list[ColumnElement[bool]],
    filters: list[ColumnElement[bool]],
    visible: ColumnElement[bool],
    values: dict[str, Any],
    limit: int,
) -> tuple[list[tuple[int, float]], list[float]]:
    """(entry id, score) of a page, best match first among the CANDIDATES newest readable
    matches, ranked by `bm25_scores`, and the statistics they were scored with (the average
    length, each term's weight). The candidates come from FTS5 walked in descending
    rowid order (streamed, the visibility, dates and filters applied), or, when filters
    would leave few of those, from the time index walked like newest first.

    A next page scores with its cursor's statistics: computed again, they would change
    with every new entry (a new match changes the average, any entry the weights), so the
    scores would no longer be those the cursor's score was compared with, and the results
    between the old and the new score of the page's last one would be skipped or repeated."""
    expression = " AND ".join(groups)
    fts_columns = select(SearchEntry.id, SEARCH_FTS.c.title, SEARCH_FTS.c.body).join(
        SEARCH_FTS, SEARCH_FTS.c.rowid == SearchEntry.id
    )
    candidates: Sequence[Any] | None = None
    if dates or filters:
        matches, share = _estimated_matches(expression, _newest_entry_id())
        passing = _filter_share(dates, filters)
        # FTS5's walk goes from the newest match down: a date range may leave it all to read
        fts_reads = min(CANDIDATES / passing[0], matches) if passing[0] and not dates else matches
        walked = _walk_length(share, passing, CANDIDATES)
        if matches >= CANDIDATES and walked * STEMS_COST < fts_reads * SORT_COST:
            found = _walked_matches(terms, [*dates, *filters])
            ids = _first_passing(found, [visible], values, CANDIDATES)
            rows = {
                row.id: row
                for row in db.session.execute(fts_columns.where(SearchEntry.id.in_(ids)))
            }
            candidates = [rows[entry_id] for entry_id in ids]
    if candidates is None:
        candidates = db.session.execute(
            fts_columns.where(_fts_match(expression), visible, *dates, *filters)
            .order_by(SEARCH_FTS.c.rowid.desc())
            .limit(CANDIDATES),
            values,
        ).all()
    documents = [(row.title, row.body) for row in candidates]
    stats = cursor_stats(cursor) if cursor else None
    if stats is None or len(stats) != len(terms) + 1:  # a first page (or another query's)
        weights = [1.0] * len(terms)
        if len(terms) > 1 and candidates:  # one word: its weight changes no order
            newest_id = _newest_entry_id()
            weights = [_idf(group, newest_id) for group in groups]
        stats = [average_length(documents), *weights]
    scores = bm25_scores(terms, stats[1:], documents, stats[0])
    ranked = sorted(zip(scores, (row.id for row in candidates), strict=True), reverse=True)
    if cursor:
        best, entry_id = decode_cursor(cursor, "relevance")
        ranked = [(s, i) for s, i in ranked if s < best or (s == best and i < entry_id)]
    return [(entry_id, score) for score, entry_id in ranked[: limit + 1]], stats


def _sqlite_rows(
    terms: list[str],
    params: SearchParams,
    visible: ColumnElement[bool],
    values: dict[str, Any],
    limit: int,
) -> tuple[list[Any], list[float] | None]:
    groups = _sqlite_groups(terms)
    if groups is None:
        return [], None
    filters = _filters(params)
    stats = None
    if params.order == "newest":
        bounds = [*_dates(params), *([_after_newest(params.cursor)] if params.cursor else [])]
        page = _sqlite_newest(terms, groups, bounds, filters, visible, values, limit)
    else:
        dates = _dates(params)
        page, stats = _sqlite_best(
            terms, groups, params.cursor, dates, filters, visible, values, limit
        )
    return _with_entries(page), stats


def search(user: User | None, params: SearchParams, now: datetime | None = None) -> SearchPage:
    """A page of hits for `params` that `user` may read."""
    terms = stemming.query_terms(params.q)
    if not terms:
        return SearchPage()
    if params.order not in ORDERS:
        raise Invalid(_("Choose an order from the list."), field="order")
    if params.kind and params.kind not in KINDS:
        raise Invalid(_("Choose a kind from the list."), field="kind")
    if params.cursor:
        decode_cursor(params.cursor, params.order)  # a bad one is the field's error, found or not
    limit = max(1, min(params.limit, MAX_PAGE_SIZE))
    visible, values = readable_params(user, now or utcnow())
    rows, stats = _rows(terms, params, visible, values, limit)
    page = SearchPage(terms=terms)
    thread_ids = {e.thread_id for e, _v in rows[:limit] if e.kind == "message" and e.thread_id}
    titles = dict(
        db.session.execute(select(Thread.id, Thread.title).where(Thread.id.in_(thread_ids))).all()
        if thread_ids
        else []
    )
    slugs = _slugs(
        {e.object_id for e, _v in rows[:limit] if e.kind == "forum"},
        {e.object_id for e, _v in rows[:limit] if e.kind == "organisation"},
    )
    for entry, value in rows[:limit]:
        title = titles.get(entry.thread_id, "") if entry.kind == "message" else entry.title
        hit = _hit(entry, title, float(value or 0.0), terms)
        hit.url = hit_path(hit, slugs)
        page.hits.append(hit)
    if len(rows) > limit:
        last_entry, last_score = rows[limit - 1]
        key: float | str = (
            last_entry.created_at.isoformat() if params.order == "newest" else float(last_score)
        )
        page.next_cursor = encode_cursor(params.order, key, last_entry.id, stats)
    return page


# --- excerpts ----------------------------------------------------------------


def _matches(word: str, terms: list[str]) -> bool:
    stem = stemming.stem(word) or stemming.fold(word)
    return any(
        stem.startswith(t) or stemming.fold(word).startswith(t) or stem in stemming.whole_stems(t)
        for t in terms
    )


def highlight(text: str, terms: list[str], length: int | None = None) -> Markup:
    """`text` escaped, with the words that match `terms` in <mark>; cut around the first match."""
    text = " ".join(text.split())
    spans = [m.span() for m in stemming.WORD.finditer(text) if _matches(m.group(), terms)]
    start, end = 0, len(text)
    if length is not None and len(text) > length:
        first = spans[0][0] if spans else 0
        start = max(0, first - length // 3)
        end = min(len(text), start + length)
        if start > 0:
            while start < first and not text[start - 1].isspace():
                start += 1
    out = [Markup("…") if start > 0 else Markup("")]
    cursor = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(escape(text[cursor:s]))
        out.append(Markup("<mark>%s</mark>") % text[s:e])
        cursor = e
    out.append(escape(text[cursor:end]))
    if end < len(text):
        out.append(Markup("…"))
    return Markup("").join(out)


def _hit(entry: SearchEntry, title: str, score: float, terms: list[str]) -> Hit:
    return Hit(
        kind=entry.kind,
        object_id=entry.object_id,
        title=title,
        title_html=highlight(title, terms),
        excerpt_html=highlight(entry.body, terms, EXCERPT_LENGTH),
        created_at=entry.created_at,
        forum_id=entry.forum_id,
        thread_id=entry.thread_id,
        round_id=entry.round_id,
        organisation_id=entry.organisation_id,
        score=score,
    )


def _slugs(forum_ids: set[int], organisation_ids: set[int]) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    if forum_ids:
        for id_, slug in db.session.execute(
            select(Forum.id, Forum.slug).where(Forum.id.in_(forum_ids))
        ):
            out["forum", id_] = slug
    if organisation_ids:
        for id_, slug in db.session.execute(
            select(Organisation.id, Organisation.slug).where(Organisation.id.in_(organisation_ids))
        ):
            out["organisation", id_] = slug
    return out


def hit_path(hit: Hit, slugs: dict[tuple[str, int], str]) -> str:
    """The page a hit links to (site-relative)."""
    if hit.kind == "message":
        return path_for("forums.thread", thread_id=hit.thread_id, _anchor=f"m{hit.object_id}")
    if hit.kind == "thread":
        return path_for("forums.thread", thread_id=hit.object_id)
    if hit.kind == "forum":
        return path_for("forums.forum", slug=slugs.get(("forum", hit.object_id), ""))
    if hit.kind == "organisation":
        return path_for("organisations.show", slug=slugs.get(("organisation", hit.object_id), ""))
    if hit.kind == "action":
        return path_for("follow_up.show", action_id=hit.object_id)
    anchor = "feedback" if hit.kind == "feedback" else None
    return path_for("consultations.show", round_id=hit.round_id, _anchor=anchor)


def resolve_filters(
    forum: str | None, commitment: str | None, organisation: str | None, author: str | None
) -> dict[str, int | None]:
    """Slugs and handles from a URL to ids, in one query each (unknown -> 0 matches nothing)."""
    out: dict[str, int | None] = {}
    for key, value, model, slug_column in (
        ("forum_id", forum, Forum, Forum.slug),
        ("commitment_id", commitment, Commitment, Commitment.slug),
        ("organisation_id", organisation, Organisation, Organisation.slug),
        ("author_id", author, User, User.handle),
    ):
        if not value:
            out[key] = None
            continue
        found = db.session.scalar(select(model.id).where(slug_column == value))  # type: ignore[attr-defined]
        out[key] = found if found is not None else -1
    return out
