"""Moderation: flags, decisions on messages, thread controls, mutes, suspensions, appeals.

Nothing is destroyed: hidden text stays in the database, a redaction keeps the
original as an admin-only revision, and every step is written to the audit log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Table, and_, func, select, update
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..errors import Conflict, Invalid, Muted, NotFound, RateLimited
from ..events import emit_after_commit, recheck_access_after_commit, thread_room, user_room
from ..extensions import db
from ..formatting import STOCKHOLM, in_language_of, iso_utc, local_datetime
from ..links import path_for
from ..models import (
    Action,
    ActionKind,
    Appeal,
    AppealOutcome,
    Flag,
    FlagReason,
    Forum,
    Message,
    MessageRevision,
    MessageState,
    ModerationAction,
    Principle,
    Thread,
    User,
)
from ..models.base import utcnow
from ..queries import forums as forum_queries
from ..queries import payloads
from ..queries.moderation import appeal_forum_id, mute_in_force
from ..text import excerpt
from . import audit, notifications
from .rendering import MAX_BODY, MAX_TITLE, replace_text
from .transaction import lock_person, lock_row
from .validation import clean_text

MAX_REASON = 1000
MAX_FLAG_NOTE = 500
MAX_APPEAL = 2000
MAX_DURATION_MINUTES = 365 * 24 * 60
MAX_SLOW_MODE_SECONDS = 3600
OTHER = "other"


# --- reading what is in force --------------------------------------------------


def active_mute(
    user_id: int, forum_id: int, now: datetime | None = None
) -> ModerationAction | None:
    """The mute in force for this person in this forum, if any (expired ones don't count)."""
    now = now or utcnow()
    return db.session.scalar(
        select(ModerationAction)
        .where(*mute_in_force(user_id, forum_id, now))
        .order_by(ModerationAction.until.desc())
        .limit(1)
    )


_LOOK_UP: Any = object()


def check_not_muted(user: User, thread: Thread, muted_until: Any = _LOOK_UP) -> None:
    """Raise Muted while a mute in the thread's forum is in force (`muted_until`: already
    loaded with the thread by queries.moderation.mute_until_expr, None = not muted)."""
    if muted_until is _LOOK_UP:
        check_not_muted_in(user, thread.forum_id)
        return
    _refuse_while_muted(muted_until)


def check_not_muted_in(user: User, forum_id: int) -> None:
    """Raise Muted while a mute in this forum is in force: every way to speak there asks."""
    mute = active_mute(user.id, forum_id)
    _refuse_while_muted(mute.until if mute is not None else None)


def _refuse_while_muted(muted_until: Any) -> None:
    if muted_until is not None:
        if muted_until.tzinfo is None:  # SQLite's max() bypasses the column type
            from datetime import UTC

            muted_until = muted_until.replace(tzinfo=UTC)
        raise Muted(
            _(
                "You are muted in this forum until %(time)s.",
                time=local_datetime(muted_until),
            ),
            until=iso_utc(muted_until),
        )


def tell_mute_state(person_id: int, forum_id: int) -> None:
    """The person's open pages learn, once this commits, whether they may write in the forum:
    `mute:changed {forum_id, until}` to their own room (`until` None: not muted, or the end
    of a mute still in force after another was lifted). A page opened before a mute takes
    its composer away; one drawn while muted offers it again when the mute is lifted."""
    mute = active_mute(person_id, forum_id)
    payload = {"forum_id": forum_id, "until": iso_utc(mute.until) if mute is not None else None}
    emit_after_commit("mute:changed", payload, user_room(person_id))


def check_slow_mode(user: User, thread: Thread, *, serialised: bool = False) -> None:
    """Raise RateLimited (with retry_after) while slow mode keeps this person waiting.

    `serialised`: called inside the write transaction that stores the message. The
    person's row is locked first (a row lock on PostgreSQL, the write lock on SQLite,
    held until commit), so parallel sends of one person are checked one after another,
    each seeing the message the one before it committed.
    """
    seconds = thread.slow_mode_seconds or 0
    if seconds <= 0 or policy.exempt_from_slow_mode(user, thread):
        return
    if serialised:
        db.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(id=User.id)
            .execution_options(synchronize_session=False)
        )
    last = db.session.scalar(
        select(func.max(Message.created_at)).where(
            Message.thread_id == thread.id, Message.author_id == user.id
        )
    )
    if last is None:
        return
    if last.tzinfo is None:  # SQLite's max() bypasses the column type
        from datetime import UTC

        last = last.replace(tzinfo=UTC)
    waited = (utcnow() - last).total_seconds()
    if waited < seconds:
        wait = max(1, math.ceil(seconds - waited))
        raise RateLimited(
            _("Slow mode: wait %(n)d seconds before your next message.", n=wait),
            retry_after=wait,
        )


# --- helpers -------------------------------------------------------------------


def _message(user: User | None, message_id: int) -> Message:
    policy.require_login(user)
    return forum_queries.visible_message(user, message_id)


def _moderated_message(actor: User | None, message_id: int) -> Message:
    message = _message(actor, message_id)
    if message.author_id == actor.id:  # type: ignore[union-attr]
        policy.require(False, _("Nobody moderates their own messages."))
    policy.require(
        policy.can_moderate_message(actor, message),
        _("Only this forum's moderators can do that."),
    )
    # Read afresh under the message's lock: two moderators (or a decision on an appeal, see
    # decide_appeal) acting on it at once take turns, and the second sees what the first did.
    return lock_row(Message, message.id)  # type: ignore[return-value]  # it was just read


