"""The composer and the message controls when the socket is not live: a draft that is the
person's own and goes with their session, a session ended from another device, deleting
while the socket reconnects, reacting and editing with no network, and a double-clicked
Send."""

from __future__ import annotations

import pytest
from browsing import login, message, open_thread
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

KEPT = "Object.keys(sessionStorage).filter((k) => k.startsWith('dialogforum:'))"
NO_CONNECTION = {"sv": "Ingen anslutning just nu", "en": "No connection right now"}


def log_out_everywhere(page, world):
    page.goto(world.url + "/settings")
    page.locator("button[name=logout_everywhere]").click()
    page.wait_for_url(lambda url: "/settings" not in url)


def send(page, text) -> str:
    """Send `text` from the composer; returns the id of the message it became."""
    page.fill("#body", text)
    page.press("#body", "Enter")
    mine = message(page, text, stored=True)
    expect(mine).to_have_count(1)
    return mine.get_attribute("data-id")


def cut_socket(page):
    """Route the page's socket so that the test can drop it (and keep it down) while plain
    HTTP still works: returns the function that drops it."""
    state = {"allow": True, "open": []}

    def on_socket(ws):
        if state["allow"]:
            ws.connect_to_server()
            state["open"].append(ws)
        else:
            ws.close()

    page.route_web_socket("**/socket.io/**", on_socket)
    page.route("**/socket.io/**", lambda r: r.continue_() if state["allow"] else r.abort())

    def drop():
        state["allow"] = False
        for ws in state["open"]:
            ws.close()
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "reconnecting", timeout=30_000
        )

    return drop


def test_a_draft_is_kept_per_person_and_goes_with_log_out_everywhere(world, new_page):
    """A shared computer: the next person in the tab never finds the last one's draft."""
    page = new_page("sv")
    login(page, world, world.alice_email)
    open_thread(page, world)
    alice_id = page.locator("#thread").get_attribute("data-viewer-id")
    page.fill("#body", "Alices utkast: 070-1234567")
    key = f"dialogforum:draft:{alice_id}:{world.thread_id}"
    assert page.evaluate("(key) => sessionStorage.getItem(key)", key)  # kept on input

    # Log out everywhere (not the header's Log out) forgets it too
    log_out_everywhere(page, world)
    assert page.evaluate(KEPT) == []
    login(page, world, world.bob_email)
    open_thread(page, world)
    expect(page.locator("#body")).to_have_value("")

    # A draft of someone whose session ended while the tab was asleep is never loaded,
    # and is forgotten
    page.evaluate(
        "([key, old]) => { sessionStorage.setItem(key, JSON.stringify({body: 'Alices rester'}));"
        " sessionStorage.setItem(old, JSON.stringify({body: 'Utan person'})); }",
        [key, f"dialogforum:draft:{world.thread_id}"],
    )
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator("#body")).to_have_value("")
    assert page.evaluate(KEPT) == []


def test_a_session_ended_elsewhere_disables_the_composer_and_forgets_the_tab(world, new_page):
    page, phone = new_page("sv"), new_page("sv")
    login(page, world, world.alice_email)

    # The page's messages to the server are held back, so one stays unsent
    def on_socket(ws):
        server = ws.connect_to_server()
        ws.on_message(lambda m: None if "message:send" in str(m) else server.send(m))

    page.route_web_socket("**/socket.io/**", on_socket)
    open_thread(page, world)
    page.fill("#body", "Fastnar på vägen")
    page.press("#body", "Enter")
    row = page.locator("li.outgoing")
    expect(row.locator("[data-slot=status]")).to_have_text("Skickar …")
    page.fill("#body", "Ett utkast på biblioteksdatorn")
    assert any(key.startswith("dialogforum:draft:") for key in page.evaluate(KEPT))

    login(phone, world, world.alice_email)
    log_out_everywhere(phone, world)
    expect(page.locator("#connection")).to_have_attribute("data-state", "ended")
    # Nothing can be written that would never be sent, and the row says it was not sent
    expect(page.locator("#body")).to_be_disabled()
    expect(page.locator("#composer-form [type=submit]")).to_be_disabled()
    expect(page.locator("#send-error")).to_have_text(
        "Anslutningen avslutades. Ladda om sidan eller logga in igen."
    )
    expect(row.locator("[data-slot=status]")).to_have_text(
        "Inte skickat: inloggningen avslutades innan det hann skickas."
    )
    # The tab keeps nothing of the ended session for whoever comes next
    assert page.evaluate(KEPT) == []
    login(page, world, world.bob_email)
    open_thread(page, world)
    expect(page.locator("#body")).to_have_value("")
    expect(page.locator("li.outgoing")).to_have_count(0)


