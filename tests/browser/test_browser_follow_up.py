"""Follow-up in real browsers: propose from a message, accept, update, notify, dashboard."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, login, screenshot
from form_states import check_summary, check_widths
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
LONG = "https://example.org/kultur/lokaler/" + "bokningskalender-for-foreningar-" * 3


def test_action_from_a_message_to_the_dashboard(world, new_page):
    alice, official = new_page("sv"), new_page("en")
    login(alice, world, world.alice_email)
    login(official, world, world.official_email)

    # the member proposes an action from her message
    alice.goto(f"{world.url}/threads/{world.thread_id}")
    link = alice.locator(f"#m{world.message_id} [data-slot=action-link]")
    expect(link).to_have_attribute("href", f"/actions/new?message={world.message_id}")
    link.click()
    alice.wait_for_url(re.compile(r"/actions/new\?message=\d+$"))
    assert_accessible(alice, "propose form (sv)")
    alice.fill("#title", "Repetitionslokal på kvällstid")
    alice.fill("#description", "Öppna **Kulturhusets** källare för repetitioner.")
    alice.select_option("#owner", label="Kulturnämnden")
    alice.fill("#due_date", "2031-06-30")
    expect(alice.locator("#commitments input:checked")).to_have_count(1)
    alice.locator("form.stack button[type=submit]").click()
    alice.wait_for_url(re.compile(r"/actions/\d+$"))
    action_url = alice.url
    expect(alice.locator("#follow-action")).to_be_visible()  # she follows it already
    commitment_href = alice.locator(".facts a.tag").first.get_attribute("href")
    assert commitment_href and commitment_href.startswith("/commitments/")
    slug = commitment_href.rsplit("/", 1)[1]
    alice.goto(f"{world.url}/")
    expect(alice.locator("[data-notification-count]")).to_have_text("0")

    # the official accepts it and posts an update
    official.goto(action_url)
    official.locator("#accept-action").click()
    expect(official.locator(".flash-success")).to_be_visible()
    expect(official.locator("#action-status")).to_contain_text("Planned")
    official.select_option("#status", "in_progress")
    official.fill("#progress", "30")
    official.locator("form[action$='/change'] button[type=submit]").click()
    expect(official.locator("#action-progress-text")).to_have_text("30 %")
    official.fill("#body", "Källaren är **bokad** tisdagar.")
    official.locator("#post-update").click()
    expect(official.locator(".updates")).to_contain_text("bokad")
    assert_accessible(official, "action page (en)")

    # the member, who follows it, is told live and finds the update
    expect(alice.locator("[data-notification-count]")).to_have_text("2")
    alice.goto(f"{world.url}/notifications")
    # the newest notification is the update; opening it marks it read
    alice.locator(".notifications-list a").first.click()
    alice.wait_for_url(re.compile(re.escape(action_url) + "#update-"))
    expect(alice.locator("[data-notification-count]")).to_have_text("1")
    expect(alice.locator(".updates")).to_contain_text("bokad")
    assert_accessible(alice, "action page (sv)")

    # the commitment page lists it and the dashboard counts it under its commitment
    for page, lang in ((alice, "sv"), (official, "en")):
        page.goto(f"{world.url}{commitment_href}")
        expect(page.locator("#c-actions")).to_be_visible()
        expect(page.locator(".action-list")).to_contain_text("Repetitionslokal på kvällstid")
        assert_accessible(page, f"commitment page ({lang})")
        page.goto(f"{world.url}/uppfoljning")
        row = page.locator(f"#row-{slug}")
        expect(row.locator("td[data-status=in_progress]")).to_have_text("1")
        expect(page.locator("svg[role=img]").first).to_be_visible()
        assert_accessible(page, f"dashboard ({lang})")
    official.goto(f"{world.url}/uppfoljning/rapport")
    expect(official.locator("h1")).to_contain_text("Annual follow-up report")
    official.goto(f"{world.url}/uppfoljning")
    screenshot(official, "follow-up")


def used_form(page, form: str, boxes: dict[str, str], button: str) -> None:
    """Send `form`, come Back to it with its token (as a browser restoring the page does;
    Chromium fetches a fresh one), change the text and send it again: a 409."""
    token = page.locator(f"{form} input[name=form_token]").input_value()
    page.locator(button).click()
    expect(page.locator(".flash-success")).to_be_visible()
    page.go_back()
    page.locator(f"{form} input[name=form_token]").evaluate("(el, t) => { el.value = t; }", token)
    for box, text in boxes.items():
        page.fill(f"#{box}", text)
    page.locator(button).click()
    expect(page.locator(".flashes .flash-error")).to_be_visible()
    assert page.locator(f"{form} input[name=form_token]").input_value() != token


def test_used_follow_up_forms_and_offline_keep_the_text(world, new_page):
    for lang in ("sv", "en"):
        official = new_page(lang)
        login(official, world, world.official_email)
        # the propose form, sent, then sent again from Back with other words
        official.goto(f"{world.url}/actions/new")
        official.fill("#title", f"Gemensam bokningskalender ({lang})")
        official.fill("#description", "En **kalender** för alla lokaler.")
        official.select_option("#owner", label="Kulturnämnden")
        official.fill("#due_date", "2031-06-30")
        official.locator("#commitments input[type=checkbox]").first.check()
        boxes = {"title": f"Nattöppna bibliotek ({lang})", "description": LONG}
        used_form(official, "form.stack", boxes, "form.stack button[type=submit]")
        label = f"propose form used for another action ({lang})"
        for box, text in boxes.items():
            expect(official.locator(f"#{box}")).to_have_value(text)
        refusal = official.locator(".flashes .flash-error")
        expect(refusal).to_be_focused()  # read out at once, as an error summary is
        check_widths(official, label)
        expect(official.locator("form.stack")).to_have_attribute("data-offline", re.compile(r"\w"))
        official.locator("form.stack button[type=submit]").click()  # now a new action
        official.wait_for_url(re.compile(r"/actions/\d+$"))

        # the update form of that action, the same way
        form = "form[action$='/updates']"
        official.fill("#body", "Kalendern är **beställd**.")
        boxes = {"body": f"Andra uppdateringen ({lang}): {LONG}"}
        used_form(official, form, boxes, "#post-update")
        expect(official.locator("#body")).to_have_value(boxes["body"])
        expect(refusal).to_be_focused()
        check_widths(official, f"update form used for another update ({lang})")

        # offline, the update stays in its box; back online it is posted
        official.context.set_offline(True)
        official.locator("#post-update").click()
        expect(official.locator(f"{form} .offline-note")).to_be_visible()
        expect(official.locator("#body")).to_have_value(boxes["body"])
        official.context.set_offline(False)
        official.locator("#post-update").click()
        expect(official.locator(".updates")).to_contain_text("Andra uppdateringen")


def test_declined_and_hidden_actions(world, new_page):
    """The owner's side declines a proposal (an empty reason first: the field's error), a
    moderator hides it; each state passes axe at desktop and 375 px in both languages, and
    the hidden action is gone for the member who proposed it."""
    for lang in ("sv", "en"):
        alice, official, moderator = new_page(lang), new_page(lang), new_page(lang)
        login(alice, world, world.alice_email)
        login(official, world, world.official_email)
        login(moderator, world, world.moderator_email)
        alice.goto(f"{world.url}/actions/new?message={world.message_id}")
        alice.fill("#title", f"Gratis parkering vid kulturhuset ({lang})")
        alice.fill("#description", "Alla besökare parkerar gratis.")
        alice.select_option("#owner", label="Kulturnämnden")
        alice.fill("#due_date", "2031-06-30")
        alice.locator("form.stack button[type=submit]").click()
        alice.wait_for_url(re.compile(r"/actions/\d+$"))
        action_url = alice.url

        official.goto(action_url)
        official.locator("#decline-action").click()
        check_summary(official, f"decline without a reason ({lang})", {"decline-reason": ""})
        check_widths(official, f"decline without a reason ({lang})")
        official.fill("#decline-reason", f"Parkeringen sköts av en annan nämnd. {LONG}")
        official.locator("#decline-action").click()
        expect(official.locator(".flash-success")).to_be_visible()
        expect(official.locator("#action-decline-reason")).to_contain_text("annan nämnd")
        expect(official.locator("#accept-action")).to_have_count(0)
        check_widths(official, f"declined action ({lang})")

        moderator.goto(action_url)
        moderator.fill("#hide-reason", "Ett namn på en privatperson.")
        moderator.locator("#hide-action").click()
        expect(moderator.locator(".flash-success")).to_be_visible()
        expect(moderator.locator("#unhide-action")).to_be_visible()
        check_widths(moderator, f"hidden action, as a moderator ({lang})")

        response = alice.goto(action_url)
        assert response is not None and response.status == 404
        assert_accessible(alice, f"hidden action, as its proposer ({lang})")
