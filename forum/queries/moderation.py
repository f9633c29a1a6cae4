"""The read side of moderation: the review queue, the audit log, restrictions, transparency.

The queue issues a fixed number of queries whatever the number of flags,
messages or threads in it (tests count them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Integer, and_, bindparam, case, func, or_, select, true
from sqlalchemy.orm import joinedload

from .. import policy
from ..errors import NotFound
from ..extensions import db
from ..formatting import stockholm_day_start
from ..models import (
    ActionKind,
    Appeal,
    AuditEntry,
    Flag,
    FlagReason,
    Forum,
    Message,
    MessageRevision,
    ModerationAction,
    Principle,
    Thread,
    User,
)
from ..models.base import utcnow

QUEUE_LIMIT = 50
AUDIT_PAGE = 100
CONTEXT_BEFORE = 2
CONTEXT_AFTER = 1
MODERATION_PREFIXES = ("message.", "thread.", "flags.", "user.", "appeal.", "action.")


@dataclass
class QueueItem:
    """A flagged (or otherwise reviewed) message, its flags and the messages around it."""

    message: Message
    flags: list[Flag] = field(default_factory=list)
    context: list[Message] = field(default_factory=list)
    personal_data: bool = False
    decided_hide: bool = False

    @property
    def flag_count(self) -> int:
        return len(self.flags)


def _forum_filter(column, forum_ids: set[int] | None):
    return true() if forum_ids is None else column.in_(forum_ids or {-1})


def _message_options():
    return (
        joinedload(Message.author),
        # the forum's moderators: whether the reader may warn or mute each author (the
        # ranks of policy.can_moderate_person), in one more query however many forums
        joinedload(Message.thread).joinedload(Thread.forum).selectinload(Forum.moderators),
    )


def _flags_for(user: User, forum_ids: set[int] | None) -> tuple[Any, ...]:
    """Open flags `user` may decide: in the forums they moderate (`forum_ids`, None: all),
    never on their own messages (nor are the flaggers shown to the author)."""
    return (
        Flag.resolved_at.is_(None),
        _forum_filter(Thread.forum_id, forum_ids),
        Message.author_id != user.id,
    )


def _appeals_for(user: User) -> tuple[Any, ...]:
    """Open appeals `user` may decide: not their own, nor against their own decision, nor
    against a warning, mute or suspension they could not have made (policy.can_decide_appeal).
    Needs Thread outer-joined on ModerationAction.thread_id (with _appeal_scope)."""
    return (
        *_appeal_open(),
        Appeal.user_id != user.id,
        or_(ModerationAction.actor_id.is_(None), ModerationAction.actor_id != user.id),
        _outranked_by(user),
    )


def _outranked_by(user: User) -> Any:
    """In SQL, policy.can_moderate_person's ranks for the decisions about a person: an admin
    is moderated by admins only, a forum's moderator (a site moderator is one everywhere)
    by site moderators only. The forum is the appeal's (_appeal_forum_column)."""
    if policy.is_admin(user):
        return true()
    above: Any = User.is_admin.is_(True)
    if not policy.is_site_moderator(user):
        above = or_(above, User.is_moderator.is_(True))
    ranked: Any = select(User.id).where(User.id == ModerationAction.subject_id, above).exists()
    if not policy.is_site_moderator(user):
        from ..models.forums import forum_moderators

        ranked = or_(
            ranked,
            select(forum_moderators.c.user_id)
            .where(
                forum_moderators.c.user_id == ModerationAction.subject_id,
                forum_moderators.c.forum_id == _appeal_forum_column(),
            )
            .exists(),
        )
    about_persons = [ActionKind(kind) for kind in sorted(policy.DECISIONS_ABOUT_PERSONS)]
    return or_(ModerationAction.kind.not_in(about_persons), ~ranked)


