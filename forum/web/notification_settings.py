"""How each person is told: per kind in the app, by mail at once or in a daily digest."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from ..errors import Invalid
from ..extensions import csrf
from ..services import notifications as service

bp = Blueprint("notification_settings", __name__)


class PreferencesForm(FlaskForm):
    """The CSRF token; the choices are radio groups named after the kinds."""


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings():
    """Choose, per kind, in the app only, mail at once or a daily digest."""
    form = PreferencesForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form had expired or was not sent from this site. Try again."), "error")
            status = 400
        else:
            choices = {k: request.form.get(k, "") for k in service.KINDS if k in request.form}
            try:
                service.save_preferences(current_user, choices)
            except Invalid as err:
                flash(err.message, "error")
                status = 400
            else:
                flash(_("Your choices are saved."), "success")
                return redirect(url_for("notification_settings.settings"))
    return render_template(
        "notifications/settings.html",
        form=form,
        kinds=service.KINDS,
        modes=service.MODE_LABELS,
        chosen=service.preferences(current_user),
    ), status


@bp.get("/notifications/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """The link in a mail: a page with one button (mail scanners that follow links change nothing)."""
    return render_template("notifications/unsubscribe.html", token=token, done=None)


@bp.post("/notifications/unsubscribe/<token>")
@csrf.exempt  # RFC 8058 one-click: the mail client posts without a form; the token is signed
def unsubscribe(token: str):
    """Stop mail of one kind: from now on it is only shown in the app."""
    try:
        _user, kind = service.unsubscribe(token)
    except Invalid as err:
        return render_template("notifications/unsubscribe.html", token=None, error=err.message), 400
    return render_template(
        "notifications/unsubscribe.html", token=None, done=service.stopped_label(kind)
    )
