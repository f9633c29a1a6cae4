"""Organisations: the list, registration, the public page, joining and managing members."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import InputRequired

from .. import policy
from ..errors import DomainError
from ..models import Organisation, OrganisationForm, OrganisationStatus, User
from ..queries import organisations as org_queries
from ..services import organisations as org_service
from .forms import ButtonForm, act, form_error

bp = Blueprint("organisations", __name__)

FORM_LABELS = {
    OrganisationForm.forening: _l("Association (förening)"),
    OrganisationForm.kooperativ: _l("Cooperative (kooperativ)"),
    OrganisationForm.stiftelse: _l("Foundation (stiftelse)"),
    OrganisationForm.socialt_foretag: _l("Social enterprise (socialt företag)"),
    OrganisationForm.annan: _l("Other association (annan sammanslutning)"),
}

STATUS_LABELS = {
    OrganisationStatus.pending: _l("Awaiting verification"),
    OrganisationStatus.verified: _l("Verified"),
    OrganisationStatus.rejected: _l("Not verified (rejected)"),
}


def viewer() -> User | None:
    return current_user if current_user.is_authenticated else None


class OrganisationRegistrationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired()])
    legal_form = RadioField(
        _l("Form"),
        choices=[SelectChoice(f.value, label) for f, label in FORM_LABELS.items()],
        validators=[InputRequired(message=_l("Choose the organisation's form."))],
        validate_choice=False,  # the service refuses unknown forms, with this field's error
    )
    org_number = StringField(_l("Organisation number"), validators=[InputRequired()])
    description = TextAreaField(_l("Description"))
    website = URLField(_l("Website (optional)"))


class RoleForm(FlaskForm):
    role = HiddenField()


@bp.get("/organisations")
def index():
    """Verified organisations, and the viewer's own that are still waiting."""
    verified, own = org_queries.listed_organisations(viewer())
    return render_template(
        "organisations/index.html",
        organisations=verified,
        own=own,
        form_labels=FORM_LABELS,
        status_labels=STATUS_LABELS,
    )


@bp.route("/organisations/new", methods=["GET", "POST"])
@login_required
def new():
    """Register an organisation; an admin verifies it later."""
    form = OrganisationRegistrationForm()
    failed = form.is_submitted()
    if form.validate_on_submit():
        try:
            org = org_service.register_organisation(
                current_user,
                form.name.data or "",
                form.legal_form.data or "",
                form.org_number.data or "",
                form.description.data or "",
                form.website.data or "",
            )
        except DomainError as err:
            if err.status in (401, 403):
                raise
            form_error(form, err)
        else:
            flash(
                _("%(name)s is registered. An admin will verify it soon.", name=org.name),
                "success",
            )
            return redirect(url_for("organisations.show", slug=org.slug))
    status = 400 if failed else 200
    return render_template("organisations/new.html", form=form, form_labels=FORM_LABELS), status


def _page(org, status: int = 200):
    user = viewer()
    approved, pending = org_queries.members_of(org)
    return render_template(
        "organisations/show.html",
        org=org,
        role=policy.organisation_role(user, org),
        can_manage=policy.can_manage_organisation(user, org),
        can_see_members=policy.can_see_members(user, org),
        members=approved,
        requests=pending,
        form_labels=FORM_LABELS,
        status_labels=STATUS_LABELS,
        action_form=ButtonForm(),
    ), status


@bp.get("/organisations/<slug>")
def show(slug: str):
    """The organisation's public page; members and admins see more."""
    return _page(org_queries.get_by_slug(viewer(), slug))


def _button(
    slug: str,
    run: Callable[[Organisation], object],
    success: str | Callable[[Any], str],
    form: FlaskForm | None = None,
):
    """A membership button on the organisation's page (see forms.act)."""
    org = org_queries.get_by_slug(viewer(), slug)
    return act(
        lambda: run(org),
        success,
        url_for("organisations.show", slug=org.slug),
        lambda status: _page(org, status),
        form,
    )


@bp.post("/organisations/<slug>/join")
@login_required
def join(slug: str):
    """Ask to become a member."""
    return _button(
        slug,
        lambda org: org_service.request_membership(current_user, org.id),
        _("You have asked to join. An admin of the organisation will answer."),
    )


@bp.post("/organisations/<slug>/leave")
@login_required
def leave(slug: str):
    """Leave the organisation, or withdraw a request to join."""
    return _button(
        slug,
        lambda org: org_service.leave_organisation(current_user, org.id),
        lambda withdrawn: (
            _("Your request to join is withdrawn.")
            if withdrawn
            else _("You are no longer a member.")
        ),
    )


@bp.post("/organisations/<slug>/members/<int:membership_id>/approve")
@login_required
def approve(slug: str, membership_id: int):
    """An organisation admin approves a request to join."""
    return _button(
        slug,
        lambda org: org_service.approve_member(current_user, org.id, membership_id),
        _("The member is approved."),
    )


@bp.post("/organisations/<slug>/members/<int:membership_id>/reject")
@login_required
def reject(slug: str, membership_id: int):
    """An organisation admin declines a request to join."""
    return _button(
        slug,
        lambda org: org_service.reject_member(current_user, org.id, membership_id),
        _("The request is declined."),
    )


@bp.post("/organisations/<slug>/members/<int:membership_id>/remove")
@login_required
def remove(slug: str, membership_id: int):
    """An organisation admin removes a member."""
    return _button(
        slug,
        lambda org: org_service.remove_member(current_user, org.id, membership_id),
        _("The member is removed."),
    )


@bp.post("/organisations/<slug>/members/<int:membership_id>/role")
@login_required
def set_role(slug: str, membership_id: int):
    """An organisation admin makes a member an admin, or an admin a member."""
    form = RoleForm()
    return _button(
        slug,
        lambda org: org_service.set_member_role(
            current_user, org.id, membership_id, form.role.data or ""
        ),
        _("The member's role is changed."),
        form,
    )
