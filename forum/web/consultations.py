"""Consultation rounds: the list, the round page, the official's forms, responses, exports."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from datetime import date

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired

from .. import formatting, policy
from ..errors import DomainError, Invalid, NotFound
from ..extensions import csrf
from ..formatting import iso_utc, page_language
from ..ids import whole_id
from ..labels import change_label, change_value
from ..models import (
    Audience,
    Commitment,
    ConsultationRound,
    Organisation,
    Phase,
    RoundState,
    Stage,
    User,
)
from ..models.base import utcnow
from ..queries import agreement, payloads
from ..queries import consultations as cq
from ..queries import forums as forum_queries
from ..queries import organisations as org_queries
from ..services import consultations as service
from ..services import documents as document_service
from ..services.transaction import discard_changes
from . import exports, pdf
from .forms import ButtonForm, MultiCheckboxField, act, form_error
from .forums import blank_message

bp = Blueprint("consultations", __name__)

PHASE_LABELS = {
    Phase.draft: _l("Draft"),
    Phase.scheduled: _l("Opens soon"),
    Phase.open: _l("Open for responses"),
    Phase.closed: _l("Closed, awaiting feedback"),
    Phase.published: _l("Feedback published"),
}
STAGE_LABELS = {
    Stage.problem: _l("Problem formulation"),
    Stage.options: _l("Options"),
    Stage.draft_decision: _l("Draft decision"),
}
FILTER_LABELS = {
    "open": _l("Open now"),
    "closing": _l("Closing within a week"),
    "awaiting": _l("Closed, awaiting feedback"),
    "published": _l("Feedback published"),
}
EMPTY_QUESTION_SLOTS = 2
ANSWER_FIELD = re.compile(r"answer-(\d{1,9})")


def viewer() -> User | None:
    return current_user if current_user.is_authenticated else None


class RoundForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired()])
    problem = TextAreaField(_l("Problem formulation (markdown)"))
    background = TextAreaField(_l("Background (markdown, optional)"))
    stage = RadioField(
        _l("Stage of the city's process that the round feeds"),
        choices=[SelectChoice(s.value, label) for s, label in STAGE_LABELS.items()],
        default=Stage.problem.value,
        validate_choice=False,
    )
    decision_date = StringField(_l("Planned decision date (optional)"), render_kw={"type": "date"})
    department_id = SelectField(_l("Department"), validate_choice=False)
    audience = RadioField(
        _l("Who is asked"),
        choices=[
            SelectChoice(Audience.all_verified.value, _l("All verified organisations")),
            SelectChoice(Audience.invited.value, _l("Only the organisations invited below")),
        ],
        default=Audience.all_verified.value,
        validate_choice=False,
    )
    invited = MultiCheckboxField(_l("Invited organisations"))
    commitments = MultiCheckboxField(_l("Commitments"))
    opens_at = StringField(_l("Opens (Stockholm time)"), render_kw={"type": "datetime-local"})
    closes_at = StringField(_l("Closes (Stockholm time)"), render_kw={"type": "datetime-local"})


def _ids(values: list[str] | None, name: str) -> list[int]:
    ids = [whole_id(v) for v in values or []]
    if None in ids:
        raise Invalid(_("Unknown choice."), field=name)
    return [i for i in ids if i is not None]


def _setup_choices(form: RoundForm) -> None:
    form.commitments.choices = [
        SelectChoice(str(c.id), c.title(page_language())) for c in agreement.commitments()
    ]
    form.invited.choices = [
        SelectChoice(str(o.id), o.name) for o in org_queries.verified_organisations()
    ]
    form.department_id.choices = [
        SelectChoice(str(d.id), d.name) for d in org_queries.departments()
    ]


def _posted_questions() -> list[tuple[str, str]]:
    """Questions from the form, in the order of their slots."""
    out = []
    n = 1
    while f"question-{n}" in request.form or f"guidance-{n}" in request.form:
        out.append((request.form.get(f"question-{n}", ""), request.form.get(f"guidance-{n}", "")))
        n += 1
    return out


def _round_input(form: RoundForm) -> service.RoundInput:
    department = form.department_id.data
    department_id = whole_id(department) if department else None
    if department and department_id is None:
        raise Invalid(_("Choose the department."), field="department_id")
    return service.RoundInput(
        title=form.title.data or "",
        problem=form.problem.data or "",
        background=form.background.data or "",
        stage=form.stage.data or "",
        decision_date=form.decision_date.data or "",
        audience=form.audience.data or "",
        invited_ids=_ids(form.invited.data, "invited"),
        commitment_ids=_ids(form.commitments.data, "commitments"),
        opens_at=form.opens_at.data or "",
        closes_at=form.closes_at.data or "",
        questions=_posted_questions(),
        department_id=department_id,
    )


def _expired_form_kept() -> None:
    """Say that nothing was saved from a form whose token no longer holds, and that the text is
    kept: the page is shown again with what was typed and a fresh token."""
    flash(
        _(
            "The form had expired (perhaps you logged in again in another tab), so nothing "
            "was saved. What you wrote is kept below: check it and send it again."
        ),
        "error",
    )


def _show_error(form: FlaskForm, err: DomainError, errors: dict[str, str]) -> None:
    """A field error goes next to its field; question errors above the questions."""
    if err.field and hasattr(form, err.field):
        form_error(form, err)
    else:
        errors[err.field or "form"] = err.message
        flash(err.message, "error")


def _round_form_page(
    form: RoundForm,
    round_: ConsultationRound | None,
    status: int,
    errors,  # noqa: ANN001
    digests: dict[str, str] | None = None,
    conflicts: dict[str, str] | None = None,
):
    questions = _posted_questions() if request.method == "POST" else []
    if not questions and round_ is not None:
        questions = [(q.text, q.guidance) for q in round_.questions]
    questions = [*questions, *[("", "")] * EMPTY_QUESTION_SLOTS]
    return render_template(
        "consultations/edit.html",
        form=form,
        round=round_,
        questions=questions,
        errors=errors,
        digests=digests,
        empty_digest=service.text_digest(""),
        conflicts=conflicts or {},
        choose_department=policy.is_admin(current_user),
    ), status


ROUND_FORM_FIELDS = (
    "title",
    "problem",
    "background",
    "stage",
    "decision_date",
    "audience",
    "invited",
    "commitments",
    "opens_at",
    "closes_at",
    "department_id",
)


def _posted_round_digests() -> dict[str, str]:
    """The `loaded-<field>` digests the edit form carries (those it has)."""
    return {
        key.removeprefix("loaded-"): value
        for key, value in request.form.items()
        if key.startswith("loaded-") and value
    }


def _round_conflict(form: RoundForm, err: service.EditConflict) -> dict[str, str]:
    """A field another official saved after this form was loaded: the saved value under the
    field, in words (a choice by its label); the question slots' are shown by the template."""
    slots = {}
    for name, current in err.current.items():
        field = getattr(form, name, None) if name in ROUND_FORM_FIELDS else None
        if field is None:
            slots[name] = current
            continue
        labels = {str(c.value): str(c.label) for c in getattr(field, "choices", None) or []}
        shown = ", ".join(labels.get(v, v) for v in current.split(",") if v) if labels else current
        message = _(
            "Someone else changed this after you opened the form. Saved now: %(text)s",
            text=shown or "–",
        )
        field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
    return slots


