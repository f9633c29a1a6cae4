"""What a WCAG review of the live thread page found in Chromium: the phone's sticky composer
covered the focused element (WCAG 2.4.11), focus fell to <body> when a message was hidden,
deleted or the thread locked under it (2.4.3), and so did "Show n new" when what waited came
in without it being pressed; the reaction picker did not close with Escape; the pause button
said its state twice; who reacted was only in a title (1.4.13)."""

from __future__ import annotations

import pytest
from browsing import assert_accessible, hide_message, login, message, open_thread, send, toggle_lock
from playwright.sync_api import expect
from test_browser_catch_up import SAID, away_while_reading_above, said
from test_browser_feed_review_fixes import _thread

pytestmark = pytest.mark.browser

# Where the focus is and whether something else (the composer) is drawn over its centre,
# as the reviewer's tabwalk.py measures it.
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return { tag: "BODY" };
  const r = e.getBoundingClientRect();
  const x = Math.max(0, Math.min(r.left + r.width / 2, innerWidth - 1));
  const y = Math.max(0, Math.min(r.top + r.height / 2, innerHeight - 1));
  const top = document.elementFromPoint(x, y);
  const feed = document.getElementById("feed");
  return {
    tag: e.tagName, id: e.id, text: (e.getAttribute("aria-label") || e.textContent).trim().slice(0, 40),
    inFeed: feed !== e && feed.contains(e), box: e.id === "body",
    covered: !(top && (top === e || e.contains(top) || top.contains(e))),
    by: top ? top.tagName + "#" + top.id + "." + top.className : "",
  };
}"""
# What has the focus: "BODY", or the id of the message (li.message) it is in or on.
FOCUSED_MESSAGE = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "BODY";
  const li = e.closest("li.message");
  return li ? (li === e ? li.id : li.id + " " + e.tagName) : e.tagName + "#" + e.id;
}"""


@pytest.mark.parametrize(("lang", "height"), [("sv", 640), ("en", 640), ("sv", 256), ("en", 256)])
def test_the_phone_composer_never_covers_the_focused_element(world, new_page, lang, height):
    """320 px wide, 640 tall (a phone) and 256 tall (1280 x 1024 at 400 % zoom): every
    focus stop in the feed, reached with Tab, is drawn on top at its centre; a third of
    them were behind the sticky composer."""
    thread_id, _ = _thread(world, f"Tabba på telefon {lang} {height}", messages=6)
    bob = new_page(lang, phone=True)
    login(bob, world, world.bob_email)
    bob.set_viewport_size({"width": 320, "height": height})
    open_thread(bob, world, thread_id)
    stops, covered = 0, []
    for _ in range(120):
        bob.keyboard.press("Tab")
        at = bob.evaluate(FOCUS)
        if at["tag"] == "BODY" or at.get("box"):
            break
        if at["inFeed"]:
            stops += 1
            if at["covered"]:
                covered.append(f"{at['tag']} {at['text']!r} under {at['by']}")
    assert stops >= 30, f"only {stops} focus stops in the feed"
    assert covered == [], f"{len(covered)} of {stops} covered: {covered}"
    if height == 256:  # too short to keep a box in view: it stays below the messages
        assert bob.locator("#composer").evaluate("(c) => getComputedStyle(c).position") == (
            "static"
        )


