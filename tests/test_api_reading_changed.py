"""What a token's owner may read changed by a change of their own: the sync lists say so.

Added to or removed from an invite-only forum (or its moderators), given or losing a role
or a department, a person gains or loses items without any item changing: the actions and
consultations lists' `changed_since` could not bring their copy up to date, and it kept the
old view for ever (the docs only asked to walk again "after a change of one's own access",
which a person removed by a moderator does not know of). A `changed_since` from before such
a change is now answered 410 `resync`; a whole walk gives a new `as_of` that is not.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_api import assert_error, bearer, token_for
from test_api_changed_since import ACTIONS, official_of, run, synced
from test_api_removed_actions import _later, from_thread, full, walk

from forum.config import parse_rate_limit
from forum.models import ReadingChange
from forum.services import admin as admin_service
from forum.services import forums

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))

ROUNDS = "/api/v1/consultations"


@pytest.fixture
def invited(app, make):
    """An invite-only forum with a member, an action from its thread, and the member's
    token; (admin, forum, member, action id, headers)."""
    official, admin = official_of(make), make.user("admin")
    member = make.user()
    forum = make.forum(owner=admin, visibility="invite", members=[official, member])
    thread = make.thread(forum, author=official)
    action = from_thread(app, make, official, thread, "Lokal för läxhjälp")
    return admin, forum, member, action.id, bearer(token_for(app, member))


def test_removed_from_an_invite_only_forum_a_sync_is_told_to_walk_again(app, client, invited):
    admin, forum, member, action_id, headers = invited
    since = synced(client, ACTIONS, headers)
    assert action_id in full(client, headers)
    _later()

    run(app, forums.change_forum_people, admin, forum, member.email, "member", False)

    answer = client.get(ACTIONS, query_string={"changed_since": since}, headers=headers)
    assert_error(answer, 410, "resync")
    assert "changed_since" in answer.get_json()["error"]["message"]
    assert action_id not in full(client, headers)  # the whole walk is the new view
    # the walk's as_of is not refused once the change is behind it
    _later()
    again = synced(client, ACTIONS, headers)
    ok = client.get(ACTIONS, query_string={"changed_since": again}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["items"] == []


def test_added_to_an_invite_only_forum_the_sync_brings_what_was_never_stamped(
    app, make, client, invited
):
    admin, forum, member, action_id, headers = invited
    run(app, forums.change_forum_people, admin, forum, member.email, "member", False)
    _later()
    since = synced(client, ACTIONS, headers)
    assert action_id not in full(client, headers)
    _later()

    run(app, forums.change_forum_people, admin, forum, member.email, "member", True)

    # the action did not change: without the refusal it would never come
    assert_error(
        client.get(ACTIONS, query_string={"changed_since": since}, headers=headers), 410, "resync"
    )
    assert action_id in full(client, headers)


def test_nobody_else_is_told_to_walk_again(app, make, client, invited):
    admin, forum, member, _action_id, _headers = invited
    other = bearer(token_for(app, make.user()))
    since = synced(client, ACTIONS, other)
    _later()
    run(app, forums.change_forum_people, admin, forum, member.email, "member", False)
    for headers in (other, None):  # another person, a visitor
        answer = client.get(ACTIONS, query_string={"changed_since": since}, headers=headers)
        assert answer.status_code == 200, answer.get_json()
    # without changed_since nothing is refused
    assert walk(client, bearer(token_for(app, member)))[0] == []


def test_a_moderator_added_or_removed_is_a_change_of_reading(app, make, client, invited):
    admin, forum, member, _action_id, _headers = invited
    moderator = make.user()
    headers = bearer(token_for(app, moderator))
    since = synced(client, ACTIONS, headers)
    _later()
    run(app, forums.change_forum_people, admin, forum, moderator.email, "moderator", True)
    assert_error(
        client.get(ACTIONS, query_string={"changed_since": since}, headers=headers), 410, "resync"
    )


@pytest.mark.parametrize("list_path", [ACTIONS, ROUNDS])
def test_a_role_or_department_given_or_taken_is_a_change_of_reading(
    app, make, client, db, list_path
):
    admin = make.user("admin")
    person = make.user()
    headers = bearer(token_for(app, person))
    steps = [
        (admin_service.grant_role, "moderator"),
        (admin_service.revoke_role, "moderator"),
        (admin_service.grant_role, "official"),
    ]
    for change, role in steps:
        since = synced(client, list_path, headers)
        _later()
        extra = {"department_name": "Kulturförvaltningen"} if role == "official" else {}
        run(app, change, admin, person.id, role, **extra)
        answer = client.get(list_path, query_string={"changed_since": since}, headers=headers)
        assert_error(answer, 410, "resync")
        _later()
    assert db.session.scalar(
        select(ReadingChange.changed_at).where(ReadingChange.user_id == person.id)
    )


def test_a_change_that_changes_nothing_stamps_nothing(app, client, invited, db):
    admin, forum, member, _action_id, headers = invited
    since = synced(client, ACTIONS, headers)
    _later()
    # already a member: the row decides, nothing changes, nothing is logged or stamped
    run(app, forums.change_forum_people, admin, forum, member.email, "member", True)
    answer = client.get(ACTIONS, query_string={"changed_since": since}, headers=headers)
    assert answer.status_code == 200


def test_the_openapi_document_describes_the_410(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/actions", "/api/v1/consultations"):
        assert "410" in spec["paths"][path]["get"]["responses"], path
    assert "resync" in spec["info"]["description"]