@bp.get("/consultations")
def index():
    """All rounds the visitor may see, filtered by phase, department and commitment."""
    phase = request.args.get("phase") if request.args.get("phase") in cq.FILTERS else None
    department_id = request.args.get("department", type=int)
    commitment = request.args.get("commitment") or None
    for_me = request.args.get("for") == "me" and current_user.is_authenticated
    rounds = cq.list_rounds(viewer(), phase, department_id, commitment, for_me=for_me)
    return render_template(
        "consultations/index.html",
        rounds=rounds,
        for_me=for_me,
        counts=cq.response_counts([r.id for r in rounds]),
        now=utcnow(),
        phase=phase,
        department_id=department_id,
        commitment=commitment,
        departments=org_queries.departments(),
        commitments=agreement.commitments(),
        filter_labels=FILTER_LABELS,
    )


@bp.route("/consultations/new", methods=["GET", "POST"])
@login_required
def new():
    """An official drafts a round for their department."""
    policy.require(
        policy.can_create_round(current_user),
        _("Only officials and admins open consultation rounds."),
    )
    form = RoundForm()
    _setup_choices(form)
    errors: dict[str, str] = {}
    if request.method == "GET":
        form.department_id.data = str(current_user.department_id or "")
    elif form.validate_on_submit():
        try:
            round_ = service.create_round(current_user, _round_input(form))
        except DomainError as err:
            if err.status in (401, 403):
                raise
            _show_error(form, err, errors)
            discard_changes()  # nothing half-made is flushed while the page is built
        else:
            flash(_("The draft is saved. Preview it, then open it."), "success")
            return redirect(url_for("consultations.show", round_id=round_.id))
    status = 400 if request.method == "POST" else 200
    return _round_form_page(form, None, status, errors)


