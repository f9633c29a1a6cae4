"""The outbox in the thread page: sending offline, a reload with an unsent
message, a refused message, drafts, and the keyboard-only journeys."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, login, message, open_thread, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Records every outgoing row the page ever shows (added before the page's own scripts run).
SEEN_OUTGOING = """
window.__outgoing = [];
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType === 1 && n.matches && n.matches("li.outgoing")) window.__outgoing.push(n.textContent);
  }
}).observe(document, { childList: true, subtree: true });
"""


# Every line put in the page's live region.
SAID = """
window.__said = [];
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) {
    if (n.parentElement && n.parentElement.id === "announcer") window.__said.push(n.textContent);
  }
}).observe(document, { childList: true, subtree: true });
"""
# Every connection state the page shows, in order, a repeat once.
STATES = """
window.__states = [];
new MutationObserver(() => {
  const el = document.getElementById("connection");
  const state = el && el.dataset.state;
  if (state && state !== "offline" && window.__states[window.__states.length - 1] !== state) {
    window.__states.push(state);
  }
}).observe(document, { attributes: true, attributeFilter: ["data-state"], subtree: true });
"""


def outbox_storage(page) -> dict[str, str]:
    return page.evaluate(
        """Object.fromEntries(Object.keys(sessionStorage)
            .filter((k) => k.startsWith('dialogforum:outbox:'))
            .map((k) => [k, sessionStorage.getItem(k)]))"""
    )


def go_offline(page):
    page.context.set_offline(True)
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "reconnecting", timeout=15_000
    )


def test_offline_sends_wait_in_the_outbox_and_arrive_once(world, new_page):
    alice, bob = new_page("sv"), new_page("sv")
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    open_thread(alice, world)
    open_thread(bob, world)
    url = alice.url
    go_offline(alice)

    alice.fill("#body", "Skickat utan nät 1")
    alice.press("#body", "Enter")
    alice.fill("#body", "Skickat utan nät 2")
    alice.locator("#composer-form [type=submit]").click()

    # Still on the page (no form post to the offline browser), both shown as waiting
    assert alice.url == url
    outgoing = alice.locator("li.outgoing")
    expect(outgoing).to_have_count(2)
    expect(outgoing.first).to_have_attribute("data-state", "sending")
    expect(outgoing.first.locator("[data-slot=status]")).to_contain_text("anslutningen")
    expect(alice.locator("#announcer")).to_contain_text("anslutningen")
    expect(alice.locator("#body")).to_have_value("")
    kept = outbox_storage(alice)
    (key,) = kept  # kept per person and thread: dialogforum:outbox:<viewer>:<thread>
    viewer = alice.locator("#thread").get_attribute("data-viewer-id")
    assert key == f"dialogforum:outbox:{viewer}:{world.thread_id}"
    stored = kept[key]
    assert "Skickat utan nät 1" in stored and "Skickat utan nät 2" in stored
    assert_accessible(alice, "thread with messages waiting to be sent (sv)")

    alice.context.set_offline(False)
    expect(alice.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=20_000
    )
    expect(alice.locator("li.outgoing")).to_have_count(0, timeout=15_000)
    for page in (alice, bob):
        for n in (1, 2):
            expect(message(page, f"Skickat utan nät {n}", stored=True)).to_have_count(1)
    # In the order they were written, and the outbox is empty in storage too
    ids = [
        int(message(alice, f"Skickat utan nät {n}", stored=True).get_attribute("data-id"))
        for n in (1, 2)
    ]
    assert ids[0] < ids[1]
    assert outbox_storage(alice) == {}
    # A reload shows each exactly once (the server has one copy each)
    alice.reload()
    for n in (1, 2):
        expect(message(alice, f"Skickat utan nät {n}", stored=True)).to_have_count(1)


def test_a_reload_keeps_the_unsent_message_and_sends_it(world, new_page):
    alice = new_page("sv")
    alice.context.add_init_script(SEEN_OUTGOING)
    login(alice, world, world.alice_email)
    open_thread(alice, world)
    go_offline(alice)
    alice.fill("#body", "Överlever omladdning")
    alice.press("#body", "Enter")
    expect(alice.locator("li.outgoing")).to_have_count(1)
    # And a half-written draft next to it
    alice.fill("#body", "Ett utkast")

    # Only the reloaded page may send it: the old one, back online, reconnects at once
    # (live.js on the window's `online`) and on a busy machine sent it before the reload,
    # so the new page found it stored, with nothing left to keep. Its sends go nowhere.
    alice.evaluate(
        """async () => {
            const { socket } = await import("/static/js/live.js");
            socket.timeout = () => ({ emit() {} });
        }"""
    )
    alice.context.set_offline(False)
    alice.reload()
    expect(alice.locator("#connection")).to_have_attribute("data-state", "connected")
    seen = alice.evaluate("window.__outgoing")
    assert any("Överlever omladdning" in text for text in seen), seen
    expect(message(alice, "Överlever omladdning", stored=True)).to_have_count(1)
    expect(alice.locator("li.outgoing")).to_have_count(0)
    expect(alice.locator("#body")).to_have_value("Ett utkast")
    # The draft is per thread and goes once it is sent
    alice.press("#body", "Enter")
    expect(message(alice, "Ett utkast", stored=True)).to_have_count(1)
    alice.reload()
    expect(alice.locator("#body")).to_have_value("")


def test_logging_out_forgets_drafts_and_unsent_messages(world, new_page):
    """On a shared computer the next person in this tab finds nothing of the last one's."""
    alice = new_page("sv")
    login(alice, world, world.alice_email)
    open_thread(alice, world)
    alice.fill("#body", "Ett hemligt utkast")
    alice.wait_for_function("Object.keys(sessionStorage).some((k) => k.startsWith('dialogforum:'))")
    alice.get_by_role("button", name="Logga ut").click()
    alice.wait_for_load_state()
    assert (
        alice.evaluate("Object.keys(sessionStorage).filter((k) => k.startsWith('dialogforum:'))")
        == []
    )
    login(alice, world, world.bob_email)
    open_thread(alice, world)
    expect(alice.locator("#body")).to_have_value("")


