"""The one `next` guard: every view that honours `next` accepts only a path on this site."""

from __future__ import annotations

import pytest

from forum.web.navigation import safe_next

UNSAFE = [
    "",
    None,
    "//evil.example/",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example/path",
    "/\x7f/evil.example",
]


@pytest.mark.parametrize("target", UNSAFE)
def test_safe_next_refuses_anything_but_a_local_path(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/forums", "/forums?page=2", "/threads/3#m4"])
def test_safe_next_keeps_a_local_path(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example"])
def test_language_choice_never_redirects_off_site(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.status_code == 302
    assert response.location == "/"


def test_language_choice_returns_to_the_page(client):
    response = client.post("/language", data={"lang": "en", "next": "/forums?x=1"})
    assert response.location == "/forums?x=1"


def test_lifting_a_mute_ignores_an_unsafe_next(app, client, make, auth):
    from forum.services import moderation

    moderator = make.user("moderator")
    member = make.user()
    forum = make.forum()
    with app.test_request_context():
        first = moderation.mute_person(moderator, member.id, forum.id, 60, "Test")
    auth.login(moderator)
    response = client.post(
        f"/moderation/actions/{first.id}/lift", data={"next": "/\t/evil.example"}
    )
    assert response.status_code == 302
    assert response.location == "/moderation/people"
    with app.test_request_context():
        second = moderation.mute_person(moderator, member.id, forum.id, 60, "Test")
    response = client.post(f"/moderation/actions/{second.id}/lift", data={"next": "/moderation"})
    assert response.location == "/moderation"
