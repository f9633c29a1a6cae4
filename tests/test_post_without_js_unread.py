"""Posting without JavaScript, while others write: sending moves the poster's read marker
to their own new message, past what others wrote while they typed. The page after the post
showed those messages with no "New since your last visit", and with more of them than a page
holds the earliest were never shown at all. The composer now carries the newest message its
page showed, and the page after the post starts what is new there: once, from the session
(a reload, or the address bookmarked or shared, is the plain page)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.config import parse_rate_limit
from forum.models import Message
from forum.queries import forums as forum_queries


@pytest.fixture
def scene(make, app, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    person = make.user(name="Tove Test")
    other = make.user(name="Olle Other")
    thread = make.thread(author=person)
    make.message(thread, other, "Före")
    return person, other, thread


def max_id(db, thread) -> int:
    return db.session.scalar(select(func.max(Message.id)).where(Message.thread_id == thread.id))


def _composer(page: str) -> dict[str, str]:
    form = re.search(r'<form[^>]+id="composer-form".*?</form>', page, re.S).group(0)
    return dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))


def _open_and_post(client, thread, text, *, meanwhile=lambda: None):
    fields = _composer(client.get(f"/threads/{thread.id}").get_data(as_text=True))
    meanwhile()
    fields["body"] = text
    return client.post(f"/threads/{thread.id}/messages", data=fields)


def test_what_others_wrote_while_one_typed_is_new_on_the_page_after(scene, make, client, auth, db):
    person, other, thread = scene
    auth.login(person)
    late = []
    response = _open_and_post(
        client,
        thread,
        "Mitt svar",
        meanwhile=lambda: late.append(make.message(thread, other, "Skrivet medan du skrev")),
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.endswith("#first-unread"), location
    page = client.get(location.split("#")[0]).get_data(as_text=True)
    divider = page.index('id="first-unread"')
    assert divider < page.index("Skrivet medan du skrev") < page.index("Mitt svar")
    # seen now: the thread has nothing unread for the poster, and a plain view has no divider
    assert forum_queries.unread_by_thread(person, [thread.id]).get(thread.id, 0) == 0
    assert forum_queries.read_marker(person, thread.id) == max_id(db, thread)
    assert 'id="first-unread"' not in client.get(f"/threads/{thread.id}").get_data(as_text=True)


def test_more_than_a_page_written_meanwhile_is_all_shown(scene, make, client, auth):
    person, other, thread = scene
    auth.login(person)
    written = []

    def many():
        written.extend(make.message(thread, other, f"Under tiden {i}") for i in range(60))

    response = _open_and_post(client, thread, "Mitt svar", meanwhile=many)
    page = client.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    # the first of the sixty is on the page, after the divider: no gap
    assert page.index('id="first-unread"') < page.index(f'id="m{written[0].id}"')
    assert all(f'id="m{m.id}"' in page for m in written)


def test_nothing_written_meanwhile_lands_on_the_own_message(scene, client, auth, db):
    person, other, thread = scene
    auth.login(person)
    response = _open_and_post(client, thread, "Mitt svar")
    new_id = max_id(db, thread)
    assert response.headers["Location"].endswith(f"#m{new_id}")
    assert 'id="first-unread"' not in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_only_own_messages_meanwhile_are_not_new(scene, make, client, auth):
    """Written from another tab: nothing of others' came, so no divider is promised."""
    person, other, thread = scene
    auth.login(person)
    response = _open_and_post(
        client, thread, "Mitt svar", meanwhile=lambda: make.message(thread, person, "Annan flik")
    )
    assert "#m" in response.headers["Location"]