def queue(user: User, limit: int = QUEUE_LIMIT) -> list[QueueItem]:
    """Messages with open flags in the forums `user` moderates: personal data first,
    then the most flags, then the oldest (the first page of queue_page)."""
    return queue_page(user, limit=limit)[0]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def queue_page(
    user: User, after: str | None = None, limit: int = QUEUE_LIMIT
) -> tuple[list[QueueItem], str | None]:
    """A page of the queue: the messages ranked after the cursor `after` (a previous page's
    cursor; None, or one that does not parse, for the first page), and the cursor of the
    next page (None on the last). Keyset paging on the ranking itself (personal data, the
    number of flags, the first flag's time, the message's id), so it costs the same on
    every page, and a message decided meanwhile moves none of the others to another page."""
    forum_ids = policy.moderated_forum_ids(user)
    personal = func.max(case((Flag.reason == FlagReason.personal_data, 1), else_=0))
    flags = func.count(Flag.id)
    first = func.min(Flag.created_at)
    ranked = (
        select(
            Flag.message_id,
            personal.label("personal"),
            flags.label("flags"),
            first.label("first"),
        )
        .join(Message, Message.id == Flag.message_id)
        .join(Thread, Thread.id == Message.thread_id)
        .where(*_flags_for(user, forum_ids))
        .group_by(Flag.message_id)
        .order_by(personal.desc(), flags.desc(), first, Flag.message_id)
        .limit(limit + 1)
    )
    key = _queue_key(after)
    if key is not None:
        p, n, at, message_id = key
        ranked = ranked.having(
            or_(
                personal < p,
                and_(personal == p, flags < n),
                and_(personal == p, flags == n, first > at),
                and_(personal == p, flags == n, first == at, Flag.message_id > message_id),
            )
        )
    rows = db.session.execute(ranked).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row.message_id for row in rows]
    items = items_for(ids, {row.message_id: bool(row.personal) for row in rows})
    if not more:
        return items, None
    last = rows[-1]
    at = last.first if last.first.tzinfo is not None else last.first.replace(tzinfo=UTC)
    micro = (at - _EPOCH) // timedelta(microseconds=1)
    return items, f"{int(last.personal)}.{int(last.flags)}.{micro}.{last.message_id}"


def _queue_key(cursor: str | None) -> tuple[int, int, datetime, int] | None:
    """(personal, flags, first flag's time, message id) from a queue page's cursor."""
    parts = (cursor or "").split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) < 19 for p in parts):
        return None
    personal, flags, micro, message_id = (int(p) for p in parts)
    try:
        at = _EPOCH + timedelta(microseconds=micro)
    except OverflowError:
        return None
    return personal, flags, at, message_id


def items_for(ids: list[int], personal: dict[int, bool] | None = None) -> list[QueueItem]:
    """Queue items (message, open flags, context) for these message ids, in this order."""
    if not ids:
        return []
    messages = {
        m.id: m
        for m in db.session.scalars(
            select(Message).options(*_message_options()).where(Message.id.in_(ids))
        ).unique()
    }
    flags: dict[int, list[Flag]] = {}
    for flag in db.session.scalars(
        select(Flag)
        .options(joinedload(Flag.user))
        .where(Flag.message_id.in_(ids), Flag.resolved_at.is_(None))
        .order_by(Flag.id)
    ):
        flags.setdefault(flag.message_id, []).append(flag)
    decided = set(
        db.session.scalars(
            select(ModerationAction.message_id).where(
                ModerationAction.message_id.in_(ids),
                ModerationAction.kind == ActionKind.hide,
                ModerationAction.reversed_at.is_(None),
            )
        )
    )
    context = _context(ids, {m.thread_id for m in messages.values()})
    items = []
    for message_id in ids:
        message = messages.get(message_id)
        if message is None:
            continue
        own = flags.get(message_id, [])
        items.append(
            QueueItem(
                message=message,
                flags=own,
                context=context.get(message_id, []),
                personal_data=(personal or {}).get(message_id)
                or any(f.reason == FlagReason.personal_data for f in own),
                decided_hide=message_id in decided,
            )
        )
    return items


def _context(ids: list[int], thread_ids: set[int]) -> dict[int, list[Message]]:
    """The messages just before and after each target, in two queries."""
    numbered = (
        select(
            Message.id.label("id"),
            Message.thread_id.label("thread_id"),
            func.row_number().over(partition_by=Message.thread_id, order_by=Message.id).label("rn"),
        )
        .where(Message.thread_id.in_(thread_ids))
        .subquery()
    )
    target = numbered.alias("target")
    pairs = db.session.execute(
        select(target.c.id, numbered.c.id)
        .join(
            numbered,
            and_(
                numbered.c.thread_id == target.c.thread_id,
                numbered.c.rn.between(target.c.rn - CONTEXT_BEFORE, target.c.rn + CONTEXT_AFTER),
            ),
        )
        .where(target.c.id.in_(ids))
    ).all()
    wanted = {other for _target, other in pairs}
    loaded = {
        m.id: m
        for m in db.session.scalars(
            select(Message).options(joinedload(Message.author)).where(Message.id.in_(wanted))
        ).unique()
    }
    out: dict[int, list[Message]] = {}
    for target_id, other in sorted(pairs, key=lambda p: (p[0], p[1])):
        if other in loaded:
            out.setdefault(target_id, []).append(loaded[other])
    return out


