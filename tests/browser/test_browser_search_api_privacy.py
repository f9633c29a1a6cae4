"""Search, the API reference, access tokens, the privacy notice and the archive page:
used in a browser, and free of axe violations (WCAG 2.1 A+AA) in Swedish and English."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_search_from_the_header(world, new_page, lang):
    page = new_page(lang)
    page.goto(world.url + "/")
    page.fill("#site-search-q", "kvällstid")
    page.locator("form.site-search button[type=submit]").click()
    page.wait_for_url("**/search?q=*")
    hit = page.locator(".search-hit").first
    expect(hit.locator("mark").first).to_have_text("kvällstider")
    assert_accessible(page, f"search results ({lang})")
    if lang == "sv":
        screenshot(page, "search")
    page.goto(world.url + "/search?q=ord&from=igår")
    expect(page.locator("#search-from-error")).to_be_visible()
    assert_accessible(page, f"search with a field error ({lang})")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_api_reference_and_privacy_notice(world, new_page, lang):
    page = new_page(lang)
    page.goto(world.url + "/api/v1/reference/")
    expect(page.locator("table.api-operations tbody tr").first).to_be_visible()
    assert_accessible(page, f"API reference ({lang})")
    if lang == "sv":
        screenshot(page, "api-reference")
    page.goto(world.url + "/integritet")
    expect(page.locator("h1")).to_be_visible()
    assert_accessible(page, f"privacy notice ({lang})")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_tokens_settings_and_archive_pages(world, new_page, lang):
    page = new_page(lang)
    login(page, world, world.alice_email)
    page.goto(world.url + "/settings")
    assert_accessible(page, f"settings with privacy sections ({lang})")
    page.goto(world.url + "/settings/tokens")
    page.fill("#name", f"Statistik {lang}")
    page.locator("form:has(#name) button[type=submit]").click()
    assert page.locator("#new-token").input_value().startswith("dfp_")
    assert_accessible(page, f"access tokens ({lang})")
    admin = new_page(lang)
    login(admin, world, world.admin_email)
    admin.goto(world.url + "/admin/archive")
    assert_accessible(admin, f"archive export ({lang})")
    # the question before closing an account on request (answered "no": nobody is closed)
    for phone in (False, True):
        admin = new_page(lang, phone=phone)
        login(admin, world, world.admin_email)
        admin.goto(world.url + "/admin?q=" + world.bob_email)
        admin.locator("form[action$='/close'] [type=submit]").first.click()
        expect(admin.locator("#confirm")).to_be_visible()
        assert_accessible(admin, f"confirm closing an account ({lang}, phone={phone})")
