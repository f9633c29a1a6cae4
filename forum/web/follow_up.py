"""Follow-up: actions (list, propose, detail, accept or decline, change, updates, hide and
redact) and the dashboard."""

from __future__ import annotations

import re
import uuid
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired

from .. import policy
from ..errors import Conflict, DomainError, Invalid, Muted, NotFound
from ..formatting import long_date, page_language
from ..ids import whole_id
from ..models import Action, ActionStatus, Commitment, ConsultationFeedback, User
from ..models.base import utcnow
from ..queries import agreement
from ..queries import follow_up as fq
from ..queries import organisations as org_queries
from ..services import follow_up as service
from ..services import moderation as moderation_service
from . import exports
from .forms import ButtonForm, MultiCheckboxField, act, form_error

bp = Blueprint("follow_up", __name__)

STATUS_LABELS = {
    ActionStatus.planned: _l("Planned"),
    ActionStatus.in_progress: _l("In progress"),
    ActionStatus.done: _l("Done"),
    ActionStatus.dropped: _l("Dropped"),
}
FIELD_LABELS = {
    "created": _l("Proposed"),
    "accepted": _l("Accepted by the owner"),
    "status": _l("Status"),
    "progress": _l("Progress (%)"),
    "due_date": _l("Due date"),
    "drop_reason": _l("Reason for dropping"),
    "update": _l("Update posted"),
    "declined": _l("Declined by the owner"),
    "title_redacted": _l("Title redacted by a moderator"),
}


def viewer() -> User | None:
    return current_user if current_user.is_authenticated else None


class ProposeForm(FlaskForm):
    title = StringField(_l("What will be done"), validators=[InputRequired()])
    description = TextAreaField(_l("Description (markdown, optional)"))
    owner = SelectField(_l("Owner"), validate_choice=False)
    due_date = StringField(_l("Due date"), render_kw={"type": "date"})
    commitments = MultiCheckboxField(_l("Commitments"))
    # one-time: made when the form is shown, so the same form posted twice is one action
    form_token = HiddenField("Form Token")


class ChangeForm(FlaskForm):
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()],
        validate_choice=False,
    )
    progress = StringField(
        _l("Progress (%)"), render_kw={"type": "number", "min": 0, "max": 100, "step": 1}
    )
    due_date = StringField(_l("Due date"), render_kw={"type": "date"})
    drop_reason = TextAreaField(_l("Reason for dropping (needed when dropped)"))
    # the digest of each field as the form showed it (services.follow_up.change_action):
    # only what this person changed is saved, so an older page undoes no one else's change
    loaded_status = HiddenField()
    loaded_progress = HiddenField()
    loaded_due_date = HiddenField()
    loaded_drop_reason = HiddenField()


class UpdateForm(FlaskForm):
    body = TextAreaField(_l("Progress update (markdown)"), validators=[InputRequired()])
    form_token = HiddenField("Form Token")  # as ProposeForm's: posted twice, posted once


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Why your side declines it"), id="decline-reason")


class HideForm(FlaskForm):
    reason = TextAreaField(_l("Reason for hiding (moderators see it)"), id="hide-reason")


class RedactForm(FlaskForm):
    replacement = StringField(_l("New title"), id="redact-replacement")
    note = TextAreaField(_l("Note for the audit log (optional)"), id="redact-note")


def _fresh_token(form: ProposeForm | UpdateForm, used: bool = False) -> None:
    """A token for a form being shown. A post refused for its content keeps its own (nothing
    was stored with it); one refused because its token was `used` for something else gets a
    new one, so pressing the button again sends the kept text as a new post."""
    if used or not service.clean_form_token(form.form_token.data):
        form.form_token.data = uuid.uuid4().hex


def _owner_choices() -> list[SelectChoice]:
    choices = [SelectChoice("", _("Choose…"))]
    choices += [SelectChoice(f"department:{d.id}", d.name) for d in org_queries.departments()]
    choices += [
        SelectChoice(f"organisation:{o.id}", o.name) for o in org_queries.verified_organisations()
    ]
    return choices


