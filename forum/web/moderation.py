"""Moderation pages: flagging, the review queue, thread controls, people, appeals, audit log,
and the public transparency page. Views parse the form, call forum.services.moderation and
answer; refused actions show their reason on the page they came from."""

from __future__ import annotations

import contextlib
from datetime import date

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required

from .. import policy
from ..errors import DomainError, Invalid, NotFound, RateLimited
from ..extensions import db
from ..models import Appeal, FlagReason, Message, MessageState, ModerationAction, Principle, User
from ..models.base import utcnow
from ..queries import agreement, payloads
from ..queries import forums as forum_queries
from ..queries import moderation as mq
from ..services import accounts, appeal_links
from ..services import moderation as service
from ..services.transaction import discard_changes
from .forms import ButtonForm
from .navigation import safe_next

bp = Blueprint("moderation", __name__)

FLAG_REASONS = {
    FlagReason.spam.value: _l("Spam or advertising"),
    FlagReason.offensive.value: _l("Offensive or abusive"),
    FlagReason.off_topic.value: _l("Off topic"),
    FlagReason.personal_data.value: _l("Personal data (someone's address, phone, ID number…)"),
    FlagReason.other.value: _l("Something else (write what)"),
}
DURATIONS = [
    (60, _l("1 hour")),
    (24 * 60, _l("1 day")),
    (7 * 24 * 60, _l("1 week")),
    (30 * 24 * 60, _l("30 days")),
    (365 * 24 * 60, _l("1 year")),
]
ACTION_LABELS = {
    "hide": _l("Hidden message"),
    "redact": _l("Redacted personal data"),
    "warn": _l("Warning"),
    "mute": _l("Muted in a forum"),
    "suspend": _l("Suspended account"),
    "hide_action": _l("Hidden follow-up action"),
    "message.auto_hidden": _l("Hidden automatically after flags"),
    "message.restored": _l("Restored message"),
    "thread.locked": _l("Locked thread"),
}


def _checked() -> None:
    """Refuse a post without a valid CSRF token (the forms carry one)."""
    if not ButtonForm().validate_on_submit():
        raise Invalid(_("The form had expired or was not sent from this site. Try again."))


# What the forms call their number fields, for an error (never the form's own key).
FIELD_LABELS = {
    "seconds": _l("Seconds between messages"),
    "minutes": _l("For how long"),
    "forum_id": _l("Forum"),
}


def _int(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        label = str(FIELD_LABELS.get(name, name))
        raise Invalid(_("%(field)s must be a whole number.", field=label), field=name) from None


def _require_moderation() -> None:
    policy.require(policy.can_use_moderation(current_user), _("Only moderators can see this page."))


def _principles() -> list[Principle]:
    return agreement.principles()


def _duration_label(minutes: int | None) -> str:
    """The words for a length of time the form offers (the service checks the number)."""
    for value, label in DURATIONS:
        if value == minutes:
            return str(label)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes or 0)


def _common() -> dict:
    return {
        "principles": _principles(),
        "durations": DURATIONS,
        "flag_reasons": FLAG_REASONS,
        "can_suspend_anyone": policy.is_site_moderator(current_user),
    }


# --- flagging --------------------------------------------------------------------


@bp.route("/messages/<int:message_id>/flag", methods=["GET", "POST"])
@login_required
def flag(message_id: int):
    """Flag a message for the moderators, once, with a reason."""
    message = forum_queries.visible_message(current_user, message_id)
    back = url_for("forums.thread", thread_id=message.thread_id, _anchor=f"m{message.id}")
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            _checked()
            _flag, created = service.flag_message(
                current_user,
                message_id,
                request.form.get("reason"),
                request.form.get("note"),
            )
        except DomainError as err:
            if err.status in (401, 403, 404):
                raise
            discard_changes()  # the message's lock ends before the page is built
            errors[err.field or "form"] = err.message
            status = err.status
        else:
            if created:
                flash(_("Thank you. The moderators will look at the message."), "success")
            else:
                flash(_("You have already flagged this message."), "success")
            return redirect(back)
    return render_template(
        "moderation/flag.html",
        message=payloads.message_payload(message),
        thread=message.thread,
        back=back,
        errors=errors,
        values=request.form,
        **_common(),
    ), status