def _thread(actor: User | None, thread_id: int) -> Thread:
    policy.require_login(actor)
    thread = forum_queries.visible_thread(actor, thread_id)
    policy.require(
        policy.can_moderate_thread(actor, thread), _("Only this forum's moderators can do that.")
    )
    # read afresh under the thread's lock, as a message is: two moderators locking it at once
    # take turns, and the second is told it is locked already (not a second "locked" logged)
    return lock_row(Thread, thread.id)  # type: ignore[return-value]  # it was just read


def _person(user_id: int) -> User:
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound(_("No such person."))
    return person


def _reason(
    text: str | None, *, required: bool = True, field: str = "reason", missing: str | None = None
) -> str:
    return clean_text(text, field, max_length=MAX_REASON, required=required, missing=missing)


def _principle_or_other(code: str | None, note: str) -> tuple[Principle | None, str]:
    """A principle of the agreement by slug, or 'other' (which needs a written reason)."""
    code = (code or "").strip()
    if code == OTHER:
        if not note:
            raise Invalid(_("Write the reason."), field="note")
        return None, OTHER
    principle = db.session.scalar(select(Principle).where(Principle.slug == code)) if code else None
    if principle is None:
        raise Invalid(_("Choose a principle or “other reason”."), field="reason")
    return principle, principle.slug


def hidden_reason_now(message: Message) -> str:
    """Why this message is hidden, in the language of the request or of the person being
    told (`notifications.deliver` calls it in each recipient's language)."""
    return payloads.message_dict(payloads.payload_row(message), {})["hidden_reason"] or ""


def _duration(minutes: object) -> timedelta:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise Invalid(_("Choose how long."), field="minutes")
    if minutes <= 0 or minutes > MAX_DURATION_MINUTES:
        raise Invalid(_("The time must be between one minute and one year."), field="minutes")
    return timedelta(minutes=minutes)


def _ends(start: datetime, length: timedelta) -> datetime:
    """When a mute or suspension of `length` from `start` ends. Whole days are counted on
    Stockholm's clock, as the moderator and the person read them: a week's mute given at
    14:00 ends at 14:00 a week later, also across a change to or from summer time (counted
    in UTC it would end at 13:00 or 15:00)."""
    if length % timedelta(days=1):
        return start + length
    local = start.astimezone(STOCKHOLM) + length  # an aware datetime adds on its own clock
    return local.astimezone(start.tzinfo)


def _emit_message(event: str, message: Message) -> None:
    payload = {"message": payloads.room_message(message)}
    emit_after_commit(event, payload, thread_room(message.thread_id))
    refresh_quotes(message)


# The replies a change refreshes live, newest first; the others are caught up (their
# `changed_at` moves) and a thread page rewrites its quotes from the quoted message itself.
QUOTES_LIVE = 100


def refresh_quotes(message: Message) -> None:
    """The replies quoting `message` quote its text and state as they are now: call with
    every change to what a reader sees of it (edit, deletion, hide, restore, redaction).

    Their `changed_at` moves in this transaction, so a page catching up (join with
    `changed_since`) gets them in `changed`, and after commit each is sent to the room as
    `message:edited`: hidden or redacted text stays in no open page's quote. One UPDATE
    when nothing replies; three more statements for the replies, however many."""
    messages = cast(Table, Message.__table__)
    db.session.flush()  # Core statements do not autoflush: the quotes read the change
    ids = sorted(
        db.session.execute(
            update(messages)
            .where(messages.c.reply_to_id == message.id)
            .values(changed_at=utcnow())
            .returning(messages.c.id)
        ).scalars(),
        reverse=True,
    )
    if not ids:
        return
    rows = db.session.execute(
        payloads.message_rows_select().where(messages.c.id.in_(ids[:QUOTES_LIVE]))
    ).all()
    room = thread_room(message.thread_id)
    for reply in payloads.messages_dicts([payloads.MessageRow(*row) for row in rows]):
        emit_after_commit("message:edited", {"message": reply}, room)


def _open_flags(message_id: int) -> list[Flag]:
    return list(
        db.session.scalars(
            select(Flag).where(Flag.message_id == message_id, Flag.resolved_at.is_(None))
        )
    )


def _resolve_flags(actor: User | None, message_id: int, resolution: str) -> int:
    result = db.session.execute(
        update(Flag)
        .where(Flag.message_id == message_id, Flag.resolved_at.is_(None))
        .values(
            resolved_at=utcnow(),
            resolved_by_id=actor.id if actor is not None else None,
            resolution=resolution,
        )
    )
    resolved: int = result.rowcount or 0  # type: ignore[attr-defined]
    if resolved:
        message = db.session.get(Message, message_id)
        forum_id = message.thread.forum_id if message is not None else None
        notifications.recount_for_moderators(notifications.moderators_of(forum_id))
    return resolved


def _active_hide(message_id: int) -> ModerationAction | None:
    return db.session.scalar(
        select(ModerationAction).where(
            ModerationAction.message_id == message_id,
            ModerationAction.kind == ActionKind.hide,
            ModerationAction.reversed_at.is_(None),
        )
    )


def action_url(action: ModerationAction) -> str:
    return path_for("moderation.action", action_id=action.id)


def _record_action(
    actor: User,
    kind: ActionKind,
    subject: User,
    reason: str,
    *,
    reason_code: str = OTHER,
    principle: Principle | None = None,
    message: Message | None = None,
    follow_up: Action | None = None,
    forum_id: int | None = None,
    until: datetime | None = None,
) -> ModerationAction:
    action = ModerationAction(
        kind=kind,
        subject_id=subject.id,
        actor_id=actor.id,
        forum_id=forum_id
        if forum_id is not None
        else (message.thread.forum_id if message else None),
        thread_id=message.thread_id
        if message
        else (follow_up.source_thread_id if follow_up else None),
        message_id=message.id if message else None,
        follow_up_action_id=follow_up.id if follow_up else None,
        principle_id=principle.id if principle else None,
        reason_code=reason_code,
        reason=reason,
        until=until,
    )
    db.session.add(action)
    db.session.flush()
    return action


