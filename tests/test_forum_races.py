"""Two requests on one forum or message at the same moment: a double click, two tabs, or the
author and a moderator acting on the same message.

Each worker waits at a barrier (bounded by a timeout) so the requests really overlap. SQLite
has one writer at a time and no row locks, so the races (marked postgres) run on PostgreSQL
only (set FORUM_TEST_DATABASE_URL), as the other race tests do; the same changes made one after
the other run on both. The second request ends as a no-op or a refusal the page can show (a
DomainError), never a 500, and what was done is logged once.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from support import steps_at_once, stored_count

from forum.errors import Invalid
from forum.extensions import db as _db
from forum.models import (
    AuditEntry,
    Forum,
    Message,
    MessageRevision,
    MessageState,
    Notification,
    Thread,
    User,
)
from forum.models.forums import forum_members, forum_moderators
from forum.services import forums, moderation

# a statement that locks the message: its SELECT ... FOR UPDATE, or an UPDATE of the row
# where nothing locks it first
LOCKS_THE_MESSAGE = r"FOR UPDATE|^UPDATE messages"


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if request.node.get_closest_marker("postgres"):
        request.getfixturevalue("row_locks")


@pytest.fixture
def invite_only(make):
    owner, guest = make.user("official"), make.user()
    forum = make.forum(owner=owner, visibility="invite")
    return owner, guest, forum.id


LINKS = {"member": forum_members, "moderator": forum_moderators}


def linked(role: str, forum_id: int, person: User) -> int:
    links = LINKS[role]
    return stored_count(links.c.forum_id == forum_id, links.c.user_id == person.id)


def logged(role: str, done: str, forum_id: int) -> int:
    return stored_count(
        AuditEntry.action == f"forum.{role}.{done}", AuditEntry.target_id == forum_id
    )


def change(forum_id: int, email: str, role: str, add: bool) -> Callable[[User], object]:
    return lambda u: forums.change_forum_people(
        u, _db.session.get(Forum, forum_id), email, role, add
    )


@pytest.mark.postgres
@pytest.mark.parametrize("role", ["member", "moderator"])
def test_adding_a_person_twice_at_once_adds_them_once(app, invite_only, role):
    """A double click on "add": both read "not there yet" and inserted, and the second
    insert broke the link table's primary key (a 500). Now the second is a no-op."""
    owner, guest, forum_id = invite_only
    outcomes = steps_at_once(app, [change(forum_id, guest.email, role, True)] * 2, [owner.id] * 2)
    assert outcomes == ["ok", "ok"]
    assert linked(role, forum_id, guest) == 1
    assert logged(role, "added", forum_id) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("role", ["member", "moderator"])
def test_removing_a_person_twice_at_once_removes_them_once(app, invite_only, role):
    """Two tabs on "remove": both read "there" and deleted, and the second delete matched
    no row (StaleDataError, a 500). Now the second is a no-op."""
    owner, guest, forum_id = invite_only
    with app.test_request_context():
        change(forum_id, guest.email, role, True)(_db.session.get(User, owner.id))
    outcomes = steps_at_once(app, [change(forum_id, guest.email, role, False)] * 2, [owner.id] * 2)
    assert outcomes == ["ok", "ok"]
    assert linked(role, forum_id, guest) == 0
    assert logged(role, "removed", forum_id) == 1


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_adding_or_removing_again_changes_nothing_and_the_loaded_list_follows(
    app, invite_only, role
):
    """One after the other, on either database: the forum's list loaded for the page (or the
    permission check) is read again after each change, not kept as it was before it; a
    second add or remove is a no-op with no second log entry."""
    owner, guest, forum_id = invite_only
    with app.test_request_context():
        actor, forum = _db.session.get(User, owner.id), _db.session.get(Forum, forum_id)
        people = lambda: [p.id for p in getattr(forum, f"{role}s")]  # noqa: E731
        assert guest.id not in people()
        for add in (True, True, False, False):
            forums.change_forum_people(actor, forum, guest.email, role, add)
            assert people().count(guest.id) == (1 if add else 0)
    assert linked(role, forum_id, guest) == 0
    assert logged(role, "added", forum_id) == 1
    assert logged(role, "removed", forum_id) == 1


@pytest.mark.postgres
def test_opening_a_forum_twice_at_once_opens_it_once(app, make):
    """A double click on "open the forum": both found the slug free, and the second insert
    broke its unique constraint (a 500). The second submission now waits for the first and
    is answered with the forum it opened."""
    owner = make.user("official")
    ids = make.commitment_ids(2)
    opened: list[int] = []

    def step(user: User) -> None:
        opened.append(forums.create_forum(user, "Trygghet i parken", "", "public", ids).id)

    assert steps_at_once(app, [step, step], [owner.id] * 2) == ["ok", "ok"]
    assert len(opened) == 2 and opened[0] == opened[1]
    assert stored_count(Forum.title == "Trygghet i parken") == 1