# --- the queue -----------------------------------------------------------------------


def _queue_page(
    status: int = 200,
    refused: str = "",
    message_id: int | None = None,
    appeal_id: int | None = None,
    field_error: tuple[str, str] | None = None,
):
    """The queue; after a refused form, the message or appeal it was for stays on the page
    with what was typed, also when it has just left the queue (another moderator hid the
    message or decided the appeal a moment earlier)."""
    _require_moderation()
    # a page further on: ?after= (the flagged messages') and ?appeals_after= (the appeals')
    after = request.args.get("after")
    items, more_items = mq.queue_page(current_user, after)
    if message_id is not None and message_id not in {i.message.id for i in items}:
        with contextlib.suppress(DomainError):
            items = mq.items_for([_moderated_message(message_id).id]) + items
    appeals_after = request.args.get("appeals_after", "")
    appeals, more_appeals = mq.pending_appeals_page(
        current_user,
        int(appeals_after) if appeals_after.isdigit() and len(appeals_after) < 19 else None,
    )
    if appeal_id is not None and appeal_id not in {a.id for a in appeals}:
        appeals = _decidable_appeals(appeal_id) + appeals
    return render_template(
        "moderation/queue.html",
        items=items,
        appeals=appeals,
        more_items=more_items,
        more_appeals=more_appeals,
        paged=bool(after or appeals_after),
        labels=ACTION_LABELS,
        **_typed(refused, field_error),
        **_common(),
    ), status


@bp.get("/moderation")
@login_required
def queue():
    """The review queue: flagged messages by priority, and appeals."""
    return _queue_page()


def _moderated_message(message_id: int) -> Message:
    """A message the current user moderates (NotFound or Forbidden otherwise)."""
    message = forum_queries.visible_message(current_user, message_id)
    policy.require(
        policy.is_forum_moderator(current_user, message.thread.forum),
        _("Only this forum's moderators can see this page."),
    )
    # nobody moderates their own message, nor sees who flagged it
    policy.require(policy.can_moderate_message(current_user, message), _("You may not do that."))
    return message


def _decidable_appeals(appeal_id: int) -> list[Appeal]:
    """The appeal, if the current user may decide it (the service's own rule), else none."""
    appeal = db.session.get(Appeal, appeal_id)
    with contextlib.suppress(NotFound):
        if appeal is not None and service.may_decide_appeal(current_user, appeal):
            return [appeal]
    return []


def _message_page(
    message_id: int,
    status: int = 200,
    refused: str = "",
    field_error: tuple[str, str] | None = None,
):
    message = _moderated_message(message_id)
    originals = []
    if policy.can_see_redacted_original(current_user):
        originals = mq.redacted_originals(message)
    return render_template(
        "moderation/message.html",
        item=mq.items_for([message.id])[0],
        actions=mq.actions_for(message.id),
        originals=originals,
        **_typed(refused, field_error),
        **_common(),
    ), status


@bp.get("/moderation/messages/<int:message_id>")
@login_required
def message(message_id: int):
    """One message under review: context, open flags, decisions so far, the actions."""
    return _message_page(message_id)


def _typed(refused: str, field_error: tuple[str, str] | None = None) -> dict:
    """What a page needs to give a refused form back as it was sent: the values, which
    form they belong to ("hide-7", "decide-3", "mute"), so that only that form is filled in,
    and the refused field's input id with the error to show beside it ("hide-note-7", ...)."""
    return {
        "values": request.form if refused else {},
        "refused": refused,
        "field_error": field_error,
    }


# A review form's fields, by the name a service's error gives them, and the id of each one's
# input on the queue and the message page (with "-<message or appeal id>" after it). The
# warning's and the mute's text is the services' "reason"; the form sends it as "note".
REVIEW_FIELDS = {
    "hide": {"reason": "hide-reason", "note": "hide-note"},
    "redact": {"replacement": "redact-text", "note": "redact-note"},
    "warn": {"reason": "warn-note", "note": "warn-note"},
    "mute": {"minutes": "mute-minutes", "reason": "mute-note", "note": "mute-note"},
    "decide": {"note": "appeal-note"},
}