def _ids(values: list[str] | None) -> list[int]:
    """The ticked commitments' ids; anything but an id a row may have is the field's error
    (a number beyond the id range used to reach the database and end in a 404 page)."""
    ids = [whole_id(v) for v in values or []]
    if None in ids:
        raise Invalid(_("Unknown choice."), field="commitments")
    return [i for i in ids if i is not None]


# --- actions -----------------------------------------------------------------


# the action list's status filter: "accepted" (what the dashboard counts), "open" (still to
# be done), "proposed", "declined" and the statuses of accepted actions
LIST_STATUSES = ("accepted", "open", "proposed", "declined", *(s.value for s in ActionStatus))
FIRST_YEAR = 2000  # the first year the dashboard and the action list offer

AFTER = re.compile(r"(\d{4}-\d{2}-\d{2})\.(\d{1,10})")


def _after(raw: str | None) -> tuple[date, int] | None:
    """Where a page of the action list starts: after the (due date, id) "YYYY-MM-DD.id" of
    the previous page's last action. Anything else names no page (404), not a 500."""
    if not raw:
        return None
    found = AFTER.fullmatch(raw)
    action_id = whole_id(found[2]) if found else None
    try:
        due = date.fromisoformat(found[1]) if found else None
    except ValueError:
        due = None
    if due is None or action_id is None:
        raise NotFound(_("No such page of actions."))
    return due, action_id


def cursor(after: tuple[date, int]) -> str:
    """The next page's `after`, as _after reads it."""
    return f"{after[0].isoformat()}.{after[1]}"


def _list_year(raw: str | None, this_year: int) -> tuple[int | None, str | None]:
    """The action list's `year` (proposed in it, as the dashboard counts), and an error for
    the page when it names no year the dashboard has (then the list is of every year)."""
    if not raw:
        return None, None
    year = int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 4 else None
    if year is None or not FIRST_YEAR <= year <= this_year + 1:
        return None, _("There are no figures for that year: the list shows every year.")
    return year, None


def _years(this_year: int, chosen: int | None = None) -> list[int]:
    """The years a filter offers, newest first (and the chosen one, if older)."""
    years = list(range(this_year, this_year - 6, -1))
    if chosen is not None and chosen not in years:
        years = sorted([*years, chosen], reverse=True)
    return years


@bp.get("/actions")
def index():
    """The actions the visitor may see, filtered by status, owner, commitment, year
    proposed, overdue and (logged in) their own or followed ones; a page at a time, soonest
    due first. A dashboard row links here with its year, department and commitment and
    status "accepted": the list of the actions its figures count."""
    status = request.args.get("status") or None
    if status not in LIST_STATUSES:
        status = None  # one the list has no filter for lists every action, as before
    this_year = service.today().year
    year, year_error = _list_year(request.args.get("year"), this_year)
    department_id = request.args.get("department", type=int)
    commitment = request.args.get("commitment") or None
    overdue = request.args.get("overdue") == "1"
    mine = request.args.get("mine") == "1" and current_user.is_authenticated
    after = _after(request.args.get("after"))
    today = service.today()
    page = fq.action_page(
        viewer(),
        after,
        status=status,
        department_id=department_id,
        commitment_slug=commitment,
        overdue_only=overdue,
        today=today,
        mine=mine,
        year=year,
    )
    # the filters, as every page link keeps them
    filters = {
        "year": year,
        "status": status,
        "department": department_id,
        "commitment": commitment,
        "overdue": 1 if overdue else None,
        "mine": 1 if mine else None,
    }
    return render_template(
        "follow_up/index.html",
        actions=page.items,
        next_after=cursor(page.next_after) if page.next_after else None,
        first_page=after is None,
        filters=filters,
        today=today,
        status=status,
        year=year,
        year_error=year_error,
        years=_years(this_year, year),
        department_id=department_id,
        commitment=commitment,
        overdue=overdue,
        mine=mine,
        departments=org_queries.departments(),
        commitments=agreement.commitments(),
    )


