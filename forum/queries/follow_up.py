"""The read side of follow-up: action lists and the indicators of the /uppfoljning dashboard.

The indicators are computed with a fixed number of queries, whatever the number of
threads, messages, rounds or actions (tests count them); medians are taken in Python
from the rows of one query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from statistics import median
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, true
from sqlalchemy.orm import aliased, selectinload

from .. import policy
from ..errors import NotFound
from ..extensions import db
from ..formatting import STOCKHOLM
from ..models import (
    Action,
    ActionFollower,
    ActionHistory,
    ActionStatus,
    ActionUpdate,
    Commitment,
    ConsultationFeedback,
    ConsultationRound,
    Forum,
    Membership,
    MembershipStatus,
    Message,
    MessageState,
    Organisation,
    OrganisationStatus,
    RoundState,
    Thread,
    User,
)
from ..models.consultations import round_commitments
from ..models.follow_up import OPEN_STATUSES, action_commitments
from ..models.forums import forum_moderators, thread_commitments
from .forums import visible_message
from .search import thread_readable

# --- loaders: get by id, check visibility, else NotFound --------------------------


def get_action(user: User | None, action_id: int, lock: bool = False) -> Action:
    """The action if `user` may see it, else NotFound.

    With `lock`, its row is locked until commit (SELECT ... FOR UPDATE) and read afresh, so
    changes to one action happen one at a time, each starting from the one before.
    """
    if lock:
        action = db.session.scalar(
            select(Action)
            .where(Action.id == action_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    else:
        action = db.session.get(Action, action_id)
    if action is None or not policy.can_view_action(user, action):
        raise NotFound(_("No such action."))
    return action


def source_message(user: User | None, message_id: int) -> Message:
    """A message an action is proposed from: visible, in a thread the user may read
    (else NotFound, never Forbidden)."""
    message = visible_message(user, message_id)
    if message.state != MessageState.visible:
        raise NotFound(_("No such message."))
    return message


def published_feedback(feedback_id: int) -> ConsultationFeedback:
    """A feedback point an action is proposed from: only published feedback counts."""
    feedback = db.session.get(ConsultationFeedback, feedback_id)
    if feedback is None or feedback.round.feedback_published_at is None:
        raise NotFound(_("No such feedback point."))
    return feedback


def is_following(action: Action, user: User | None) -> bool:
    if user is None:
        return False
    return db.session.get(ActionFollower, (action.id, user.id)) is not None


# --- actions -----------------------------------------------------------------


def _action_query():
    return select(Action).options(
        selectinload(Action.commitments),
        selectinload(Action.owner_department),
        selectinload(Action.owner_organisation),
    )


def _source_readable(user: User | None) -> ColumnElement[bool]:
    """SQL for policy.can_view_action: no source thread, or one the user may read."""
    thread = aliased(Thread)
    return or_(
        Action.source_thread_id.is_(None),
        exists().where(thread.id == Action.source_thread_id, thread_readable(user, thread)),
    )


def _counted(user: User | None, year: int, department_id: int | None) -> list[ColumnElement[bool]]:
    """The actions the dashboard counts for `user`: accepted, not hidden (not even for a
    moderator: the figures are the public ones), proposed in `year`, from a source the user
    may read, owned by the department when one is chosen. The report's list of overdue
    actions uses the same conditions, so the count and the list agree."""
    start, end = _year_bounds(year)
    conditions = [
        Action.accepted_at.is_not(None),
        Action.hidden_at.is_(None),
        Action.created_at >= start,
        Action.created_at < end,
        _source_readable(user),
    ]
    if department_id:
        conditions.append(Action.owner_department_id == department_id)
    return conditions


def _overdue(today: date) -> list[ColumnElement[bool]]:
    """Accepted, still open and past its due date (a proposal is not yet anyone's promise)."""
    return [
        Action.accepted_at.is_not(None),
        Action.status.in_(OPEN_STATUSES),
        Action.due_date < today,
    ]


def _hidden_shown(user: User | None) -> ColumnElement[bool]:
    """SQL for the hidden half of policy.can_view_action: not hidden, or hidden and the user
    may hide it (site moderators and admins; the moderators of the forum it came from)."""
    if policy.is_site_moderator(user):
        return true()
    if user is None or not user.is_authenticated:
        return Action.hidden_at.is_(None)
    moderated = (
        select(Thread.id)
        .join(forum_moderators, forum_moderators.c.forum_id == Thread.forum_id)
        .where(forum_moderators.c.user_id == user.id)
    )
    return or_(Action.hidden_at.is_(None), Action.source_thread_id.in_(moderated))


def _mine(user: User) -> ColumnElement[bool]:
    """Actions the person owns (their department's, their approved organisations') or
    follows: the start page's list and the action list's filter."""
    followed = select(ActionFollower.action_id).where(ActionFollower.user_id == user.id)
    own_orgs = select(Membership.organisation_id).where(
        Membership.user_id == user.id, Membership.status == MembershipStatus.approved
    )
    mine = or_(Action.id.in_(followed), Action.owner_organisation_id.in_(own_orgs))
    if user.department_id is not None:
        mine = or_(mine, Action.owner_department_id == user.department_id)
    return mine


ACTIONS_PAGE = 50  # actions on a page of the list; the next page starts after the last one


@dataclass
class ActionPage:
    items: list[Action]
    # the (due date, id) the next page starts after; None on the last page
    next_after: tuple[date, int] | None = None


def _list_query(
    user: User | None,
    status: str | None = None,
    department_id: int | None = None,
    organisation_id: int | None = None,
    commitment_slug: str | None = None,
    overdue_only: bool = False,
    today: date | None = None,
    mine: bool = False,
    year: int | None = None,
) -> Select[Any]:
    """The actions the user may see, soonest due first, with the list page's filters (see
    list_actions): readability is part of the query, so a page of it is never short.
    `status` "accepted" and a `year` (proposed in it, as the dashboard counts them) give
    the actions behind a dashboard row's figures."""
    query = _action_query().where(_source_readable(user), _hidden_shown(user))
    if status == "accepted":  # as the dashboard counts: accepted and not hidden
        query = query.where(Action.accepted_at.is_not(None), Action.hidden_at.is_(None))
    elif status == "proposed":
        query = query.where(Action.accepted_at.is_(None), Action.declined_at.is_(None))
    elif status == "declined":
        query = query.where(Action.declined_at.is_not(None))
    elif status == "open":
        query = query.where(Action.status.in_(OPEN_STATUSES), Action.declined_at.is_(None))
    elif status is not None and status in ActionStatus.__members__:
        query = query.where(Action.status == ActionStatus(status), Action.accepted_at.is_not(None))
    if department_id:
        query = query.where(Action.owner_department_id == department_id)
    if organisation_id:
        query = query.where(Action.owner_organisation_id == organisation_id)
    if commitment_slug:
        query = query.where(Action.commitments.any(Commitment.slug == commitment_slug))
    if overdue_only and today is not None:
        query = query.where(*_overdue(today))
    if mine and user is not None and user.is_authenticated:
        query = query.where(_mine(user))
    if year is not None:
        start, end = _year_bounds(year)
        query = query.where(Action.created_at >= start, Action.created_at < end)
    return query.order_by(Action.due_date, Action.id)


def list_actions(
    user: User | None,
    status: str | None = None,
    department_id: int | None = None,
    organisation_id: int | None = None,
    commitment_slug: str | None = None,
    overdue_only: bool = False,
    today: date | None = None,
    *,
    mine: bool = False,
) -> list[Action]:
    """Actions the user may see, soonest due first, with the list page's filters. `status`
    "open" is what is still to be done (proposed, planned or in progress); `mine` those the
    user owns or follows (the start page's list)."""
    return list(
        db.session.scalars(
            _list_query(
                user,
                status,
                department_id,
                organisation_id,
                commitment_slug,
                overdue_only,
                today,
                mine,
            )
        )
    )


def action_page(
    user: User | None,
    after: tuple[date, int] | None = None,
    limit: int = ACTIONS_PAGE,
    **filters: Any,
) -> ActionPage:
    """A page of list_actions (the same `filters`): `limit` actions after the (due date, id)
    `after`, paged by those (keyset), so a page is one query for the actions however many
    there are; readability is part of that query, so no page comes up short."""
    query = _list_query(user, **filters)
    if after is not None:
        due, last_id = after
        query = query.where(
            or_(Action.due_date > due, and_(Action.due_date == due, Action.id > last_id))
        )
    rows = list(db.session.scalars(query.limit(limit + 1)))
    items = rows[:limit]
    more = len(rows) > limit
    return ActionPage(items, (items[-1].due_date, items[-1].id) if more else None)


def overdue_actions(
    user: User | None,
    year: int,
    today: date,
    department_id: int | None = None,
    commitment_id: int | None = None,
) -> list[Action]:
    """The overdue actions behind the dashboard's overdue count for `user`, with the same
    year, department and commitment: soonest due first."""
    linked = (
        Action.commitments.any(Commitment.id == commitment_id)
        if commitment_id
        else Action.commitments.any()
    )
    query = (
        _action_query()
        .where(*_counted(user, year, department_id), *_overdue(today), linked)
        .order_by(Action.due_date, Action.id)
    )
    return list(db.session.scalars(query))


def actions_of(user: User, limit: int = 8) -> tuple[list[Action], set[int], int]:
    """Open actions the person owns (their department's, their organisations') or follows
    and may read, soonest due first, the ids of those they follow, and how many there are
    in all (the start page links to the rest: the action list's `mine` and "open"
    filters); a fixed number of queries."""
    followed = select(ActionFollower.action_id).where(ActionFollower.user_id == user.id)
    # readability is part of the query, so the limit counts only actions the person may
    # read (one from a forum they were taken out of would otherwise take a place); the
    # count of them all comes with each row (a window over the rows before the limit)
    rows = db.session.execute(
        _action_query()
        .add_columns(func.count().over())
        .where(
            _mine(user),
            Action.status.in_(OPEN_STATUSES),
            Action.declined_at.is_(None),  # a declined proposal is nobody's to do
            # as the list it links to: a hidden one only for whom may hide it (marked so)
            _hidden_shown(user),
            _source_readable(user),
        )
        .order_by(Action.due_date, Action.id)
        .limit(limit)
    ).all()
    actions = [action for action, _total in rows]
    following = set(
        db.session.scalars(followed.where(ActionFollower.action_id.in_([a.id for a in actions])))
    )
    return actions, following, rows[0][1] if rows else 0


def actions_for_commitment(user: User | None, commitment: Commitment) -> list[Action]:
    return list_actions(user, commitment_slug=commitment.slug)


def updates_of(action_id: int) -> list[ActionUpdate]:
    return list(
        db.session.scalars(
            select(ActionUpdate)
            .where(ActionUpdate.action_id == action_id)
            .options(selectinload(ActionUpdate.author))
            .order_by(ActionUpdate.created_at.desc(), ActionUpdate.id.desc())
        )
    )


def history_of(action_id: int) -> list[ActionHistory]:
    return list(
        db.session.scalars(
            select(ActionHistory)
            .where(ActionHistory.action_id == action_id)
            .options(selectinload(ActionHistory.actor))
            .order_by(ActionHistory.id)
        )
    )


# --- the dashboard -----------------------------------------------------------


@dataclass
class Indicators:
    """The figures for one commitment (or all of them) in one year."""

    dialogues: int = 0
    messages: int = 0
    organisations: int = 0
    rounds: int = 0
    closed_rounds: int = 0
    feedback_published: int = 0
    feedback_days: list[float] = field(default_factory=list)
    decision_weeks: list[float] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in ActionStatus})
    overdue: int = 0

    @property
    def feedback_share(self) -> float | None:
        """Share (0–1) of the closed rounds whose feedback is published."""
        return self.feedback_published / self.closed_rounds if self.closed_rounds else None

    @property
    def median_feedback_days(self) -> float | None:
        return round(median(self.feedback_days), 1) if self.feedback_days else None

    @property
    def median_decision_weeks(self) -> float | None:
        return round(median(self.decision_weeks), 1) if self.decision_weeks else None

    @property
    def action_total(self) -> int:
        return sum(self.actions.values())