def _refused(
    err: DomainError, refused: str, message_id: int | None = None, appeal_id: int | None = None
):
    """Show why an action was refused on the page it came from, with the error's status and
    the refused form (named as _typed does) filled in with what the moderator typed. An
    error about one field is shown beside it and marks it invalid (header.js moves the
    focus there), as the thread page's controls do; any other is flashed."""
    if err.status in (401, 403, 404):
        raise err
    discard_changes()  # the refused call's changes and locks end before the page is built
    form, _sep, number = refused.partition("-")
    field = REVIEW_FIELDS.get(form, {}).get(err.field or "")
    field_error = (f"{field}-{number}", err.message) if field else None
    if field_error is None:
        flash(err.message, "error")
    if message_id is not None and request.form.get("from") == "message":
        return _message_page(message_id, err.status, refused, field_error)
    return _queue_page(err.status, refused, message_id, appeal_id, field_error)


MESSAGE_ACTIONS = {
    "dismiss": (
        lambda mid: service.dismiss_flags(current_user, mid),
        _l("The flags are dismissed."),
    ),
    "hide": (
        lambda mid: service.hide_message(
            current_user, mid, request.form.get("reason"), request.form.get("note")
        ),
        _l("The message is hidden."),
    ),
    "restore": (
        lambda mid: service.restore_message(current_user, mid),
        _l("The message is shown again."),
    ),
    "redact": (
        lambda mid: service.redact_message(
            current_user, mid, request.form.get("replacement"), request.form.get("note")
        ),
        _l("The personal data is removed."),
    ),
    "warn": (
        lambda mid: service.warn_person(current_user, 0, request.form.get("note"), message_id=mid),
        _l("The warning is sent."),
    ),
    "mute": (
        lambda mid: _mute_author(mid),
        _l("The author is muted in this forum."),
    ),
}


def _mute_author(message_id: int):
    message = forum_queries.get_message(message_id)
    return service.mute_person(
        current_user,
        message.author_id,
        message.thread.forum_id,
        _int("minutes"),
        request.form.get("note"),
    )


@bp.post("/moderation/messages/<int:message_id>/<op>")
@login_required
def act_on_message(message_id: int, op: str):
    """Dismiss flags, hide, restore, redact, warn the author, or mute them."""
    if op not in MESSAGE_ACTIONS:
        raise NotFound(_("No such action."))
    run, done = MESSAGE_ACTIONS[op]
    try:
        _checked()
        run(message_id)
    except DomainError as err:
        return _refused(err, f"{op}-{message_id}", message_id)
    flash(str(done), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("moderation.queue"))


# --- thread controls -------------------------------------------------------------------


THREAD_ACTIONS = {
    "lock": lambda tid: service.lock_thread(current_user, tid, True),
    "unlock": lambda tid: service.lock_thread(current_user, tid, False),
    "pin": lambda tid: service.pin_thread(current_user, tid, True),
    "unpin": lambda tid: service.pin_thread(current_user, tid, False),
    "archive": lambda tid: service.archive_thread(current_user, tid, True),
    "unarchive": lambda tid: service.archive_thread(current_user, tid, False),
    "rename": lambda tid: service.rename_thread(current_user, tid, request.form.get("title")),
    "move": lambda tid: service.move_thread(current_user, tid, _int("forum_id")),
    "slow_mode": lambda tid: service.set_slow_mode(current_user, tid, _int("seconds") or 0),
}


# A thread control's form field and the id of its input on the thread page.
THREAD_FIELDS = {"seconds": "slow-seconds", "title": "rename-title", "forum_id": "move-forum"}