def _published_feedback(raw: str | None) -> ConsultationFeedback | None:
    """The feedback point an action is proposed from (only published feedback counts)."""
    if not raw:
        return None
    feedback_id = whole_id(raw)
    if feedback_id is None:
        raise NotFound(_("No such feedback point."))
    return fq.published_feedback(feedback_id)


@bp.route("/actions/new", methods=["GET", "POST"])
@login_required
def new():
    """Propose an action, usually from a message ("make this an action")."""
    message_id = whole_id(request.args.get("message"))
    if request.args.get("message") and message_id is None:
        raise NotFound(_("No such message."))
    message = fq.source_message(current_user, message_id) if message_id else None
    feedback = _published_feedback(request.args.get("feedback"))
    policy.require(
        policy.can_propose_action(current_user, message.thread if message else None),
        _("You may not propose an action here."),
    )
    if message is not None and request.method == "GET":
        # as propose_action refuses: no form to fill in for nothing (a post is refused on
        # the form, with the text kept: the mute may have begun after the form was shown)
        moderation_service.check_not_muted(current_user, message.thread)
    form = ProposeForm()
    status = 400 if request.method == "POST" else 200
    form.owner.choices = _owner_choices()
    form.commitments.choices = [
        SelectChoice(str(c.id), c.title(page_language())) for c in agreement.commitments()
    ]
    if request.method == "GET":
        if message is not None:
            form.commitments.data = [str(c.id) for c in message.thread.commitments]
        elif feedback is not None:
            form.commitments.data = [str(c.id) for c in feedback.round.commitments]
        if current_user.department_id:
            form.owner.data = f"department:{current_user.department_id}"
    elif form.validate_on_submit():
        try:
            action = service.propose_action(
                current_user,
                service.ActionInput(
                    title=form.title.data or "",
                    description=form.description.data or "",
                    owner=form.owner.data or "",
                    due_date=form.due_date.data or "",
                    commitment_ids=_ids(form.commitments.data),
                    message_id=message.id if message else None,
                    feedback_id=feedback.id if feedback else None,
                    form_token=form.form_token.data,
                ),
            )
        except DomainError as err:
            if err.status in (401, 403, 404) and not isinstance(err, Muted):
                raise
            form_error(form, err)
            status = err.status  # 400, 403 muted, 429 past the rate limit, 409 a used form
            _fresh_token(form, used=isinstance(err, Conflict))
        else:
            if action.accepted:
                flash(_("The action is saved."), "success")
            else:
                flash(_("The action is proposed. Its owner is asked to accept it."), "success")
            return redirect(url_for("follow_up.show", action_id=action.id))
    _fresh_token(form)
    return render_template(
        "follow_up/new.html", form=form, message=message, feedback=feedback
    ), status


def _action_page(
    action_id: int,
    status: int = 200,
    change=None,  # noqa: ANN001
    update=None,  # noqa: ANN001
    decline: DeclineForm | None = None,
    hide: HideForm | None = None,
    redact: RedactForm | None = None,
):
    user = viewer()
    action = fq.get_action(user, action_id)
    history = fq.history_of(action.id)
    if change is None:
        stored = service.change_values(action)
        change = ChangeForm(
            formdata=None,
            **stored,
            **{f"loaded_{name}": service.text_digest(text) for name, text in stored.items()},
        )
    following = fq.is_following(action, user)
    update = update or UpdateForm(formdata=None)
    _fresh_token(update)
    return render_template(
        "follow_up/show.html",
        action=action,
        today=service.today(),
        updates=fq.updates_of(action.id),
        history=history,
        decliner=next((h.actor for h in history if h.field == "declined"), None),
        change=change,
        update=update,
        decline=decline or DeclineForm(formdata=None),
        hide=hide or HideForm(formdata=None),
        redact=redact or RedactForm(formdata=None, replacement=action.title),
        button=ButtonForm(),
        following=bool(following),
        can_change=policy.can_change_action(user, action),
        can_accept=policy.can_accept_action(user, action),
        can_decline=policy.can_decline_action(user, action),
        can_hide=policy.can_hide_action(user, action),
        can_show=action.hidden
        and policy.can_show_action(user, action, moderation_service.hidden_about(action)),
        see_original=policy.can_see_redacted_original(user),
        can_follow=policy.can_follow_action(user, action),
        field_labels=FIELD_LABELS,
    ), status


