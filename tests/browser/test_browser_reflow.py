"""WCAG 1.4.10 reflow: at 320 CSS pixels no page scrolls sideways; wide tables
scroll inside their own captioned, focusable region instead."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from browsing import login
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
LOCALES = {"sv": "sv-SE", "en": "en-GB"}

PAGES = [
    "/",
    "/forums",
    "/forums/{forum_slug}",
    "/threads/{thread_id}",
    "/messages/{message_id}/revisions",
    "/consultations",
    "/consultations/new",
    "/overenskommelsen",
    "/organisations",
    "/organisations/{org_slug}",
    "/uppfoljning",
    "/uppfoljning/rapport",
    "/actions",
    "/actions/new",
    "/actions/{action_id}",
    "/commitments/dialogforum-och-dialogformer",
    "/notifications",
    "/notifications?show=unread",
    "/settings",
    "/moderation",
    "/moderation/audit",
    "/moderation/people",
    "/moderation/transparency",
    "/admin",
    "/tillganglighet",
]

# Elements wider than the viewport that are not inside something scrolling on its own.
OVERFLOWING = """
() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width) continue;
    let p = el.parentElement, contained = false;
    while (p && p !== document.body) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") { contained = true; break; }
      p = p.parentElement;
    }
    if (!contained) out.push(el.tagName + (el.id ? "#" + el.id : "") + "." + el.className + " " + Math.round(r.right));
  }
  for (const el of document.querySelectorAll("body *")) {
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible") {
      out.push("text:" + el.tagName + (el.id ? "#" + el.id : "") + "." + el.className);
    }
  }
  return out.slice(0, 8);
}
"""


def local(delta: timedelta) -> str:
    return (
        (datetime.now(UTC) + delta)
        .astimezone(ZoneInfo("Europe/Stockholm"))
        .strftime("%Y-%m-%dT%H:%M")
    )


def a_round(page, world) -> str:
    """A draft round with long words, as the official sees it (the page was 399 px wide)."""
    page.goto(f"{world.url}/consultations/new")
    page.fill("#title", "Föreningslivsutvecklingsprogrammet och lokalförsörjningsfrågorna")
    page.fill("#problem", "Hur når **kulturverksamheterna** alla stadsdelsnämndsområden?")
    page.fill("#background", "https://example.org/en/mycket/lang/adress/utan/mellanslag/alls")
    page.check("input[name=stage][value=options]")
    page.fill("#decision_date", "2027-04-01")
    page.fill("#opens_at", local(timedelta(days=1)))
    page.fill("#closes_at", local(timedelta(days=8)))
    page.fill("#question-1", "Vilka lokaler saknas?")
    page.check("input[name=audience][value=all_verified]")
    page.locator("#commitments input[type=checkbox]").nth(2).check()
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(re.compile(r"/consultations/\d+$"))
    return page.url.removeprefix(world.url)


def an_action(page, world) -> int:
    """An action the official proposes for his own department, tied to a commitment (its
    page's facts and progress bar were 30 px too wide at 320 px); returns its id."""
    page.goto(f"{world.url}/actions/new")
    page.fill("#title", "Gemensam bokningskalender för föreningslokalerna i stadsdelarna")
    page.fill("#description", "En **kalender** för alla lokaler.")
    page.select_option("#owner", label="Kulturnämnden")
    page.fill("#due_date", "2031-06-30")
    page.locator("#commitments input[type=checkbox]").first.check()
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(re.compile(r"/actions/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_no_page_scrolls_sideways_at_320_px(world, browser, lang):
    context = browser.new_context(
        locale={"sv": "sv-SE", "en": "en-GB"}[lang], viewport={"width": 320, "height": 640}
    )
    context.set_default_timeout(10_000)
    official = None
    try:
        page = context.new_page()
        login(page, world, world.admin_email)
        names = {
            "forum_slug": world.forum_slug,
            "thread_id": world.thread_id,
            "message_id": world.message_id,
            "org_slug": world.org_slug,
        }
        official = browser.new_context(
            locale=LOCALES[lang], viewport={"width": 1100, "height": 900}
        ).new_page()
        official.context.set_default_timeout(10_000)
        login(official, world, world.official_email)
        round_path = a_round(official, world)
        expect(official.locator("h1")).to_contain_text("Föreningslivs")
        names["action_id"] = an_action(official, world)
        problems = {}
        official.set_viewport_size({"width": 320, "height": 640})
        official.goto(world.url + round_path)
        if official.evaluate("document.documentElement.scrollWidth") > 320:
            problems[round_path] = official.evaluate(OVERFLOWING)
        for path in PAGES:
            url = world.url + path.format(**names)
            response = page.goto(url)
            assert response is not None and response.status < 400, (
                path,
                response and response.status,
            )
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > 320:
                problems[path] = (scroll, page.evaluate(OVERFLOWING))
        assert not problems, problems
        # Wide tables scroll inside a region that names itself and takes focus
        page.goto(world.url + "/uppfoljning")
        region = page.locator(".table-scroll").first
        assert region.get_attribute("role") == "region"
        assert region.get_attribute("tabindex") == "0"
        assert page.locator("#" + region.get_attribute("aria-labelledby")).text_content()
    finally:
        context.close()
        if official is not None:
            official.context.close()


CODE_LINE = "    https://goteborg.se/protokoll/social-resursnamnd/bilaga-3-lokalregler-" + "x" * 60


def test_a_code_block_wraps_in_a_message_and_in_an_actions_progress(world, new_page):
    """A code block (markdown: an indented line) with a long line: in a message it scrolled
    sideways inside a region a keyboard could not reach (axe: scrollable-region-focusable),
    and in an action's progress report it widened the whole page at 375 px."""
    from browsing import assert_accessible, message, open_thread, send

    page = new_page("sv", phone=True)
    login(page, world, world.official_email)
    open_thread(page, world)
    send(page, "Kör så här:\n\n" + CODE_LINE)
    expect(message(page, "bilaga-3", stored=True)).to_have_count(1)
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert_accessible(page, "thread with a long code line, phone")
    action_id = an_action(page, world)
    page.fill("#body", "Protokollet finns här:\n\n" + CODE_LINE)
    page.locator("#post-update").click()
    expect(page.locator(".updates pre")).to_be_visible()
    page.goto(f"{world.url}/actions/{action_id}")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert_accessible(page, "an action's progress with a long code line, phone")
