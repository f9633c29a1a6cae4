"""A suspended person appeals their suspension through a signed link, without logging in.

Before, login refused a suspended account, the decision's page and its appeal form needed a
login, and the suspension mail linked to that page: the README's "the person concerned can
appeal each decision once" did not hold for a suspension. Now the mail (and the login page,
after the right password) carries a signed, expiring link for that one decision.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select
from support import Auth

from forum import policy
from forum.models import Appeal, AuditEntry, ModerationAction, OutboxMail
from forum.models.base import utcnow
from forum.services import appeal_links
from forum.services import moderation as mod

PASSWORD = "correct horse battery"
LINK = re.compile(r"http://localhost(/moderation/appeal/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def suspended(app, make):
    moderator = make.user("moderator")
    person = make.user()
    with app.test_request_context():
        action = mod.suspend_person(moderator, person.id, 60 * 24 * 7, "Hot mot andra.")
        action_id = action.id
    return moderator, person, action_id


def mailed_link(db, person) -> str:
    db.session.rollback()
    bodies = db.session.scalars(
        select(OutboxMail.body).where(OutboxMail.to_address == person.email)
    )
    links = [m.group(1) for body in bodies for m in [LINK.search(body)] if m]
    assert links, "the suspension mail carries the appeal link"
    return links[0]


def client(app, lang="en"):
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    return c


def appeals(db) -> list[Appeal]:
    db.session.rollback()
    return list(db.session.scalars(select(Appeal)))


def test_the_suspension_mail_carries_a_link_that_appeals_without_logging_in(app, db, suspended):
    _moderator, person, action_id = suspended
    link = mailed_link(db, person)
    c = client(app)
    page = c.get(link)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Hot mot andra." in text and 'name="body"' in text
    assert page.headers["Cache-Control"] == "private, no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    response = c.post(link, data={"body": "Jag vill överklaga."})
    assert response.status_code == 303
    stored = appeals(db)
    assert [(a.action_id, a.user_id, a.body) for a in stored] == [
        (action_id, person.id, "Jag vill överklaga.")
    ]
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "appeal.submitted"))
    after = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "Jag vill överklaga." in after and 'name="body"' not in after


def test_the_page_is_in_swedish_too(app, db, suspended):
    _moderator, person, _action_id = suspended
    page = client(app, "sv").get(mailed_link(db, person)).get_data(as_text=True)
    assert "Din avstängning" in page and "Skicka överklagandet" in page


def test_appealing_twice_is_refused(app, db, suspended):
    _moderator, person, _action_id = suspended
    link = mailed_link(db, person)
    c = client(app)
    assert c.post(link, data={"body": "Första."}).status_code == 303
    again = c.post(link, data={"body": "Andra."})
    assert again.status_code == 409
    assert "already appealed" in again.get_data(as_text=True)
    assert [a.body for a in appeals(db)] == ["Första."]


def test_an_empty_appeal_is_the_fields_error(app, db, suspended):
    _moderator, person, _action_id = suspended
    response = client(app).post(mailed_link(db, person), data={"body": "  "})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert appeals(db) == []


def forged(link: str) -> str:
    token = link.rsplit("/", 1)[1]
    return link[: -len(token)] + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_token_is_refused_with_a_clear_page(app, db, suspended, method):
    _moderator, person, _action_id = suspended
    for bad in [
        forged(mailed_link(db, person)),
        "/moderation/appeal/nonsense",
        "/moderation/appeal/a.b.c",
    ]:
        response = getattr(client(app), method)(bad, data={"body": "x"})
        assert response.status_code == 404, bad
        assert "does not work" in response.get_data(as_text=True)
    assert appeals(db) == []


def test_an_expired_token_is_refused_and_says_how_to_get_a_new_one(app, db, suspended, monkeypatch):
    _moderator, person, action_id = suspended
    with app.test_request_context():
        action = db.session.get(ModerationAction, action_id)
        now = time.time()
        monkeypatch.setattr(
            time, "time", lambda: now - appeal_links.LINK_MAX_AGE.total_seconds() - 60
        )
        old = appeal_links.link_path(action)
        monkeypatch.undo()
    for method in ("get", "post"):
        response = getattr(client(app), method)(old, data={"body": "x"})
        assert response.status_code == 410
        text = response.get_data(as_text=True)
        assert "expired" in text and "/login" in text
    assert appeals(db) == []


def test_a_link_for_another_decision_is_refused(app, make, db, suspended):
    """A token signed for something else (another salt: the unsubscribe link) or naming a
    decision that is not a suspension of the person it names does not work."""
    moderator, person, action_id = suspended
    from itsdangerous import URLSafeTimedSerializer

    from forum.services import notifications

    thread = make.thread(author=person)
    message = make.message(thread, person, "ett inlägg")
    with app.test_request_context():
        hidden = mod.hide_message(moderator, message.id, "other", "skäl")
        serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=appeal_links.SALT)
        tokens = [
            notifications.unsubscribe_token(person.id, "moderation_suspended"),
            serializer.dumps([hidden.id, person.id]),  # not a suspension
            serializer.dumps([action_id, moderator.id]),  # not that person's
            serializer.dumps([999999, person.id]),  # no such decision
            serializer.dumps("just text"),
        ]
    for token in tokens:
        for method in ("get", "post"):
            response = getattr(client(app), method)(
                f"/moderation/appeal/{token}", data={"body": "x"}
            )
            assert response.status_code == 404, token
    assert appeals(db) == []


@pytest.mark.parametrize("how", ["lifted", "ran out"])
def test_after_the_suspension_ends_the_link_no_longer_offers_an_appeal(
    app, make, db, suspended, how
):
    moderator, person, action_id = suspended
    link = mailed_link(db, person)
    if how == "lifted":
        with app.test_request_context():
            mod.lift_restriction(make.user("moderator"), action_id)
    else:
        action = db.session.get(ModerationAction, action_id)
        action.until = utcnow()
        action.subject.suspended_until = utcnow()
        db.session.commit()
    page = client(app).get(link)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'name="body"' not in text and "/login" in text
    response = client(app).post(link, data={"body": "för sent"})
    assert response.status_code == 409
    assert appeals(db) == []


def test_the_login_refusal_tells_a_suspended_person_how_to_appeal(app, db, suspended):
    _moderator, person, action_id = suspended
    c = client(app)
    response = c.post("/login", data={"email": person.email, "password": PASSWORD})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "suspended until" in text
    link = LINK.search(text.replace('href="', 'href="http://localhost'))
    assert link, text
    assert response.headers["Cache-Control"] == "private, no-store"
    assert c.post(link.group(1), data={"body": "Från inloggningssidan."}).status_code == 303
    assert [a.action_id for a in appeals(db)] == [action_id]


def test_a_wrong_password_says_nothing_of_a_suspension(app, db, suspended):
    _moderator, person, _action_id = suspended
    response = client(app).post("/login", data={"email": person.email, "password": "fel lösenord!"})
    text = response.get_data(as_text=True)
    assert "suspended" not in text and "/moderation/appeal/" not in text


def test_the_form_needs_its_csrf_token(app, db, suspended):
    _moderator, person, _action_id = suspended
    link = mailed_link(db, person)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        c = client(app)
        assert c.post(link, data={"body": "utan token"}).status_code == 400
        page = c.get(link).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert c.post(link, data={"body": "med token", "csrf_token": token}).status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert [a.body for a in appeals(db)] == ["med token"]


@pytest.mark.config(FORUM_LOGIN_MAX_FAILURES=3)
def test_the_form_is_throttled_per_address_like_the_login(app, db, suspended):
    _moderator, person, _action_id = suspended
    link = mailed_link(db, person)
    c = client(app)
    for _ in range(3):
        assert c.post(forged(link), data={"body": "x"}).status_code == 404
    assert c.post(link, data={"body": "nu"}).status_code == 429
    assert appeals(db) == []


def test_a_logged_in_person_sees_the_ordinary_decision_page_still(app, db, suspended):
    """After the suspension is lifted, the person logs in and reads the decision as before."""
    moderator, person, action_id = suspended
    c = client(app)
    Auth(c).login(person)
    with app.test_request_context():
        mod.lift_restriction(moderator, action_id)
    assert c.get(f"/moderation/actions/{action_id}").status_code == 200


def test_the_policy(app, make, suspended):
    moderator, person, action_id = suspended
    now = utcnow()
    with app.test_request_context():
        action = db_get(app, action_id)
        assert policy.can_appeal_by_link(action, now)
        thread = make.thread(author=person)
        message = make.message(thread, person)
        hidden = mod.hide_message(moderator, message.id, "other", "skäl")
        assert not policy.can_appeal_by_link(hidden, now)
        action.reversed_at = now
        assert not policy.can_appeal_by_link(action, now)
        action.reversed_at = None
        assert not policy.can_appeal_by_link(action, action.until)


def db_get(app, action_id):
    from forum.extensions import db

    return db.session.get(ModerationAction, action_id)


def test_an_appeal_that_lapsed_when_the_suspension_was_lifted_says_so(app, make, db, suspended):
    """Appealed through the link, then lifted by another moderator: the appeal is closed as
    lapsed, and the link's page says that, as the decision's own page does."""
    _moderator, person, action_id = suspended
    link = mailed_link(db, person)
    c = client(app)
    assert c.post(link, data={"body": "Jag vill överklaga."}).status_code == 303
    with app.test_request_context():
        mod.lift_restriction(make.user("moderator"), action_id)
    text = c.get(link).get_data(as_text=True)
    assert "The appeal is closed: the decision had already been lifted." in text
    assert "The decision stands." not in text