@bp.route("/consultations/<int:round_id>/edit", methods=["GET", "POST"])
@login_required
def edit(round_id: int):
    """Change a draft round."""
    round_ = cq.get_round(viewer(), round_id)
    policy.require(
        policy.can_manage_round(current_user, round_),
        _("Only officials of the round's department can do that."),
    )
    if round_.state != RoundState.draft:
        flash(_("Only a draft can be changed."), "error")
        return redirect(url_for("consultations.show", round_id=round_id))
    form = RoundForm(obj=None if request.method == "POST" else round_)
    _setup_choices(form)
    errors: dict[str, str] = {}
    # the digest of each field as the form showed it: a colleague's save in between is kept
    digests = {name: service.text_digest(t) for name, t in service.round_texts(round_).items()}
    conflicts: dict[str, str] = {}
    if request.method == "GET":
        form.stage.data = round_.stage.value
        form.audience.data = round_.audience.value
        form.invited.data = [str(o.id) for o in round_.invited]
        form.commitments.data = [str(c.id) for c in round_.commitments]
        form.department_id.data = str(round_.department_id)
        form.decision_date.data = round_.decision_date.isoformat() if round_.decision_date else ""
        form.opens_at.data = service.local_input(round_.opens_at)
        form.closes_at.data = service.local_input(round_.closes_at)
    else:
        loaded = _posted_round_digests()
        if loaded:  # the text shown again is what was typed: so is the base it was typed on
            empty = service.text_digest("")
            digests = {name: loaded.get(name, empty) for name in digests} | loaded
        status = 400
        if form.validate_on_submit():
            try:
                service.update_round(
                    current_user, round_id, _round_input(form), loaded=loaded or None
                )
            except service.EditConflict as err:
                discard_changes()
                flash(err.message, "error")
                status = err.status
                conflicts = _round_conflict(form, err)
                digests.update(err.digests)  # saving again is taken as the merge
                round_ = cq.get_round(viewer(), round_id)
            except DomainError as err:
                if err.status in (401, 403, 404):
                    raise
                _show_error(form, err, errors)
                discard_changes()  # the round as stored, with what was typed kept in the form
                round_ = cq.get_round(viewer(), round_id)
            else:
                flash(_("The draft is saved."), "success")
                return redirect(url_for("consultations.show", round_id=round_id))
        return _round_form_page(form, round_, status, errors, digests, conflicts)
    return _round_form_page(form, round_, 200, errors, digests, conflicts)


def _round_page(round_: ConsultationRound, status: int = 200):
    user = viewer()
    now = utcnow()
    phase = round_.phase(now)
    can_manage = policy.can_manage_round(user, round_)
    public = phase in (Phase.closed, Phase.published)
    responders = cq.responders_of(user, round_)
    own = {org.id: cq.own_response(round_.id, org.id) for org, _role in responders}
    # taken before the messages are read: the script's first join asks what changed since
    cursor = forum_queries.change_cursor()
    recent = []
    if round_.thread_id is not None and round_.state != RoundState.draft:
        recent = payloads.messages_dicts(forum_queries.latest_page(round_.thread_id, 5).messages)
    return render_template(
        "consultations/show.html",
        round=round_,
        phase=phase,
        phase_labels=PHASE_LABELS,
        stage_labels=STAGE_LABELS,
        can_manage=can_manage,
        responses=cq.latest_versions(round_.id) if public or can_manage else [],
        responses_public=public,
        responded=cq.response_counts([round_.id]).get(round_.id, 0),
        feedback=cq.feedback_by_question(round_.id) if phase == Phase.published else {},
        overview=cq.overview(round_) if can_manage else [],
        documents=cq.round_documents(round_.id),
        revisions=cq.revisions_of(round_.id),
        change_label=change_label,
        change_value=change_value,
        accept=document_service.ACCEPT,
        max_mb=current_app.config["FORUM_DOCUMENT_MAX_MB"],
        responders=responders,
        own=own,
        recent=recent,
        cursor=iso_utc(cursor),
        blank=blank_message(),
        action_form=ButtonForm(),
    ), status


@bp.get("/consultations/<int:round_id>")
def show(round_id: int):
    """The round: what is asked, by when, the discussion, and (after closing) the responses."""
    return _round_page(cq.get_round(viewer(), round_id))


def _button(round_id: int, run, success: str):  # noqa: ANN001
    """A button on the round's page (see forms.act); a refusal shows the round as stored."""
    round_ = cq.get_round(viewer(), round_id)
    return act(
        lambda: run(round_),
        success,
        url_for("consultations.show", round_id=round_id),
        lambda status: _round_page(cq.get_round(viewer(), round_id), status),
    )


