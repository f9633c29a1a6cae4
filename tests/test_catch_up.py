"""Catch-up after a reconnect brings a page to the current state, not only to the newest id.

`join {since}` used to return only the messages with an id above `since`: an edit, a
deletion, a moderator's hide or restore, a redaction or a reaction made while a page was
away never reached it, and a hidden message stayed readable there. The page now also
sends `changed_since` (the `cursor` of its last join ack) and the ack's `changed` carries
the current state of the messages it already has that changed since.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from forum.config import parse_rate_limit
from forum.models import Message
from forum.models.base import utcnow
from forum.queries import forums as forum_queries
from forum.services import forums, moderation, reactions


def join(sock, thread_id, **extra):
    return sock.emit("join", {"thread_id": thread_id, **extra}, callback=True)


def changed_by_id(ack):
    return {m["id"]: m for m in ack["changed"]}


@pytest.fixture
def away(app, make, socket_for, db):
    """Bob's page has messages 1..5 and its cursor; then he is away while they change."""
    alice, bob = make.user(name="Alice A"), make.user(name="Bob B")
    mod = make.user("official")
    forum = make.forum(moderators=[mod])
    thread = make.thread(forum=forum, author=alice)
    msgs = [make.message(thread, alice, f"original {i}") for i in range(5)]
    # sent long before the page was read (else they are "changed" within the margin)
    db.session.execute(
        update(Message)
        .where(Message.thread_id == thread.id)
        .values(changed_at=utcnow() - 2 * forum_queries.CHANGE_MARGIN)
    )
    db.session.commit()
    first = join(socket_for(bob), thread.id)
    assert [m["id"] for m in first["messages"]] == [m.id for m in msgs]
    return alice, bob, mod, thread, msgs, first["cursor"]


def test_a_rejoin_brings_edits_deletions_hides_and_reactions(app, make, socket_for, away):
    alice, bob, mod, thread, msgs, cursor = away
    with app.test_request_context():
        forums.edit_message(alice, msgs[0].id, "EDITED while bob was away")
        forums.delete_message(alice, msgs[1].id)
        moderation.hide_message(mod, msgs[2].id, moderation.OTHER, "olämpligt")
        reactions.react(alice, msgs[3].id, "👍", add=True)
    new = make.message(thread, alice, "new")

    ack = join(socket_for(bob), thread.id, since=msgs[-1].id, changed_since=cursor)

    assert ack["ok"], ack
    assert [m["id"] for m in ack["messages"]] == [new.id]
    changed = changed_by_id(ack)
    assert set(changed) == {m.id for m in msgs[:4]}
    assert "EDITED" in changed[msgs[0].id]["html"]
    assert changed[msgs[1].id]["state"] == "deleted"
    # hidden to a reader: the state and reason, never the text
    assert changed[msgs[2].id]["state"] == "hidden"
    assert "original" not in changed[msgs[2].id]["html"]
    assert [r["emoji"] for r in changed[msgs[3].id]["reactions"]] == ["👍"]
    assert ack["cursor"] > cursor


def test_restore_and_reaction_taken_back_come_too(app, make, socket_for, away):
    alice, bob, mod, thread, msgs, _cursor = away
    with app.test_request_context():
        moderation.hide_message(mod, msgs[0].id, moderation.OTHER, "olämpligt")
        reactions.react(alice, msgs[1].id, "🎉", add=True)
    seen = join(socket_for(bob), thread.id, since=msgs[-1].id)
    with app.test_request_context():
        moderation.restore_message(mod, msgs[0].id)
        reactions.react(alice, msgs[1].id, "🎉", add=False)

    ack = join(socket_for(bob), thread.id, since=msgs[-1].id, changed_since=seen["cursor"])

    changed = changed_by_id(ack)
    assert changed[msgs[0].id]["state"] == "visible"
    assert "original 0" in changed[msgs[0].id]["html"]
    assert changed[msgs[1].id]["reactions"] == []


def test_nothing_changed_means_nothing_resent_after_the_margin(app, make, socket_for, away):
    _alice, bob, _mod, thread, msgs, _cursor = away
    later = (utcnow() + forum_queries.CHANGE_MARGIN).isoformat()
    ack = join(socket_for(bob), thread.id, since=msgs[-1].id, changed_since=later)
    assert ack["ok"] and ack["changed"] == [] and ack["messages"] == []


