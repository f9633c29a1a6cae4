"""The accessibility statement, the favicon and the web app manifest (issue 14)."""

from __future__ import annotations

import pytest


def test_accessibility_statement_says_what_the_law_asks(client, app):
    app.config["FORUM_ACCESSIBILITY_CONTACT"] = "tillganglighet@example.org"
    page = client.get("/tillganglighet").get_data(as_text=True)
    assert "<h1>Tillgänglighetsredogörelse</h1>" in page
    assert "WCAG" in page and "2.1" in page and "delvis förenlig" in page  # status
    assert "Kända brister" in page
    assert 'href="mailto:tillganglighet@example.org"' in page  # how to report
    assert "Myndigheten för digital förvaltning (Digg)" in page  # supervisory authority
    assert "320 pixlar" in page  # what the browser tests check
    english = client.get("/tillganglighet", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert "<h1>Accessibility statement</h1>" in english and "Digg" in english


def test_the_statements_review_date_is_written_day_month_year(client):
    # English long dates are British like every other English date: "5 December 2026"
    from babel.dates import format_date

    from forum.web.main import STATEMENT_REVIEWED as day

    english = client.get("/tillganglighet", headers={"Accept-Language": "en"})
    assert day.strftime("%-d %B %Y") in english.get_data(as_text=True)
    assert day.strftime("%B %-d, %Y") not in english.get_data(as_text=True)
    swedish = client.get("/tillganglighet", headers={"Accept-Language": "sv"})
    assert format_date(day, "long", locale="sv") in swedish.get_data(as_text=True)  # "5 december"


def test_every_page_footer_links_to_the_statement(client, make):
    thread = make.thread()
    for path in ["/", "/forums", f"/threads/{thread.id}", "/login", "/no-such-page"]:
        page = client.get(path).get_data(as_text=True)
        assert 'href="/tillganglighet">Tillgänglighetsredogörelse</a>' in page, path


def test_favicon_and_manifest(client):
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.data.startswith(b"\x89PNG")
    page = client.get("/").get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in page
    assert 'rel="icon"' in page
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json()
    assert body["name"] == "Dialogforum" and body["start_url"] == "/"
    sizes = {i["sizes"] for i in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for i in body["icons"]:
        with client.get(i["src"]) as response:
            assert response.status_code == 200


@pytest.mark.parametrize(("lang", "heading"), [("sv", "Sidan finns inte"), ("en", "Not found")])
def test_an_error_page_is_titled_by_its_heading(client, lang, heading):
    """The title was only the status number ("404 – Dialogforum")."""
    page = client.get("/no-such-page", headers={"Accept-Language": lang})
    text = page.get_data(as_text=True)
    assert page.status_code == 404
    assert f"<title>{heading} – Dialogforum</title>" in text
    assert f"<h1>{heading}</h1>" in text