@bp.get("/actions/<int:action_id>")
def show(action_id: int):
    """An action: owner, status, progress, where it came from, updates and full history."""
    return _action_page(action_id)


@bp.post("/actions/<int:action_id>/accept")
@login_required
def accept(action_id: int):
    """The owner's side accepts a proposed action."""
    fq.get_action(viewer(), action_id)
    return act(
        lambda: service.accept_action(current_user, action_id),
        _("The action is accepted."),
        url_for("follow_up.show", action_id=action_id),
        lambda status: _action_page(action_id, status),
    )


def _post_form(action_id: int, form: FlaskForm, name: str, run, success: str):  # noqa: ANN001
    """Post one of the action page's forms to a service: a refusal is the field's error (or
    a flash), re-rendered with the form's text kept; a missing right or record is the error
    page; success flashes and goes back to the action."""
    if not form.validate_on_submit():
        return _action_page(action_id, 400, **{name: form})
    try:
        run(form)
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        form_error(form, err)  # discards what the refused call left
        return _action_page(action_id, err.status, **{name: form})
    flash(success, "success")
    return redirect(url_for("follow_up.show", action_id=action_id))


@bp.post("/actions/<int:action_id>/decline")
@login_required
def decline(action_id: int):
    """The owner's side declines a proposed action, with a reason; followers are told."""
    fq.get_action(viewer(), action_id)
    return _post_form(
        action_id,
        DeclineForm(),
        "decline",
        lambda form: service.decline_action(current_user, action_id, form.reason.data or ""),
        _("The action is declined. Its proposer and followers are told why."),
    )


@bp.post("/actions/<int:action_id>/hide")
@login_required
def hide(action_id: int):
    """A moderator hides an action (from everyone but moderators), with a reason."""
    fq.get_action(viewer(), action_id)
    return _post_form(
        action_id,
        HideForm(),
        "hide",
        lambda form: service.hide_action(current_user, action_id, form.reason.data or ""),
        _("The action is hidden. Only moderators see it now."),
    )


@bp.post("/actions/<int:action_id>/unhide")
@login_required
def unhide(action_id: int):
    """A moderator shows a hidden action again."""
    fq.get_action(viewer(), action_id)
    return act(
        lambda: service.unhide_action(current_user, action_id),
        _("The action is shown again."),
        url_for("follow_up.show", action_id=action_id),
        lambda status: _action_page(action_id, status),
    )


@bp.post("/actions/<int:action_id>/redact")
@login_required
def redact(action_id: int):
    """A moderator replaces the title (personal data); admins keep the original."""
    fq.get_action(viewer(), action_id)
    return _post_form(
        action_id,
        RedactForm(),
        "redact",
        lambda form: service.redact_action_title(
            current_user, action_id, form.replacement.data or "", form.note.data or ""
        ),
        _("The title is redacted."),
    )


