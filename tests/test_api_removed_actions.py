"""The open-data API's actions list tells a syncing consumer which actions left its view.

With `changed_since`, `GET /api/v1/actions` lists what changed; an action a moderator hid,
or whose thread moved to a forum the consumer cannot read (or whose forum closed), was only
missing, and a consumer that synced kept it for ever. Its page's `removed` names those ids.
An action whose thread moved to a forum the consumer can read kept its old time, so it never
came: the move stamps it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from sqlalchemy import select, text
from support import app_settings as app_config
from test_api import bearer, token_for
from test_api_changed_since import (
    ACTIONS,
    _times,
    long_ago,
    official_of,
    propose,
    run,
    synced,
)
from test_migrations import database_url, keep_logging, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.config import parse_rate_limit
from forum.extensions import db
from forum.models import Action, ReadingChange
from forum.models import ThreadAccessChange as Change
from forum.services import follow_up, forums, moderation

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def walk(client, headers=None, **params) -> tuple[list[int], list[int]]:
    """Every page of the actions list from its first: the items' ids and the removed ids."""
    response = client.get(ACTIONS, query_string=params, headers=headers)
    ids: list[int] = []
    removed: list[int] = []
    while True:
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        ids += [item["id"] for item in body["items"]]
        removed += body["removed"]
        if body["next"] is None:
            return ids, removed
        response = client.get(body["next"], headers=headers)


def from_thread(app, make, official, thread, title: str):
    """An action proposed from a message of `thread`."""
    message = make.message(thread, official, "Vi borde göra något åt det här.")
    return propose(app, make, official, title, message_id=message.id)


def test_an_action_hidden_after_a_sync_is_named_removed(app, make, client):
    official, moderator = official_of(make), make.user("moderator")
    hidden = propose(app, make, official, "Kvällsöppet på mötesplatsen")
    kept = propose(app, make, official, "Fler bänkar i parken")
    long_ago(hidden, kept)
    as_of = synced(client, ACTIONS)

    run(app, follow_up.hide_action, moderator, hidden.id, "Personuppgifter i titeln")

    assert walk(client, changed_since=as_of) == ([], [hidden.id])
    # a whole walk lists what there is: nothing is "removed" there
    assert walk(client) == ([kept.id], [])
    assert client.get(f"{ACTIONS}/{hidden.id}").status_code == 404


def test_an_action_hidden_before_the_sync_is_not_named_again(app, make, client):
    official, moderator = official_of(make), make.user("moderator")
    hidden = propose(app, make, official, "Kvällsöppet på mötesplatsen")
    run(app, follow_up.hide_action, moderator, hidden.id, "Personuppgifter i titeln")
    hidden.hidden_at = hidden.updated_at = datetime(2026, 1, 1, tzinfo=UTC)
    db.session.commit()
    as_of = synced(client, ACTIONS)

    assert walk(client, changed_since=as_of) == ([], [])


def test_a_thread_moved_out_of_reach_takes_its_action_away_and_back(app, make, client):
    official, moderator, member = official_of(make), make.user("moderator"), make.user()
    public = make.forum(moderators=[moderator])
    members = make.forum(visibility="members", moderators=[moderator])
    thread = make.thread(public, author=official)
    action = from_thread(app, make, official, thread, "Lånecyklar vid biblioteket")
    long_ago(action)
    as_of = synced(client, ACTIONS)
    member_sees = bearer(token_for(app, member))

    run(app, moderation.move_thread, moderator, thread.id, members.id)

    assert walk(client, changed_since=as_of) == ([], [action.id])  # a visitor lost it
    assert walk(client, member_sees, changed_since=as_of) == ([action.id], [])  # still reads it
    assert walk(client) == ([], [])

    as_of = synced(client, ACTIONS)
    long_ago(action)
    run(app, moderation.move_thread, moderator, thread.id, public.id)

    assert walk(client, changed_since=as_of) == ([action.id], [])  # a visitor has it again


