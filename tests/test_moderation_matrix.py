"""Who may moderate what: every role against every moderation action, HTTP and socket.

Forum moderators act only in their forums, site moderators and admins everywhere;
nobody moderates their own content or appeals for someone else. The rules live in
forum/policy.py; this table is their specification.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from forum.models import AuditEntry, ModerationAction
from forum.models.base import utcnow
from forum.services import moderation

ROLES = [
    "visitor",
    "member",
    "author",
    "forum_moderator",
    "other_forum_moderator",
    "moderator",
    "admin",
]
MODERATE_HERE = {"forum_moderator", "moderator", "admin"}
USE_MODERATION = {"forum_moderator", "other_forum_moderator", "moderator", "admin"}
SUSPEND = {"moderator", "admin"}


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def world(make):
    people = {
        "member": make.user(),
        "author": make.user(name="Ada Author"),
        "forum_moderator": make.user(),
        "other_forum_moderator": make.user(),
        "moderator": make.user("moderator"),
        "admin": make.user("admin"),
    }
    forum = make.forum(moderators=[people["forum_moderator"]])
    make.forum(moderators=[people["other_forum_moderator"]])
    thread = make.thread(forum=forum, author=people["author"])
    message = make.message(thread, people["author"], "text att granska")
    return people, forum, thread, message


def login_as(auth, people, role):
    if role == "visitor":
        auth.logout()
    else:
        auth.login(people[role])


def expect(response, role, allowed):
    if allowed:
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 302:
            assert "/login" not in response.headers["Location"]
    elif role == "visitor":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, response.status_code


@pytest.mark.parametrize("role", ROLES)
def test_queue_and_audit_log(world, client, auth, role):
    people, *_ = world
    login_as(auth, people, role)
    for url in ("/moderation", "/moderation/audit", "/moderation/people"):
        expect(client.get(url), role, role in USE_MODERATION)
    assert client.get("/moderation/transparency").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_hide_a_message(world, client, auth, db, role):
    people, _forum, _thread, message = world
    login_as(auth, people, role)
    response = client.post(
        f"/moderation/messages/{message.id}/hide", data={"reason": "other", "note": "nej"}
    )
    expect(response, role, role in MODERATE_HERE)
    db.session.refresh(message)
    assert (message.state == "hidden") is (role in MODERATE_HERE)


@pytest.mark.parametrize("role", ROLES)
def test_lock_a_thread(world, client, auth, socket_for, db, role):
    people, _forum, thread, _message = world
    login_as(auth, people, role)
    response = client.post(f"/threads/{thread.id}/moderate", data={"action": "lock"})
    expect(response, role, role in MODERATE_HERE)
    db.session.refresh(thread)
    assert thread.locked is (role in MODERATE_HERE)
    # a locked thread refuses everyone's sends over the socket with `locked`
    if thread.locked and role != "visitor":
        ack = socket_for(people[role]).emit(
            "message:send",
            {"thread_id": thread.id, "body": "x", "client_id": f"l-{role}"},
            callback=True,
        )
        assert ack["error"]["code"] == "locked"


@pytest.mark.parametrize("role", ROLES)
def test_mute_in_the_forum(world, client, auth, db, role):
    people, forum, _thread, _message = world
    login_as(auth, people, role)
    response = client.post(
        "/moderation/people/mute",
        data={
            "person": people["member"].handle,
            "forum_id": forum.id,
            "minutes": 60,
            "reason": "x",
        },
    )
    expect(response, role, role in MODERATE_HERE)
    made = db.session.scalar(select(func.count()).select_from(ModerationAction))
    assert made == (1 if role in MODERATE_HERE else 0)


@pytest.mark.parametrize("role", ROLES)
def test_suspend_an_account(world, client, auth, db, role):
    people, *_ = world
    login_as(auth, people, role)
    response = client.post(
        "/moderation/people/suspend",
        data={"person": people["member"].handle, "minutes": 60, "reason": "x", "confirmed": "1"},
    )
    expect(response, role, role in SUSPEND)
    db.session.refresh(people["member"])
    assert (people["member"].suspended_until is not None) is (role in SUSPEND)


@pytest.mark.parametrize("role", ["forum_moderator", "moderator", "admin"])
def test_nobody_moderates_their_own_message(world, make, client, auth, db, role):
    people, _forum, thread, _message = world
    own = make.message(thread, people[role], "mitt eget")
    auth.login(people[role])
    for op, data in [
        ("hide", {"reason": "other", "note": "x"}),
        ("redact", {"replacement": "y"}),
        ("warn", {"note": "x"}),
    ]:
        assert client.post(f"/moderation/messages/{own.id}/{op}", data=data).status_code == 403
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action.startswith("message."))
        )
        == 0
    )


@pytest.mark.parametrize("role", ["forum_moderator", "moderator", "admin"])
def test_nobody_mutes_or_suspends_themselves(world, client, auth, db, role):
    people, forum, *_ = world
    auth.login(people[role])
    me = people[role].handle
    mute = client.post(
        "/moderation/people/mute",
        data={"person": me, "forum_id": forum.id, "minutes": 60, "reason": "x"},
    )
    suspend = client.post(
        "/moderation/people/suspend", data={"person": me, "minutes": 60, "reason": "x"}
    )
    assert mute.status_code == suspend.status_code == 403


def test_a_moderator_cannot_suspend_an_admin(world, client, auth, db):
    people, *_ = world
    auth.login(people["moderator"])
    response = client.post(
        "/moderation/people/suspend",
        data={"person": people["admin"].handle, "minutes": 60, "reason": "x"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_appeals_are_made_by_the_person_concerned_only(world, client, auth, db, role):
    people, _forum, _thread, message = world
    action = moderation.hide_message(people["forum_moderator"], message.id, "other", "nej")
    login_as(auth, people, role)
    response = client.post(f"/moderation/actions/{action.id}/appeal", data={"body": "ångra"})
    expect(response, role, role == "author")


@pytest.mark.parametrize(
    ("state", "code"),
    [("muted", "muted"), ("suspended", "auth_required"), ("locked", "locked"), ("free", None)],
)
def test_socket_refusals(world, socket_for, db, state, code):
    people, forum, thread, message = world
    member = people["member"]
    sock = socket_for(member)  # logged in before: a suspended person cannot log in
    if state == "muted":
        moderation.mute_person(people["forum_moderator"], member.id, forum.id, 60, "x")
    elif state == "suspended":
        member.suspended_until = utcnow() + timedelta(hours=1)
        db.session.commit()
    elif state == "locked":
        moderation.lock_thread(people["forum_moderator"], thread.id)
    ack = sock.emit(
        "message:send",
        {"thread_id": thread.id, "body": "hej", "client_id": f"s-{state}"},
        callback=True,
    )
    if code is None:
        assert ack["ok"]
    else:
        assert ack["ok"] is False and ack["error"]["code"] == code
