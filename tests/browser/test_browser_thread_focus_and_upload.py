"""What a review of the thread page's script found, in the browser: "Show older messages"
never worked again after the connection dropped while it loaded, did nothing while the page
reconnected, and dropped the keyboard focus to the page when the last page came; the box's
focus fell to the page when access or the session ended as the person typed; the live
controls ran off a 320 px screen in Swedish; the script's "write a message first" was not
tied to the box; and a round response's upload over the size limit left for the server's
bare "too large" page, the unsaved answers with it."""

from __future__ import annotations

import re

import pytest
from browsing import assert_accessible, local, login, open_thread
from playwright.sync_api import expect
from test_browser_catch_up import _write_while_away
from test_browser_feed_review_fixes import FETCH, HEAR, _thread

pytestmark = pytest.mark.browser
# a small limit: a file just over it is quick to hand the browser
SERVER_ENV = {"FORUM_DOCUMENT_MAX_MB": "1"}

# The page's socket: its next "history" request is lost with the connection (the transport
# closes as it is sent, and socket.io connects again), as on a phone that loses its signal.
DROP_NEXT_HISTORY = """async () => {
  const { socket } = await import("/static/js/live.js");
  const drop = (event) => {
    if (event !== "history") return;
    socket.offAnyOutgoing(drop);
    window.historyDropped = true;
    socket.io.engine.close();
  };
  socket.onAnyOutgoing(drop);
}"""
DISCONNECT = """async () => {
  const { socket } = await import("/static/js/live.js");
  socket.disconnect();
}"""


def test_show_older_messages_survives_a_dropped_connection_and_keeps_the_focus(world, new_page):
    """A thread of three pages. Disconnected, the link opens its own page of older
    messages. Live again, a request lost with the connection does not stop the next one;
    the last page, asked for from the keyboard, leaves the focus on its oldest message."""
    thread_id, ids = _thread(world, "Tre sidor bakåt", messages=110)
    bob = new_page("sv")
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    rows = bob.locator("li.message[data-id]")
    expect(rows).to_have_count(50)

    # not in the thread's room: the link is a plain link to the older page
    bob.evaluate(DISCONNECT)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    bob.click("#older")
    bob.wait_for_url(re.compile(r"[?&]before=\d+"), timeout=15_000)

    open_thread(bob, world, thread_id)
    bob.evaluate(DROP_NEXT_HISTORY)
    bob.click("#older")
    # dropped (and so "reconnecting"), then back in the room
    bob.wait_for_function(
        "() => window.historyDropped"
        " && document.getElementById('connection').dataset.state === 'connected'"
    )
    expect(rows).to_have_count(50)  # the lost request brought nothing
    bob.focus("#older")
    bob.keyboard.press("Enter")
    expect(rows).to_have_count(100)
    expect(bob.locator("#older")).to_be_focused()

    bob.keyboard.press("Enter")
    expect(bob.locator("#older-wrap")).to_have_count(0)
    expect(rows).to_have_count(110)
    expect(bob.locator(f"#m{ids[0]}")).to_be_focused()