@dataclass
class Dashboard:
    year: int
    rows: list[tuple[Commitment, Indicators]]
    total: Indicators


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """The city's calendar year: from midnight on New Year's Day in Stockholm to the next,
    in UTC as the rows store it (a message at 00:30 on 1 January is the new year's)."""
    return (
        datetime(year, 1, 1, tzinfo=STOCKHOLM).astimezone(UTC),
        datetime(year + 1, 1, 1, tzinfo=STOCKHOLM).astimezone(UTC),
    )


def dashboard(
    year: int,
    today: date,
    now: datetime,
    department_id: int | None = None,
    commitment_id: int | None = None,
    user: User | None = None,
) -> Dashboard:
    """Per commitment and in total, for one year: six queries, however much data there is.

    Dialogues are threads with visible messages that year (a department filter keeps
    forums opened by its officials); rounds count by the year they opened and
    actions by the year they were proposed (accepted ones only). Only what `user` may read
    is counted (without a user, what a visitor may): the figures agree with the lists.
    """
    start, end = _year_bounds(year)
    commitment_query = select(Commitment).order_by(Commitment.position)
    if commitment_id:
        commitment_query = commitment_query.where(Commitment.id == commitment_id)
    commitments = list(db.session.scalars(commitment_query))
    wanted = {c.id for c in commitments}
    per: dict[int, Indicators] = {c.id: Indicators() for c in commitments}
    total = Indicators()

    readable = aliased(Thread)
    in_year = and_(
        Message.created_at >= start,
        Message.created_at < end,
        Message.state == MessageState.visible,
        # only threads `user` may read, as with the actions: an invite-only forum is, to
        # a visitor, the same as no forum at all, and so are its messages in the figures
        Message.thread_id.in_(select(readable.id).where(thread_readable(user, readable))),
    )
    message_base = (
        select(thread_commitments.c.commitment_id, Message.thread_id, func.count(Message.id))
        .join(Message, Message.thread_id == thread_commitments.c.thread_id)
        .where(in_year)
        .group_by(thread_commitments.c.commitment_id, Message.thread_id)
    )
    org_base = (
        select(thread_commitments.c.commitment_id, Membership.organisation_id)
        .join(Message, Message.thread_id == thread_commitments.c.thread_id)
        .join(
            Membership,
            and_(
                Membership.user_id == Message.author_id,
                Membership.status == MembershipStatus.approved,
            ),
        )
        # only verified organisations take part, the rule messages name them by
        # (payloads._organisation_names): a pending or rejected one is nobody's organisation
        .join(
            Organisation,
            and_(
                Organisation.id == Membership.organisation_id,
                Organisation.status == OrganisationStatus.verified,
            ),
        )
        .where(in_year)
        .distinct()
    )
    if department_id:
        forum_ids = (
            select(Forum.id)
            .join(User, User.id == Forum.created_by_id)
            .where(User.department_id == department_id)
        )
        thread_ids = select(Thread.id).where(Thread.forum_id.in_(forum_ids))
        message_base = message_base.where(Message.thread_id.in_(thread_ids))
        org_base = org_base.where(Message.thread_id.in_(thread_ids))

    counted_threads: dict[int, int] = {}
    for commitment, thread_id, count in db.session.execute(message_base):
        if commitment in per:
            per[commitment].dialogues += 1
            per[commitment].messages += count
            counted_threads[thread_id] = count
    total.dialogues = len(counted_threads)
    total.messages = sum(counted_threads.values())

    all_orgs: set[int] = set()
    for commitment, organisation_id in db.session.execute(org_base):
        if commitment in per:
            per[commitment].organisations += 1
            all_orgs.add(organisation_id)
    total.organisations = len(all_orgs)

    round_query = (
        select(
            round_commitments.c.commitment_id,
            ConsultationRound.id,
            ConsultationRound.state,
            ConsultationRound.closes_at,
            ConsultationRound.feedback_published_at,
            ConsultationRound.decision_date,
        )
        .join(ConsultationRound, ConsultationRound.id == round_commitments.c.round_id)
        .where(
            ConsultationRound.state != RoundState.draft,
            ConsultationRound.opens_at >= start,
            ConsultationRound.opens_at < end,
        )
    )
    if department_id:
        round_query = round_query.where(ConsultationRound.department_id == department_id)
    seen_rounds: set[int] = set()
    for commitment, round_id, state, closes_at, published_at, decision_date in db.session.execute(
        round_query
    ):
        if commitment not in per:
            continue
        targets = [per[commitment]]
        if round_id not in seen_rounds:
            seen_rounds.add(round_id)
            targets.append(total)
        for ind in targets:
            ind.rounds += 1
            closed = state in (RoundState.closed, RoundState.published) or closes_at <= now
            if not closed:
                continue
            ind.closed_rounds += 1
            if state == RoundState.published and published_at is not None:
                ind.feedback_published += 1
                ind.feedback_days.append((published_at - closes_at).total_seconds() / 86400)
            if decision_date is not None:
                closing_day = closes_at.astimezone(STOCKHOLM).date()  # the city's day
                ind.decision_weeks.append((decision_date - closing_day).days / 7)

    action_query = (
        select(action_commitments.c.commitment_id, Action.id, Action.status, Action.due_date)
        .join(Action, Action.id == action_commitments.c.action_id)
        .where(*_counted(user, year, department_id))
    )
    seen_actions: set[int] = set()
    for commitment, action_id, status, due in db.session.execute(action_query):
        if commitment not in per:
            continue
        targets = [per[commitment]]
        if action_id not in seen_actions:
            seen_actions.add(action_id)
            targets.append(total)
        for ind in targets:
            ind.actions[ActionStatus(status).value] += 1
            if status in OPEN_STATUSES and due < today:
                ind.overdue += 1
    rows = [(c, per[c.id]) for c in commitments if c.id in wanted]
    return Dashboard(year=year, rows=rows, total=total)


def dashboard_rows(board: Dashboard, locale: str) -> list[list[object]]:
    """The dashboard's figures as plain values: one row per commitment, then the total (with
    an empty label). The columns: year, commitment, active dialogues, messages, organisations,
    rounds, closed rounds, feedback share (%), median days to feedback, median weeks to
    decision, actions per status, overdue actions."""

    def row(label: str, ind: Indicators) -> list[object]:
        share = ind.feedback_share
        return [
            board.year,
            label,
            ind.dialogues,
            ind.messages,
            ind.organisations,
            ind.rounds,
            ind.closed_rounds,
            "" if share is None else f"{share * 100:.0f}",
            "" if ind.median_feedback_days is None else ind.median_feedback_days,
            "" if ind.median_decision_weeks is None else ind.median_decision_weeks,
            *(ind.actions[s.value] for s in ActionStatus),
            ind.overdue,
        ]

    return [
        *(row(commitment.title(locale), ind) for commitment, ind in board.rows),
        row("", board.total),
    ]
