"""The thread without JavaScript (or with a script that did not load on an old phone), as
a review found it: an edit saved after a hide or a lock lost its text on an error page, a
second tap on Delete ended on one, a post refused by a lock kept its text only in a hidden
box, a post to a thread moved out of reach lost it, a reaction to a message hidden meanwhile
showed "no such message", actions on an older page landed on the newest one, `?before=0`
said "No messages yet" on a long thread, slow mode was said only at the top of the page,
and "Make this an action" lost its text when the message was hidden or the thread locked."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from test_muted_pages import shown

from forum.config import parse_rate_limit
from forum.models import Message
from forum.services import moderation


@pytest.fixture
def setup(make, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    mod = make.user(name="Mia Moderator")
    forum = make.forum(moderators=[mod])
    person = make.user(name="Tove Test")
    other = make.user(name="Olle Other")
    thread = make.thread(forum=forum, author=person)
    own = make.message(thread, person, "Mitt meddelande")
    theirs = make.message(thread, other, "Deras meddelande")
    return mod, forum, person, other, thread, own, theirs


# 1. edit without JS after a moderator hid the message meanwhile: error page, text lost
def test_edit_post_after_hide_keeps_text(setup, client, auth, app):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    assert client.get(f"/messages/{own.id}/edit").status_code == 200
    with app.test_request_context():
        moderation.hide_message(mod, own.id, "other", "Off topic")
    text = "Min långa omskrivning som jag skrev på telefonen"
    r = client.post(f"/messages/{own.id}/edit", data={"body": text})
    html = r.get_data(as_text=True)
    assert text in html, (
        r.status_code,
        re.findall(r'<p class="error[^"]*"[^>]*>(.*?)</p>|<h1>(.*?)</h1>', html),
    )


# 1b. edit after the thread was locked meanwhile
def test_edit_post_after_lock_keeps_text(setup, client, auth, app):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    with app.test_request_context():
        moderation.lock_thread(mod, thread.id)
    text = "Min långa omskrivning som jag skrev på telefonen"
    r = client.post(f"/messages/{own.id}/edit", data={"body": text})
    html = r.get_data(as_text=True)
    assert text in html, (r.status_code, re.findall(r"<h1>(.*?)</h1>|<p[^>]*>(.*?)</p>", html)[:6])


# 2. double click on Delete without JS: the second POST shows an error page
def test_double_delete_lands_back_on_thread(setup, client, auth):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    first = client.post(f"/messages/{own.id}/delete")
    assert first.status_code == 302
    second = client.post(f"/messages/{own.id}/delete")
    assert second.status_code == 302, (
        second.status_code,
        re.findall(r"<p>(.*?)</p>", second.get_data(as_text=True))[:3],
    )


# 3. post refused because the thread was locked meanwhile: the text is only in a hidden composer
@pytest.mark.parametrize("refusal", ["locked", "muted"])
def test_post_refused_meanwhile_shows_text(setup, client, auth, app, refusal):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    with app.test_request_context():
        if refusal == "locked":
            moderation.lock_thread(mod, thread.id)
        else:
            moderation.mute_person(mod, person.id, forum.id, 60, "Påhopp")
    text = "Ett långt svar skrivet innan tråden låstes eller man tystades"
    r = client.post(f"/threads/{thread.id}/messages", data={"body": text, "client_id": "c1"})
    html = r.get_data(as_text=True)
    assert text in html
    assert shown(html, "composer"), (
        r.status_code,
        re.search(r'<section[^>]*id="composer"[^>]*>', html).group(0),
    )


# 4. thread moved to a forum the person cannot read: error page without the text
def test_post_after_move_to_unreadable_forum_keeps_text(setup, make, client, auth, app, db):
    mod, forum, person, other, thread, own, theirs = setup
    closed = make.forum(visibility="invite", moderators=[mod])
    auth.login(person)
    with app.test_request_context():
        moderation.move_thread(mod, thread.id, closed.id)
        db.session.commit()
    text = "Ett långt svar skrivet innan tråden flyttades"
    r = client.post(f"/threads/{thread.id}/messages", data={"body": text, "client_id": "c1"})
    assert text in r.get_data(as_text=True), r.status_code


# 5. reaction without JS on a message hidden since the page was shown: 404 page
def test_reaction_on_message_hidden_meanwhile_lands_back(setup, client, auth, app):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    with app.test_request_context():
        moderation.hide_message(mod, theirs.id, "other", "Off topic")
    r = client.post(f"/messages/{theirs.id}/reactions", data={"add": "👍"})
    assert r.status_code == 302, (
        r.status_code,
        re.findall(r"<p>(.*?)</p>", r.get_data(as_text=True))[:3],
    )


# 6. older pages: a reaction / delete / edit on a message of ?before= lands on the newest page
@pytest.fixture
def long_thread(make, app, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    person = make.user(name="Tove Test")
    thread = make.thread(author=person)
    msgs = [make.message(thread, person, f"m{i}") for i in range(55)]
    return person, thread, msgs


def test_reaction_on_older_page_lands_back_on_that_page(long_thread, client, auth):
    person, thread, msgs = long_thread
    auth.login(person)
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    older = re.search(r'id="older" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    older_page = client.get(older).get_data(as_text=True)
    target = msgs[0]
    assert f'id="m{target.id}"' in older_page
    r = client.post(f"/messages/{target.id}/reactions", data={"add": "👍"})
    landing = client.get(r.headers["Location"]).get_data(as_text=True)
    assert f'id="m{target.id}"' in landing, r.headers["Location"]


def test_edit_on_older_page_lands_back_on_that_page(long_thread, client, auth):
    person, thread, msgs = long_thread
    auth.login(person)
    target = msgs[0]
    r = client.post(f"/messages/{target.id}/edit", data={"body": "ändrad"})
    assert r.status_code == 302
    landing = client.get(r.headers["Location"]).get_data(as_text=True)
    assert f'id="m{target.id}"' in landing, r.headers["Location"]


def test_before_zero_does_not_say_no_messages(long_thread, client, auth):
    person, thread, msgs = long_thread
    r = client.get(f"/threads/{thread.id}?before=0")
    html = r.get_data(as_text=True)
    assert "No messages yet" not in html, r.status_code


def test_before_negative_does_not_say_no_messages(long_thread, client, auth):
    person, thread, msgs = long_thread
    r = client.get(f"/threads/{thread.id}?before=-3")
    html = r.get_data(as_text=True)
    assert "No messages yet" not in html, r.status_code


def test_before_huge_and_text(long_thread, client):
    person, thread, msgs = long_thread
    for v in ["99999999999999999999999", "abc", "1e5", "", "%00"]:
        r = client.get(f"/threads/{thread.id}?before={v}")
        assert r.status_code < 500, (v, r.status_code)
    for v in ["99999999999999999999999", "-1", "abc"]:
        r = client.get(f"/threads/{thread.id}?reply_to={v}")
        assert r.status_code < 500, (v, r.status_code)


# 7. double POST with the same client_id stores one message
def test_double_post_stores_one(setup, client, auth, db):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    n = db.session.scalar(select(func.count(Message.id)))
    a = client.post(
        f"/threads/{thread.id}/messages", data={"body": "Hej igen", "client_id": "dup1"}
    )
    b = client.post(
        f"/threads/{thread.id}/messages", data={"body": "Hej igen", "client_id": "dup1"}
    )
    assert a.status_code == b.status_code == 302
    assert a.headers["Location"] == b.headers["Location"]
    assert db.session.scalar(select(func.count(Message.id))) == n + 1


def test_post_with_expired_token_says_why_in_swedish(setup, client, auth, app):
    mod, forum, person, other, thread, own, theirs = setup
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "sv"
    app.config["WTF_CSRF_ENABLED"] = True
    auth.login(person)
    text = "Ett långt svar"
    r = client.post(
        f"/threads/{thread.id}/messages",
        data={"body": text, "client_id": "c1", "csrf_token": "bad"},
    )
    html = r.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    flashes = re.findall(r'class="flash[^"]*"[^>]*>(.*?)<', html, re.S)
    assert text in html
    assert "CSRF" not in html and "token" not in (summary.group(0) if summary else ""), (
        r.status_code,
        summary and summary.group(0),
        flashes,
    )


def test_reply_kept_after_blank_post(setup, client, auth):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    r = client.post(
        f"/threads/{thread.id}/messages",
        data={"body": "   ", "client_id": "c9", "reply_to": str(theirs.id)},
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "Replying to Olle Other" in html and f'value="{theirs.id}"' in html
    assert 'id="body-error"' in html
    assert 'value="c9"' in html


def test_slow_mode_refusal_beside_field(setup, client, auth, app, db):
    mod, forum, person, other, thread, own, theirs = setup
    with app.test_request_context():
        moderation.set_slow_mode(mod, thread.id, 600)
        db.session.commit()
    auth.login(person)
    r = client.post(f"/threads/{thread.id}/messages", data={"body": "Ännu ett", "client_id": "c2"})
    html = r.get_data(as_text=True)
    assert "Ännu ett" in html and shown(html, "composer")
    assert 'id="body-error"' in html, (
        r.status_code,
        re.findall(r'class="flash[^"]*"[^>]*>(.*?)<', html, re.S),
    )


def test_flag_after_hidden_meanwhile_keeps_note(setup, client, auth, app):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    with app.test_request_context():
        moderation.hide_message(mod, theirs.id, "other", "Off topic")
    r = client.post(
        f"/messages/{theirs.id}/flag", data={"reason": "other", "note": "Min långa förklaring"}
    )
    assert "Min långa förklaring" in r.get_data(as_text=True), r.status_code


@pytest.mark.parametrize("change", ["hidden", "locked"])
def test_make_this_an_action_keeps_text_when_message_hidden_or_thread_locked_meanwhile(
    setup, client, auth, app, change
):
    mod, forum, person, other, thread, own, theirs = setup
    auth.login(person)
    page = client.get(f"/actions/new?message={theirs.id}")
    assert page.status_code == 200
    with app.test_request_context():
        if change == "hidden":
            moderation.hide_message(mod, theirs.id, "other", "Off topic")
        else:
            moderation.lock_thread(mod, thread.id)
    title = "Öppna fritidsgården på kvällarna"
    desc = "En lång beskrivning skriven på en gammal telefon"
    r = client.post(
        f"/actions/new?message={theirs.id}",
        data={
            "title": title,
            "description": desc,
            "owner": "",
            "due_date": "",
            "form_token": "t" * 32,
        },
    )
    html = r.get_data(as_text=True)
    assert desc in html, (
        r.status_code,
        re.findall(r"<h1>(.*?)</h1>", html),
        re.findall(r"<p>([^<]*)</p>", html)[:3],
    )
