"""Reactions: a fixed set of emoji, one of each per person and message, live to the room."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.config import parse_rate_limit
from forum.models import MessageReaction
from forum.queries import reactions as rq
from forum.services import moderation


def received(sock, name):
    return [item["args"][0] for item in sock.get_received() if item["name"] == name]


def joined(sock, thread):
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    sock.get_received()
    return sock


def joined_ack(sock, thread):
    ack = sock.emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["ok"]
    return ack


def stored(db) -> int:
    return db.session.scalar(select(func.count()).select_from(MessageReaction))


def test_add_is_counted_once_per_person_and_broadcast_without_mine(make, socket_for, db):
    alice, bob, carl = make.user(name="Alice A"), make.user(name="Bob B"), make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "Hej")
    watcher = joined(socket_for(carl), thread)
    a, b = socket_for(alice), socket_for(bob)

    ack = a.emit("reaction:add", {"message_id": message.id, "emoji": "👍"}, callback=True)
    assert ack == {
        "ok": True,
        "message_id": message.id,
        "reactions": [{"emoji": "👍", "count": 1, "people": ["Alice A"], "mine": True}],
    }
    again = a.emit("reaction:add", {"message_id": message.id, "emoji": "👍"}, callback=True)
    assert again["ok"] and again["reactions"][0]["count"] == 1  # one of each per person
    ack = b.emit("reaction:add", {"message_id": message.id, "emoji": "👍"}, callback=True)
    assert ack["reactions"] == [
        {"emoji": "👍", "count": 2, "people": ["Alice A", "Bob B"], "mine": True}
    ]
    b.emit("reaction:add", {"message_id": message.id, "emoji": "✅"}, callback=True)
    assert stored(db) == 3
    updates = received(watcher, "reaction:updated")
    assert len(updates) == 3  # the repeated add changed nothing and told nobody
    last = updates[-1]
    assert last["message_id"] == message.id
    assert [r["emoji"] for r in last["reactions"]] == ["👍", "✅"]  # the fixed order
    assert all("mine" not in r and "user_ids" not in r for r in last["reactions"])

    ack = a.emit("reaction:remove", {"message_id": message.id, "emoji": "👍"}, callback=True)
    assert ack["reactions"][0] == {"emoji": "👍", "count": 1, "people": ["Bob B"], "mine": False}
    assert received(watcher, "reaction:updated")[-1]["reactions"][0]["count"] == 1
    removed_twice = a.emit(
        "reaction:remove", {"message_id": message.id, "emoji": "👍"}, callback=True
    )
    assert removed_twice["ok"] and received(watcher, "reaction:updated") == []
    assert stored(db) == 2


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"emoji": "💩"}, "invalid"),
        ({"emoji": None}, "invalid"),
        ({"emoji": ["👍"]}, "invalid"),
        ({"message_id": "abc", "emoji": "👍"}, "invalid"),
        ({"message_id": None, "emoji": "👍"}, "invalid"),
        ({"message_id": 999999, "emoji": "👍"}, "not_found"),
    ],
)
def test_bad_input_gets_an_error_ack(make, socket_for, db, payload, code):
    alice = make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice)
    sock = socket_for(alice)
    ack = sock.emit("reaction:add", {"message_id": message.id, **payload}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert sock.emit("reaction:remove", "not an object", callback=True)["ok"] is False
    assert stored(db) == 0


def test_who_may_react(make, socket_for, db):
    alice, outsider, muted = make.user(), make.user(), make.user()
    moderator = make.user("moderator")
    private = make.forum(visibility="invite", members=[alice, muted])
    thread = make.thread(forum=private, author=alice)
    message = make.message(thread, alice, "Internt")
    add = {"message_id": message.id, "emoji": "🎉"}
    # a visitor, and someone who cannot read the thread
    assert socket_for(None).emit("reaction:add", add, callback=True)["error"]["code"] in (
        "auth_required",
    )
    assert socket_for(outsider).emit("reaction:add", add, callback=True)["error"]["code"] == (
        "not_found"
    )
    # a muted member
    with make.app.test_request_context():
        moderation.mute_person(moderator, muted.id, private.id, 60, "Lugna ner dig")
    assert socket_for(muted).emit("reaction:add", add, callback=True)["error"]["code"] == "muted"
    # a locked thread
    thread.locked = True
    db.session.commit()
    assert socket_for(alice).emit("reaction:add", add, callback=True)["error"]["code"] == "locked"
    assert stored(db) == 0


def test_a_hidden_message_cannot_be_reacted_to(make, socket_for, db):
    alice, bob = make.user(), make.user()
    moderator = make.user("moderator")
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "Snart dold")
    with make.app.test_request_context():
        moderation.hide_message(moderator, message.id, "other", "Spam")
    ack = socket_for(bob).emit(
        "reaction:add", {"message_id": message.id, "emoji": "❓"}, callback=True
    )
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    assert stored(db) == 0


def test_summaries_of_many_messages_take_one_query(make, app, db, count_queries):
    alice = make.user()
    thread = make.thread(author=alice)
    messages = [make.message(thread, alice, f"m{i}") for i in range(6)]
    people = [make.user() for _ in range(4)]
    for m in messages:
        for p in people:
            for emoji in rq.REACTIONS[:3]:
                db.session.add(MessageReaction(message_id=m.id, user_id=p.id, emoji=emoji))
    db.session.commit()
    ids = [m.id for m in messages]
    db.session.expire_all()
    with count_queries() as q:
        result = rq.summaries(ids)
    assert q.count == 1, q.statements
    assert all([r["count"] for r in result[i]] == [4, 4, 4] for i in ids)
    assert result[ids[0]][0]["people"] == [p.display_name for p in people]
    with count_queries() as q:
        assert rq.summaries([]) == {}
    assert q.count == 0


# --- on the page, and without JavaScript --------------------------------------------------------


def _react(db, message, people, emoji="👍"):
    for person in people:
        db.session.add(MessageReaction(message_id=message.id, user_id=person.id, emoji=emoji))
    db.session.commit()


def test_the_page_shows_counts_names_and_pressed_state(make, client, auth, db):
    alice, bob = make.user(name="Alice A"), make.user(name="Bob B")
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "Hej")
    _react(db, message, [alice, bob])
    auth.login(bob)
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert 'aria-label="React with thumbs up, 2 people"' in page or (
        'aria-label="Reagera med tumme upp, 2 personer"' in page
    )
    assert 'aria-pressed="true"' in page and 'title="Alice A, Bob B"' in page
    # only counted reactions are shown, the picker offers all five
    assert page.count('data-reaction="') == 5 * 2  # the message and the <template>
    item = page.split(f'id="m{message.id}"')[1].split("</li>")[0]
    # one form for the whole bar: pressing a button posts what it does (bob's 👍 is his, so
    # it takes it back) and its emoji; one CSRF token for the bar and one for "delete"
    assert 'name="remove" value="👍" data-reaction="👍" aria-pressed="true"' in item
    assert 'name="add" value="❤️" data-reaction="❤️" aria-pressed="false"' in item
    assert 'name="add" value="🎉" data-reaction-pick="🎉"' in item
    assert item.count("<form") == 2 and item.count('name="csrf_token"') == 2
    # the words for 1 and n people, for the script, only on the <template>'s blank message
    assert "data-label-one" not in item and page.count("data-label-one=") == 5
    auth.login(make.user())
    other = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert 'aria-pressed="true"' not in other
    # a visitor may not react, but reaches who did: the counts take the focus, unavailable
    auth.logout()
    visitor = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    count = re.search(
        r'<button[^>]*data-reaction="👍"[^>]*>', visitor.split(f'id="m{message.id}"')[1]
    )
    assert 'aria-disabled="true"' in count[0] and " disabled" not in count[0]
    assert 'title="Alice A, Bob B"' in count[0] and "data-reaction-pick" not in visitor


def test_reacting_without_javascript(make, client, auth, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "Hej")
    auth.login(bob)
    url = f"/messages/{message.id}/reactions"
    done = client.post(url, data={"add": "🎉"})  # the button pressed: add=<emoji>
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/threads/{thread.id}#m{message.id}"
    )
    assert stored(db) == 1
    assert client.post(url, data={"remove": "🎉"}).status_code == 302
    assert stored(db) == 0
    # what a page from before the one-form bar posts (a tab left open over an upgrade)
    assert client.post(url, data={"emoji": "❓", "action": "add"}).status_code == 302
    assert stored(db) == 1
    assert client.post(url, data={"emoji": "❓", "action": "remove"}).status_code == 302
    assert stored(db) == 0
    for bad in ({"add": "<script>"}, {"emoji": "<script>", "action": "add"}, {}, {"add": ""}):
        refused = client.post(url, data=bad, follow_redirects=True)
        assert refused.status_code == 200 and stored(db) == 0, bad
        shown = refused.get_data(as_text=True)
        assert "<script>" not in shown and 'class="flash flash-error"' in shown, bad
    assert "<script>" not in client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert client.post("/messages/999999/reactions", data={"emoji": "🎉"}).status_code == 404
    auth.logout()
    assert client.post(url, data={"emoji": "🎉"}).status_code == 302  # to the login
    assert stored(db) == 0


def test_reactions_are_hidden_with_the_message(make, client, auth, socket_for, db):
    alice, bob = make.user(), make.user()
    moderator = make.user("moderator")
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "Snart dold")
    _react(db, message, [alice, bob], "❤️")
    with make.app.test_request_context():
        moderation.hide_message(moderator, message.id, "other", "Spam")
    ack = socket_for(bob).emit("join", {"thread_id": thread.id}, callback=True)
    assert [m["reactions"] for m in ack["messages"] if m["id"] == message.id] == [[]]
    auth.login(bob)
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert 'class="reactions" data-slot="reactions" hidden' in page
    item = page.split(f'id="m{message.id}"')[1].split("</li>")[0]
    assert "data-reaction-count>2<" not in item and 'title=""' in item


def test_join_carries_mine_only_for_the_one_who_asks(make, socket_for, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "Hej")
    _react(db, message, [alice], "✅")
    for person, mine in [(alice, True), (bob, False)]:
        ack = socket_for(person).emit("join", {"thread_id": thread.id}, callback=True)
        (reactions,) = [m["reactions"] for m in ack["messages"] if m["id"] == message.id]
        assert reactions[0]["mine"] is mine and reactions[0]["count"] == 1
        assert "user_ids" not in reactions[0]


def test_room_events_carry_reactions_like_join_and_hide_them_with_the_message(make, socket_for, db):
    alice, bob, carl = make.user(name="Alice A"), make.user(name="Bob B"), make.user()
    moderator = make.user("moderator")
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "Hej")
    other = make.message(thread, alice, "Hej igen")
    _react(db, message, [alice, bob], "👍")
    _react(db, other, [bob], "🎉")
    watcher = joined(socket_for(carl), thread)
    author = socket_for(alice)
    (in_join,) = [
        m["reactions"]
        for m in joined_ack(socket_for(carl), thread)["messages"]
        if m["id"] == message.id
    ]
    counted = [{"emoji": "👍", "count": 2, "people": ["Alice A", "Bob B"], "mine": False}]
    assert in_join == counted

    fresh = author.emit(
        "message:send", {"thread_id": thread.id, "body": "Ny", "client_id": "c-new"}, callback=True
    )
    assert fresh["message"]["reactions"] == []
    assert received(watcher, "message:new")[0]["message"]["reactions"] == []

    ack = author.emit("message:edit", {"message_id": message.id, "body": "Hej!"}, callback=True)
    assert ack["ok"] and ack["message"]["reactions"][0]["mine"] is True  # the editor's own
    (edited,) = received(watcher, "message:edited")
    assert edited["message"]["body"] == "Hej!"
    public = [{k: v for k, v in r.items() if k != "mine"} for r in counted]
    assert edited["message"]["reactions"] == public  # the room never gets `mine`

    with make.app.test_request_context():
        moderation.hide_message(moderator, message.id, "other", "Spam")
    (hidden,) = received(watcher, "message:hidden")
    assert hidden["message"]["state"] == "hidden" and hidden["message"]["reactions"] == []
    with make.app.test_request_context():
        moderation.restore_message(moderator, message.id)
    (restored,) = received(watcher, "message:restored")
    assert restored["message"]["reactions"] == public  # back with the message

    ack = author.emit("message:delete", {"message_id": other.id}, callback=True)
    assert ack["ok"] and ack["message"]["reactions"] == []
    (deleted,) = received(watcher, "message:deleted")
    assert deleted["message_id"] == other.id and deleted["message"]["state"] == "deleted"
    assert deleted["message"]["reactions"] == []  # hidden with the deleted message


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_thread_page_queries_do_not_grow_with_reactions(make, client, auth, db, count_queries):
    counts = []
    for n_people, n_messages in [(1, 2), (8, 20)]:
        alice = make.user()
        people = [make.user() for _ in range(n_people)]
        thread = make.thread(author=alice)
        for i in range(n_messages):
            message = make.message(thread, alice, f"m{i}")
            for emoji in rq.REACTIONS[: 1 + i % 5]:
                _react(db, message, people, emoji)
        auth.login(people[0])
        client.get(f"/threads/{thread.id}")
        db.session.expire_all()
        with count_queries() as q:
            assert client.get(f"/threads/{thread.id}").status_code == 200
        counts.append(q.count)
    assert counts[0] == counts[1], counts
