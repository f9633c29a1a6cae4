"""README claims that need a real browser: resend after a reconnect, older messages on
scroll, and axe on the pages no other browser test opens (in both languages)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import pytest
from browsing import assert_accessible, login, message, open_thread
from playwright.sync_api import expect
from support import app_settings

from forum.config import parse_rate_limit

pytestmark = pytest.mark.browser


@contextmanager
def backend(world):
    """The server's database, through the services, from the test process."""
    from forum import create_app
    from forum.extensions import db

    app = create_app(
        app_settings(
            world.server.env["FORUM_DATABASE_URL"],
            FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"),
        )
    )
    with app.app_context(), app.test_request_context():
        try:
            yield db
        finally:
            db.session.remove()
            db.engine.dispose()


def user(db, email: str):
    from sqlalchemy import select

    from forum.models import User

    return db.session.scalar(select(User).where(User.email == email))


# --- "when the connection drops the page ... catches up by id when it is back and
# --- resends anything that was not acknowledged" -----------------------------------


def test_a_message_lost_on_the_way_is_resent_once_after_reconnecting(world, new_page):
    sender, watcher = new_page("en"), new_page("en")
    login(sender, world, world.bob_email)
    login(watcher, world, world.alice_email)
    frames: list[tuple[int, str]] = []  # (connection number, frame the page sent)
    state = {"connections": 0, "dropped_ack": False}

    def route(ws):
        """Pass frames through, except the first message:send: it is lost on the way and
        the connection drops, as when a network fails at the wrong moment (so neither an
        answer nor the room's broadcast can tell the page it arrived)."""
        state["connections"] += 1
        number = state["connections"]
        server = ws.connect_to_server()

        def to_server(frame):
            frames.append((number, frame if isinstance(frame, str) else ""))
            if isinstance(frame, str) and '"message:send"' in frame and not state["dropped_ack"]:
                state["dropped_ack"] = True
                ws.close()
                server.close()
                return
            server.send(frame)

        ws.on_message(to_server)
        server.on_message(lambda frame: ws.send(frame))

    sender.route_web_socket(re.compile(r"/socket\.io/"), route)
    open_thread(sender, world, world.thread_id)
    open_thread(watcher, world, world.thread_id)
    sender.fill("#body", "Skickat när nätet föll")
    with sender.expect_websocket() as reconnected:  # the page opens a new socket by itself
        sender.press("#body", "Enter")
    # ... and resends the message that never arrived
    reconnected.value.wait_for_event(
        "framesent", lambda payload: '"message:send"' in str(payload) and "nätet" in str(payload)
    )

    # caught up and resent: one message everywhere
    expect(message(sender, "Skickat när nätet föll")).to_have_count(1)
    expect(message(watcher, "Skickat när nätet föll")).to_have_count(1)
    assert state["dropped_ack"] and state["connections"] >= 2
    sends = [
        (number, json.loads(frame[frame.index("[") :])[1]["client_id"])
        for number, frame in frames
        if '"message:send"' in frame
    ]
    first_connection, client_id = sends[0]
    assert any(n > first_connection and cid == client_id for n, cid in sends), sends
    # the resend was answered as a duplicate, so the thread holds it once
    with backend(world) as db:
        from sqlalchemy import func, select

        from forum.models import Message

        stored = db.session.scalar(
            select(func.count()).where(Message.body == "Skickat när nätet föll")
        )
    assert stored == 1


# --- "older messages load as you scroll up" ------------------------------------------


def test_older_messages_load_as_you_scroll_up(world, new_page):
    from forum.services import forums

    with backend(world) as db:
        official = user(db, world.official_email)
        from sqlalchemy import select

        from forum.models import Forum

        forum = db.session.scalar(select(Forum).where(Forum.slug == world.forum_slug))
        thread = forums.start_thread(official, forum, "En lång tråd", [3])
        for n in range(1, 66):
            forums.send_message(official, thread.id, f"Inlägg nummer {n:02d}", f"long-{n}")
        thread_id = thread.id
    page = new_page("sv")
    open_thread(page, world, thread_id)
    feed = page.locator("#feed")
    expect(feed.locator("li.message")).to_have_count(50)  # the latest page
    expect(message(page, "Inlägg nummer 16")).to_have_count(1)
    expect(message(page, "Inlägg nummer 15")).to_have_count(0)
    feed.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    expect(feed.locator("li.message")).to_have_count(65)
    expect(page.locator("#older-wrap")).to_have_count(0)  # nothing older is left
    bodies = feed.locator("li.message [data-slot=body]").all_inner_texts()
    assert [b.strip() for b in bodies] == [f"Inlägg nummer {n:02d}" for n in range(1, 66)]
    # the reader stays where they were: the message that was first is still in view
    assert message(page, "Inlägg nummer 16").evaluate(
        """el => { const f = document.getElementById('feed').getBoundingClientRect();
                  const r = el.getBoundingClientRect();
                  return r.bottom > f.top && r.top < f.bottom; }"""
    )