def _confirm(round_id: int, kind: str):
    """The confirmation step (no JavaScript needed) before a step that cannot be undone."""
    round_ = cq.get_round(viewer(), round_id)
    policy.require(policy.can_manage_round(viewer(), round_), _("Only the round's officials may."))
    return render_template(
        "consultations/confirm.html", round=round_, kind=kind, action_form=ButtonForm()
    )


@bp.get("/consultations/<int:round_id>/open")
@login_required
def confirm_open(round_id: int):
    """Ask before opening: the round becomes public and every organisation asked is told."""
    return _confirm(round_id, "open")


@bp.get("/consultations/<int:round_id>/close")
@login_required
def confirm_close(round_id: int):
    """Ask before closing early: the responses become public and no more can be given."""
    return _confirm(round_id, "close")


@bp.post("/consultations/<int:round_id>/open")
@login_required
def open_round(round_id: int):
    """Open a draft round: it becomes public and the audience is told."""
    return _button(
        round_id,
        lambda r: service.open_round(current_user, r.id),
        _("The round is open and the organisations are told."),
    )


@bp.post("/consultations/<int:round_id>/close")
@login_required
def close_round(round_id: int):
    """Close the round now."""
    return _button(
        round_id,
        lambda r: service.close_round(current_user, r.id),
        _("The round is closed. The responses are now public."),
    )


def _uploaded() -> tuple[str, bytes]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid(_("Choose a file to upload."), field="file")
    try:
        return upload.filename, upload.read()
    finally:
        upload.close()  # a large upload is a temporary file: let it go now


@bp.post("/consultations/<int:round_id>/documents")
@login_required
def add_document(round_id: int):
    """An official attaches a document to the round."""
    return _button(
        round_id,
        lambda r: document_service.add_round_document(current_user, r.id, *_uploaded()),
        _("The document is attached."),
    )


@bp.post("/consultations/<int:round_id>/documents/<int:document_id>/remove")
@login_required
def remove_document(round_id: int, document_id: int):
    """Take a document off the round (it stays in the audit log)."""
    return _button(
        round_id,
        lambda r: document_service.remove_document(current_user, document_id),
        _("The document is removed."),
    )


@bp.post("/consultations/<int:round_id>/remind")
@login_required
def remind(round_id: int):
    """The official reminds the organisations that have not answered (once a day at most)."""
    return _button(
        round_id,
        lambda r: service.send_reminder(current_user, r.id),
        _("The organisations that have not answered are reminded."),
    )


# The long forms below check their CSRF token themselves (ButtonForm.validate_on_submit, before
# anything is done), so that a form that expired is shown again with what was typed instead of
# the global check's bare error page.


@bp.route("/consultations/<int:round_id>/change", methods=["GET", "POST"])
@csrf.exempt
@login_required
def change(round_id: int):
    """Change an open round on the record: deadline, text, more organisations, a question."""
    round_ = cq.get_round(viewer(), round_id)
    policy.require(
        policy.can_manage_round(current_user, round_),
        _("Only officials of the round's department can do that."),
    )
    form = ButtonForm()
    status = 200
    error: tuple[str | None, str] | None = None
    if request.method == "POST":
        what = request.form.get("change", "")
        reason = request.form.get("reason", "")
        if not form.validate_on_submit():
            _expired_form_kept()
            status = 400
        else:
            try:
                if what == "deadline":
                    service.change_deadline(
                        current_user, round_id, request.form.get("closes_at", ""), reason
                    )
                elif what == "text":
                    service.revise_text(
                        current_user,
                        round_id,
                        request.form.get("part", ""),
                        request.form.get("text", ""),
                        reason,
                    )
                elif what == "invite":
                    service.invite_more(
                        current_user,
                        round_id,
                        _ids(request.form.getlist("invited"), "invited"),
                        reason,
                    )
                elif what == "remove_question":
                    service.remove_question(
                        current_user,
                        round_id,
                        _ids([request.form.get("question_id", "")], "question_id")[0],
                        reason,
                    )
                else:
                    raise Invalid(_("Choose what to change."), field="change")
            except DomainError as err:
                if err.status in (401, 403, 404):
                    raise
                flash(err.message, "error")
                status = err.status
                error = (err.field, err.message)
            else:
                flash(_("The change is saved and shown on the round's page."), "success")
                return redirect(url_for("consultations.show", round_id=round_id, _anchor="changes"))
        discard_changes()
        round_ = cq.get_round(viewer(), round_id)
    return render_template(
        "consultations/change.html",
        round=round_,
        phase=round_.phase(utcnow()),
        phase_labels=PHASE_LABELS,
        form=form,
        error=error,
        closes_at=request.form.get("closes_at") or service.local_input(round_.closes_at),
        candidates=cq.not_yet_invited(round_),
        revisions=cq.revisions_of(round_id),
        sent=request.form if request.method == "POST" else None,
    ), status