@pytest.mark.postgres
def test_two_people_opening_forums_with_one_title_at_once_get_their_own_slugs(app, make):
    """Two officials open a forum with the same title in the same moment: both look the slug
    up free, the constraint refuses the second insert, and it chooses the next free slug."""
    first, second = make.user("official"), make.user("official")
    ids = make.commitment_ids(2)
    step = lambda u: forums.create_forum(u, "Trygghet i parken", "", "public", ids)  # noqa: E731
    assert steps_at_once(app, [step, step], [first.id, second.id]) == ["ok", "ok"]
    _db.session.expire_all()
    slugs = _db.session.scalars(select(Forum.slug).where(Forum.title == "Trygghet i parken"))
    assert sorted(slugs) == ["trygghet-i-parken", "trygghet-i-parken-2"]


@pytest.mark.postgres
@pytest.mark.parametrize("body", ["", "Hur gör vi kvällarna tryggare?"])
def test_starting_a_thread_twice_at_once_starts_it_once(app, make, body):
    """A double tap on "start the thread" on a slow phone: two threads with the same words.
    The second now waits for the first under the person's lock and gets its thread."""
    author = make.user()
    forum_id, ids = make.forum().id, make.commitment_ids(1)
    started: list[int] = []

    def step(user: User) -> None:
        forum = _db.session.get(Forum, forum_id)
        started.append(forums.start_thread(user, forum, "Belysning i parken", ids, body).id)

    assert steps_at_once(app, [step, step], [author.id] * 2) == ["ok", "ok"]
    assert len(started) == 2 and started[0] == started[1]
    assert stored_count(Thread.title == "Belysning i parken") == 1
    assert stored_count(Message.thread_id == started[0]) == (1 if body else 0)


@pytest.fixture
def posted(make):
    """A moderator, and an author's abusive message mentioning a reader (who is notified)."""
    mod, author, reader = make.user(), make.user(), make.user()
    thread = make.thread(forum=make.forum(moderators=[mod]), author=author)
    body = f"@{reader.handle} du är en idiot"
    message = make.message(thread, author, body)
    return {"mod": mod, "author": author, "reader": reader, "id": message.id, "body": body}


@pytest.fixture
def room_events(monkeypatch) -> list[tuple[str, str]]:
    """The message events queued for the thread's room, with the state each one shows."""
    sent: list[tuple[str, str]] = []

    def spy(name: str, payload: dict, room: str) -> None:
        if name.startswith("message:"):
            sent.append((name, payload["message"]["state"]))

    monkeypatch.setattr(forums, "emit_after_commit", spy)
    monkeypatch.setattr(moderation, "emit_after_commit", spy)
    return sent


def stored(message_id: int) -> Message:
    _db.session.expire_all()
    return _db.session.get(Message, message_id)


@pytest.mark.postgres
@pytest.mark.parametrize("author_does", ["edit", "delete"])
def test_the_authors_change_after_a_hide_is_refused(app, posted, room_events, author_does):
    """A moderator hides the message while its author edits (or deletes) it. The author's
    request read "visible" before the hide committed and wrote after it: the abusive text
    came back live (message:edited, visible, after message:hidden) and into the reader's
    notice, or the hidden message became "deleted". Now the author's request waits for the
    moderator's lock, reads the message hidden, and is refused as for any hidden message."""
    message_id, reader = posted["id"], posted["reader"]
    worse = f"@{reader.handle} du är en riktig idiot"
    authors = {
        "edit": lambda u: forums.edit_message(u, message_id, worse),
        "delete": lambda u: forums.delete_message(u, message_id),
    }
    outcomes = steps_at_once(
        app,
        [
            lambda u: moderation.hide_message(u, message_id, "other", "Personangrepp"),
            authors[author_does],
        ],
        [posted["mod"].id, posted["author"].id],
        pause_after=LOCKS_THE_MESSAGE,
    )
    assert outcomes[0] == "ok"
    assert isinstance(outcomes[1], Invalid), outcomes
    message = stored(message_id)
    assert message.state == MessageState.hidden
    assert message.body == posted["body"]
    assert stored_count(MessageRevision.message_id == message_id) == 0
    assert room_events == [("message:hidden", "hidden")]
    excerpts = _db.session.scalars(
        select(Notification.excerpt).where(Notification.message_id == message_id)
    ).all()
    assert excerpts and not any("riktig" in (e or "") for e in excerpts)


@pytest.mark.postgres
def test_an_edit_in_one_tab_after_a_delete_in_another_is_refused(app, posted, room_events):
    """The author deletes in one tab and edits in another: the edit wrote new text into the
    deleted message (the text kept on record) and broadcast it as visible."""
    message_id, author = posted["id"], posted["author"]
    outcomes = steps_at_once(
        app,
        [
            lambda u: forums.delete_message(u, message_id),
            lambda u: forums.edit_message(u, message_id, "Ångrar mig, ny text"),
        ],
        [author.id, author.id],
        pause_after=LOCKS_THE_MESSAGE,
    )
    assert outcomes[0] == "ok"
    assert isinstance(outcomes[1], Invalid), outcomes
    message = stored(message_id)
    assert message.state == MessageState.deleted
    assert message.body == posted["body"]
    assert stored_count(MessageRevision.message_id == message_id) == 0
    assert room_events == [("message:deleted", "deleted")]
