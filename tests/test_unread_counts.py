"""Unread counts come from each thread's counters and the reader's marker, never a scan.

unread(thread) = thread.message_count - marker.read_count where the thread moved past
the marker; both counts are of VISIBLE messages and are kept current by the send path,
the read marker and every hide, restore or deletion.
"""

from __future__ import annotations

import pytest

from forum.config import parse_rate_limit
from forum.queries import forums as forum_queries


def unread(user, thread):
    return forum_queries.unread_by_thread(user, [thread.id]).get(thread.id, 0)


def by_forum(user, forum):
    return forum_queries.unread_by_forum(user, [forum.id]).get(forum.id, 0)


@pytest.fixture
def scene(make, app):
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    alice, bob = make.user(), make.user()
    forum = make.forum()
    thread = make.thread(forum=forum, author=alice)
    return alice, bob, forum, thread


def test_counts_follow_messages_and_the_marker(make, scene, socket_for):
    alice, bob, forum, thread = scene
    first = [make.message(thread, alice, f"m{i}") for i in range(3)]
    assert unread(bob, thread) == 3 and by_forum(bob, forum) == 3
    assert unread(alice, thread) == 0  # the sender has read up to her own message
    sock = socket_for(bob)
    ack = sock.emit("read", {"thread_id": thread.id, "message_id": first[0].id}, callback=True)
    assert ack == {"ok": True, "read_marker": first[0].id}
    assert unread(bob, thread) == 2  # part-way: counted from the marker
    make.message(thread, bob, "svar")
    assert unread(bob, thread) == 0 and unread(alice, thread) == 1
    second = make.thread(forum=forum, author=alice)
    make.message(second, alice, "annan tråd")
    assert by_forum(bob, forum) == 1 and by_forum(alice, forum) == 1


def test_hidden_and_deleted_messages_are_not_unread(make, scene):
    from forum.services import forums, moderation

    alice, bob, forum, thread = scene
    moderator = make.user("moderator")
    read = make.message(thread, alice, "läst")
    make.message(thread, bob, "bob läser allt")
    later = make.message(thread, alice, "oläst")
    withdrawn = make.message(thread, alice, "ångrar")
    assert unread(bob, thread) == 2
    with make.app.test_request_context():
        moderation.hide_message(moderator, later.id, "dialog", "")
        forums.delete_message(alice, withdrawn.id)
    assert unread(bob, thread) == 0 and by_forum(bob, forum) == 0
    with make.app.test_request_context():
        # Hiding a message the reader has already read must not swallow a new one.
        moderation.hide_message(moderator, read.id, "dialog", "")
    make.message(thread, alice, "ny")
    assert unread(bob, thread) == 1
    with make.app.test_request_context():
        moderation.restore_message(moderator, later.id)
    assert unread(bob, thread) == 2
    thread_row = forum_queries.get_thread(thread.id)
    assert thread_row.message_count == 3  # bob's, the restored one, the new one


def test_unread_queries_never_read_the_messages_table(make, scene, count_queries, client, auth):
    alice, bob, forum, thread = scene
    for i in range(5):
        make.message(thread, alice, f"m{i}")
    auth.login(bob)
    for url in ("/forums", f"/forums/{forum.slug}"):
        with count_queries() as counter:
            page = client.get(url, headers={"Accept-Language": "en"})
        assert page.status_code == 200
        assert "5" in page.get_data(as_text=True)
        counting = [s for s in counter.statements if "read_markers" in s]
        assert counting and not [s for s in counting if "messages" in s.lower()], counting
