"""First taps on a phone (375 px, touch): each does what it says the first time.

A tap on a phone is mousedown, focus change, mouseup, click. If the focus change moves
the layout (a box that grows on focus and shrinks on blur), the press and the release
land on different elements and the click goes to their common ancestor: nothing
happens. The thread page had that (commit 73062bc); these tests tap the main phone
controls from the states that could move them, and check that each target is big
enough and drawn where the finger lands.
"""

from __future__ import annotations

import re

import pytest
from browsing import draft_consultation, login, open_thread
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FINGER = 44  # px: the size the site gives its own phone controls (2.75rem)
# The controls in a message's rows: the reaction buttons' own 2rem, more than WCAG 2.2's
# 24 px minimum (2.5.8); a full 44 px would make every message a row taller.
ROW_FINGER = 32


def assert_tappable(page, locator, least: int) -> None:
    """On screen, at least `least` px each way, and what is drawn at its middle is it."""
    at = locator.bounding_box()
    assert at is not None
    assert at["height"] >= least - 0.5 and at["width"] >= least - 0.5, at  # 2rem: 31.98 px
    assert at["x"] >= 0 and at["x"] + at["width"] <= page.viewport_size["width"], at
    hit = locator.evaluate(
        "(el, [x, y]) => el.contains(document.elementFromPoint(x, y))",
        [at["x"] + at["width"] / 2, at["y"] + at["height"] / 2],
    )
    assert hit, at


def to_bottom(page) -> None:
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")


def send(page, text: str):
    """Sends from the composer as on a phone; returns the message, once the server has it."""
    composer = page.locator("#body")
    composer.tap()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    own = page.locator("li.message[data-id]").filter(has_text=text)
    expect(own).to_have_count(1)
    return page.locator(f"#m{own.get_attribute('data-id')}")


def ready_composer(page, draft: str) -> None:
    """The page at its bottom, the composer focused, holding `draft` (or empty)."""
    composer = page.locator("#body")
    to_bottom(page)
    composer.tap()
    expect(composer).to_be_focused()
    if composer.input_value() != draft:
        composer.fill("")
        page.keyboard.type(draft)
    expect(composer).to_have_value(draft)
    to_bottom(page)


DRAFTS = ["", "Ett utkast"]


def test_reply_edit_react_and_delete_take_the_first_tap(world, new_page):
    page = new_page("sv", phone=True)
    login(page, world, world.bob_email)
    open_thread(page, world)
    # enough messages that the page scrolls and the composer sticks to the bottom
    for n in range(5):
        last = send(page, f"Rad {n} från telefonen")
    assert page.evaluate("document.scrollingElement.scrollHeight") > 740
    composer = page.locator("#body")

    for draft in DRAFTS:
        # Reply: the composer says whom, and keeps what was typed.
        ready_composer(page, draft)
        reply = last.locator("[data-action=reply]")
        assert_tappable(page, reply, ROW_FINGER)
        reply.tap()
        expect(page.locator("#replying")).to_be_visible()
        expect(page.locator("#replying-text")).to_have_text("Svarar Bob Berg")
        expect(page.locator("#reply_to")).to_have_value(last.get_attribute("data-id"))
        expect(composer).to_be_focused()
        expect(composer).to_have_value(draft)
        cancel = page.locator("#cancel-reply")
        assert_tappable(page, cancel, ROW_FINGER)
        cancel.tap()
        expect(page.locator("#replying")).to_be_hidden()
        expect(page.locator("#reply_to")).to_have_value("")
        expect(composer).to_have_value(draft)

        # Edit: the first tap opens the edit, and a tap on Save saves it.
        ready_composer(page, draft)
        last.locator("[data-action=edit]").tap()
        box = last.locator("form.edit-form textarea")
        expect(box).to_be_focused()
        page.keyboard.press("End")
        page.keyboard.type(" (ändrad)")
        save = last.get_by_role("button", name="Spara")
        assert_tappable(page, save, ROW_FINGER)
        save.tap()
        expect(last.locator("form.edit-form")).to_have_count(0)
        expect(last.locator("[data-slot=body]")).to_contain_text("(ändrad)")
        expect(composer).to_have_value(draft)

        # React: open the picker, take a reaction; tap it again to take it back.
        ready_composer(page, draft)
        picker = last.locator("details.reaction-picker")
        summary = picker.locator("summary")
        assert_tappable(page, summary, ROW_FINGER)
        summary.tap()
        expect(picker).to_have_attribute("open", "")
        pick = picker.locator("button[data-reaction-pick]").first
        emoji = pick.get_attribute("data-reaction-pick")
        counted = last.locator(f'button[data-reaction="{emoji}"]')
        ready_composer(page, draft)
        assert_tappable(page, pick, ROW_FINGER)
        pick.tap()
        expect(counted).to_have_attribute("aria-pressed", "true")
        expect(counted.locator("[data-reaction-count]")).to_have_text("1")
        expect(composer).to_have_value(draft)
        ready_composer(page, draft)
        assert_tappable(page, counted, ROW_FINGER)
        counted.tap()
        expect(counted).to_have_attribute("aria-pressed", "false")
        expect(counted.locator("[data-reaction-count]")).to_have_text("0")
        expect(composer).to_have_value(draft)
        composer.fill("")

    for draft in DRAFTS:
        # Delete: the first tap asks, and yes deletes.
        ready_composer(page, draft)
        asked = []

        def accept(dialog, asked=asked):
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        delete = last.locator("[data-action=delete]")
        assert_tappable(page, delete, ROW_FINGER)
        delete.tap()
        expect(last).to_have_attribute("data-state", "deleted")
        assert asked == ["Vill du ta bort meddelandet?"]
        expect(composer).to_have_value(draft)
        composer.fill("")
        last = page.locator(
            f"#m{page.locator('li.message[data-state=visible]').last.get_attribute('data-id')}"
        )
        expect(last.locator("[data-action=delete]")).to_be_visible()