# --- responses ---------------------------------------------------------------


def _posted_answers() -> dict[int, str]:
    answers = {}
    for key, value in request.form.items():
        match = ANSWER_FIELD.fullmatch(key)
        if match:
            answers[int(match[1])] = value
    return answers


def _typed_unsaved(typed: dict[int, str], round_id: int, org_id: int) -> bool:
    """Whether any box holds text other than the saved draft's (line ends and outer
    whitespace as saving would leave them)."""
    response = cq.own_response(round_id, org_id)
    saved = {a.question_id: a.body for a in response.answers} if response else {}
    digest = service.text_digest
    return any(digest(text) != digest(saved.get(qid, "")) for qid, text in typed.items())


def _loaded(names: Iterable[str]) -> dict[str, str | None]:
    """The digests the form carries of each text as it was loaded (`loaded-<field>`)."""
    return {name: request.form.get(f"loaded-{name}") or None for name in names}


def _in_a_box(field: str | None) -> bool:
    """Whether a refused response names one of the page's boxes (an answer, the reason for
    declining): its error goes in the error summary and beside the box, not in a flash."""
    return field is not None and (field.startswith("answer-") or field == "decline_reason")


def _organisation_arg() -> int:
    org_id = whole_id(request.form.get("organisation_id") or request.args.get("organisation"))
    if org_id is None:
        raise NotFound(_("No such organisation."))
    return org_id


