"""A message in Arabic letters on a Swedish page: it was laid out left to right, so its
lines began at the wrong edge and its full stop stood at the start. What shows a person's
text has dir="auto" (its first letter decides, forum.text.text_attributes) and `lang` when
the letters tell the language; the composer's text runs in its own direction as it is
typed. Measured where the words are drawn, not by reading attributes alone."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login, message, open_thread, send
from playwright.sync_api import expect
from support import PASSWORD
from test_browser_catch_up import _write_while_away
from test_browser_feed_review_fixes import _thread

pytestmark = pytest.mark.browser

ARABIC = "نحتاج إلى مكان للقاء الشباب في المساء."
SWEDISH = "Vi behöver en mötesplats för unga på kvällarna."
STARTS_LATIN = "OK، نحن نتفق على الموعد ونأتي مع الشباب."

# Which edge of its paragraph the text is drawn against: "right", "left" or "both" (a
# line that fills it).
EDGE = """(body) => {
  const p = body.querySelector("p");
  const range = document.createRange();
  range.selectNodeContents(p);
  const text = range.getBoundingClientRect(), box = p.getBoundingClientRect();
  const left = Math.abs(text.left - box.left) < 2, right = Math.abs(text.right - box.right) < 2;
  return left && right ? "both" : right ? "right" : left ? "left" : "neither";
}"""


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_an_arabic_message_reads_right_to_left_live_and_after_a_reload(world, new_page, lang):
    thread_id, _ = _thread(world, f"Höger till vänster {lang}")
    alice, bob = new_page(lang), new_page(lang, phone=True)
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    open_thread(alice, world, thread_id)
    open_thread(bob, world, thread_id)

    alice.fill("#body", ARABIC)  # as it is typed, the box runs right to left too
    assert alice.locator("#body").evaluate("(b) => getComputedStyle(b).unicodeBidi") == (
        "plaintext"
    )
    alice.press("#body", "Enter")
    send(alice, SWEDISH)
    send(alice, STARTS_LATIN)

    for page in (bob, alice):
        for reload in (False, True):
            if reload:
                page.reload()
            arabic = message(page, "نحتاج", stored=True).locator("[data-slot=body]")
            swedish = message(page, "mötesplats", stored=True).locator("[data-slot=body]")
            expect(arabic).to_have_attribute("lang", "ar")
            expect(swedish).to_have_attribute("lang", "sv")
            assert arabic.evaluate("(b) => b.matches(':dir(rtl)')")
            assert swedish.evaluate("(b) => b.matches(':dir(ltr)')")
            assert arabic.evaluate(EDGE) == "right", (page, reload)
            assert swedish.evaluate(EDGE) == "left", (page, reload)
            # Arabic that begins with a Latin word: its language decides, not that word
            latin_first = message(page, "OK،", stored=True).locator("[data-slot=body]")
            expect(latin_first).to_have_attribute("lang", "ar")
            assert latin_first.evaluate(EDGE) == "right", (page, reload)
    assert_accessible(bob, f"a thread with an Arabic message ({lang})")


ARABIC_NAME = "أحمد علي"
# a name in the page's sentence is its own run: isolated, and right to left for Arabic
ISOLATED_RTL = "(n) => n.matches(':dir(rtl)') && getComputedStyle(n).unicodeBidi === 'isolate'"


def test_a_name_in_arabic_letters_stands_apart_where_people_are_listed(world, new_page):
    """Who is here, who is typing and the mention suggestions put people's names in a
    sentence or a list; a name in Arabic letters took the sentence's commas and the words
    after it into its own right-to-left run. Each name is now isolated (<bdi>, dir="auto")."""
    from forum.services import accounts, forums

    email = "ahmad@browser.se"
    thread_id, _ = _thread(world, "Namn som läses från höger")

    def work(users):
        ahmad = users.get(email) or accounts.create_user_with_role(
            email, ARABIC_NAME, PASSWORD, "member"
        )
        forums.send_message(ahmad, thread_id, "مرحبا بالجميع في النقاش", f"ahmad-{thread_id}")

    _write_while_away(world, work)
    ahmad, bob = new_page("sv"), new_page("sv", phone=True)
    login(ahmad, world, email)
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    open_thread(ahmad, world, thread_id)

    here = bob.locator("#presence bdi", has_text=ARABIC_NAME)
    expect(here).to_have_count(1)
    assert here.evaluate(ISOLATED_RTL)
    expect(bob.locator("#presence")).to_contain_text("Här nu:")
    ahmad.fill("#body", "أكتب")  # typing is told to the others
    typing = bob.locator("#typing bdi", has_text=ARABIC_NAME)
    expect(typing).to_have_count(1)
    assert typing.evaluate(ISOLATED_RTL)
    bob.locator("#body").press_sequentially("@")  # those who took part come first
    suggested = bob.locator("#mention-list .mention-name", has_text=ARABIC_NAME)
    expect(suggested).to_have_count(1)
    assert suggested.evaluate(ISOLATED_RTL)
    assert_accessible(bob, "a thread with a name in Arabic letters (sv)")