@bp.post("/actions/<int:action_id>/change")
@login_required
def change(action_id: int):
    """Change status, progress and due date (the owner's side): only the fields this person
    changed since the form was loaded; one someone else changed meanwhile too is a conflict
    shown on the form, with what they chose kept."""
    fq.get_action(viewer(), action_id)
    form = ChangeForm()
    if not form.validate_on_submit():
        return _action_page(action_id, 400, change=form)
    # a page from before the form carried them (or a script) has none: written as posted
    loaded = {
        name: getattr(form, f"loaded_{name}").data
        for name in service.CHANGE_FIELDS
        if getattr(form, f"loaded_{name}").data
    }
    try:
        service.change_action(
            current_user,
            action_id,
            form.status.data or "",
            form.progress.data or "",
            form.drop_reason.data or "",
            form.due_date.data or "",
            loaded=loaded or None,
        )
    except service.EditConflict as err:
        form_error(form, err)  # discards what the refused call left; says nothing was saved
        _show_conflicts(form, fq.get_action(viewer(), action_id), err)
        return _action_page(action_id, err.status, change=form)
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        form_error(form, err)  # discards what the refused call left
        return _action_page(action_id, err.status, change=form)
    flash(_("The action is changed."), "success")
    return redirect(url_for("follow_up.show", action_id=action_id))


def _stored_label(name: str, text: str) -> str:
    """A stored value of the change form as the reader knows it."""
    if not text:
        return _("(The text is now empty.)")
    if name == "status":
        return str(STATUS_LABELS[ActionStatus(text)])
    if name == "progress":
        return f"{text} %"
    if name == "due_date":
        return long_date(date.fromisoformat(text))
    return text


def _show_conflicts(form: ChangeForm, action: Action, err: service.EditConflict) -> None:
    """The change form shown again after a conflict: each field changed by both has its
    error with the value saved now, what this person chose kept (saving again is taken as
    their decision); a field only someone else changed shows the value saved now."""
    stored = service.change_values(action)
    for name in service.CHANGE_FIELDS:
        field, loaded = getattr(form, name), getattr(form, f"loaded_{name}")
        if name in err.current:
            message = _(
                "Someone else changed this after you opened the form. Saved now: %(value)s. "
                "What you chose is kept here: check it and save again.",
                value=_stored_label(name, err.current[name]),
            )
            field.errors = [*field.errors, message]
            loaded.data = err.digests[name]
        elif loaded.data and service.text_digest(field.data) == loaded.data:
            field.data = stored[name]  # not changed here: the value saved now
            loaded.data = service.text_digest(stored[name])


@bp.post("/actions/<int:action_id>/updates")
@login_required
def post_update(action_id: int):
    """Post a dated progress update; followers are told."""
    fq.get_action(viewer(), action_id)
    form = UpdateForm()
    if not form.validate_on_submit():
        return _action_page(action_id, 400, update=form)
    try:
        service.post_update(
            current_user, action_id, form.body.data or "", form_token=form.form_token.data
        )
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        form_error(form, err)  # discards what the refused call left
        _fresh_token(form, used=isinstance(err, Conflict))
        return _action_page(action_id, err.status, update=form)
    flash(_("The update is posted and followers are told."), "success")
    return redirect(url_for("follow_up.show", action_id=action_id))


@bp.post("/actions/<int:action_id>/follow")
@login_required
def follow(action_id: int):
    """Follow (follow=1) or stop following (follow=0) an action."""
    fq.get_action(viewer(), action_id)
    return act(
        lambda: service.set_following(current_user, action_id, request.form.get("follow") == "1"),
        lambda following: (
            _("You follow this action.") if following else _("You no longer follow this action.")
        ),
        url_for("follow_up.show", action_id=action_id),
        lambda status: _action_page(action_id, status),
    )


# --- the dashboard -----------------------------------------------------------


def _dashboard_args():
    this_year = service.today().year  # the city's year, as the figures count it
    year = request.args.get("year", type=int) or this_year
    if not FIRST_YEAR <= year <= this_year + 1:
        raise NotFound(_("There are no figures for that year."))
    department_id = request.args.get("department", type=int)
    commitment_slug = request.args.get("commitment") or None
    commitment_id = None
    if commitment_slug:
        commitment_id = agreement.commitment_id(commitment_slug)
    board = fq.dashboard(
        year, service.today(), utcnow(), department_id, commitment_id, user=viewer()
    )
    return board, department_id, commitment_slug, commitment_id, this_year