@pytest.mark.parametrize("seen", ["", "x", "-1", "²", "9" * 40, "0"])
def test_a_bad_seen_value_posts_as_before(scene, client, auth, seen):
    person, other, thread = scene
    auth.login(person)
    response = client.post(
        f"/threads/{thread.id}/messages",
        data={"body": f"Hej {seen!r}", "seen": seen, "client_id": f"c{len(seen)}{seen.isdigit()}"},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"].split("#")[0])
    assert page.status_code == 200


@pytest.mark.parametrize("seen", ["x", "-5", "0", "9" * 40, "1"])
def test_a_bad_seen_in_the_link_shows_the_page(scene, client, auth, seen):
    person, other, thread = scene
    auth.login(person)
    page = client.get(f"/threads/{thread.id}?seen={seen}")
    assert page.status_code == 200
    assert "Före" in page.get_data(as_text=True)


def test_an_empty_thread_says_seen_zero(make, client, auth, app):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    person = make.user(name="Tove Test")
    other = make.user(name="Olle Other")
    thread = make.thread(author=person)
    auth.login(person)
    fields = _composer(client.get(f"/threads/{thread.id}").get_data(as_text=True))
    assert fields["seen"] == "0"
    make.message(thread, other, "Först")
    fields["body"] = "Tvåa"
    response = client.post(f"/threads/{thread.id}/messages", data=fields)
    assert response.headers["Location"].endswith("#first-unread")


# --- the landing is one-shot: it was `?seen=<n>` in the address, so reloading the page (or
# opening it again from the history, a bookmark or a shared link) marked the same messages
# new again. What the page starts from now waits in the session for the thread's next page.


def _post_while_others_write(client, make, thread, person, other, text="Mitt svar"):
    late = []
    response = _open_and_post(
        client, thread, text, meanwhile=lambda: late.append(make.message(thread, other, "Under"))
    )
    return response, late


def test_the_landing_address_is_the_plain_thread(scene, make, client, auth):
    person, other, thread = scene
    auth.login(person)
    response, _late = _post_while_others_write(client, make, thread, person, other)
    assert response.headers["Location"] == f"/threads/{thread.id}#first-unread"


def test_a_reload_of_the_landing_marks_nothing_new_again(scene, make, client, auth):
    person, other, thread = scene
    auth.login(person)
    response, late = _post_while_others_write(client, make, thread, person, other)
    landing = response.headers["Location"].split("#")[0]
    page = client.get(landing).get_data(as_text=True)
    assert page.index('id="first-unread"') < page.index(f'id="m{late[0].id}"')
    again = client.get(landing).get_data(as_text=True)
    assert 'id="first-unread"' not in again
    assert f'id="m{late[0].id}"' in again


def test_an_old_seen_link_marks_nothing_new_again(scene, make, client, auth, db):
    """An address with ?seen= from before (in a history or a bookmark) is the plain page."""
    person, other, thread = scene
    auth.login(person)
    first = make.message(thread, other, "Gammalt")
    client.get(f"/threads/{thread.id}")  # all read
    page = client.get(f"/threads/{thread.id}?seen={first.id - 1}")
    assert page.status_code == 200
    assert 'id="first-unread"' not in page.get_data(as_text=True)


def test_the_landing_waits_for_its_own_thread(scene, make, client, auth):
    """Another thread's page in between (another tab) neither shows nor uses it up."""
    person, other, thread = scene
    elsewhere = make.thread(author=person, forum=thread.forum)
    make.message(elsewhere, other, "Annat")
    auth.login(person)
    client.get(f"/threads/{elsewhere.id}")  # read there
    response, late = _post_while_others_write(client, make, thread, person, other)
    between = client.get(f"/threads/{elsewhere.id}").get_data(as_text=True)
    assert 'id="first-unread"' not in between
    page = client.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    assert page.index('id="first-unread"') < page.index(f'id="m{late[0].id}"')


def test_two_threads_landings_do_not_mix(scene, make, client, auth):
    person, other, thread = scene
    second = make.thread(author=person, forum=thread.forum)
    make.message(second, other, "Början")
    auth.login(person)
    one, late_one = _post_while_others_write(client, make, thread, person, other)
    two, late_two = _post_while_others_write(client, make, second, person, other, "Svar två")
    for response, late in ((two, late_two), (one, late_one)):
        page = client.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
        assert page.index('id="first-unread"') < page.index(f'id="m{late[0].id}"')


def test_a_plain_thread_page_writes_no_session(scene, make, client, auth):
    """The thread page is a hot path: only the landing that uses what waits there changes
    the session (a new cookie); a plain view, and the landing's reload, do not."""
    person, other, thread = scene
    auth.login(person)
    client.get(f"/threads/{thread.id}")  # the first form's CSRF token is kept in the session
    assert "Set-Cookie" not in client.get(f"/threads/{thread.id}").headers
    response, _late = _post_while_others_write(client, make, thread, person, other)
    landing = response.headers["Location"].split("#")[0]
    assert "Set-Cookie" in client.get(landing).headers
    assert "Set-Cookie" not in client.get(landing).headers


def test_an_empty_thread_lands_on_the_first_of_many(make, client, auth, app):
    """Posted in a thread with no messages while others wrote more than a page: the page
    starts from the first of them, not from the latest page as a first visit does."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    person = make.user(name="Tove Test")
    other = make.user(name="Olle Other")
    thread = make.thread(author=person)
    auth.login(person)
    written = []

    def many():
        written.extend(make.message(thread, other, f"Under tiden {i}") for i in range(60))

    response = _open_and_post(client, thread, "Mitt svar", meanwhile=many)
    assert response.headers["Location"].endswith("#first-unread")
    page = client.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    assert page.index('id="first-unread"') < page.index(f'id="m{written[0].id}"')
    assert all(f'id="m{m.id}"' in page for m in written)