def test_a_forum_closed_or_opened_names_its_threads_actions(app, make, client):
    official = official_of(make)
    owner = make.user("official")
    forum = make.forum(owner=owner)
    thread = make.thread(forum, author=official)
    action = from_thread(app, make, official, thread, "Lånecyklar vid biblioteket")
    elsewhere = propose(app, make, official, "Fler bänkar i parken")
    long_ago(action, elsewhere)
    as_of = synced(client, ACTIONS)

    run(app, forums.set_forum_visibility, owner, forum, "members")

    assert walk(client, changed_since=as_of) == ([], [action.id])

    as_of = synced(client, ACTIONS)
    long_ago(action)
    run(app, forums.set_forum_visibility, owner, forum, "public")

    assert walk(client, changed_since=as_of) == ([action.id], [])


def test_an_action_the_reader_never_could_read_is_not_named(app, make, client):
    """Hidden in a forum a visitor cannot read: nothing they had, nothing to name."""
    official, moderator = official_of(make), make.user("moderator")
    closed = make.forum(visibility="members")
    action = from_thread(app, make, official, make.thread(closed, author=official), "Lånecyklar")
    long_ago(action)
    as_of = synced(client, ACTIONS)

    run(app, follow_up.hide_action, moderator, action.id, "Personuppgifter i titeln")

    assert walk(client, changed_since=as_of) == ([], [])


def test_a_move_or_a_change_between_forums_the_reader_cannot_read_names_nothing(app, make, client):
    """Moved from one invite-only forum to another, or an invite-only forum made
    members-only: a visitor could read neither before nor after, and learns nothing, not
    even ids and a time; an invited member who could read the first learns it is gone."""
    official, moderator, member = official_of(make), make.user("moderator"), make.user()
    first = make.forum(visibility="invite", members=[official, member], moderators=[moderator])
    second = make.forum(visibility="invite", members=[official], moderators=[moderator])
    threads = [make.thread(first, author=official) for _ in range(2)]
    actions = [from_thread(app, make, official, t, f"Åtgärd i {t.title}") for t in threads]
    long_ago(*actions)
    as_of = synced(client, ACTIONS)
    member_sees = bearer(token_for(app, member))
    member_as_of = synced(client, ACTIONS, member_sees)

    run(app, moderation.move_thread, moderator, threads[0].id, second.id)
    run(app, forums.set_forum_visibility, make.user("admin"), first, "members")

    assert walk(client, changed_since=as_of) == ([], [])
    assert walk(client, member_sees, changed_since=member_as_of) == (
        [actions[1].id],  # still readable: its forum is members-only now
        [actions[0].id],  # moved to a forum the member is not invited to
    )


def test_removed_ids_are_paged_by_id_with_the_items(app, make, client):
    official, moderator = official_of(make), make.user("moderator")
    actions = [propose(app, make, official, f"Åtgärd {n}") for n in range(4)]
    long_ago(*actions)
    as_of = synced(client, ACTIONS)
    for gone in (actions[0], actions[2]):
        run(app, follow_up.hide_action, moderator, gone.id, "Fel forum")
    run(app, follow_up.change_action, official, actions[3].id, "in_progress", 10)

    first = client.get(ACTIONS, query_string={"changed_since": as_of, "limit": 2}).get_json()
    assert first["items"] == [] and first["removed"] == [actions[0].id, actions[2].id]
    assert "changed_since" in first["next"]
    second = client.get(first["next"]).get_json()
    assert [i["id"] for i in second["items"]] == [actions[3].id] and second["removed"] == []
    assert walk(client, changed_since=as_of, limit=1) == (
        [actions[3].id],
        [actions[0].id, actions[2].id],
    )


