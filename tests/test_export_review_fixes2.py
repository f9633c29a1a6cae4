"""Exports, as a review of downloads found them: the Swedish-Excel CSV converts only the
app's own times, a round's archive leaves out feedback not yet published, and the
compilation PDF gets places to break a long unbroken answer (WeasyPrint took time growing
with the cube of its length: 15 s for 2,000 characters, past a worker's limit)."""

import csv
import io
import json
import re

from consultation_support import make_round

from forum.services import consultations as consultation_service
from forum.services import exports


def open_zip(source):
    import zipfile

    with source, zipfile.ZipFile(source) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _answered(app, make, answer_text):
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin, name="Föreningen Tidig")
    round_ = make_round(app, make, official)
    with app.test_request_context():
        consultation_service.save_response(
            org_admin,
            round_.id,
            org.id,
            {q.id: answer_text for q in round_.questions},
            submit=True,
        )
        consultation_service.close_round(official, round_.id)
    return official, round_


def test_an_answer_that_looks_like_an_impossible_timestamp_breaks_the_excel_csv(app, make, client):
    """Finding 1: one organisation answers with a timestamp-like text that is no real time
    (29 February in a non-leap year, e.g. typed or sent through the API); the Swedish-Excel
    CSV of the whole round is then a 500 for everyone, the comma CSV works."""
    _official, round_ = _answered(app, make, "2025-02-29T10:00Z")

    plain = client.get(f"/consultations/{round_.id}/export.csv")
    assert plain.status_code == 200
    excel = client.get(f"/consultations/{round_.id}/export.csv?format=excel")
    assert excel.status_code == 200


def test_the_excel_csv_rewrites_an_answer_that_looks_like_a_utc_time(app, make, client):
    """Finding 1b: README: 'nothing else in a text is changed'. An organisation's answer
    that happens to be an ISO time is shifted to Stockholm time and reformatted as if it
    were the Submitted column: the archive's Excel copy says something the answer did not."""
    _official, round_ = _answered(app, make, "2025-06-01T09:00Z")

    excel = client.get(f"/consultations/{round_.id}/export.csv?format=excel")
    rows = list(csv.reader(io.StringIO(excel.data.decode("utf-8-sig"), newline=""), delimiter=";"))
    answer_column = rows[0].index(next(h for h in rows[0] if h in ("Svar", "Answer")))
    assert rows[1][answer_column] == "2025-06-01T09:00Z"


def test_a_round_archive_presents_unpublished_draft_feedback_as_the_feedback(app, make):
    """Finding 2: an official has saved feedback for a closed round but not published it
    (the round page, CSV, compilation and API all leave it out). An admin archives the
    round for the city's records: data.json and index.html list the draft under
    'Återkoppling / feedback' with nothing saying it was never published."""
    admin = make.user("admin")
    official, round_ = _answered(app, make, "Vårt svar")
    with app.test_request_context():
        consultation_service.save_feedback(
            official,
            round_.id,
            {round_.questions[0].id: consultation_service.FeedbackInput(heard="UTKAST ej klart")},
        )
        _name, built = exports.build_archive(admin, "round", round_.id)
    files = open_zip(built)
    record = json.loads(files["data.json"])["round"]
    page = files["index.html"].decode()

    drafts = [f for f in record["feedback"] if "UTKAST ej klart" in f["heard_html"]]
    assert all(f.get("published") is False or f.get("draft") for f in drafts), drafts
    if "UTKAST ej klart" in page:
        assert re.search(r"opublicerad|ej publicerad|unpublished|not published", page, re.I)


def test_one_long_unbroken_answer_renders_in_the_compilation_pdf(app, make, client):
    """The render is bounded by its places to break (below), not timed here: the suite's
    own limits catch a render that takes minutes again."""
    import pytest

    from forum.web import pdf

    if not pdf.available():
        pytest.skip("WeasyPrint is not installed")
    _official, round_ = _answered(app, make, "x" * 3000)
    response = client.get(f"/consultations/{round_.id}/compilation.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_the_pdf_gets_a_place_to_break_in_every_long_run_of_its_text_only():
    from forum.web.pdf import LONGEST_UNBROKEN, breakable

    long_class = "c" * 40
    html = (
        f'<p class="{long_class}">{"x" * 60} kort &amp; {"y" * 30}</p>'
        f"<style>.{'s' * 40} {{ color: red }}</style><p>{'z' * 30}</p>"
    )
    out = breakable(html)
    text = re.sub(r"<style>.*?</style>|<[^>]*>", " ", out)
    assert max(len(run) for run in re.split(r"[\s\u200b]+", text)) <= LONGEST_UNBROKEN
    assert f'class="{long_class}"' in out  # attributes as they were
    assert "." + "s" * 40 in out  # a stylesheet as it was
    assert out.replace("\u200b", "") == html  # nothing else changed
