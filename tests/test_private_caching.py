"""Pages and downloads for a logged-in person are not kept by the browser (or a proxy).

On a shared computer the back button, or the browser's cache, showed the last person's
notifications, settings, invite-only threads and personal data export after they logged
out. Every answer to a logged-in person now says `Cache-Control: private, no-store`, unless
the answer set its own; a visitor's public pages stay as cacheable as they were.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from support import Auth

from forum.models import OutboxMail

PRIVATE = "private, no-store"


@pytest.fixture
def world(app, make):
    owner = make.user("official")
    member = make.user()
    invite = make.forum(owner=owner, visibility="invite", members=[member])
    secret = make.thread(invite, author=member)
    make.message(secret, member, "bara för inbjudna")
    public = make.thread(make.forum(owner=owner), author=owner)
    make.message(public, owner, "för alla")
    return {"member": member, "secret": secret, "public": public, "forum": public.forum}


def member_client(app, world):
    client = app.test_client()
    Auth(client).login(world["member"])
    return client


LOGGED_IN_PAGES = [
    "/notifications",
    "/settings",
    "/settings/tokens",
    "/threads/{secret}",
    "/threads/{public}",
    "/forums",
    "/forums/{forum}",
    "/",
    "/integritet",
]


@pytest.mark.parametrize("path", LOGGED_IN_PAGES)
def test_a_logged_in_persons_pages_are_not_stored(app, world, path):
    client = member_client(app, world)
    url = path.format(
        secret=world["secret"].id, public=world["public"].id, forum=world["forum"].slug
    )
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.headers["Cache-Control"] == PRIVATE


@pytest.mark.parametrize("path", ["/", "/forums", "/forums/{forum}", "/threads/{public}"])
def test_a_visitors_public_pages_stay_cacheable(app, world, path):
    url = path.format(public=world["public"].id, forum=world["forum"].slug)
    response = app.test_client().get(url)
    assert response.status_code == 200
    assert "no-store" not in (response.headers.get("Cache-Control") or "")


def test_after_logging_out_the_pages_are_a_visitors_again(app, world):
    client = member_client(app, world)
    assert client.get("/forums").headers["Cache-Control"] == PRIVATE
    client.post("/logout")
    assert "no-store" not in (client.get("/forums").headers.get("Cache-Control") or "")


def test_a_redirect_to_the_login_page_is_not_stored_either_way(app, world):
    """A visitor asking for a private page gets the redirect; nothing private is in it."""
    response = app.test_client().get("/notifications")
    assert response.status_code == 302


def test_the_personal_data_export_is_not_stored(app, world, db):
    from forum.services import exports

    client = member_client(app, world)
    assert client.post("/integritet/export").status_code == 303
    with app.test_request_context():
        exports.run_pending_exports()
    mail = db.session.scalar(
        select(OutboxMail).where(OutboxMail.to_address == world["member"].email)
    )
    link = re.search(r"http://localhost(/integritet/export/\S+)", mail.body).group(1)
    response = client.get(link)
    response.close()
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == PRIVATE
    assert "ETag" not in response.headers and "Last-Modified" not in response.headers


def test_static_files_keep_their_own_caching_for_a_logged_in_person(app, world):
    client = member_client(app, world)
    visitor = app.test_client().get("/static/js/live.js")
    mine = client.get("/static/js/live.js")
    assert mine.status_code == 200
    assert mine.headers.get("Cache-Control") == visitor.headers.get("Cache-Control")
    assert "no-store" not in (mine.headers.get("Cache-Control") or "")
    visitor.close()
    mine.close()