def _tell(
    subject: User, kind: str, reason: str | Callable[[], str], action: ModerationAction
) -> None:
    thread = action.message.thread if action.message is not None else None
    notifications.notify_person(
        subject, kind, reason, action_url(action), thread, action.message_id
    )


# --- flags ---------------------------------------------------------------------


def flag_threshold() -> int:
    return int(current_app.config.get("FORUM_FLAG_THRESHOLD", 3))


def flag_message(
    user: User | None, message_id: int, reason: str | None, note: str | None = ""
) -> tuple[Flag, bool]:
    """Flag a message once; enough distinct flags hide it pending review. Returns (flag, new)."""
    message = _message(user, message_id)
    assert user is not None
    existing = db.session.scalar(
        select(Flag).where(Flag.message_id == message.id, Flag.user_id == user.id)
    )
    if existing is not None:
        return existing, False
    if message.author_id == user.id:
        raise Invalid(_("You cannot flag your own message."))
    policy.require(policy.can_flag_message(user, message), _("You may not flag this message."))
    try:
        kind = FlagReason(reason or "")
    except ValueError:
        raise Invalid(_("Choose why you flag the message."), field="reason") from None
    text = clean_text(note, "note", max_length=MAX_FLAG_NOTE, required=kind == FlagReason.other)
    # Under the message's lock, as moderators take it: readers flagging a message at once
    # take turns, so each counts the flags before it (the moderators are told once, and the
    # flag that reaches the threshold hides it), and a hide or restore is not crossed.
    message = lock_row(Message, message.id)  # type: ignore[assignment]  # it was just read
    if message.state != MessageState.visible:
        raise Conflict(_("This message is already hidden or deleted."))
    flag = Flag(message_id=message.id, user_id=user.id, reason=kind, note=text)
    db.session.add(flag)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # the same person flagged twice at once: one flag counts
        again = db.session.scalar(
            select(Flag).where(Flag.message_id == message_id, Flag.user_id == user.id)
        )
        if again is None:
            raise
        return again, False
    count = db.session.scalar(
        select(func.count(Flag.id)).where(Flag.message_id == message.id, Flag.resolved_at.is_(None))
    )
    if (count or 0) >= flag_threshold():
        message.state = MessageState.hidden
        message.hidden_principle = None  # with no reason: hidden by flags (see the model)
        message.hidden_reason = None
        audit.record(
            None,
            "message.auto_hidden",
            "message",
            message.id,
            f"{count} flags",
            forum_id=message.thread.forum_id,
        )
        _emit_message("message:hidden", message)
        notifications.sync_message_excerpts(message)
    if (count or 0) == 1:  # the first open flag puts the message in the queue: tell once
        notifications.tell_moderators(
            message.thread.forum_id,
            "moderation_flag",
            excerpt(message.html),
            path_for("moderation.queue"),
            actor=user,
            thread=message.thread,
            message_id=message.id,
            barred_id=message.author_id,  # nobody moderates their own message
        )
    db.session.commit()
    return flag, True


# --- decisions on messages -----------------------------------------------------


def dismiss_flags(actor: User | None, message_id: int) -> int:
    """The message is fine: close its open flags (and show it again if flags hid it)."""
    message = _moderated_message(actor, message_id)
    if not _open_flags(message.id):
        raise Conflict(_("There are no open flags on this message."))
    count = _resolve_flags(actor, message.id, "dismissed")
    audit.record(
        actor,
        "flags.dismissed",
        "message",
        message.id,
        f"{count}",
        forum_id=message.thread.forum_id,
    )
    if message.state == MessageState.hidden and _active_hide(message.id) is None:
        _show_again_after_flags(actor, message)
        notifications.sync_message_excerpts(message)
    db.session.commit()
    return count


def _show_again_after_flags(actor: User | None, message: Message) -> None:
    """A message flags hid is shown again (its flags dismissed, or a redaction took out what
    they were about): logged as a restore, so the transparency page's month counts it."""
    message.state = MessageState.visible
    message.hidden_principle = None
    message.hidden_reason = None
    audit.record(actor, "message.restored", "message", message.id, forum_id=message.thread.forum_id)
    _emit_message("message:restored", message)


def hide_message(
    actor: User | None, message_id: int, reason: str | None, note: str | None = ""
) -> ModerationAction:
    """Hide a message under a principle (or another written reason); the author is told."""
    message = _moderated_message(actor, message_id)
    assert actor is not None
    if message.state == MessageState.deleted:
        raise Conflict(_("The author has already deleted this message."))
    if _active_hide(message.id) is not None:
        raise Conflict(_("This message is already hidden."))
    text = _reason(note, required=False, field="note")
    principle, code = _principle_or_other(reason, text)
    message.state = MessageState.hidden
    message.hidden_principle = principle
    message.hidden_reason = text or None
    action = _record_action(
        actor,
        ActionKind.hide,
        message.author,
        text,
        reason_code=code,
        principle=principle,
        message=message,
    )
    _resolve_flags(actor, message.id, "hidden")
    audit.record(
        actor,
        "message.hidden",
        "message",
        message.id,
        payloads.hidden_reason_in_both(principle, text),
        forum_id=message.thread.forum_id,
    )
    _emit_message("message:hidden", message)
    notifications.sync_message_excerpts(message)
    _tell(message.author, "moderation_hidden", lambda: hidden_reason_now(message), action)
    db.session.commit()
    return action


