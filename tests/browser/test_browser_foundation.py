"""Accounts and organisations in a real browser: keyboard-only login, axe on every page."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, login, screenshot
from playwright.sync_api import expect
from support import PASSWORD

pytestmark = pytest.mark.browser


def test_register_then_log_in_with_the_keyboard_only_then_register_an_organisation(world, new_page):
    page = new_page("sv")
    page.goto(world.url + "/register")
    page.fill("input[name=email]", "ny.medlem@browser.se")
    page.fill("input[name=display_name]", "Nora Ny")
    page.fill("input[name=password]", "en lång lösenfras 2026")
    page.locator("main form [type=submit]").click()
    # registering answers alike for new and taken addresses: then one logs in
    expect(page.locator("h1")).to_be_visible()
    page.fill("input[name=email]", "ny.medlem@browser.se")
    page.fill("input[name=password]", "en lång lösenfras 2026")
    page.locator("main form [type=submit]").click()
    expect(page.locator("header")).to_contain_text("Nora Ny")
    page.locator('.site-header form[action$="/logout"] [type=submit]').click()  # log out
    expect(page.locator("header")).not_to_contain_text("Nora Ny")

    # keyboard only: Tab to each field, type, Enter submits
    page.goto(world.url + "/login")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    email = page.locator("input[name=email]")
    for _ in range(30):
        page.keyboard.press("Tab")
        if email.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.type("ny.medlem@browser.se")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "password"
    page.keyboard.type("en lång lösenfras 2026")
    page.keyboard.press("Enter")
    expect(page.locator("header")).to_contain_text("Nora Ny")

    page.goto(world.url + "/organisations/new")
    page.fill("input[name=name]", "Grannskapets kooperativ")
    page.locator("input[name=legal_form][value=kooperativ]").check()
    page.fill("input[name=org_number]", "556036-0793")
    page.fill("textarea[name=description]", "Vi lagar mat ihop.")
    page.locator("main form [type=submit]").click()
    expect(page.locator("h1")).to_have_text("Grannskapets kooperativ")
    assert_accessible(page, "organisation page after registering")


def test_wrong_organisation_number_shows_the_field_error(world, new_page):
    page = new_page("en")
    login(page, world, world.bob_email)
    page.goto(world.url + "/organisations/new")
    page.fill("input[name=name]", "Felnummer förening")
    page.locator("input[name=legal_form][value=forening]").check()
    page.fill("input[name=org_number]", "556036-0794")
    page.locator("main form [type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#org_number")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "organisation form with errors")


PUBLIC_PAGES = [
    "/",
    "/overenskommelsen",
    "/commitments/dialogforum-och-dialogformer",
    "/login",
    "/register",
    "/reset",
    "/organisations",
]
MEMBER_PAGES = [
    "/settings",
    "/organisations/new",
    "/organisations/kulturforeningen",
    "/notifications",
    "/notifications?show=unread",
    "/notifications/settings",
]


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_foundation_page_passes_axe(world, new_page, lang):
    page = new_page(lang)
    for path in PUBLIC_PAGES:
        page.goto(world.url + path)
        assert page.locator("html").get_attribute("lang") == lang
        assert_accessible(page, f"{path} ({lang}, visitor)")
    page.goto(world.url + "/login")
    page.fill("input[name=email]", world.alice_email)
    page.fill("input[name=password]", "not the password")
    page.locator("main form [type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, f"/login with an error ({lang})")
    login(page, world, world.alice_email)
    for path in MEMBER_PAGES:
        page.goto(world.url + path)
        assert_accessible(page, f"{path} ({lang}, member)")
    admin = new_page(lang)
    login(admin, world, world.admin_email)
    admin.goto(world.url + "/admin")
    assert_accessible(admin, f"/admin ({lang})")
    if lang == "sv":
        page.goto(world.url + "/overenskommelsen")
        screenshot(page, "agreement")
        admin.goto(world.url + "/admin")
        screenshot(admin, "admin")


def test_login_page_is_usable_in_english_when_the_browser_asks(world, new_page):
    page = new_page("en")
    page.goto(world.url + "/login")
    expect(page.locator("h1")).to_have_text("Log in")
    page.fill("input[name=email]", world.bob_email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form [type=submit]").click()
    expect(page.locator("header")).to_contain_text("Bob Berg")


@pytest.mark.parametrize("email", ["nobody@browser.se", "", "x" * 5000])
def test_the_login_helper_stops_at_a_refused_login_and_names_the_person(world, new_page, email):
    """The helper every browser test logs in with never leaves a page logged out in
    silence: a login the form refuses is an error naming who, and hands the browser no
    session (the page still asks who you are)."""
    page = new_page("sv")
    with pytest.raises(RuntimeError, match=f"login of {email[:40]}.* failed with 4"):
        login(page, world, email)
    assert page.context.cookies() == []
    page.goto(world.url + "/settings")
    expect(page).to_have_url(re.compile(r"/login\?next="))
