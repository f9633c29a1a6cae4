"""What a review of the forum pages found: an owner locked out of their own forum, unread
counts of archived threads, mentions inside links and web addresses, messages nobody can
see, and forms that lost what was typed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.models import Forum, Message, Notification, Thread
from forum.models.forums import forum_members


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def text(response) -> str:
    return response.get_data(as_text=True)


def test_an_owner_who_makes_their_forum_invite_only_can_still_open_it(client, make, auth, db):
    """Invite-only is read by its members, and only forums opened invite-only had their owner
    as one: narrowed later, the owner's forum, its people and its visibility pages answered
    404, and only an admin could undo it."""
    owner = make.user("official")
    forum = make.forum(owner=owner, visibility="public")
    auth.login(owner)
    narrowed = client.post(
        f"/forums/{forum.slug}/visibility", data={"visibility": "invite", "confirmed": "1"}
    )
    assert narrowed.status_code == 302
    for page in ("", "/people", "/visibility"):
        assert client.get(f"/forums/{forum.slug}{page}").status_code == 200, page
    members = select(func.count()).where(
        forum_members.c.forum_id == forum.id, forum_members.c.user_id == owner.id
    )
    assert db.session.scalar(members) == 1
    # narrowing again (or a forum opened invite-only) adds nothing twice
    client.post(f"/forums/{forum.slug}/visibility", data={"visibility": "members"})
    client.post(f"/forums/{forum.slug}/visibility", data={"visibility": "invite", "confirmed": "1"})
    assert db.session.scalar(members) == 1


def test_the_owner_cannot_remove_themselves_from_an_invite_only_forums_members(
    client, make, auth, db
):
    owner, guest = make.user("official"), make.user()
    forum = make.forum(owner=owner, visibility="invite", members=[guest])
    auth.login(owner)
    refused = client.post(
        f"/forums/{forum.slug}/people",
        data={"email": owner.email, "role": "member", "action": "remove"},
    )
    assert refused.status_code == 400
    assert "The forum&#39;s owner stays one of its members." in text(refused)
    assert client.get(f"/forums/{forum.slug}/people").status_code == 200
    removed = client.post(
        f"/forums/{forum.slug}/people",
        data={"email": guest.email, "role": "member", "action": "remove"},
    )
    assert removed.status_code == 302  # anyone else can be removed as before


def test_an_archived_threads_unread_messages_are_not_the_forums_news(client, make, auth, db):
    """The forum list counted them, and the forum's page, which does not list archived
    threads, offered nothing that would clear the count."""
    owner, reader = make.user("official"), make.user()
    forum = make.forum(owner=owner)
    archived, current = make.thread(forum=forum, author=owner), make.thread(forum=forum)
    make.message(archived, owner, "ett")
    make.message(archived, owner, "två")
    make.message(current, owner, "tre")
    db.session.get(Thread, archived.id).archived = True
    db.session.commit()
    auth.login(reader)
    assert f'data-unread-forum="{forum.id}" data-count="1"' in text(client.get("/forums"))


def test_an_at_in_a_links_text_or_a_web_address_is_not_a_mention(client, make, auth, db):
    """A mention inside a link's text split the link (an empty <a>, which has no name for a
    screen reader) and told the person; an address such as youtube.com/@name was cut at
    the "/" and told whoever here has that handle."""
    author, alice = make.user("official"), make.user()
    thread = make.thread(author=author)
    auth.login(author)
    bodies = {
        "label": f"[@{alice.handle}](https://ok.se)",
        "words": f"[länk @{alice.handle} här](https://ok.se)",
        "url": f"Se https://www.youtube.com/@{alice.handle} och mastodon.social/@{alice.handle}",
    }
    for client_id, body in bodies.items():
        sent = client.post(
            f"/threads/{thread.id}/messages", data={"body": body, "client_id": client_id}
        )
        assert sent.status_code == 302, client_id
        html = db.session.scalar(select(Message.html).where(Message.client_id == client_id))
        assert 'class="mention"' not in html, html
        assert not re.search(r"<a [^>]*>\s*</a>", html), html
    label = db.session.scalar(select(Message.html).where(Message.client_id == "words"))
    assert f"länk @{alice.handle} här</a>" in label
    told = select(func.count()).where(Notification.user_id == alice.id)
    assert db.session.scalar(told) == 0
    # a mention on its own still is one
    client.post(
        f"/threads/{thread.id}/messages", data={"body": f"Hej @{alice.handle}!", "client_id": "m"}
    )
    assert 'class="mention"' in db.session.scalar(
        select(Message.html).where(Message.client_id == "m")
    )
    assert db.session.scalar(told) == 1


def test_a_message_of_nothing_visible_is_refused_and_the_text_kept(client, make, auth, db):
    author = make.user()
    thread = make.thread(author=author)
    message = make.message(thread, author, "synlig")
    auth.login(author)
    for body in ("\u200b", "\u3164", "\u2800 \u200b"):
        sent = client.post(
            f"/threads/{thread.id}/messages", data={"body": body, "client_id": f"c{ord(body[0])}"}
        )
        assert sent.status_code == 400, repr(body)
        edited = client.post(f"/messages/{message.id}/edit", data={"body": body})
        assert edited.status_code == 400, repr(body)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1
    assert db.session.get(Message, message.id).body == "synlig"
    forum = db.session.get(Forum, thread.forum_id)
    cid = str(make.commitment_ids(1)[0])
    started = client.post(
        f"/forums/{forum.slug}", data={"title": "Ny tråd", "commitments": [cid], "body": "\u200b"}
    )
    assert started.status_code == 400 and "Ny tråd" in text(started)
    assert db.session.scalar(select(func.count()).where(Thread.title == "Ny tråd")) == 0


def test_a_refused_address_on_the_people_page_is_kept_beside_its_error(client, make, auth):
    owner = make.user("official")
    forum = make.forum(owner=owner, visibility="invite")
    auth.login(owner)
    page = client.post(
        f"/forums/{forum.slug}/people",
        data={"email": "nobody@example.se", "role": "moderator", "action": "add"},
    )
    assert page.status_code == 400
    html = text(page)
    assert 'href="#email"' in html  # the error summary's link ...
    box = re.search(r'<input type="email" id="email"[^>]*>', html)
    assert box, html  # ... leads to the box the address was typed in, with it kept
    assert 'value="nobody@example.se"' in box[0] and 'aria-invalid="true"' in box[0]
    assert 'name="role" value="moderator"' in html[: html.index('id="email"')].rsplit("<form", 1)[1]


def test_an_impossible_commitment_id_is_a_field_error_with_the_text_kept(client, make, auth, db):
    """A stale or altered form's id beyond the id range was a 404 page, and the title and
    text were gone."""
    forum = make.forum()
    auth.login(make.user())
    for ids in (["99999999999999999999"], ["-1"], ["²"]):
        page = client.post(
            f"/forums/{forum.slug}",
            data={"title": "Min titel", "commitments": ids, "body": "Lång text"},
        )
        assert page.status_code == 400, ids
        assert "Min titel" in text(page) and "Lång text" in text(page)
    assert db.session.scalar(select(func.count()).select_from(Thread)) == 0