# --- "every page passes axe's WCAG 2.1 A and AA rules in both languages": the pages
# --- no other browser test opens ----------------------------------------------------


@pytest.fixture(scope="module")
def pages(world):
    """Things the pages show: a moderation decision, a principle, a reset link."""
    from sqlalchemy import select

    from forum.models import Principle
    from forum.services import forums, moderation

    with backend(world) as db:
        moderator = user(db, world.moderator_email)
        bob = user(db, world.bob_email)
        message_, _ = forums.send_message(bob, world.thread_id, "Reklam för klockor", "axe-ad")
        decision = moderation.hide_message(moderator, message_.id, "dialog", "Reklam")
        principle = db.session.scalar(select(Principle.slug).order_by(Principle.position))
        return {"decision": decision.id, "principle": principle}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_remaining_pages_pass_axe(world, new_page, pages, lang):
    visitor = new_page(lang)
    for path in [
        "/actions",
        "/actions?status=done",
        "/actions?status=accepted&year=1999",  # filters in use, and the year's error
        f"/principles/{pages['principle']}",
        "/uppfoljning/rapport",
        "/reset/not-a-valid-token",
        "/no/such/page",
    ]:
        visitor.goto(world.url + path)
        assert visitor.locator("html").get_attribute("lang") == lang
        assert_accessible(visitor, f"{path} ({lang}, visitor)")

    # a real reset link, from the mail the outbox holds
    reset = new_page(lang)
    reset.goto(world.url + "/reset")
    reset.fill("input[name=email]", world.bob_email)
    reset.locator("main form [type=submit]").click()
    expect(reset.locator("main [role=status]")).to_be_visible()
    from sqlalchemy import select

    from forum.models import OutboxMail

    with backend(world) as db:
        body = db.session.scalar(
            select(OutboxMail.body)
            .where(OutboxMail.to_address == world.bob_email)
            .order_by(OutboxMail.id.desc())
        )
    link = re.search(r"https?://[^/\s]+(/reset/\S+)", body or "")
    assert link, body
    reset.goto(world.url + link.group(1))
    expect(reset.locator("input[name=password]")).to_be_visible()
    assert_accessible(reset, f"/reset/<token> ({lang})")
    reset.locator("main form [type=submit]").click()
    expect(reset.locator(".error-summary")).to_be_visible()
    assert_accessible(reset, f"/reset/<token> with errors ({lang})")

    official = new_page(lang)
    login(official, world, world.official_email)
    official.goto(f"{world.url}/forums/{world.forum_slug}/people")
    assert_accessible(official, f"forum people ({lang})")
    official.goto(f"{world.url}/forums/{world.forum_slug}/visibility")
    assert_accessible(official, f"who can read a forum ({lang})")
    official.check("#visibility-2")  # invite-only: narrows, so it asks first
    official.locator("main form [type=submit]").click()
    expect(official.locator("#confirm")).to_be_visible()
    assert_accessible(official, f"narrow who can read a forum? ({lang})")
    official.goto(f"{world.url}/forums/{world.forum_slug}/visibility")
    official.evaluate("document.querySelector('#visibility-0').value = 'everyone'")
    official.check("#visibility-0")
    official.locator("main form [type=submit]").click()
    expect(official.locator(".error-summary")).to_be_visible()
    assert_accessible(official, f"who can read a forum, with errors ({lang})")

    moderator = new_page(lang)
    login(moderator, world, world.moderator_email)
    moderator.goto(f"{world.url}/moderation/actions/{pages['decision']}")
    expect(moderator.locator("h1")).to_be_visible()
    assert_accessible(moderator, f"moderation decision ({lang})")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_an_expired_form_gives_the_text_back_accessibly(world, new_page, lang):
    """The new-thread form sent with a token that no longer holds: nothing is started, the
    page gives back the title and text to copy, and leads back to the form."""
    page = new_page(lang)
    login(page, world, world.bob_email)
    forum_url = f"{world.url}/forums/{world.forum_slug}"
    page.goto(forum_url)
    form = page.locator("main form").filter(has=page.locator("[name=title]"))
    form.locator("[name=title]").fill("Kvällsöppet i höst")
    form.locator("[name=body]").fill("Två kvällar i veckan,\nmed fika.")
    form.locator("[name=csrf_token]").evaluate("field => { field.value = 'expired'; }")
    form.locator("[type=submit]").click()
    expect(page.locator("main [role=alert]")).to_be_visible()
    typed = page.locator("main textarea[readonly]")
    expect(typed).to_have_count(2)
    expect(typed.nth(1)).to_have_value("Två kvällar i veckan,\nmed fika.")
    assert_accessible(page, f"expired form ({lang})")
    page.set_viewport_size({"width": 375, "height": 740})
    assert_accessible(page, f"expired form on a phone ({lang})")
    page.locator("main a", has_text=re.compile("formuläret|the form")).click()
    page.wait_for_url(forum_url)
