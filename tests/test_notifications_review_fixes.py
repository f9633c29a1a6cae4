"""What a review of the notifications found: the daily digest (and mail waiting in the
outbox) told a moderator removed since, or of a forum the thread moved out of, what an
appeal says and who flagged what; and "Mark all as read" also marked a notice that arrived
while the page was open, unseen."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from forum.models import Appeal, Notification, OutboxMail
from forum.models.base import utcnow
from forum.services import forums as forum_service
from forum.services import moderation
from forum.services import notifications as notification_service


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def mail_bodies(db, user) -> list[str]:
    return list(
        db.session.scalars(
            select(OutboxMail.body)
            .where(OutboxMail.to_address == user.email)
            .order_by(OutboxMail.id)
        )
    )


def digests(app) -> None:
    with app.test_request_context():
        notification_service.send_digests(utcnow() + timedelta(days=1))


@pytest.mark.parametrize("how", ["nothing_changed", "thread_moved", "moderator_removed"])
def test_an_appeal_is_mailed_only_to_a_moderator_who_may_still_decide_it(app, make, db, how):
    owner = make.user("official")
    anna = make.user(name="Anna Amod")  # moderates A only
    mover = make.user(name="Mona Mover")  # moderates both, made the decision
    forum_a = make.forum(owner=owner, moderators=[anna, mover])
    forum_b = make.forum(visibility="invite", moderators=[mover, make.user()])
    author = make.user(name="Arne Author")
    thread = make.thread(forum=forum_a, author=author)
    message = make.message(thread, author, "Text")
    with app.test_request_context():
        notification_service.set_preference(anna, "moderation_appeal", "digest")
        db.session.commit()
        action = moderation.hide_message(mover, message.id, "other", "Spam")
        moderation.appeal(author, action.id, "Privat överklagan: min diagnos är X")
    item = db.session.scalar(select(Appeal))
    note = db.session.scalar(
        select(Notification).where(
            Notification.kind == "moderation_appeal", Notification.user_id == anna.id
        )
    )
    assert note is not None and note.url.endswith(f"#appeal-{item.id}")
    with app.test_request_context():
        if how == "thread_moved":
            moderation.move_thread(mover, thread.id, forum_b.id)
        elif how == "moderator_removed":
            forum_service.change_forum_people(owner, forum_a, anna.email, "moderator", False)
            db.session.commit()

    digests(app)
    mailed = any("min diagnos" in body for body in mail_bodies(db, anna))
    assert mailed is (how == "nothing_changed")


def test_the_appeals_link_lands_on_the_appeal_in_the_queue(app, make, db, client, auth):
    anna, mover = make.user(name="Anna Amod"), make.user(name="Mona Mover")
    forum = make.forum(moderators=[anna, mover])
    author = make.user()
    message = make.message(make.thread(forum=forum, author=author), author, "Text")
    with app.test_request_context():
        action = moderation.hide_message(mover, message.id, "other", "Spam")
        moderation.appeal(author, action.id, "Jag överklagar")
    item = db.session.scalar(select(Appeal))
    auth.login(anna)
    page = client.get("/moderation").get_data(as_text=True)
    assert f'id="appeal-{item.id}"' in page


@pytest.mark.parametrize("removed", [False, True])
def test_a_flag_is_mailed_only_to_a_moderator_who_still_moderates_the_forum(app, make, db, removed):
    owner = make.user("official")
    anna = make.user(name="Anna Amod")
    forum = make.forum(owner=owner, moderators=[anna])
    author, flagger = make.user(), make.user()
    message = make.message(make.thread(forum=forum, author=author), author, "Flaggat inlägg")
    with app.test_request_context():
        notification_service.set_preference(anna, "moderation_flag", "digest")
        db.session.commit()
        moderation.flag_message(flagger, message.id, "spam", "")
        if removed:
            forum_service.change_forum_people(owner, forum, anna.email, "moderator", False)
            db.session.commit()
    digests(app)
    mailed = any("Flaggat inlägg" in body for body in mail_bodies(db, anna))
    assert mailed is not removed


def test_mark_all_as_read_leaves_a_notice_that_arrived_while_the_page_was_open(
    app, make, db, client, auth
):
    person, other = make.user(), make.user(name="Olle Other")
    thread = make.thread(author=other)
    make.message(thread, other, f"Hej @{person.handle}")
    auth.login(person)
    page = client.get("/notifications").get_data(as_text=True)
    shown = {int(i) for i in re.findall(r'href="/notifications/(\d+)/open"', page)}
    assert shown
    make.message(thread, other, f"Viktigt, @{person.handle}: svara före fredag")  # live
    form = re.search(r'<form method="post" action="/notifications/read">(.*?)</form>', page, re.S)
    data = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(1)))
    assert client.post("/notifications/read", data=data).status_code == 302
    unread = set(
        db.session.scalars(
            select(Notification.id).where(
                Notification.user_id == person.id, Notification.read_at.is_(None)
            )
        )
    )
    assert unread and not unread & shown  # what the page showed is read, the newer one not
    # a form from before this change (no upto) still marks all; a made-up one is refused
    assert client.post("/notifications/read", data={"upto": "x1"}).status_code == 400
    assert client.post("/notifications/read", data={}).status_code == 302
    assert notification_service.unread_count(person.id) == 0


def test_the_appeals_link_lands_on_the_appeal_when_the_queue_has_more_than_a_page(
    app, make, db, client, auth
):
    """An appeal made when a page of older appeals waits: its notice's link opens the page of
    the queue that shows it, not the first page (where the anchor found nothing)."""
    from forum.queries.moderation import QUEUE_LIMIT

    anna, mover = make.user(name="Anna Amod"), make.user(name="Mona Mover")
    forum = make.forum(moderators=[anna, mover])
    thread = make.thread(forum=forum)
    with app.test_request_context():
        for n in range(QUEUE_LIMIT + 1):
            author = make.user()
            message = make.message(thread, author, f"Text {n}")
            action = moderation.hide_message(mover, message.id, "other", "Spam")
            moderation.appeal(author, action.id, f"Överklagan {n}")
    last = db.session.scalar(select(Appeal).order_by(Appeal.id.desc()))
    note = db.session.scalar(
        select(Notification)
        .where(Notification.kind == "moderation_appeal", Notification.user_id == anna.id)
        .order_by(Notification.id.desc())
    )
    assert note is not None
    auth.login(anna)
    first = client.get("/moderation").get_data(as_text=True)
    assert f'id="appeal-{last.id}"' not in first  # the queue's first page is full
    path, anchor = note.url.split("#")
    assert anchor == f"appeal-{last.id}"
    page = client.get(path).get_data(as_text=True)
    assert f'id="appeal-{last.id}"' in page
    assert "Back to the start of the queue" in page