def test_a_refused_message_says_why_and_can_be_edited_or_discarded(world, new_page):
    alice = new_page("en")
    login(alice, world, world.alice_email)
    open_thread(alice, world)
    # A reply to a message that does not exist: the server refuses it
    alice.evaluate(
        "document.getElementById('reply_to').value = '99999999';"
        "document.getElementById('replying').hidden = false;"
    )
    alice.fill("#body", "Refused first time")
    alice.press("#body", "Enter")
    failed = alice.locator("li.outgoing")
    expect(failed).to_have_attribute("data-state", "failed")
    expect(failed.locator("[data-slot=error]")).to_contain_text("same thread")
    expect(alice.locator("#announcer")).to_contain_text("Not sent")
    assert_accessible(alice, "thread with a refused message (en)")

    failed.get_by_role("button", name="Edit before sending").click()
    expect(alice.locator("li.outgoing")).to_have_count(0)
    expect(alice.locator("#body")).to_have_value("Refused first time")
    expect(alice.locator("#body")).to_be_focused()
    alice.locator("#cancel-reply").click()
    alice.fill("#body", "Accepted second time")
    alice.press("#body", "Enter")
    expect(message(alice, "Accepted second time", stored=True)).to_have_count(1)

    alice.evaluate("document.getElementById('reply_to').value = '99999999'")
    alice.fill("#body", "Thrown away")
    alice.press("#body", "Enter")
    expect(alice.locator("li.outgoing")).to_have_attribute("data-state", "failed")
    alice.locator("li.outgoing").get_by_role("button", name="Discard").click()
    expect(alice.locator("li.outgoing")).to_have_count(0)
    expect(alice.locator("#body")).to_be_focused()
    alice.reload()
    expect(message(alice, "Thrown away", stored=True)).to_have_count(0)
    expect(alice.locator("li.outgoing")).to_have_count(0)


def test_keyboard_only_send_reply_and_edit(world, new_page):
    page = new_page("en")
    login(page, world, world.alice_email)
    open_thread(page, world)
    # The skip link reaches the composer in a few key presses, not a hundred
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the message box")
    page.keyboard.press("Enter")
    expect(page.locator("#body")).to_be_focused()
    page.keyboard.type("Typed with the keyboard")
    page.keyboard.press("Enter")
    own = message(page, "Typed with the keyboard", stored=True)
    expect(own).to_have_count(1)
    expect(page.locator("#body")).to_be_focused()

    # Reply: focus the reply link, Enter, type, Enter
    own.locator("[data-action=reply]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#body")).to_be_focused()
    expect(page.locator("#replying")).to_be_visible()
    page.keyboard.type("A reply by keyboard")
    page.keyboard.press("Enter")
    reply = message(page, "A reply by keyboard", stored=True)
    expect(reply.locator("[data-slot=quote]")).to_be_visible()

    # Edit: the box is named by what it edits, the old text is hidden, Escape cancels
    own.locator("[data-action=edit]").focus()
    page.keyboard.press("Enter")
    box = own.locator("form.edit-form textarea")
    expect(box).to_be_focused()
    expect(box).to_have_accessible_name(
        f"Edit your message from {own.locator('time').text_content()}"
    )
    expect(own.locator("[data-slot=body]")).to_be_hidden()
    assert_accessible(page, "inline edit (en)")
    page.keyboard.press("Escape")
    expect(own.locator("form.edit-form")).to_have_count(0)
    expect(own.locator("[data-slot=body]")).to_be_visible()
    expect(own.locator("[data-action=edit]")).to_be_focused()

    # Enter saves; Shift+Enter is a new line in the edit box
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.type("Edited by keyboard")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    edited = message(page, "Edited by keyboard", stored=True)
    expect(edited.locator("[data-slot=edited]")).to_be_visible()
    expect(edited.locator("[data-slot=body]")).to_contain_text("second line")
    expect(edited.locator("[data-action=edit]")).to_be_focused()


