"""Helpers for browser tests: log in, open a thread and send, check accessibility with axe,
take screenshots."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from support import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
# The README's pictures are written only on request (`make screenshots` sets this);
# otherwise they go to the ignored test-artifacts/ so that a test run leaves git clean.
README_SCREENSHOTS = os.environ.get("FORUM_SCREENSHOTS") == "1"
SCREENSHOTS = (
    ROOT / "docs" / "screenshots" if README_SCREENSHOTS else ROOT / "test-artifacts" / "screenshots"
)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Every wait is on a condition (expect(...), wait_for_url, a page's load event); this is
# only how long a condition may take before the test fails. A loaded machine makes pages
# slow, not wrong, so the ceiling is generous: a passing test never waits it out.
TIMEOUT_MS = int(os.environ.get("FORUM_BROWSER_TIMEOUT_MS", "60000"))
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def login(page, world, email: str) -> None:
    """Log `email` in on the page's browser context, as the login form does, and leave the
    page where it was (blank for a new page). The form is posted over HTTP with the browser's
    user agent (ServerProcess.login) and the session's cookie handed to the context, not
    filled in on screen: a new context's first pages (the login page, then the start page it
    leads to) cost about a second each, the most of many tests. The form itself is driven by
    keyboard in test_browser_foundation.py."""
    timeout = TIMEOUT_MS / 1000
    user_agent = page.evaluate("navigator.userAgent")
    http = world.server.login(email, PASSWORD, user_agent, timeout)
    # the start page the form leads to shows, and so uses up, "You are logged in."
    http.get(world.url + "/", timeout=timeout).raise_for_status()
    page.context.add_cookies(
        [
            {
                "name": cookie.name,
                "value": cookie.value or "",
                "url": world.url,
                "httpOnly": cookie.has_nonstandard_attr("HttpOnly"),
                "sameSite": "Lax",
            }
            for cookie in http.cookies
        ]
    )


def open_thread(page, world, thread_id: int | None = None) -> None:
    """Open a thread (the world's own unless given) and wait until its socket is connected."""
    page.goto(f"{world.url}/threads/{thread_id or world.thread_id}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")


def wait_until_live(page) -> None:
    """Wait until the page's socket is connected (and so in the person's own room): a page
    with no thread shows no connection state, and what is sent before it connects is not
    announced on it (a loaded machine may take seconds)."""
    page.wait_for_function("() => import('/static/js/live.js').then((m) => m.socket.connected)")


def toggle_lock(moderator, world, thread_id: int) -> None:
    """Lock or unlock the thread as a moderator does, from the thread page's controls."""
    moderator.goto(f"{world.url}/threads/{thread_id}")
    moderator.locator("#thread-controls summary").click()
    moderator.locator("#toggle-lock").click()
    expect(moderator.locator(".flash")).to_be_visible()


def hide_message(moderator, world, message_id, note: str = "Personuppgifter") -> None:
    """The moderator hides a message from its moderation page (reason "other", `note`)."""
    moderator.goto(f"{world.url}/moderation/messages/{message_id}")
    moderator.locator("details.review-form summary").first.click()
    moderator.select_option(f"#hide-reason-{message_id}", "other")
    moderator.fill(f"#hide-note-{message_id}", note)
    moderator.locator(f"form[action$='/{message_id}/hide'] [type=submit]").click()
    expect(moderator.locator(".flash-success")).to_be_visible()


def send(page, text: str) -> None:
    """Type `text` into the composer and send it with Enter."""
    page.fill("#body", text)
    page.press("#body", "Enter")


def message(page, text: str, stored: bool = False):
    """The message whose own text (not a quote of it) contains `text`; with `stored`, only
    once the server has it (it has an id; a row still in the outbox has none)."""
    rows = page.locator("li.message[data-id]" if stored else "li.message")
    return rows.filter(has=page.locator("[data-slot=body]", has_text=text))


def local(delta: timedelta) -> str:
    """Now plus `delta` as a datetime-local field takes it, in Stockholm's time."""
    return (datetime.now(UTC) + delta).astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M")


def draft_consultation(page, world, title: str, problem: str) -> int:
    """The official fills in a new round (open from an hour ago for a week, two questions,
    inviting Kulturföreningen) and saves the draft; returns its id."""
    page.goto(f"{world.url}/consultations/new")
    page.fill("#title", title)
    page.fill("#problem", problem)
    page.fill("#background", "Kulturnämnden ser över sina lokaler.")
    page.check("input[name=stage][value=options]")
    page.fill("#decision_date", "2027-04-01")
    page.fill("#opens_at", local(-timedelta(hours=1)))
    page.fill("#closes_at", local(timedelta(days=7)))
    page.fill("#question-1", "Vilka lokaler saknas?")
    page.fill("#guidance-1", "Tänk på kvällar och helger.")
    page.fill("#question-2", "Vem kan dela sina lokaler?")
    page.check("input[name=audience][value=invited]")
    page.locator("#invited input[type=checkbox]").first.check()
    page.locator("#commitments input[type=checkbox]").nth(2).check()
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(re.compile(r"/consultations/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def assert_accessible(page, label: str) -> None:
    """Zero axe violations for WCAG 2.1 A and AA on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    violations = results.response["violations"]
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in violations
    ]
    assert not violations, f"{label}: " + "\n".join(summary)


def screenshot(page, name: str) -> None:
    """Save the page as `name`.png: for the README under FORUM_SCREENSHOTS=1, else an artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
