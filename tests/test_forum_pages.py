"""Forum and thread pages over HTTP: the no-JavaScript path, unread, notifications."""

from __future__ import annotations

from sqlalchemy import func, select, update
from support import csrf_tokens, without_csrf_tokens

from forum.models import Forum, Message, Notification, OutboxMail, Thread
from forum.services import forums as forum_service


def text(response):
    return response.get_data(as_text=True)


def test_visitor_sees_public_forums_only(client, make):
    make.forum(title="Öppet forum")
    make.forum(title="Medlemsforum", visibility="members")
    make.forum(title="Inbjudna", visibility="invite")
    page = text(client.get("/forums"))
    assert "Öppet forum" in page
    assert "Medlemsforum" not in page and "Inbjudna" not in page


def test_a_visitor_gets_no_unread_column_a_member_does(client, make, auth):
    """The forum's threads table had an "Unread" column that was always 0 for a visitor."""
    forum = make.forum(title="Öppet forum")
    make.thread(forum=forum)
    headers = {"Accept-Language": "en"}
    page = text(client.get(f"/forums/{forum.slug}", headers=headers))
    assert ">Messages</th>" in page and ">Unread</th>" not in page
    assert "data-unread-thread" not in page
    auth.login(make.user())
    page = text(client.get(f"/forums/{forum.slug}", headers=headers))
    assert ">Unread</th>" in page and "data-unread-thread" in page


def test_members_forum_needs_login_and_invite_forum_needs_membership(client, make, auth):
    members = make.forum(visibility="members")
    invite = make.forum(visibility="invite")
    response = client.get(f"/forums/{members.slug}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    outsider = make.user()
    auth.login(outsider)
    assert client.get(f"/forums/{members.slug}").status_code == 200
    assert client.get(f"/forums/{invite.slug}").status_code == 404


def test_unknown_ids_are_404(client, make, auth):
    auth.login(make.user())
    for url in [
        "/forums/nope",
        "/threads/999999",
        "/messages/999999/edit",
        "/messages/999999/revisions",
        "/people/nobody",
        "/commitments/nope",
    ]:
        assert client.get(url).status_code == 404, url


def test_official_creates_a_forum(client, make, auth, db):
    official = make.user("official")
    auth.login(official)
    ids = [str(i) for i in make.commitment_ids(2)]
    response = client.post(
        "/forums/new",
        data={
            "title": "Lokaler",
            "description": "Om *lokaler*",
            "visibility": "members",
            "commitments": ids,
        },
    )
    assert response.status_code == 302
    forum = db.session.scalar(select(Forum).where(Forum.title == "Lokaler"))
    assert forum.visibility == "members" and forum.description_html == "<p>Om <em>lokaler</em></p>"
    assert len(forum.commitments) == 2


def test_a_forum_that_keeps_losing_its_slug_is_a_field_error_not_a_500(
    client, make, auth, db, monkeypatch
):
    """Opening a forum chooses a free slug, and chooses again when another forum takes it
    between the look-up and the insert. One that loses SLUG_ATTEMPTS times in a row (forums
    with this title opened at the same moment, over and over) is told on the title field and
    nothing is stored; it was a 500."""
    official = make.user("official")
    taken = make.forum(title="Lokaler", owner=official).slug
    chosen: list[str] = []

    def always_taken(base, endpoint, is_taken):
        chosen.append(base)
        return taken  # as if another forum took each free slug just before the insert

    monkeypatch.setattr(forum_service, "free_slug", always_taken)
    auth.login(official)
    cid = str(make.commitment_ids(1)[0])
    data = {
        "title": "Lokaler",
        "description": "Ett andra",
        "visibility": "public",
        "commitments": [cid],
    }
    response = client.post("/forums/new", data=data)
    assert response.status_code == 400
    page = text(response)
    # beside the title field and in the summary above the form
    assert page.count("Andra forum med den här titeln öppnas just nu. Försök igen.") == 2
    assert '<p class="error" id="title-error">' in page
    assert len(chosen) == forum_service.SLUG_ATTEMPTS
    assert db.session.scalar(select(func.count()).select_from(Forum)) == 1


def test_member_cannot_create_a_forum(client, make, auth, db):
    auth.login(make.user())
    assert client.get("/forums/new").status_code == 403
    response = client.post(
        "/forums/new",
        data={
            "title": "X",
            "visibility": "public",
            "commitments": [str(make.commitment_ids(1)[0])],
        },
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Forum)) == 0


