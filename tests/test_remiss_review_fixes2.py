"""Fixes from the second remiss review: an answer the browser allowed is not refused for its
line breaks; an open round's responders are not public on the organisation's page; a declined
response is not called a draft; overlong feedback points at its box; a corrected question is
checked as a new one; the round page has words for a changed round; a colleague's save just
before a confirmed submit, or in a draft round's edit form, is not overwritten unseen."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from consultation_support import consultation_people, english, in_english, make_round, respond
from sqlalchemy import select
from support import Auth, at_once

from forum.errors import Invalid
from forum.extensions import db
from forum.models import ConsultationAnswer, ConsultationResponse, ConsultationRound, User
from forum.services import consultations as service
from forum.web import consultations as web


@pytest.fixture(autouse=True)
def _english(client):
    english(client)


@pytest.fixture
def people(make):
    """(official, the organisation's admin, a member, the organisation)."""
    return consultation_people(make)


def text(response) -> str:
    return response.get_data(as_text=True)


def error_summary_links(page: str) -> list[tuple[str, str]]:
    """The error summary's links (target, words); fails if the page has no summary."""
    found = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', page, re.S)
    assert found, "no error summary"
    return [
        (href, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", words)).split()))
        for href, words in re.findall(r'<a href="(#[^"]+)">(.*?)</a>', found[1], re.S)
    ]


# --- 1. line breaks count as the browser counts them ---------------------------------------


def test_an_answer_the_browser_allowed_is_saved_although_it_sends_line_breaks_as_cr_lf(
    client, auth, app, make, people
):
    """An answer of 8,000 characters as the box counts them (a line break is one) arrives as
    8,080 with CR LF line breaks: it was refused as too long, after the box had let the
    member type it; it is saved, with LF line breaks."""
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    auth.login(chair)
    qid = round_.questions[0].id
    typed = ("a" * 99 + "\n") * 80
    assert len(typed) == service.MAX_ANSWER
    saved = client.post(
        f"/consultations/{round_.id}/response",
        data={
            "organisation_id": org.id,
            f"answer-{qid}": typed.replace("\n", "\r\n"),
            "action": "save",
        },
    )
    assert saved.status_code == 302
    body = db.session.scalar(select(ConsultationAnswer.body))
    assert body == typed.strip()
    assert "\r" not in body


def test_an_answer_over_the_limit_after_its_line_breaks_are_counted_once_is_refused(
    app, make, people
):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    qid = round_.questions[0].id
    with in_english(app), pytest.raises(Invalid) as refused:
        service.save_response(chair, round_.id, org.id, {qid: "a\r\n" * 4000 + "a"})
    assert refused.value.field == f"answer-{qid}"


def test_a_corrected_question_note_is_counted_with_lf_line_breaks_and_stored_so(app, make, people):
    """A question's guidance corrected on an open round: CR LF line breaks (as the browser
    sends them) were stored as they came and counted twice against the 2,000 characters."""
    official, *_ = people
    round_ = make_round(app, make, official, "open")
    question = round_.questions[0]
    note = ("b" * 49 + "\n") * 40  # 2,000 characters as the box counts them
    with app.test_request_context():
        service.revise_text(
            official, round_.id, f"guidance-{question.id}", note.replace("\n", "\r\n"), "Bättre"
        )
    db.session.expire_all()
    assert db.session.get(ConsultationRound, round_.id).questions[0].guidance == note.strip()


# --- 2. who answered an open round --------------------------------------------------------


def test_an_open_rounds_responder_is_listed_on_the_organisation_page_for_its_members_only(
    client, app, make, people
):
    """Who has responded is withheld until the round closes (the round's page, the remiss
    list, the exports and the API): the organisation's public page listed the open round with
    'our response: version 1' to any visitor."""
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open", title="Hemlig runda om lokaler")
    respond(app, chair, round_, org)
    page = text(client.get(f"/organisations/{org.slug}"))
    assert "Hemlig runda om lokaler" not in page
    outsider = english(app.test_client())
    Auth(outsider).login(make.user(name="Otto Utomstående"))
    assert "Hemlig runda om lokaler" not in text(outsider.get(f"/organisations/{org.slug}"))

    Auth(client).login(member)
    own = text(client.get(f"/organisations/{org.slug}"))
    assert "Hemlig runda om lokaler" in own
    assert "Only our members see this until the round closes." in own
    assert "Waiting for the city's feedback." not in html.unescape(own)

    with app.test_request_context():
        service.close_round(official, round_.id)
    Auth(client).logout()
    closed = text(client.get(f"/organisations/{org.slug}"))
    assert "Hemlig runda om lokaler" in closed
    assert "Waiting for the city's feedback." in html.unescape(closed)


# --- 3. a declined response -----------------------------------------------------------------


def test_a_declined_response_is_shown_to_every_member_as_declined_with_its_reason(
    client, auth, app, make, people
):
    """After the admin declined, the members were told a draft waited to be submitted."""
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    with app.test_request_context():
        service.decline(chair, round_.id, org.id, "Vi har inte resurser just nu.")
    auth.login(member)
    page = text(client.get(f"/consultations/{round_.id}"))
    assert "draft, not submitted" not in page
    assert "declined to answer: Vi har inte resurser just nu." in page
    own = text(client.get(f"/consultations/{round_.id}/response?organisation={org.id}"))
    assert "A draft is saved. It is not submitted." not in own
    status = re.search(r'<p class="status" id="response-status">(.*?)</p>', own, re.S)[1]
    assert "Your organisation has declined to answer:" in status
    assert "Vi har inte resurser just nu." in status


# --- 4. overlong feedback -------------------------------------------------------------------


def test_overlong_feedback_is_marked_on_its_box_and_linked_from_the_error_summary(
    client, auth, app, make, people
):
    """Feedback over 10,000 characters on question 2 was only flashed ('At most 10000
    characters.'): the official had to find the box among six."""
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        service.close_round(official, round_.id)
    q1, q2 = round_.questions
    auth.login(official)
    long = "x" * (service.MAX_FEEDBACK + 1)
    refused = client.post(
        f"/consultations/{round_.id}/feedback",
        data={f"heard-{q1.id}": "Kort.", f"heard-{q2.id}": long, "action": "save"},
    )
    assert refused.status_code == 400
    page = text(refused)
    assert long in page  # kept
    assert error_summary_links(page) == [
        (f"#heard-{q2.id}", f"2. {q2.text} – What we heard: At most 10000 characters.")
    ]
    box = re.search(rf'<textarea id="heard-{q2.id}"[^>]*>', page)[0]
    assert 'aria-invalid="true"' in box
    assert f'aria-describedby="heard-{q2.id}-error"' in box
    assert f'<p class="error" id="heard-{q2.id}-error">At most 10000 characters.</p>' in page
    assert page.count("At most 10000 characters.") == 2  # the summary and the box, no flash
    assert "<title>Error: " in page


# --- 5. a corrected question is checked as a new one --------------------------------------


@pytest.mark.parametrize(
    "question",
    ["Vad \u202eabc saknas?", "\u200b", "\u2800 \u200b"],
    ids=["bidi-override", "zero-width-space", "blank-braille"],
)
def test_a_question_is_checked_alike_when_made_and_when_corrected(app, make, people, question):
    """A bidi control reorders the question in every heading and label that shows it, and a
    question of only invisible characters is a blank one: refused when the round is made, but
    a correction of an open round's question took either with only its ends trimmed."""
    official, *_ = people
    with in_english(app), pytest.raises(Invalid) as made:
        make_round(app, make, official, "draft", questions=[(question, "")])
    assert made.value.field == "questions"
    db.session.rollback()
    round_ = make_round(app, make, official, "open")
    asked = round_.questions[0]
    with in_english(app), pytest.raises(Invalid) as corrected:
        service.revise_text(official, round_.id, f"question-{asked.id}", question, "Stavfel")
    assert corrected.value.field == "text"
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(ConsultationRound, round_.id).questions[0].text == asked.text


# --- 6. the live page's words ---------------------------------------------------------------


def test_the_round_page_has_words_for_every_event_the_service_announces(client, app, make, people):
    """The page's script shows and announces each `consultation:updated` event by the words in
    #consultation-strings named after it: a `changed` round (deadline moved, text corrected)
    had none, so an open page said nothing. The events are read from the service, so a new
    one without words fails here."""
    official, *_ = people
    source = Path(service.__file__).read_text(encoding="utf-8")
    events = set(re.findall(r'_announce\(\s*round_,\s*"([a-z]+)"', source))
    assert {"opened", "closed", "changed"} <= events
    round_ = make_round(app, make, official, "open")
    page = text(client.get(f"/consultations/{round_.id}"))
    strings = re.search(r'<template id="consultation-strings"(.*?)></template>', page, re.S)[1]
    for event in sorted(events):
        words = re.search(rf'data-{event}="([^"]*)"', strings)
        assert words and words[1].strip(), event


# --- 7. a colleague's save just before the confirmed submit ---------------------------------


def test_a_colleagues_save_between_the_confirmation_and_the_submit_is_not_overwritten(
    client, auth, app, make, people, monkeypatch
):
    """The admin confirms the draft they were shown; a member's save of question 2 commits
    after the confirmation read the draft and before the submit locked it. The submit wrote
    the older copy back over it and filed that as the version; now nothing is submitted, the
    member's text stays, and the admin is asked to check the draft again."""
    official, chair, member, org = people
    round_ = make_round(app, make, official, "open")
    q1, q2 = round_.questions
    with app.test_request_context():
        service.save_response(chair, round_.id, org.id, {q1.id: "Svar ett", q2.id: "Gammalt"})
    auth.login(chair)
    url = f"/consultations/{round_.id}/response/submit?organisation={org.id}"
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', text(client.get(url)))[1]
    real = service.save_response
    member_id = member.id

    def colleague_saves(_i):
        real(
            db.session.get(User, member_id),
            round_.id,
            org.id,
            {q2.id: "Mitt nya svar två"},
            loaded={q2.id: service.text_digest("Gammalt")},
        )

    def racing(*args, **kwargs):
        if kwargs.get("submit"):
            assert at_once(app, colleague_saves, 1) == [None]
        return real(*args, **kwargs)

    monkeypatch.setattr(web.service, "save_response", racing)
    refused = client.post(url, data={"organisation_id": org.id, "fingerprint": fingerprint})
    assert refused.status_code == 302
    assert refused.location.endswith(url.split("/consultations")[1])
    db.session.expire_all()
    response = db.session.scalar(select(ConsultationResponse))
    assert {a.question_id: a.body for a in response.answers} == {
        q1.id: "Svar ett",
        q2.id: "Mitt nya svar två",
    }
    assert response.version_count == 0
    monkeypatch.undo()
    again = text(client.get(url))
    assert "The draft changed after you were asked. Check it and confirm again." in again
    assert "Mitt nya svar två" in again


def test_a_confirmed_submit_of_an_unchanged_draft_still_files_it(client, auth, app, make, people):
    official, chair, _member, org = people
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, submit=False)
    auth.login(chair)
    url = f"/consultations/{round_.id}/response/submit?organisation={org.id}"
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', text(client.get(url)))[1]
    client.post(url, data={"organisation_id": org.id, "fingerprint": fingerprint})
    db.session.expire_all()
    assert db.session.scalar(select(ConsultationResponse.version_count)) == 1


# --- 8. two officials editing one draft round -----------------------------------------------


def edit_form(page: str) -> dict[str, object]:
    """What the browser sends back from the draft round's edit form, unchanged."""
    data: dict[str, object] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or name[1] == "csrf_token":
            continue
        value_text = html.unescape(value[1]) if value else ""
        if 'type="checkbox"' in tag or 'type="radio"' in tag:
            if " checked" in tag:
                chosen = data.setdefault(name[1], [])
                assert isinstance(chosen, list)
                chosen.append(value_text)
        else:
            data.setdefault(name[1], value_text)
    for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S
    ):
        data[name] = html.unescape(value.removeprefix("\n"))
    return data


