"""The thread page, forum pages and `join` issue a fixed number of queries (no N+1)."""

from __future__ import annotations

import pytest

from forum.config import parse_rate_limit


def fill_thread(make, thread, authors, messages):
    """`messages` messages by rotating authors, every other one a reply."""
    made = []
    for i in range(messages):
        author = authors[i % len(authors)]
        reply_to = made[-1].id if made and i % 2 else None
        made.append(
            make.message(thread, author, f"meddelande {i} @{authors[0].handle}", reply_to=reply_to)
        )
    return made


def build(make, n_authors, n_messages, with_orgs=True):
    authors = [make.user() for _ in range(n_authors)]
    if with_orgs:
        for author in authors:
            make.organisation(admin=author)
    reader = make.user()
    forum = make.forum()
    threads = [make.thread(forum=forum, author=authors[0]) for _ in range(3)]
    for thread in threads:
        fill_thread(make, thread, authors, n_messages)
    return reader, forum, threads[0]


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
@pytest.mark.parametrize("page", ["thread", "forum", "forums"])
def test_page_queries_do_not_grow_with_messages_or_authors(
    app, make, client, auth, count_queries, db, page
):
    counts = []
    for n_authors, n_messages in [(2, 4), (12, 60)]:
        reader, forum, thread = build(make, n_authors, n_messages)
        auth.login(reader)
        url = {
            "thread": f"/threads/{thread.id}",
            "forum": f"/forums/{forum.slug}",
            "forums": "/forums",
        }[page]
        client.get(url)  # first visit moves the read marker
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    # and how many (issue 13): forums and threads come with the viewer's roles in the forum,
    # not with every member (nor, but on a forum's own page, every moderator). The thread:
    # the session, the thread with its commitments, read marker, messages, organisations,
    # reactions, and the header's unread notifications with whether the reader moderates
    # (one query).
    assert counts[0] == {"thread": 7, "forum": 8, "forums": 4}[page], counts


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_join_queries_do_not_grow(app, make, socket_for, count_queries, db):
    counts = []
    for n_authors, n_messages in [(2, 4), (12, 60)]:
        reader, _forum, thread = build(make, n_authors, n_messages)
        sock = socket_for(reader)
        db.session.expire_all()
        with count_queries() as counter:
            ack = sock.emit("join", {"thread_id": thread.id}, callback=True)
        assert ack["ok"] and len(ack["messages"]) == min(n_messages, 50)
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_telling_many_people_takes_the_same_queries_as_telling_a_few(app, make, count_queries, db):
    """A round opened to every verified organisation notifies hundreds: no read per person."""
    from forum.services import notifications

    counts = []
    for n in (3, 30):
        people = [make.user() for _ in range(n)]
        db.session.expire_all()
        people = [db.session.get(type(p), p.id) for p in people]
        with app.test_request_context(), count_queries() as counter:
            made = notifications.deliver(people, "mention", "Hej!", "/forums")
        assert len(made) == n
        # the rows themselves are written one INSERT each (the driver's executemany); what
        # must not grow is everything else: reads, counts, flushes
        counts.append(sum(not s.lstrip().upper().startswith("INSERT") for s in counter.statements))
    assert counts[0] == counts[1], counts


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
@pytest.mark.parametrize("where", ["forum", "round"])
@pytest.mark.parametrize("step", ["edit", "hide"])
def test_editing_or_hiding_a_message_that_mentions_many_takes_the_same_queries(
    app, make, count_queries, db, step, where
):
    """The notices of a message follow what it shows (notifications.sync_message_excerpts):
    a message can mention hundreds, and each of them was read again, one query apiece
    (and in a round's discussion its round too), while the message was locked."""
    from consultation_support import make_round

    from forum.models import Message, Thread, User
    from forum.services import forums as forum_service
    from forum.services import moderation

    author, moderator = make.user("official"), make.user("moderator")
    forum = make.forum()
    make.organisation(admin=make.user())  # a round asks someone
    counts = []
    for n in (2, 2, 30):  # the first warms what a process builds once
        named = [make.user() for _ in range(n)]
        if where == "forum":
            thread = make.thread(forum=forum, author=author)
        else:
            thread = db.session.get(Thread, make_round(app, make, author).thread_id)
        body = " ".join(f"@{p.handle}" for p in named)
        message = make.message(thread, author, body)
        db.session.expire_all()
        with app.test_request_context(), count_queries() as counter:
            if step == "edit":
                forum_service.edit_message(
                    db.session.get(User, author.id), message.id, "Rättat: " + body
                )
            else:
                moderation.hide_message(
                    db.session.get(User, moderator.id), message.id, "other", "Nej."
                )
        assert db.session.get(Message, message.id).state.value == (
            "visible" if step == "edit" else "hidden"
        )
        counts.append(counter.count)
    assert counts[1] == counts[2], counts


