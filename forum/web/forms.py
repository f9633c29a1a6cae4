"""Shared pieces of the views: WTForms fields, service errors on forms, and the one
"post a button, run a service, flash or re-render" helper."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from flask import flash, get_flashed_messages, redirect
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from wtforms import SelectMultipleField
from wtforms.form import BaseForm
from wtforms.widgets import CheckboxInput, ListWidget

from ..errors import DomainError
from ..services.transaction import discard_changes
from .fragments import remembered


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (accessible: each has its own label)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:  # noqa: ANN001 — WTForms signature
        """Unknown values are reported by the service, with the field's error."""

    def __call__(self, **kwargs: Any) -> Markup:
        """A blank list is rendered once per everything it shows: WTForms builds every
        checkbox's attributes through `str.format` and escaping, a third of a forum's page
        for the thirteen commitments. The key (a digest, however long the list) holds the
        field's name, id, flags and attributes, and each choice's value, label (in this
        request's language) and attributes. A list with boxes checked (a form sent back with
        an error) is rendered each time: its combinations would crowd the other fragments out
        of the store."""
        choices = list(self.iter_choices())
        if any(c.selected for c in choices):
            return Markup(super().__call__(**kwargs))  # noqa: S704 — WTForms' own escaped output
        shown = (
            self.name,
            self.id,
            _attributes(vars(self.flags)),
            _attributes(self.render_kw),
            _attributes(kwargs),
            tuple((str(c.value), str(c.label), _attributes(c.render_kw)) for c in choices),
        )
        key = ("checkboxes", hashlib.sha256(repr(shown).encode()).hexdigest())
        store = remembered()
        html = store.get(key)
        if html is None:
            html = str(super().__call__(**kwargs))
            store.put(key, html)
        return Markup(html)  # noqa: S704 — WTForms' own escaped output


def _attributes(values: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in (values or {}).items()))


# What views and templates call a refusal that a page shows in an error summary of its own
# (log-in's `problem`, the admin page's `errors`, a response's `conflicts`); a template that
# decides it itself sets `refusal`.
REFUSALS = ("refusal", "problem", "error", "errors", "conflicts")


@pass_context
def shows_refusal(context: Context) -> bool:
    """Whether the page says that what was sent was refused: a form with errors (what the
    error_summary macro shows), a refusal named as above, or an error message flashed.
    base.html then puts "Error:" before the page's title, the first thing a screen reader
    reads of the page that comes back (WCAG 2.4.2, as the response form did on its own)."""
    if any(context.get(name) for name in REFUSALS):
        return True
    if any(isinstance(value, BaseForm) and value.errors for value in context.get_all().values()):
        return True
    return bool(get_flashed_messages(category_filter=["error"]))


class ButtonForm(FlaskForm):
    """A button that posts: carries only the CSRF token."""


def form_error(form: FlaskForm, err: DomainError) -> None:
    """Attach a service error to the form field it names (or the form as a whole).

    What the refused call left in the session is discarded first, so the page rendered next
    shows the stored state, and a lock the call took (a message's, a person's; SQLite's one
    write lock) ends now, not after the page."""
    discard_changes()
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = (
            [*field.errors, err.message] if isinstance(field.errors, list) else [err.message]
        )
    else:
        flash(err.message, "error")


def flash_form_errors(form: FlaskForm) -> None:
    """Say why a posted form was not accepted: an expired or foreign form in words a person
    understands, other fields with their own messages."""
    for name, errors in form.errors.items():
        if name == "csrf_token":
            flash(_("The form had expired or was not sent from this site. Try again."), "error")
            continue
        for message in errors:
            flash(str(message), "error")


def act(
    run: Callable[[], Any],
    success: str | Callable[[Any], str],
    done: str,
    page: Callable[[int], ResponseReturnValue],
    form: FlaskForm | None = None,
) -> ResponseReturnValue:
    """Post a button, run a service, flash or re-render.

    `run` calls the service; on success `success` (or `success(result)`) is flashed and the
    browser goes to `done`. A form that does not validate re-renders `page(400)`. A refusal
    (invalid, conflict, locked, ...) discards what the call left in the session, flashes
    its reason and re-renders `page(status)`; a missing login, right or record goes on to
    the error pages.
    """
    form = form or ButtonForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return page(400)
    try:
        result = run()
    except DomainError as err:
        if err.status in (401, 403, 404):
            raise
        discard_changes()
        flash(err.message, "error")
        return page(err.status)
    flash(success(result) if callable(success) else success, "success")
    return redirect(done)
