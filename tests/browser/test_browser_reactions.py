"""Reactions in two browsers: by mouse and by keyboard, live to the other page, accessible."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, login, message, open_thread, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_react_by_click_and_keyboard_live_to_another_page(world, new_page, lang):
    a, b = new_page(lang), new_page(lang)
    login(a, world, world.alice_email)
    login(b, world, world.bob_email)
    open_thread(a, world)
    open_thread(b, world)
    text = f"Reagera på mig ({lang})"
    send(a, text)
    expect(message(b, text)).to_be_visible()
    expect(message(a, text)).to_have_attribute("data-id", re.compile(r"^\d+$"))

    # B reacts with the mouse: the picker, then 👍
    mine_b = message(b, text)
    mine_b.locator("[data-slot=reaction-picker] summary").click()
    mine_b.locator("button[data-reaction-pick='👍']").click()
    thumbs_b = mine_b.locator("button[data-reaction='👍']")
    expect(thumbs_b).to_have_attribute("aria-pressed", "true")
    expect(thumbs_b).to_be_focused()  # focus lands where the reaction can be taken back
    label = "Reagera med tumme upp, 1 person" if lang == "sv" else "React with thumbs up, 1 person"
    expect(thumbs_b).to_have_attribute("aria-label", label)

    # A sees it live, not pressed (it is B's), and adds one with the keyboard alone
    thumbs_a = message(a, text).locator("button[data-reaction='👍']")
    expect(thumbs_a).to_be_visible()
    expect(thumbs_a).to_have_attribute("aria-pressed", "false")
    expect(thumbs_a).to_have_attribute("title", "Bob Berg")
    thumbs_a.focus()
    a.keyboard.press("Enter")
    expect(thumbs_a).to_have_attribute("aria-pressed", "true")
    two = "Reagera med tumme upp, 2 personer" if lang == "sv" else "React with thumbs up, 2 people"
    expect(thumbs_a).to_have_attribute("aria-label", two)
    expect(thumbs_b).to_have_attribute("aria-label", two)
    expect(thumbs_b).to_have_attribute("aria-pressed", "true")  # still B's own
    assert_accessible(a, f"thread with reactions ({lang})")
    message(a, text).locator("[data-slot=reaction-picker] summary").click()
    assert_accessible(a, f"reaction picker open ({lang})")

    # B takes it back with Space; A's count follows, and a reload agrees
    thumbs_b.focus()
    b.keyboard.press("Space")
    expect(thumbs_b).to_have_attribute("aria-pressed", "false")
    expect(thumbs_a).to_have_attribute("aria-label", label)
    expect(
        message(a, text).locator("button[data-reaction='👍'] [data-reaction-count]")
    ).to_have_text("1")
    a.reload()
    served = message(a, text).locator("button[data-reaction='👍']")
    expect(served).to_have_attribute("aria-pressed", "true")
    # on the message the server wrote, the words for n come from the page's blank message
    served.focus()
    a.keyboard.press("Enter")
    expect(served).to_have_attribute("aria-pressed", "false")
    none = "Reagera med tumme upp, 0 personer" if lang == "sv" else "React with thumbs up, 0 people"
    expect(served).to_have_attribute("aria-label", none)


def test_react_without_javascript(world, browser):
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    try:
        context.set_default_timeout(10_000)
        page = context.new_page()
        login(page, world, world.bob_email)
        page.goto(f"{world.url}/threads/{world.thread_id}")
        item_id = page.locator("#feed li.message[data-state=visible]").first.get_attribute("id")
        first = page.locator(f"#{item_id}")
        first.locator("[data-slot=reaction-picker] summary").click()
        first.locator("button[data-reaction-pick='🎉']").click()
        page.wait_for_url(f"**#{item_id}")
        made = first.locator("button[data-reaction='🎉']")
        expect(made).to_have_attribute("aria-pressed", "true")
        # the same button now takes it back (the bar is one form; the button says what to do)
        made.click()
        page.wait_for_load_state()
        expect(made).to_have_attribute("aria-pressed", "false")
        expect(made).to_be_hidden()  # nobody's: only counted reactions show
    finally:
        context.close()
