"""The notification centre: every notification the header counts is reachable (pages by id,
an unread-only view) in a fixed number of queries, and a thread the reader may no longer
read is not named by its current title."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum.models import Notification
from forum.services import forums as forum_service
from forum.services import moderation as moderation_service
from forum.services import notifications as notification_service


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def notify(app, db, person, count: int) -> list[int]:
    """`count` notifications for `person`, oldest first; their ids, newest first."""
    with app.test_request_context():
        for i in range(count):
            notification_service.deliver(
                [person], "action_update", f"punkt {i}", f"/actions/{i}", actor=None
            )
        db.session.commit()
    return list(
        db.session.scalars(
            select(Notification.id)
            .where(Notification.user_id == person.id)
            .order_by(Notification.id.desc())
        )
    )


def opened(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/notifications/(\d+)/open"', page)]


def link(page: str, name: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)"(?: rel="next")?>{re.escape(name)}</a>', page)
    return match.group(1).replace("&amp;", "&") if match else None


def test_every_notification_the_header_counts_can_be_reached(app, make, db, client, auth):
    """130 notifications, the newest 100 read: the 30 unread ones were past the page's end
    with no way to them while the header said 30."""
    person = make.user()
    ids = notify(app, db, person, 130)
    with app.test_request_context():
        notification_service.mark_read(person, ids[:100])
    auth.login(person)

    seen: list[int] = []
    url: str | None = "/notifications"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += opened(page)
        url = link(page, "Older notifications")
        if url:
            assert link(client.get(url).get_data(as_text=True), "Newest notifications")
    assert seen == ids  # every one, once, newest first

    first = client.get("/notifications").get_data(as_text=True)
    assert "data-notification-count>30<" in first  # the header
    assert len(opened(first)) == 50 and 'class="badge"' not in first
    unread_url = link(first, "Show only the 30 unread notifications")
    assert unread_url == "/notifications?show=unread"
    unread = client.get(unread_url).get_data(as_text=True)
    assert opened(unread) == ids[100:]
    assert unread.count('<span class="badge">New</span>') == 30
    assert link(unread, "Older notifications") is None
    assert link(unread, "Show all notifications") == "/notifications"

    # marking one read from the unread list comes back to the unread list
    response = client.post("/notifications/read", data={"id": ids[100], "show": "unread"})
    assert response.headers["Location"] == "/notifications?show=unread"
    again = client.get("/notifications?show=unread").get_data(as_text=True)
    assert opened(again) == ids[101:] and "data-notification-count>29<" in again


@pytest.mark.parametrize("raw", ["x", "²", "99999999999999999999", "-1", "0"])
def test_a_page_mark_that_is_no_id_is_a_bad_request(make, client, auth, raw):
    auth.login(make.user())
    assert client.get(f"/notifications?before={raw}").status_code == 400


def test_the_notification_pages_take_the_same_queries_however_many_there_are(
    app, make, db, client, auth, count_queries
):
    person = make.user()
    auth.login(person)
    client.get("/notifications")  # warm up
    counts = []
    for more in (3, 120):
        ids = notify(app, db, person, more)
        counts.append([])
        for url in [
            "/notifications",
            f"/notifications?before={ids[1]}",
            "/notifications?show=unread",
        ]:
            db.session.expire_all()
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts[-1].append(counter.count)
    assert counts[0] == counts[1], counts


def test_a_thread_one_may_no_longer_read_is_not_named_by_its_new_title(app, make, db, client, auth):
    owner = make.user("official")
    member, stays = make.user(), make.user()
    forum = make.forum(owner=owner, visibility="invite", members=[member, stays])
    thread = make.thread(forum=forum, author=owner, title="Hemlig plan")
    make.message(thread, owner, f"Hej @{member.handle} och @{stays.handle}")
    with app.test_request_context():
        forum_service.change_forum_people(owner, forum, member.email, "member", False)
        moderation_service.rename_thread(make.user("admin"), thread.id, "Nytt hemligt namn")

    auth.login(member)
    for url in ["/notifications", "/"]:
        page = client.get(url).get_data(as_text=True)
        assert "Nytt hemligt namn" not in page, url
        assert "a thread you can no longer read" in page, url
    auth.login(stays)
    for url in ["/notifications", "/"]:
        assert "Nytt hemligt namn" in client.get(url).get_data(as_text=True), url


def test_response_notifications_name_their_round_and_mark_the_language_of_their_excerpt(
    app, make, db, client, auth
):
    """A response's notifications had no thread, so the page said 'in “”'; the excerpt the
    app wrote in the recipient's stored language (Swedish for one who follows the browser)
    carried no lang on an English page."""
    from consultation_support import make_round, respond

    official = make.user("official")
    chair, member = make.user(), make.user(name="Mira Medlem")
    org = make.organisation(admin=chair, members=[member])
    round_ = make_round(app, make, official, "open", title="Lokaler för föreningslivet")
    respond(app, member, round_, org, submit=False)
    respond(app, chair, round_, org)
    for person, kind in [(chair, "drafted"), (official, "submitted")]:
        auth.login(person)
        page = client.get("/notifications").get_data(as_text=True)
        links = re.findall(r'<a href="/notifications/\d+/open">([^<]*)</a>', page)
        assert "Lokaler för föreningslivet" in links[0], (kind, links)  # the newest
    auth.login(chair)
    page = client.get("/notifications").get_data(as_text=True)
    assert re.search(
        r'<span class="meta" data-stored-text dir="auto" lang="sv">Mira Medlem sparade', page
    )


def _mark_form(page: str, note_id: int) -> dict[str, str]:
    """The fields of the "Mark as read" form of one notice, as the browser sends them."""
    form = re.search(
        rf'<form[^>]*>(?:(?!</form>).)*name="id" value="{note_id}"(?:(?!</form>).)*</form>',
        page,
        re.S,
    ).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


@pytest.mark.parametrize("show", ["", "unread"])
def test_marking_one_read_comes_back_at_the_next_notice(app, make, db, client, auth, show):
    """'Mark as read' came back to the top of the page, focus on the body: a keyboard or
    screen-reader user working down 28 notices tabbed through the header for each."""
    person = make.user()
    newest, middle, oldest = notify(app, db, person, 3)
    auth.login(person)
    url = "/notifications" + ("?show=unread" if show else "")
    page = client.get(url).get_data(as_text=True)
    for note in (newest, middle, oldest):
        assert f'id="note-{note}" tabindex="-1"' in page
    done = client.post("/notifications/read", data=_mark_form(page, newest))
    assert done.headers["Location"].endswith(f"#note-{middle}")
    # the last one: itself in the full list, the one before it in the unread list (it goes)
    page = client.get(url).get_data(as_text=True)
    done = client.post("/notifications/read", data=_mark_form(page, oldest))
    assert done.headers["Location"].endswith(f"#note-{middle if show else oldest}")
    again = client.get(done.headers["Location"].split("#")[0]).get_data(as_text=True)
    assert (f'id="note-{oldest}"' in again) is (not show)


@pytest.mark.parametrize("then", ["x", "-1", "0", "9" * 40, "²"])
def test_a_mark_with_a_place_that_is_no_id_goes_to_the_top(app, make, db, client, auth, then):
    person = make.user()
    note = notify(app, db, person, 1)[0]
    auth.login(person)
    done = client.post("/notifications/read", data={"id": note, "then": then})
    assert done.status_code == 302 and "#" not in done.headers["Location"]
