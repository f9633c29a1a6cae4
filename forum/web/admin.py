"""Admin: verify organisations, appoint and remove roles, read the audit log."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField

from .. import policy
from ..errors import DomainError
from ..ids import whole_id
from ..queries import admin as admin_queries
from ..services import admin as admin_service
from ..services import organisations as org_service
from ..services.transaction import discard_changes
from .forms import ButtonForm
from .organisations import FORM_LABELS

bp = Blueprint("admin", __name__)

ROLE_LABELS = {
    "official": _l("Official"),
    "moderator": _l("Site moderator"),
    "admin": _l("Admin"),
}


class ActionForm(ButtonForm):
    """A button that posts: carries only the CSRF token (and the search to return to)."""

    q = HiddenField()


class RejectForm(ActionForm):
    reason = TextAreaField(_l("Reason for rejecting"))


class GrantForm(ActionForm):
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(key, label) for key, label in ROLE_LABELS.items()],
        validate_choice=False,
    )
    department_id = StringField(_l("Department"))
    department_name = StringField(_l("Or a new department"))


class RevokeForm(ActionForm):
    role = HiddenField()


def _page(
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status: int = 200
):
    """The admin page; `errors` maps an input's id to its message, `values` keeps typed text."""
    policy.require(policy.can_administer(current_user), _("Only admins can see this page."))
    # a refused form's page searches again with the form's q: a NUL in it is none that
    # PostgreSQL can compare (the query string's are refused before: refuse_nul_in_query)
    query = (request.values.get("q") or "").replace("\x00", "").strip()
    return render_template(
        "admin/index.html",
        pending=admin_queries.pending_organisations(current_user),
        people=admin_queries.find_users(current_user, query),
        query=query,
        departments=admin_queries.departments(),
        entries=admin_queries.recent_audit(current_user),
        roles=ROLE_LABELS,
        has_role=admin_queries.has_role,
        form_labels=FORM_LABELS,
        errors=errors or {},
        values=values or {},
        action_form=ActionForm(),
    ), status


def _back(form: ActionForm):
    q = (form.q.data or "").strip()
    return redirect(url_for("admin.index", q=q) if q else url_for("admin.index"))


def _refused(err: DomainError, input_id: str | None, values: dict[str, str] | None = None):
    """Show a refused action on the admin page: next to its input, or as a message."""
    if err.status in (401, 403, 404):
        raise err
    discard_changes()  # the refused call's changes and locks end before the page is built
    if input_id is None:
        flash(err.message, "error")
        return _page(status=err.status)
    return _page({input_id: err.message}, values, err.status)


@bp.get("/admin")
@login_required
def index():
    """Pending organisations, people and their roles, and the audit log."""
    return _page()


@bp.post("/admin/organisations/<int:org_id>/verify")
@login_required
def verify(org_id: int):
    """Verify a registered organisation."""
    form = ActionForm()
    if not form.validate_on_submit():
        return _page(status=400)
    try:
        org = org_service.verify_organisation(current_user, org_id)
    except DomainError as err:
        return _refused(err, None)
    flash(_("%(name)s is verified.", name=org.name), "success")
    return _back(form)


@bp.post("/admin/organisations/<int:org_id>/reject")
@login_required
def reject(org_id: int):
    """Reject a registered organisation, with a reason."""
    form = RejectForm()
    if not form.validate_on_submit():
        return _page(status=400)
    try:
        org = org_service.reject_organisation(current_user, org_id, form.reason.data or "")
    except DomainError as err:
        field = f"reason-{org_id}"
        return _refused(
            err, field if err.field == "reason" else None, {field: form.reason.data or ""}
        )
    flash(_("%(name)s is rejected.", name=org.name), "success")
    return _back(form)


def _department_id(raw: str | None) -> int | None:
    """The chosen department's id; 0 (no such department) for anything that is not an id."""
    raw = (raw or "").strip()
    if not raw:
        return None
    return whole_id(raw) or 0


@bp.post("/admin/users/<int:user_id>/roles/grant")
@login_required
def grant(user_id: int):
    """Appoint someone official (with a department), site moderator or admin."""
    form = GrantForm()
    if not form.validate_on_submit():
        return _page(status=400)
    try:
        user = admin_service.grant_role(
            current_user,
            user_id,
            form.role.data or "",
            _department_id(form.department_id.data),
            form.department_name.data,
        )
    except DomainError as err:
        field = {
            "department": f"department-{user_id}",
            "department_name": f"department-name-{user_id}",  # the new name typed
            "role": f"role-{user_id}",
        }.get(err.field or "")
        values = {
            f"department-{user_id}": form.department_id.data or "",
            f"department-name-{user_id}": form.department_name.data or "",
            f"role-{user_id}": form.role.data or "",
        }
        return _refused(err, field, values)
    label = ROLE_LABELS.get(form.role.data or "", "")
    flash(_("%(name)s is now: %(role)s.", name=user.display_name, role=label), "success")
    return _back(form)


@bp.post("/admin/users/<int:user_id>/roles/revoke")
@login_required
def revoke(user_id: int):
    """Remove an appointed role."""
    form = RevokeForm()
    if not form.validate_on_submit():
        return _page(status=400)
    try:
        user = admin_service.revoke_role(current_user, user_id, form.role.data or "")
    except DomainError as err:
        return _refused(err, None)
    label = ROLE_LABELS.get(form.role.data or "", "")
    flash(_("%(name)s is no longer: %(role)s.", name=user.display_name, role=label), "success")
    return _back(form)