def test_changes_to_messages_after_since_come_once_among_the_new(app, make, socket_for, away):
    alice, bob, _mod, thread, msgs, cursor = away
    with app.test_request_context():
        forums.edit_message(alice, msgs[4].id, "changed and not yet seen")
    ack = join(socket_for(bob), thread.id, since=msgs[3].id, changed_since=cursor)
    assert [m["id"] for m in ack["messages"]] == [msgs[4].id]
    assert ack["changed"] == []
    assert "changed and not yet seen" in ack["messages"][0]["html"]


@pytest.mark.parametrize("bad", ["yesterday", 17, "2026-12-05T10:00:00", "9" * 60, ["x"]])
def test_a_bad_cursor_is_refused_naming_the_field(make, socket_for, bad):
    thread = make.thread()
    ack = join(socket_for(make.user()), thread.id, since=0, changed_since=bad)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid" and ack["error"]["field"] == "changed_since"


def test_many_changes_page_by_their_cursor(app, make, socket_for, away):
    alice, bob, _mod, thread, msgs, cursor = away
    with app.test_request_context():
        for m in msgs:
            forums.edit_message(alice, m.id, f"again {m.id}")
    sock = socket_for(bob)
    seen, since = {}, cursor
    for _ in range(5):
        # a small page through the query itself: the socket pages by FORUM_CATCH_UP_LIMIT
        page = forum_queries.changed_messages(
            thread.id, msgs[-1].id, _parse(since), utcnow(), limit=2
        )
        seen.update({r.id: r for r in page.messages})
        since = page.cursor.isoformat()
        if not page.has_more:
            break
    assert set(seen) == {m.id for m in msgs}
    assert join(sock, thread.id, since=msgs[-1].id, changed_since=cursor)["has_more"] is False


