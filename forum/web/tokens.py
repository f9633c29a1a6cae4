"""Personal access tokens for the API, on the settings pages: make, list, revoke."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..errors import DomainError
from ..extensions import db
from ..ids import whole_id
from ..labels import TOKEN_SCOPES
from ..models import Membership, MembershipStatus, Organisation, OrganisationStatus
from ..services import api_tokens
from .forms import MultiCheckboxField, form_error

bp = Blueprint("tokens", __name__)


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name (what the token is for)"), validators=[DataRequired(), Length(max=80)]
    )
    scopes = MultiCheckboxField(
        _l("Permissions"),
        choices=[SelectChoice(code, label) for code, label in TOKEN_SCOPES.items()],
    )
    organisation = SelectField(
        _l("Organisation the token acts for"), choices=[], validate_choice=False
    )


class RevokeForm(FlaskForm):
    pass


def _organisations() -> list[Organisation]:
    return list(
        db.session.scalars(
            select(Organisation)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(
                Membership.user_id == current_user.id,
                Membership.status == MembershipStatus.approved,
                Organisation.status == OrganisationStatus.verified,
            )
            .order_by(Organisation.name)
        )
    )


def _page(form: TokenForm, created: str | None = None, status: int = 200):
    return render_template(
        "api/tokens.html",
        form=form,
        revoke_form=RevokeForm(),
        tokens=api_tokens.tokens_of(current_user),
        created=created,
        scope_labels=TOKEN_SCOPES,
    ), status


def _form() -> TokenForm:
    form = TokenForm()
    form.organisation.choices = [SelectChoice("", _("None"))] + [
        SelectChoice(str(o.id), o.name) for o in _organisations()
    ]
    return form


@bp.get("/settings/tokens")
@login_required
def index():
    """The user's tokens and the form for a new one."""
    form = _form()
    form.scopes.data = form.scopes.data or ["read"]
    return _page(form)


@bp.post("/settings/tokens")
@login_required
def create():
    """Make a token; its secret is shown once."""
    form = _form()
    if form.validate_on_submit():
        organisation = form.organisation.data
        try:
            _token, raw = api_tokens.create_token(
                current_user,
                form.name.data or "",
                form.scopes.data or [],
                whole_id(organisation),
                session_key=session.get("nonce"),
            )
        except DomainError as err:
            form_error(form, err)
        else:
            return _page(_form(), created=raw, status=201)
    return _page(form, status=400)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    """Revoke a token at once."""
    if RevokeForm().validate_on_submit():
        api_tokens.revoke_token(current_user, token_id)
        flash(_("The token is revoked."), "success")
    return redirect(url_for("tokens.index"), 303)