def _appeal_forum_column():
    """The forum an appeal belongs to now, in SQL: its message's thread's forum (threads
    move, and the appeal goes with them, as flags do), else the action's own (a mute).
    Needs Thread outer-joined on ModerationAction.thread_id."""
    return func.coalesce(Thread.forum_id, ModerationAction.forum_id)


def _appeal_scope(forum_ids: set[int] | None):
    if forum_ids is None:
        return true()
    column = _appeal_forum_column()
    return and_(column.is_not(None), column.in_(forum_ids or {-1}))


def appeal_forum_id(action: ModerationAction) -> int | None:
    """The forum whose moderators decide an appeal against `action`: the forum its thread
    is in now (it may have been moved since the decision), else the action's own."""
    if action.thread_id is not None:
        thread = db.session.get(Thread, action.thread_id)
        if thread is not None:
            return thread.forum_id
    return action.forum_id


def _appeal_open() -> tuple[Any, ...]:
    """An appeal waiting for a decision: undecided, against a decision still standing (one
    lifted meanwhile closes its appeal; one left open before that did is not asked about)."""
    return (Appeal.decided_at.is_(None), ModerationAction.reversed_at.is_(None))


def pending_appeals(user: User) -> list[Appeal]:
    """Undecided appeals that `user` may decide, oldest first (the first page)."""
    return pending_appeals_page(user)[0]


def pending_appeals_page(
    user: User, after: int | None = None, limit: int = QUEUE_LIMIT
) -> tuple[list[Appeal], int | None]:
    """A page of the undecided appeals `user` may decide, oldest first: those after the
    appeal `after` (None: from the first), and where the next page starts (None: none)."""
    forum_ids = policy.moderated_forum_ids(user)
    scope = _appeal_scope(forum_ids)
    since = true() if after is None else Appeal.id > after
    found = list(
        db.session.scalars(
            select(Appeal)
            .join(ModerationAction, ModerationAction.id == Appeal.action_id)
            .outerjoin(Thread, Thread.id == ModerationAction.thread_id)
            .options(
                joinedload(Appeal.user),
                joinedload(Appeal.action).joinedload(ModerationAction.message),
                joinedload(Appeal.action).joinedload(ModerationAction.forum),
                joinedload(Appeal.action).joinedload(ModerationAction.actor),
                joinedload(Appeal.action).joinedload(ModerationAction.principle),
            )
            .where(*_appeals_for(user), scope, since)
            .order_by(Appeal.id)  # ids are drawn in the order appeals are made
            .limit(limit + 1)
        ).unique()
    )
    more = len(found) > limit
    return found[:limit], found[limit - 1].id if more else None


def active_restrictions(user: User) -> list[ModerationAction]:
    """Mutes and suspensions in force that `user` can see (site-wide for site moderators)."""
    forum_ids = policy.moderated_forum_ids(user)
    now = utcnow()
    scope = (
        true()
        if forum_ids is None
        else and_(
            ModerationAction.kind == ActionKind.mute,
            ModerationAction.forum_id.in_(forum_ids or {-1}),
        )
    )
    return list(
        db.session.scalars(
            select(ModerationAction)
            .options(
                joinedload(ModerationAction.subject),
                # who may lift each mute (policy.can_moderate_person), in one more query
                joinedload(ModerationAction.forum).selectinload(Forum.moderators),
            )
            .where(
                ModerationAction.kind.in_([ActionKind.mute, ActionKind.suspend]),
                ModerationAction.reversed_at.is_(None),
                ModerationAction.until > now,
                scope,
            )
            .order_by(ModerationAction.until)
        ).unique()
    )


def moderated_forums(user: User) -> list[Forum]:
    forum_ids = policy.moderated_forum_ids(user)
    return list(
        db.session.scalars(
            select(Forum).where(_forum_filter(Forum.id, forum_ids)).order_by(Forum.title)
        )
    )


def actions_for(message_id: int) -> list[ModerationAction]:
    """Every decision taken on a message, newest first."""
    return list(
        db.session.scalars(
            select(ModerationAction)
            .options(joinedload(ModerationAction.actor), joinedload(ModerationAction.principle))
            .where(ModerationAction.message_id == message_id)
            .order_by(ModerationAction.id.desc())
        )
    )


# --- the audit log -----------------------------------------------------------------


