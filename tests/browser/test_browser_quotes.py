"""A reply's quote follows the message it quotes on an open page: edited (or hidden,
redacted, deleted) text does not stay readable in the quote until a reload."""

from __future__ import annotations

import re

import pytest
from browsing import login, message, open_thread, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ANY = re.compile(".*")


def test_a_quote_follows_the_quoted_message_live(world, new_page):
    bob, visitor, alice = new_page("sv"), new_page("sv"), new_page("sv")
    login(bob, world, world.bob_email)
    bob.goto(f"{world.url}/threads/{world.thread_id}?reply_to={world.message_id}#composer")
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    send(bob, "Håller med om tiderna")
    reply = message(bob, "Håller med om tiderna", stored=True)
    expect(reply).to_have_count(1)
    reply_id = int(reply.get_attribute("data-id"))

    open_thread(visitor, world)  # a visitor's page of the public thread
    quote = visitor.locator(f"#m{reply_id} [data-slot=quote-text]")
    expect(quote).to_contain_text("kvällstider")
    expect(quote).to_have_attribute("lang", "sv")

    login(alice, world, world.alice_email)
    alice.goto(f"{world.url}/messages/{world.message_id}/edit")
    alice.fill("#body", "Vi behöver lokaler på lördagar.")
    alice.locator("form.stack [type=submit]").click()
    alice.wait_for_url(lambda url: "/edit" not in url)
    expect(quote).to_have_text("Vi behöver lokaler på lördagar.")

    # the page also rewrites every quote from the quoted message itself (for replies the
    # server does not send one by one): its words, or "not shown" once it is hidden
    rewrite = """async ([id, state, html]) => {
        const { refreshQuotes } = await import("/static/js/message.js");
        refreshQuotes(document, { id, state, html }, { notShown: "(inte visat)" });
    }"""
    visitor.evaluate(rewrite, [world.message_id, "visible", "<p>Nytt <em>ord</em>\n  här</p>"])
    expect(quote).to_have_text("Nytt ord här")
    expect(quote).not_to_have_attribute("lang", ANY)  # a message without a known language
    visitor.evaluate(rewrite, [world.message_id, "hidden", ""])
    expect(quote).to_have_text("(inte visat)")


def test_live_messages_and_their_quotes_carry_their_language(world, new_page):
    """On an English page, what arrives live is marked in its own language by the script,
    as the server marks what it renders: a screen reader reads Swedish as Swedish."""
    bob, visitor = new_page("sv"), new_page("en")
    open_thread(visitor, world)
    expect(visitor.locator("html")).to_have_attribute("lang", "en")
    login(bob, world, world.bob_email)
    bob.goto(f"{world.url}/threads/{world.thread_id}?reply_to={world.message_id}#composer")
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")

    send(bob, "We should also think about the weekends for the young people")
    live = message(visitor, "think about the weekends", stored=True)
    expect(live.locator("[data-slot=body]")).to_have_attribute("lang", "en")
    expect(live.locator("[data-slot=quote-text]")).to_have_attribute("lang", "sv")

    send(bob, "Ok!")
    short = message(visitor, "Ok!", stored=True)
    expect(short).to_have_count(1)
    expect(short.locator("[data-slot=body]")).not_to_have_attribute("lang", ANY)
