"""Follow-up actions: propose, accept or decline, change status and progress, post updates,
remind; moderators hide them and redact their titles."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..errors import Conflict, Invalid, RateLimited
from ..extensions import db
from ..formatting import in_language_of, language_of, long_date
from ..ids import whole_id
from ..links import path_for
from ..models import (
    Action,
    ActionFollower,
    ActionHistory,
    ActionReminder,
    ActionStatus,
    ActionUpdate,
    ConsultationFeedback,
    Department,
    MemberRole,
    Membership,
    MembershipStatus,
    Notification,
    Organisation,
    OrganisationStatus,
    Thread,
    ThreadAccessChange,
    User,
    Visibility,
)
from ..models.base import UTCDateTime, utcnow
from ..models.follow_up import OPEN_STATUSES
from ..queries.follow_up import get_action, source_message
from ..queries.forums import rounds_by_thread
from ..text import excerpt
from . import audit, moderation, throttle
from .consultations import EditConflict, changed_fields, text_digest
from .notifications import ACTION_KINDS, notify_people, notify_person, requote
from .rendering import render_body
from .transaction import insert_on_conflict, lock_name, lock_row
from .validation import (
    check_plausible_date,
    chosen_commitments,
    clean_text,
    plausible_date_range,
    stockholm_today,
)

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_REASON = 2_000
REMIND_BEFORE = timedelta(days=7)


today = stockholm_today  # due dates are Stockholm days


# --- parsing -----------------------------------------------------------------


DUE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_due_date(value: str | None, *, plausible: bool = True) -> date:
    """A due date written YYYY-MM-DD (not an ISO week or ordinal date, nor digits run
    together), and with `plausible` within due_date_range."""
    text = (value or "").strip()
    if not text:
        raise Invalid(_("Enter the due date."), field="due_date")
    if not DUE_DATE.fullmatch(text):
        raise Invalid(_("Write the date as YYYY-MM-DD."), field="due_date")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid(_("Write the date as YYYY-MM-DD."), field="due_date") from None
    if plausible:
        check_due_date(day)
    return day


def due_date_range(now: datetime | None = None) -> tuple[date, date]:
    """The due dates a person may set (validation.plausible_date_range)."""
    return plausible_date_range(today(now))


def check_due_date(day: date) -> None:
    """Refuse a due date outside due_date_range (a typo such as year 0001 or 9999)."""
    check_plausible_date(day, today(), "due_date")


def parse_progress(value: object) -> int:
    """A whole number 0–100 (from a form string or an int)."""
    if isinstance(value, bool):
        raise Invalid(_("Progress is a whole number from 0 to 100."), field="progress")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid(_("Progress is a whole number from 0 to 100."), field="progress") from None
    if not 0 <= number <= 100:
        raise Invalid(_("Progress is a whole number from 0 to 100."), field="progress")
    return number


def parse_owner(value: str | None) -> tuple[Department | None, Organisation | None]:
    """'department:<id>' or 'organisation:<id>' -> exactly one existing owner."""
    kind, _sep, raw = (value or "").partition(":")
    owner_id = whole_id(raw)
    if owner_id is None:
        raise Invalid(_("Choose who owns the action."), field="owner")
    if kind == "department":
        dept = db.session.get(Department, owner_id)
        if dept is not None:
            return dept, None
    elif kind == "organisation":
        org = db.session.get(Organisation, owner_id)
        if org is not None and org.status == OrganisationStatus.verified:
            return None, org
    raise Invalid(_("There is no such owner."), field="owner")


def _log(action: Action, actor: User | None, name: str, old: object, new: object) -> None:
    """Append one change to the history (only when the value changes)."""
    old_text = "" if old is None else str(old)
    new_text = "" if new is None else str(new)
    if old_text != new_text:
        db.session.add(
            ActionHistory(
                action_id=action.id,
                actor_id=actor.id if actor else None,
                field=name,
                old_value=old_text,
                new_value=new_text,
            )
        )


def _follow(action: Action, user: User) -> None:
    """Make `user` a follower; following twice (a double click, two requests at once) is
    one follower row and no error: the primary key decides, not a read before the insert."""
    db.session.execute(
        insert_on_conflict(ActionFollower.__table__, db.session.get_bind().dialect.name)
        .values(action_id=action.id, user_id=user.id, created_at=utcnow())
        .on_conflict_do_nothing()
    )


FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def clean_form_token(value: object) -> str | None:
    """A form's one-time token as stored (None when absent or not one the form makes: such
    a post is simply not recognised when repeated)."""
    if isinstance(value, str) and FORM_TOKEN.fullmatch(value.strip()):
        return value.strip()
    return None


def _proposed_with(user: User, token: str | None) -> Action | None:
    if token is None:
        return None
    return db.session.scalar(
        select(Action).where(Action.proposed_by_id == user.id, Action.form_token == token)
    )


def _posted_with(user: User, token: str | None) -> ActionUpdate | None:
    """The update this person posted with this token (to whichever action: the unique index
    is per author, so a token used on one action is used)."""
    if token is None:
        return None
    return db.session.scalar(
        select(ActionUpdate).where(
            ActionUpdate.author_id == user.id, ActionUpdate.form_token == token
        )
    )


def _same_proposal(action: Action, data: ActionInput) -> bool:
    """Whether `data` is what `action` was proposed with, read as propose_action reads it
    (a post that would be refused is not the same: it is another, unfinished proposal)."""
    try:
        title = clean_text(data.title, "title", max_length=MAX_TITLE, single_line=True)
        description = clean_text(
            data.description, "description", max_length=MAX_TEXT, required=False
        )
        department, organisation = parse_owner(data.owner)
        due = parse_due_date(data.due_date, plausible=False)  # checked when it was stored
        commitments = {c.id for c in chosen_commitments(data.commitment_ids)}
    except Invalid:
        return False
    return (
        title == action.title
        and description == action.description
        and (department.id if department else None) == action.owner_department_id
        and (organisation.id if organisation else None) == action.owner_organisation_id
        and due == action.due_date
        and commitments == {c.id for c in action.commitments}
        and data.message_id == action.source_message_id
        and data.feedback_id == action.source_feedback_id
    )


def _already_proposed(action: Action, data: ActionInput) -> Action:
    """The action a used proposal form made, when posted again with the same content; with
    other content (Back in the browser, changed, sent) it is refused, not dropped in silence."""
    if _same_proposal(action, data):
        return action
    raise Conflict(
        _(
            "This form was already used to propose a different action. Your text is kept: "
            "press the button again to propose this one as a new action."
        )
    )


def _followers(action: Action) -> list[User]:
    """Followers who may still open the action: one removed from the invite-only forum it
    came from keeps the follow row but is told nothing more (its page is a 404 to them)."""
    people = db.session.scalars(
        select(User)
        .join(ActionFollower, ActionFollower.user_id == User.id)
        .where(ActionFollower.action_id == action.id)
    )
    return _action_readers(people, action)


def _action_readers(people: Iterable[User], action: Action) -> list[User]:
    """Those of `people` who may open the action (policy.can_view_action): the round of the
    thread it came from (if a round's discussion) read once for them all, not once each."""
    thread_id = action.source_thread_id
    # the thread held here: the policy's look-ups of it and of its forum find it in the
    # session (which holds rows weakly) instead of reading it again for each person
    thread = db.session.get(Thread, thread_id) if thread_id is not None else None
    rounds = rounds_by_thread([thread.id] if thread is not None else [])
    return [person for person in people if policy.can_view_action(person, action, rounds)]


def _tell(
    people: list[User],
    kind: str,
    url: str,
    text: str | Callable[[], str],
    action: Action,
    actor: User | None = None,
) -> None:
    """Notify about an action, tied to the thread it came from (so a digest can check it)."""
    source = db.session.get(Thread, action.source_thread_id) if action.source_thread_id else None
    notify_people(people, kind, url, text, actor=actor, thread=source)


def _url(action: Action) -> str:
    return path_for("follow_up.show", action_id=action.id)


def _check_rate(user: User) -> None:
    """At most FORUM_ACTION_RATE_LIMIT proposals awaiting another side's acceptance per
    person (each one notifies that side), as messages are limited: a moving window in Redis
    when there is one, else the person's row is locked and their recent proposals counted
    inside the transaction that stores the new one, so parallel proposals queue."""
    limit = current_app.config["FORUM_ACTION_RATE_LIMIT"]
    if not limit.enabled:
        return
    if not throttle.take(
        "action",
        str(user.id),
        user.id,
        limit,
        lambda since: select(func.count()).where(
            Action.proposed_by_id == user.id,
            Action.created_at > since,
            # not those the proposer accepted at once (their own side's): they told no one
            or_(Action.accepted_by_id.is_(None), Action.accepted_by_id != user.id),
        ),
    ):
        raise RateLimited(
            _("You have proposed too many actions in a short time. Try again later."),
            retry_after=limit.seconds,
        )


# --- write path --------------------------------------------------------------


@dataclass
class ActionInput:
    """What a proposer fills in (strings as the form sends them)."""

    title: str = ""
    description: str = ""
    owner: str = ""
    due_date: str = ""
    commitment_ids: list[int] = field(default_factory=list)
    message_id: int | None = None
    feedback_id: int | None = None
    # the proposal form's one-time token: the same form posted again returns the first action
    form_token: str | None = None


def propose_action(user: User | None, data: ActionInput) -> Action:
    """Propose an action (from a message, or directly by an official); the owner accepts it.

    When the proposer is on the owner's side, the action is accepted at once. The same
    form posted again with the same content (the same `form_token`) returns the action it
    made, telling no one again; with other content it is a Conflict (the form was used for
    another proposal). The unique (proposer, token) index decides between two posts at once.
    """
    user = policy.require_login(user)
    token = clean_form_token(data.form_token)
    existing = _proposed_with(user, token)
    if existing is not None:
        return _already_proposed(existing, data)
    message = source_message(user, data.message_id) if data.message_id is not None else None
    thread: Thread | None = message.thread if message else None
    policy.require(
        policy.can_propose_action(user, thread),
        _("You may not propose an action here."),
    )
    if thread is not None:  # turning a message into an action is speaking there
        moderation.check_not_muted(user, thread)
    feedback = None
    if data.feedback_id is not None:
        feedback = db.session.get(ConsultationFeedback, data.feedback_id)
        if feedback is None:
            raise Invalid(_("No such feedback point."), field="feedback")
    title = clean_text(data.title, "title", max_length=MAX_TITLE, single_line=True)
    description = clean_text(data.description, "description", max_length=MAX_TEXT, required=False)
    department, organisation = parse_owner(data.owner)
    due = parse_due_date(data.due_date)
    commitments = chosen_commitments(data.commitment_ids)
    action = Action(
        title=title,
        description=description,
        description_html=render_body(description).html if description else "",
        owner_department_id=department.id if department else None,
        owner_organisation_id=organisation.id if organisation else None,
        owner_department=department,
        owner_organisation=organisation,
        due_date=due,
        status=ActionStatus.planned,
        progress=0,
        source_message_id=message.id if message else None,
        source_thread_id=thread.id if thread else None,
        source_feedback_id=feedback.id if feedback else None,
        proposed_by_id=user.id,
        commitments=commitments,
        form_token=token,
    )
    owner_side = policy.is_action_owner_side(user, action)
    deciders = [] if owner_side else owner_people(action)
    if not owner_side and not deciders and _owner_side(action):
        # the owner's people are there, but none may open it: it would wait for ever (a side
        # with nobody yet waits for its first official or admin, as before)
        raise Invalid(
            _("Nobody on that side may read where the action comes from. Choose another owner."),
            field="owner",
        )
    try:
        if not owner_side:
            _check_rate(user)
        # ids in commit order (PostgreSQL): the API pages actions by id, so one committed
        # after a larger id would never reach a client that asks for those after it
        lock_name("actions")
        db.session.add(action)
        db.session.flush()
        _log(action, user, "created", "", title)
        _follow(action, user)
        if owner_side:
            _accept(action, user)
        else:  # the owner's side must act: accept it (or not)
            _tell(deciders, "action_awaiting", _url(action), title, action, actor=user)
        db.session.commit()
    except (IntegrityError, RateLimited):
        # the same form posted twice at once: the other post stored it (and told the owner)
        db.session.rollback()
        existing = _proposed_with(user, token)
        if existing is None:
            raise
        return _already_proposed(existing, data)
    return action


def mark_changed(action: Action, now: datetime | None = None) -> None:
    """What a reader sees of the action changed (accepted, declined, its status, progress,
    due date, an update, its title, hidden or shown again): `updated_at` is stamped, so that
    the open-data API's `changed_since` finds it again. Every such write calls this."""
    action.updated_at = now or utcnow()


def mark_access_changed(
    threads: ColumnElement[bool], forum_id: int, visibility: Visibility
) -> None:
    """Who may read the threads where `threads` holds changed: they moved to another forum,
    or their forum's visibility changed; before, they were in forum `forum_id`, then of
    `visibility`. That is kept (ThreadAccessChange), and the actions they are the source of
    are stamped, so the open-data API's `changed_since` lists them again: in `items` for a
    reader who can read them now, in `removed` for one who could before and no longer can."""
    now = utcnow()
    db.session.execute(
        insert(ThreadAccessChange).from_select(
            ["thread_id", "changed_at", "forum_id", "visibility"],
            select(
                Thread.id,
                literal(now, UTCDateTime),
                literal(forum_id),
                literal(visibility.value),
            ).where(threads),
        )
    )
    db.session.execute(
        update(Action)
        .where(Action.source_thread_id.in_(select(Thread.id).where(threads)))
        .values(updated_at=now)
    )


def _accept(action: Action, user: User) -> None:
    action.accepted_at = utcnow()
    action.accepted_by_id = user.id
    mark_changed(action, action.accepted_at)
    _log(action, user, "accepted", "", "yes")
    _follow(action, user)


def accept_action(user: User | None, action_id: int) -> Action:
    """The owner's side takes the proposal on; the proposer and followers are told."""
    user = policy.require_login(user)
    # locked: of owners accepting at once, one accepts and the others hear it already is
    action = get_action(user, action_id, lock=True)
    _require_awaiting(action)
    policy.require(
        policy.can_accept_action(user, action),
        _("Only the owner's side accepts an action."),
    )
    _accept(action, user)
    _tell(_followers(action), "action_accepted", _url(action), action.title, action, actor=user)
    db.session.commit()
    return action


def _require_awaiting(action: Action) -> None:
    """A proposal still waiting for its owner's answer, read under the row lock: of an
    accept and a decline at once (or a double click) the second hears what the first did."""
    if action.accepted:
        raise Conflict(_("The action is already accepted."))
    if action.declined:
        raise Conflict(_("The action was declined by its owner's side."))
    if action.hidden:
        raise Conflict(_("A moderator has hidden this action."))


def decline_action(user: User | None, action_id: int, reason: str | None) -> Action:
    """The owner's side says no to a proposal, with a reason; the proposer and followers
    are told as of an acceptance. Final: a declined action is neither accepted nor changed
    (the proposer may propose it again, as a new action)."""
    user = policy.require_login(user)
    action = get_action(user, action_id, lock=True)  # as accept_action: one answer wins
    _require_awaiting(action)
    policy.require(
        policy.can_decline_action(user, action),
        _("Only the owner's side declines an action."),
    )
    text = clean_text(reason, "reason", max_length=MAX_REASON)
    action.declined_at = utcnow()
    action.decline_reason = text
    mark_changed(action, action.declined_at)
    _log(action, user, "declined", "", text)
    _tell(_followers(action), "action_declined", _url(action), action.title, action, actor=user)
    db.session.commit()
    return action


CHANGE_FIELDS = ("status", "progress", "due_date", "drop_reason")


def change_values(action: Action) -> dict[str, str]:
    """The change form's fields as stored, as text (the digest of each is what a form that
    shows them carries as loaded, see text_digest)."""
    return {
        "status": action.status.value,
        "progress": str(action.progress),
        "due_date": action.due_date.isoformat(),
        "drop_reason": action.drop_reason or "",
    }


def change_action(
    user: User | None,
    action_id: int,
    status: str,
    progress: object,
    drop_reason: str = "",
    due_date: str | None = None,
    loaded: Mapping[str, str | None] | None = None,
) -> Action:
    """Change status and progress (and the due date): the owner's side and admins only.

    Progress is 100 exactly when the status is done; dropping needs a reason. The action's
    row is locked first, so of two changes at once the second starts from the first's values
    (and its history says so).

    With `loaded` (the digest of each field as the form showed it, by name: status,
    progress, due_date, drop_reason; see text_digest) only the fields this person changed
    are written, so a form loaded before someone else's change does not undo it; a field
    they changed that someone else changed meanwhile is an EditConflict: nothing is saved.
    A field not in `loaded` is written as posted. A due date is checked against
    due_date_range only when it is written: one stored earlier may stay as it is.
    """
    user = policy.require_login(user)
    action = get_action(user, action_id, lock=True)
    _require_changeable(action)
    policy.require(
        policy.can_change_action(user, action),
        _("Only the owner's side changes an action's status and progress."),
    )
    try:
        new_status = ActionStatus(status)
    except ValueError:
        raise Invalid(_("Choose a status."), field="status") from None
    if new_status == ActionStatus.done and str(progress).strip() == "":
        progress = 100
    new_progress = parse_progress(progress)
    reason = clean_text(drop_reason, "drop_reason", max_length=MAX_REASON, required=False)
    new_due = parse_due_date(due_date, plausible=False) if due_date is not None else action.due_date
    stored = change_values(action)
    posted = {
        "status": new_status.value,
        "progress": str(new_progress),
        "due_date": new_due.isoformat(),
        "drop_reason": reason,
    }
    if loaded is not None:
        write, conflicts = changed_fields(
            {name: text for name, text in posted.items() if name in loaded}, stored, loaded
        )
        if conflicts:
            digests = {name: text_digest(text) for name, text in conflicts.items()}
            raise EditConflict(_change_conflict_message(), conflicts, digests)
        write |= {name for name in posted if name not in loaded}
        if "status" not in write:
            new_status = action.status
        if "progress" not in write:
            new_progress = action.progress
        if "due_date" not in write:
            new_due = action.due_date
        if "drop_reason" not in write:
            reason = stored["drop_reason"]
    if (new_status == ActionStatus.done) != (new_progress == 100):
        raise Invalid(_("Progress is 100 % exactly when the action is done."), field="progress")
    reason = clean_text(
        reason,
        "drop_reason",
        max_length=MAX_REASON,
        required=new_status == ActionStatus.dropped,
    )
    if new_due != action.due_date:
        check_due_date(new_due)
    _log(action, user, "status", action.status.value, new_status.value)
    _log(action, user, "progress", action.progress, new_progress)
    _log(action, user, "due_date", action.due_date.isoformat(), new_due.isoformat())
    new_reason = reason if new_status == ActionStatus.dropped else None
    _log(action, user, "drop_reason", action.drop_reason, new_reason)
    action.status = new_status
    action.progress = new_progress
    action.due_date = new_due
    action.drop_reason = new_reason
    mark_changed(action)
    db.session.commit()
    return action


def _change_conflict_message() -> str:
    return _(
        "Someone else changed this action after you opened the form, so nothing was saved. "
        "What you chose is kept: check the marked fields and save again."
    )


def post_update(
    user: User | None, action_id: int, body: str, form_token: str | None = None
) -> ActionUpdate:
    """A dated progress update by the owner's side; every follower is told.

    The same form posted again with the same text (the same `form_token`) returns the
    update it posted and tells no one again; with another text it is a Conflict (the form
    was used for another update). The action's row lock puts two posts at once one after
    the other.
    """
    user = policy.require_login(user)
    action = get_action(user, action_id, lock=True)
    token = clean_form_token(form_token)
    existing = _posted_with(user, token)
    if existing is not None:
        try:
            text = clean_text(body, "body", max_length=MAX_TEXT)
        except Invalid:
            text = None
        same = existing.action_id == action.id and text == existing.body
        if same:
            return existing
        raise Conflict(
            _(
                "This form was already used to post a different update. Your text is kept: "
                "press the button again to post this one as a new update."
            )
        )
    _require_changeable(action)
    policy.require(
        policy.can_change_action(user, action),
        _("Only the owner's side posts updates."),
    )
    text = clean_text(body, "body", max_length=MAX_TEXT)
    update = ActionUpdate(
        action_id=action.id,
        author_id=user.id,
        body=text,
        html=render_body(text).html,
        form_token=token,
    )
    db.session.add(update)
    db.session.flush()
    _log(action, user, "update", "", str(update.id))
    mark_changed(action)
    _tell(
        _followers(action),
        "action_update",
        _url(action) + f"#update-{update.id}",
        _update_text(action, update),
        action,
        actor=user,
    )
    db.session.commit()
    return update


def _require_changeable(action: Action) -> None:
    if action.declined:
        raise Conflict(_("The action was declined by its owner's side."))
    if action.hidden:
        raise Conflict(_("A moderator has hidden this action."))


# --- moderation: hide, show again, redact the title ----------------------------------


def _moderated(user: User | None, action_id: int) -> tuple[User, Action]:
    user = policy.require_login(user)
    action = get_action(user, action_id, lock=True)
    policy.require(
        policy.can_hide_action(user, action),
        _("Only moderators can do that."),
    )
    return user, action


def _forum_id(action: Action) -> int | None:
    """The forum an action came from: its moderators find the entry in their audit log."""
    if action.source_thread_id is None:
        return None
    thread = db.session.get(Thread, action.source_thread_id)
    return thread.forum_id if thread is not None else None


def hide_action(user: User | None, action_id: int, reason: str | None) -> Action:
    """Hide an action (in any state) with a reason: then only moderators see it, marked
    hidden, and no list, count, export or API has it. Logged; undone by unhide_action."""
    user, action = _moderated(user, action_id)
    if action.hidden:
        raise Conflict(_("This action is already hidden."))
    text = clean_text(reason, "reason", max_length=MAX_REASON)
    action.hidden_at = utcnow()
    action.hidden_reason = text
    mark_changed(action, action.hidden_at)
    _requote(action)
    forum_id = _forum_id(action)
    audit.record(user, "action.hidden", "action", action.id, text, forum_id=forum_id)
    decision = moderation.record_action_hidden(user, action, text, forum_id)
    # the decision, where they can appeal it; not the action's page: a 404 to them now
    if decision is not None:
        _tell_proposer(
            user, action, "moderation_action_hidden", text, moderation.action_url(decision)
        )
    db.session.commit()
    return action


def _tell_proposer(user: User, action: Action, kind: str, reason: str, url: str) -> None:
    """A moderator's step on an action is told to whoever proposed it (as a moderator's step
    on a message is told to its author), with the moderator's reason but not their name."""
    proposer = action.proposed_by
    if proposer is not None and proposer.id != user.id:
        notify_person(proposer, kind, reason, url)


def unhide_action(user: User | None, action_id: int) -> Action:
    """Show a hidden action again, as it was (nothing was removed); logged."""
    user, action = _moderated(user, action_id)
    if not action.hidden:
        raise Conflict(_("This action is not hidden."))
    policy.require(
        policy.can_show_action(user, action, moderation.hidden_about(action)),
        _("Hiding this action is a decision about you: appeal it instead."),
    )
    moderation.lift_action_hidden(user, action)
    show_again(user, action)
    db.session.commit()
    return action


def show_again(user: User, action: Action, *, on_appeal: bool = False) -> None:
    """Show a hidden action again, logged (unhide_action's step, and an appeal's that
    reversed the hiding: services.moderation; checked and committed by the caller). The
    proposer is told, unless the appeal's own decision tells them."""
    action.hidden_at = None
    action.hidden_reason = None
    mark_changed(action)  # back in every list: a reader who synced meanwhile must find it
    _requote(action)
    reason = "appeal" if on_appeal else ""
    audit.record(user, "action.unhidden", "action", action.id, reason, forum_id=_forum_id(action))
    if not on_appeal:
        _tell_proposer(user, action, "moderation_action_shown", "", _url(action))


def redact_action_title(
    user: User | None, action_id: int, replacement: str | None, note: str | None = ""
) -> Action:
    """Replace an action's title (personal data copied from the message it came from):
    the history keeps the replaced title for admins only; notifications that quoted it
    quote the new one."""
    user, action = _moderated(user, action_id)
    text = clean_text(
        replacement, "replacement", max_length=MAX_TITLE, single_line=True, required=False
    )
    if not text:
        with in_language_of():
            text = _("[Personal data removed by a moderator]")
    if text == action.title:
        raise Invalid(_("Change the text to remove the personal data."), field="replacement")
    why = clean_text(note, "note", max_length=MAX_REASON, required=False)
    old = action.title
    # the history's earlier rows that hold a title (as proposed, as redacted before) are
    # for admins only from now on, as a redacted message's revisions are
    db.session.execute(
        update(ActionHistory)
        .where(
            ActionHistory.action_id == action.id,
            ActionHistory.field.in_(["created", "title_redacted"]),
        )
        .values(admin_only=True)
    )
    db.session.add(
        ActionHistory(
            action_id=action.id,
            actor_id=user.id,
            field="title_redacted",
            old_value=old,
            new_value=text,
            admin_only=True,
        )
    )
    action.title = text
    mark_changed(action)
    _requote(action)
    audit.record(user, "action.redacted", "action", action.id, why, forum_id=_forum_id(action))
    _tell_proposer(user, action, "moderation_action_redacted", why, _url(action))
    db.session.commit()
    return action


def _update_text(action: Action, update: ActionUpdate) -> str:
    """What a notice of a progress update quotes: the action's title and the update."""
    return f"{action.title}: {excerpt(update.html)}"


def _reminder_text(action: Action, due: date) -> str:
    """What a reminder quotes, in the current language: the action's title and the due date
    it reminded of, in words as the action's page writes it ("1 May 2027", "1 maj 2027")."""
    return _("%(title)s (due %(date)s)", title=action.title, date=long_date(due))


UPDATE_ANCHOR = re.compile(r"#update-(\d{1,9})$")
REMINDER_KINDS = ("action_reminder", "action_due")  # a week before, and on the due date


def _requote(action: Action) -> None:
    """Notices about the action (and their mail not yet sent) quote it as it is now, as a
    message's notices do (notifications.sync_message_excerpts): nothing while it is hidden
    (hiding is the moderators' tool for personal data, in the title or in an update; where
    the notice is shown it says the action is hidden, in the reader's language), else its
    title, with the update's text or the due date reminded of. Everything quoted is written
    again from the action, its updates and its reminders, so showing it again brings the
    text back, with a title redacted in between. Runs in the caller's transaction."""
    url = _url(action)
    notes = db.session.scalars(
        select(Notification)
        .where(
            or_(Notification.url == url, Notification.url.startswith(url + "#")),
            # not a moderator's notice to the proposer: that quotes the moderator's reason
            Notification.kind.in_(ACTION_KINDS),
        )
        .order_by(Notification.id)
    ).all()
    if not notes:
        return
    updates = {
        u.id: u
        for u in db.session.scalars(select(ActionUpdate).where(ActionUpdate.action_id == action.id))
    }
    reminded = db.session.execute(
        select(ActionReminder.sent_at, ActionReminder.due_date)
        .where(ActionReminder.action_id == action.id)
        .order_by(ActionReminder.sent_at)
    ).all()

    def text_of(note: Notification) -> str:
        if action.hidden:
            return ""
        if note.kind == "action_update":
            found = UPDATE_ANCHOR.search(note.url)
            update = updates.get(int(found[1])) if found else None
            return _update_text(action, update) if update is not None else action.title
        if note.kind in REMINDER_KINDS:
            # the due date of the reminder sent with the notice (the action's may have moved)
            # (stored in the same transaction: a minute's leeway, reminders are days apart)
            dues = [due for sent, due in reminded if sent <= note.created_at + timedelta(minutes=1)]
            # in the language it was written in for the person (one from before the
            # language was kept: theirs now, and kept from now on)
            note.excerpt_lang = note.excerpt_lang or language_of(db.session.get(User, note.user_id))
            with force_locale(note.excerpt_lang):
                return _reminder_text(action, dues[-1] if dues else action.due_date)
        return action.title

    requote(notes, text_of)


def set_following(user: User | None, action_id: int, follow: bool) -> bool:
    """Follow or stop following an action; returns whether the user now follows it."""
    user = policy.require_login(user)
    action = get_action(user, action_id)
    policy.require(policy.can_follow_action(user, action))
    # neither reads first: two clicks at once both succeed (one row, or none)
    if follow:
        _follow(action, user)
    else:
        db.session.execute(
            delete(ActionFollower).where(
                ActionFollower.action_id == action.id, ActionFollower.user_id == user.id
            )
        )
    db.session.commit()
    return follow


# --- reminders ---------------------------------------------------------------


def owner_people(action: Action) -> list[User]:
    """Who acts for the owner and may open the action: the department's officials, or the
    organisation's admins, less those who may not read the thread it came from."""
    return _action_readers(_owner_side(action), action)


def _owner_side(action: Action) -> list[User]:
    """The department's officials, or the organisation's admins (none while it is not
    verified: they may not act for it, so they are not reminded or asked either)."""
    if action.owner_department_id is not None:
        query = select(User).where(User.department_id == action.owner_department_id)
    elif action.owner_organisation is None or not action.owner_organisation.is_verified:
        return []
    else:
        query = (
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organisation_id == action.owner_organisation_id,
                Membership.role == MemberRole.admin,
                Membership.status == MembershipStatus.approved,
            )
        )
    return list(db.session.scalars(query))


