"""Shared WTForms pieces."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from ..errors import DomainError


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (accessible: each has its own label)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:  # noqa: ANN001 — WTForms signature
        """Unknown values are reported by the service, with the field's error."""


def form_error(form: FlaskForm, err: DomainError) -> None:
    """Attach a service error to the form field it names (or the form as a whole)."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = (
            [*field.errors, err.message] if isinstance(field.errors, list) else [err.message]
        )
    else:
        flash(err.message, "error")


def csv_download(body: str, filename: str):  # noqa: ANN201 - a Flask response
    """A CSV download; `?format=excel` gives the Swedish Excel dialect (BOM, semicolons)."""
    from flask import Response, request

    from ..services.exports import excel_csv

    if request.args.get("format") == "excel":
        data, name = excel_csv(body), filename.replace(".csv", "-excel.csv")
    else:
        data, name = body.encode("utf-8"), filename
    return Response(
        data,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )
