"""A person's own requests arriving at the same moment: two unsubscribes, two tabs, a reset
link sent twice, a burst of "forgot password".

Each worker waits at a barrier (bounded by a timeout) so the requests really overlap. SQLite
has one writer at a time and no row locks, so these run on PostgreSQL only (set
FORUM_TEST_DATABASE_URL), as the other race tests do.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from support import steps_at_once, stored_count
from werkzeug.security import check_password_hash

from forum.errors import NotFound
from forum.extensions import db as _db
from forum.models import NotificationPreference, OutboxMail, PasswordReset, User
from forum.services import accounts, notifications

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("row_locks")]

ROUNDS = 3  # each race is run a few times: one overlap may miss the window by chance


def stored_modes(user: User) -> list[tuple[str, str]]:
    _db.session.expire_all()
    query = select(NotificationPreference.kind, NotificationPreference.mode).where(
        NotificationPreference.user_id == user.id
    )
    return [tuple(row) for row in _db.session.execute(query)]


def reset_token(app, user: User) -> str:
    with app.test_request_context():
        accounts.request_password_reset(user.email)
    body = _db.session.scalar(
        select(OutboxMail.body)
        .where(OutboxMail.to_address == user.email)
        .order_by(OutboxMail.id.desc())
    )
    return re.search(r"/reset/([A-Za-z0-9_-]+)", body)[1]


def test_unsubscribing_twice_at_once_stores_one_choice(app, make):
    """The mail client's one-click List-Unsubscribe and the person's own click: both read
    "no choice stored yet" and inserted one, and the second was a 500."""
    for kind in ("mention", "reply", "moderation"):
        user = make.user()
        with app.test_request_context():
            token = notifications.unsubscribe_token(user.id, kind)
        outcomes = steps_at_once(app, [lambda t=token: notifications.unsubscribe(t)] * 2)
        assert outcomes == ["ok", "ok"], outcomes
        assert stored_modes(user) == [(kind, notifications.IN_APP)]


def test_saving_preferences_in_two_tabs_at_once_keeps_one_of_them(app, make):
    """Both tabs are saved; the row is the one that committed last, whole."""
    for _round in range(ROUNDS):
        user = make.user()
        user_id = user.id  # each request loads the person in its own session
        asked = [notifications.DIGEST, notifications.IN_APP]
        outcomes = steps_at_once(
            app,
            [
                lambda mode=mode, uid=user_id: notifications.save_preferences(
                    _db.session.get(User, uid), {"mention": mode}
                )
                for mode in asked
            ],
        )
        assert outcomes == ["ok", "ok"], outcomes
        [(kind, mode)] = stored_modes(user)
        assert kind == "mention" and mode in asked


def test_a_choice_loaded_before_it_is_changed_reads_the_change(make):
    """The choice is written by one statement, not through the loaded row: in the same
    transaction (set_preference leaves the commit to its caller) the loaded row must not
    go on showing the old mode."""
    user = make.user()
    notifications.save_preferences(user, {"reply": notifications.DIGEST})
    loaded = _db.session.get(NotificationPreference, (user.id, "reply"))
    assert loaded.mode == notifications.DIGEST
    notifications.set_preference(user, "reply", notifications.IMMEDIATE)
    assert loaded.mode == notifications.IMMEDIATE
    assert notifications.preferences(user)["reply"] == notifications.IMMEDIATE
    _db.session.commit()
    assert stored_modes(user) == [("reply", notifications.IMMEDIATE)]


def test_one_reset_link_sent_twice_at_once_sets_one_password(app, make):
    """A leaked link racing its owner: both read "not used yet", and the second request set
    its password over the first's. Now the link is claimed by one, the other hears that the
    link is used, and the password is the one that won."""
    for _round in range(ROUNDS):
        user = make.user()
        token = reset_token(app, user)
        passwords = ["first new password 1", "second new password 2"]
        outcomes = steps_at_once(
            app, [lambda p=p, t=token: accounts.reset_password(t, p) for p in passwords]
        )
        assert outcomes.count("ok") == 1, outcomes
        assert [type(o) for o in outcomes if o != "ok"] == [NotFound], outcomes
        winner = passwords[outcomes.index("ok")]
        loser = passwords[1 - outcomes.index("ok")]
        _db.session.expire_all()
        stored = _db.session.get(User, user.id).password_hash
        assert check_password_hash(stored, winner)
        assert not check_password_hash(stored, loser)
        assert stored_count(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)) == 0


def test_many_forgot_password_requests_at_once_mail_at_most_the_limit(app, make):
    """Each of the parallel requests counted the links asked for before it as too few: eight
    at once made five links and five mails (a way to flood someone's mailbox)."""
    user = make.user()
    email = user.email
    outcomes = steps_at_once(app, [lambda: accounts.request_password_reset(email)] * 8)
    assert outcomes == ["ok"] * 8, outcomes
    assert stored_count(PasswordReset.user_id == user.id) == accounts.MAX_RESETS_PER_WINDOW
    assert stored_count(OutboxMail.to_address == email) == accounts.MAX_RESETS_PER_WINDOW