@bp.route("/consultations/<int:round_id>/response", methods=["GET", "POST"])
@csrf.exempt  # checked below, the answers kept
@login_required
def respond(round_id: int):
    """An organisation's response: members save drafts, admins submit (a new version each time)."""
    round_ = cq.get_round(viewer(), round_id)
    if request.method == "GET" and "organisation" not in request.args:
        responders = cq.responders_of(current_user, round_)
        if len(responders) != 1:
            policy.require(
                bool(responders),
                _("Only members of a verified organisation that the round asks can respond."),
            )
            flash(_("Choose the organisation you respond for."), "info")
            return redirect(url_for("consultations.show", round_id=round_id, _anchor="respond"))
        org_id = responders[0][0].id
    else:
        org_id = _organisation_arg()
    org = org_queries.get_organisation(org_id)
    policy.require(
        policy.can_draft_response(current_user, round_, org),
        _("Only members of a verified organisation that the round asks can respond for it."),
    )
    form = ButtonForm()
    status = 200
    typed: dict[int, str] | None = None
    error_field = None
    conflicts: dict[int, str] = {}
    conflict_message = ""
    loaded: dict[str, str | None] = {}
    if request.method == "POST":
        typed = _posted_answers()
        loaded = _loaded(f"answer-{qid}" for qid in typed)
        # the documents' and the decline's buttons send the answers' boxes too (form=), so
        # what was typed and not yet saved is shown again, not lost, after them
        action = (
            "remove_document"
            if "remove_document" in request.form
            else request.form.get("action", "")
        )
        submit = action == "submit"
        if not form.validate_on_submit():
            _expired_form_kept()
            status = 400
        else:
            # only admins get as far as the confirmation; one who stopped being an admin
            # while typing keeps the text: it is saved as the draft, and they are told
            demoted = submit and not policy.can_submit_response(current_user, round_, org)
            try:
                if action == "upload":
                    document_service.add_response_document(
                        current_user, round_id, org.id, *_uploaded()
                    )
                elif action == "remove_document":
                    document = request.form.get("remove_document") or request.form.get(
                        "document_id", ""
                    )
                    document_service.remove_document(current_user, _ids([document], "document")[0])
                elif action == "decline":
                    service.decline(
                        current_user, round_id, org.id, request.form.get("decline_reason", "")
                    )
                else:
                    # submitting is asked for first: the typed text is kept as the draft
                    service.save_response(
                        current_user,
                        round_id,
                        org.id,
                        typed,
                        loaded={qid: loaded.get(f"answer-{qid}") for qid in typed},
                    )
            except service.EditConflict as err:
                conflict_message = err.message  # in the error summary, with links to the boxes
                status = err.status
                conflicts = {int(name.split("-")[1]): text for name, text in err.current.items()}
                # saving again is taken as the merge: its base is the text shown now
                loaded.update(err.digests)
            except DomainError as err:
                if err.status in (401, 403, 404):
                    raise
                if not _in_a_box(err.field):  # a box's is in the summary and beside it
                    flash(err.message, "error")
                status = err.status
                error_field = (err.field, err.message)
            else:
                if demoted:  # refused, but the form again (with the saved draft), not a 403 page
                    flash(
                        _(
                            "The draft is saved, but it is not submitted: only the "
                            "organisation's admins can submit its response."
                        ),
                        "error",
                    )
                    typed = None
                    status = 403
                elif submit:
                    return redirect(
                        url_for(
                            "consultations.confirm_submit", round_id=round_id, organisation=org.id
                        )
                    )
                done = {
                    "upload": _("The document is attached to the draft."),
                    "remove_document": _("The document is removed from the draft."),
                    "decline": _("Your organisation has declined to answer. The reason is shown."),
                }
                if not demoted:
                    flash(done.get(action, _("The draft is saved.")), "success")
                    if action in done and _typed_unsaved(typed or {}, round_id, org.id):
                        # the page again (not a redirect, which would lose the boxes' text)
                        flash(_("Your answers are not saved yet: save the draft."), "info")
                    else:
                        return redirect(
                            url_for("consultations.respond", round_id=round_id, organisation=org.id)
                        )
        discard_changes()
        round_ = cq.get_round(viewer(), round_id)
    response = cq.own_response(round_id, org.id)
    saved = {a.question_id: a.body for a in response.answers} if response else {}
    versions = cq.versions_of(response.id) if response else []
    latest = cq.latest_versions(round_id, org.id)
    documents = cq.response_documents(response.id) if response else []
    unsubmitted = bool(response) and (
        not latest
        or any(saved.get(q.id, "") != latest[0].bodies.get(q.id, "") for q in round_.questions)
        or [d.id for d in documents] != [d.id for d in latest[0].version.documents]
    )
    digests = {q.id: service.text_digest(saved.get(q.id, "")) for q in round_.questions}
    if typed is not None:  # the text shown is what was typed: so is the base it was typed on
        empty = service.text_digest("")
        digests.update({q.id: loaded.get(f"answer-{q.id}") or empty for q in round_.questions})
    return render_template(
        "consultations/respond.html",
        round=round_,
        org=org,
        phase=round_.phase(utcnow()),
        phase_labels=PHASE_LABELS,
        answers=typed if typed is not None else saved,
        digests=digests,
        conflicts=conflicts,
        conflict_message=conflict_message,
        response=response,
        versions=versions,
        unsubmitted=unsubmitted,
        can_submit=policy.can_submit_response(current_user, round_, org),
        documents=documents,
        accept=document_service.ACCEPT,
        max_mb=current_app.config["FORUM_DOCUMENT_MAX_MB"],
        max_answer=service.MAX_ANSWER,
        error_field=error_field,
        # a refused decline shows its reason again (none is kept once it is accepted)
        decline_reason=request.form.get("decline_reason", "") if error_field else "",
        form=form,
    ), status


draft_fingerprint = service.draft_fingerprint


@bp.route("/consultations/<int:round_id>/response/submit", methods=["GET", "POST"])
@login_required
def confirm_submit(round_id: int):
    """Ask before submitting: the saved draft becomes a version, public when the round closes."""
    round_ = cq.get_round(viewer(), round_id)
    org = org_queries.get_organisation(_organisation_arg())
    policy.require(
        policy.can_submit_response(current_user, round_, org),
        _("Only the organisation's admins can submit its response."),
    )
    back = url_for("consultations.respond", round_id=round_id, organisation=org.id)
    response = cq.own_response(round_id, org.id)
    saved = {a.question_id: a.body for a in response.answers} if response else {}
    documents = cq.response_documents(response.id) if response else []
    fingerprint = draft_fingerprint(saved, [d.id for d in documents])  # as read for the page
    form = ButtonForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form had expired or was not sent from this site. Try again."), "error")
            return redirect(back)
        again = url_for("consultations.confirm_submit", round_id=round_id, organisation=org.id)
        if request.form.get("fingerprint") != fingerprint:
            flash(_("The draft changed after you were asked. Check it and confirm again."), "error")
            return redirect(again)
        try:
            # the draft read above is checked again under the response's lock: a colleague's
            # save that came in between is never overwritten by this (older) copy of it
            service.save_response(
                current_user, round_id, org.id, saved, submit=True, confirmed=fingerprint
            )
        except service.DraftChanged as err:
            flash(err.message, "error")
            return redirect(again)
        except DomainError as err:
            if err.status in (401, 403, 404):
                raise
            flash(err.message, "error")
            return redirect(back)
        flash(_("The response is submitted. You can revise it until the deadline."), "success")
        return redirect(back)
    if round_.phase(utcnow()) != "open":
        flash(_("The round is not open, so nothing can be submitted."), "error")
        return redirect(back)
    if not any(body.strip() for body in saved.values()):
        flash(_("Answer at least one question before you submit."), "error")
        return redirect(back)
    return render_template(
        "consultations/confirm_submit.html",
        round=round_,
        org=org,
        answers=saved,
        documents=documents,
        fingerprint=fingerprint,
        revision=bool(response and response.version_count),
        form=form,
    )