@pytest.fixture
def two_officials(app, make, people):
    """A draft round and two clients of its department's officials, each with its edit form
    loaded."""
    official, *_ = people
    colleague = make.user("official")
    round_ = make_round(app, make, official, "draft")
    clients, forms = [], []
    for person in (official, colleague):
        browser = english(app.test_client())
        Auth(browser).login(person)
        clients.append(browser)
        forms.append(edit_form(text(browser.get(f"/consultations/{round_.id}/edit"))))
    return round_, clients, forms


def stored_round(round_id: int) -> ConsultationRound:
    db.session.expire_all()
    return db.session.get(ConsultationRound, round_id)


def test_two_officials_changing_different_fields_of_a_draft_keep_both(two_officials):
    """The second save came from a form loaded before the first and wrote every field of it,
    undoing the colleague's rewritten question without a word."""
    round_, (a, b), (form_a, form_b) = two_officials
    url = f"/consultations/{round_.id}/edit"
    form_a["question-1"] = "Vad saknas i dag för unga mellan 13 och 18?"
    assert a.post(url, data=form_a).status_code == 302
    form_b["title"] = "Mötesplatser för unga 2027"
    assert b.post(url, data=form_b).status_code == 302
    stored = stored_round(round_.id)
    assert stored.title == "Mötesplatser för unga 2027"
    assert [q.text for q in stored.questions] == [
        "Vad saknas i dag för unga mellan 13 och 18?",
        "Vem kan driva?",
    ]