@bp.post("/threads/<int:thread_id>/moderate")
@login_required
def moderate_thread(thread_id: int):
    """Thread controls: lock, pin, archive (and back), rename, move, slow mode."""
    op = request.form.get("action", "")
    if op not in THREAD_ACTIONS:
        raise Invalid(_("Unknown action."), field="action")
    try:
        _checked()
        THREAD_ACTIONS[op](thread_id)
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        from .forums import MessageForm, _thread_page

        thread = forum_queries.visible_thread(current_user, thread_id)
        if err.field in THREAD_FIELDS:
            # shown beside its field in the open thread controls, not as a loose flash
            g.thread_control_error = (THREAD_FIELDS[err.field], err.message)
        else:
            flash(err.message, "error")
        return _thread_page(thread, MessageForm(), err.status)
    flash(_("Saved."), "success")
    return redirect(url_for("forums.thread", thread_id=thread_id))


# --- people ------------------------------------------------------------------------------


def _find_person(text: str | None) -> User:
    person = mq.find_person(text)
    if person is None:
        raise Invalid(_("No one has that handle or email address."), field="person")
    return person


def _people_page(errors: dict[str, str] | None = None, status: int = 200, refused: str = ""):
    _require_moderation()
    return render_template(
        "moderation/people.html",
        restrictions=mq.active_restrictions(current_user),
        forums=mq.moderated_forums(current_user),
        errors=errors or {},
        **_typed(refused),
        **_common(),
    ), status


@bp.get("/moderation/people")
@login_required
def people():
    """Mutes and suspensions in force, and forms to add them."""
    return _people_page()


@bp.post("/moderation/people/<kind>")
@login_required
def restrict(kind: str):
    """Mute a person in a forum, or suspend an account, for a time."""
    if kind not in ("mute", "suspend"):
        raise NotFound(_("No such action."))
    try:
        _checked()
        person = _find_person(request.form.get("person"))
        if kind == "mute":
            service.mute_person(
                current_user,
                person.id,
                _int("forum_id") or 0,
                _int("minutes"),
                request.form.get("reason"),
            )
        elif request.form.get("confirmed") != "1":
            # suspending logs the person out at once: ask first (works without JavaScript)
            _who, _length, reason = service.check_suspension(
                current_user, person.id, _int("minutes"), request.form.get("reason")
            )
            return render_template(
                "moderation/confirm_suspend.html",
                person=person,
                minutes=_int("minutes"),
                duration=_duration_label(_int("minutes")),
                reason=reason,
                action_form=ButtonForm(),
            )
        else:
            service.suspend_person(
                current_user, person.id, _int("minutes"), request.form.get("reason")
            )
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        return _people_page({f"{kind}-{err.field or 'form'}": err.message}, err.status, kind)
    flash(_("Saved for %(name)s.", name=person.display_name), "success")
    return redirect(url_for("moderation.people"))


@bp.post("/moderation/actions/<int:action_id>/lift")
@login_required
def lift(action_id: int):
    """End a mute or suspension early."""
    try:
        _checked()
        service.lift_restriction(current_user, action_id)
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        flash(err.message, "error")
        return _people_page(status=err.status)
    flash(_("Lifted."), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("moderation.people"))


# --- decisions and appeals --------------------------------------------------------------


def _action_page(action_id: int, errors: dict[str, str] | None = None, status: int = 200):
    action = mq.get_action(current_user, action_id)
    appeal = mq.appeal_of(action)
    message = action.message
    hidden = message is not None and message.state == MessageState.hidden
    return render_template(
        "moderation/action.html",
        action=action,
        appeal=appeal,
        hidden_reason=service.hidden_reason_now(message) if message and hidden else "",
        mine=action.subject_id == current_user.id,
        labels=ACTION_LABELS,
        errors=errors or {},
        values=request.form,
    ), status


@bp.get("/moderation/actions/<int:action_id>")
@login_required
def action(action_id: int):
    """A decision as the person concerned sees it: what, why, and the appeal."""
    return _action_page(action_id)


@bp.post("/moderation/actions/<int:action_id>/appeal")
@login_required
def appeal(action_id: int):
    """Appeal a decision about oneself, once."""
    try:
        _checked()
        service.appeal(current_user, action_id, request.form.get("body"))
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        return _action_page(action_id, {err.field or "form": err.message}, err.status)
    flash(_("Your appeal is sent. A moderator will look at it."), "success")
    return redirect(url_for("moderation.action", action_id=action_id))


