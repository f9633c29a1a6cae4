"""What a review of the thread page's script found, in the browser: an edit that dropped a
message's formatting, a refused join never tried again, Enter on Safari before 16, focus
lost when a retried message went, the composer hidden under someone typing when the
thread was locked, and a queue refused for good by slow mode."""

from __future__ import annotations

from datetime import timedelta

import pytest
from browsing import login, message, open_thread, send, toggle_lock
from playwright.sync_api import expect
from test_browser_catch_up import _write_while_away
from test_browser_outbox import go_offline

pytestmark = pytest.mark.browser


def _new_thread(world, title: str, visibility: str = "public", written: str = "") -> tuple:
    """A thread of its own (so slow mode or a lock here leaves the other tests alone), and
    with `written` a message of Alice's from ten minutes ago (older than the catch-up's
    margin: nothing the page is sent again fills it)."""
    from sqlalchemy import update

    from forum.models import Message
    from forum.models.base import utcnow
    from forum.services import forums

    made: dict[str, int] = {}

    def work(users):
        official = users[world.official_email]
        forum = forums.create_forum(official, f"Forum: {title}", "", visibility, [3])
        thread = forums.start_thread(official, forum, title, [3], "Välkomna")
        made["thread"] = thread.id
        if written:
            sent, _ = forums.send_message(users[world.alice_email], thread.id, written, title)
            made["message"] = sent.id
        earlier = utcnow() - timedelta(minutes=10)
        forums.db.session.execute(
            update(Message)
            .where(Message.thread_id == thread.id)
            .values(created_at=earlier, changed_at=earlier)
        )
        forums.db.session.commit()

    _write_while_away(world, work)
    return made["thread"], made.get("message")


def test_editing_ones_own_message_keeps_its_markdown(world, new_page):
    """The page drew no markdown for a message, so the edit box took the shown text: saving
    it unchanged made the bold and the link plain and marked it edited."""
    source = "Läs **detta** och [länken](https://example.org/a)\n\n- ett\n- två"
    thread_id, message_id = _new_thread(world, "Redigera med formatering", written=source)
    alice = new_page("sv")
    login(alice, world, world.alice_email)
    open_thread(alice, world, thread_id)
    item = alice.locator(f"#m{message_id}")
    item.locator("[data-action=edit]").click()
    box = item.locator("form.edit-form textarea")
    expect(box).to_have_value(source)
    box.press("End")
    box.press("Enter")
    expect(item.locator("form.edit-form")).to_have_count(0)
    expect(item.locator("[data-slot=body] strong")).to_have_text("detta")
    expect(item.locator("[data-slot=body] a")).to_have_attribute("href", "https://example.org/a")


def test_enter_sends_where_forms_have_no_request_submit(world, new_page):
    """Safari before 16 (iPhones that stay on iOS 15): Enter did nothing and threw."""
    thread_id, _ = _new_thread(world, "Utan requestSubmit")
    bob = new_page("sv", phone=True)
    bob.add_init_script("delete HTMLFormElement.prototype.requestSubmit")
    errors: list[str] = []
    bob.on("pageerror", lambda err: errors.append(str(err)))
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    send(bob, "Skickat med Enter")
    expect(message(bob, "Skickat med Enter", stored=True)).to_have_count(1)
    assert errors == []


def test_a_message_sent_from_the_outbox_takes_the_focus_it_had_along(world, new_page):
    """Focus on a row of the outbox (its status, where "Try again" puts it) fell to the top
    of the page when the row gave way to the stored message."""
    thread_id, _ = _new_thread(world, "Fokus efter sändning")
    bob = new_page("en")
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    go_offline(bob)
    send(bob, "Skrivet utan nät")
    bob.locator("li.outgoing [data-slot=status]").focus()
    bob.context.set_offline(False)
    stored = message(bob, "Skrivet utan nät", stored=True)
    expect(stored).to_have_count(1)
    expect(stored).to_be_focused()


def test_a_thread_locked_while_someone_writes_keeps_their_text_and_place(world, new_page):
    """The composer was hidden with the half-written text in it, the focus fell to the top
    of the page, and Reply went on focusing the hidden box."""
    thread_id, _ = _new_thread(world, "Låses medan man skriver", written="Något att svara på")
    bob, moderator = new_page("en"), new_page("en")
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    open_thread(bob, world, thread_id)
    bob.fill("#body", "Halvskrivet svar")

    toggle_lock(moderator, world, thread_id)
    expect(bob.locator("#thread-status")).to_be_visible()
    expect(bob.locator("#composer")).to_be_visible()
    expect(bob.locator("#body")).to_be_disabled()
    expect(bob.locator("#body")).to_have_value("Halvskrivet svar")
    expect(bob.locator("#send-error")).to_contain_text("locked")
    expect(bob.locator("#thread-status")).to_be_focused()
    expect(bob.locator("[data-action=reply]:visible")).to_have_count(0)
    toggle_lock(moderator, world, thread_id)
    expect(bob.locator("#body")).to_be_enabled()
    expect(bob.locator("#body")).to_have_value("Halvskrivet svar")
    expect(bob.locator("[data-action=reply]:visible")).not_to_have_count(0)


def test_messages_queued_offline_wait_for_slow_mode_instead_of_failing(world, new_page):
    """Sent back to back after a reconnect, each refused by slow mode (with how long to
    wait) became "Not sent" for good, announced urgently, one "Try again" each."""
    from forum.services import moderation

    thread_id, _ = _new_thread(world, "Långsamt läge och kö")
    _write_while_away(
        world, lambda users: moderation.set_slow_mode(users[world.moderator_email], thread_id, 3)
    )
    bob = new_page("en")
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    go_offline(bob)
    send(bob, "Först i kön")
    send(bob, "Sedan i kön")
    expect(bob.locator("li.outgoing")).to_have_count(2)
    bob.context.set_offline(False)
    expect(message(bob, "Först i kön", stored=True)).to_have_count(1)
    waiting = bob.locator("li.outgoing")
    expect(waiting).to_have_attribute("data-state", "sending")
    expect(waiting.locator("[data-slot=status]")).to_contain_text("Slow mode")
    expect(message(bob, "Sedan i kön", stored=True)).to_have_count(1, timeout=15_000)
    expect(bob.locator("li.outgoing")).to_have_count(0)


def test_a_session_that_expired_while_away_ends_the_page_instead_of_waiting(world, new_page):
    """A join refused for another reason than access was never tried again: a phone whose
    session expired while it slept said "reconnecting" for ever and its queued message
    "will be sent when the connection is back"."""
    thread_id, _ = _new_thread(world, "Sessionen gick ut", visibility="members")
    bob = new_page("en")
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    go_offline(bob)
    send(bob, "Skrivet medan sessionen gick ut")
    bob.context.clear_cookies()  # as the expired session is to the server
    bob.context.set_offline(False)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "ended", timeout=20_000)
    expect(bob.locator("li.outgoing [data-slot=status]")).to_contain_text("session ended")
    expect(bob.locator("li.outgoing [data-slot=body]")).to_have_text(
        "Skrivet medan sessionen gick ut"
    )