def _active_hides(message_id: int) -> list[ModerationAction]:
    return list(
        db.session.scalars(
            select(ModerationAction)
            .where(
                ModerationAction.message_id == message_id,
                ModerationAction.kind == ActionKind.hide,
                ModerationAction.reversed_at.is_(None),
            )
            .order_by(ModerationAction.id)
        )
    )


def _show_again(message: Message) -> None:
    """Show a hidden message again (its hides are lifted already), live."""
    message.state = MessageState.visible
    message.hidden_principle = None
    message.hidden_reason = None
    _emit_message("message:restored", message)
    notifications.sync_message_excerpts(message)


def restore_message(actor: User | None, message_id: int) -> Message:
    """Show a hidden message again, live; its open flags are closed, the decisions that hid
    it are lifted and an appeal still open against one of them is closed (lapsed)."""
    message = _moderated_message(actor, message_id)
    assert actor is not None
    if message.state != MessageState.hidden:
        raise Conflict(_("This message is not hidden."))
    hides = _active_hides(message.id)
    _show_again(message)
    _resolve_flags(actor, message.id, "restored")
    audit.record(actor, "message.restored", "message", message.id, forum_id=message.thread.forum_id)
    if hides:
        _tell(message.author, "moderation_restored", "", hides[0])
    for action in hides:
        _lift(actor, action)
    db.session.commit()
    return message


def redact_message(
    actor: User | None, message_id: int, replacement: str | None, note: str | None = ""
) -> ModerationAction:
    """Replace a message's public text; the original is kept for admins only."""
    message = _moderated_message(actor, message_id)
    assert actor is not None
    if message.state == MessageState.deleted:
        raise Conflict(_("The author has already deleted this message."))
    text = clean_text(replacement, "replacement", max_length=MAX_BODY, required=False)
    if not text:
        with in_language_of():
            text = _("[Personal data removed by a moderator]")
    if text == message.body:
        raise Invalid(_("Change the text to remove the personal data."), field="replacement")
    reason = _reason(note, required=False, field="note")
    db.session.execute(
        update(MessageRevision)
        .where(MessageRevision.message_id == message.id)
        .values(admin_only=True)
    )
    original = replace_text(message, text, admin_only=True)
    action = _record_action(
        actor,
        ActionKind.redact,
        message.author,
        reason,
        reason_code="personal_data",
        message=message,
    )
    # The revision this decision made is the one replaced at the moment it was made: a
    # reversal on appeal gives back what this decision removed, nothing else.
    original.replaced_at = action.created_at
    _resolve_flags(actor, message.id, "redacted")
    audit.record(
        actor, "message.redacted", "message", message.id, reason, forum_id=message.thread.forum_id
    )
    if message.state == MessageState.hidden and _active_hide(message.id) is None:
        _show_again_after_flags(actor, message)
    else:
        _emit_message("message:edited", message)
    notifications.sync_message_excerpts(message)
    _tell(message.author, "moderation_redacted", reason, action)
    db.session.commit()
    return action


# --- people --------------------------------------------------------------------


def warn_person(
    actor: User | None,
    person_id: int,
    reason: str | None,
    forum_id: int | None = None,
    message_id: int | None = None,
) -> ModerationAction:
    """Send a person a written warning (about a message, in a forum, or site-wide). The same
    warning sent again by the same moderator soon after (a double tap, a form sent again
    after its answer was lost) is the first one: no second notice or log entry."""
    policy.require_login(actor)
    assert actor is not None
    message = _message(actor, message_id) if message_id is not None else None
    person = _person(message.author_id if message else person_id)
    forum = _forum(message.thread.forum_id if message else forum_id)
    policy.require(
        policy.can_moderate_person(actor, person, forum),
        _("You may not warn this person here."),
    )
    text = _reason(reason, missing=_("Write the warning to the person."))
    lock_person(person.id)  # two of the same warning at once: the second finds the first
    again = _warning_just_sent(actor, person, text, message, forum)
    if again is not None:
        db.session.commit()
        return again
    action = _record_action(
        actor,
        ActionKind.warn,
        person,
        text,
        message=message,
        forum_id=forum.id if forum else None,
    )
    audit.record(
        actor, "user.warned", "user", person.id, text, forum_id=forum.id if forum else None
    )
    _tell(person, "moderation_warned", text, action)
    db.session.commit()
    return action


def _warning_just_sent(
    actor: User, person: User, text: str, message: Message | None, forum: Forum | None
) -> ModerationAction | None:
    """This warning, if `actor` sent it to `person` about the same message (or in the same
    forum, or site-wide) within forums.REPEAT_WINDOW."""
    from .forums import REPEAT_WINDOW  # noqa: PLC0415 (services.forums imports this module)

    where = (
        ModerationAction.message_id == message.id
        if message is not None
        else and_(
            ModerationAction.message_id.is_(None),
            ModerationAction.forum_id == forum.id
            if forum is not None
            else ModerationAction.forum_id.is_(None),
        )
    )
    return db.session.scalar(
        select(ModerationAction)
        .where(
            ModerationAction.kind == ActionKind.warn,
            ModerationAction.actor_id == actor.id,
            ModerationAction.subject_id == person.id,
            ModerationAction.reason == text,
            ModerationAction.created_at > utcnow() - REPEAT_WINDOW,
            where,
        )
        .order_by(ModerationAction.id)
        .limit(1)
    )


def _forum(forum_id: int | None) -> Forum | None:
    if forum_id is None:
        return None
    forum = db.session.get(Forum, forum_id)
    if forum is None:
        raise NotFound(_("No such forum."))
    return forum