def test_bad_forum_input_gets_field_errors_and_writes_nothing(client, make, auth, db):
    auth.login(make.user("admin"))
    cid = str(make.commitment_ids(1)[0])
    cases = [
        {"title": "", "visibility": "public", "commitments": [cid]},
        {"title": "T" * 201, "visibility": "public", "commitments": [cid]},
        {"title": "Ok", "visibility": "public"},
        {"title": "Ok", "visibility": "public", "commitments": ["99999"]},
        {"title": "Ok", "visibility": "public", "commitments": ["abc"]},
        {"title": "Ok", "visibility": "secret", "commitments": [cid]},
    ]
    for data in cases:
        response = client.post("/forums/new", data=data)
        assert response.status_code == 400, data
        assert 'class="error' in text(response)
    assert db.session.scalar(select(func.count()).select_from(Forum)) == 0


def test_start_thread_with_first_message(client, make, auth, db):
    member = make.user()
    forum = make.forum()
    auth.login(member)
    cid = str(make.commitment_ids(1)[0])
    response = client.post(
        f"/forums/{forum.slug}",
        data={"title": "Ny tråd", "commitments": [cid], "body": "Första *inlägget*"},
    )
    assert response.status_code == 302
    thread = db.session.scalar(select(Thread).where(Thread.title == "Ny tråd"))
    assert thread.message_count == 1
    assert "<em>inlägget</em>" in text(client.get(f"/threads/{thread.id}"))
    response = client.post(f"/forums/{forum.slug}", data={"title": "Utan åtagande"})
    assert response.status_code == 400


def test_post_message_without_javascript_is_idempotent(client, make, auth, db):
    member = make.user()
    thread = make.thread(author=member)
    auth.login(member)
    data = {"body": "Via formulär", "client_id": "form-1", "reply_to": ""}
    first = client.post(f"/threads/{thread.id}/messages", data=data)
    second = client.post(f"/threads/{thread.id}/messages", data=data)
    assert first.status_code == 302 and second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_bad_form_posts_show_the_error_and_keep_the_text(client, make, auth, db):
    member = make.user()
    thread = make.thread(author=member)
    auth.login(member)
    empty = client.post(f"/threads/{thread.id}/messages", data={"body": "   ", "client_id": "e1"})
    assert empty.status_code == 400 and 'id="body-error"' in text(empty)
    long = client.post(
        f"/threads/{thread.id}/messages", data={"body": "y" * 10_001, "client_id": "e2"}
    )
    assert long.status_code == 400 and "y" * 10_001 in text(long)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_locked_thread_refuses_form_posts(client, make, auth, db):
    member = make.user()
    thread = make.thread(author=member)
    thread.locked = True
    db.session.commit()
    auth.login(member)
    response = client.post(f"/threads/{thread.id}/messages", data={"body": "x", "client_id": "l1"})
    assert response.status_code == 423
    # The composer is there but hidden, so an unlock can bring it back live (issue 14).
    page = text(client.get(f"/threads/{thread.id}"))
    assert 'id="composer" hidden' in page
    assert page.count('id="composer"') == 1


def test_thread_page_links_to_older_messages(client, make, auth, app):
    from forum.config import parse_rate_limit

    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    member = make.user()
    thread = make.thread(author=member)
    ids = [make.message(thread, member, f"nr {i}").id for i in range(55)]
    page = text(client.get(f"/threads/{thread.id}"))
    assert "nr 54" in page and f'id="m{ids[4]}"' not in page and f'id="m{ids[5]}"' in page
    assert f"before={ids[5]}" in page
    older = text(client.get(f"/threads/{thread.id}?before={ids[5]}"))
    assert f'id="m{ids[0]}"' in older and f'id="m{ids[5]}"' not in older


