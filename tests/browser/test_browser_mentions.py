"""Mention autocomplete in the composer, by keyboard only, as the ARIA combobox pattern says."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, login, open_thread, screenshot
from playwright.sync_api import expect
from support import PASSWORD

pytestmark = pytest.mark.browser

COUNT = {
    "sv": "personer att nämna. Välj med pil upp och pil ned, Enter infogar.",
    "en": "people to mention. Up and down arrows choose, Enter inserts.",
}
LIST_NAME = {"sv": "Personer att nämna", "en": "People to mention"}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_type_at_choose_with_the_arrows_and_send(world, new_page, lang):
    page = new_page(lang)
    login(page, world, world.bob_email)
    open_thread(page, world)
    body = page.locator("#body")
    listbox = page.get_by_role("listbox", name=LIST_NAME[lang])
    expect(body).to_have_attribute("role", "combobox")
    expect(body).to_have_attribute("aria-expanded", "false")

    body.focus()
    page.keyboard.type(f"Tack ({lang}) @")
    expect(body).to_have_attribute("aria-expanded", "true")
    expect(listbox).to_be_visible()
    expect(body).to_have_attribute("aria-controls", "mention-list")
    # people who can read this public thread; never the person typing
    expect(listbox.get_by_role("option", name=re.compile("Alice Andersson"))).to_have_count(1)
    expect(listbox.get_by_role("option", name=re.compile("Bob Berg"))).to_have_count(0)
    assert_accessible(page, f"mention list open ({lang})")

    page.keyboard.type("a")  # Alice Andersson and Astrid Admin start with A
    options = listbox.get_by_role("option")
    expect(options).to_have_count(2)
    expect(page.locator("#mention-status")).to_have_text(f"2 {COUNT[lang]}")
    first, second = options.nth(0), options.nth(1)
    expect(first).to_have_attribute("aria-selected", "true")
    expect(body).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    page.keyboard.press("ArrowDown")
    expect(second).to_have_attribute("aria-selected", "true")
    expect(body).to_have_attribute("aria-activedescendant", second.get_attribute("id"))
    page.keyboard.press("ArrowDown")  # round to the top
    expect(first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowUp")
    expect(second).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowUp")
    chosen = first.locator(".mention-handle").text_content()
    expect(body).to_be_focused()  # focus never left the text box
    page.keyboard.press("Enter")  # takes the suggestion, does not send
    expect(listbox).to_be_hidden()
    expect(body).to_have_attribute("aria-expanded", "false")
    expect(body).not_to_have_attribute("aria-activedescendant", re.compile("."))
    expect(body).to_have_value(f"Tack ({lang}) {chosen} ")

    # Escape closes the list and keeps the text; Tab takes a suggestion too
    page.keyboard.type("och @ast")
    expect(listbox.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(body).to_have_value(f"Tack ({lang}) {chosen} och @ast")
    page.keyboard.type("r")
    expect(listbox.get_by_role("option", name=re.compile("Astrid Admin"))).to_be_visible()
    page.keyboard.press("Tab")
    expect(body).to_be_focused()
    expect(body).to_have_value(re.compile(r"och @astrid\.admin $"))

    page.keyboard.press("Enter")  # now it sends
    sent = page.locator("li.message[data-id]").filter(has_text=f"Tack ({lang})")
    expect(sent).to_have_count(1)
    expect(sent.locator("a.mention")).to_have_count(2)
    expect(body).to_have_value("")
    expect(body).to_be_focused()


def test_a_name_is_shown_as_text_and_touch_picks_an_option(world, new_page):
    page = new_page("sv", phone=True)
    # someone whose display name is markup: it must show as text and run nothing
    page.goto(f"{world.url}/register")
    page.fill("input[name=email]", "sly@browser.se")
    page.fill("input[name=display_name]", 'Sly <img src=x onerror="window.pwned=1">')
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=display_name]) [type=submit]").click()
    page.wait_for_url(lambda url: "/register" not in url)
    page.context.clear_cookies()
    login(page, world, world.alice_email)
    open_thread(page, world)
    page.locator("#body").tap()
    page.keyboard.type("@sly")
    sly = page.get_by_role("listbox").get_by_role("option")
    expect(sly).to_have_count(1)
    expect(sly.locator(".mention-name")).to_have_text('Sly <img src=x onerror="window.pwned=1">')
    expect(page.locator("#mention-list img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    page.keyboard.press("Escape")
    page.locator("#body").fill("")
    page.keyboard.type("@sv")
    option = page.get_by_role("listbox").get_by_role("option", name=re.compile("Sven"))
    expect(option).to_be_visible()
    screenshot(page, "thread-phone")  # the README: a thread on a phone, suggesting a name
    box = option.bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
    body_box = page.locator("#body").bounding_box()
    assert box["y"] + box["height"] <= body_box["y"] + 1  # above the text box, not on it
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    option.tap()
    expect(page.locator("#body")).to_have_value(re.compile(r"^@sven\.svensson $"))
    expect(page.locator("#body")).to_be_focused()


def test_the_inline_edit_suggests_names_as_the_composer_does(world, new_page):
    page = new_page("sv")
    login(page, world, world.bob_email)
    open_thread(page, world)
    page.locator("#body").fill("Redigeras strax")
    page.keyboard.press("Enter")
    own = page.locator("li.message[data-id]").filter(has_text="Redigeras strax")
    expect(own).to_have_count(1)

    own.locator("[data-action=edit]").click()
    box = own.locator("form.edit-form textarea")
    expect(box).to_be_focused()
    expect(box).to_have_attribute("role", "combobox")
    listbox = own.get_by_role("listbox", name=LIST_NAME["sv"])
    own_list = own.locator("form.edit-form .mention-list")  # hidden until there is a name
    expect(own_list).to_have_attribute("id", re.compile(r"^edit-\d+-mentions$"))
    expect(box).to_have_attribute("aria-controls", own_list.get_attribute("id") or "?")
    page.keyboard.press("End")
    page.keyboard.type(" av @a")
    options = listbox.get_by_role("option")
    expect(options).to_have_count(2)  # Alice Andersson and Astrid Admin
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#mention-list")).to_be_hidden()  # the composer's list stays shut
    # below the box: above it, the feed (which scrolls) would cut the first options off
    box_at, list_at = box.bounding_box(), listbox.bounding_box()
    assert list_at["y"] >= box_at["y"] + box_at["height"], (box_at, list_at)
    assert_accessible(page, "inline edit suggesting names (sv)")
    page.keyboard.press("ArrowDown")
    chosen = options.nth(1).locator(".mention-handle").text_content()
    page.keyboard.press("Enter")  # takes the suggestion: the edit stays open, unsaved
    expect(listbox).to_be_hidden()
    expect(box).to_have_value(f"Redigeras strax av {chosen} ")

    page.keyboard.type("@ast")
    expect(options).to_have_count(1)
    page.keyboard.press("Escape")  # closes the list, not the edit
    expect(listbox).to_be_hidden()
    expect(box).to_be_focused()
    page.keyboard.type("rid")
    expect(listbox.get_by_role("option", name=re.compile("Astrid Admin"))).to_be_visible()
    page.keyboard.press("Tab")
    expect(box).to_be_focused()
    expect(box).to_have_value(f"Redigeras strax av {chosen} @astrid.admin ")
    page.keyboard.press("Enter")  # now it saves
    expect(own.locator("form.edit-form")).to_have_count(0)
    expect(own.locator("[data-slot=body] a.mention")).to_have_count(2)
    expect(own.locator("[data-slot=edited]")).to_be_visible()


def test_the_inline_edit_suggests_names_on_a_phone(world, new_page):
    """At 375 px with touch: the edit's list fits the screen, is not cut off by the feed
    that scrolls, and a tap takes a name without saving or closing the edit."""
    page = new_page("sv", phone=True)
    login(page, world, world.bob_email)
    open_thread(page, world)
    composer = page.locator("#body")
    composer.tap()
    empty = composer.bounding_box()["height"]
    page.keyboard.type("Ändras på telefonen")
    assert composer.bounding_box()["height"] > empty  # room to write once there is text
    page.keyboard.press("Enter")
    own = page.locator("li.message[data-id]").filter(has_text="Ändras på telefonen")
    expect(own).to_have_count(1)
    expect(composer).to_be_focused()
    assert composer.bounding_box()["height"] == empty
    # The tap takes the focus from the empty box: if the box shrank then, the page
    # would move under the finger and the tap would land on nothing (it used to).
    own.locator("[data-action=edit]").tap()
    box = own.locator("form.edit-form textarea")
    expect(box).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" @a")
    listbox = own.get_by_role("listbox", name=LIST_NAME["sv"])
    options = listbox.get_by_role("option")
    expect(options).to_have_count(2)
    assert_accessible(page, "inline edit suggesting names on a phone (sv)")
    feed = page.locator("#feed").bounding_box()
    for n in range(2):
        option = options.nth(n)
        option.scroll_into_view_if_needed()
        at = option.bounding_box()
        assert at["height"] >= 44, at  # a finger's size
        assert at["x"] >= 0 and at["x"] + at["width"] <= 375, at
        # reachable: what is drawn at the option's middle is the option itself
        hit = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.closest('[role=option]')?.id",
            [at["x"] + at["width"] / 2, at["y"] + at["height"] / 2],
        )
        assert hit == option.get_attribute("id"), (n, hit, at, feed)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    chosen = options.nth(1).locator(".mention-handle").text_content()
    options.nth(1).tap()
    expect(listbox).to_be_hidden()
    expect(own.locator("form.edit-form")).to_have_count(1)  # still editing, unsaved
    expect(box).to_be_focused()
    expect(box).to_have_value(f"Ändras på telefonen {chosen} ")