def _no_trace(response):
    """The link's token is in the address: no Referer carries it on, no cache keeps the page."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _link_page(
    token: str,
    action: ModerationAction | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    if action is None:  # the link does not work (forged, another decision's, expired)
        page = render_template(
            "moderation/appeal_link_invalid.html",
            message=(errors or {}).get("form", ""),
            expired=status == 410,
            limited=status == 429,
        )
    else:
        page = render_template(
            "moderation/appeal_link.html",
            token=token,
            action=action,
            appeal=appeal_links.appeal_of(action),
            open=policy.can_appeal_by_link(action, utcnow()),
            labels=ACTION_LABELS,
            errors=errors or {},
            values=request.form,
        )
    return _no_trace(current_app.make_response((page, status)))


@bp.route("/moderation/appeal/<token>", methods=["GET", "POST"])
def appeal_by_link(token: str):
    """A suspended person reads the suspension and appeals it, once, through the signed link
    of the suspension mail (or of the login page): no login, since they cannot log in.
    A post counts with the address's login attempts (the same limit)."""
    attempt = None
    if request.method == "POST":
        try:
            attempt = accounts.reserve_form_attempt(request.remote_addr)
        except RateLimited as err:
            return _link_page(token, None, {"form": err.message}, err.status)
    try:
        action = appeal_links.decision_for(token)
    except DomainError as err:
        return _link_page(token, None, {"form": err.message}, err.status)
    if request.method == "GET":
        return _link_page(token, action)
    try:
        _checked()
        appeal_links.appeal_by_link(token, request.form.get("body"))
    except DomainError as err:
        db.session.rollback()
        return _link_page(token, action, {err.field or "form": err.message}, err.status)
    assert attempt is not None
    accounts.forget_attempt(attempt)
    flash(_("Your appeal is sent. A moderator will look at it."), "success")
    return redirect(url_for("moderation.appeal_by_link", token=token), 303)


@bp.post("/moderation/appeals/<int:appeal_id>/decide")
@login_required
def decide(appeal_id: int):
    """Uphold or reverse the decision an appeal is about."""
    try:
        _checked()
        service.decide_appeal(
            current_user, appeal_id, request.form.get("outcome"), request.form.get("note")
        )
    except DomainError as err:
        return _refused(err, f"decide-{appeal_id}", appeal_id=appeal_id)
    flash(_("The appeal is decided and the person is told."), "success")
    return redirect(url_for("moderation.queue"))


# --- audit log and transparency --------------------------------------------------------


def _date(name: str) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(_("Give the date as YYYY-MM-DD."), field=name) from None


@bp.get("/moderation/audit")
@login_required
def audit_log():
    """Every moderation step, newest first, filtered by who, what, forum and dates. Read-only."""
    _require_moderation()
    errors: dict[str, str] = {}
    filters = mq.AuditFilters(
        actor=(request.args.get("actor") or "").strip()[:254],
        action=(request.args.get("action") or "").strip()[:60],
        forum_id=request.args.get("forum", type=int),
        before=request.args.get("before", type=int),
    )
    for name in ("since", "until"):
        try:
            setattr(filters, name, _date(name))
        except Invalid as err:
            errors[name] = err.message
    entries, more = mq.audit_entries(current_user, filters)
    forums = mq.moderated_forums(current_user)
    return render_template(
        "moderation/audit.html",
        entries=entries,
        more=more,
        filters=filters,
        forums=forums,
        forum_titles={f.id: f.title for f in forums},
        actions=mq.audit_actions(current_user),
        by_email=policy.is_admin(current_user),  # as mq.audit_entries filters
        errors=errors,
        args=request.args,
        older_args={k: v for k, v in request.args.items() if k != "before"},
    ), 400 if errors else 200


@bp.get("/moderation/transparency")
def transparency():
    """Public: moderation decisions per month and per reason, without names."""
    return render_template(
        "moderation/transparency.html", stats=mq.transparency(), labels=ACTION_LABELS, **_common()
    )