def test_unread_counts_and_first_unread(client, make, auth):
    alice, bob = make.user(), make.user()
    forum = make.forum()
    thread = make.thread(forum=forum, author=alice)
    make.message(thread, alice, "ett")
    auth.login(bob)
    client.get(f"/threads/{thread.id}")
    make.message(thread, alice, "två")
    new = make.message(thread, alice, "tre")
    forum_page = text(client.get(f"/forums/{forum.slug}"))
    assert f'data-unread-thread="{thread.id}" data-count="2">2</span>' in forum_page
    assert "2 unread" in text(
        client.get("/forums", headers={"Accept-Language": "en"})
    ) or "2 olästa" in text(client.get("/forums"))
    thread_page = text(client.get(f"/threads/{thread.id}"))
    assert 'id="first-unread"' in thread_page
    assert thread_page.index('id="first-unread"') < thread_page.index(f'id="m{new.id}"')
    read_page = text(client.get(f"/forums/{forum.slug}"))
    assert f'data-unread-thread="{thread.id}" data-count="0" hidden>' in read_page
    assert 'data-count="2"' not in read_page


def message_item(response, message) -> str:
    """The <li> of one message on a thread page (not the composer, not the <template>)."""
    page = text(response)
    start = page.index(f'<li class="message" id="m{message.id}"')
    return page[start : page.index("</li>", start)]


def test_edit_and_revisions_through_forms(client, make, auth, db):
    alice, bob = make.user(), make.user()
    moderator = make.user("moderator")
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "före")
    auth.login(alice)
    english = {"Accept-Language": "en"}
    marker = 'data-slot="edited">(edited)</span>'
    assert marker not in message_item(client.get(f"/threads/{thread.id}", headers=english), message)
    assert client.post(f"/messages/{message.id}/edit", data={"body": "efter"}).status_code == 302
    assert marker in message_item(client.get(f"/threads/{thread.id}", headers=english), message)
    history = client.get(f"/messages/{message.id}/revisions")
    assert history.status_code == 200 and "före" in text(history) and "efter" in text(history)
    auth.login(moderator)
    assert client.get(f"/messages/{message.id}/revisions").status_code == 200
    auth.login(bob)
    assert client.get(f"/messages/{message.id}/revisions").status_code == 403
    assert client.post(f"/messages/{message.id}/edit", data={"body": "kapad"}).status_code == 403
    db.session.refresh(message)
    assert message.body == "efter"


def test_delete_through_form_leaves_placeholder(client, make, auth, db):
    alice = make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "ångrar mig")
    auth.login(alice)
    assert client.post(f"/messages/{message.id}/delete").status_code == 302
    page = text(client.get(f"/threads/{thread.id}"))
    assert "ångrar mig" not in page
    assert f'data-id="{message.id}" data-author-id="{alice.id}" data-state="deleted"' in page


def test_notifications_page_and_mail(client, make, auth, db):
    alice, bob = make.user(name="Alice Mail"), make.user(name="Bob Mail")
    quiet = make.user(name="Quiet Person")
    quiet.email_notifications = False
    db.session.commit()
    thread = make.thread(author=alice)
    make.message(thread, alice, f"Hej @{bob.handle} och @{quiet.handle}")
    mails = db.session.scalars(select(OutboxMail)).all()
    assert [m.to_address for m in mails] == [bob.email]
    assert f"/threads/{thread.id}" in mails[0].body
    auth.login(bob)
    page = text(client.get("/notifications"))
    assert "Alice Mail" in page
    assert client.post("/notifications/read").status_code == 302
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.read_at.is_(None), Notification.user_id == bob.id)
        )
        == 0
    )
    assert client.post("/notifications/read", data={"id": "x"}).status_code == 400


