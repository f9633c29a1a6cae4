"""What a review of the live feed (static/js/thread/feed.js) found, in the browser: a message
hidden while the reader had paused the feed came back with its text on "Show new"; a live
edit of a message above the loaded page was put at the top, so that "Show older messages"
paged from it and the messages between could never be reached; a page whose session
ended while it was offline came back "connected", offering to send; and a state older than
the one shown (a join acknowledgement read before a live hide) was shown over it."""

from __future__ import annotations

import pytest
from browsing import hide_message, login, message, open_thread, send
from playwright.sync_api import expect
from test_browser_catch_up import _write_while_away
from test_browser_outbox import go_offline

pytestmark = pytest.mark.browser


def _thread(world, title: str, messages: int = 0) -> tuple[int, list[int]]:
    """A public thread of its own, with `messages` of Alice's in it; its id and theirs."""
    from forum.queries import forums as forum_queries
    from forum.services import forums

    made: dict[str, object] = {}

    def work(users):
        official, alice = users[world.official_email], users[world.alice_email]
        forum = forum_queries.get_forum(world.forum_slug)
        thread = forums.start_thread(official, forum, title, [3])
        made["thread"] = thread.id
        made["ids"] = [
            forums.send_message(alice, thread.id, f"Inlägg {i}", f"{title}-{i}")[0].id
            for i in range(messages)
        ]

    _write_while_away(world, work)
    return made["thread"], made["ids"]  # type: ignore[return-value]


def test_a_message_hidden_while_the_feed_is_paused_shows_no_text(world, new_page):
    """Bob pauses the feed; Alice writes personal data and a moderator hides it at once.
    "Show new" shows the placeholder, not the text Bob's page got before the hide."""
    thread_id, _ = _thread(world, "Pausat flöde och dold text")
    alice, bob, mod = new_page("en"), new_page("en"), new_page("en")
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    login(mod, world, world.moderator_email)
    open_thread(alice, world, thread_id)
    open_thread(bob, world, thread_id)
    bob.click("#pause")
    send(alice, "Mitt personnummer är 19800101-1234")
    stored = message(alice, "19800101-1234", stored=True)
    expect(stored).to_have_count(1)
    message_id = stored.get_attribute("data-id")
    expect(bob.locator("#show-new")).to_be_visible()

    hide_message(mod, world, message_id)
    # a message sent after the hide: once it waits too, the hide has reached Bob's page
    send(alice, "Efter döljandet")
    expect(message(alice, "Efter döljandet", stored=True)).to_have_count(1)
    expect(bob.locator("#show-new")).to_contain_text("2")

    item = bob.locator(f"#m{message_id}")
    expect(item).to_have_count(0)  # still paused: nothing came past the button
    bob.click("#show-new")
    expect(message(bob, "Efter döljandet", stored=True)).to_have_count(1)
    expect(item).to_have_attribute("data-state", "hidden")
    expect(item).not_to_contain_text("19800101-1234")
    assert "19800101" not in bob.locator("#feed").inner_text()


def test_a_live_edit_above_the_loaded_page_leaves_the_older_pages_reachable(world, new_page):
    """A thread longer than a page: Alice edits its first message while Bob reads the
    newest page. Bob's page does not put it at the top, and "Show older messages" then
    brings every message between."""
    thread_id, ids = _thread(world, "Lång tråd med rättelse", messages=60)
    alice, bob = new_page("en"), new_page("en")
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    expect(bob.locator(f"#m{ids[-1]}")).to_be_visible()
    expect(bob.locator(f"#m{ids[5]}")).to_have_count(0)  # above the first page

    alice.goto(f"{world.url}/messages/{ids[0]}/edit")
    alice.fill("textarea[name=body]", "Inlägg 0, rättat")
    alice.locator("form.stack [type=submit]").click()
    alice.wait_for_url(lambda url: "/edit" not in url)
    # a message sent after the edit: once Bob has it, the edit has reached his page too
    open_thread(alice, world, thread_id)
    send(alice, "Efter rättelsen")
    expect(message(bob, "Efter rättelsen", stored=True)).to_have_count(1)
    expect(bob.locator(f"#m{ids[0]}")).to_have_count(0)

    bob.click("#older")
    expect(bob.locator("#older-wrap")).to_have_count(0)  # every older page loaded
    shown = set(
        bob.locator("li.message[data-id]").evaluate_all("els => els.map(e => Number(e.dataset.id))")
    )
    missing = [i for i in ids if i not in shown]
    assert missing == [], f"{len(missing)} messages can never be scrolled to"
    expect(bob.locator(f"#m{ids[0]} [data-slot=body]")).to_have_text("Inlägg 0, rättat")