def test_the_box_its_error_the_live_controls_at_320_px_and_the_focus_when_access_ends(
    world, new_page
):
    """In Swedish: an empty send marks the box invalid and points it to the error; at 320 px
    "Show 1 new message" wraps below the pause button instead of running off the screen; and
    the session or the access ending while the person types puts the focus on what says so."""
    thread_id, (first,) = _thread(world, "Rutan och kontrollerna", messages=1)
    bob = new_page("sv")
    login(bob, world, world.bob_email)
    open_thread(bob, world, thread_id)
    box, error = bob.locator("#body"), bob.locator("#send-error")

    bob.press("#body", "Enter")
    expect(error).to_have_text("Skriv ett meddelande först.")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_attribute("aria-describedby", "body-hint send-error")
    box.press_sequentially("H")
    expect(error).to_be_hidden()
    expect(box).not_to_have_attribute("aria-invalid", "true")
    expect(box).to_have_attribute("aria-describedby", "body-hint")

    bob.set_viewport_size({"width": 320, "height": 700})
    bob.click("#pause")
    theirs = bob.evaluate(FETCH, [thread_id, first])
    bob.evaluate(HEAR, ["message:new", {"message": {**theirs, "id": first + 100_000}}])
    expect(bob.locator("#show-new")).to_have_text("Visa 1 nytt meddelande")
    sideways = bob.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const past = Array.from(document.querySelectorAll("#live-controls, #live-controls *"))
            .filter((el) => el.getBoundingClientRect().right > width + 0.5).map((el) => el.id);
          return { scroll: document.documentElement.scrollWidth, width, past };
        }"""
    )
    assert sideways["past"] == [] and sideways["scroll"] <= sideways["width"], sideways

    box.fill("Halvskrivet")
    box.focus()
    bob.evaluate(HEAR, ["session:ended", None])
    expect(box).to_be_disabled()
    expect(bob.locator("#connection")).to_be_focused()

    bob.reload()
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    box.fill("Halvskrivet igen")
    box.focus()
    bob.evaluate(HEAR, ["thread:revoked", {"thread_id": thread_id}])
    expect(box).to_be_disabled()
    expect(bob.locator("#thread-revoked")).to_be_focused()


def _open_round(world) -> int:
    """An open round (for all verified organisations) made by the official; its id."""
    from datetime import timedelta

    from sqlalchemy import select

    from forum.models import Commitment
    from forum.services import consultations

    made: dict[str, int] = {}

    def work(users):
        from forum.extensions import db

        official = users[world.official_email]
        data = consultations.RoundInput(
            title="Lokaler för kvällsverksamhet",
            problem="Vilka lokaler behövs?",
            background="Kulturnämnden ser över sina lokaler.",
            decision_date="2027-04-01",
            commitment_ids=list(db.session.scalars(select(Commitment.id).limit(1))),
            opens_at=local(-timedelta(hours=1)),
            closes_at=local(timedelta(days=7)),
            questions=[("Vilka lokaler saknas?", "")],
        )
        made["round"] = consultations.create_round(official, data).id
        consultations.open_round(official, made["round"])

    _write_while_away(world, work)
    return made["round"]


def test_an_upload_over_the_limit_is_refused_on_the_page_with_the_answers_kept(world, new_page):
    """Alice writes an answer, chooses a file just over the limit and presses Upload: the
    page stays with her answer, and the server's words are beside the file box, tied to it.
    Another file chosen takes the error away."""
    round_id = _open_round(world)
    alice = new_page("sv")
    login(alice, world, world.alice_email)
    alice.goto(f"{world.url}/consultations/{round_id}/response")
    answer = alice.locator("textarea[name^=answer-]")
    answer.fill("Osparat svar om kvällarna")
    file_box = alice.locator("#response-file")
    big = {"name": "stor.pdf", "mimeType": "application/pdf", "buffer": b"%PDF" + b"0" * 2**20}
    file_box.set_input_files(big)
    address = alice.url
    alice.locator("button[value=upload]").click()

    error = alice.locator("#response-file-too-large")
    expect(error).to_have_text("Filen är större än 1 MB.")
    expect(file_box).to_have_attribute("aria-invalid", "true")
    expect(file_box).to_have_attribute(
        "aria-describedby", "response-file-hint response-file-too-large"
    )
    expect(file_box).to_be_focused()
    assert alice.url == address
    expect(answer).to_have_value("Osparat svar om kvällarna")
    assert_accessible(alice, "a file over the limit")

    file_box.set_input_files({**big, "buffer": b"%PDF-1.4 liten"})
    expect(error).to_have_count(0)
    expect(file_box).not_to_have_attribute("aria-invalid", "true")
    expect(file_box).to_have_attribute("aria-describedby", "response-file-hint")
