"""Two people chat in two browsers: live delivery, replies, edits, offline catch-up."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login, message, open_thread, screenshot, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_two_people_chat_live(world, new_page):
    a, b = new_page("sv"), new_page("sv")
    login(a, world, world.alice_email)
    login(b, world, world.bob_email)
    open_thread(a, world)
    open_thread(b, world)
    expect(a.locator("#presence")).to_contain_text("Bob Berg")

    # A sends, B sees it without reload (and it is announced politely)
    send(a, "Hej från **Alice**")
    expect(message(b, "Hej från Alice").locator("strong")).to_have_text("Alice")
    expect(b.locator("#announcer")).to_contain_text("Alice Andersson")
    expect(a.locator("#body")).to_have_value("")

    # Shift+Enter makes a new line instead of sending
    b.fill("#body", "rad ett")
    b.press("#body", "Shift+Enter")
    b.type("#body", "rad två")
    expect(b.locator("#body")).to_have_value("rad ett\nrad två")
    b.fill("#body", "")

    # B replies, A sees the quote
    message(b, "Hej från Alice").locator("[data-action=reply]").click()
    expect(b.locator("#replying")).to_be_visible()
    send(b, "Svar till dig")
    reply = message(a, "Svar till dig")
    expect(reply.locator("[data-slot=quote]")).to_be_visible()
    expect(reply.locator("[data-slot=quote-author]")).to_have_text("Alice Andersson")

    # A edits, B sees "(edited)"
    own = message(a, "Hej från Alice")
    own.locator("[data-action=edit]").click()
    a.locator("form.edit-form textarea").fill("Hej från Alice, ändrat")
    a.locator("form.edit-form [type=submit]").click()
    edited = message(b, "ändrat")
    expect(edited.locator("[data-slot=edited]")).to_be_visible()
    screenshot(b, "thread-live")

    # B goes offline, A sends three, B comes back and has each exactly once
    b.context.set_offline(True)
    expect(b.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    for n in range(1, 4):
        send(a, f"Medan du var borta {n}")
        expect(message(a, f"Medan du var borta {n}")).to_have_count(1)
    b.context.set_offline(False)
    expect(b.locator("#connection")).to_have_attribute("data-state", "connected")
    for n in range(1, 4):
        expect(message(b, f"Medan du var borta {n}")).to_have_count(1)
    ids = b.locator("li.message").evaluate_all("els => els.map(e => Number(e.dataset.id))")
    assert ids == sorted(ids) and len(ids) == len(set(ids))


def test_live_feed_can_be_paused(world, new_page):
    a, b = new_page("en"), new_page("en")
    login(a, world, world.alice_email)
    login(b, world, world.bob_email)
    open_thread(a, world)
    open_thread(b, world)
    b.click("#pause")
    expect(b.locator("#pause")).to_have_attribute("aria-pressed", "true")
    send(a, "While paused")
    expect(b.locator("#show-new")).to_be_visible()
    expect(message(b, "While paused")).to_have_count(0)
    b.click("#show-new")
    expect(message(b, "While paused")).to_have_count(1)


def test_visitor_follows_live_read_only(world, new_page):
    visitor, alice = new_page("sv"), new_page("sv")
    login(alice, world, world.alice_email)
    visitor.goto(f"{world.url}/threads/{world.thread_id}")
    expect(visitor.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(visitor.locator("#composer")).to_have_count(0)
    open_thread(alice, world)
    send(alice, "Synligt för besökare")
    expect(message(visitor, "Synligt för besökare")).to_have_count(1)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_forum_and_thread_pages_are_accessible(world, new_page, lang):
    page = new_page(lang)
    login(page, world, world.alice_email)
    for path in [
        "/forums",
        f"/forums/{world.forum_slug}",
        f"/threads/{world.thread_id}",
        f"/messages/{world.message_id}/edit",
        f"/messages/{world.message_id}/revisions",
        "/notifications",
        "/people/alice.andersson",
    ]:
        page.goto(world.url + path)
        assert page.locator("html").get_attribute("lang") == lang
        assert_accessible(page, f"{path} ({lang})")
    page.goto(f"{world.url}/threads/{world.thread_id}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    assert_accessible(page, f"live thread ({lang})")
    if lang == "sv":
        screenshot(page, "thread")
        page.goto(world.url + "/forums")
        screenshot(page, "forums")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_official_pages_are_accessible(world, new_page, lang):
    page = new_page(lang)
    login(page, world, world.official_email)
    page.goto(world.url + "/forums/new")
    assert_accessible(page, f"new forum ({lang})")
    page.locator("form.stack [type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, f"new forum with errors ({lang})")