def mute_person(
    actor: User | None, person_id: int, forum_id: int, minutes: object, reason: str | None
) -> ModerationAction:
    """Mute a person in one forum for a time: they can read but not post there."""
    policy.require_login(actor)
    assert actor is not None
    forum = _forum(forum_id)
    assert forum is not None
    person = _person(person_id)
    policy.require(
        policy.can_moderate_person(actor, person, forum),
        _("You may not mute this person here."),
    )
    length = _duration(minutes)
    text = _reason(reason, missing=_("Write the reason for the mute."))
    lock_person(person.id)  # two mutes at once: the second finds the first in force
    current = active_mute(person.id, forum.id)
    if current is not None:
        raise Conflict(
            _(
                "%(name)s is already muted here until %(time)s.",
                name=person.display_name,
                time=local_datetime(current.until),
            )
        )
    until = _ends(utcnow(), length)
    action = _record_action(actor, ActionKind.mute, person, text, forum_id=forum.id, until=until)
    audit.record(
        actor,
        "user.muted",
        "user",
        person.id,
        f"{text} (until {iso_utc(until)})",
        forum_id=forum.id,
    )
    _tell(person, "moderation_muted", lambda: mute_notice(forum, until, text), action)
    tell_mute_state(person.id, forum.id)
    db.session.commit()
    return action


def check_suspension(
    actor: User | None, person_id: int, minutes: object, reason: str | None
) -> tuple[User, timedelta, str]:
    """Everything suspend_person refuses, checked without changing anything (for the confirmation)."""
    policy.require_login(actor)
    assert actor is not None
    person = _person(person_id)
    policy.require(policy.can_suspend(actor, person), _("You may not suspend this person."))
    length = _duration(minutes)
    text = _reason(reason, missing=_("Write the reason for the suspension."))
    if person.is_suspended(utcnow()):
        raise Conflict(_("%(name)s is already suspended.", name=person.display_name))
    return person, length, text


def suspend_person(
    actor: User | None, person_id: int, minutes: object, reason: str | None
) -> ModerationAction:
    """Suspend an account for a time: no login, and every open socket is closed."""
    person, length, text = check_suspension(actor, person_id, minutes, reason)
    assert actor is not None
    lock_person(person.id)  # confirmed twice at once: the second finds the first in force
    db.session.refresh(person)
    if person.is_suspended(utcnow()):
        raise Conflict(_("%(name)s is already suspended.", name=person.display_name))
    now = utcnow()
    until = _ends(now, length)
    person.suspended_until = until
    action = _record_action(actor, ActionKind.suspend, person, text, until=until)
    audit.record(actor, "user.suspended", "user", person.id, f"{text} (until {iso_utc(until)})")
    from .appeal_links import link_path, notice_text

    # they cannot log in: the notice links to the decision by a signed link that appeals it
    notifications.deliver(
        [person], "moderation_suspended", lambda: notice_text(text, until), link_path(action)
    )
    db.session.commit()
    from .accounts import end_all_sessions

    end_all_sessions(person)  # every session ends; its sockets close on every process
    return action


def _lift(actor: User, action: ModerationAction, decided: Appeal | None = None) -> None:
    """The decision `action` no longer stands. An appeal still open against it (other than
    `decided`, the one reversing it) is closed without effect: there is nothing left to
    decide, and deciding it later would act on whatever stands on the message then."""
    action.reversed_at = utcnow()
    action.reversed_by_id = actor.id
    if action.kind == ActionKind.suspend:
        # What still suspends the person after this one is lifted: a suspension made later
        # (after this one ran out, appealed only now) stays in force to its own end.
        action.subject.suspended_until = db.session.scalar(
            select(func.max(ModerationAction.until)).where(
                ModerationAction.subject_id == action.subject_id,
                ModerationAction.kind == ActionKind.suspend,
                ModerationAction.reversed_at.is_(None),
                ModerationAction.id != action.id,
                ModerationAction.until > utcnow(),
            )
        )
    pending = db.session.scalar(
        select(Appeal).where(Appeal.action_id == action.id, Appeal.decided_at.is_(None))
    )
    if pending is not None and pending is not decided:
        _close_lapsed(actor, pending)
    if action.kind == ActionKind.mute and action.forum_id is not None:
        tell_mute_state(action.subject_id, action.forum_id)


def _close_lapsed(actor: User, item: Appeal) -> None:
    """Close an appeal whose decision was lifted meanwhile: recorded, the appellant told,
    out of the queue; nothing else changes."""
    action = item.action
    forum_id = appeal_forum_id(action)
    item.outcome = AppealOutcome.lapsed
    item.decided_at = utcnow()
    item.decided_by_id = actor.id
    audit.record(actor, "appeal.lapsed", "moderation_action", action.id, forum_id=forum_id)
    _tell(action.subject, "appeal_lapsed", "", action)
    notifications.recount_for_moderators(notifications.moderators_of(forum_id))


def lift_restriction(actor: User | None, action_id: int) -> ModerationAction:
    """End a mute or a suspension before its time is up; the person is told."""
    policy.require_login(actor)
    action = db.session.get(ModerationAction, action_id)
    if action is None or action.kind not in (ActionKind.mute, ActionKind.suspend):
        raise NotFound(_("No such mute or suspension."))
    policy.require(policy.can_lift(actor, action), _("You may not lift this."))
    assert actor is not None
    lock_row(ModerationAction, action.id)  # deciding its appeal takes the same lock
    if not action.in_force(utcnow()):
        raise Conflict(_("This has already ended."))
    _lift(actor, action)
    name = "user.unsuspended" if action.kind == ActionKind.suspend else "user.unmuted"
    audit.record(actor, name, "user", action.subject_id, forum_id=action.forum_id)
    _tell(action.subject, "moderation_lifted", lambda: lifted_notice(action), action)
    db.session.commit()
    return action


def mute_notice(forum: Forum, until: datetime, reason: str) -> str:
    """A mute's notice, in the current language (`notifications.deliver` calls it in each
    recipient's) and Stockholm time: where, until when, why."""
    return _(
        "%(forum)s, until %(time)s: %(reason)s",
        forum=forum.title,
        time=local_datetime(until),
        reason=reason,
    )


