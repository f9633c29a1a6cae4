"""A remiss in real browsers: documents, a change on the record, declines, the outcome first."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from browsing import assert_accessible, local, login, wait_until_live
from form_states import check_summary, check_widths
from playwright.sync_api import expect

from forum.demo.pdf import simple_pdf

pytestmark = pytest.mark.browser


def pdf_file(name: str, line: str) -> dict:
    return {"name": name, "mimeType": "application/pdf", "buffer": simple_pdf([line])}


def draft_round(page, world, title: str, closes: str = "") -> int:
    """The official fills in a round and saves it (`closes` refused: returns 0)."""
    page.goto(f"{world.url}/consultations/new")
    page.fill("#title", title)
    page.fill("#problem", "Hur ska **biblioteken** användas på kvällar?")
    page.fill("#opens_at", local(-timedelta(hours=1)))
    page.fill("#closes_at", closes or local(timedelta(days=7)))
    page.fill("#question-1", "Vad behöver ni?")
    page.check("input[name=audience][value=invited]")
    page.locator("#invited input[type=checkbox]").first.check()
    page.locator("#commitments input[type=checkbox]").nth(2).check()
    page.locator("form.stack button[type=submit]").click()
    if closes:
        expect(page.locator(".error-summary")).to_be_visible()
        return 0
    page.wait_for_url(re.compile(r"/consultations/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def test_official_and_org_admin_run_a_remiss_with_documents(world, new_page):
    official, alice = new_page("en"), new_page("sv")
    login(official, world, world.official_email)
    login(alice, world, world.alice_email)
    alice.goto(world.url + "/")  # her start page is open while the round opens
    wait_until_live(alice)

    # the official attaches the basis to the draft, then opens the round
    round_id = draft_round(official, world, "Biblioteken på kvällstid")
    official.set_input_files("#round-file", pdf_file("Underlag.pdf", "Underlag"))
    official.locator(f"form[action='/consultations/{round_id}/documents'] button").click()
    expect(official.locator(".flash-success")).to_be_visible()
    expect(official.locator("a[href$='/Underlag.pdf']").first).to_be_visible()
    official.locator("#open-round").click()  # opening asks first, on a page of its own
    official.locator(f"form[action='/consultations/{round_id}/open'] button").click()
    expect(official.locator("#round-phase")).to_have_text("Open for responses")
    assert_accessible(official, "open round with a document (en)")

    # a wrong file is refused with the reason, nothing is stored
    official.set_input_files(
        "#round-file",
        {"name": "program.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" * 16},
    )
    official.locator(f"form[action='/consultations/{round_id}/documents'] button").click()
    expect(official.locator(".flash-error")).to_contain_text("not accepted")

    # the org admin is told, downloads the basis, drafts, attaches a letter and submits
    expect(alice.locator("[data-notification-count]")).to_have_text("1")
    alice.goto(f"{world.url}/consultations/{round_id}")
    link = alice.locator("a[href$='/Underlag.pdf']").first
    with alice.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Underlag.pdf"
    alice.goto(f"{world.url}/consultations/{round_id}/response")
    alice.locator("textarea[name^=answer-]").first.fill("Läsecirklar på tisdagar.")
    alice.locator("button[name=action][value=save]").click()
    expect(alice.locator(".flash-success")).to_be_visible()
    alice.set_input_files("#response-file", pdf_file("Remissvar.pdf", "Remissvar"))
    alice.locator("button[name=action][value=upload]").click()
    expect(alice.locator("#attachments a[href$='/Remissvar.pdf']")).to_be_visible()
    assert_accessible(alice, "response with a letter (sv)")
    alice.locator("button[name=action][value=submit]").click()
    alice.locator("#confirm").click()  # submitting asks first (tests/test_confirmations.py)
    expect(alice.locator("#versions-heading")).to_be_visible()
    expect(alice.locator("#versions-heading ~ ul a[href$='/Remissvar.pdf']")).to_be_visible()

    # the official is told, extends the deadline on the record
    expect(official.locator("[data-notification-count]")).not_to_have_text("0")
    official.goto(f"{world.url}/consultations/{round_id}/change")
    assert_accessible(official, "change an open round (en)")
    official.fill("#closes_at", local(timedelta(days=14)))
    official.fill("#deadline-reason", "Fler behöver tid över sommaren.")
    official.locator("form:has(input[value=deadline]) button").click()
    official.wait_for_url(re.compile(rf"/consultations/{round_id}#changes$"))
    expect(official.locator("#changes")).to_contain_text("Fler behöver tid")
    # shortening is now refused with the reason
    official.goto(f"{world.url}/consultations/{round_id}/change")
    official.fill("#closes_at", local(timedelta(days=2)))
    official.fill("#deadline-reason", "Snabbare")
    official.locator("form:has(input[value=deadline]) button").click()
    expect(official.locator(".error-summary")).to_contain_text("cannot be brought forward")
    assert_accessible(official, "change refused (en)")

    # closed, feedback published: the page opens with the outcome
    official.goto(f"{world.url}/consultations/{round_id}")
    official.locator("#close-round").click()
    official.locator(f"form[action='/consultations/{round_id}/close'] button").click()
    official.goto(f"{world.url}/consultations/{round_id}/feedback")
    official.locator("textarea[name^=heard-]").first.fill("Kvällar och läsecirklar.")
    official.locator("textarea[name^=action-]").first.fill("Två bibliotek öppnar till 21.")
    official.locator("input[name^=sources-]").first.check()
    official.locator("button[name=action][value=publish]").click()
    official.locator("#confirm").click()  # publishing asks first
    official.wait_for_url(re.compile(rf"/consultations/{round_id}$"))
    for page, lang in ((official, "en"), (alice, "sv")):
        page.goto(f"{world.url}/consultations/{round_id}")
        first = page.evaluate(
            "() => !!(document.getElementById('feedback').compareDocumentPosition("
            "document.getElementById('responses')) & Node.DOCUMENT_POSITION_FOLLOWING)"
        )
        assert first, "the feedback comes before the responses"
        expect(page.locator("#responses a[href$='/Remissvar.pdf']")).to_be_visible()
        assert_accessible(page, f"published round, feedback first ({lang})")
        page.goto(f"{world.url}/consultations/{round_id}/compilation")
        expect(page.locator("#remiss-list")).to_contain_text("Kulturföreningen")
        assert_accessible(page, f"remiss list ({lang})")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_notification_settings_and_unsubscribe_pages_are_accessible(world, new_page, lang):
    page = new_page(lang)
    login(page, world, world.bob_email)
    page.goto(f"{world.url}/notifications/settings")
    assert_accessible(page, f"notification settings ({lang})")
    page.check("#consultation_reminder-digest")
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#consultation_reminder-digest")).to_be_checked()
    page.goto(f"{world.url}/notifications/unsubscribe/not-a-token")
    assert_accessible(page, f"unsubscribe ({lang})")


# --- refused and confirming states of the round, response and feedback forms ---------------

# A saved text with a web address and no spaces: shown beside a clashing box on a phone.
LONG = "https://example.org/kultur/lokaler/kvallstider/" + "mycket-lang-adress-" * 4
WORDS = re.compile(r"\w")  # a form that keeps its text offline says so in words
LETTER = "Remissvar-fran-Kulturforeningen-med-underskrifter-och-bilagor.pdf"


def conflict(pages, url: str, box: str, theirs: str, save: str) -> None:
    """`pages` (one per language) open the form at `url`; someone else then saves `theirs`
    in `box`, and each page saves its own text there: each is refused as a conflict."""
    for page in pages:
        page.goto(url)
    other = pages[0].context.new_page()
    other.goto(url)
    other.fill(f"#{box}", theirs)
    other.locator(save).click()
    expect(other.locator(".flash-success")).to_be_visible()
    other.close()
    for page in pages:
        page.fill(f"#{box}", f"Min text ({page.url[-2:]})")
        page.locator(save).click()
        expect(page.locator(".error-summary")).to_be_visible()


def test_conflicts_the_submit_confirmation_and_a_year_error_in_both_languages(world, new_page):
    official = {"sv": new_page("sv"), "en": new_page("en")}
    alice = {"sv": new_page("sv"), "en": new_page("en")}
    for lang in ("sv", "en"):
        login(official[lang], world, world.official_email)
        login(alice[lang], world, world.alice_email)
    error = {"sv": "Fel:", "en": "Error:"}

    # (d) the round form: a deadline in the year 3000 is the field's error, the rest is kept
    for lang, page in official.items():
        draft_round(page, world, "Årtalet", closes="3000-01-01T00:00")
        expect(page.locator("#closes_at-error")).to_contain_text("2999")
        check_summary(page, f"round form ({lang})", {"closes_at": "3000-01-01T00:00"})
        expect(page.locator("#title")).to_have_value("Årtalet")
        expect(page.locator("form:has(#closes_at)")).to_have_attribute("data-offline", WORDS)
        check_widths(page, f"round form, year 3000 ({lang})")

    round_id = draft_round(official["en"], world, "Lokalförsörjningsprogrammet på kvällstid")
    official["en"].locator("#open-round").click()
    official["en"].locator(f"form[action='/consultations/{round_id}/open'] button").click()
    expect(official["en"].locator("#round-phase")).to_have_text("Open for responses")

    # (a) two drafts of the same answer: the second is refused with both texts on the page
    url = f"{world.url}/consultations/{round_id}/response"
    box = alice["sv"].locator("textarea[name^=answer-]").first
    alice["sv"].goto(url)
    box_id = box.get_attribute("id")
    conflict(list(alice.values()), url, box_id, LONG, "button[name=action][value=save]")
    for lang, page in alice.items():
        label = f"response conflict ({lang})"
        assert page.title().startswith(error[lang]), label
        expect(page.locator(f"#{box_id}-error .conflict-text")).to_have_text(LONG)
        check_summary(page, label, {box_id: f"Min text ({page.url[-2:]})"})
        check_widths(page, label)

    # offline, saving keeps the page and its text; back online, the merged text is saved
    page = alice["sv"]
    page.fill(f"#{box_id}", "Sammanslaget: kvällar och helger")
    note = page.locator(f"form:has(#{box_id}) .offline-note")
    page.context.set_offline(True)
    page.locator("button[name=action][value=save]").click()
    expect(note).to_be_visible()
    expect(page.locator(f"#{box_id}")).to_have_value("Sammanslaget: kvällar och helger")
    assert page.url.startswith(url)
    # an upload offline (its button is the answers form's from the documents' section):
    # the page and the text stay, and the note is beside the button pressed
    page.set_input_files("#response-file", pdf_file(LETTER, "Remissvar"))
    page.locator("button[name=action][value=upload]").click()
    expect(page.locator("button[name=action][value=upload] + .offline-note")).to_be_visible()
    expect(page.locator(f"#{box_id}")).to_have_value("Sammanslaget: kvällar och helger")
    assert page.url.startswith(url)
    note = page.locator(".offline-note")
    page.context.set_offline(False)
    expect(note).to_be_hidden()
    page.locator("button[name=action][value=save]").click()
    expect(page.locator(".flash-success")).to_be_visible()

    # (b) the confirmation lists the attached letter, in both languages
    page.set_input_files("#response-file", pdf_file(LETTER, "Remissvar"))
    page.locator("button[name=action][value=upload]").click()
    expect(page.locator(f"#attachments a[href$='/{LETTER}']")).to_be_visible()
    for lang, page in alice.items():
        page.goto(url)
        page.locator("button[name=action][value=submit]").click()
        expect(page.locator("#confirm")).to_be_visible()
        expect(page.locator(f"#confirm-documents + ul a[href$='/{LETTER}']")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Sammanslaget: kvällar och helger")
        expect(page.locator("form:has(#confirm)")).to_have_attribute("data-offline", WORDS)
        check_widths(page, f"submit confirmation ({lang})")
    alice["en"].locator("#confirm").click()
    expect(alice["en"].locator("#versions-heading")).to_be_visible()

    # (a) the official's feedback: two officials write the same text
    official["en"].goto(f"{world.url}/consultations/{round_id}")
    official["en"].locator("#close-round").click()
    official["en"].locator(f"form[action='/consultations/{round_id}/close'] button").click()
    url = f"{world.url}/consultations/{round_id}/feedback"
    official["sv"].goto(url)
    heard = official["sv"].locator("textarea[name^=heard-]").first.get_attribute("id")
    conflict(list(official.values()), url, heard, LONG, "button[name=action][value=save]")
    for lang, page in official.items():
        label = f"feedback conflict ({lang})"
        assert page.title().startswith(error[lang]), label
        expect(page.locator(f"#{heard}-error .conflict-text")).to_have_text(LONG)
        expect(page.locator(f"form:has(#{heard})")).to_have_attribute("data-offline", WORDS)
        check_summary(page, label, {heard: f"Min text ({page.url[-2:]})"})
        check_widths(page, label)