def test_the_openapi_document_describes_removed(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "removed" in schemas["ActionPage"]["required"]
    assert "changed_since" in schemas["ActionPage"]["properties"]["removed"]["description"]
    assert "removed" not in schemas["RoundPage"]["properties"]  # a round never leaves


@pytest.mark.usefixtures("keep_logging")
def test_the_migration_keeps_the_access_changes_on_record(database_url):  # noqa: F811
    """A forum's visibility changes, for the threads in it, with the old visibility from the
    entry's reason; a thread's moves, from the entry's forum, with its visibility now."""
    app = create_app(app_config(database_url))
    times = {n: datetime(2026, 11, n, 12, tzinfo=UTC) for n in range(1, 10)}
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e36roundchanges")
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO forums (id, slug, title, description, description_html,"
                        " visibility, created_at) VALUES (1, 'f', 'F', '', '', 'public', :t),"
                        " (2, 'g', 'G', '', '', 'members', :t)"
                    ),
                    {"t": times[1]},
                )
                connection.execute(
                    text(
                        "INSERT INTO threads (id, forum_id, title, created_at, locked, pinned,"
                        " archived, slow_mode_seconds, message_count) VALUES"
                        " (1, 1, 'Moved out of G', :t, :no, :no, :no, 0, 0),"
                        " (2, 2, 'In G', :t, :no, :no, :no, 0, 0),"
                        " (3, 2, 'Also in G', :t, :no, :no, :no, 0, 0)"
                    ),
                    {"t": times[1], "no": False},
                )
                connection.execute(
                    text(
                        "INSERT INTO audit_log (action, target_type, target_id, forum_id, reason,"
                        " created_at) VALUES ('thread.moved', 'thread', 1, 2, 'from G', :a),"
                        " ('forum.visibility', 'forum', 2, NULL, 'public → members', :b),"
                        " ('forum.visibility', 'forum', 1, NULL, 'odd', :b),"
                        " ('thread.renamed', 'thread', 3, 2, 'x → y', :c)"
                    ),
                    {"a": times[2], "b": times[4], "c": times[5]},
                )

            flask_migrate.upgrade()

            with db.engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT thread_id, forum_id, visibility FROM thread_access_changes"
                        " ORDER BY thread_id"
                    )
                ).all()
            assert [tuple(r) for r in rows] == [
                (1, 2, "members"),  # moved out of G, which is members-only now
                (2, 2, "public"),  # G was public before its change
                (3, 2, "public"),
            ]
            assert _times("SELECT thread_id, changed_at FROM thread_access_changes") == {
                1: times[2],
                2: times[4],
                3: times[4],
            }

            flask_migrate.downgrade(revision="e36roundchanges")
            flask_migrate.upgrade()
        finally:
            db.session.remove()


# --- a consumer's copy -----------------------------------------------------------------


def full(client, headers=None) -> dict[int, dict]:
    """The actions a reader reads now, by a whole walk."""
    items: dict[int, dict] = {}
    response = client.get(ACTIONS, headers=headers)
    while True:
        body = response.get_json()
        items |= {item["id"]: item for item in body["items"]}
        if body["next"] is None:
            return items
        response = client.get(body["next"], headers=headers)


def sync(client, copy: dict[int, dict], since: str, headers=None) -> tuple[str, set[int]]:
    """Bring `copy` up to date as a consumer does: each item as its new state, each removed
    id deleted; the as_of to send next time, and the ids named removed."""
    response = client.get(
        ACTIONS, query_string={"changed_since": since, "limit": 3}, headers=headers
    )
    if response.status_code == 410:  # what the reader may read changed: walk it all again
        assert response.get_json()["error"]["code"] == "resync"
        gone = set(copy)
        copy.clear()
        copy |= full(client, headers)
        return synced(client, ACTIONS, headers), gone - set(copy)
    removed: set[int] = set()
    while True:
        body = response.get_json()
        copy |= {item["id"]: item for item in body["items"]}
        for gone in body["removed"]:
            copy.pop(gone, None)
            removed.add(gone)
        if body["next"] is None:
            return body["as_of"], removed
        response = client.get(body["next"], headers=headers)