def lifted_notice(action: ModerationAction) -> str:
    """A lifted mute's or suspension's notice, in the current language: what was lifted."""
    if action.kind == ActionKind.suspend:
        return _(
            "Your suspension until %(time)s is lifted: you can log in again.",
            time=local_datetime(action.until),
        )
    return _(
        "Your mute in %(forum)s until %(time)s is lifted: you can post there again.",
        forum=action.forum.title if action.forum is not None else "",
        time=local_datetime(action.until),
    )


# --- follow-up actions hidden -------------------------------------------------------


def record_action_hidden(
    actor: User, item: Action, reason: str, forum_id: int | None
) -> ModerationAction | None:
    """Record the hiding of follow-up action `item` (services.follow_up hides it) as a
    decision its proposer may appeal, as hiding a message is; None when there is nobody to
    appeal (no proposer any more, or the moderator proposed it)."""
    proposer = item.proposed_by
    if proposer is None or proposer.id == actor.id:
        return None
    return _record_action(
        actor, ActionKind.hide_action, proposer, reason, follow_up=item, forum_id=forum_id
    )


def _standing_hides(item: Action) -> Any:
    """The decisions that hid follow-up action `item` and still stand (one at most)."""
    return select(ModerationAction).where(
        ModerationAction.kind == ActionKind.hide_action,
        ModerationAction.follow_up_action_id == item.id,
        ModerationAction.reversed_at.is_(None),
    )


def hidden_about(item: Action) -> int | None:
    """Whom the standing decision that hid follow-up action `item` is about, if one does."""
    decision = db.session.scalar(_standing_hides(item))
    return decision.subject_id if decision is not None else None


def lift_action_hidden(actor: User, item: Action) -> None:
    """Follow-up action `item` is shown again: its hiding no longer stands, and an appeal
    waiting against it closes without effect."""
    for decision in db.session.scalars(_standing_hides(item)):
        _lift(actor, decision)


# --- thread controls -------------------------------------------------------------


def _thread_changed(actor: User, thread: Thread, action: str, reason: str = "") -> None:
    audit.record(actor, action, "thread", thread.id, reason, forum_id=thread.forum_id)
    emit_after_commit(
        "thread:updated", {"thread": payloads.thread_dict(thread)}, thread_room(thread.id)
    )
    db.session.commit()


def lock_thread(actor: User | None, thread_id: int, locked: bool = True) -> Thread:
    """Lock (no new messages or edits) or unlock a thread, live for everyone in it."""
    thread = _thread(actor, thread_id)
    if thread.locked == locked:
        raise Conflict(_("The thread is already locked.") if locked else _("The thread is open."))
    thread.locked = locked
    _thread_changed(actor, thread, "thread.locked" if locked else "thread.unlocked")  # type: ignore[arg-type]
    return thread


def pin_thread(actor: User | None, thread_id: int, pinned: bool = True) -> Thread:
    """Pin a thread to the top of its forum, or unpin it."""
    thread = _thread(actor, thread_id)
    if thread.pinned == pinned:
        raise Conflict(_("No change."))
    thread.pinned = pinned
    _thread_changed(actor, thread, "thread.pinned" if pinned else "thread.unpinned")  # type: ignore[arg-type]
    return thread


def archive_thread(actor: User | None, thread_id: int, archived: bool = True) -> Thread:
    """Archive a thread (read-only, off the forum's list) or bring it back."""
    thread = _thread(actor, thread_id)
    if thread.archived == archived:
        raise Conflict(_("No change."))
    thread.archived = archived
    _thread_changed(actor, thread, "thread.archived" if archived else "thread.unarchived")  # type: ignore[arg-type]
    return thread


def rename_thread(actor: User | None, thread_id: int, title: str | None) -> Thread:
    """Give a thread a new title."""
    thread = _thread(actor, thread_id)
    new = clean_text(title, "title", max_length=MAX_TITLE, single_line=True)
    if new == thread.title:
        raise Conflict(_("No change."))
    old, thread.title = thread.title, new
    _thread_changed(actor, thread, "thread.renamed", f"{old} → {new}")  # type: ignore[arg-type]
    return thread


def move_thread(actor: User | None, thread_id: int, forum_id: int | None) -> Thread:
    """Move a thread to another forum the moderator also moderates."""
    thread = _thread(actor, thread_id)
    if forum_id is None:
        raise Invalid(_("Choose a forum."), field="forum_id")
    target = _forum(forum_id)
    assert target is not None
    if target.id == thread.forum_id:
        raise Invalid(_("The thread is already in that forum."), field="forum_id")
    if policy.CONSULTATION_FORUM_SLUG in (thread.forum.slug, target.slug):
        # a round's discussion is read by the round's rules, which follow its forum
        raise Invalid(
            _("A consultation round's discussion stays with its round."), field="forum_id"
        )
    policy.require(
        policy.is_forum_moderator(actor, target),
        _("You can only move threads to forums you moderate."),
    )
    old = thread.forum
    from . import follow_up  # noqa: PLC0415 (it calls this module; imported when needed)

    follow_up.mark_access_changed(Thread.id == thread.id, thread.forum_id, thread.forum.visibility)
    thread.forum_id = target.id
    thread.forum = target
    recheck_access_after_commit(thread_ids=[thread.id])
    audit.record(actor, "thread.moved", "thread", thread.id, f"from {old.title}", forum_id=old.id)
    _thread_changed(actor, thread, "thread.moved", f"to {target.title}")  # type: ignore[arg-type]
    return thread