def test_a_page_back_after_its_session_ended_offline_stops_offering_to_send(world, new_page):
    """Carl's phone is offline past the idle limit. Back online, the socket's old cookie
    names an ended session: the page says the connection ended and the box is disabled. A
    reload draws the page for a visitor (the cookie still names the session), which reads
    on live."""
    from datetime import timedelta

    from sqlalchemy import update

    from forum.models import UserSession
    from forum.models.base import utcnow

    thread_id, _ = _thread(world, "Tillbaka efter natten")
    carl_email = world.member_emails[0]
    alice, carl = new_page("en"), new_page("en", phone=True)
    login(alice, world, world.alice_email)
    login(carl, world, carl_email)
    open_thread(alice, world, thread_id)
    open_thread(carl, world, thread_id)
    expect(carl.locator("#body")).to_be_enabled()
    go_offline(carl)

    def overnight(users):
        from forum.extensions import db

        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == users[carl_email].id)
            .values(last_seen_at=utcnow() - timedelta(hours=13))
        )
        db.session.commit()

    _write_while_away(world, overnight)
    carl.context.set_offline(False)
    expect(carl.locator("#connection")).to_have_attribute("data-state", "ended")
    expect(carl.locator("#body")).to_be_disabled()

    carl.reload()
    expect(carl.locator("#composer")).to_have_count(0)  # a visitor's page: nothing to write in
    expect(carl.locator("#connection")).to_have_attribute("data-state", "connected")
    send(alice, "Läst av en besökare")
    expect(message(carl, "Läst av en besökare", stored=True)).to_have_count(1)
    expect(carl.locator("#connection")).to_have_attribute("data-state", "connected")


# The page's own socket (the module instance thread.js imported), its handlers of an event
# called with `payload` as if the server had sent it.
HEAR = """async ([name, payload]) => {
  const { socket } = await import("/static/js/live.js");
  socket.listeners(name).forEach((handler) => handler(payload));
}"""
# A message's payload as the server sends it (to change into an older or newer state).
FETCH = """async ([threadId, id]) => {
  const { socket } = await import("/static/js/live.js");
  const ack = await socket.emitWithAck("history", { thread_id: threadId, before: id + 1, limit: 1 });
  return ack.messages[0];
}"""


def test_a_state_older_than_the_one_shown_is_not_shown_over_it(world, new_page):
    """The page shows a message hidden (heard live); then the same message as it was before
    the hide arrives (an acknowledgement built from rows read just before the hide
    committed): by `changed_at` it is older, and the placeholder stays."""
    thread_id, (message_id,) = _thread(world, "Svar som kommer för sent", messages=1)
    bob = new_page("en")
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    item = bob.locator(f"#m{message_id}")
    expect(item).to_have_attribute("data-state", "visible")
    now = bob.evaluate(FETCH, [thread_id, message_id])
    hidden = {
        **now,
        "state": "hidden",
        "html": "",
        "body": "",
        "hidden_reason": "Personuppgifter",
        "hidden_reasons": {"sv": "Personuppgifter", "en": "Personal data"},
        "changed_at": "2031-01-01T12:00:00.000002Z",
    }
    stale = {**now, "html": "<p>19800101-1234</p>", "changed_at": "2031-01-01T12:00:00.000001Z"}
    bob.evaluate(HEAR, ["message:hidden", {"message": hidden}])
    expect(item).to_have_attribute("data-state", "hidden")
    bob.evaluate(HEAR, ["message:edited", {"message": stale}])
    expect(item).to_have_attribute("data-state", "hidden")
    expect(item).not_to_contain_text("19800101-1234")
    # a newer state still comes through
    restored = {**now, "html": "<p>Tillbaka</p>", "changed_at": "2031-01-01T12:00:01Z"}
    bob.evaluate(HEAR, ["message:restored", {"message": restored}])
    expect(item).to_have_attribute("data-state", "visible")
    expect(item.locator("[data-slot=body]")).to_have_text("Tillbaka")


def test_a_reaction_to_a_message_waiting_behind_show_new_is_shown_with_it(world, new_page):
    """Bob has paused the feed; Alice writes, and the moderator reacts to it on his page.
    "Show new" shows the message with its reaction, not the counts it was sent with."""
    thread_id, _ = _thread(world, "Pausat flöde och reaktioner")
    alice, bob, mod = new_page("en"), new_page("en"), new_page("en")
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    login(mod, world, world.moderator_email)
    for page in (alice, bob, mod):
        open_thread(page, world, thread_id)
    bob.click("#pause")
    send(alice, "Reagera medan Bob pausar")
    expect(message(bob, "Reagera medan Bob pausar")).to_have_count(0)
    expect(bob.locator("#show-new")).to_be_visible()

    theirs = message(mod, "Reagera medan Bob pausar", stored=True)
    theirs.locator("[data-slot=reaction-picker] summary").click()
    theirs.locator("button[data-reaction-pick='👍']").click()
    expect(theirs.locator("button[data-reaction='👍']")).to_have_attribute("aria-pressed", "true")
    # a message sent after the reaction: once it waits too, the reaction has reached Bob
    send(alice, "Efter reaktionen")
    expect(bob.locator("#show-new")).to_contain_text("2")

    bob.click("#show-new")
    thumbs = message(bob, "Reagera medan Bob pausar").locator("button[data-reaction='👍']")
    expect(thumbs).to_be_visible()
    expect(thumbs).to_have_attribute("aria-pressed", "false")  # the moderator's, not Bob's
    expect(thumbs.locator("[data-reaction-count]")).to_have_text("1")