def test_while_reconnecting_delete_asks_first_and_the_form_posts_go(world, new_page):
    page = new_page("sv")
    login(page, world, world.alice_email)
    drop = cut_socket(page)
    open_thread(page, world)
    first = send(page, "Raderas bara efter en fråga")
    second = send(page, "Får en reaktion utan socket")
    drop()

    dialogs = []

    def answer(dialog):
        dialogs.append(dialog.message)
        if len(dialogs) == 1:
            dialog.dismiss()
        else:
            dialog.accept()

    page.on("dialog", answer)
    url = page.url
    # No: nothing happens
    page.locator(f"#m{first} [data-action=delete]").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    assert dialogs == ["Vill du ta bort meddelandet?"]
    assert page.url == url
    expect(page.locator(f"#m{first}")).to_have_attribute("data-state", "visible")

    # Online, only the socket is down: a reaction goes as the plain form post
    with page.expect_navigation():
        page.locator(f"#m{second} [data-slot=reaction-picker] summary").click()
        page.locator(f"#m{second} button[data-reaction-pick]").first.click()
    expect(page.locator(f"#m{second} button[data-reaction]").first).to_have_attribute(
        "aria-pressed", "true"
    )

    # Yes: the plain form post deletes it
    with page.expect_navigation():
        page.locator(f"#m{first} [data-action=delete]").click()
    assert len(dialogs) == 2
    expect(page.locator(f"#m{first}")).to_have_attribute("data-state", "deleted")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_offline_the_controls_stay_on_the_page_and_say_why(world, new_page, lang):
    page = new_page(lang)
    login(page, world, world.alice_email)
    open_thread(page, world)
    mine = send(page, f"Min rad offline {lang}")
    url = page.url
    page.context.set_offline(True)
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "reconnecting", timeout=30_000
    )
    page.fill("#body", f"Köad offline {lang}")
    page.press("#body", "Enter")
    expect(page.locator("li.outgoing")).to_have_count(1)
    page.on("dialog", lambda d: d.accept())
    page.evaluate("window.stayed = true")  # gone if the page is left

    target = page.locator(f"#m{mine}")
    target.locator("[data-slot=reaction-picker] summary").click()
    target.locator("button[data-reaction-pick]").first.click()
    expect(page.locator("#announcer")).to_contain_text(NO_CONNECTION[lang])
    page.evaluate("document.getElementById('announcer').replaceChildren()")
    target.locator("[data-action=edit]").click()
    expect(page.locator("#announcer")).to_contain_text(NO_CONNECTION[lang])
    page.evaluate("document.getElementById('announcer').replaceChildren()")
    target.locator("[data-action=delete]").click()
    expect(page.locator("#announcer")).to_contain_text(NO_CONNECTION[lang])

    # Still the same page, with the queued message on it, and it goes when the network is back
    assert page.evaluate("window.stayed") is True
    assert page.url == url
    expect(page.locator("li.outgoing")).to_have_count(1)
    page.context.set_offline(False)
    expect(message(page, f"Köad offline {lang}", stored=True)).to_have_count(1)
    expect(page.locator("li.outgoing")).to_have_count(0)
    expect(target).to_have_attribute("data-state", "visible")


def test_a_double_clicked_send_sends_once_without_an_error(world, new_page):
    page = new_page("sv")
    login(page, world, world.alice_email)
    open_thread(page, world)
    page.fill("#body", "Dubbelklickat")
    page.locator("#composer-form [type=submit]").dblclick()
    expect(message(page, "Dubbelklickat", stored=True)).to_have_count(1)
    expect(page.locator("#send-error")).to_be_hidden()
    # ready for the next message: the second click took the focus to the button and left it
    expect(page.locator("#body")).to_be_focused()
    # Once the box was typed in again, a Send on it empty is pointed out
    page.fill("#body", "x")
    page.fill("#body", "")
    page.locator("#composer-form [type=submit]").click()
    expect(page.locator("#send-error")).to_have_text("Skriv ett meddelande först.")
    page.reload()
    expect(message(page, "Dubbelklickat", stored=True)).to_have_count(1)


def test_a_double_tapped_send_leaves_the_focus_in_the_box(world, new_page):
    """On a phone the second tap left the focus on Send, and the keyboard went away."""
    page = new_page("sv", phone=True)
    login(page, world, world.alice_email)
    open_thread(page, world)
    send_button = page.locator("#composer-form [type=submit]")
    page.locator("#body").tap()
    page.keyboard.type("Dubbeltryckt")
    send_button.tap()
    send_button.tap()
    expect(message(page, "Dubbeltryckt", stored=True)).to_have_count(1)
    expect(page.locator("#body")).to_be_focused()
    expect(page.locator("#send-error")).to_be_hidden()
    page.keyboard.type("Nästa")
    expect(page.locator("#body")).to_have_value("Nästa")