def test_questions_a_colleague_added_beyond_the_forms_empty_slots_are_kept(two_officials):
    """The colleague added three questions (saving twice: a form has two empty slots); the
    second official's form from before knows none of them and changes only the title."""
    round_, (a, b), (form_a, form_b) = two_officials
    url = f"/consultations/{round_.id}/edit"
    form_a["question-3"], form_a["question-4"] = "Tredje?", "Fjärde?"
    assert a.post(url, data=form_a).status_code == 302
    again = edit_form(text(a.get(url)))
    again["question-5"] = "Femte?"
    assert a.post(url, data=again).status_code == 302
    form_b["title"] = "Mötesplatser för unga 2027"
    assert b.post(url, data=form_b).status_code == 302
    stored = stored_round(round_.id)
    assert stored.title == "Mötesplatser för unga 2027"
    assert [q.text for q in stored.questions][2:] == ["Tredje?", "Fjärde?", "Femte?"]


def test_two_officials_changing_the_same_question_is_a_conflict_that_keeps_both(two_officials):
    round_, (a, b), (form_a, form_b) = two_officials
    url = f"/consultations/{round_.id}/edit"
    form_a["question-1"] = "Vad saknas för unga?"
    assert a.post(url, data=form_a).status_code == 302
    form_b["question-1"] = "Vad saknas för äldre?"
    form_b["title"] = "Mötesplatser 2027"
    clash = b.post(url, data=form_b)
    assert clash.status_code == 409
    page = text(clash)
    box = re.search(r'<textarea id="question-1"[^>]*>([^<]*)</textarea>', page)
    assert 'aria-invalid="true"' in box[0]
    assert box[1] == "Vad saknas för äldre?"  # what B typed, kept
    error = re.search(r'<div class="error" id="question-1-error">(.*?)</div>', page, re.S)[1]
    assert "Vad saknas för unga?" in error  # what A saved, to merge
    assert "Someone else changed this after you opened the form" in page
    stored = stored_round(round_.id)
    assert stored.title == "Mötesplatser för unga"  # nothing of B's post was saved
    assert stored.questions[0].text == "Vad saknas för unga?"
    # saving again is the merge
    resent = edit_form(page)
    assert b.post(url, data=resent).status_code == 302
    stored = stored_round(round_.id)
    assert (stored.title, stored.questions[0].text) == (
        "Mötesplatser 2027",
        "Vad saknas för äldre?",
    )


