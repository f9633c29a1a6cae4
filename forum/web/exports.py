"""Exports: CSV files a spreadsheet opens safely, and the geometry of the server-drawn
bar charts. The queries give plain rows; this module turns them into files and shapes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula: one starting with = + - @ tab or CR
    gets a leading apostrophe. Only the start: a "- " list item or "500,-" inside the text
    is the writer's own. Numbers stay numbers, a negative one too."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_text(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """The CSV text: a byte-order mark (so Excel reads UTF-8: å, ä, ö), CRLF line ends,
    every cell made spreadsheet-safe, a cell with "," or ";" in quotes."""
    from ..services.exports import csv_line

    lines = [csv_line([spreadsheet_safe(h) for h in header], ",")]
    lines += [csv_line([spreadsheet_safe(v) for v in row], ",") for row in rows]
    return "\ufeff" + "".join(lines)


def csv_response(
    filename: str, header: Sequence[object], rows: Iterable[Sequence[object]]
) -> Response:
    """A CSV download in UTF-8 with a BOM; `?format=excel` gives the Swedish Excel dialect
    (semicolons, decimal comma, Stockholm time) beside it."""
    from flask import request

    from ..services.exports import excel_csv

    text = csv_text(header, rows)
    if request.args.get("format") == "excel":
        data, filename = excel_csv(text), filename.replace(".csv", "-excel.csv")
    else:
        data = text.encode("utf-8")
    return Response(
        data,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )


def chart(
    values: list[tuple[str, float]], width: int = 320, bar_height: int = 18
) -> dict[str, object]:
    """Bar geometry for a server-rendered SVG: label, value, bar width, y."""
    top = max((v for _label, v in values), default=0) or 1
    bars = [
        {
            "label": label,
            "value": value,
            "width": round(value / top * (width - 40), 1),
            "y": i * (bar_height + 6),
        }
        for i, (label, value) in enumerate(values)
    ]
    return {"bars": bars, "height": len(values) * (bar_height + 6), "bar_height": bar_height}
