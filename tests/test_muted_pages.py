"""A muted person's pages: what they may not do is not offered, and a refusal keeps the text.

The services refuse every way to speak in a forum while a mute lasts (test_moderation). The
pages offered them all the same: a composer, a reply link, the reaction picker, "Make this
an action" and the start-a-thread form, each refused only after the person had written. A
post without JavaScript, refused, showed an error page and dropped what was written.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from forum.models import Message, ModerationAction, Thread
from forum.models.base import utcnow
from forum.services import moderation


@pytest.fixture
def muted(make, db, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    moderator = make.user(name="Mia Moderator")
    forum = make.forum(moderators=[moderator])
    person = make.user(name="Tove Tystad")
    other = make.user(name="Olle Annan")
    thread = make.thread(forum=forum, author=person)
    own = make.message(thread, person, "Mitt inlägg")
    make.message(thread, other, "Ett svar")
    moderation.mute_person(moderator, person.id, forum.id, 60, "Upprepade påhopp")
    return person, forum, thread, own


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def opening_tag(html: str, element_id: str) -> str | None:
    found = re.search(rf'<[a-z]+[^>]* id="{element_id}"[^>]*>', html)
    return found.group(0) if found else None


def shown(html: str, element_id: str) -> bool:
    """Whether the element is on the page and not hidden."""
    tag = opening_tag(html, element_id)
    return tag is not None and not re.search(r"\shidden[\s>]", tag)


def test_the_thread_page_offers_a_muted_person_no_way_to_speak(muted, client, auth):
    person, _forum, thread, own = muted
    auth.login(person)
    html = page(client, f"/threads/{thread.id}")
    notice = re.search(
        r'<p class="thread-status muted" id="muted-notice"[^>]*>(.*?)</p>', html, re.S
    )
    assert notice, "no notice"
    assert "You are muted in this forum until" in notice.group(1)
    assert shown(html, "muted-notice")
    # the box is there hidden, as in a locked thread, so that the mute's end can show it
    # without a reload (thread.js, on `mute:changed` or when its time is up)
    assert not shown(html, "composer") and not shown(html, "skip-to-box")
    until = re.search(r'data-muted-until="([^"]+)"', html)
    assert until and until.group(1).endswith("Z")
    # Reply, React, "Make this an action", Edit and Delete: the same, hidden (and by the
    # feed's data-closed in site.css), and the counts cannot be pressed; a page drawn while
    # muted had none of them when the mute ended (test_browser_mute_live.py)
    assert "data-closed" in opening_tag(html, "feed")
    feed = html[html.index('id="feed"') : html.index('id="message-template"')]
    for control in ("reply-link", "reaction-picker", "action-link", "edit-link", "delete-form"):
        tags = re.findall(rf'<[a-z]+[^>]* data-slot="{control}"[^>]*>', feed)
        assert tags and all(re.search(r"\shidden[\s>]", tag) for tag in tags), control
    assert f'href="/messages/{own.id}/edit"' in feed  # editing is refused too
    counts = re.findall(r"<button[^>]*data-reaction=[^>]*>", feed)
    assert counts and all('aria-disabled="true"' in tag for tag in counts)
    css = (Path(__file__).parents[1] / "static/css/site.css").read_text()
    rule = re.search(r"(#feed\[data-closed\][^{]*)\{ display: none; \}", css)
    for control in ("slot=reaction-picker", "slot=action-link", "action=reply", "own-only"):
        assert f"#feed[data-closed] [data-{control}]" in rule.group(1), control
    # reading is untouched
    assert "Mitt inlägg" in html and "Ett svar" in html


def test_a_forum_page_offers_a_muted_person_no_new_thread(muted, client, auth):
    person, forum, _thread, _own = muted
    auth.login(person)
    html = page(client, f"/forums/{forum.slug}")
    assert "You are muted in this forum until" in html
    assert "Start a thread" not in html


def test_everyone_else_and_the_person_elsewhere_are_offered_everything(muted, make, client, auth):
    person, forum, thread, _own = muted
    auth.login(make.user())
    html = page(client, f"/threads/{thread.id}")
    assert shown(html, "composer") and "Make this an action" in html
    assert not shown(html, "muted-notice") and 'data-muted-until=""' in html
    assert "Start a thread" in page(client, f"/forums/{forum.slug}")
    auth.login(person)
    elsewhere = make.thread(author=make.user())
    html = page(client, f"/threads/{elsewhere.id}")
    assert shown(html, "composer") and not shown(html, "muted-notice")


def test_when_the_mute_ends_the_pages_offer_it_all_again(muted, client, auth, db):
    person, forum, thread, _own = muted
    mute = db.session.scalar(select(ModerationAction))
    mute.until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    auth.login(person)
    html = page(client, f"/threads/{thread.id}")
    assert shown(html, "composer") and not shown(html, "muted-notice")
    assert "data-closed" not in opening_tag(html, "feed")
    assert 'aria-disabled="true"' not in html[html.index('id="feed"') :]
    reply = re.search(r'<a [^>]*data-slot="reply-link"[^>]*>', html).group(0)
    assert not re.search(r"\shidden[\s>]", reply)
    assert "Start a thread" in page(client, f"/forums/{forum.slug}")


def test_a_visitor_is_offered_nothing_to_speak_with_and_counts_to_read(muted, client):
    _person, _forum, thread, _own = muted
    html = page(client, f"/threads/{thread.id}")
    tag = opening_tag(html, "feed")
    assert "data-takes-part" not in tag and "data-closed" not in tag
    for control in ("reply-link", "reaction-picker", "action-link", "edit-link"):
        assert f'data-slot="{control}"' not in html, control
    counts = re.findall(r"<button[^>]*data-reaction=[^>]*>", html)
    assert counts and all('aria-disabled="true"' in tag for tag in counts)


def test_a_post_refused_by_a_mute_that_began_after_the_page_keeps_the_text(muted, client, auth, db):
    """The mute began while the form was open: the page comes back with the reason and the
    text, not an error page without it."""
    person, forum, thread, _own = muted
    auth.login(person)
    before = db.session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
    text = "Ett långt inlägg skrivet på telefonen"
    response = client.post(f"/threads/{thread.id}/messages", data={"body": text, "client_id": "m1"})
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "You are muted in this forum until" in html
    assert text in html
    assert db.session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1)) == before

    response = client.post(
        f"/forums/{forum.slug}",
        data={"title": "En ny tråd", "commitments": [], "body": text},
    )
    assert response.status_code in (400, 403)
    html = response.get_data(as_text=True)
    assert "You are muted in this forum until" in html
    assert text in html and "En ny tråd" in html
    assert db.session.scalar(select(Thread).where(Thread.title == "En ny tråd")) is None


def test_a_reaction_without_javascript_refused_by_a_mute_says_why(muted, client, auth):
    person, _forum, thread, own = muted
    auth.login(person)
    response = client.post(f"/messages/{own.id}/reactions", data={"add": "👍"})
    assert response.status_code == 302
    html = page(client, response.headers["Location"])
    assert "You are muted in this forum until" in html
