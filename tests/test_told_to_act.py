"""Everyone who must act is told once: moderators on flags and appeals, owners on proposals."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from forum.models import Notification
from forum.services import follow_up
from forum.services import moderation as moderation_service


def kinds(db, user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


def test_first_flag_tells_the_forums_moderators_once_with_a_live_count(app, make, db, socket_for):
    forum_moderator = make.user()
    site_moderator = make.user("moderator")
    other_forum_moderator = make.user()
    forum = make.forum(moderators=[forum_moderator])
    make.forum(moderators=[other_forum_moderator])
    author = make.user()
    thread = make.thread(forum=forum, author=author)
    message = make.message(thread, author, "Ett inlägg")
    flaggers = [make.user() for _ in range(2)]
    db.session.commit()
    live = socket_for(forum_moderator)
    live.get_received()
    with app.test_request_context():
        moderation_service.flag_message(flaggers[0], message.id, "offensive", "")
        moderation_service.flag_message(flaggers[1], message.id, "spam", "")
    assert kinds(db, forum_moderator) == ["moderation_flag"]
    assert kinds(db, site_moderator) == ["moderation_flag"]
    assert kinds(db, other_forum_moderator) == []
    assert kinds(db, flaggers[0]) == [] and kinds(db, author) == []
    counts = [e["args"][0]["count"] for e in live.get_received() if e["name"] == "moderation:count"]
    assert counts == [1]
    # and down again, live, when a moderator decides
    with app.test_request_context():
        moderation_service.dismiss_flags(site_moderator, message.id)
    counts = [e["args"][0]["count"] for e in live.get_received() if e["name"] == "moderation:count"]
    assert counts == [0]


def test_header_shows_the_waiting_count_to_moderators(app, make, db, client, auth):
    forum_moderator = make.user()
    forum = make.forum(moderators=[forum_moderator])
    author = make.user()
    thread = make.thread(forum=forum, author=author)
    message = make.message(thread, author, "Ett inlägg")
    auth.login(forum_moderator)
    quiet = client.get("/").get_data(as_text=True)
    # nothing waiting: the number and its screen-reader "waiting" are hidden together
    assert 'data-moderation-count hidden><span class="count" data-moderation-number>0<' in quiet
    with app.test_request_context():
        moderation_service.flag_message(make.user(), message.id, "offensive", "")
    page = client.get("/").get_data(as_text=True)
    assert 'data-moderation-count><span class="count" data-moderation-number>1<' in page


def test_proposal_tells_the_owners_side_it_waits_for_acceptance(app, make, db):
    official = make.user("official")
    member = make.user()
    forum = make.forum(owner=official)
    thread = make.thread(forum=forum, author=official)
    message = make.message(thread, member, "Förslag")
    data = follow_up.ActionInput(
        title="Kvällsöppet",
        description="",
        owner=f"department:{official.department_id}",
        due_date=(follow_up.today() + timedelta(days=30)).isoformat(),
        commitment_ids=[thread.commitments[0].id],
        message_id=message.id,
    )
    with app.test_request_context():
        follow_up.propose_action(member, data)
    assert kinds(db, official) == ["action_awaiting"]
    assert kinds(db, member) == []


def test_transparency_counts_agree_and_come_from_the_audit_log(app, make, db, client):
    from forum.queries import moderation as mq

    moderator = make.user("moderator")
    author = make.user()
    forum = make.forum()
    thread = make.thread(forum=forum, author=author)
    message = make.message(thread, author, "Hemligt")
    with app.test_request_context():
        action = moderation_service.hide_message(moderator, message.id, "other", "Spam")
        appeal = moderation_service.appeal(author, action.id, "Det var inte spam")
        # Another moderator decides the appeal: nobody decides an appeal of their own decision.
        second = make.user("moderator")
        moderation_service.decide_appeal(second, appeal.id, "reversed", "Fel av oss")
    stats = mq.transparency()
    assert stats["appeals"] == {"reversed": 1, "upheld": 0, "lapsed": 0, "pending": 0}
    assert stats["totals"]["message.restored"] >= stats["appeals"]["reversed"]
    assert stats["totals"]["message.hidden"] == 1
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get("/moderation/transparency").get_data(as_text=True)
    row = page[page.index("<tbody>") : page.index("</tbody>")]
    assert [int(n) for n in re.findall(r"<td>(\d+)</td>", row)][:3] == [1, 0, 1]


def test_author_sees_own_hidden_text_on_the_appeal_page(app, make, db, client, auth):
    moderator = make.user("moderator")
    author = make.user()
    forum = make.forum()
    thread = make.thread(forum=forum, author=author)
    message = make.message(thread, author, "Mitt **hemliga** inlägg")
    with app.test_request_context():
        action = moderation_service.hide_message(moderator, message.id, "other", "Spam")
    auth.login(author)
    page = client.get(f"/moderation/actions/{action.id}").get_data(as_text=True)
    assert 'id="own-hidden-text"' in page and "<strong>hemliga</strong>" in page
    assert "Spam" in page
    auth.login(make.user())
    other = client.get(f"/moderation/actions/{action.id}")
    assert "hemliga" not in other.get_data(as_text=True)
