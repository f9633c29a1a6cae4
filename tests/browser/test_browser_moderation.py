"""Moderation in real browsers: flags hide a message live, the queue restores it live,
a lock removes the composer live, a suspension ends the open page; axe on the pages."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login, message, open_thread, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def members(world):
    carl, dora, erik, sven = world.member_emails
    return carl, dora, erik, sven


def test_flags_hide_live_and_the_queue_restores_live(world, new_page):
    author, watcher = new_page("en"), new_page("sv")
    login(author, world, world.bob_email)
    login(watcher, world, world.alice_email)
    open_thread(author, world)
    open_thread(watcher, world)
    author.fill("#body", "Köp billiga klockor på example.com")
    author.press("#body", "Enter")
    spam = message(watcher, "billiga klockor")
    expect(spam).to_have_count(1)
    message_id = spam.get_attribute("data-id")
    item = watcher.locator(f"#m{message_id}")

    for email in members(world)[:3]:
        flagger = new_page("en")
        login(flagger, world, email)
        open_thread(flagger, world)
        flagger.locator(f"#m{message_id} [data-slot=flag-link]").click()
        flagger.check("#reason-spam")
        flagger.locator("form.stack [type=submit]").click()
        expect(flagger.locator(".flash-success")).to_be_visible()

    # the fourth member sees it disappear without a reload, with a placeholder in their own
    # language (the flaggers' pages are English; the broadcast carries both)
    expect(item).to_have_attribute("data-state", "hidden")
    expect(item.locator("[data-slot=hidden]")).to_be_visible()
    expect(item.locator("[data-slot=hidden-reason]")).to_have_text(
        "Anmält av flera personer. Väntar på en moderator."
    )
    expect(item.locator("[data-slot=body]")).to_be_hidden()

    moderator = new_page("en")
    login(moderator, world, world.moderator_email)
    moderator.goto(world.url + "/moderation")
    review = moderator.locator(f"#review-{message_id}")
    expect(review).to_contain_text("3 flags")
    screenshot(moderator, "moderation-queue")
    review.locator("[data-action=restore]").click()
    expect(moderator.locator(".flash-success")).to_be_visible()

    # and it comes back, live
    expect(item).to_have_attribute("data-state", "visible")
    expect(item.locator("[data-slot=body]")).to_contain_text("billiga klockor")


def test_lock_removes_the_composer_live(world, new_page):
    member, moderator = new_page("sv"), new_page("sv")
    login(member, world, world.alice_email)
    login(moderator, world, world.moderator_email)
    open_thread(member, world)
    expect(member.locator("#composer")).to_be_visible()
    moderator.goto(f"{world.url}/threads/{world.thread_id}")
    moderator.locator("#thread-controls summary").click()
    moderator.locator("#toggle-lock").click()
    expect(member.locator("#composer")).to_be_hidden()
    expect(member.locator("#thread-status")).to_be_visible()
    # open again for the other tests
    moderator.locator("#thread-controls summary").click()
    moderator.locator("#toggle-lock").click()
    expect(member.locator("#composer")).to_be_visible()


def test_suspension_ends_the_open_page(world, new_page):
    sven_email = members(world)[3]
    suspended, moderator = new_page("en"), new_page("en")
    login(suspended, world, sven_email)
    open_thread(suspended, world)
    login(moderator, world, world.moderator_email)
    moderator.goto(world.url + "/moderation/people")
    moderator.fill("#suspend-person", sven_email)
    moderator.fill("#suspend-reason", "Threats against other members")
    moderator.locator("form:has(#suspend-person) [type=submit]").click()
    # suspending asks first (a page of its own: works without JavaScript); nothing happens yet
    expect(moderator.locator("h1")).to_have_text("Suspend Sven Svensson?")
    expect(moderator.locator("main")).to_contain_text("Threats against other members")
    assert_accessible(moderator, "confirm suspending (en)")
    expect(suspended.locator("#connection")).not_to_have_attribute("data-state", "ended")
    moderator.locator("#confirm").click()
    expect(moderator.locator(".flash-success")).to_be_visible()
    expect(suspended.locator("#connection")).to_have_attribute("data-state", "ended")
    expect(moderator.locator("table")).to_contain_text("Sven Svensson")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_moderation_pages_are_accessible(world, new_page, lang):
    flagger = new_page(lang)
    login(flagger, world, members(world)[0 if lang == "sv" else 1])
    flagger.goto(f"{world.url}/messages/{world.message_id}/flag")
    assert_accessible(flagger, f"flag form ({lang})")
    flagger.check("#reason-other")
    flagger.locator("form.stack [type=submit]").click()
    expect(flagger.locator(".error-summary")).to_be_visible()
    assert_accessible(flagger, f"flag form with errors ({lang})")
    flagger.check("#reason-personal_data")
    flagger.locator("form.stack [type=submit]").click()
    expect(flagger.locator(".flash-success")).to_be_visible()

    page = new_page(lang)
    login(page, world, world.moderator_email)
    page.goto(world.url + "/moderation")
    expect(page.locator(f"#review-{world.message_id}")).to_be_visible()
    for path in [
        "/moderation",
        "/moderation/audit",
        "/moderation/people",
        "/moderation/transparency",
        f"/messages/{world.message_id}/flag",
        f"/moderation/messages/{world.message_id}",
    ]:
        page.goto(world.url + path)
        assert page.locator("html").get_attribute("lang") == lang
        assert_accessible(page, f"{path} ({lang})")
    # the question before a suspension (answered "no": nobody is suspended here)
    page.goto(world.url + "/moderation/people")
    page.fill("#suspend-person", members(world)[2])
    page.fill("#suspend-reason", "Hot")
    page.locator("form:has(#suspend-person) [type=submit]").click()
    expect(page.locator("#confirm")).to_be_visible()
    assert_accessible(page, f"confirm suspending ({lang})")
    page.goto(world.url + "/moderation")
    for details in page.locator("details").all():
        details.locator("summary").click()
    assert_accessible(page, f"queue with open forms ({lang})")
    page.goto(f"{world.url}/threads/{world.thread_id}")
    page.locator("#thread-controls summary").click()
    assert_accessible(page, f"thread controls ({lang})")
    visitor = new_page(lang)
    visitor.goto(world.url + "/moderation/transparency")
    assert_accessible(visitor, f"transparency for visitors ({lang})")