def test_mentions_of_people_without_access_do_not_notify(make, db):
    insider, outsider = make.user(), make.user()
    forum = make.forum(visibility="invite", members=[insider])
    thread = make.thread(forum=forum, author=insider)
    make.message(thread, insider, f"@{outsider.handle} kan inte läsa detta")
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_owner_invites_members_and_appoints_moderators(client, make, auth, db):
    owner = make.user("official")
    guest, stranger = make.user(), make.user()
    forum = make.forum(owner=owner, visibility="invite")
    auth.login(guest)
    assert client.get(f"/forums/{forum.slug}").status_code == 404
    auth.login(owner)
    response = client.post(
        f"/forums/{forum.slug}/people",
        data={"email": guest.email.upper(), "role": "member", "action": "add"},
    )
    assert response.status_code == 302
    response = client.post(
        f"/forums/{forum.slug}/people",
        data={"email": "nobody@example.se", "role": "member", "action": "add"},
    )
    assert response.status_code == 400
    assert 'id="email-error"' in text(response) or "error-summary" in text(response)
    assert (
        client.post(
            f"/forums/{forum.slug}/people",
            data={"email": guest.email, "role": "owner", "action": "add"},
        ).status_code
        == 400
    )
    auth.login(guest)
    assert client.get(f"/forums/{forum.slug}").status_code == 200
    assert client.get(f"/forums/{forum.slug}/people").status_code == 403
    auth.login(stranger)
    assert (
        client.post(
            f"/forums/{forum.slug}/people",
            data={"email": stranger.email, "role": "member", "action": "add"},
        ).status_code
        == 404
    )
    auth.login(owner)
    client.post(
        f"/forums/{forum.slug}/people",
        data={"email": guest.email, "role": "member", "action": "remove"},
    )
    auth.login(guest)
    assert client.get(f"/forums/{forum.slug}").status_code == 404
    from forum.models import AuditEntry

    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["forum.member.added", "forum.member.removed"]


def test_commitment_page_shows_this_years_figures(client, make, db):
    from forum.models import Commitment

    member = make.user()
    thread = make.thread(author=member)
    for i in range(3):
        make.message(thread, member, f"nr {i}")
    first = db.session.scalar(select(Commitment).order_by(Commitment.position))
    page = text(client.get(f"/commitments/{first.slug}", headers={"Accept-Language": "en"}))
    assert "<dt>Active dialogues</dt><dd>1</dd>" in page
    assert "<dt>Messages</dt><dd>3</dd>" in page
    other = db.session.scalars(select(Commitment).order_by(Commitment.position)).all()[-1]
    assert "<dt>Messages</dt><dd>0</dd>" in text(
        client.get(f"/commitments/{other.slug}", headers={"Accept-Language": "en"})
    )


def test_thread_page_remembers_each_message_and_fills_in_the_viewer(client, make, auth, app):
    """A thread page renders each message once (forum/web/message_view.py); the next viewer
    gets the same HTML with their own CSRF token, own-message controls and reactions."""
    from forum.services import reactions

    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    mine = make.message(thread, alice, "Alices **inlägg**")
    make.message(thread, bob, "Bobs inlägg")
    reactions.react(bob, mine.id, "👍", True)
    remembered = app.extensions.get("forum_message_html")
    before = len(remembered.items) if remembered else 0

    auth.login(alice)
    alice_page = text(client.get(f"/threads/{thread.id}"))
    remembered = app.extensions["forum_message_html"]
    after_first = len(remembered.items)
    assert after_first > before  # rendered and remembered
    again = text(client.get(f"/threads/{thread.id}"))
    assert len(remembered.items) == after_first  # the second view rendered nothing new
    assert without_csrf_tokens(message_item_text(again, mine)) == without_csrf_tokens(
        message_item_text(alice_page, mine)
    )

    from support import Auth

    other = app.test_client()  # another browser: its own session and CSRF token
    Auth(other).login(bob)
    bob_page = text(other.get(f"/threads/{thread.id}"))
    # One token per page, the viewer's own, in every form of every message.
    assert len(csrf_tokens(alice_page)) == 1 and len(csrf_tokens(bob_page)) == 1
    assert csrf_tokens(alice_page) != csrf_tokens(bob_page)
    assert "\x00" not in bob_page
    alice_item, bob_item = message_item_text(alice_page, mine), message_item_text(bob_page, mine)
    # Alice's own message: she may edit it; Bob may flag it and has reacted to it.
    assert 'data-slot="edit-link" data-own-only>' in alice_item
    assert 'data-slot="edit-link" data-own-only hidden>' in bob_item
    assert 'aria-pressed="true"' in bob_item and 'aria-pressed="true"' not in alice_item
    assert "<strong>inlägg</strong>" in bob_item