@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    forum_id: int | None = None
    since: date | None = None
    until: date | None = None
    before: int | None = None


def audit_actions(user: User) -> list[str]:
    """The action names the filter offers."""
    names = db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return [n for n in names if policy.is_admin(user) or n.startswith(MODERATION_PREFIXES)]


def audit_entries(
    user: User, filters: AuditFilters, limit: int = AUDIT_PAGE
) -> tuple[list[AuditEntry], bool]:
    """Audit entries `user` may read, newest first, filtered; returns (entries, more)."""
    query = select(AuditEntry).options(joinedload(AuditEntry.actor))
    if not policy.is_admin(user):
        query = query.where(or_(*(AuditEntry.action.startswith(p) for p in MODERATION_PREFIXES)))
    forum_ids = policy.moderated_forum_ids(user)
    if forum_ids is not None:
        query = query.where(AuditEntry.forum_id.in_(forum_ids or {-1}))
    if filters.actor:
        needle = filters.actor.lstrip("@").lower()
        who = func.lower(User.handle) == needle
        if policy.is_admin(user):  # addresses are private: a moderator could test one
            who = or_(who, func.lower(User.email) == needle)
        query = query.join(User, User.id == AuditEntry.actor_id).where(who)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.forum_id is not None:
        query = query.where(AuditEntry.forum_id == filters.forum_id)
    # a day the date picker allows but a datetime cannot hold (9999-12-31, 0001-01-01): no bound
    since = stockholm_day_start(filters.since) if filters.since is not None else None
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    until = stockholm_day_start(filters.until, later=1) if filters.until is not None else None
    if until is not None:
        query = query.where(AuditEntry.created_at < until)
    if filters.before is not None:
        query = query.where(AuditEntry.id < filters.before)
    rows = list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)).unique())
    return rows[:limit], len(rows) > limit


# --- transparency -------------------------------------------------------------------


STOCKHOLM = "Europe/Stockholm"


def _month(column):
    """The Stockholm month of a time, "YYYY-MM", in SQL; on SQLite (which knows no time
    zones) the UTC hour, "YYYY-MM-DD HH", which _stockholm_month turns into one: Stockholm
    is whole hours off UTC, so every UTC hour lies in one Stockholm month."""
    if db.engine.dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H", column)
    return func.to_char(func.timezone(STOCKHOLM, column), "YYYY-MM")


def _stockholm_month(bucket: str) -> str:
    if len(bucket) == len("YYYY-MM"):
        return bucket
    from zoneinfo import ZoneInfo

    hour = datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return hour.astimezone(ZoneInfo(STOCKHOLM)).strftime("%Y-%m")


# The audit actions the transparency page counts, per month; appeals from the same rows.
TRANSPARENCY_ACTIONS = (
    "message.hidden",
    "message.auto_hidden",
    "message.restored",
    "message.redacted",
    "user.warned",
    "user.muted",
    "user.suspended",
    "thread.locked",
    "action.hidden",
    "action.redacted",
    "appeal.submitted",
    "appeal.upheld",
    "appeal.reversed",
    "appeal.lapsed",
)


def transparency() -> dict[str, Any]:
    """Moderation per month and appeals, from ONE query over the audit log; reasons per kind.

    Every count on the page is a count of audit entries, so they agree: a decision
    reversed on appeal is also a restored message (the reversal logs both).
    """
    month = _month(AuditEntry.created_at)
    by_month: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for row in db.session.execute(
        select(month.label("month"), AuditEntry.action, func.count())
        .where(AuditEntry.action.in_(TRANSPARENCY_ACTIONS))
        .group_by(month, AuditEntry.action)
    ):
        counts = by_month.setdefault(_stockholm_month(row.month), {})
        counts[row.action] = counts.get(row.action, 0) + row[2]
        totals[row.action] = totals.get(row.action, 0) + row[2]
    reasons = dict(
        db.session.execute(
            select(ModerationAction.reason_code, func.count())
            .where(ModerationAction.kind.in_([ActionKind.hide, ActionKind.redact]))
            .group_by(ModerationAction.reason_code)
        ).all()
    )
    principles = list(db.session.scalars(select(Principle).order_by(Principle.position)))
    decided = sum(totals.get(f"appeal.{o}", 0) for o in ("upheld", "reversed", "lapsed"))
    appeals = {
        "reversed": totals.get("appeal.reversed", 0),
        "upheld": totals.get("appeal.upheld", 0),
        "lapsed": totals.get("appeal.lapsed", 0),
        "pending": max(0, totals.get("appeal.submitted", 0) - decided),
    }
    return {
        "months": sorted(by_month.items(), reverse=True),
        "totals": totals,
        "reasons": reasons,
        "principles": principles,
        "appeals": appeals,
    }