def remind(now: datetime | None = None) -> int:
    """Remind owners a week before and on the due date, once each. Returns reminders sent."""
    day = today(now)
    candidates = db.session.scalars(
        select(Action.id).where(
            Action.accepted_at.is_not(None),
            Action.hidden_at.is_(None),
            Action.status.in_(OPEN_STATUSES),
            Action.due_date <= day + REMIND_BEFORE,
        )
    ).all()
    sent = 0
    for action_id in candidates:
        # Read again under the row's lock, the one a moderator's hide takes: a hide that
        # committed since the list was read is seen here (the reminder would quote the
        # hidden title, after the hide had blanked the notices), and one that comes later
        # waits for this commit, then blanks this reminder's notice with the others.
        action = lock_row(Action, action_id)
        if (
            action is None
            or action.hidden_at is not None
            or action.status not in OPEN_STATUSES
            or action.due_date > day + REMIND_BEFORE
        ):
            db.session.rollback()  # the lock ends
            continue
        kind = "due" if action.due_date <= day else "week"
        done = db.session.scalar(
            select(ActionReminder.id).where(
                ActionReminder.action_id == action.id,
                ActionReminder.kind == kind,
                ActionReminder.due_date == action.due_date,
            )
        )
        if done is not None:
            db.session.rollback()  # the lock ends
            continue
        db.session.add(ActionReminder(action_id=action.id, kind=kind, due_date=action.due_date))
        _tell(
            owner_people(action),
            "action_due" if kind == "due" else "action_reminder",
            _url(action),
            partial(_reminder_text, action, action.due_date),  # in each person's language
            action,
        )
        try:
            db.session.commit()
        except IntegrityError:  # another run sent it at the same moment
            db.session.rollback()
            continue
        sent += 1
    return sent