def test_thread_page_shows_an_edit_after_remembering_the_message(client, make, auth):
    alice = make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice, "första versionen")
    auth.login(alice)
    assert "första versionen" in text(client.get(f"/threads/{thread.id}"))
    assert client.post(f"/messages/{message.id}/edit", data={"body": "andra"}).status_code == 302
    item = message_item_text(text(client.get(f"/threads/{thread.id}")), message)
    assert "andra" in item and "första versionen" not in item


def test_thread_page_in_each_language_with_its_reaction_labels(client, make, auth):
    alice = make.user()
    thread = make.thread(author=alice)
    message = make.message(thread, alice)
    auth.login(alice)
    swedish_page = text(client.get(f"/threads/{thread.id}"))
    english_page = text(client.get(f"/threads/{thread.id}", headers={"Accept-Language": "en"}))
    swedish = message_item_text(swedish_page, message)
    english = message_item_text(english_page, message)
    assert 'aria-label="React with thumbs up, 0 people"' in english
    assert "React with" not in swedish and "thumbs up" not in swedish
    # the words the script writes for 1 and n people, on the page's blank message
    blank = english_page[english_page.index('<template id="message-template">') :]
    assert 'data-label-one="React with thumbs up, 1 person"' in blank
    assert 'data-label-one="Reagera med tumme upp, 1 person"' in swedish_page


def message_item_text(page: str, message) -> str:
    start = page.index(f'<li class="message" id="m{message.id}"')
    return page[start : page.index("</li>", start)]


def test_template_translations_follow_force_locale_within_a_request(app):
    """Templates look the catalogue up once per locale (forum.formatting.translations), yet a
    mail rendered in its recipient's language inside a Swedish request still switches."""
    from flask import render_template_string
    from flask_babel import force_locale

    with app.test_request_context(headers={"Accept-Language": "sv"}):
        assert render_template_string("{{ _('Forums') }}") == "Forum"
        with force_locale("en"):
            assert render_template_string("{{ _('Forums') }}") == "Forums"
        assert render_template_string("{{ _('Forums') }}") == "Forum"