def tap_menu_open(page) -> None:
    button = page.get_by_role("button", name="Meny")
    expect(button).to_have_attribute("aria-expanded", "false")
    nav = page.get_by_role("navigation", name="Huvudmeny")
    expect(nav).to_be_hidden()
    button.scroll_into_view_if_needed()
    assert_tappable(page, button, FINGER)
    button.tap()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    menu = page.locator("#site-menu")
    for control in menu.locator("a, button, input:not([type=hidden])").all():
        assert_tappable(page, control, ROW_FINGER)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    # and the second tap closes it
    button.tap()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()


def test_the_menu_opens_on_the_first_tap(world, new_page):
    page = new_page("sv", phone=True)
    login(page, world, world.bob_email)
    page.goto(f"{world.url}/forums")
    tap_menu_open(page)
    open_thread(page, world)
    for draft in DRAFTS:
        # from the composer at the bottom of the thread, the page scrolled down
        ready_composer(page, draft)
        tap_menu_open(page)
        page.locator("#body").fill("")


def positions(page, selector: str):
    """Where each of the form's controls is on the page (not the screen)."""
    return page.eval_on_selector_all(
        selector,
        """els => els.map(el => {
            const r = el.getBoundingClientRect();
            return [el.name || el.id, Math.round(r.left), Math.round(r.top + window.scrollY),
                    Math.round(r.width), Math.round(r.height)];
        })""",
    )


def assert_still_on_focus(page, form: str) -> None:
    """Focusing each field, then leaving it, moves nothing in the form."""
    controls = f"{form} input:not([type=hidden]), {form} textarea, {form} button"
    # header.js folds the phone menu once the modules have loaded: measure after that
    expect(page.locator(".site-header.menu-ready")).to_have_count(1)
    before = positions(page, controls)
    fields = page.locator(f"{form} input[type=text], {form} textarea")
    assert fields.count() > 0
    for n in range(fields.count()):
        field = fields.nth(n)
        field.tap()
        expect(field).to_be_focused()
        assert positions(page, controls) == before, f"focus on field {n}"
    page.locator("h1").tap()
    assert positions(page, controls) == before, "after leaving the fields"


def test_a_thread_is_started_with_taps(world, new_page):
    page = new_page("sv", phone=True)
    login(page, world, world.official_email)
    page.goto(f"{world.url}/forums/{world.forum_slug}")
    form = "form.stack:has(#title)"
    assert_still_on_focus(page, form)
    page.locator("#title").tap()
    page.keyboard.type("Startad på telefonen")
    box = page.locator(f"{form} input[type=checkbox]").first
    box.tap()
    expect(box).to_be_checked()
    page.locator(f"{form} textarea").tap()
    page.keyboard.type("Första raden, skriven med tummen.")
    start = page.get_by_role("button", name="Starta tråden")
    # the keyboard is still up on a real phone: the tap leaves the text box first
    expect(page.locator(f"{form} textarea")).to_be_focused()
    assert_tappable(page, start, ROW_FINGER)
    start.tap()
    page.wait_for_url(re.compile(r"/threads/\d+"))
    expect(page.locator("#thread-title")).to_have_text("Startad på telefonen")
    expect(page.locator("li.message").first).to_contain_text("skriven med tummen")


def open_round(page, world, title: str) -> int:
    """The official drafts a round that invites Kulturföreningen, and opens it."""
    round_id = draft_consultation(page, world, title, "Hur når kulturen alla?")
    page.locator("#open-round").click()
    page.locator(f"form[action='/consultations/{round_id}/open'] button").click()
    expect(page.locator("#round-phase")).to_have_text("Öppen för svar")
    return round_id


def test_a_consultation_response_is_written_with_taps(world, new_page):
    official = new_page("sv")
    login(official, world, world.official_email)
    round_id = open_round(official, world, "Lokaler på telefonen")
    page = new_page("sv", phone=True)
    login(page, world, world.alice_email)
    page.goto(f"{world.url}/consultations/{round_id}")
    respond = page.locator(f"main a[href*='/consultations/{round_id}/response']").first
    respond.scroll_into_view_if_needed()
    assert_tappable(page, respond, 0)  # a link in running text: its line is its size
    respond.tap()
    form = "form.stack.wide"
    answers = page.locator(f"{form} textarea[name^=answer-]")
    expect(answers).to_have_count(2)
    assert_still_on_focus(page, form)
    answers.nth(0).tap()
    page.keyboard.type("Repetitionslokaler på kvällar.")
    answers.nth(1).tap()
    page.keyboard.type("Vi delar vår scen på söndagar.")
    save = page.get_by_role("button", name="Spara utkastet")
    expect(answers.nth(1)).to_be_focused()
    save.scroll_into_view_if_needed()
    assert_tappable(page, save, ROW_FINGER)
    save.tap()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(answers.nth(0)).to_have_value("Repetitionslokaler på kvällar.")
    expect(answers.nth(1)).to_have_value("Vi delar vår scen på söndagar.")