def set_slow_mode(actor: User | None, thread_id: int, seconds: object) -> Thread:
    """At most one message per `seconds` per person (0 turns it off); moderators are exempt."""
    thread = _thread(actor, thread_id)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise Invalid(_("Give the seconds as a whole number."), field="seconds")
    if seconds < 0 or seconds > MAX_SLOW_MODE_SECONDS:
        raise Invalid(
            _("Slow mode can be 0 to %(n)d seconds.", n=MAX_SLOW_MODE_SECONDS), field="seconds"
        )
    if seconds == thread.slow_mode_seconds:
        raise Conflict(_("No change."))
    thread.slow_mode_seconds = seconds
    _thread_changed(actor, thread, "thread.slow_mode", f"{seconds} s")  # type: ignore[arg-type]
    return thread


# --- appeals -------------------------------------------------------------------


def appeal(user: User | None, action_id: int, body: str | None) -> Appeal:
    """The person concerned appeals a decision, once; the appeal lands in the queue."""
    policy.require_login(user)
    action = db.session.get(ModerationAction, action_id)
    if action is None:
        raise NotFound(_("No such decision."))
    policy.require(
        policy.can_appeal(user, action.subject_id),
        _("Only the person a decision concerns can appeal it."),
    )
    assert user is not None
    if db.session.scalar(select(Appeal.id).where(Appeal.action_id == action.id)) is not None:
        raise Conflict(_("You have already appealed this decision."))
    if action.reversed_at is not None:
        raise Invalid(_("This decision has already been reversed."))
    text = clean_text(body, "body", max_length=MAX_APPEAL)
    item = Appeal(action_id=action.id, user_id=user.id, body=text)
    db.session.add(item)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(_("You have already appealed this decision.")) from None
    forum_id = appeal_forum_id(action)  # its thread's forum now: the thread may have moved
    audit.record(user, "appeal.submitted", "moderation_action", action.id, forum_id=forum_id)
    forum = db.session.get(Forum, forum_id) if forum_id is not None else None
    notifications.tell_moderators(
        forum_id,
        "moderation_appeal",
        text[:300],
        # the queue's page that starts at this appeal (appeals are listed oldest first, so on
        # the first page it could be past the page's end); the digest reads whose it is from
        # the anchor (notifications.APPEAL_URL)
        path_for("moderation.queue", f"appeal-{item.id}", appeals_after=item.id - 1),
        actor=user,
        # only those who could have made the decision, not the one who made it (nor a
        # fellow forum moderator of the person muted): the others' queue does not show it
        may_decide=lambda moderator: policy.can_decide_appeal(moderator, action, forum),
    )
    db.session.commit()
    return item


_SAME_FLUSH = timedelta(seconds=1)
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]")


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def _redaction_texts(action: ModerationAction) -> tuple[str, str] | None:
    """(before, after): the message's text just before and just after the redaction
    `action`, from the revision it made; None if that cannot be known for sure."""
    revisions = list(
        db.session.scalars(
            select(MessageRevision)
            .where(MessageRevision.message_id == action.message_id)
            .order_by(MessageRevision.id)
        )
    )
    made = [r for r in revisions if r.admin_only and r.replaced_at == action.created_at]
    if not made:  # made before the two were tied: the one written in the same flush
        apart = {r.id: abs(r.replaced_at - action.created_at) for r in revisions if r.admin_only}
        near = sorted((gap, rid) for rid, gap in apart.items() if gap < _SAME_FLUSH)
        if near and (len(near) == 1 or near[0][0] < near[1][0]):
            made = [r for r in revisions if r.id == near[0][1]]
    if len(made) != 1:
        return None
    later = [r for r in revisions if r.id > made[0].id]
    after = later[0].body if later else action.message.body  # type: ignore[union-attr]
    return made[0].body, after


def _words(tokens: list[str]) -> tuple[str, ...]:
    return tuple(t.casefold() for t in tokens if not t.isspace())


def _removed_by(before: str, after: str) -> list[tuple[str, ...]]:
    """The stretches of words a change took out (what a redaction removed); the parts of
    one stretch may be apart by spaces the change left where they were."""
    old = _tokens(before)
    out: list[tuple[str, ...]] = []
    run: list[str] = []
    for tag, i1, i2, _j1, _j2 in SequenceMatcher(None, old, _tokens(after), False).get_opcodes():
        if tag in ("replace", "delete"):
            run += old[i1:i2]
        elif tag == "equal" and not all(t.isspace() for t in old[i1:i2]) and run:
            out.append(_words(run))
            run = []
    if run:
        out.append(_words(run))
    return [words for words in out if any(re.search(r"\w", w) for w in words)]


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))


def undo_change(
    before: str, after: str, now: str, keep_out: list[tuple[str, ...]]
) -> tuple[str, bool]:
    """`now` with the change from `before` to `after` undone wherever the text it touched
    has not changed since, and where what it gives back contains none of `keep_out`.

    A three-way merge by words: each stretch the change replaced is given back only if
    that stretch is still in `now` as the change left it. Returns (text, whole): `whole`
    is False when some of the change had to stay (a later edit or redaction touched it).
    """
    base, old, new = _tokens(after), _tokens(before), _tokens(now)
    since = SequenceMatcher(None, base, new, False).get_opcodes()
    changed = [(i1, i2) for tag, i1, i2, _j1, _j2 in since if tag != "equal"]
    same = [(i1, i2, j1) for tag, i1, i2, j1, _j2 in since if tag == "equal"]
    if not base and not new:
        same = [(0, 0, 0)]
    edits: list[tuple[int, int, list[str]]] = []
    whole = True
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, base, old, False).get_opcodes():
        if tag == "equal":
            continue
        back = old[j1:j2]
        touched = any(a1 <= i2 and i1 <= a2 for a1, a2 in changed)
        spot = next((j + i1 - e1 for e1, e2, j in same if e1 <= i1 and i2 <= e2), None)
        again = _words(back)
        if touched or spot is None or any(_contains(again, gone) for gone in keep_out):
            whole = False
            continue
        edits.append((spot, spot + i2 - i1, back))
    for start, end, back in sorted(edits, reverse=True):
        new[start:end] = back
    return "".join(new), whole