HIDDEN = {"sv": "Meddelandet dolt vid moderering.", "en": "Message hidden under moderation."}
DELETED = {
    "sv": "Meddelandet togs bort av den som skrev det.",
    "en": "Message deleted by its author.",
}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_hiding_the_message_in_focus_keeps_the_focus_on_it_and_says_so(world, new_page, lang):
    """Bob's focus is on Reply under Alice's message when a moderator hides it: the focus
    went to <body> (Tab started again from the top) and nothing was said."""
    thread_id, (first, second) = _thread(world, f"Dold under fokus {lang}", messages=2)
    bob, moderator = new_page(lang), new_page(lang)
    bob.add_init_script(SAID)
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    open_thread(bob, world, thread_id)
    bob.locator(f"#m{second} [data-action=reply]").focus()

    hide_message(moderator, world, second)
    item = bob.locator(f"#m{second}")
    expect(item).to_have_attribute("data-state", "hidden")
    expect(bob.locator("#announcer")).to_contain_text(HIDDEN[lang])
    assert bob.evaluate(FOCUSED_MESSAGE) == f"m{second}"
    # Tab goes on from the message, not from the top of the page
    bob.keyboard.press("Tab")
    assert bob.evaluate("() => document.getElementById('feed').contains(document.activeElement)")

    # a hide elsewhere, away from the focus, moves nothing and says nothing more
    bob.locator(f"#m{second}").focus()
    hide_message(moderator, world, first)
    expect(bob.locator(f"#m{first}")).to_have_attribute("data-state", "hidden")
    assert bob.evaluate(FOCUSED_MESSAGE) == f"m{second}"
    assert sum(HIDDEN[lang] in line for line in said(bob)) == 1, said(bob)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_message_deleted_by_its_author_keeps_the_readers_focus_on_it(world, new_page, lang):
    """Bob's focus is on a reaction's picker in Alice's message when she deletes it."""
    thread_id, _ = _thread(world, f"Borttagen under fokus {lang}")
    alice, bob = new_page(lang), new_page(lang)
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    open_thread(alice, world, thread_id)
    open_thread(bob, world, thread_id)
    send(alice, "Snart borta")
    theirs = message(bob, "Snart borta", stored=True)
    expect(theirs).to_have_count(1)
    message_id = theirs.get_attribute("data-id")
    theirs.locator("[data-slot=reaction-picker] summary").focus()

    alice.once("dialog", lambda dialog: dialog.accept())
    message(alice, "Snart borta", stored=True).locator("[data-action=delete]").click()
    item = bob.locator(f"#m{message_id}")
    expect(item).to_have_attribute("data-state", "deleted")
    expect(bob.locator("#announcer")).to_contain_text(DELETED[lang])
    assert bob.evaluate(FOCUSED_MESSAGE) == f"m{message_id}"


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_locking_the_thread_moves_the_focus_from_reply_to_its_message(world, new_page, lang):
    """A lock hides every Reply link: the one in focus took the focus to <body>."""
    thread_id, (_, second) = _thread(world, f"Låst under fokus {lang}", messages=2)
    bob, moderator = new_page(lang), new_page(lang)
    login(bob, world, world.bob_email)
    login(moderator, world, world.moderator_email)
    open_thread(bob, world, thread_id)
    bob.locator(f"#m{second} [data-action=reply]").focus()

    toggle_lock(moderator, world, thread_id)
    expect(bob.locator("#thread-status")).to_be_visible()
    expect(bob.locator(f"#m{second} [data-action=reply]")).to_be_hidden()
    assert bob.evaluate(FOCUSED_MESSAGE) == f"m{second}"
    expect(bob.locator("#announcer")).to_contain_text(
        "låst" if lang == "sv" else "locked"
    )  # the lock itself is read out, as before


