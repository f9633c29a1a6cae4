"""The consultation loop in real browsers: open, notify, draft, submit, close, feedback."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, draft_consultation, login, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PROBLEM = "Hur kan kulturen nå **alla** stadsdelar?"


def test_the_whole_consultation_loop(world, new_page):
    official, alice = new_page("en"), new_page("sv")
    login(official, world, world.official_email)
    login(alice, world, world.alice_email)

    # the official drafts, previews and opens a round
    official.goto(f"{world.url}/consultations/new")
    assert_accessible(official, "new round (en)")
    round_id = draft_consultation(official, world, "Kultur i alla stadsdelar", PROBLEM)
    expect(official.locator("#round-phase")).to_have_text("Draft")
    assert_accessible(official, "draft preview (en)")
    alice.goto(f"{world.url}/")
    expect(alice.locator("[data-notification-count]")).to_have_text("0")
    # opening asks first (a page of its own: works without JavaScript)
    official.locator("#open-round").click()
    expect(official.locator("h1")).to_have_text("Open the round?")
    assert_accessible(official, "confirm opening (en)")
    expect(alice.locator("[data-notification-count]")).to_have_text("0")
    official.locator(f"form[action='/consultations/{round_id}/open'] button").click()
    expect(official.locator("#round-phase")).to_have_text("Open for responses")

    # the member (an admin of the invited organisation) is told live, and in the list
    expect(alice.locator("[data-notification-count]")).to_have_text("1")
    alice.goto(f"{world.url}/notifications")
    # (through /notifications/<id>/open, which marks it read)
    alice.locator(".notifications-list a").first.click()
    alice.wait_for_url(re.compile(rf"/consultations/{round_id}$"))
    expect(alice.locator("[data-notification-count]")).to_have_text("0")
    assert_accessible(alice, "open round (sv)")

    # she drafts, saves, then submits
    alice.locator(f"a[href*='/consultations/{round_id}/response']").first.click()
    expect(alice.locator("#public-notice")).to_be_visible()
    answers = alice.locator("textarea[name^=answer-]")
    expect(answers).to_have_count(2)
    answers.nth(0).fill("Vi saknar *repetitionslokaler* på kvällar.")
    alice.locator("button[name=action][value=save]").click()
    expect(alice.locator(".flash-success")).to_be_visible()
    expect(answers.nth(0)).to_have_value("Vi saknar *repetitionslokaler* på kvällar.")
    assert_accessible(alice, "response form (sv)")
    answers.nth(1).fill("Vi kan dela vår scen på söndagar.")
    alice.locator("button[name=action][value=submit]").click()
    # submitting asks first (a page of its own: works without JavaScript), showing what goes in
    expect(alice.locator("h1")).to_have_text("Vill du skicka in svaret?")
    expect(alice.locator("main")).to_contain_text("Vi kan dela vår scen på söndagar.")
    assert_accessible(alice, "confirm submitting (sv)")
    alice.locator("#confirm").click()
    expect(alice.locator(".flash-success")).to_be_visible()
    expect(alice.locator("#versions-heading")).to_be_visible()

    # with the round page open, she sees the official close it, live
    alice.goto(f"{world.url}/consultations/{round_id}")
    official.goto(f"{world.url}/consultations/{round_id}")
    expect(official.locator("#responded-count")).to_have_text("1")
    official.locator("#close-round").click()
    expect(official.locator("h1")).to_have_text("Close the round now?")
    official.locator(f"form[action='/consultations/{round_id}/close'] button").click()
    expect(official.locator("#round-phase")).to_have_text("Closed, awaiting feedback")
    expect(alice.locator("#round-changed")).to_be_visible()
    expect(alice.locator("#round-phase")).to_have_attribute("class", re.compile("phase-closed"))

    # the official writes feedback linked to her response and publishes it
    official.goto(f"{world.url}/consultations/{round_id}/feedback")
    assert_accessible(official, "feedback form (en)")
    official.locator("textarea[name^=heard-]").first.fill("Kvällar är det stora behovet.")
    official.locator("textarea[name^=action-]").first.fill(
        "Vi öppnar **Kulturhuset** på kvällar från mars."
    )
    official.locator("input[name^=sources-]").first.check()
    official.locator("button[name=action][value=publish]").click()
    expect(official.locator("h1")).to_have_text("Publish the feedback?")
    assert_accessible(official, "confirm publishing (en)")
    expect(alice.locator("#round-phase")).to_have_attribute("class", re.compile("phase-closed"))
    official.locator("#confirm").click()
    official.wait_for_url(re.compile(rf"/consultations/{round_id}$"))
    expect(official.locator("#round-phase")).to_have_text("Feedback published")
    expect(official.locator("#feedback")).to_contain_text("Kulturhuset")
    assert_accessible(official, "published round (en)")
    expect(alice.locator("#round-phase")).to_have_attribute("class", re.compile("phase-published"))

    # she sees what happened with her organisation's input
    expect(alice.locator("[data-notification-count]")).to_have_text(
        "1"
    )  # the first was read when opened
    alice.goto(f"{world.url}/organisations/{world.org_slug}")
    outcomes = alice.locator("section.outcomes")
    expect(outcomes).to_be_visible()
    expect(outcomes.locator("strong", has_text="Kulturhuset")).to_be_visible()
    assert_accessible(alice, "organisation outcomes (sv)")
    alice.goto(f"{world.url}/consultations/{round_id}")
    expect(alice.locator(".response")).to_contain_text("repetitionslokaler")
    official.goto(f"{world.url}/consultations/{round_id}")
    official.locator("#feedback-heading").scroll_into_view_if_needed()
    official.evaluate("window.scrollTo(0, 0)")
    screenshot(official, "consultation")

    # a correction after publishing is shown at once and listed among the round's changes
    official.goto(f"{world.url}/consultations/{round_id}/feedback")
    official.locator("textarea[name^=action-]").first.fill(
        "Vi öppnar **Kulturhuset** på kvällar från april."
    )
    official.locator("button[name=action][value=save]").click()
    expect(official.locator(".flash-success")).to_be_visible()
    official.goto(f"{world.url}/consultations/{round_id}")
    expect(official.locator("#feedback")).to_contain_text("från april")
    expect(official.locator("#changes")).to_contain_text("What the city will do")
    assert_accessible(official, "published round with a correction (en)")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_consultation_page_is_accessible(world, new_page, lang):
    official = new_page(lang)
    login(official, world, world.official_email)
    round_id = draft_consultation(official, world, f"Tillgänglighet {lang}", PROBLEM)
    pages = [
        "/consultations",
        "/consultations?phase=open",
        "/consultations/new",
        f"/consultations/{round_id}",
        f"/consultations/{round_id}/edit",
        f"/consultations/{round_id}/compilation",
    ]
    for path in pages:
        official.goto(world.url + path)
        assert_accessible(official, f"{path} ({lang}, official)")
    # a form with errors
    official.goto(f"{world.url}/consultations/new")
    official.locator("form.stack button[type=submit]").click()
    expect(official.locator(".error-summary")).to_be_visible()
    assert_accessible(official, f"new round with errors ({lang})")
    # a visitor's view of the open round
    official.locator("body").press("Escape")
    official.goto(f"{world.url}/consultations/{round_id}")
    official.locator("#open-round").click()
    assert_accessible(official, f"confirm opening ({lang})")
    official.locator(f"form[action='/consultations/{round_id}/open'] button").click()
    expect(official.locator("#round-phase")).not_to_have_class(re.compile("phase-draft"))
    visitor = new_page(lang)
    for path in ("/consultations", f"/consultations/{round_id}"):
        visitor.goto(world.url + path)
        assert_accessible(visitor, f"{path} ({lang}, visitor)")
    alice = new_page(lang)
    login(alice, world, world.alice_email)
    alice.goto(f"{world.url}/consultations/{round_id}/response")
    assert_accessible(alice, f"response ({lang})")
    alice.locator("textarea[name^=answer-]").first.fill("Svar")
    alice.locator("button[name=action][value=submit]").click()
    expect(alice.locator("#confirm")).to_be_visible()
    assert_accessible(alice, f"confirm submitting ({lang})")
    alice.locator("#confirm").click()
    expect(alice.locator(".flash-success")).to_be_visible()
    official.goto(f"{world.url}/consultations/{round_id}/feedback")
    assert_accessible(official, f"feedback before closing ({lang})")
    # closed, with feedback written: the question before publishing
    official.goto(f"{world.url}/consultations/{round_id}/close")
    official.locator(f"form[action='/consultations/{round_id}/close'] button").click()
    official.goto(f"{world.url}/consultations/{round_id}/feedback")
    official.locator("textarea[name^=heard-]").first.fill("Hört")
    official.locator("button[name=action][value=publish]").click()
    expect(official.locator("#confirm")).to_be_visible()
    assert_accessible(official, f"confirm publishing ({lang})")