def build_start(app, make, n):
    """A member with `n` unread threads, open rounds, followed actions and notifications."""
    from datetime import timedelta

    from consultation_support import make_round

    from forum.services import follow_up

    official = make.user("official")
    reader = make.user()
    make.organisation(admin=reader)
    forum = make.forum(owner=official)
    for _ in range(n):
        thread = make.thread(forum=forum, author=official)
        mine = make.message(thread, reader, f"hej @{official.handle}")
        make.message(thread, official, f"svar till @{reader.handle}", reply_to=mine.id)
        make_round(app, make, official)
        with app.test_request_context():
            action = follow_up.propose_action(
                official,
                follow_up.ActionInput(
                    title="Kvällsöppet",
                    description="",
                    owner=f"department:{official.department_id}",
                    due_date=(follow_up.today() + timedelta(days=30)).isoformat(),
                    commitment_ids=make.commitment_ids(1),
                    message_id=mine.id,
                ),
            )
            follow_up.set_following(reader, action.id, True)
    return reader


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_start_page_queries_do_not_grow(app, make, client, auth, count_queries, db):
    counts = []
    for n in (2, 12):
        reader = build_start(app, make, n)
        auth.login(reader)
        client.get("/")
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get("/")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert body.count('#first-unread"') == min(n, 8)
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_public_start_page_queries_do_not_grow(app, make, client, count_queries, db):
    from consultation_support import make_round

    counts = []
    make.organisation(admin=make.user())  # someone to ask
    for n in (1, 8):
        official = make.user("official")
        for _ in range(n):
            make_round(app, make, official)
            make.forum(owner=official)
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get("/")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_thread_page_asks_for_the_viewers_roles_not_the_forums_people(
    make, client, auth, count_queries, db
):
    """The thread page loads the viewer's roles with the thread (queries.forums.thread_for_page):
    however many people a forum has, none is loaded, and policy still tells them apart."""
    moderator, member, outsider = make.user(), make.user(), make.user()
    forum = make.forum(visibility="invite", moderators=[moderator], members=[member])
    thread = make.thread(forum=forum, author=member)
    make.message(thread, member, "Hej")
    url = f"/threads/{thread.id}"
    for person, status, controls in [(member, 200, False), (moderator, 200, True)]:
        auth.login(person)
        client.get(url)  # the first visit moves the read marker
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == status
        assert ('id="thread-controls"' in response.get_data(as_text=True)) is controls
        loads_people = [
            s
            for s in counter.statements
            if "forum_members.forum_id, users.id" in s or "forum_moderators.forum_id, users.id" in s
        ]
        assert not loads_people
    auth.login(outsider)
    assert client.get(url).status_code == 404


def test_join_and_history_ask_for_the_viewers_roles_not_the_forums_people(
    make, socket_for, count_queries, db
):
    """A socket's `join` and `history` load the thread as the page does (with the viewer's
    roles): a forum's members and moderators are never loaded, and an invite-only forum
    still opens to its member and moderator and not to an outsider."""
    moderator, member, outsider = make.user(), make.user(), make.user()
    forum = make.forum(visibility="invite", moderators=[moderator], members=[member])
    thread = make.thread(forum=forum, author=member)
    first = make.message(thread, member, "Hej")
    make.message(thread, member, "Hej igen")
    for person, readable in [(member, True), (moderator, True), (outsider, False)]:
        sock = socket_for(person)
        db.session.expire_all()
        with count_queries() as counter:
            joined = sock.emit("join", {"thread_id": thread.id}, callback=True)
            older = sock.emit(
                "history", {"thread_id": thread.id, "before": first.id + 1}, callback=True
            )
        if readable:
            assert joined["ok"] and len(joined["messages"]) == 2, joined
            assert older["ok"] and [m["id"] for m in older["messages"]] == [first.id], older
        else:
            assert joined["error"]["code"] == older["error"]["code"] == "not_found"
        loads_people = [
            s
            for s in counter.statements
            if "forum_members.forum_id, users.id" in s or "forum_moderators.forum_id, users.id" in s
        ]
        assert not loads_people, loads_people


def test_forum_list_and_page_ask_for_the_viewers_roles_not_the_members(
    make, client, auth, count_queries, db
):
    """visible_forums and a forum's page (queries.forums._forums_statement) load the viewer's
    roles in each forum, never its members; an invited member and a moderator still read an
    invite-only forum, and an outsider does not."""
    moderator, member, outsider = make.user(), make.user(), make.user()
    forum = make.forum(
        visibility="invite", title="Slutet rum", moderators=[moderator], members=[member]
    )
    for person, readable in [(member, True), (moderator, True), (outsider, False)]:
        auth.login(person)
        db.session.expire_all()
        with count_queries() as counter:
            listed = "Slutet rum" in client.get("/forums").get_data(as_text=True)
            status = client.get(f"/forums/{forum.slug}").status_code
        assert (listed, status) == ((True, 200) if readable else (False, 404))
        assert not [s for s in counter.statements if "forum_members.forum_id, users.id" in s]


def test_the_header_asks_one_query_for_the_unread_count_and_whether_one_moderates(
    app, make, client, auth, count_queries, db
):
    """queries.moderation.header_facts: a member's page header costs one query; a forum
    moderator and a site moderator see the moderation link, a member does not."""
    from forum.services import notifications

    member, forum_moderator, site_moderator = make.user(), make.user(), make.user("moderator")
    make.forum(moderators=[forum_moderator])
    with app.test_request_context():
        notifications.deliver([member], "mention", "Hej!", "/forums")
    for person, moderates in [(member, False), (forum_moderator, True), (site_moderator, True)]:
        auth.login(person)
        db.session.expire_all()
        with count_queries() as counter:
            page = client.get("/overenskommelsen").get_data(as_text=True)
        assert ('href="/moderation"' in page) is moderates
        if person is member:
            assert "data-notification-count>1</span>" in page
            assert not [s for s in counter.statements if s.startswith("SELECT forum_moderators")]