def test_show_new_in_focus_hands_the_focus_to_the_first_new_message(world, new_page):
    """What waited behind "Show 3 new" comes in when the reader scrolls to the end; with the
    focus on the button, which then goes, the focus fell to <body>."""
    thread_id, _ = _thread(world, "Visa nya med fokus", messages=30)
    bob = new_page("sv")
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    feed = bob.locator("#feed")
    first, _, _ = away_while_reading_above(world, bob, thread_id, ["Ett", "Två", "Tre"])
    show_new = bob.locator("#show-new")
    expect(show_new).to_have_text("Visa 3 nya meddelanden")
    show_new.focus()
    feed.evaluate("(f) => { f.scrollTop = f.scrollHeight; }")  # the wheel, not the button
    expect(show_new).to_be_hidden()
    expect(bob.locator(f"#m{first}")).to_be_focused()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_escape_closes_the_reaction_picker_back_to_its_summary(world, new_page, lang):
    thread_id, (only,) = _thread(world, f"Escape i väljaren {lang}", messages=1)
    bob = new_page(lang)
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    picker = bob.locator(f"#m{only} [data-slot=reaction-picker]")
    picker.locator("summary").focus()
    bob.keyboard.press("Enter")
    expect(picker).to_have_attribute("open", "")
    bob.keyboard.press("Tab")
    expect(picker.locator("button").first).to_be_focused()
    bob.keyboard.press("Escape")
    expect(picker).not_to_have_attribute("open", "")
    expect(picker.locator("summary")).to_be_focused()
    # on the summary itself too
    bob.keyboard.press("Enter")
    expect(picker).to_have_attribute("open", "")
    bob.keyboard.press("Escape")
    expect(picker).not_to_have_attribute("open", "")
    expect(picker.locator("summary")).to_be_focused()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_pause_button_says_its_state_once(world, new_page, lang):
    """Its label changed to "Resume live updates" and aria-pressed became true: a screen
    reader heard "Resume live updates, pressed". A fixed label and aria-pressed say it."""
    label = "Pausa direktuppdateringar" if lang == "sv" else "Pause live updates"
    bob = new_page(lang)
    login(bob, world, world.bob_email)
    open_thread(bob, world)
    pause = bob.locator("#pause")
    styles = "(b) => getComputedStyle(b).backgroundColor + getComputedStyle(b).color"
    off = pause.evaluate(styles)
    pause.focus()
    for pressed in ("false", "true", "false"):
        expect(pause).to_have_attribute("aria-pressed", pressed)
        expect(pause).to_have_accessible_name(label)
        expect(pause).to_have_text(label)
        # the pressed state shows without the words too: not the released button's colours
        assert (pause.evaluate(styles) == off) == (pressed == "false")
        bob.keyboard.press("Space")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_who_reacted_is_shown_on_focus_and_hover_and_goes_with_escape(world, new_page, lang):
    """The names were only in the count button's title: a keyboard or touch user never
    saw them. Focus or hover shows them in a tooltip that describes the button, stays while
    the pointer moves onto it, and Escape dismisses it."""
    thread_id, (only,) = _thread(world, f"Vem reagerade {lang}", messages=1)
    alice, bob = new_page(lang), new_page(lang)
    login(alice, world, world.alice_email)
    login(bob, world, world.bob_email)
    open_thread(alice, world, thread_id)
    open_thread(bob, world, thread_id)
    theirs = alice.locator(f"#m{only}")
    theirs.locator("[data-slot=reaction-picker] summary").click()
    theirs.locator("button[data-reaction-pick='👍']").click()
    thumbs = bob.locator(f"#m{only} button[data-reaction='👍']")
    expect(thumbs).to_be_visible()
    tip = bob.locator("[role=tooltip]")
    name = "Reagera med tumme upp, 1 person" if lang == "sv" else "React with thumbs up, 1 person"

    thumbs.focus()  # by keyboard
    expect(tip).to_be_visible()
    expect(tip).to_have_text("Alice Andersson")
    expect(thumbs).to_have_accessible_description("Alice Andersson")
    expect(thumbs).to_have_accessible_name(name)
    assert not thumbs.get_attribute("title")  # no second, native tooltip over it
    assert_accessible(bob, f"reaction names shown ({lang})")
    bob.keyboard.press("Escape")
    expect(tip).to_be_hidden()
    expect(thumbs).to_be_focused()  # dismissed without moving the focus
    # Bob adds his own: the names follow while the button has the focus
    bob.keyboard.press("Enter")
    expect(thumbs).to_have_attribute("aria-pressed", "true")
    expect(tip).to_be_visible()
    expect(tip).to_have_text("Alice Andersson, Bob Berg")
    bob.keyboard.press("Tab")
    expect(tip).to_be_hidden()

    # the pointer: shown on hover, and it stays while the pointer moves onto it
    thumbs.hover()
    expect(tip).to_be_visible()
    box = tip.bounding_box()
    assert box is not None
    bob.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    bob.wait_for_timeout(600)
    expect(tip).to_be_visible()
    bob.mouse.move(0, 0)
    expect(tip).to_be_hidden()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_who_reacted_reaches_a_visitor_by_keyboard_and_by_tap(world, new_page, lang):
    """A visitor may not react, so the count buttons were `disabled`: they took no focus and
    a tap on a phone neither focuses nor hovers, so the names were out of reach but for a
    mouse. Now they say they are unavailable (aria-disabled) and still take the focus, and
    pressing or tapping one shows the names and sends nothing."""
    thread_id, (only,) = _thread(world, f"Besökaren ser vem {lang}", messages=1)
    alice = new_page(lang)
    login(alice, world, world.alice_email)
    open_thread(alice, world, thread_id)
    mine = alice.locator(f"#m{only}")
    mine.locator("[data-slot=reaction-picker] summary").click()
    mine.locator("button[data-reaction-pick='👍']").click()
    expect(mine.locator("button[data-reaction='👍'] [data-reaction-count]")).to_have_text("1")

    for phone in (False, True):
        visitor = new_page(lang, phone=phone)
        open_thread(visitor, world, thread_id)
        thumbs = visitor.locator(f"#m{only} button[data-reaction='👍']")
        tip = visitor.locator("[role=tooltip]")
        expect(thumbs).to_have_attribute("aria-disabled", "true")
        expect(visitor.locator(f"#m{only} [data-slot=reaction-picker]")).to_have_count(0)
        if phone:
            # Playwright will not tap an aria-disabled control; a finger does
            thumbs.tap(force=True)
            expect(tip).to_be_visible()
            expect(tip).to_have_text("Alice Andersson")
            visitor.locator(f"#m{only} [data-slot=body]").tap()  # elsewhere: it goes
            expect(tip).to_be_hidden()
        else:
            for _ in range(40):  # by keyboard alone
                visitor.keyboard.press("Tab")
                if thumbs.evaluate("(b) => b === document.activeElement"):
                    break
            expect(thumbs).to_be_focused()
            expect(tip).to_be_visible()
            expect(thumbs).to_have_accessible_description("Alice Andersson")
            assert_accessible(visitor, f"a visitor's reaction names ({lang})")
            visitor.keyboard.press("Enter")
            expect(tip).to_be_visible()
        assert visitor.url.endswith(f"/threads/{thread_id}")  # no form was sent
        expect(thumbs.locator("[data-reaction-count]")).to_have_text("1")
        expect(thumbs).to_have_attribute("aria-pressed", "false")

    # a member's tap on a phone reacts, and shows the names with theirs though a tap on
    # iOS neither focuses nor hovers the button (Chromium's tap does both: a bare click)
    bob = new_page(lang, phone=True)
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    thumbs = bob.locator(f"#m{only} button[data-reaction='👍']")
    thumbs.evaluate("(b) => b.click()")
    expect(thumbs).not_to_be_focused()
    expect(thumbs).to_have_attribute("aria-pressed", "true")
    expect(bob.locator("[role=tooltip]")).to_have_text("Alice Andersson, Bob Berg")
