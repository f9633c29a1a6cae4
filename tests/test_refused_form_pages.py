"""Refused forms say so where a screen reader starts: the page's title begins "Error:" ("Fel:")
after a refused log-in, registration or settings change, as the response form's did, and
never on the page a success leads to (WCAG 2.4.2). Declining a consultation without a reason
names the box (WCAG 3.3.1): the error summary links to it, the error sits beside it and is
tied to it, and what was typed stays; it used to be a flash, "This field is required.", tied
to nothing."""

from __future__ import annotations

import re

import pytest
from consultation_support import consultation_people, make_round
from support import PASSWORD, Auth
from test_response_typed_kept import _button, press

TITLE = re.compile(r"<title>(.*?)</title>", re.S)
PREFIX = {"sv": "Fel: ", "en": "Error: "}


def speak(client, lang: str):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    return client


def title(response) -> str:
    found = TITLE.search(response.get_data(as_text=True))
    assert found, "no title"
    return " ".join(found.group(1).split())


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_refused_log_in_has_an_error_title_and_a_success_none(client, make, lang):
    speak(client, lang)
    person = make.user(email="titel@example.se")
    plain = title(client.get("/login"))
    assert not plain.startswith(PREFIX[lang])
    refused = client.post("/login", data={"email": person.email, "password": "fel lösenord"})
    assert refused.status_code == 400
    assert title(refused) == PREFIX[lang] + plain
    empty = client.post("/login", data={"email": "", "password": ""})  # the fields' errors
    assert title(empty) == PREFIX[lang] + plain
    done = client.post("/login", data={"email": person.email, "password": PASSWORD})
    assert done.status_code == 303
    home = client.get(done.headers["Location"])
    assert home.status_code == 200
    assert not title(home).startswith(PREFIX[lang])


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_refused_registration_has_an_error_title(client, lang):
    speak(client, lang)
    plain = title(client.get("/register"))
    refused = client.post(
        "/register", data={"email": "inte-en-adress", "display_name": "", "password": "kort"}
    )
    assert refused.status_code == 400
    assert title(refused) == PREFIX[lang] + plain


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_refused_password_change_has_an_error_title_and_a_saved_setting_none(client, make, lang):
    speak(client, lang)
    person = make.user()
    Auth(client).login(person)
    plain = title(client.get("/settings"))
    refused = client.post(
        "/settings/password",
        data={"current_password": "inte mitt lösenord", "new_password": "ett nytt långt lösen"},
    )
    assert refused.status_code == 400
    assert 'aria-invalid="true"' in refused.get_data(as_text=True)
    assert title(refused) == PREFIX[lang] + plain
    saved = client.post(
        "/settings", data={"display_name": "Nytt Namn", "locale": "", "save_settings": "1"}
    )
    assert saved.status_code == 303
    after = client.get("/settings")
    assert "flash-success" in after.get_data(as_text=True)
    assert title(after) == plain


# --- declining a consultation without a reason ------------------------------------------

DECLINE = {
    "sv": ("Skriv varför organisationen avböjer att svara.", "Avböj att svara"),
    "en": ("Write why the organisation declines to respond.", "Decline to answer"),
}


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("reason", ["", "   \n "])
def test_declining_without_a_reason_names_the_box(app, client, make, lang, reason):
    speak(client, lang)
    official, chair, _member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    Auth(client).login(chair)
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    page = client.get(url).get_data(as_text=True)
    plain = title(client.get(url))
    box = f"answer-{round_.questions[0].id}"
    answer = press(
        client,
        url,
        page,
        _button(page, value="decline"),
        **{box: "Skrivet innan", "decline_reason": reason},
    )
    html = answer.get_data(as_text=True)
    message, label = DECLINE[lang]
    assert answer.status_code == 400
    assert title(answer) == PREFIX[lang] + plain
    summary = html.split('class="error-summary"')[1].split("</div>")[0]
    assert f'<a href="#decline_reason">{label}: {message}</a>' in summary
    textarea = re.search(r"<textarea id=\"decline_reason\"[^>]*>", html)
    assert textarea, "no decline box"
    assert 'aria-invalid="true"' in textarea.group(0)
    assert 'aria-describedby="decline_reason-error"' in textarea.group(0)
    assert f'<p class="error" id="decline_reason-error">{message}</p>' in html
    assert "flash-error" not in html  # said once, beside the box and in the summary
    assert ">Skrivet innan</textarea>" in html  # the answer typed stays in its box
    assert html.count('aria-invalid="true"') == 1


def test_a_reason_too_long_comes_back_in_its_box(app, client, make):
    speak(client, "en")
    official, chair, _member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    Auth(client).login(chair)
    url = f"/consultations/{round_.id}/response?organisation={org.id}"
    page = client.get(url).get_data(as_text=True)
    long = "Vi hinner inte. " * 70
    answer = press(client, url, page, _button(page, value="decline"), decline_reason=long)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<a href="#decline_reason">Decline to answer: At most 1000 characters.</a>' in html
    assert long.strip() in html
