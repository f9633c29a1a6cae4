"""In Chromium, what a WCAG review found on the round page, the follow-up dashboard and after a
saved form: at 320 px a round's facts broke their words letter by letter and, with the text
spacing of WCAG 1.4.12, widened the page (1.4.10); the dashboard's figure tables shrank to a
letter a line and split 13 into 1 over 3 instead of scrolling in their region; and a
confirmation after a post ("Your settings are saved.") was on the page, unread, with the
focus nowhere (4.1.3)."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, draft_consultation, login
from playwright.sync_api import expect
from test_browser_catch_up import _write_while_away
from test_browser_reflow import OVERFLOWING

pytestmark = pytest.mark.browser
LOCALES = {"sv": "sv-SE", "en": "en-GB"}
NARROW = {"width": 320, "height": 640}
ZOOM_400 = {"width": 320, "height": 256}  # 1280 x 1024 at 400 %
# WCAG 1.4.12's text spacing, as the bookmarklets apply it
SPACING = (
    "* { line-height: 1.5 !important; letter-spacing: 0.12em !important;"
    " word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }"
)

# The words (runs of letters and digits) inside `selector` that are drawn on more than one
# line: a word broken where it has no break. Measured on the text itself (a range per word,
# one box per line it is drawn on), so it holds whatever the fonts and spacing.
BROKEN_WORDS = """
(selector) => {
  const broken = [];
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[\\p{L}\\p{N}]+/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}
"""
PAGE_WIDTHS = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def widths(page) -> tuple[int, int]:
    scroll, client = page.evaluate(PAGE_WIDTHS)
    return scroll, client


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_rounds_facts_keep_their_words_at_320_px_with_text_spacing(world, browser, lang):
    # the spacing comes as a style sheet of the reader's own, which the site's CSP would refuse
    context = browser.new_context(
        locale=LOCALES[lang], viewport={"width": 1100, "height": 900}, bypass_csp=True
    )
    try:
        _check_round_facts(world, context.new_page(), lang)
    finally:
        context.close()


def _check_round_facts(world, page, lang: str) -> None:
    login(page, world, world.official_email)
    round_id = draft_consultation(
        page, world, f"Lokaler för föreningslivet {lang}", "Hur räcker lokalerna till?"
    )
    page.set_viewport_size(NARROW)
    page.goto(f"{world.url}/consultations/{round_id}")
    facts = page.locator(".facts dd")
    expect(facts.first).to_be_visible()
    assert facts.count() >= 6
    for spacing in (False, True):
        if spacing:
            page.add_style_tag(content=SPACING)
        label = f"{lang}, {'with' if spacing else 'without'} text spacing"
        scroll, client = widths(page)
        assert scroll <= client, f"{label}: {scroll} px wide in {client}: " + str(
            page.evaluate(OVERFLOWING)
        )
        assert page.evaluate(BROKEN_WORDS, ".facts dd") == [], label
        assert page.evaluate(BROKEN_WORDS, ".facts dt") == [], label
    assert_accessible(page, f"round page at 320 px ({lang})")
    # on a wide screen the label is still beside its value
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(f"{world.url}/consultations/{round_id}")
    first_label = page.locator(".facts dt").first.bounding_box()
    first_value = facts.first.bounding_box()
    assert first_label and first_value
    assert first_value["x"] > first_label["x"] + first_label["width"]
    assert abs(first_value["y"] - first_label["y"]) < 4


def _thirteen_messages(world) -> None:
    """Thirteen messages more in the world's thread: a count of two digits on the dashboard."""
    from forum.services import forums

    def work(users):
        for n in range(13):
            forums.send_message(
                users[world.bob_email], world.thread_id, f"Inlägg {n}", f"figures-{n}"
            )

    _write_while_away(world, work)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_dashboards_figure_tables_scroll_instead_of_breaking_numbers(world, browser, lang):
    if lang == "sv":
        _thirteen_messages(world)
    for viewport in (NARROW, ZOOM_400):
        context = browser.new_context(locale=LOCALES[lang], viewport=viewport)
        try:
            page = context.new_page()
            page.goto(f"{world.url}/uppfoljning")
            label = f"{lang} at {viewport}"
            expect(page.locator("#figures-dialogue td.num").first).to_be_visible()
            assert re.search(r"\b\d{2,}\b", page.locator("#dialogue-total").inner_text()), label
            scroll, client = widths(page)
            assert scroll == client, f"{label}: the page is {scroll} px wide in {client}"
            # no figure and no heading is broken inside a word
            assert page.evaluate(BROKEN_WORDS, "table.figures td") == [], label
            assert page.evaluate(BROKEN_WORDS, "table.figures th") == [], label
            # each number on one line: its cell no taller than a one-line row
            tall = page.evaluate(
                """() => [...document.querySelectorAll("table.figures td.num")].filter((td) => {
                    const range = document.createRange();
                    range.selectNodeContents(td);
                    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
                }).map((td) => td.textContent.trim())"""
            )
            assert tall == [], label
            # every figure table is in a named region that takes the keyboard and scrolls
            tables = page.locator("table.figures")
            assert tables.count() >= 3
            for index in range(tables.count()):
                region = tables.nth(index).locator("xpath=..")
                assert region.get_attribute("class") == "table-scroll", label
                assert region.get_attribute("role") == "region"
                assert region.get_attribute("tabindex") == "0"
                named = region.get_attribute("aria-labelledby")
                assert named and page.locator(f"#{named}").inner_text().strip()
            assert_accessible(page, f"dashboard, {label}")
            region = page.locator("#figures-dialogue").locator("xpath=..")
            assert region.evaluate("(r) => r.scrollWidth > r.clientWidth"), label
            region.focus()
            expect(region).to_be_focused()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("(r) => r.scrollLeft > 0", arg=region.element_handle())
        finally:
            context.close()


