"""In Chromium: a refused moderation form puts the focus on the field it is about, which
names its error (it used to flash "This field is required." at the top of the page, tied
to nothing, with the focus left there), and the skip link to the message box is there only
while the box is (a locked thread hid the box and kept the link, also after a live lock)."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login, open_thread, toggle_lock
from playwright.sync_api import expect
from test_browser_catch_up import _write_while_away

pytestmark = pytest.mark.browser


def _thread(world, title: str, locked: bool = False) -> tuple[int, int]:
    """A thread of its own in a forum of its own (a lock here leaves the other tests alone)
    with a message of Alice's; (thread id, message id)."""
    from forum.services import forums, moderation

    made: dict[str, int] = {}

    def work(users):
        official = users[world.official_email]
        forum = forums.create_forum(official, f"Forum: {title}", "", "public", [3])
        thread = forums.start_thread(official, forum, title, [3], "Välkomna")
        sent, _ = forums.send_message(
            users[world.alice_email], thread.id, "Ring 070-1234567", title
        )
        if locked:
            moderation.lock_thread(users[world.moderator_email], thread.id, True)
        made.update(thread=thread.id, message=sent.id)

    _write_while_away(world, work)
    return made["thread"], made["message"]


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_refused_warning_puts_the_focus_on_its_text(world, new_page, lang):
    """Sent empty from the message's review page: the warning's box is marked invalid,
    names its error (which says what to write), and has the focus."""
    _thread_id, message_id = _thread(world, f"Varning utan text {lang}")
    page = new_page(lang)
    login(page, world, world.moderator_email)
    page.goto(f"{world.url}/moderation/messages/{message_id}")
    warn = page.locator(f"details.review-form:has(#warn-note-{message_id})")
    warn.locator("summary").click()
    page.fill(f"#warn-note-{message_id}", "   ")
    warn.locator("form[action$='/warn'] button[type=submit]").press("Enter")
    box = page.locator(f"#warn-note-{message_id}")
    expect(box).to_be_focused()
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_attribute("aria-describedby", f"warn-note-{message_id}-error")
    error = page.locator(f"#warn-note-{message_id}-error")
    expect(error).to_be_visible()
    if lang == "en":
        expect(error).to_have_text("Write the warning to the person.")
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.locator("[aria-invalid=true]")).to_have_count(1)
    assert_accessible(page, f"refused warning ({lang})")


def test_a_refused_hide_on_the_queue_keeps_the_text_and_focuses_the_reason(world, new_page):
    """On the queue: "Other reason" without a written reason. The written note box gets
    the focus; the choice made stays."""
    from forum.services import moderation

    _thread_id, message_id = _thread(world, "Dölj utan skäl")
    _write_while_away(
        world,
        lambda users: moderation.flag_message(users[world.bob_email], message_id, "personal_data"),
    )
    page = new_page("en")
    login(page, world, world.moderator_email)
    page.goto(f"{world.url}/moderation")
    hide = page.locator(f"details.review-form:has(#hide-note-{message_id})")
    hide.locator("summary").click()
    page.select_option(f"#hide-reason-{message_id}", "other")
    hide.locator("button[type=submit]").click()
    box = page.locator(f"#hide-note-{message_id}")
    expect(box).to_be_focused()
    expect(page.locator(f"#hide-note-{message_id}-error")).to_have_text("Write the reason.")
    expect(page.locator(f"#hide-reason-{message_id}")).to_have_value("other")
    assert_accessible(page, "refused hide on the queue")


def test_no_skip_link_to_the_box_of_a_locked_thread(world, new_page):
    """Opened locked: Tab from the top of the page never reaches a link to the hidden box."""
    thread_id, _ = _thread(world, "Låst från början", locked=True)
    page = new_page("sv")
    login(page, world, world.bob_email)
    open_thread(page, world, thread_id)
    expect(page.locator("#composer")).to_be_hidden()
    expect(page.locator("#skip-to-box")).to_be_hidden()
    page.evaluate("document.activeElement.blur()")
    reached = []
    for _ in range(3):  # the page's skip links come first
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.getAttribute('href')"))
    assert "#body" not in reached, reached


def test_the_skip_link_goes_and_comes_back_with_a_live_lock(world, new_page):
    """Locked while the page is open: the composer is hidden and the link with it; unlocked,
    both come back and the link reaches the box."""
    thread_id, _ = _thread(world, "Låses medan sidan är öppen")
    bob, moderator = new_page("sv"), new_page("sv")
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    open_thread(bob, world, thread_id)
    link = bob.locator("#skip-to-box")
    expect(link).to_have_attribute("href", "#body")
    expect(link).not_to_have_attribute("hidden", "")

    toggle_lock(moderator, world, thread_id)
    expect(bob.locator("#thread-status")).to_be_visible()
    expect(bob.locator("#composer")).to_be_hidden()
    expect(link).to_have_attribute("hidden", "")
    toggle_lock(moderator, world, thread_id)
    expect(bob.locator("#composer")).to_be_visible()
    expect(link).not_to_have_attribute("hidden", "")
    link.focus()
    link.press("Enter")
    expect(bob.locator("#body")).to_be_focused()
