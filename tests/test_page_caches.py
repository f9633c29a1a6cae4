"""What the thread, forum and list pages remember between requests (issue 13): a second view
comes from the cache, another viewer or language gets their own, a change shows up."""

from __future__ import annotations

import re

import pytest

from forum.config import parse_rate_limit


def text(response):
    return response.get_data(as_text=True)


def quote_of(page: str) -> str:
    """The texts of the page's quotes (the blank message <template>'s is empty)."""
    return " | ".join(re.findall(r'data-slot="quote-text">([^<]*)<', page))


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_a_quoted_message_is_excerpted_once_and_an_edit_shows_in_the_quote(client, make, auth):
    from forum.text import excerpt

    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    quoted = make.message(thread, alice, "första **versionen** av citatet")
    make.message(thread, bob, "svar", reply_to=quoted.id)
    auth.login(bob)
    assert "första versionen av citatet" in quote_of(text(client.get(f"/threads/{thread.id}")))
    before = excerpt.cache_info()
    client.get(f"/threads/{thread.id}")
    after = excerpt.cache_info()
    assert after.hits > before.hits and after.misses == before.misses  # not parsed again
    auth.login(alice)
    assert client.post(f"/messages/{quoted.id}/edit", data={"body": "andra"}).status_code == 302
    auth.login(bob)
    quote = quote_of(text(client.get(f"/threads/{thread.id}")))
    assert "andra" in quote and "första" not in quote