def test_the_owner_changes_who_can_read_the_forum_and_narrowing_asks_first(client, make, auth, db):
    owner = make.user("official")
    forum = make.forum(owner=owner, visibility="members")
    auth.login(owner)
    page = text(client.get(f"/forums/{forum.slug}"))
    assert f"/forums/{forum.slug}/visibility" in page
    form = text(client.get(f"/forums/{forum.slug}/visibility"))
    assert 'checked id="visibility-1" name="visibility" type="radio" value="members"' in form
    # widening needs no confirmation
    response = client.post(f"/forums/{forum.slug}/visibility", data={"visibility": "public"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Forum, forum.id).visibility == "public"
    # narrowing shows what it does and changes nothing until confirmed
    response = client.post(f"/forums/{forum.slug}/visibility", data={"visibility": "invite"})
    assert response.status_code == 200 and 'name="confirmed" value="1"' in text(response)
    db.session.expire_all()
    assert db.session.get(Forum, forum.id).visibility == "public"
    response = client.post(
        f"/forums/{forum.slug}/visibility", data={"visibility": "invite", "confirmed": "1"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Forum, forum.id).visibility == "invite"
    from forum.models import AuditEntry

    reasons = db.session.scalars(
        select(AuditEntry.reason)
        .where(AuditEntry.action == "forum.visibility")
        .order_by(AuditEntry.id)
    ).all()
    assert reasons == ["members → public", "public → invite"]


def test_a_bad_visibility_is_the_fields_error(client, make, auth, db):
    owner = make.user("official")
    forum = make.forum(owner=owner, visibility="public")
    auth.login(owner)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "sv"
    for data in ({"visibility": "everyone"}, {}, {"visibility": "invite\x00", "confirmed": "1"}):
        response = client.post(f"/forums/{forum.slug}/visibility", data=data)
        assert response.status_code == 400, data
        page = text(response)
        assert 'id="visibility-error"' in page and "Välj vilka som kan läsa forumet." in page
    db.session.expire_all()
    assert db.session.get(Forum, forum.id).visibility == "public"


def test_only_the_owner_and_admins_change_who_can_read_a_forum(client, make, auth, db):
    owner = make.user("official")
    forum = make.forum(owner=owner, visibility="public", moderators=[make.user()])
    for person in (make.user(), make.user("official"), forum.moderators[0], make.user("moderator")):
        auth.login(person)
        assert client.get(f"/forums/{forum.slug}/visibility").status_code == 403
        response = client.post(
            f"/forums/{forum.slug}/visibility", data={"visibility": "invite", "confirmed": "1"}
        )
        assert response.status_code == 403
    auth.logout()
    response = client.get(f"/forums/{forum.slug}/visibility")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    db.session.expire_all()
    assert db.session.get(Forum, forum.id).visibility == "public"
    auth.login(make.user("admin"))
    assert client.get(f"/forums/{forum.slug}/visibility").status_code == 200


def test_a_thread_form_sent_again_answers_with_the_thread_it_started(client, make, auth, db):
    """The same form sent twice (a double tap, or again after the answer was lost on a patchy
    network) starts one thread: the second answer leads to the first's thread. Other words,
    or the same ones after REPEAT_WINDOW, start another."""
    from datetime import timedelta

    from forum.models.base import utcnow
    from forum.services import forums as forum_service

    member = make.user()
    forum = make.forum()
    auth.login(member)
    cid = str(make.commitment_ids(1)[0])
    data = {"title": "Ny tråd", "commitments": [cid], "body": "Första inlägget"}
    first = client.post(f"/forums/{forum.slug}", data=data)
    second = client.post(f"/forums/{forum.slug}", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    threads = lambda: db.session.scalar(select(func.count()).select_from(Thread))  # noqa: E731
    assert threads() == 1
    thread = db.session.scalar(select(Thread))
    assert thread.message_count == 1

    other = client.post(f"/forums/{forum.slug}", data={**data, "body": "Ett annat inlägg"})
    bare = client.post(f"/forums/{forum.slug}", data={**data, "body": ""})
    assert threads() == 3
    assert (
        len({first.headers["Location"], other.headers["Location"], bare.headers["Location"]}) == 3
    )
    # an empty first message is a repeat of the thread without one, not of the others
    assert (
        client.post(f"/forums/{forum.slug}", data={**data, "body": ""}).headers["Location"]
        == bare.headers["Location"]
    )

    # its author deleted the first message: sending the same words again posts them again
    first_message = db.session.scalar(select(Message).where(Message.thread_id == thread.id))
    forum_service.delete_message(member, first_message.id)
    renewed = client.post(f"/forums/{forum.slug}", data=data)
    assert renewed.headers["Location"] != first.headers["Location"] and threads() == 4

    long_ago = utcnow() - forum_service.REPEAT_WINDOW - timedelta(seconds=1)
    db.session.execute(update(Thread).values(created_at=long_ago))
    db.session.commit()
    later = client.post(f"/forums/{forum.slug}", data=data)
    assert later.headers["Location"] != renewed.headers["Location"] and threads() == 5


def test_a_forum_form_sent_again_opens_one_forum(make, db):
    """Opening a forum twice with the same words is one forum; another description, or
    another person, opens another."""
    from forum.services import forums as forum_service

    official, colleague = make.user("official"), make.user("official")
    ids = make.commitment_ids(1)
    first = forum_service.create_forum(official, "Trygghet", "Om parken", "public", ids)
    again = forum_service.create_forum(official, "Trygghet", "Om parken", "public", ids)
    assert again.id == first.id
    other = forum_service.create_forum(official, "Trygghet", "Om torget", "public", ids)
    theirs = forum_service.create_forum(colleague, "Trygghet", "Om parken", "public", ids)
    assert len({first.id, other.id, theirs.id}) == 3
    assert sorted(f.slug for f in (first, other, theirs)) == [
        "trygghet",
        "trygghet-2",
        "trygghet-3",
    ]