def _reverse_redaction(actor: User, action: ModerationAction, message: Message) -> None:
    """Give back what the redaction `action` removed, and only that: the text removed by
    redactions still in force stays out and later edits stay in. Where that cannot be
    done exactly, that part stays redacted and the moderation log says so."""
    texts = _redaction_texts(action)
    keep_out: list[tuple[str, ...]] = []
    for other in db.session.scalars(
        select(ModerationAction).where(
            ModerationAction.message_id == message.id,
            ModerationAction.kind == ActionKind.redact,
            ModerationAction.reversed_at.is_(None),
            ModerationAction.id != action.id,
        )
    ):
        other_texts = _redaction_texts(other)
        if other_texts is not None:
            keep_out += _removed_by(*other_texts)
        elif other.id > action.id:
            texts = None  # what a later redaction removed is not known: it all stays
    if texts is None:
        body, whole = message.body, False
    else:
        body, whole = undo_change(texts[0], texts[1], message.body, keep_out)
    forum_id = message.thread.forum_id
    if body != message.body:
        replace_text(message, body)  # the text as it stands (perhaps the author's later edit)
        _emit_message("message:edited", message)
        notifications.sync_message_excerpts(message)
    if not whole:
        audit.record(
            actor,
            "message.redaction_kept",
            "message",
            message.id,
            f"decision {action.id}: a later edit or redaction changed the same text",
            forum_id=forum_id,
        )


def _reverse(actor: User, action: ModerationAction, item: Appeal) -> None:
    """Undo the decision `action` after its appeal `item` succeeded: that decision only. A
    message hidden by it is shown again only if no other hide stands on it."""
    message = action.message
    _lift(actor, action, item)
    if action.kind == ActionKind.hide and message is not None:
        standing = _active_hides(message.id)
        if message.state == MessageState.hidden and standing:
            # still hidden, by the other decision: its reason is the one shown
            message.hidden_principle_id = standing[-1].principle_id
            message.hidden_reason = standing[-1].reason or None
            _emit_message("message:hidden", message)
        elif message.state == MessageState.hidden:
            _show_again(message)
            # the message is restored: the transparency counts say so too
            audit.record(
                actor,
                "message.restored",
                "message",
                message.id,
                "appeal",
                forum_id=message.thread.forum_id,
            )
    elif action.kind == ActionKind.redact and message is not None:
        _reverse_redaction(actor, action, message)
    elif action.kind == ActionKind.hide_action and action.follow_up_action is not None:
        from . import follow_up  # noqa: PLC0415 (it calls this module; imported when needed)

        if action.follow_up_action.hidden:  # read under decide_appeal's lock
            follow_up.show_again(actor, action.follow_up_action, on_appeal=True)


def may_decide_appeal(actor: User | None, item: Appeal) -> bool:
    """Whether `actor` may decide the appeal: the moderators of the forum the thread is in
    now decide, not those of where it was (NotFound if that forum is gone)."""
    action = item.action
    return policy.can_decide_appeal(actor, action, _forum(appeal_forum_id(action)))


def decide_appeal(
    actor: User | None, appeal_id: int, outcome: str | None, note: str | None = ""
) -> Appeal:
    """Uphold or reverse the decision an appeal is about; the person is told."""
    policy.require_login(actor)
    item = db.session.get(Appeal, appeal_id)
    if item is None:
        raise NotFound(_("No such appeal."))
    action = item.action
    policy.require(may_decide_appeal(actor, item), _("You may not decide on this appeal."))
    assert actor is not None
    # Whatever else changes what this decides takes the same locks in the same order (so no
    # deadlock): showing a hidden action again locks the action, hiding, showing and
    # redacting a message lock the message, lifting a mute or suspension locks the decision.
    # Then what they did is read afresh: the second of two at once hears it, and the
    # decision, its log entry and the person's notice happen once.
    if action.kind == ActionKind.hide_action and action.follow_up_action_id is not None:
        lock_row(Action, action.follow_up_action_id)
    elif action.message_id is not None:
        lock_row(Message, action.message_id)
    lock_row(ModerationAction, action.id)  # and a second moderator deciding this appeal waits here
    db.session.refresh(item)
    forum_id = appeal_forum_id(action)
    if item.decided_at is not None:
        raise Conflict(_("This appeal has already been decided."))
    try:
        result = AppealOutcome(outcome or "")
    except ValueError:
        raise Invalid(_("Choose an outcome."), field="outcome") from None
    if result == AppealOutcome.lapsed:
        raise Invalid(_("Choose an outcome."), field="outcome")
    if action.reversed_at is not None:
        # lifted since the appeal was made (left open before lifting closed it): nothing
        # to decide, and reversing would undo whatever stands on the message now
        _close_lapsed(actor, item)
        db.session.commit()
        return item
    text = _reason(note, required=False, field="note")
    if result == AppealOutcome.reversed:
        _reverse(actor, action, item)
    item.outcome = result
    item.decided_at = utcnow()
    item.decided_by_id = actor.id
    item.decision_note = text
    audit.record(
        actor,
        f"appeal.{result.value}",
        "moderation_action",
        action.id,
        text,
        forum_id=forum_id,
    )
    _tell(action.subject, f"appeal_{result.value}", text, action)
    notifications.recount_for_moderators(notifications.moderators_of(forum_id))
    db.session.commit()
    return item