def test_phone_opens_at_the_newest_with_the_composer_in_view(world, new_page):
    page = new_page("sv", phone=True)
    login(page, world, world.bob_email)
    # Enough messages that the thread is much taller than the screen
    open_thread(page, world)
    for n in range(8):  # under the rate limit (10 in 10 s)
        page.fill("#body", f"Mobilrad {n} " + "lite text " * 30)
        page.press("#body", "Enter")
    expect(message(page, "Mobilrad 7", stored=True)).to_have_count(1)
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    box = page.locator("#body").bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 740, box
    newest = message(page, "Mobilrad 7", stored=True).bounding_box()
    assert newest is not None and newest["y"] < 740, newest
    assert page.evaluate("document.documentElement.scrollHeight") > 2 * 740
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    assert_accessible(page, "thread on a phone (sv)")

    # The header is compact: the menu folds behind a disclosure button (the bell stays)
    page.evaluate("window.scrollTo(0, 0)")
    header = page.locator(".site-header")
    menu = page.get_by_role("button", name="Meny")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#bell")).to_be_visible()
    expect(header.get_by_role("link", name="Forum", exact=True)).to_be_hidden()
    height = header.bounding_box()["height"]
    assert height <= 0.2 * 740, height  # it took 40 % of the screen
    box = page.locator("#body").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 740, box  # still in view
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(header.get_by_role("link", name="Forum", exact=True)).to_be_visible()
    expect(header.get_by_role("searchbox")).to_be_visible()
    assert_accessible(page, "thread on a phone, menu open (sv)")
    page.keyboard.press("Tab")  # into the menu, then Escape closes it and focus goes back
    page.keyboard.press("Escape")
    expect(menu).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(header.get_by_role("link", name="Forum", exact=True)).to_be_hidden()

    # No sideways scrolling at 320 px, closed or open, and the composer still in view
    page.set_viewport_size({"width": 320, "height": 640})
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    box = page.locator("#body").bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 640, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.evaluate("window.scrollTo(0, 0)")
    assert header.bounding_box()["height"] <= 0.2 * 640  # the bell still fits beside it
    page.get_by_role("button", name="Meny").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_the_header_is_a_plain_list_of_links_without_javascript(world, browser):
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 375, "height": 740}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{world.url}/threads/{world.thread_id}")
        header = page.locator(".site-header")
        expect(header.locator("#menu-button")).to_be_hidden()
        expect(header.get_by_role("link", name="Forum", exact=True)).to_be_visible()
        expect(header.get_by_role("link", name="Logga in")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_slow_mode_and_archive_reach_the_open_page(world, new_page, lang):
    member, moderator = new_page(lang), new_page("sv")
    login(member, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    open_thread(member, world)
    expect(member.locator("#slow-mode")).to_be_hidden()
    moderator.goto(f"{world.url}/threads/{world.thread_id}")

    def control(action_label_selector, fill=None):
        moderator.locator("#thread-controls summary").click()
        if fill:
            moderator.fill(*fill)
        moderator.locator(action_label_selector).click()
        expect(moderator.locator(".flash")).to_be_visible()

    # Slow mode is stated, with its seconds, before anyone is refused
    control("form:has(#slow-seconds) [type=submit]", ("#slow-seconds", "45"))
    expect(member.locator("#slow-mode")).to_be_visible()
    expect(member.locator("#slow-mode")).to_contain_text("45")
    # Archive: the composer goes and the banner says why; axe on that state
    control("form:has(input[value=archive]) [type=submit]")
    expect(member.locator("#composer")).to_be_hidden()
    expect(member.locator("#thread-status")).to_contain_text(
        "arkiverad" if lang == "sv" else "archived"
    )
    assert_accessible(member, f"archived thread, live ({lang})")
    # And back, for the other tests
    control("form:has(input[value=unarchive]) [type=submit]")
    expect(member.locator("#composer")).to_be_visible()
    expect(member.locator("#thread-status")).to_be_hidden()
    control("form:has(#slow-seconds) [type=submit]", ("#slow-seconds", "0"))
    expect(member.locator("#slow-mode")).to_be_hidden()


def test_unread_counts_move_live_on_the_forum_list_and_page(world, new_page):
    alice, bob_list, bob_forum = new_page("sv"), new_page("sv"), new_page("en")
    login(alice, world, world.alice_email)
    login(bob_list, world, world.bob_email)
    login(bob_forum, world, world.bob_email)
    # Bob has read everything so far
    open_thread(bob_list, world)
    bob_list.goto(f"{world.url}/forums")
    bob_forum.goto(f"{world.url}/forums/{world.forum_slug}")
    badge = bob_list.locator("[data-unread-forum]").first
    row = bob_forum.locator(f"[data-unread-thread='{world.thread_id}']")
    expect(badge).to_be_hidden()
    expect(row).to_be_hidden()
    expect(bob_list.locator("#watched-forums")).to_have_attribute("data-watching", "true")
    expect(bob_forum.locator("#threads-heading")).to_have_attribute("data-watching", "true")
    open_thread(alice, world)
    alice.fill("#body", "Räknas live")
    alice.press("#body", "Enter")
    expect(badge).to_have_text("1 oläst")
    expect(row).to_have_text("1")
    alice.fill("#body", "Och en till")
    alice.press("#body", "Enter")
    expect(badge).to_have_text("2 olästa")
    expect(row).to_have_text("2")
    assert_accessible(bob_forum, "forum page with live counts (en)")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_access_that_ends_disables_the_composer_and_keeps_the_text(world, new_page, lang):
    """Removed from an invite-only forum while the page is open: after the next
    (re)join the page says access ended, the composer is disabled, nothing is lost."""
    from sqlalchemy import select
    from support import app_settings

    from forum import create_app
    from forum.extensions import db
    from forum.models import Forum, User
    from forum.services import forums

    app = create_app(app_settings(world.server.env["FORUM_DATABASE_URL"]))
    with app.app_context(), app.test_request_context():
        official = db.session.scalar(select(User).where(User.email == world.official_email))
        forum = forums.create_forum(official, f"Inbjudna {lang}", "Bara inbjudna.", "invite", [3])
        forums.change_forum_people(official, forum, world.bob_email, "member", True)
        thread = forums.start_thread(official, forum, "Stängd krets", [3], "Välkommen")
        thread_id, slug = thread.id, forum.slug
        db.session.remove()

    bob = new_page(lang)
    login(bob, world, world.bob_email)
    bob.goto(f"{world.url}/threads/{thread_id}")
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    go_offline(bob)
    bob.fill("#body", "Skrivet precis innan")
    bob.press("#body", "Enter")
    expect(bob.locator("li.outgoing")).to_have_count(1)

    with app.app_context(), app.test_request_context():
        official = db.session.scalar(select(User).where(User.email == world.official_email))
        forum = db.session.scalar(select(Forum).where(Forum.slug == slug))
        forums.change_forum_people(official, forum, world.bob_email, "member", False)
        db.session.remove()
        db.engine.dispose()

    bob.context.set_offline(False)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "revoked", timeout=20_000)
    expect(bob.locator("#thread-revoked")).to_be_visible()
    expect(bob.locator("#body")).to_be_disabled()
    failed = bob.locator("li.outgoing")
    expect(failed).to_have_attribute("data-state", "failed")
    expect(failed.locator("[data-slot=body]")).to_have_text("Skrivet precis innan")
    assert_accessible(bob, f"thread after access ended ({lang})")


def test_a_draft_meets_what_was_typed_before_the_script_and_both_stay(world, new_page):
    """On a slow phone the box is there before the script: what was typed into it then was
    kept and the saved draft silently lost at the next key press."""
    alice = new_page("sv")
    login(alice, world, world.alice_email)
    open_thread(alice, world)
    alice.fill("#body", "Mitt sparade utkast")
    key = alice.evaluate(
        "Object.keys(sessionStorage).find((k) => k.startsWith('dialogforum:draft:'))"
    )
    # The thread script is held back on the way, as a slow link does
    held = []
    script = re.compile(r"/static/js/thread\.js(\?|$)")  # with its ?v=
    alice.route(script, lambda route: held.append(route))
    alice.reload(wait_until="commit")
    alice.wait_for_selector("#body")
    alice.fill("#body", "Skrivet innan skriptet")
    assert held
    for route in held:
        route.continue_()
    alice.unroute(script)
    expect(alice.locator("#connection")).to_have_attribute("data-state", "connected")

    both = "Mitt sparade utkast\n\nSkrivet innan skriptet"
    expect(alice.locator("#body")).to_have_value(both)
    note = alice.locator("#draft-note")
    expect(note).to_be_visible()
    expect(note).to_have_text("Ditt sparade utkast finns i rutan igen, ovanför det du just skrev.")
    expect(alice.locator("#body")).to_have_accessible_description(re.compile("Ditt sparade utkast"))
    expect(alice.locator("#announcer")).to_contain_text("Ditt sparade utkast finns i rutan igen")
    assert "Skrivet innan skriptet" in alice.evaluate("(k) => sessionStorage.getItem(k)", key)
    assert_accessible(alice, "a saved draft put back above what was typed (sv)")
    alice.press("#body", "Enter")
    expect(message(alice, "Skrivet innan skriptet", stored=True)).to_contain_text(
        "Mitt sparade utkast"
    )
    expect(note).to_be_hidden()


def test_waiting_for_the_connection_is_said_once_an_outage(world, new_page):
    """Said again for every message sent while offline: three sent, three times."""
    alice = new_page("en")
    alice.add_init_script(SAID)
    login(alice, world, world.alice_email)
    open_thread(alice, world)
    waiting = "Waiting for the connection; it will be sent when the connection is back."
    for outage in range(2):
        go_offline(alice)
        for n in range(3):
            alice.fill("#body", f"Offline {outage}.{n}")
            alice.press("#body", "Enter")
        expect(alice.locator("li.outgoing")).to_have_count(3)
        alice.wait_for_function(
            "([line, n]) => window.__said.filter((s) => s === line).length >= n",
            arg=[waiting, outage + 1],
        )
        alice.context.set_offline(False)
        expect(alice.locator("li.outgoing")).to_have_count(0)
        assert alice.evaluate("window.__said").count(waiting) == outage + 1


def test_a_dead_link_that_never_closed_is_left_after_two_unanswered_sends(world, new_page):
    """With the packets lost and no close, the page said "Live" for some 45 s and sent the
    message again and again into the same dead socket. One unanswered send alone may be a
    slow link: the page keeps its connection then."""
    alice = new_page("sv")
    alice.clock.install()  # the send timeouts (10 s each) pass at the test's word
    alice.add_init_script(STATES)
    sockets = []
    state = {"lose_sends": 0, "dead_below": 0}  # connections numbered below it are dead

    def route(ws):
        number = len(sockets)
        sockets.append(ws)
        server = ws.connect_to_server()

        def up(frame):
            if number < state["dead_below"]:
                return  # the tunnel: nothing gets through, nothing closes
            if '"message:send"' in str(frame) and state["lose_sends"]:
                state["lose_sends"] -= 1
                return
            server.send(frame)

        ws.on_message(up)
        server.on_message(lambda frame: None if number < state["dead_below"] else ws.send(frame))

    alice.route_web_socket(re.compile(r"/socket\.io/"), route)
    login(alice, world, world.alice_email)
    open_thread(alice, world)
    connections = len(sockets)

    # One send lost: tried again on the same connection, which stays
    state["lose_sends"] = 1
    send(alice, "En gång förlorad")
    expect(alice.locator("li.outgoing")).to_have_count(1)
    alice.clock.fast_forward(10_000)
    expect(message(alice, "En gång förlorad", stored=True)).to_have_count(1)
    expect(alice.locator("li.outgoing")).to_have_count(0)
    assert len(sockets) == connections
    assert alice.evaluate("window.__states") == ["connected"]

    # The link dies: two unanswered sends, then not live any more, and a new connection
    state["dead_below"] = len(sockets)
    send(alice, "Skickat i tunneln")
    expect(alice.locator("li.outgoing")).to_have_count(1)
    alice.clock.fast_forward(10_000)
    expect(alice.locator("li.outgoing [data-slot=status]")).to_have_text("Skickar …")
    assert alice.evaluate("window.__states") == ["connected"]
    alice.clock.fast_forward(10_000)
    expect(message(alice, "Skickat i tunneln", stored=True)).to_have_count(1)
    expect(alice.locator("li.outgoing")).to_have_count(0)
    assert alice.evaluate("window.__states") == ["connected", "reconnecting", "connected"]
    assert len(sockets) == connections + 1
    alice.reload()
    expect(message(alice, "Skickat i tunneln", stored=True)).to_have_count(1)