@dataclass
class HeaderFacts:
    """What every page's header asks about its logged-in reader, loaded in one query."""

    unread_notifications: int
    moderates_a_forum: bool


@cache
def _header_facts_statement() -> Any:
    """Built once per process (parameter `user_id`): it runs on every logged-in page."""
    from ..models import Notification
    from ..models.forums import forum_moderators

    user_id = bindparam("user_id", type_=Integer)
    unread = (
        select(func.count())
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    moderates = select(forum_moderators.c.forum_id).where(forum_moderators.c.user_id == user_id)
    return select(unread, moderates.exists())


def header_facts(user: User) -> HeaderFacts:
    """The reader's unread notifications and whether they moderate any forum (one query)."""
    row = db.session.execute(_header_facts_statement(), {"user_id": user.id}).one()
    return HeaderFacts(int(row[0] or 0), bool(row[1]))


def waiting_count(user: User) -> int:
    """What waits for `user` as a moderator: flagged messages plus undecided appeals (2 queries)."""
    forum_ids = policy.moderated_forum_ids(user)
    if forum_ids is not None and not forum_ids:
        return 0
    flagged = db.session.scalar(
        select(func.count(func.distinct(Flag.message_id)))
        .join(Message, Message.id == Flag.message_id)
        .join(Thread, Thread.id == Message.thread_id)
        .where(*_flags_for(user, forum_ids))
    )
    scope = _appeal_scope(forum_ids)
    appeals = db.session.scalar(
        select(func.count(Appeal.id))
        .join(ModerationAction, ModerationAction.id == Appeal.action_id)
        .outerjoin(Thread, Thread.id == ModerationAction.thread_id)
        .where(*_appeals_for(user), scope)
    )
    return (flagged or 0) + (appeals or 0)


# --- single records ------------------------------------------------------------------


def get_action(user: User | None, action_id: int) -> ModerationAction:
    """A moderation decision, for the person it concerns or a moderator of its forum (site
    moderators for one without a forum); else NotFound."""
    policy.require_login(user)
    action = db.session.get(ModerationAction, action_id)
    if action is None:
        raise NotFound(_("No such decision."))
    forum = None
    forum_id = appeal_forum_id(action)  # where its thread is now, not where it was decided
    if forum_id is not None:
        forum = db.session.get(Forum, forum_id)
        if forum is None:
            raise NotFound(_("No such forum."))
    if not (
        policy.can_appeal(user, action.subject_id)
        or (policy.is_forum_moderator(user, forum) if forum else policy.is_site_moderator(user))
    ):
        raise NotFound(_("No such decision."))
    return action


def appeal_of(action: ModerationAction) -> Appeal | None:
    """The appeal against a decision, if there is one."""
    return db.session.scalar(select(Appeal).where(Appeal.action_id == action.id))


def redacted_originals(message: Message) -> list[MessageRevision]:
    """The text a redaction removed (admins only see it), newest first."""
    return list(
        db.session.scalars(
            select(MessageRevision)
            .where(
                MessageRevision.message_id == message.id,
                MessageRevision.admin_only.is_(True),
            )
            .order_by(MessageRevision.id.desc())
        )
    )


def find_person(text: str | None) -> User | None:
    """The person with this handle (with or without @) or email address, any case."""
    needle = (text or "").strip().lstrip("@").lower()
    if not needle or "\x00" in needle:  # no one's name has a NUL, and PostgreSQL refuses it
        return None
    return db.session.scalar(
        select(User).where(or_(func.lower(User.handle) == needle, func.lower(User.email) == needle))
    )


def mute_until_expr(user_id: Any, forum_id: Any, now: Any) -> Any:
    """When the mute in force for this person in this forum ends (NULL: not muted), as a
    scalar subquery; the one rule for "muted" (services.moderation.active_mute uses it)."""
    return (
        select(func.max(ModerationAction.until))
        .where(*mute_in_force(user_id, forum_id, now))
        .scalar_subquery()
    )


def mute_in_force(user_id: Any, forum_id: Any, now: Any) -> tuple[Any, ...]:
    return (
        ModerationAction.kind == ActionKind.mute,
        ModerationAction.subject_id == user_id,
        ModerationAction.forum_id == forum_id,
        ModerationAction.reversed_at.is_(None),
        ModerationAction.until > now,
    )
