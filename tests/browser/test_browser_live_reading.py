"""What a screen reader is told on a live thread, where focus goes after a refused form,
and that a live message's time reads as the server writes it."""

from __future__ import annotations

import pytest
from browsing import login, open_thread, send, wait_until_live
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_burst_of_messages_is_one_line_and_a_mention_here_is_read_once(world, new_page):
    """Five messages queued five announcements; a mention in the open thread was read
    twice (as a message and as a notification)."""
    alice, bob = new_page("sv"), new_page("en")
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    open_thread(alice, world)
    open_thread(bob, world)
    words = ["Ett", "Två", "Tre", "Fyra", "Fem"]
    # Bob keeps typing until each has arrived (announcements wait while a key was pressed
    # in the last two seconds), so however slowly a loaded machine relays them, all five
    # are waiting when he stops.
    bob.focus("#body")
    for word in words:
        bob.keyboard.type("x")
        send(alice, word)
        arrived = bob.locator("#feed [data-slot=body]", has_text=word)
        for _ in range(150):  # 30 s at most
            bob.keyboard.type("x")
            if arrived.count() == 1:
                break
            bob.wait_for_timeout(200)
        expect(arrived).to_have_count(1)
    bob.fill("#body", "")
    bob.evaluate("document.activeElement.blur()")
    lines = bob.locator("#announcer p")
    expect(lines).to_have_count(1)
    expect(lines).to_have_text("5 new messages; the latest from Alice Andersson: Fem")

    send(alice, "Hör du @bob.berg?")
    expect(bob.locator("#announcer p").last).to_contain_text(
        "New message from Alice Andersson: Hör du"
    )
    expect(bob.locator("[data-notification-count]").first).to_have_text("1")
    expect(bob.locator("#notify-announcer")).to_have_text("")
    # elsewhere the notification is what tells him
    bob.goto(f"{world.url}/forums")
    wait_until_live(bob)
    send(alice, "Och nu, @bob.berg?")
    # what it is, in the language of Bob's notices (Swedish: he chose none), marked as such
    # on his English page, then what it quotes
    said = bob.locator("#notify-announcer span[lang=sv]")
    expect(said).to_have_text("Alice Andersson nämnde dig i ”Lokaler för repetition”")
    expect(bob.locator("#notify-announcer")).to_contain_text("New notification: ")
    expect(bob.locator("#notify-announcer")).to_contain_text("Och nu")


def test_a_refused_login_moves_focus_to_the_error_summary(world, new_page):
    page = new_page("en")
    page.goto(world.url + "/login")
    page.fill("input[name=email]", world.alice_email)
    page.fill("input[name=password]", "not the password")
    page.locator("main form [type=submit]").click()
    expect(page.locator(".error-summary")).to_be_focused()


def test_a_refused_slow_mode_moves_focus_to_its_field(world, new_page):
    page = new_page("en")
    login(page, world, world.moderator_email)
    page.goto(f"{world.url}/threads/{world.thread_id}")
    page.locator("#thread-controls > summary").click()
    page.fill("#slow-seconds", "1e3")  # a number to the browser, not a whole one to the form
    page.locator("form:has(#slow-seconds) [type=submit]").click()
    field = page.locator("#slow-seconds")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-describedby", "slow-seconds-error")
    expect(page.locator("#slow-seconds-error")).to_have_text(
        "Seconds between messages must be a whole number."
    )


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_live_message_time_reads_as_the_servers(world, new_page, lang):
    """English pages said "Dec 5, 2026 11:50 PM" beside live messages' "5 Dec 2026, 23:50"."""
    page = new_page(lang)
    open_thread(page, world)
    time = page.locator(f"#m{world.message_id} time")
    server = time.text_content()
    script = page.evaluate(
        """async (iso) => {
            const { timeFormatter } = await import("/static/js/message.js");
            return timeFormatter().format(new Date(iso));
        }""",
        time.get_attribute("datetime"),
    )
    assert script == server


def test_a_live_move_is_announced_with_the_forum_title_as_written(world, new_page):
    """The announcement was S.moved.replace("{forum}", title): a "$`" in the title put the
    text before the placeholder in its place ("moved to Budget The thread was moved to
    2027"), "$&" put "{forum}" back, "$$" lost a "$"."""
    from sqlalchemy import select
    from support import app_settings

    from forum import create_app
    from forum.extensions import db
    from forum.models import Forum, User
    from forum.services import forums

    title = "Budget $` 2027 $& $$ $'"
    app = create_app(app_settings(world.server.env["FORUM_DATABASE_URL"]))
    with app.app_context(), app.test_request_context():
        official = db.session.scalar(select(User).where(User.email == world.official_email))
        target = forums.create_forum(official, title, "Pengar.", "public", [3])
        home = db.session.scalar(select(Forum).where(Forum.slug == world.forum_slug))
        thread = forums.start_thread(official, home, "Flyttas snart", [3], "Hit eller dit?")
        thread_id, target_id = thread.id, target.id
        db.session.remove()
        db.engine.dispose()

    reader, moderator = new_page("en"), new_page("en")
    login(reader, world, world.alice_email)
    login(moderator, world, world.moderator_email)
    open_thread(reader, world, thread_id)
    moderator.goto(f"{world.url}/threads/{thread_id}")
    moderator.locator("#thread-controls > summary").click()
    moderator.select_option("#move-forum", str(target_id))
    moderator.locator("form:has(#move-forum) [type=submit]").click()
    expect(moderator.locator(".flash-success")).to_be_visible()

    expect(reader.locator("#thread-forum")).to_have_text(title)
    expect(reader.locator("#announcer p").last).to_have_text(f"The thread was moved to {title}.")
