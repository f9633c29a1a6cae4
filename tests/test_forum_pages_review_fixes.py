"""What a review of the forum pages and the admin page found: an ordinary forum titled
"Tidigt samråd" took the consultation forum's slug (nobody could start a thread in it, and
the rounds' discussion threads went into it); a text with a NUL was refused with the
field's code name ("title innehåller ett NUL-tecken"); the consultation forum told visitors
to log in to start a thread nobody may start; and an overlong new department name was
marked on the department list, not on the box that held it."""

from __future__ import annotations

import re

import pytest
from consultation_support import make_round
from sqlalchemy import select

from forum import policy
from forum.models import Forum, Thread


def text(response) -> str:
    return response.get_data(as_text=True)


def commitments(make) -> list[str]:
    return [str(i) for i in make.commitment_ids(1)]


def test_a_forum_titled_tidigt_samrad_gets_a_slug_of_its_own(client, make, auth, db):
    official = make.user("official")
    auth.login(official)
    response = client.post(
        "/forums/new",
        data={"title": "Tidigt samråd", "description": "", "visibility": "invite",
              "commitments": commitments(make)},
    )  # fmt: skip
    assert response.status_code == 302
    forum = db.session.scalar(select(Forum).where(Forum.title == "Tidigt samråd"))
    assert forum.slug != policy.CONSULTATION_FORUM_SLUG
    started = client.post(
        f"/forums/{forum.slug}",
        data={"title": "Första tråden", "body": "Hej", "commitments": commitments(make)},
    )
    assert started.status_code == 302  # its owner may start a thread in it


def test_the_first_rounds_thread_goes_into_the_consultation_forum(app, make, db):
    make.forum(owner=make.user("official"), title="Tidigt samråd", visibility="invite")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, make.user("official"), state="open")
    forum = db.session.get(Thread, round_.thread_id).forum
    assert forum.slug == policy.CONSULTATION_FORUM_SLUG
    assert forum.created_by_id is None and forum.visibility.value == "public"


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize(
    ("where", "data", "code"),
    [
        ("new", {"title": "Bra\x00titel", "description": "", "visibility": "public"}, "title"),
        ("new", {"title": "Bra", "description": "a\x00b", "visibility": "public"}, "description"),
        ("thread", {"title": "Tråd", "body": "a\x00b"}, "body"),
    ],
)
def test_a_nul_is_refused_in_the_readers_words(client, make, auth, where, data, code, lang):
    if where == "new":
        auth.login(make.user("official"))
        url = "/forums/new"
    else:
        auth.login(make.user())
        url = f"/forums/{make.forum().slug}"
    response = client.post(
        url, data={**data, "commitments": commitments(make)}, headers={"Accept-Language": lang}
    )
    assert response.status_code == 400
    page = text(response)
    expected = "Texten innehåller ett NUL-tecken" if lang == "sv" else "The text contains a NUL"
    assert expected in page
    assert f"{code} innehåller" not in page and f"{code} contains" not in page


def test_visitors_are_not_asked_to_log_in_to_start_a_thread_where_nobody_can(app, client, make):
    make.organisation(admin=make.user())
    make_round(app, make, make.user("official"), state="open")
    page = text(client.get(f"/forums/{policy.CONSULTATION_FORUM_SLUG}"))
    assert "Logga in för att starta en tråd" not in page
    other = text(client.get(f"/forums/{make.forum().slug}"))
    assert "Logga in för att starta en tråd" in other  # an ordinary forum still asks


def test_an_overlong_new_department_name_is_marked_on_its_own_box(client, make, auth):
    auth.login(make.user("admin"))
    target = make.user(name="Tove Test")
    response = client.post(
        f"/admin/users/{target.id}/roles/grant",
        data={"q": "Tove", "role": "official", "department_id": "", "department_name": "X" * 201},
    )
    page = text(response)
    assert response.status_code == 400 and "Högst 200 tecken." in page
    box = re.search(rf'<input[^>]*id="department-name-{target.id}"[^>]*>', page).group(0)
    assert (
        'aria-invalid="true"' in box
        and f'aria-describedby="department-name-{target.id}-error"' in box
    )
    assert "X" * 201 in box  # what was typed stays
    listing = re.search(rf'<select[^>]*id="department-{target.id}"[^>]*>', page).group(0)
    assert "aria-invalid" not in listing


def test_the_people_page_offers_no_remove_for_the_owner_of_an_invite_only_forum(client, make, auth):
    """Its Remove was always refused ("the forum's owner stays one of its members")."""
    owner, guest = make.user("official", name="Olga Owner"), make.user(name="Gustav Guest")
    forum = make.forum(owner=owner, visibility="invite", members=[guest])
    auth.login(owner)
    page = text(client.get(f"/forums/{forum.slug}/people", headers={"Accept-Language": "en"}))
    removable = re.findall(
        r'name="email" value="([^"]+)">\s*<input type="hidden" name="role" value="member">\s*<input type="hidden" name="action" value="remove"',
        page,
    )
    assert guest.email in removable and owner.email not in removable
    assert "the forum&#39;s owner" in page or "the forum's owner" in page