# --- feedback ----------------------------------------------------------------


def _posted_feedback(round_: ConsultationRound) -> dict[int, service.FeedbackInput]:
    items = {}
    for question in round_.questions:
        items[question.id] = service.FeedbackInput(
            heard=request.form.get(f"heard-{question.id}", ""),
            action=request.form.get(f"action-{question.id}", ""),
            source_ids=_ids(request.form.getlist(f"sources-{question.id}"), "feedback"),
        )
    return items


@bp.route("/consultations/<int:round_id>/feedback", methods=["GET", "POST"])
@csrf.exempt  # checked below, the feedback kept
@login_required
def feedback(round_id: int):
    """The official writes what was heard and what the city will do, per question."""
    round_ = cq.get_round(viewer(), round_id)
    policy.require(
        policy.can_manage_round(current_user, round_),
        _("Only officials of the round's department can do that."),
    )
    form = ButtonForm()
    status = 200
    typed = None
    names = [f"{part}-{q.id}" for q in round_.questions for part in ("heard", "action", "sources")]
    loaded: dict[str, str | None] = {}
    conflicts: dict[str, str] = {}
    conflict_message = ""
    error_field: tuple[str | None, str] | None = None
    if request.method == "POST":
        publish = request.form.get("action") == "publish"
        loaded = _loaded(names)
        if not form.validate_on_submit():
            _expired_form_kept()
            status = 400
            with contextlib.suppress(Invalid):  # a forged link to a response: the text is kept
                typed = _posted_feedback(round_)
        else:
            try:
                typed = _posted_feedback(round_)
                # publishing is asked for first: what was typed is saved
                service.save_feedback(current_user, round_id, typed, loaded=loaded)
            except service.EditConflict as err:
                conflict_message = err.message  # in the error summary, with links to the boxes
                status = err.status
                conflicts = err.current
                loaded.update(err.digests)  # saving again is taken as the merge
            except DomainError as err:
                if err.status in (401, 403, 404):
                    raise
                if err.field in names:  # a box's error: in the summary and under the box
                    error_field = (err.field, err.message)
                else:
                    flash(err.message, "error")
                status = err.status
            else:
                if publish and round_.state != RoundState.published:
                    return redirect(url_for("consultations.confirm_publish", round_id=round_id))
                flash(_("The feedback is saved."), "success")
                return redirect(url_for("consultations.feedback", round_id=round_id))
        discard_changes()
        round_ = cq.get_round(viewer(), round_id)
    stored = cq.feedback_by_question(round_id)
    digests = {}
    for q in round_.questions:
        saved = stored.get(q.id)
        digests[f"heard-{q.id}"] = service.text_digest(saved.heard if saved else "")
        digests[f"action-{q.id}"] = service.text_digest(saved.action if saved else "")
        sources = service.sources_text(r.id for r in saved.sources) if saved else ""
        digests[f"sources-{q.id}"] = service.text_digest(sources)
    if typed is not None:  # the text shown is what was typed: so is the base it was typed on
        empty = service.text_digest("")
        digests.update({name: loaded.get(name) or empty for name in names})
    return render_template(
        "consultations/feedback.html",
        round=round_,
        phase=round_.phase(utcnow()),
        phase_labels=PHASE_LABELS,
        responses=cq.latest_versions(round_id),
        stored=stored,
        typed=typed,
        digests=digests,
        conflicts=conflicts,
        conflict_message=conflict_message,
        error_field=error_field,
        # a refused decline shows its reason again (none is kept once it is accepted)
        decline_reason=request.form.get("decline_reason", "") if error_field else "",
        form=form,
    ), status