def _charts(board: fq.Dashboard) -> list[dict[str, object]]:
    def chart(key: str, title: str, value) -> dict[str, object]:  # noqa: ANN001
        data = [(c.title(page_language()), float(value(ind))) for c, ind in board.rows]
        return {"id": key, "title": title, **exports.chart(data)}

    return [
        chart("messages", _("Messages per commitment"), lambda i: i.messages),
        chart("organisations", _("Participating organisations"), lambda i: i.organisations),
        chart("rounds", _("Consultation rounds"), lambda i: i.rounds),
        chart("actions", _("Actions"), lambda i: i.action_total),
    ]


def _dashboard_context():
    board, department_id, commitment, commitment_id, this_year = _dashboard_args()
    return {
        "commitment_id": commitment_id,
        "board": board,
        "department_id": department_id,
        "commitment": commitment,
        "years": _years(this_year, board.year),
        "departments": org_queries.departments(),
        "commitments": agreement.commitments(),
        "statuses": STATUS_LABELS,
        "charts": _charts(board),
    }


@bp.get("/uppfoljning")
def dashboard():
    """The follow-up dashboard: per commitment and year, with charts and tables."""
    return render_template("follow_up/dashboard.html", **_dashboard_context())


@bp.get("/uppfoljning/rapport")
def report():
    """A print-friendly annual follow-up report for the agreement's yearly review."""
    context = _dashboard_context()
    context["overdue_actions"] = fq.overdue_actions(
        viewer(),
        context["board"].year,
        service.today(),
        context["department_id"],
        context["commitment_id"],
    )
    return render_template("follow_up/report.html", **context)


@bp.get("/uppfoljning/export.csv")
def export_csv():
    """The dashboard's figures as CSV (UTF-8 with BOM, formula-safe)."""
    board, *_filters = _dashboard_args()
    header = [
        _("Year"),
        _("Commitment"),
        _("Active dialogues"),
        _("Messages"),
        _("Organisations taking part"),
        _("Consultation rounds"),
        _("Closed rounds"),
        _("Closed rounds with feedback published (%)"),
        _("Median days from closing to feedback"),
        _("Median weeks from closing to planned decision"),
        *(str(STATUS_LABELS[s]) for s in ActionStatus),
        _("Overdue actions"),
    ]
    return exports.csv_response(
        f"uppfoljning-{board.year}.csv", header, fq.dashboard_rows(board, page_language())
    )


@bp.get("/principles/<slug>")
def principle(slug: str):
    """One of the six principles of the agreement."""
    item = agreement.principle_by_slug(slug)
    return render_template("follow_up/principle.html", principle=item)


# --- pieces other pages include ----------------------------------------------


@bp.app_template_global()
def commitment_actions(commitment: Commitment):
    """For a commitment page: the actions linked to it."""
    return fq.actions_for_commitment(viewer(), commitment)


@bp.app_template_global()
def action_status(action) -> str:  # noqa: ANN001
    """The action's status as words in the reader's language ('proposed' before acceptance)."""
    if action.declined:
        return _("Declined by the owner")
    if not action.accepted:
        return _("Proposed, awaiting the owner")
    return str(STATUS_LABELS[action.status])


@bp.app_template_global()
def today_local():
    return service.today()


@bp.app_template_global()
def commitment_indicators(commitment: Commitment) -> fq.Indicators:
    """This year's figures for one commitment, for its page (the dashboard's own query)."""
    today = service.today()  # the year the page's heading names (today_local)
    board = fq.dashboard(today.year, today, utcnow(), None, commitment.id, user=viewer())
    return board.rows[0][1] if board.rows else board.total
