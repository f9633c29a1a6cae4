"""An organisation's response page: the documents' and the decline's buttons were forms of
their own, so pressing "Upload", "Remove" or "Decline to answer" sent none of the answers
typed and not yet saved, and the page came back with the saved draft: the text was gone
(also when the upload was refused). They now send the answers' form, and its text comes
back with the page, unsaved, with a note to save it."""

from __future__ import annotations

import io
from html.parser import HTMLParser

import pytest
from consultation_support import consultation_people, english, make_round
from sqlalchemy import select
from support import Auth

from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import ConsultationResponse, Document
from forum.services.storage import DiskStorage

FORM = "response-form"
TYPED = "Skrivet före bilagan, inte sparat"


class FormFields(HTMLParser):
    """What a browser sends for the form with id FORM: its controls, inside it or tied to
    it by form="…", and each submit button's name and value by its text."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: dict[str, str] = {}
        self.buttons: list[dict[str, str]] = []
        self._textarea: str | None = None

    def _ours(self, attrs: dict[str, str | None]) -> bool:
        return attrs.get("form") == FORM or (self.inside and "form" not in attrs)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == FORM:
            self.inside = True
        elif tag == "input" and self._ours(a) and a.get("name") and a.get("type") != "file":
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "textarea" and self._ours(a):
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "button" and self._ours(a) and a.get("type") == "submit":
            self.buttons.append({k: v or "" for k, v in a.items()})

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "textarea":
            self._textarea = None


def read_form(page: str) -> FormFields:
    parser = FormFields()
    parser.feed(page)
    assert parser.fields, "no response form"
    return parser


def press(client, url, page: str, button: dict, **fields):
    form = read_form(page)
    data = {**form.fields, **fields, button["name"]: button["value"]}
    multipart = button.get("formenctype") == "multipart/form-data"
    return client.post(url, data=data, content_type="multipart/form-data" if multipart else None)


@pytest.fixture
def scene(app, client, make, tmp_path):
    english(client)
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")
    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    Auth(client).login(chair)
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    return round_, org, url, f"answer-{round_.questions[0].id}"


def _button(page: str, **match) -> dict:
    return next(b for b in read_form(page).buttons if all(b.get(k) == v for k, v in match.items()))


def _saved(org) -> dict:
    db.session.expire_all()
    response = db.session.scalar(
        select(ConsultationResponse).where(ConsultationResponse.organisation_id == org.id)
    )
    return {a.question_id: a.body for a in response.answers} if response else {}


def test_uploading_a_letter_keeps_the_typed_answers(client, scene):
    round_, org, url, box = scene
    page = client.get(url).get_data(as_text=True)
    upload = _button(page, value="upload")
    assert upload["formenctype"] == "multipart/form-data"
    answer = press(
        client,
        url,
        page,
        upload,
        **{box: TYPED, "file": (io.BytesIO(simple_pdf(["Brev"])), "Brev.pdf")},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert TYPED in html and "not saved yet" in html
    assert "Brev.pdf" in html and db.session.scalar(select(Document)) is not None
    assert _saved(org) == {}  # shown again, not saved behind the person's back
    # saving it from the page shown stores it, on the base it was typed on
    saved = press(client, url, html, _button(html, value="save"))
    assert saved.status_code == 302
    assert _saved(org) == {round_.questions[0].id: TYPED}


def upload(client, url, data: bytes, **fields):
    """Choose a file and press "Upload" on the page as it is now."""
    page = client.get(url).get_data(as_text=True)
    document = {"file": (io.BytesIO(data), "Brev.pdf")}
    return press(client, url, page, _button(page, value="upload"), **document, **fields)


def test_a_refused_upload_keeps_the_typed_answers(client, scene):
    round_, org, url, box = scene
    answer = upload(client, url, b"not a document", **{box: TYPED})
    assert answer.status_code == 400
    assert TYPED in answer.get_data(as_text=True)


def test_removing_a_document_keeps_the_typed_answers(app, client, scene):
    round_, org, url, box = scene
    upload(client, url, simple_pdf(["Brev"]))
    page = client.get(url).get_data(as_text=True)
    letter = db.session.scalar(select(Document))
    remove = _button(page, name="remove_document")
    assert remove["value"] == str(letter.id)
    answer = press(client, url, page, remove, **{box: TYPED})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and TYPED in html
    db.session.expire_all()
    assert db.session.get(Document, letter.id).removed_at is not None


def test_declining_without_a_reason_keeps_the_typed_answers(client, scene):
    round_, org, url, box = scene
    page = client.get(url).get_data(as_text=True)
    answer = press(client, url, page, _button(page, value="decline"), **{box: TYPED})
    assert answer.status_code == 400
    assert TYPED in answer.get_data(as_text=True)


def test_with_nothing_typed_an_upload_lands_on_the_page_as_before(client, scene):
    round_, org, url, box = scene
    answer = upload(client, url, simple_pdf(["Brev"]))
    assert answer.status_code == 302  # nothing to keep: the page as saved, by a redirect


def test_the_documents_buttons_belong_to_the_answers_form(client, scene):
    """Tied by form=: the browser sends the boxes with them (no form of their own)."""
    round_, org, url, box = scene
    page = client.get(url).get_data(as_text=True)
    values = {b.get("value") for b in read_form(page).buttons}
    assert {"save", "submit", "upload", "decline"} <= values
    attachments = page.split('id="attachments"')[1].split("</section>")[0]
    assert "<form" not in attachments
