"""The notifications page by keyboard: "Mark as read" on one notice comes back at the next
one, focused, so the reader goes on from there (not from the top of the page, through the
header, for each of them)."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login
from playwright.sync_api import expect
from test_browser_catch_up import _write_while_away

pytestmark = pytest.mark.browser

COUNT = 20


def _notices(world, email: str) -> list[int]:
    """COUNT unread notices for `email`; their ids, newest first (as the page lists them)."""
    from sqlalchemy import select

    from forum.extensions import db
    from forum.models import Notification
    from forum.services import notifications

    ids: list[int] = []

    def work(users):
        person = users[email]
        for i in range(COUNT):
            notifications.deliver(
                [person], "action_update", f"Punkt {i}", f"/actions/{i}", actor=None
            )
        db.session.commit()
        ids.extend(
            db.session.scalars(
                select(Notification.id)
                .where(Notification.user_id == person.id)
                .order_by(Notification.id.desc())
            )
        )

    _write_while_away(world, work)
    return ids


IN_VIEW = """(el) => {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.top < window.innerHeight;
}"""


@pytest.mark.parametrize(("lang", "phone"), [("sv", False), ("en", True)])
def test_mark_as_read_by_keyboard_goes_on_at_the_next_notice(world, new_page, lang, phone):
    email = world.member_emails[0 if lang == "sv" else 1]
    ids = _notices(world, email)
    page = new_page(lang, phone=phone)
    login(page, world, email)
    page.goto(f"{world.url}/notifications")
    marked, following = ids[12], ids[13]  # well down the page: coming back scrolls
    page.locator(f"#note-{marked} a").focus()
    page.keyboard.press("Tab")
    button = page.locator(f"#note-{marked} button")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/notifications#note-{following}")
    expect(page.locator(f"#note-{marked} .badge")).to_have_count(0)  # read now
    target = page.locator(f"#note-{following}")
    expect(target).to_be_focused()
    assert target.evaluate("(el) => el.matches(':target')")
    assert target.evaluate(IN_VIEW), "the next notice is out of sight"
    # and a sighted keyboard user sees where they are
    assert target.evaluate("(el) => el.matches(':focus-visible')")
    assert_accessible(page, f"notifications after marking one read ({lang})")
    # the keyboard goes on from there: the next Tab is the notice's own link, then its button
    page.keyboard.press("Tab")
    expect(target.locator("a")).to_be_focused()
    page.keyboard.press("Tab")
    expect(target.locator("button")).to_be_focused()
