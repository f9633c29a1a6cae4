"""A mute imposed or lifted while the person's thread page is open, in the browser.

The page went on offering the box, Reply and the own messages' controls after a mute until
it was reloaded (each send then refused), and a page drawn while muted had no box to
offer when the mute was lifted. Now the page follows `mute:changed` as it follows a lock:
the box goes (or, with text in it, stays disabled with the text and the reason), and comes
back when the mute is lifted or its time is up. So do Reply, React and "Make this an
action" on every message, and the reaction counts are pressed only while the person may
write (a page drawn while muted had none of them until a reload)."""

from __future__ import annotations

import pytest
from browsing import login, open_thread, send
from form_states import check_widths
from playwright.sync_api import expect
from test_browser_thread_review_fixes import _new_thread

pytestmark = pytest.mark.browser


def _mute(moderator, world, forum_title: str, email: str) -> None:
    moderator.goto(world.url + "/moderation/people")
    moderator.fill("#mute-person", email)
    moderator.select_option("#mute-forum_id", label=forum_title)
    moderator.fill("#mute-reason", "Upprepade personangrepp")
    moderator.locator("form:has(#mute-person) [type=submit]").click()
    expect(moderator.locator(".flash-success")).to_be_visible()


def _lift(moderator, world, forum_title: str) -> None:
    moderator.goto(world.url + "/moderation/people")
    moderator.locator("tbody tr", has_text=forum_title).get_by_role("button").click()
    expect(moderator.locator(".flash-success")).to_be_visible()


def test_a_mute_takes_the_box_away_live_and_its_lifting_gives_it_back(world, new_page):
    title = "Tystas medan sidan är öppen"
    thread_id, _ = _new_thread(world, title, written="Något att svara på")
    bob, moderator, alice = new_page("en"), new_page("en"), new_page("en")
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    login(alice, world, world.alice_email)
    open_thread(bob, world, thread_id)
    open_thread(alice, world, thread_id)
    expect(bob.locator("#composer")).to_be_visible()
    expect(bob.locator("#muted-notice")).to_be_hidden()

    _mute(moderator, world, f"Forum: {title}", world.bob_email)
    expect(bob.locator("#muted-notice")).to_be_visible()
    expect(bob.locator("#muted-notice")).to_contain_text("You are muted in this forum until")
    expect(bob.locator("#composer")).to_be_hidden()
    expect(bob.locator("#skip-to-box")).to_be_hidden()
    expect(bob.locator("#announcer")).to_contain_text("You are muted in this forum until")
    # no way to speak on any message, one that arrives after the mute included
    send(alice, "Skrivet efter tystnaden")
    expect(bob.locator("li.message", has_text="Skrivet efter tystnaden")).to_be_visible()
    for speaking in ("[data-action=reply]", ".reaction-picker", "[data-slot=action-link]"):
        expect(bob.locator(f"#feed {speaking}:visible")).to_have_count(0)
    # the counts say they cannot be pressed (they still show who reacted)
    expect(bob.locator("#feed button[data-reaction]")).not_to_have_count(0)
    expect(bob.locator("#feed button[data-reaction]:not([aria-disabled=true])")).to_have_count(0)
    check_widths(bob, "thread page muted live (en)")  # axe at desktop and 375 px

    # drawn while muted: the box is there, hidden, and the lifting shows it
    open_thread(bob, world, thread_id)
    expect(bob.locator("#muted-notice")).to_be_visible()
    expect(bob.locator("#composer")).to_be_hidden()
    _lift(moderator, world, f"Forum: {title}")
    expect(bob.locator("#muted-notice")).to_be_hidden()
    expect(bob.locator("#composer")).to_be_visible()
    expect(bob.locator("#body")).to_be_enabled()
    expect(bob.locator("#announcer")).to_contain_text("Your mute here has ended")
    # and what a page drawn while muted lacked until a reload: Reply, React and the counts
    for speaking in ("[data-action=reply]", ".reaction-picker", "[data-slot=action-link]"):
        expect(bob.locator(f"#feed li.message {speaking}").first).to_be_visible()
    first = bob.locator("#feed li.message", has_text="Något att svara på")
    first.locator("[data-slot=reaction-picker] summary").click()
    first.locator("button[data-reaction-pick='👍']").click()
    count = first.locator("button[data-reaction='👍']")
    expect(count).to_have_attribute("aria-pressed", "true")
    expect(count).to_contain_text("1")
    expect(bob.locator("#feed button[data-reaction][aria-disabled]")).to_have_count(0)
    send(alice, "Skrivet efter att tystnaden hävdes")  # a new message's counts too
    later = bob.locator("li.message", has_text="Skrivet efter att tystnaden hävdes")
    expect(later.locator("[data-slot=reply-link]")).to_be_visible()
    expect(later.locator("button[data-reaction][aria-disabled]")).to_have_count(0)


