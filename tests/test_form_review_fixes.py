"""Forms as a phone, keyboard and screen-reader user meets them (a review in Chromium).

1. A wrong password when closing one's account answered with a page that had no password
   box: the settings page comes back, the error at the box (aria-invalid, described by the
   error, linked from a summary that takes focus); a refusal about something else (the
   organisations to hand over first) is said at the top of the same page.
2. The organisation form's button said "Skapa konto" (the header's "Register", create an
   account) to someone already logged in: it says what it does.
3. The registration sent again (a lost answer, a double tap) was refused as "already
   registered", about the organisation the first one had just made: it leads to it.
4. An error summary's link to a group of radio buttons or boxes went to its legend or list,
   so focus stayed on the link: it goes to the group's first option.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from support import PASSWORD, steps_at_once, stored_count
from test_organisations import registration

from forum.models import Organisation, User
from forum.services import organisations


def text(response) -> str:
    return response.get_data(as_text=True)


def the_input(page: str, element_id: str) -> str:
    found = re.search(rf'<input[^>]*id="{element_id}"[^>]*>', page)
    assert found, f"no input #{element_id}"
    return found.group(0)


def test_a_wrong_password_when_closing_is_shown_at_its_box(client, auth, make, db):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    auth.login(make.user(name="Stina Stängare"))
    answer = client.post("/settings/close", data={"password": PASSWORD + "x"})
    page = text(answer)
    assert answer.status_code == 400
    box = the_input(page, "close-password")
    assert 'aria-invalid="true"' in box and 'aria-describedby="close-password-error"' in box
    assert 'id="close-password-error"' in page
    assert re.search(r'class="error-summary" role="alert" tabindex="-1"', page)
    assert 'href="#close-password"' in page
    assert "<h1>Settings</h1>" in page  # the settings page, not a dead end


def test_a_refusal_about_the_organisations_is_said_at_the_top(client, auth, make):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    admin = make.user()
    make.organisation(admin=admin, members=[make.user()], name="Föreningen Kvar")
    auth.login(admin)
    answer = client.post("/settings/close", data={"password": PASSWORD})
    page = text(answer)
    assert answer.status_code == 400
    top = page.index('<div class="error-summary" role="alert" tabindex="-1"><p>')
    assert "Föreningen Kvar" in page[top : page.index("</div>", top)]
    assert 'aria-invalid="true"' not in the_input(page, "close-password")


def test_the_registration_button_says_what_it_does(client, auth, make):
    auth.login(make.user())
    page = text(client.get("/organisations/new"))  # Swedish, the site's language
    assert ">Registrera organisationen</button>" in page
    assert "Skapa konto</button>" not in page


def test_a_registration_sent_again_leads_to_what_the_first_made(client, auth, make, db):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    auth.login(make.user())
    first = client.post("/organisations/new", data=registration())
    again = client.post("/organisations/new", data=registration())
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 1
    # anyone else, or other details, is still refused: the number is taken
    auth.login(make.user())
    assert client.post("/organisations/new", data=registration()).status_code == 400
    auth.login(db.session.get(User, db.session.scalar(select(Organisation)).created_by_id))
    changed = client.post("/organisations/new", data=registration(name="Ett annat namn"))
    assert changed.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 1


def test_a_registration_sent_twice_at_once_makes_one(app, make):
    """A double tap: both requests found nothing made yet, and the second's insert broke the
    number's unique index and answered "already registered". The second now waits for the
    first (the person's row is locked first) and is answered with what it made."""
    person = make.user()
    made: list[int] = []

    def step(user: User) -> None:
        made.append(
            organisations.register_organisation(
                user, "Föreningen Dubbeltryck", "forening", "802456-1238"
            ).id
        )

    assert steps_at_once(app, [step, step], [person.id] * 2) == ["ok", "ok"]
    assert len(made) == 2 and made[0] == made[1]
    assert stored_count(Organisation.name == "Föreningen Dubbeltryck") == 1


def test_a_summary_link_to_a_group_goes_to_its_first_option(client, auth, make):
    auth.login(make.user())
    page = text(client.post("/organisations/new", data=registration(legal_form="")))
    assert 'href="#legal_form-0"' in page
    assert 'id="legal_form-0"' in the_input(page, "legal_form-0")
    forum = make.forum()
    page = text(client.post(f"/forums/{forum.slug}", data={"title": "Utan åtaganden", "body": "x"}))
    assert 'href="#commitments-0"' in page
    the_input(page, "commitments-0")
