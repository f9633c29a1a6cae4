"""Several people writing the same consultation text: nobody's work is overwritten unseen."""

from __future__ import annotations

import html
import re

import pytest
from consultation_support import english, make_round, respond
from sqlalchemy import func, select, update
from support import Auth

from forum.extensions import db as _db
from forum.models import (
    ConsultationFeedback,
    ConsultationResponse,
    Membership,
    Notification,
)
from forum.services import consultations as service
from forum.services import organisations as organisation_service


def text(response) -> str:
    return response.get_data(as_text=True)


def form_fields(page: str) -> dict[str, str]:
    """The answer boxes and hidden digests of a form page, as a browser would send them."""
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', page
        )
    }
    fields.update(re.findall(r'<input type="hidden" name="(loaded-[^"]+)" value="([^"]*)">', page))
    return fields


@pytest.fixture
def co_drafters(app, make):
    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    anna = make.user(name="Anna Aktiv")
    bo = make.user(name="Bo Bidrag")
    org = make.organisation(admin=chair, members=[anna, bo], name="Föreningen Gemenskap")
    round_ = make_round(app, make, official, "open")
    clients = []
    for person in (anna, bo):
        client = english(app.test_client())
        Auth(client).login(person)
        clients.append(client)
    return round_, org, clients


def stored_answers() -> dict[int, str]:
    response = _db.session.scalar(select(ConsultationResponse))
    _db.session.refresh(response)
    return {a.question_id: a.body for a in response.answers}


def test_two_members_drafting_different_answers_keep_both(co_drafters):
    round_, org, (anna, bo) = co_drafters
    q1, q2 = round_.questions
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    anna_form, bo_form = form_fields(text(anna.get(url))), form_fields(text(bo.get(url)))
    anna_form[f"answer-{q1.id}"] = "Annas svar på fråga 1"
    bo_form[f"answer-{q2.id}"] = "Bos svar på fråga 2"
    post = f"/consultations/{round_.id}/response"
    base = {"organisation_id": org.id, "action": "save"}
    assert anna.post(post, data={**base, **anna_form}).status_code == 302
    assert bo.post(post, data={**base, **bo_form}).status_code == 302
    assert stored_answers() == {q1.id: "Annas svar på fråga 1", q2.id: "Bos svar på fråga 2"}
    # saving again from an old page that did not change an answer leaves it as it is, and
    # (nothing having changed) tells nobody
    (chair,) = service.org_admins([org.id])
    _db.session.execute(update(Notification).values(read_at=func.now()))
    _db.session.commit()
    anna_form = form_fields(text(anna.get(url)))
    assert anna.post(post, data={**base, **anna_form}).status_code == 302
    assert stored_answers() == {q1.id: "Annas svar på fråga 1", q2.id: "Bos svar på fråga 2"}
    unread = select(Notification.id).where(
        Notification.user_id == chair.id, Notification.read_at.is_(None)
    )
    assert _db.session.scalar(unread) is None


def test_both_changing_the_same_answer_is_a_conflict_that_keeps_both_texts(co_drafters):
    round_, org, (anna, bo) = co_drafters
    q1, q2 = round_.questions
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    anna_form, bo_form = form_fields(text(anna.get(url))), form_fields(text(bo.get(url)))
    anna_form[f"answer-{q1.id}"] = "Annas <b>text</b>"
    bo_form[f"answer-{q1.id}"] = "Bos text"
    bo_form[f"answer-{q2.id}"] = "Bos andra svar"
    post = f"/consultations/{round_.id}/response"
    base = {"organisation_id": org.id, "action": "save"}
    assert anna.post(post, data={**base, **anna_form}).status_code == 302
    clash = bo.post(post, data={**base, **bo_form})
    assert clash.status_code == 409
    page = text(clash)
    # Bo's text stays in his box, Anna's is shown (escaped) so he can merge, and nothing
    # of his post was saved (not even the answer nobody else touched)
    assert ">Bos text</textarea>" in page and ">Bos andra svar</textarea>" in page
    assert "Someone else changed this answer" in page
    assert "Annas &lt;b&gt;text&lt;/b&gt;" in page and "Annas <b>" not in page
    assert stored_answers() == {q1.id: "Annas <b>text</b>"}
    # sending the merged text from that page saves it
    merged = form_fields(page)
    merged[f"answer-{q1.id}"] = "Annas text och Bos text"
    assert bo.post(post, data={**base, **merged}).status_code == 302
    assert stored_answers() == {q1.id: "Annas text och Bos text", q2.id: "Bos andra svar"}