def test_a_page_drawn_muted_in_swedish_passes_axe_at_both_widths(world, new_page):
    """The notice instead of the box, and the hidden controls, on a page drawn while muted
    (the server's HTML, not the script's change): axe at desktop width and at 375 px, with
    nothing wider than the phone's screen."""
    title = "Tystad när sidan ritas"
    thread_id, _ = _new_thread(world, title, written="Något att läsa")
    bob, moderator = new_page("sv"), new_page("en")
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    _mute(moderator, world, f"Forum: {title}", world.bob_email)
    open_thread(bob, world, thread_id)
    expect(bob.locator("#muted-notice")).to_contain_text("Du är tystad i det här forumet till")
    expect(bob.locator("#composer")).to_be_hidden()
    expect(bob.locator("#feed [data-action=reply]:visible")).to_have_count(0)
    check_widths(bob, "thread page drawn muted (sv)")


def test_a_mute_while_someone_writes_keeps_their_text_and_place(world, new_page):
    title = "Tystas mitt i ett svar"
    thread_id, _ = _new_thread(world, title, written="Något att svara på")
    bob, moderator = new_page("sv"), new_page("en")
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    open_thread(bob, world, thread_id)
    bob.fill("#body", "Halvskrivet svar")

    _mute(moderator, world, f"Forum: {title}", world.bob_email)
    expect(bob.locator("#muted-notice")).to_be_visible()
    expect(bob.locator("#muted-notice")).to_be_focused()
    expect(bob.locator("#composer")).to_be_visible()
    expect(bob.locator("#body")).to_be_disabled()
    expect(bob.locator("#body")).to_have_value("Halvskrivet svar")
    expect(bob.locator("#send-error")).to_contain_text("Du är tystad i det här forumet till")

    _lift(moderator, world, f"Forum: {title}")
    expect(bob.locator("#muted-notice")).to_be_hidden()
    expect(bob.locator("#body")).to_be_enabled()
    expect(bob.locator("#body")).to_have_value("Halvskrivet svar")
    expect(bob.locator("[data-action=reply]:visible")).not_to_have_count(0)


def test_a_thread_moved_out_of_the_forum_of_the_mute_opens_the_box_again(world, new_page):
    title = "Flyttas ut ur ett forum där man är tystad"
    thread_id, _ = _new_thread(world, title, written="Något att svara på")
    bob, moderator = new_page("en"), new_page("en")
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    open_thread(bob, world, thread_id)
    _mute(moderator, world, f"Forum: {title}", world.bob_email)
    expect(bob.locator("#composer")).to_be_hidden()
    moderator.goto(f"{world.url}/threads/{thread_id}")
    moderator.locator("#thread-controls summary").click()
    moderator.select_option("#move-forum", label="Kultur i stadsdelarna")
    moderator.locator("form:has(#move-forum) [type=submit]").click()
    expect(bob.locator("#thread-forum")).to_have_text("Kultur i stadsdelarna")
    expect(bob.locator("#muted-notice")).to_be_hidden()
    expect(bob.locator("#composer")).to_be_visible()


def test_a_page_whose_session_ended_does_not_say_the_mute_ended(world, new_page):
    """Back with the cookie of an ended login, the page joins as a visitor's, whose answer
    says no mute: it said "your mute has ended" and showed the box again."""
    from test_browser_composer_states import log_out_everywhere
    from test_browser_outbox import go_offline

    title = "Tystad när sessionen tar slut"
    thread_id, _ = _new_thread(world, title, written="Något att svara på")
    bob, bob_elsewhere, moderator = new_page("en"), new_page("en"), new_page("en")
    login(bob, world, world.bob_email)
    login(bob_elsewhere, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    _mute(moderator, world, f"Forum: {title}", world.bob_email)
    open_thread(bob, world, thread_id)
    expect(bob.locator("#muted-notice")).to_be_visible()
    go_offline(bob)
    log_out_everywhere(bob_elsewhere, world)
    bob.context.set_offline(False)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "ended")
    bob.wait_for_timeout(1000)  # the visitor's join answered meanwhile
    expect(bob.locator("#muted-notice")).to_be_visible()
    expect(bob.locator("#composer")).to_be_hidden()
    expect(bob.locator("#announcer")).not_to_contain_text("mute here has ended")
