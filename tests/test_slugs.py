"""Slugs of pages addressed by name never take a word the site's routes use there."""

from __future__ import annotations

import pytest

from forum.services.slugs import free_slug, reaches_its_page


@pytest.mark.parametrize(
    ("endpoint", "slug", "reaches"),
    [
        ("organisations.show", "new", False),
        ("organisations.show", "new-2", True),
        ("organisations.show", "newcastle", True),
        ("forums.forum", "new", False),
        ("forums.forum", "nyheter", True),
    ],
)
def test_a_slug_that_is_a_route_word_does_not_reach_its_page(app, endpoint, slug, reaches):
    assert reaches_its_page(endpoint, slug) is reaches


def test_free_slug_skips_taken_slugs_and_route_words(app):
    assert free_slug("new", "organisations.show", {"new-2"}.__contains__) == "new-3"
    assert free_slug("gemenskap", "organisations.show", set().__contains__) == "gemenskap"


def test_a_forum_called_new_gets_a_page_of_its_own(client, make):
    """/forums/new is the form to open a forum: a forum called "New" gets "new-2"."""
    forum = make.forum(title="New")
    assert forum.slug == "new-2"
    page = client.get(f"/forums/{forum.slug}")
    assert page.status_code == 200
    assert '<h1 dir="auto">New</h1>' in page.get_data(as_text=True)