def test_an_admin_demoted_while_typing_keeps_the_draft(app, client, make):
    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    second = make.user(name="Ada Andra")
    org = make.organisation(admin=chair, name="Föreningen Gemenskap")
    membership = Membership(
        organisation_id=org.id, user_id=second.id, role="admin", status="approved"
    )
    _db.session.add(membership)
    _db.session.commit()
    round_ = make_round(app, make, official, "open")
    english(client)
    Auth(client).login(second)
    fields = form_fields(
        text(client.get(f"/consultations/{round_.id}/response?organisation={org.id}"))
    )
    with app.test_request_context():
        organisation_service.set_member_role(chair, org.id, membership.id, "member")
    for q in round_.questions:
        fields[f"answer-{q.id}"] = "Två timmars arbete"
    sent = client.post(
        f"/consultations/{round_.id}/response",
        data={"organisation_id": org.id, "action": "submit", **fields},
    )
    # refused, but on the form again with the text: saved as the draft, and told why
    assert sent.status_code == 403
    assert set(stored_answers().values()) == {"Två timmars arbete"}
    page = text(sent)
    assert "only the organisation&#39;s admins can submit" in page
    assert 'value="submit"' not in page
    assert "Två timmars arbete" in page
    assert _db.session.scalar(select(ConsultationResponse)).version_count == 0


def test_two_officials_writing_feedback_on_different_questions_keep_both(app, make):
    official, colleague = make.user("official"), make.user("official")
    chair = make.user(name="Olle Ordförande")
    org = make.organisation(admin=chair, name="Föreningen Gemenskap")
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
    q1, q2 = round_.questions
    a, b = english(app.test_client()), english(app.test_client())
    Auth(a).login(official)
    Auth(b).login(colleague)
    url = f"/consultations/{round_.id}/feedback"
    form_a, form_b = form_fields(text(a.get(url))), form_fields(text(b.get(url)))
    form_a.update({f"heard-{q1.id}": "Vi hörde om kvällar", f"action-{q1.id}": "Kvällsöppet"})
    form_b.update({f"heard-{q2.id}": "Föreningar vill driva", f"action-{q2.id}": "Vi utreder"})
    assert a.post(url, data=form_a).status_code == 302
    assert b.post(url, data=form_b).status_code == 302
    stored = {
        f.question_id: (f.heard, f.action)
        for f in _db.session.scalars(select(ConsultationFeedback))
    }
    assert stored == {
        q1.id: ("Vi hörde om kvällar", "Kvällsöppet"),
        q2.id: ("Föreningar vill driva", "Vi utreder"),
    }
    # both changing the same text: the second is shown the first's, and nothing is lost
    form_a, form_b = form_fields(text(a.get(url))), form_fields(text(b.get(url)))
    form_a[f"heard-{q1.id}"] = "Kvällar & helger"
    form_b[f"heard-{q1.id}"] = "Kvällar, enligt alla"
    assert a.post(url, data=form_a).status_code == 302
    clash = b.post(url, data=form_b)
    assert clash.status_code == 409
    page = text(clash)
    assert ">Kvällar, enligt alla</textarea>" in page and "Kvällar &amp; helger" in page
    _db.session.expire_all()
    assert (
        _db.session.scalar(
            select(ConsultationFeedback.heard).where(ConsultationFeedback.question_id == q1.id)
        )
        == "Kvällar & helger"
    )


# --- the conflict page names the conflicting boxes, as other refused forms do ---------------


def error_summary(page: str) -> tuple[str, list[tuple[str, str]]]:
    """The summary's opening tag and its links (target, words), or fail if there is none."""
    found = re.search(r'(<div class="error-summary"[^>]*>)(.*?)</div>', page, re.S)
    assert found, "no error summary"
    links = [
        (href, " ".join(re.sub(r"<[^>]+>", " ", words).split()))
        for href, words in re.findall(r'<a href="(#[^"]+)">(.*?)</a>', found[2], re.S)
    ]
    return found[1], links


def title(page: str) -> str:
    return html.unescape(re.search(r"<title>([^<]*)</title>", page)[1])


