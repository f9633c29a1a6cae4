"""A message in Arabic letters on a Swedish page: it was laid out left to right, so its
lines began at the wrong edge and its full stop stood at the start. What shows a person's
text has dir="auto" (its first letter decides, forum.text.text_attributes) and `lang` when
the letters tell the language; the composer's text runs in its own direction as it is
typed. Measured where the words are drawn, not by reading attributes alone."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, login, message, open_thread, send
from playwright.sync_api import expect
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