@pytest.mark.config(FORUM_CATCH_UP_LIMIT=20, FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_a_long_absence_comes_in_answers_of_the_configured_size(app, make, socket_for, away):
    """FORUM_CATCH_UP_LIMIT bounds both lists of one catch-up answer; the page joins again
    from where the answer stopped until has_more is false, and nothing is missed."""
    alice, bob, _mod, thread, msgs, cursor = away
    with app.test_request_context():
        for m in msgs:
            forums.edit_message(alice, m.id, f"again {m.id}")
    new = [make.message(thread, alice, f"missed {i}").id for i in range(45)]
    sock = socket_for(bob)
    sizes, got, changed, since, changed_since = [], [], set(), msgs[-1].id, cursor
    for _ in range(8):
        ack = join(sock, thread.id, since=since, changed_since=changed_since)
        sizes.append((len(ack["messages"]), len(ack["changed"])))
        got += [m["id"] for m in ack["messages"]]
        changed |= set(changed_by_id(ack)) & {m.id for m in msgs}
        if not ack["has_more"]:
            break
        since, changed_since = got[-1], ack["cursor"]
    assert not ack["has_more"], sizes
    # the new messages in answers of 20; changes too (those inside the cursor's margin,
    # the new ones among them, come again, which changes nothing)
    assert [new_count for new_count, _ in sizes][:3] == [20, 20, 5], sizes
    assert max(changed_count for _, changed_count in sizes) == 20, sizes
    assert got == new
    assert changed == {m.id for m in msgs}


def _parse(value):
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_a_catch_up_join_takes_a_fixed_number_of_queries(app, make, socket_for, count_queries, db):
    counts = []
    for n in (3, 30):
        alice, bob = make.user(), make.user()
        thread = make.thread(author=alice)
        msgs = [make.message(thread, make.user(), f"m{i}") for i in range(n)]
        cursor = (utcnow() - timedelta(minutes=5)).isoformat()
        with app.test_request_context():
            for m in msgs:
                reactions.react(alice, m.id, "👍", add=True)
        sock = socket_for(bob)
        db.session.expire_all()
        with count_queries() as counter:
            ack = join(sock, thread.id, since=msgs[n // 2].id, changed_since=cursor)
        assert ack["ok"] and len(ack["changed"]) == n // 2 + 1
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_a_message_below_since_sent_after_the_cursor_comes_too(app, make, socket_for, away):
    """Broadcasts can arrive out of commit order: a page that got message n+1 live and
    lost its connection while n was still on its way rejoins with since = n+1. The
    messages sent after its cursor come in `changed`, n among them."""
    alice, bob, _mod, thread, msgs, cursor = away
    in_flight = make.message(thread, alice, "on its way")
    arrived = make.message(thread, alice, "arrived first")
    ack = join(socket_for(bob), thread.id, since=arrived.id, changed_since=cursor)
    assert in_flight.id in changed_by_id(ack)
    assert ack["messages"] == []


# --- a reply's quote follows the message it quotes ------------------------------------
#
# Reply Y quotes X (`reply_quote` with an excerpt of X). When X was hidden, redacted,
# edited or deleted only X's event went out, and a catch-up brought only X: Y's quote kept
# the old text on every open page, visitors' included, until a reload. Now each change to
# X moves the `changed_at` of the replies quoting it and sends them to the room too.


def _hide(app, mod, alice, x, flaggers):
    moderation.hide_message(mod, x.id, moderation.OTHER, "nej")


def _restore(app, mod, alice, x, flaggers):
    moderation.restore_message(mod, x.id)


def _redact(app, mod, alice, x, flaggers):
    moderation.redact_message(mod, x.id, "min adress är [borttagen]", "personuppgift")


def _flag_hide(app, mod, alice, x, flaggers):
    for person in flaggers:
        moderation.flag_message(person, x.id, "other", "adress")


def _edit(app, mod, alice, x, flaggers):
    forums.edit_message(alice, x.id, "min adress är hemlig nu")


def _delete(app, mod, alice, x, flaggers):
    forums.delete_message(alice, x.id)


# what Y's quote of X shows after each: (state, excerpt)
QUOTE_AFTER = {
    _hide: ("hidden", None),
    _restore: ("visible", "min adress är Storgatan 12"),
    _redact: ("visible", "min adress är [borttagen]"),
    _flag_hide: ("hidden", None),
    _edit: ("visible", "min adress är hemlig nu"),
    _delete: ("deleted", None),
}


@pytest.fixture
def quoted(app, make, socket_for, db):
    """A visitor's page of a public thread: X, Y replying to X, Z replying to nothing."""
    alice, bob = make.user(name="Alice A"), make.user(name="Bob B")
    mod = make.user("official")
    flaggers = [make.user() for _ in range(3)]
    forum = make.forum(moderators=[mod])
    thread = make.thread(forum=forum, author=alice)
    x = make.message(thread, alice, "min adress är Storgatan 12")
    y = make.message(thread, bob, "håller med", reply_to=x.id)
    z = make.message(thread, bob, "något annat")
    return alice, mod, flaggers, thread, x, y, z


def _age(db, thread):
    db.session.execute(
        update(Message)
        .where(Message.thread_id == thread.id)
        .values(changed_at=utcnow() - 2 * forum_queries.CHANGE_MARGIN)
    )
    db.session.commit()


@pytest.mark.parametrize("change", list(QUOTE_AFTER), ids=lambda f: f.__name__.strip("_"))
def test_a_replys_quote_follows_the_quoted_message_live_and_on_catch_up(
    app, socket_for, db, quoted, change
):
    alice, mod, flaggers, thread, x, y, z = quoted
    if change is _restore:
        moderation.hide_message(mod, x.id, moderation.OTHER, "nej")
    _age(db, thread)
    page = socket_for(None)  # a visitor's open page
    first = join(page, thread.id)
    assert [m["reply_quote"] for m in first["messages"] if m["id"] == y.id][0] is not None
    page.get_received()

    with app.test_request_context():
        change(app, mod, alice, x, flaggers)

    state, text = QUOTE_AFTER[change]
    events = [
        (e["name"], e["args"][0]["message"])
        for e in page.get_received()
        if e["name"].startswith("message:")
    ]
    assert [m["id"] for _n, m in events] == [x.id, y.id]  # X first, then its reply
    name, live = events[1]
    assert name == "message:edited"
    assert live["reply_quote"]["state"] == state
    assert live["reply_quote"]["excerpt"] == text
    assert "Storgatan" not in str(live) or change is _restore

    # a page that missed the events catches up on the reply too
    ack = join(socket_for(None), thread.id, since=z.id, changed_since=first["cursor"])
    changed = changed_by_id(ack)
    assert set(changed) == {x.id, y.id}
    assert changed[y.id]["reply_quote"]["excerpt"] == text
    assert changed[y.id]["reply_quote"]["state"] == state
    # and a fresh load agrees
    fresh = join(socket_for(None), thread.id)
    assert [m for m in fresh["messages"] if m["id"] == y.id][0] == changed[y.id]


def test_a_change_with_no_replies_sends_the_message_only(app, socket_for, db, quoted):
    alice, _mod, _flaggers, thread, _x, _y, z = quoted
    _age(db, thread)
    page = socket_for(None)
    first = join(page, thread.id)
    page.get_received()
    with app.test_request_context():
        forums.edit_message(z.author, z.id, "ändrat")
    assert [e["args"][0]["message"]["id"] for e in page.get_received()] == [z.id]
    ack = join(socket_for(None), thread.id, since=z.id, changed_since=first["cursor"])
    assert set(changed_by_id(ack)) == {z.id}


def test_a_failed_change_tells_nobody_about_the_replies(app, socket_for, db, quoted, monkeypatch):
    """Nothing is sent before the commit: a change rolled back sends neither X nor Y."""
    alice, _mod, _flaggers, thread, x, _y, _z = quoted
    page = socket_for(None)
    join(page, thread.id)
    page.get_received()
    from forum.services import notifications

    def boom(message):
        raise RuntimeError("the commit never comes")

    monkeypatch.setattr(notifications, "sync_message_excerpts", boom)
    with app.test_request_context(), pytest.raises(RuntimeError):
        forums.edit_message(alice, x.id, "aldrig sparat")
    db.session.rollback()
    assert page.get_received() == []


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_an_edit_takes_as_many_statements_with_two_replies_as_with_twenty(
    app, make, count_queries, db
):
    counts = []
    for n in (2, 20):
        alice = make.user()
        thread = make.thread(author=alice)
        x = make.message(thread, alice, "citerad")
        for i in range(n):
            make.message(thread, make.user(), f"svar {i}", reply_to=x.id)
        db.session.expire_all()
        with app.test_request_context(), count_queries() as counter:
            forums.edit_message(db.session.get(type(alice), alice.id), x.id, f"ändrad {n}")
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


@pytest.mark.config(FORUM_CATCH_UP_LIMIT=20, FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_more_changes_at_one_moment_than_an_answer_holds_still_end(app, make, socket_for, db):
    """Hiding a message stamps it and every reply quoting it with one time. With more of them
    than FORUM_CATCH_UP_LIMIT, each answer started again at that time, sent the same first
    ones with has_more, and the page joined again until the server refused it as a flood
    (and never resent what it had queued meanwhile). An answer now ends with the whole
    group, and the next one starts after it."""
    alice, bob, mod = make.user(name="Alice A"), make.user(name="Bob B"), make.user("official")
    thread = make.thread(forum=make.forum(moderators=[mod]), author=alice)
    quoted = make.message(thread, alice, "det citerade")
    replies = [make.message(thread, bob, f"svar {i}", reply_to=quoted.id) for i in range(25)]
    _age(db, thread)
    sock = socket_for(bob)
    cursor = join(sock, thread.id, since=replies[-1].id)["cursor"]
    with app.test_request_context():
        moderation.hide_message(mod, quoted.id, moderation.OTHER, "olämpligt")
    seen: dict[int, dict] = {}
    for _ in range(4):  # what static/js/thread/connection.js does while has_more
        ack = join(sock, thread.id, since=replies[-1].id, changed_since=cursor)
        assert ack["ok"], ack
        seen.update(changed_by_id(ack))
        cursor = ack["cursor"]
        if not ack["has_more"]:
            break
    assert not ack["has_more"]
    assert set(seen) == {quoted.id, *(r.id for r in replies)}
    assert seen[quoted.id]["state"] == "hidden"
    assert all(seen[r.id]["reply_quote"]["state"] == "hidden" for r in replies)
