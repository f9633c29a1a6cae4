"""What a review of moderation found: a reversed appeal that ended a later suspension, and
a queue count and notices about things the moderator may not decide (appeals against their
own decision, flags on their own message, with the flaggers' names)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from forum.extensions import db as _db
from forum.models import Appeal, ModerationAction, Notification, User
from forum.models.base import utcnow
from forum.queries import moderation as mq
from forum.services import moderation


def test_reversing_an_appeal_against_a_suspension_that_ran_out_leaves_a_later_one(app, make):
    """A person appeals a suspension while it lasts; it runs out, and they are suspended
    again for a month. Reversing the first on appeal cleared the person's suspension, so the
    second ended at once (they could log in and post) while its own row said in force."""
    mod_a, mod_b, person = make.user("moderator"), make.user("moderator"), make.user()
    with app.test_request_context():
        first = moderation.suspend_person(mod_a, person.id, 60, "Reklam")
        moderation.appeal(person, first.id, "Det var inte reklam")
    ran_out = utcnow() - timedelta(minutes=1)
    _db.session.execute(
        update(ModerationAction).where(ModerationAction.id == first.id).values(until=ran_out)
    )
    _db.session.execute(update(User).where(User.id == person.id).values(suspended_until=ran_out))
    _db.session.commit()
    with app.test_request_context():
        second = moderation.suspend_person(mod_a, person.id, 30 * 24 * 60, "Hot")
        appeal = _db.session.scalar(select(Appeal).where(Appeal.action_id == first.id))
        moderation.decide_appeal(mod_b, appeal.id, "reversed", "Den första var fel")
    _db.session.expire_all()
    stored = _db.session.get(User, person.id)
    assert stored.suspended_until == _db.session.get(ModerationAction, second.id).until
    assert stored.is_suspended(utcnow())
    # lifting the one in force ends it
    with app.test_request_context():
        moderation.lift_restriction(mod_b, second.id)
    _db.session.expire_all()
    assert not _db.session.get(User, person.id).is_suspended(utcnow())


def _hidden_and_appealed(app, make):
    fmod, other_mod, author = make.user(), make.user(), make.user()
    forum = make.forum(moderators=[fmod, other_mod])
    message = make.message(make.thread(forum=forum, author=author), author, "Köp min produkt")
    with app.test_request_context():
        action = moderation.hide_message(fmod, message.id, "other", "Reklam")
        moderation.appeal(author, action.id, "Det var inte reklam")
    return fmod, other_mod


def test_an_appeal_waits_for_the_other_moderators_not_the_one_who_decided(app, make):
    """The moderator whose decision is appealed may not decide the appeal, and their queue
    does not show it; their header counted it and they were told of it all the same."""
    decided, other = _hidden_and_appealed(app, make)
    with app.test_request_context():
        assert (len(mq.pending_appeals(decided)), mq.waiting_count(decided)) == (0, 0)
        assert (len(mq.pending_appeals(other)), mq.waiting_count(other)) == (1, 1)
    told = _db.session.scalars(
        select(Notification.user_id).where(Notification.kind == "moderation_appeal")
    ).all()
    assert told == [other.id]


def test_a_moderator_does_not_review_or_see_the_flags_on_their_own_message(app, make, client, auth):
    """Nobody moderates their own message: the author, a moderator of the forum, had the
    flag in their queue and count, with every flagger's name on it, and was told of it."""
    author, other = make.user(name="Fia Forummod"), make.user(name="Ola Annan")
    forum = make.forum(moderators=[author, other])
    message = make.message(make.thread(forum=forum, author=author), author, "Mitt inlägg")
    flagger = make.user(name="Vera Visselblåsare")
    with app.test_request_context():
        moderation.flag_message(flagger, message.id, "offensive", "")
        assert mq.waiting_count(author) == 0 and mq.waiting_count(other) == 1
    told = _db.session.scalars(
        select(Notification.user_id).where(Notification.kind == "moderation_flag")
    ).all()
    assert told == [other.id]
    auth.login(author)
    assert "Vera Visselblåsare" not in client.get("/moderation").get_data(as_text=True)
    own = client.get(f"/moderation/messages/{message.id}")
    assert own.status_code == 403 and "Vera Visselblåsare" not in own.get_data(as_text=True)
    auth.login(other)
    page = client.get(f"/moderation/messages/{message.id}").get_data(as_text=True)
    assert "Vera Visselblåsare" in page