def state(items: dict[int, dict]) -> dict[int, dict]:
    """The items without their times, which _later moves."""
    return {
        key: {k: v for k, v in item.items() if k not in ("changed_at", "created_at")}
        for key, item in items.items()
    }


def _later(hours: int = 1) -> None:
    """Everything stored so far happened an hour earlier: the next sync's changes are
    only those made after the last one (the margin would otherwise bring all again)."""
    rows = [*db.session.scalars(select(Action)), *db.session.scalars(select(Change))]
    for row in [*rows, *db.session.scalars(select(ReadingChange))]:
        for column in ("created_at", "updated_at", "hidden_at", "changed_at"):
            if (moment := getattr(row, column, None)) is not None:
                setattr(row, column, moment - timedelta(hours=hours))
    db.session.commit()


@pytest.mark.parametrize("seed", range(4))
def test_a_copy_kept_by_changed_since_is_the_whole_list(app, make, client, seed):
    """Random moves, visibility changes, hidings, updates and the member added to or
    removed from the invite-only forum, with a sync after each: the copy a visitor and a
    member keep from the changes (and a whole walk when told to) equals a whole walk's."""
    chance = random.Random(seed)
    official, moderator, admin = official_of(make), make.user("moderator"), make.user("admin")
    member = make.user()
    # the owner's side (the official) reads every forum, whatever it becomes; the member
    # is invited to the last only
    forums_ = [
        make.forum(owner=admin, members=[official]),
        make.forum(owner=admin, members=[official]),
        make.forum(owner=admin, visibility="members", members=[official]),
        make.forum(owner=admin, visibility="invite", members=[official, member]),
    ]
    threads = [make.thread(f, author=official) for f in forums_[:2] + forums_[2:3]]
    threads.append(make.thread(forums_[3], author=member))
    actions = [propose(app, make, official, "Utan tråd")]
    # proposed by a site moderator: one who reads every forum, whatever it becomes
    actions += [from_thread(app, make, moderator, t, f"Från {t.title}") for t in threads]
    readers = [None, bearer(token_for(app, member))]
    copies = [full(client, headers) for headers in readers]
    marks = [synced(client, ACTIONS, headers) for headers in readers]

    for _step in range(12):
        _later()
        kind = chance.choice(["move", "visibility", "hide", "change", "propose", "member"])
        if kind == "member":
            invited = forums_[3]
            add = member not in invited.members
            run(app, forums.change_forum_people, admin, invited, member.email, "member", add)
        elif kind == "move":
            thread = chance.choice(threads)
            target = chance.choice([f for f in forums_ if f.id != thread.forum_id])
            run(app, moderation.move_thread, moderator, thread.id, target.id)
        elif kind == "visibility":
            forum = chance.choice(forums_)
            choices = [v for v in ("public", "members", "invite") if v != forum.visibility.value]
            run(app, forums.set_forum_visibility, admin, forum, chance.choice(choices))
        elif kind == "hide":
            action = chance.choice(actions)
            if action.hidden:
                run(app, follow_up.unhide_action, moderator, action.id)
            else:
                run(app, follow_up.hide_action, moderator, action.id, "Fel forum")
        elif kind == "change":
            action = chance.choice([a for a in actions if not a.hidden])
            if action.awaiting:
                run(app, follow_up.accept_action, official, action.id)
            else:
                run(app, follow_up.post_update, official, action.id, f"Steg {_step}.")
        else:
            actions.append(from_thread(app, make, moderator, chance.choice(threads), f"Ny {_step}"))
        for n, headers in enumerate(readers):
            before = set(copies[n])
            marks[n], removed = sync(client, copies[n], marks[n], headers)
            now = full(client, headers)
            assert state(copies[n]) == state(now), (kind, n)
            # one change a step: what is named removed was readable before it, nothing else
            assert removed <= before, (kind, n, removed - before)