SAVED = {"sv": "Dina inställningar är sparade.", "en": "Your settings are saved."}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_saved_setting_puts_the_focus_on_its_confirmation(world, new_page, lang):
    page = new_page(lang)
    email = world.member_emails[0 if lang == "sv" else 1]
    page.goto(f"{world.url}/settings")  # not logged in: a notice, not the result of a post
    page.wait_for_url("**/login**")
    login(page, world, email)
    page.goto(f"{world.url}/settings")
    assert page.evaluate("document.activeElement === document.body")
    page.fill("#display_name", f"Ny Namnsson {lang}")
    page.locator("button[name=save_settings]").click()
    page.wait_for_load_state("load")
    flashes = page.locator(".flashes")
    expect(flashes).to_contain_text(SAVED[lang])
    expect(flashes).to_be_focused()
    expect(flashes).to_have_attribute("role", "status")
    assert_accessible(page, f"settings saved ({lang})")
    # Tab goes on from the confirmation into the page, not back to the top
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')")
    # opened again, nothing is said and nothing takes the focus
    page.goto(f"{world.url}/settings")
    expect(page.locator(".flashes")).to_have_count(0)
    assert page.evaluate("document.activeElement === document.body")


def test_a_notice_on_a_page_merely_opened_leaves_the_focus(world, new_page):
    """Sent to the log-in page by a page that needs it: its notice is not the result of
    anything the person sent, and the page opens as any page does."""
    page = new_page("en")
    page.goto(f"{world.url}/settings")
    page.wait_for_url("**/login**")
    expect(page.locator(".flashes")).to_be_visible()
    assert page.evaluate("document.activeElement === document.body")


def test_a_confirmation_on_a_page_opened_at_what_was_acted_on_keeps_the_place(world, new_page):
    """Flagging a message goes back to it in the thread (…#m12): the focus is not taken to
    the top of the page, and the confirmation is said again in its region."""
    page = new_page("en")
    login(page, world, world.member_emails[2])
    page.goto(f"{world.url}/messages/{world.message_id}/flag")
    page.locator("input[name=reason]").first.check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**/threads/{world.thread_id}#m{world.message_id}")
    flashes = page.locator(".flashes")
    expect(flashes.locator(".flash-success")).to_be_visible()
    assert not page.evaluate("document.activeElement.closest('.flashes')")
