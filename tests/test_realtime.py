"""The Socket.IO protocol through Flask-SocketIO's test client: acks, broadcasts, errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.config import parse_rate_limit
from forum.models import Message, MessageRevision, ReadMarker


def received(sock, name):
    return [item["args"][0] for item in sock.get_received() if item["name"] == name]


def send(sock, thread, body="Hej", client_id="c1", **extra):
    return sock.emit(
        "message:send",
        {"thread_id": thread.id, "body": body, "client_id": client_id, **extra},
        callback=True,
    )


def count_messages(db):
    return db.session.scalar(select(func.count()).select_from(Message))


def test_send_acknowledges_stored_message_and_broadcasts_it(make, socket_for, db):
    alice, bob = make.user(name="Alice Andersson"), make.user(name="Bob Berg")
    thread = make.thread(author=alice)
    a, b = socket_for(alice), socket_for(bob)
    assert b.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    assert a.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    b.get_received()

    ack = send(a, thread, "Hej **alla**", "one")

    assert ack["ok"] is True, ack
    stored = db.session.get(Message, ack["message"]["id"])
    assert stored is not None and stored.body == "Hej **alla**"
    assert ack["message"]["html"] == "<p>Hej <strong>alla</strong></p>"
    assert ack["message"]["author"]["display_name"] == "Alice Andersson"
    assert ack["message"]["created_at"].endswith("Z")
    news = received(b, "message:new")
    assert [n["message"]["id"] for n in news] == [stored.id]


def test_retry_with_same_client_id_returns_stored_message_and_broadcasts_nothing(
    make, socket_for, db
):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    a, b = socket_for(alice), socket_for(bob)
    b.emit("join", {"thread_id": thread.id}, callback=True)
    first = send(a, thread, "Once", "same-id")
    b.get_received()

    again = send(a, thread, "Once", "same-id")

    assert again["ok"] and again["message"]["id"] == first["message"]["id"]
    assert again["duplicate"] is True
    assert received(b, "message:new") == []
    assert count_messages(db) == 1


def test_join_with_since_returns_exactly_the_missed_messages_in_order(make, socket_for):
    alice = make.user()
    thread = make.thread(author=alice)
    ids = [make.message(thread, alice, f"m{i}").id for i in range(6)]
    sock = socket_for(alice)

    ack = sock.emit("join", {"thread_id": thread.id, "since": ids[2]}, callback=True)

    assert [m["id"] for m in ack["messages"]] == ids[3:]
    assert ack["has_more"] is False


def test_history_pages_backwards_by_id(make, socket_for):
    alice = make.user()
    thread = make.thread(author=alice)
    ids = [make.message(thread, alice, f"m{i}").id for i in range(7)]
    sock = socket_for(alice)

    page = sock.emit(
        "history", {"thread_id": thread.id, "before": ids[5], "limit": 3}, callback=True
    )
    assert [m["id"] for m in page["messages"]] == ids[2:5]
    assert page["has_more"] is True
    last = sock.emit(
        "history", {"thread_id": thread.id, "before": ids[2], "limit": 3}, callback=True
    )
    assert [m["id"] for m in last["messages"]] == ids[:2]
    assert last["has_more"] is False


def test_visitor_follows_public_thread_read_only(make, socket_for):
    alice = make.user()
    thread = make.thread(author=alice)
    visitor = socket_for(None)

    assert visitor.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    ack = send(visitor, thread)
    assert ack == {
        "ok": False,
        "error": {"code": "auth_required", "message": ack["error"]["message"]},
    }

    send(socket_for(alice), thread, "for everyone", "v1")
    assert [n["message"]["html"] for n in received(visitor, "message:new")] == [
        "<p>for everyone</p>"
    ]


@pytest.mark.parametrize(
    ("visibility", "who", "code"),
    [
        ("members", "visitor", "auth_required"),
        ("invite", "visitor", "not_found"),  # the same as a thread that does not exist
        ("invite", "member", "not_found"),
    ],
)
def test_join_refused_where_the_forum_is_closed(make, socket_for, visibility, who, code):
    forum = make.forum(visibility=visibility)
    thread = make.thread(
        forum=forum, author=forum.members[0] if forum.members else make.user("admin")
    )
    user = None if who == "visitor" else make.user()
    sock = socket_for(user)
    for event, payload in [
        ("join", {"thread_id": thread.id}),
        ("history", {"thread_id": thread.id, "before": 10}),
    ]:
        ack = sock.emit(event, payload, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == code


def test_invited_member_may_join_invite_only(make, socket_for):
    guest = make.user()
    forum = make.forum(visibility="invite", members=[guest])
    thread = make.thread(forum=forum, author=guest)
    assert socket_for(guest).emit("join", {"thread_id": thread.id}, callback=True)["ok"]


BAD_SENDS = [
    ("not an object", "invalid"),
    (["a", "list"], "invalid"),
    (None, "invalid"),
    ({"body": "x", "client_id": "c"}, "invalid"),
    ({"thread_id": "1", "body": "x", "client_id": "c"}, "invalid"),
    ({"thread_id": True, "body": "x", "client_id": "c"}, "invalid"),
    ({"thread_id": "THREAD", "body": 5, "client_id": "c"}, "invalid"),
    ({"thread_id": "THREAD", "body": "", "client_id": "c"}, "invalid"),
    ({"thread_id": "THREAD", "body": " \n\t ", "client_id": "c"}, "invalid"),
    ({"thread_id": "THREAD", "body": "x" * 10_001, "client_id": "c"}, "invalid"),
    ({"thread_id": "THREAD", "body": "x"}, "invalid"),
    ({"thread_id": "THREAD", "body": "x", "client_id": "c" * 65}, "invalid"),
    ({"thread_id": "THREAD", "body": "x", "client_id": 7}, "invalid"),
    ({"thread_id": "THREAD", "body": "x", "client_id": "c", "reply_to": "nope"}, "invalid"),
    ({"thread_id": 999_999, "body": "x", "client_id": "c"}, "not_found"),
]


@pytest.mark.parametrize(("payload", "code"), BAD_SENDS)
def test_bad_sends_get_error_acks_and_change_nothing(make, socket_for, db, payload, code):
    alice = make.user()
    thread = make.thread(author=alice)
    keep = make.message(thread, alice, "kept")
    if isinstance(payload, dict) and payload.get("thread_id") == "THREAD":
        payload = {**payload, "thread_id": thread.id}
    sock = socket_for(alice)

    ack = sock.emit("message:send", payload, callback=True)

    assert ack["ok"] is False
    assert ack["error"]["code"] == code
    assert ack["error"]["message"]
    assert count_messages(db) == 1
    db.session.refresh(keep)
    assert keep.body == "kept"
    # the server keeps serving this client
    assert send(sock, thread, "still works", "after-bad")["ok"]


def test_body_of_exactly_the_limit_is_accepted(make, socket_for):
    alice = make.user()
    thread = make.thread(author=alice)
    assert send(socket_for(alice), thread, "x" * 10_000)["ok"]


def test_reply_to_a_message_in_another_thread_is_refused(make, socket_for, db):
    alice = make.user()
    one, two = make.thread(author=alice), make.thread(author=alice)
    elsewhere = make.message(two, alice, "other thread")
    ack = send(socket_for(alice), one, "reply", "r1", reply_to=elsewhere.id)
    assert (
        ack["ok"] is False
        and ack["error"]["code"] == "invalid"
        and ack["error"]["field"] == "reply_to"
    )
    assert count_messages(db) == 1


def test_reply_carries_the_quote(make, socket_for):
    alice, bob = make.user(name="Alice Ask"), make.user()
    thread = make.thread(author=alice)
    question = make.message(thread, alice, "Vad tycker *ni*?")
    ack = send(socket_for(bob), thread, "Bra fråga", "r2", reply_to=question.id)
    assert ack["message"]["reply_to"] == question.id
    assert ack["message"]["reply_quote"] == {
        "id": question.id,
        "author_name": "Alice Ask",
        "excerpt": "Vad tycker ni?",
        "lang": "sv",
        "state": "visible",
    }


def test_a_page_of_rows_and_a_loaded_message_make_the_same_payload(make, app, db):
    """Pages come as rows from one statement, single messages (send, edit, moderation) as
    loaded objects: both through one builder, so the payloads agree field for field."""
    from forum.queries import forums as forum_queries
    from forum.queries import payloads
    from forum.services import forums as forum_service
    from forum.services import moderation, reactions

    alice, bob, moderator = make.user(), make.user(), make.user()
    make.organisation(admin=alice)
    thread = make.thread(forum=make.forum(moderators=[moderator]), author=alice)
    first = make.message(thread, alice, "Första *inlägget*")
    hidden = make.message(thread, bob, "Ska döljas", reply_to=first.id)
    deleted = make.message(thread, alice, "Ska tas bort")
    make.message(thread, bob, "Svar på det dolda", reply_to=hidden.id)
    make.message(thread, bob, "Svar på det borttagna", reply_to=deleted.id)
    with app.test_request_context():
        reactions.react(bob, first.id, "👍", True)
        reactions.react(alice, hidden.id, "🎉", True)
        forum_service.edit_message(alice, first.id, "Första, ändrat")
        moderation.hide_message(moderator, hidden.id, "other", "Otrevligt")
        forum_service.delete_message(alice, deleted.id)
    db.session.expire_all()
    for viewer_id in (None, bob.id):
        page = forum_queries.latest_page(thread.id)
        from_rows = payloads.messages_dicts(page.messages, viewer_id)
        loaded = [db.session.get(Message, row.id) for row in page.messages]
        assert from_rows == [payloads.message_payload(m, viewer_id) for m in loaded]
    quotes = {m["id"]: m["reply_quote"] for m in from_rows}
    assert quotes[hidden.id]["excerpt"] == "Första, ändrat"
    assert [m["html"] for m in from_rows if m["state"] != "visible"] == ["", ""]
    assert any(m["reactions"] for m in from_rows)
    assert not [m for m in from_rows if m["id"] == hidden.id][0]["reactions"]


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="http://evil" onclick="steal()">x</a>',
        "![pixel](https://tracker.example/p.gif)",
    ],
)
def test_injection_payloads_are_stored_inert(make, socket_for, payload):
    alice = make.user()
    thread = make.thread(author=alice)
    html = send(socket_for(alice), thread, payload, "inj")["message"]["html"]
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert not re.search(r"<[^>]*\son\w+=", lowered), html
    assert 'href="javascript' not in lowered


def test_flood_is_rate_limited_per_user_and_thread(make, socket_for, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    a, b = socket_for(alice), socket_for(bob)
    acks = [send(a, thread, f"m{i}", f"flood-{i}") for i in range(12)]
    assert all(ack["ok"] for ack in acks[:10])
    assert [ack["error"]["code"] for ack in acks[10:]] == ["rate_limited", "rate_limited"]
    assert send(b, thread, "others unaffected", "bob-1")["ok"]
    assert count_messages(db) == 11


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_rate_limit_can_be_switched_off(make, socket_for):
    alice = make.user()
    thread = make.thread(author=alice)
    sock = socket_for(alice)
    assert all(send(sock, thread, f"m{i}", f"off-{i}")["ok"] for i in range(15))


def test_edit_keeps_the_earlier_version_and_broadcasts(make, socket_for, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "first text")
    b = socket_for(bob)
    b.emit("join", {"thread_id": thread.id}, callback=True)
    b.get_received()

    ack = socket_for(alice).emit(
        "message:edit", {"message_id": message.id, "body": "second text"}, callback=True
    )

    assert ack["ok"] and ack["message"]["edited_at"]
    revisions = db.session.scalars(
        select(MessageRevision).where(MessageRevision.message_id == message.id)
    ).all()
    assert [r.body for r in revisions] == ["first text"]
    assert [e["message"]["html"] for e in received(b, "message:edited")] == ["<p>second text</p>"]


def test_editing_someone_elses_message_is_forbidden(make, socket_for, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "mine")
    ack = socket_for(bob).emit(
        "message:edit", {"message_id": message.id, "body": "hijacked"}, callback=True
    )
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    db.session.refresh(message)
    assert message.body == "mine"
    ack = socket_for(bob).emit("message:delete", {"message_id": message.id}, callback=True)
    assert ack["error"]["code"] == "forbidden"


def test_delete_leaves_a_placeholder_and_keeps_the_record(make, socket_for, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "oops")
    b = socket_for(bob)
    b.emit("join", {"thread_id": thread.id}, callback=True)
    b.get_received()

    ack = socket_for(alice).emit("message:delete", {"message_id": message.id}, callback=True)

    assert ack["ok"] and ack["message"]["state"] == "deleted" and ack["message"]["html"] == ""
    db.session.refresh(message)
    assert message.body == "oops"
    deleted = received(b, "message:deleted")
    assert deleted[0]["message_id"] == message.id
    joined = b.emit("join", {"thread_id": thread.id}, callback=True)
    assert [(m["id"], m["state"], m["html"]) for m in joined["messages"]] == [
        (message.id, "deleted", "")
    ]


def test_locked_thread_refuses_sends_and_edits(make, socket_for, db):
    alice = make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "before lock")
    thread.locked = True
    db.session.commit()
    sock = socket_for(alice)
    assert send(sock, thread, "after lock", "l1")["error"]["code"] == "locked"
    edit = sock.emit("message:edit", {"message_id": message.id, "body": "changed"}, callback=True)
    assert edit["error"]["code"] == "locked"


def test_typing_reaches_others_not_the_typist(make, socket_for):
    alice, bob = make.user(name="Alice Typist"), make.user()
    thread = make.thread(author=alice)
    a, b = socket_for(alice), socket_for(bob)
    for sock in (a, b):
        sock.emit("join", {"thread_id": thread.id}, callback=True)
        sock.get_received()
    assert a.emit("typing", {"thread_id": thread.id}, callback=True)["ok"]
    assert [t["user"]["display_name"] for t in received(b, "typing")] == ["Alice Typist"]
    assert received(a, "typing") == []


def test_presence_lists_people_in_the_thread(make, socket_for):
    alice, bob = make.user(name="Alice P"), make.user(name="Bob P")
    thread = make.thread(author=alice)
    a, b = socket_for(alice), socket_for(bob)
    a.emit("join", {"thread_id": thread.id}, callback=True)
    b.emit("join", {"thread_id": thread.id}, callback=True)
    latest = received(a, "presence")[-1]
    assert [u["display_name"] for u in latest["users"]] == ["Alice P", "Bob P"]
    b.emit("leave", {"thread_id": thread.id}, callback=True)
    assert [u["display_name"] for u in received(a, "presence")[-1]["users"]] == ["Alice P"]


def test_leaving_a_thread_one_never_joined_tells_the_room_nothing(make, socket_for):
    """`leave` broadcast the thread's presence to its room whether or not the socket was in
    it: anyone, a visitor too, could make the server send every reader of any thread (an
    invite-only one included) a presence event per `leave`, none of them a change."""
    owner, guest = make.user("official"), make.user()
    forum = make.forum(owner=owner, visibility="invite", members=[guest])
    thread = make.thread(forum, author=guest)
    inside = socket_for(guest)
    assert inside.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    inside.get_received()

    for stranger in (socket_for(None), socket_for(make.user())):
        assert stranger.emit("leave", {"thread_id": thread.id}, callback=True)["ok"] is True

    assert received(inside, "presence") == []


def test_read_moves_the_marker_forward_only(make, socket_for, db):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    ids = [make.message(thread, alice, f"m{i}").id for i in range(3)]
    sock = socket_for(bob)
    assert (
        sock.emit("read", {"thread_id": thread.id, "message_id": ids[2]}, callback=True)[
            "read_marker"
        ]
        == ids[2]
    )
    assert (
        sock.emit("read", {"thread_id": thread.id, "message_id": ids[0]}, callback=True)[
            "read_marker"
        ]
        == ids[2]
    )
    assert db.session.get(ReadMarker, (bob.id, thread.id)).last_read_id == ids[2]


def test_unknown_event_gets_an_error_ack(make, socket_for):
    ack = socket_for(make.user()).emit("message:explode", {"x": 1}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"


@pytest.mark.config(
    FORUM_SOCKET_EVENTS_PER_SECOND=1,
    FORUM_SOCKET_BURST=5,
    FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT=5,
)
def test_unknown_events_spend_the_flood_budget(make, socket_for):
    """Made-up event names are events too: a stream of them is slowed, then disconnected."""
    flooder, other = socket_for(make.user()), socket_for(make.user())
    codes = []
    for i in range(30):
        if not flooder.is_connected():
            break
        ack = flooder.emit("no:such:event", {"x": i}, callback=True)
        codes.append((ack or {}).get("error", {}).get("code"))
    assert codes[:5] == ["invalid"] * 5
    assert "rate_limited" in codes
    assert not flooder.is_connected()
    assert other.emit("no:such:event", {}, callback=True)["error"]["code"] == "invalid"


def test_mention_and_reply_notify_live_in_the_user_room(make, socket_for, db):
    alice, bob = make.user(name="Alice Notify"), make.user(name="Bob Notify")
    thread = make.thread(author=alice)
    question = make.message(thread, bob, "Fråga")
    b = socket_for(bob)
    b.get_received()
    ack = send(socket_for(alice), thread, f"Svar till @{bob.handle}", "n1", reply_to=question.id)
    assert ack["ok"]
    notes = received(b, "notification")
    assert len(notes) == 1  # mention and reply to the same person: one notification
    assert notes[0]["notification"]["kind"] == "mention"
    assert notes[0]["unread"] == 1
    # what it is, for the page's live region, in Bob's language (Swedish by default)
    assert notes[0]["notification"]["summary"].startswith("Alice Notify nämnde dig")
    assert notes[0]["notification"]["lang"] == "sv"
    assert f'href="/people/{bob.handle}"' in ack["message"]["html"]
