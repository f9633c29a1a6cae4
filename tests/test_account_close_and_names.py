"""What a review of accounts found: closing an account left the person's name in others'
notices of what they did ("Mira Medlem saved a draft…"); a blank password on "Close
account" was a wrong guess that counted towards locking the person out; the page after
closing ignored the language the person had chosen; a name with a full stop added passed
for an official's; and a new account could take the name closed accounts are shown under."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

PASSWORD = "correct horse battery"


def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def field_errors(page: str) -> list[str]:
    return [e.strip() for e in re.findall(r'<p class="error" id="[^"]*">(.*?)</p>', page, re.S)]


# --- closing an account leaves the person's name in others' notifications -----------------


def test_closing_an_account_removes_its_name_from_others_draft_notices(app, make, db, client):
    from consultation_support import consultation_people, make_round, respond

    from forum.models import Notification
    from forum.services import privacy

    official, chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    respond(app, member, round_, org, submit=False)  # the chair is told "Mira Medlem saved a draft"
    notes = db.session.scalars(select(Notification).where(Notification.user_id == chair.id)).all()
    assert any("Mira Medlem" in n.excerpt for n in notes)  # precondition
    with app.test_request_context():
        privacy.close_account(member, member.id, PASSWORD, "127.0.0.1")
    db.session.expire_all()
    excerpts = [
        n.excerpt
        for n in db.session.scalars(select(Notification).where(Notification.user_id == chair.id))
    ]
    assert not any("Mira Medlem" in e for e in excerpts), excerpts


# --- display names that pass for someone else -----------------------------------------------


def test_an_officials_name_with_a_trailing_full_stop_is_refused(client, make, db):
    make.user("official", name="Tove Tjänsteperson")
    en(client)
    page = client.post(
        "/register",
        data={"email": "x@example.se", "display_name": "Tove Tjänsteperson.", "password": PASSWORD},
    )
    assert page.status_code == 400, "registered as 'Tove Tjänsteperson.' beside the official"


def test_a_closed_accounts_pseudonym_cannot_be_taken_as_a_name(client, app, make, db):
    from forum.services import privacy

    gone = make.user()
    with app.test_request_context():
        privacy.close_account(gone, gone.id, PASSWORD, "127.0.0.1")
    en(client)
    page = client.post(
        "/register",
        data={
            "email": "y@example.se",
            "display_name": f"Före detta användare {gone.id}",
            "password": PASSWORD,
        },
    )
    assert page.status_code == 400, "a new account took the closed account's pseudonym"


# --- the language a closed account's person chose ----------------------------------------


def test_closing_the_account_answers_in_the_language_the_person_chose(client, make, db, auth):
    person = make.user()
    person.locale = "sv"
    db.session.commit()
    en(client)  # an English phone; the person chose Swedish in the settings
    auth.login(person)
    done = client.post("/settings/close", data={"password": PASSWORD}, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "Ditt konto är avslutat" in page, re.findall(r"<html[^>]*>", page)


# --- a blank confirmation password --------------------------------------------------------


def test_closing_with_a_blank_password_asks_for_it_and_is_not_a_failed_guess(client, make, auth):
    person = make.user()
    en(client)
    auth.login(person)
    blank = client.post("/settings/close", data={"password": ""})
    assert blank.status_code == 400
    assert "Enter your password" in " ".join(field_errors(blank.get_data(as_text=True))), (
        field_errors(blank.get_data(as_text=True))
    )


def test_blank_close_presses_do_not_lock_the_person_out_of_changing_their_password(
    client, make, auth
):
    person = make.user()
    en(client)
    auth.login(person)
    for _ in range(6):  # an empty box sent a few times (Enter pressed by mistake on a phone)
        client.post("/settings/close", data={"password": ""})
    changed = client.post(
        "/settings/password",
        data={"current_password": PASSWORD, "new_password": "purple elephant umbrella"},
    )
    assert changed.status_code == 303, field_errors(changed.get_data(as_text=True))


@pytest.mark.parametrize("name", ["Tove Tjänstepersonen", "Anna-Karin Tjänsteperson"])
def test_names_that_differ_in_letters_stay_free(client, make, name):
    """Only punctuation and symbols are set aside: another name is another name."""
    make.user("official", name="Tove Tjänsteperson")
    en(client)
    page = client.post(
        "/register", data={"email": "z@example.se", "display_name": name, "password": PASSWORD}
    )
    assert page.status_code == 303, field_errors(page.get_data(as_text=True))