def test_a_title_both_officials_changed_is_shown_under_the_title(two_officials):
    round_, (a, b), (form_a, form_b) = two_officials
    url = f"/consultations/{round_.id}/edit"
    form_a["title"] = "Mötesplatser A"
    assert a.post(url, data=form_a).status_code == 302
    form_b["title"] = "Mötesplatser B"
    page = text(b.post(url, data=form_b))
    assert error_summary_links(page) == [
        (
            "#title",
            "Title: Someone else changed this after you opened the form. Saved now: Mötesplatser A",
        )
    ]
    assert stored_round(round_.id).title == "Mötesplatser A"


def test_a_choice_both_officials_changed_is_shown_by_its_name(two_officials):
    """The commitments, the audience and the stage conflict as the texts do; the saved choice
    is named as the form names it, not by its id."""
    round_, (a, b), (form_a, form_b) = two_officials
    url = f"/consultations/{round_.id}/edit"
    choices = dict(
        re.findall(
            r'<input[^>]*name="commitments"[^>]*value="(\d+)"[^>]*>\s*<label[^>]*>([^<]+)<',
            text(a.get(url)),
        )
    )
    first, *_rest, last = sorted(choices, key=int)
    form_a["commitments"] = [first]
    assert a.post(url, data=form_a).status_code == 302
    form_b["commitments"] = [last]
    form_b["stage"] = "options"
    page = text(b.post(url, data=form_b))
    error = re.search(r'<p class="error" id="commitments-error">(.*?)</p>', page, re.S)[1]
    assert html.unescape(error).split("Saved now: ")[1].strip() == html.unescape(choices[first])
    stored = stored_round(round_.id)
    assert ([c.id for c in stored.commitments], stored.stage.value) == ([int(first)], "problem")