@pytest.mark.parametrize(
    ("lang", "error", "changed", "heard", "drawn"),
    [
        (
            "en",
            "Error: ",
            "changed by someone else after you opened the form",
            "What we heard",
            "Draws on the responses of",
        ),
        (
            "sv",
            "Fel: ",
            "ändrad av någon annan efter att du öppnade formuläret",
            "Vad vi har hört",
            "Bygger på svaren från",
        ),
    ],
)
def test_a_conflict_page_has_an_error_summary_linking_to_the_box(
    app, make, lang, error, changed, heard, drawn
):
    official, colleague = make.user("official"), make.user("official")
    chair = make.user(name="Olle Ordförande")
    anna, bo = make.user(name="Anna Aktiv"), make.user(name="Bo Bidrag")
    org = make.organisation(admin=chair, members=[anna, bo], name="Föreningen Gemenskap")
    other_chair = make.user(name="Stina Styrelse")
    other = make.organisation(admin=other_chair, name="Andra Föreningen")
    round_ = make_round(app, make, official, "open")
    q1, q2 = round_.questions
    clients = []
    for person in (anna, bo, official, colleague):
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
        Auth(client).login(person)
        clients.append(client)
    a, b, o1, o2 = clients
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    post = f"/consultations/{round_.id}/response"
    base = {"organisation_id": org.id, "action": "save"}
    form_a, form_b = form_fields(text(a.get(url))), form_fields(text(b.get(url)))
    assert "error-summary" not in text(a.get(url))
    form_a[f"answer-{q2.id}"] = "Anna"
    form_b[f"answer-{q2.id}"] = "Bo"
    assert a.post(post, data={**base, **form_a}).status_code == 302
    clash = b.post(post, data={**base, **form_b})
    assert clash.status_code == 409
    page = text(clash)
    opening, links = error_summary(page)
    assert 'role="alert"' in opening and 'tabindex="-1"' in opening
    assert links == [(f"#answer-{q2.id}", f"2. {q2.text}: {changed}")]
    assert f'<textarea id="answer-{q2.id}"' in page
    assert title(page).startswith(error) and round_.title in title(page)
    # the message is in the summary, not again in a status message beside it
    assert '<div class="flashes"' not in page
    # the feedback form: a text and the responses drawn on, each its own link
    respond(app, chair, round_, org)
    respond(app, other_chair, round_, other)
    with app.test_request_context():
        service.close_round(official, round_.id)
    url = f"/consultations/{round_.id}/feedback"
    first, second = text(o1.get(url)), text(o2.get(url))
    assert "error-summary" not in first
    one, two = re.findall(rf'name="sources-{q1.id}" value="(\d+)"', first)
    form_1, form_2 = form_fields(first), form_fields(second)
    form_1.update({f"heard-{q1.id}": "Kvällar", f"sources-{q1.id}": [one]})
    form_2.update({f"heard-{q1.id}": "Helger", f"sources-{q1.id}": [two]})
    assert o1.post(url, data={"action": "save", **form_1}).status_code == 302
    clash = o2.post(url, data={"action": "save", **form_2})
    assert clash.status_code == 409
    page = text(clash)
    _opening, links = error_summary(page)
    assert links == [
        (f"#heard-{q1.id}", f"1. {q1.text} – {heard}: {changed}"),
        (f"#sources-{q1.id}", f"1. {q1.text} – {drawn}: {changed}"),
    ]
    assert f'<textarea id="heard-{q1.id}"' in page
    assert f'<fieldset id="sources-{q1.id}"' in page
    assert title(page).startswith(error)


def test_an_answer_refused_as_too_long_is_in_the_error_summary(app, client, make):
    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    org = make.organisation(admin=chair, name="Föreningen Gemenskap")
    round_ = make_round(app, make, official, "open")
    english(client)
    Auth(client).login(chair)
    q1, _q2 = round_.questions
    refused = client.post(
        f"/consultations/{round_.id}/response",
        data={"organisation_id": org.id, f"answer-{q1.id}": "x" * 9000, "action": "save"},
    )
    assert refused.status_code == 400
    page = text(refused)
    _opening, links = error_summary(page)
    assert links == [
        (f"#answer-{q1.id}", f"1. {q1.text}: An answer can be at most 8000 characters.")
    ]
    assert title(page).startswith("Error: ")
    assert page.count("An answer can be at most") == 2  # the summary and the box, no flash
