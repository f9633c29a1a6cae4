"""What a screen reader is told on a live thread, where focus goes after a refused form,
and that a live message's time reads as the server writes it."""

from __future__ import annotations

import pytest
from browsing import login
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_refused_login_moves_focus_to_the_error_summary(world, new_page):
    page = new_page("en")
    page.goto(world.url + "/login")
    page.fill("input[name=email]", world.alice_email)
    page.fill("input[name=password]", "not the password")
    page.locator("main form [type=submit]").click()
    expect(page.locator(".error-summary")).to_be_focused()


def test_a_refused_slow_mode_moves_focus_to_its_field(world, new_page):
    page = new_page("en")
    login(page, world, world.moderator_email)
    page.goto(f"{world.url}/threads/{world.thread_id}")
    page.locator("#thread-controls > summary").click()
    page.fill("#slow-seconds", "1e3")  # a number to the browser, not a whole one to the form
    page.locator("form:has(#slow-seconds) [type=submit]").click()
    field = page.locator("#slow-seconds")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-describedby", "slow-seconds-error")
    expect(page.locator("#slow-seconds-error")).to_have_text(
        "Seconds between messages must be a whole number."
    )