@bp.route("/consultations/<int:round_id>/feedback/publish", methods=["GET", "POST"])
@login_required
def confirm_publish(round_id: int):
    """Ask before publishing feedback: it is public and every responding organisation is told."""
    round_ = cq.get_round(viewer(), round_id)
    policy.require(
        policy.can_manage_round(current_user, round_),
        _("Only officials of the round's department can do that."),
    )
    back = url_for("consultations.feedback", round_id=round_id)
    form = ButtonForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form had expired or was not sent from this site. Try again."), "error")
            return redirect(back)
        if round_.state == RoundState.published:  # sent twice: nobody is told again
            flash(_("The feedback is already published."), "info")
            return redirect(url_for("consultations.show", round_id=round_id))
        try:
            published = service.publish_feedback(current_user, round_id)
        except DomainError as err:
            if err.status in (401, 403, 404):
                raise
            flash(err.message, "error")
            return redirect(back)
        if published:
            flash(_("The feedback is published and the organisations are told."), "success")
        else:  # another official's confirmation came first
            flash(_("The feedback is already published."), "info")
        return redirect(url_for("consultations.show", round_id=round_id))
    if round_.state == RoundState.published:
        flash(_("The feedback is already published."), "info")
        return redirect(url_for("consultations.show", round_id=round_id))
    stored = cq.feedback_by_question(round_id)
    if not any(f.heard or f.action for f in stored.values()):
        flash(_("Write feedback on at least one question first."), "error")
        return redirect(back)
    return render_template(
        "consultations/confirm_publish.html",
        round=round_,
        stored=stored,
        responders=len(cq.latest_versions(round_id)),
        form=form,
    )


# --- exports -----------------------------------------------------------------


def _exportable(round_id: int) -> ConsultationRound:
    round_ = cq.get_round(viewer(), round_id)
    phase = round_.phase(utcnow())
    if phase not in (Phase.closed, Phase.published) and not policy.can_manage_round(
        viewer(), round_
    ):
        raise NotFound(_("The responses are published when the round closes."))
    return round_


@bp.get("/consultations/<int:round_id>/export.csv")
def export_csv(round_id: int):
    """The responses (and published feedback) as CSV: one row per organisation and question."""
    round_ = _exportable(round_id)
    header = [
        _("Round"),
        _("Title"),
        _("Organisation"),
        _("Organisation number"),
        _("Question number"),
        _("Question"),
        _("Answer"),
        _("Version"),
        _("Submitted (UTC)"),
        _("What we heard"),
        _("What the city will do"),
        _("Feedback draws on this response"),
    ]
    return exports.csv_response(f"samrad-{round_.id}.csv", header, cq.export_rows(round_))


def _compilation(round_id: int, for_pdf: bool = False) -> str:
    round_ = _exportable(round_id)
    phase = round_.phase(utcnow())
    return render_template(
        "consultations/compilation.html",
        round=round_,
        phase=phase,
        phase_labels=PHASE_LABELS,
        stage_labels=STAGE_LABELS,
        responses=cq.latest_versions(round_id),
        feedback=cq.feedback_by_question(round_id) if phase == Phase.published else {},
        remiss=cq.remiss_list(round_),
        documents=cq.round_documents(round_id),
        for_pdf=for_pdf,
        pdf_available=pdf.available(),
    )


@bp.get("/consultations/<int:round_id>/compilation")
def compilation(round_id: int):
    """The remiss list and compilation: every organisation asked, responses, documents, feedback."""
    return _compilation(round_id)


@bp.get("/consultations/<int:round_id>/compilation.pdf")
def compilation_pdf(round_id: int):
    """The compilation as PDF for the city's records (WeasyPrint; rendered once per version
    of the page, and anyone may ask once the round is closed: see web/pdf.py)."""
    return pdf.pdf_response(_compilation(round_id, for_pdf=True), f"remisslista-{round_id}.pdf")


# --- pieces other pages include ----------------------------------------------


@bp.app_template_global()
def consultation_outcomes(org: Organisation):
    """For the organisation page: the rounds it answered and what happened with its input
    (a round still open only for the organisation's members)."""
    return cq.outcomes_for(org, viewer())


@bp.app_template_global()
def commitment_rounds(commitment: Commitment):
    """For a commitment page: the consultation rounds linked to it."""
    return cq.rounds_for_commitment(viewer(), commitment)


@bp.app_template_filter("longdate")
def long_date(value) -> str:  # noqa: ANN001 — a date, an ISO date string (as history keeps it) or None
    """A calendar date in the reader's language (e.g. 1 april 2027)."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return formatting.long_date(value) if value else ""


@bp.app_template_global()
def consultation_phase(round_: ConsultationRound) -> str:
    """The round's phase now, as words in the reader's language."""
    return str(PHASE_LABELS[round_.phase(utcnow())])
