"""Who may do what with forums and messages: every role, every action, HTTP and socket.

The rules live in forum/policy.py; this table is their specification.
"""

from __future__ import annotations

import itertools

import pytest

ROLES = ["visitor", "member", "official", "moderator", "admin", "forum_moderator", "invited"]

# action -> roles allowed, per forum visibility where it matters
VIEW = {
    "public": set(ROLES),
    "members": set(ROLES) - {"visitor"},
    "invite": {"moderator", "admin", "forum_moderator", "invited"},
}
POST = {vis: roles - {"visitor"} for vis, roles in VIEW.items()}
CREATE_FORUM = {"official", "admin"}
SEE_OTHERS_REVISIONS = {"moderator", "admin", "forum_moderator"}


@pytest.fixture
def world(make):
    """One forum of each visibility, each with a thread and a message by its owner."""
    owner = make.user("official", name="Owner Official")
    people = {
        "member": make.user(),
        "official": make.user("official"),
        "moderator": make.user("moderator"),
        "admin": make.user("admin"),
        "forum_moderator": make.user(),
        "invited": make.user(),
    }
    forums, threads, messages = {}, {}, {}
    for visibility in ("public", "members", "invite"):
        forums[visibility] = make.forum(
            owner=owner,
            visibility=visibility,
            moderators=[people["forum_moderator"]],
            members=[people["invited"]],
        )
        threads[visibility] = make.thread(forum=forums[visibility], author=owner)
        messages[visibility] = make.message(threads[visibility], owner, "ägarens text")
        make.message(threads[visibility], owner, "andra")
    # the owner edits, so there are revisions to see
    from forum.services import forums as forum_service

    for message in messages.values():
        forum_service.edit_message(owner, message.id, "ägarens nya text")
    return people, forums, threads, messages


def login_as(auth, people, role):
    if role == "visitor":
        auth.logout()
    else:
        auth.login(people[role])


CASES = list(itertools.product(ROLES, ["public", "members", "invite"]))


@pytest.mark.parametrize(("role", "visibility"), CASES)
def test_view_over_http_and_socket(world, client, auth, socket_for, role, visibility):
    people, forums, threads, _messages = world
    login_as(auth, people, role)
    allowed = role in VIEW[visibility]
    forum_page = client.get(f"/forums/{forums[visibility].slug}")
    thread_page = client.get(f"/threads/{threads[visibility].id}")
    for response in (forum_page, thread_page):
        if allowed:
            assert response.status_code == 200
        elif role == "visitor":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        else:
            assert response.status_code == 404
    ack = socket_for(people.get(role)).emit(
        "join", {"thread_id": threads[visibility].id}, callback=True
    )
    assert ack["ok"] is allowed
    listed = forums[visibility].title in client.get("/forums").get_data(as_text=True)
    assert listed is allowed


@pytest.mark.parametrize(("role", "visibility"), CASES)
def test_post_over_http_and_socket(world, client, auth, socket_for, role, visibility):
    people, _forums, threads, _messages = world
    thread = threads[visibility]
    login_as(auth, people, role)
    allowed = role in POST[visibility]
    response = client.post(
        f"/threads/{thread.id}/messages", data={"body": "http", "client_id": f"h-{role}"}
    )
    if allowed:
        assert (
            response.status_code == 302 and f"/threads/{thread.id}" in response.headers["Location"]
        )
    elif role == "visitor":
        assert "/login" in response.headers.get("Location", "")
    else:
        assert response.status_code == 404
    ack = socket_for(people.get(role)).emit(
        "message:send",
        {"thread_id": thread.id, "body": "socket", "client_id": f"s-{role}"},
        callback=True,
    )
    assert ack["ok"] is allowed
    if not allowed:
        assert ack["error"]["code"] == ("auth_required" if role == "visitor" else "not_found")


@pytest.mark.parametrize("role", ROLES)
def test_create_forum(world, client, auth, make, role):
    people, *_ = world
    login_as(auth, people, role)
    data = {
        "title": f"Nytt av {role}",
        "visibility": "public",
        "commitments": [str(make.commitment_ids(1)[0])],
    }
    response = client.post("/forums/new", data=data)
    if role in CREATE_FORUM:
        assert response.status_code == 302
    elif role == "visitor":
        assert "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_nobody_edits_or_deletes_someone_elses_message(world, client, auth, socket_for, db, role):
    people, _forums, _threads, messages = world
    message = messages["public"]
    login_as(auth, people, role)
    for response in (
        client.post(f"/messages/{message.id}/edit", data={"body": "ändrad"}),
        client.post(f"/messages/{message.id}/delete"),
    ):
        if role == "visitor":
            assert "/login" in response.headers["Location"]
        else:
            assert response.status_code == 403
    sock = socket_for(people.get(role))
    assert (
        sock.emit("message:edit", {"message_id": message.id, "body": "x"}, callback=True)["ok"]
        is False
    )
    assert sock.emit("message:delete", {"message_id": message.id}, callback=True)["ok"] is False
    db.session.refresh(message)
    assert message.body == "ägarens nya text" and message.state == "visible"


@pytest.mark.parametrize(("role", "visibility"), CASES)
def test_see_earlier_versions_of_someone_elses_message(world, client, auth, role, visibility):
    people, _forums, _threads, messages = world
    login_as(auth, people, role)
    response = client.get(f"/messages/{messages[visibility].id}/revisions")
    if role in SEE_OTHERS_REVISIONS:
        assert response.status_code == 200 and "ägarens text" in response.get_data(as_text=True)
    elif role == "visitor":
        assert response.status_code == 302
    else:
        assert response.status_code in (403, 404)
        assert "ägarens text" not in response.get_data(as_text=True)
