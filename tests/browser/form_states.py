"""Checks shared by the browser tests of refused and confirming form pages (a save that
clashed with someone else's, a used one-time form, a field error, a confirmation): axe at
desktop and phone width, no sideways scrolling at 375 px, and the keyboard's way from the
error summary to each box it names."""

from __future__ import annotations

from browsing import assert_accessible
from playwright.sync_api import expect
from test_browser_reflow import OVERFLOWING

DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 375, "height": 740}


def check_widths(page, label: str) -> None:
    """axe (WCAG 2.1 A and AA) at desktop width and at 375 px, and nothing wider than the
    phone's screen; the page is not reloaded, so a posted state stays as it is."""
    assert_accessible(page, f"{label}, desktop")
    page.set_viewport_size(PHONE)
    try:
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], f"{label}: {wide} px wide at 375 px: " + str(
            page.evaluate(OVERFLOWING)
        )
        assert_accessible(page, f"{label}, 375 px")
    finally:
        page.set_viewport_size(DESKTOP)


def check_summary(page, label: str, boxes: dict[str, str]) -> None:
    """The error summary has focus (header.js) as the page opens, links each of `boxes` (id
    -> the text typed there, still in it), and Tab then Enter on a link puts the keyboard in
    its box."""
    summary = page.locator(".error-summary")
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_be_focused()
    links = summary.locator("a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
        f"#{box}" for box in boxes
    ], label
    for index, (box, typed) in enumerate(boxes.items()):
        summary.focus()
        for _ in range(index + 1):
            page.keyboard.press("Tab")
        expect(links.nth(index)).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(f"#{box}")).to_be_focused()
        if typed is not None:
            expect(page.locator(f"#{box}")).to_have_value(typed)
