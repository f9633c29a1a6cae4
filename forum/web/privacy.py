"""Privacy: the notice (/integritet), "download my data", closing an account, archives."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.wrappers import Response
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from .. import policy
from ..errors import DomainError, Invalid, NotFound
from ..extensions import db
from ..formatting import local_datetime
from ..ids import whole_id
from ..models import PersonalExport, User
from ..services import exports, privacy
from ..services.transaction import discard_changes
from .auth import CloseAccountForm, client_address, end_session, settings_page

bp = Blueprint("privacy", __name__)


class PostForm(FlaskForm):
    """CSRF only: these forms have no fields WTForms needs to check."""


@bp.get("/integritet")
def notice():
    """The privacy notice (GDPR art. 13)."""
    return render_template("privacy/notice.html", export_days=exports.EXPORT_DAYS)


@bp.post("/integritet/export")
@login_required
def request_export():
    """Ask for a copy of one's data; it is prepared in the background and mailed (unless
    a copy made within the hour is ready: that one is the answer, nothing is sent)."""
    if PostForm().validate_on_submit():
        export = exports.request_personal_export(current_user)
        if export.status == "ready" and export.expires_at is not None:
            flash(
                _(
                    "Your copy, made less than an hour ago, is ready: use the link in the "
                    "email we sent. It works until %(when)s. You can ask for a new copy "
                    "after an hour.",
                    when=local_datetime(export.expires_at),
                ),
                "success",
            )
            return redirect(url_for("auth.settings"), 303)
        if not current_app.testing:
            exports.start_in_background(current_app._get_current_object())  # type: ignore[attr-defined]
        flash(_("We are preparing your data and will email you a link."), "success")
    return redirect(url_for("auth.settings"), 303)


@bp.app_template_global()
def my_data_copy() -> PersonalExport | None:
    """For the settings page: the person's copy of their data (ready, being prepared, or
    given up), or None."""
    if not current_user.is_authenticated:
        return None
    return exports.latest_copy(current_user.id)


def _not_kept(response: Response) -> Response:
    """A download of personal or archived data: neither the browser nor a proxy keeps a copy
    (send_file's own `no-cache` lets them store it); sent without validators (ETag,
    Last-Modified) to revalidate a copy with."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers.pop("Last-Modified", None)  # send_file's, from the file (no ETag asked)
    return response


@bp.get("/integritet/export/<token>")
@login_required
def download_export(token: str):
    """The copy of one's data, through the link from the mail, until it expires."""
    opened = exports.personal_export_file(current_user, token)
    return _not_kept(
        send_file(
            opened,
            mimetype="application/zip",
            as_attachment=True,
            download_name="mina-data.zip",
            conditional=False,
            etag=False,
        )
    )


@bp.post("/settings/close")
@login_required
def close_account():
    """Close one's own account (the password confirms it)."""
    form = CloseAccountForm()
    if not form.validate_on_submit():  # the password box left blank: said beside it
        return settings_page(close_form=form, status=400)
    chosen = current_user.locale  # closing forgets it; the page after is still in it
    try:
        privacy.close_account(current_user, current_user.id, form.password.data, client_address())
    except DomainError as err:
        # the settings page again, the error at its field (a wrong password: the box to try
        # again in) or at the top (the organisations it must hand over first)
        discard_changes()  # the person's and organisations' locks end before the page
        problem = None
        if err.field == "password":
            form.password.errors = [err.message]
        else:
            problem = err.message
        return settings_page(close_form=form, problem=problem, status=400)
    end_session(chosen)
    flash(
        _("Your account is closed. Your posts stay as public records under a pseudonym."), "success"
    )
    return redirect(url_for("main.home"), 303)


@bp.post("/admin/users/<int:user_id>/close")
@login_required
def admin_close(user_id: int):
    """An admin closes an account on the person's request (logged), after a confirmation page.

    The button on the admin page posts here without `confirmed`: that shows what closing
    does and asks again; nothing changes until the confirmation's own form posts.
    """
    policy.require(policy.can_administer(current_user), _("Only admins can see this page."))
    person = db.session.get(User, user_id)
    if person is None or person.is_closed:
        raise NotFound(_("No such account."))
    form = PostForm()
    if not form.validate_on_submit():
        return redirect(url_for("admin.index"), 303)
    error = None
    if request.form.get("confirmed") == "1":
        try:
            privacy.close_account(current_user, user_id)
        except DomainError as err:
            db.session.rollback()
            error = err.message
        else:
            flash(_("The account is closed."), "success")
            return redirect(url_for("admin.index"), 303)
    page = render_template(
        "admin/confirm_close.html",
        person=person,
        pseudonym=privacy.pseudonym(person.id),
        form=form,
        error=error,
    )
    return page, 400 if error else 200


@bp.route("/admin/archive", methods=["GET", "POST"])
@login_required
def archive():
    """Admins export a forum, a thread or a round as a self-contained archive."""
    policy.require(policy.can_administer(current_user), _("Only admins can see this page."))
    error = None
    if request.method == "POST" and PostForm().validate_on_submit():
        kind = request.form.get("kind", "")
        raw_id = (request.form.get("object_id") or "").strip()
        try:
            if kind not in exports.ARCHIVE_KINDS:
                raise Invalid(_("Choose what to export."), field="kind")
            object_id = whole_id(raw_id)
            if object_id is None:
                raise Invalid(_("Enter the number (id) of what to export."), field="object_id")
            name, archive_file = exports.build_archive(current_user, kind, object_id)
        except DomainError as err:
            error = err
        else:
            # an anonymous temporary file: closed once sent, and then the system drops it
            return _not_kept(
                send_file(
                    archive_file, mimetype="application/zip", as_attachment=True, download_name=name
                )
            )
    status = 400 if error else 200
    return render_template("exports/admin.html", error=error, form=PostForm()), status
