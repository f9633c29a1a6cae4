"""What a second review of moderation found: moderation notices that lost their words when
the message changed, appeals decided by moderators who could not have made the decision,
warnings and mutes stored twice, a queue offering what it then refuses, mute and suspension
notices without their end, a queue that stopped at 50, and transparency months in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from support import steps_at_once, stored_count

from forum.config import parse_rate_limit
from forum.extensions import db as _db
from forum.formatting import in_language_of, local_datetime
from forum.models import (
    Appeal,
    AuditEntry,
    ModerationAction,
    Notification,
    OutboxMail,
)
from forum.queries import moderation as mq
from forum.services import moderation


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def count(model, *where) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model).where(*where))


def notice(kind: str) -> Notification:
    _db.session.expire_all()
    return _db.session.scalar(select(Notification).where(Notification.kind == kind))


def mail_of(note: Notification) -> OutboxMail | None:
    return _db.session.scalar(select(OutboxMail).where(OutboxMail.notification_id == note.id))


@pytest.fixture
def scene(make):
    """Two moderators of a forum, a site moderator, an admin, and a member's message."""
    fmod = make.user(name="Fia Forummoderator")
    colleague = make.user(name="Kalle Kollega")
    forum = make.forum(moderators=[fmod, colleague])
    author = make.user(name="Arne Author")
    thread = make.thread(forum=forum, author=author)
    message = make.message(thread, author, "Ett inlägg att granska")
    return {
        "fmod": fmod,
        "colleague": colleague,
        "forum": forum,
        "author": author,
        "thread": thread,
        "message": message,
        "site_mod": make.user("moderator", name="Sara Sitemod"),
        "admin": make.user("admin", name="Anna Admin"),
    }


# --- 1. moderation notices keep their words ------------------------------------------------


def test_hiding_the_message_keeps_the_warning_already_sent_about_it(scene, client, auth):
    """Warn the author about the message, then hide it: the warning's notice and its mail
    not yet sent were blanked with the message, the warning's words lost."""
    words = "Du hängde ut en granne med namn. Gör inte om det."
    mid = scene["message"].id
    auth.login(scene["fmod"])
    assert client.post(f"/moderation/messages/{mid}/warn", data={"note": words}).status_code == 302
    hidden = client.post(
        f"/moderation/messages/{mid}/hide", data={"reason": "other", "note": "Uthängning"}
    )
    assert hidden.status_code == 302
    warned = notice("moderation_warned")
    assert warned.excerpt == words
    mail = mail_of(warned)
    assert mail is not None and words in mail.body and mail.sent_at is None


def test_restoring_keeps_the_reason_in_the_hidden_notice(scene, client, auth):
    """Restoring rewrote the "hid your message" notice to quote the message instead."""
    mid = scene["message"].id
    auth.login(scene["fmod"])
    client.post(f"/moderation/messages/{mid}/hide", data={"reason": "other", "note": "Uthängning"})
    client.post(f"/moderation/messages/{mid}/restore")
    hidden = notice("moderation_hidden")
    assert "Uthängning" in hidden.excerpt
    assert "Ett inlägg att granska" not in hidden.excerpt
    assert "Uthängning" in mail_of(hidden).body


def test_an_upheld_appeals_explanation_survives_the_message_shown_again(scene, app):
    mid = scene["message"].id
    with app.test_request_context():
        action = moderation.hide_message(scene["fmod"], mid, "other", "Uthängning")
        moderation.appeal(scene["author"], action.id, "Det var ingen uthängning")
        item = _db.session.scalar(select(Appeal))
        moderation.decide_appeal(scene["colleague"], item.id, "upheld", "Namnet syns tydligt")
        moderation.restore_message(scene["colleague"], mid)
    assert notice("appeal_upheld").excerpt == "Namnet syns tydligt"


def test_a_reply_notice_still_follows_the_message(scene, make, app):
    """The other notices of a message still quote what it shows now: blank once hidden."""
    replier = make.user()
    reply = make.message(scene["thread"], replier, "Hemligt svar", reply_to=scene["message"].id)
    assert notice("reply").excerpt == "Hemligt svar"
    with app.test_request_context():
        moderation.hide_message(scene["fmod"], reply.id, "other", "Nej")
    assert notice("reply").excerpt == ""
    assert notice("moderation_hidden").excerpt == "Nej"


# --- 2. who decides an appeal: whoever could have made the decision -----------------------------

# (who decides, whom the decision is about, what it is, who made it) -> may decide
RANKS = [
    ("colleague", "fmod", "mute", "site_mod", False),  # a fellow forum moderator
    ("colleague", "fmod", "warn", "site_mod", False),
    ("colleague", "admin", "mute", "admin2", False),  # an admin, by a forum moderator
    ("site_mod", "admin", "mute", "admin2", False),  # an admin, by a site moderator
    ("site_mod2", "fmod", "mute", "site_mod", True),
    ("admin", "fmod", "mute", "site_mod", True),
    ("admin2", "admin", "warn", "admin3", True),
    ("colleague", "author", "mute", "fmod", True),  # a member: as before
    ("colleague", "fmod", "hide", "site_mod", True),  # a message: its forum's moderators
    ("site_mod", "site_mod2", "suspend", "admin", True),
    ("site_mod", "admin", "suspend", "admin2", False),
]


@pytest.mark.parametrize(("decider", "subject", "kind", "actor", "allowed"), RANKS)
def test_an_appeal_is_decided_by_whoever_could_have_made_the_decision(
    scene, make, app, client, auth, decider, subject, kind, actor, allowed
):
    """A forum moderator reversed on appeal a site moderator's mute of a fellow forum
    moderator, which they could neither impose nor lift; the queue offered it too."""
    people = dict(scene)
    people["site_mod2"] = make.user("moderator", name="Sam Sitemod")
    people["admin2"] = make.user("admin", name="Bo Admin")
    people["admin3"] = make.user("admin", name="Cia Admin")
    person, forum = people[subject], scene["forum"]
    with app.test_request_context():
        if kind == "mute":
            action = moderation.mute_person(people[actor], person.id, forum.id, 60, "Tonen")
        elif kind == "warn":
            action = moderation.warn_person(people[actor], person.id, "Tonen", forum.id)
        elif kind == "suspend":
            action = moderation.suspend_person(people[actor], person.id, 60, "Tonen")
        else:
            message = make.message(scene["thread"], person, "Ett eget inlägg")
            action = moderation.hide_message(people[actor], message.id, "other", "Tonen")
        action_id = action.id
        appeal_id = moderation.appeal(person, action_id, "Orättvist").id
        offered = appeal_id in [a.id for a in mq.pending_appeals(people[decider])]
        counted = mq.waiting_count(people[decider])
    assert offered is allowed
    assert counted == int(allowed)
    auth.login(people[decider])
    response = client.post(
        f"/moderation/appeals/{appeal_id}/decide", data={"outcome": "reversed", "note": "ok"}
    )
    assert response.status_code == (302 if allowed else 403)
    assert (count(ModerationAction, ModerationAction.reversed_at.is_not(None)) == 1) is allowed


def test_a_forum_moderator_cannot_reverse_a_site_moderators_mute_of_a_fellow_moderator(
    scene, app, client, auth
):
    """The colleague may not lift the mute, and so may not reverse it on appeal either."""
    with app.test_request_context():
        action = moderation.mute_person(
            scene["site_mod"], scene["fmod"].id, scene["forum"].id, 7 * 24 * 60, "Tonen"
        )
        appeal = moderation.appeal(scene["fmod"], action.id, "Orättvist")
        appeal_id, action_id = appeal.id, action.id
    auth.login(scene["colleague"])
    assert client.post(f"/moderation/actions/{action_id}/lift").status_code == 403
    response = client.post(
        f"/moderation/appeals/{appeal_id}/decide", data={"outcome": "reversed", "note": "ok"}
    )
    assert response.status_code == 403
    _db.session.expire_all()
    assert _db.session.get(ModerationAction, action_id).reversed_at is None
    assert f"/moderation/appeals/{appeal_id}/decide" not in client.get("/moderation").get_data(
        as_text=True
    )


def test_an_appeal_is_told_only_to_those_who_may_decide_it(scene, app):
    """The colleague's queue does not show the appeal of a fellow moderator's mute: neither
    does a notice arrive for it (nor a live count that moves)."""
    with app.test_request_context():
        action = moderation.mute_person(
            scene["site_mod"], scene["fmod"].id, scene["forum"].id, 60, "Tonen"
        )
        moderation.appeal(scene["fmod"], action.id, "Orättvist")
    told = set(
        _db.session.scalars(
            select(Notification.user_id).where(Notification.kind == "moderation_appeal")
        )
    )
    assert scene["colleague"].id not in told  # may not decide it
    assert scene["site_mod"].id not in told  # made the decision
    assert scene["admin"].id in told


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_the_queue_with_appeals_a_moderator_may_not_decide_costs_the_same_queries(
    make, app, client, auth, count_queries
):
    """The rank rules are in the appeals query itself: the page's queries stay flat."""
    site_mod, fmod = make.user("moderator"), make.user()
    counts = []
    for n in (1, 4):
        for _ in range(n):
            colleague = make.user()
            forum = make.forum(moderators=[fmod, colleague])
            with app.test_request_context():
                mute = moderation.mute_person(site_mod, colleague.id, forum.id, 60, "x")
                moderation.appeal(colleague, mute.id, "Orättvist")
                member = make.user()
                warning = moderation.warn_person(colleague, member.id, "x", forum.id)
                moderation.appeal(member, warning.id, "Orättvist")
        auth.login(fmod)
        client.get("/moderation")
        _db.session.expire_all()
        with count_queries() as counter:
            page = client.get("/moderation").get_data(as_text=True)
        counts.append(counter.count)
        assert page.count("/decide") == len(mq.pending_appeals(fmod))
    assert counts[0] == counts[1], counts


# --- 3. a warning or mute sent twice is stored once ----------------------------------------------


def test_a_double_submitted_warning_warns_once(scene, client, auth):
    url = f"/moderation/messages/{scene['message'].id}/warn"
    auth.login(scene["fmod"])
    assert client.post(url, data={"note": "Håll god ton, tack."}).status_code == 302
    assert client.post(url, data={"note": "Håll god ton, tack."}).status_code == 302
    assert count(ModerationAction, ModerationAction.kind == "warn") == 1
    assert count(Notification, Notification.kind == "moderation_warned") == 1
    assert count(OutboxMail) == 1
    assert count(AuditEntry, AuditEntry.action == "user.warned") == 1
    # another warning is another warning
    assert client.post(url, data={"note": "Och nu igen."}).status_code == 302
    assert count(ModerationAction, ModerationAction.kind == "warn") == 2


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
def test_a_mute_sent_twice_at_once_mutes_once(app, make):
    mod = make.user(name="Mona Mod")
    forum = make.forum(moderators=[mod])
    person = make.user(name="Pelle Person")
    outcomes = steps_at_once(
        app,
        [lambda actor: moderation.mute_person(actor, person.id, forum.id, 60, "Spam")] * 2,
        people=[mod.id, mod.id],
        pause_after="SELECT .*moderation_actions",
    )
    assert stored_count(ModerationAction.kind == "mute") == 1, outcomes
    assert stored_count(Notification.kind == "moderation_muted") == 1


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
def test_a_warning_sent_twice_at_once_warns_once(app, make):
    mod = make.user(name="Mona Mod")
    forum = make.forum(moderators=[mod])
    person = make.user(name="Pelle Person")
    outcomes = steps_at_once(
        app,
        [lambda actor: moderation.warn_person(actor, person.id, "Håll tonen", forum.id)] * 2,
        people=[mod.id, mod.id],
        pause_after="SELECT .*moderation_actions",
    )
    assert outcomes == ["ok", "ok"]
    assert stored_count(ModerationAction.kind == "warn") == 1
    assert stored_count(Notification.kind == "moderation_warned") == 1


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
def test_a_suspension_confirmed_twice_at_once_suspends_once(app, make):
    mod = make.user("moderator")
    person = make.user(name="Pelle Person")
    outcomes = steps_at_once(
        app,
        [lambda actor: moderation.suspend_person(actor, person.id, 60, "Spam")] * 2,
        people=[mod.id, mod.id],
        pause_after="SELECT .*users",
    )
    assert stored_count(ModerationAction.kind == "suspend") == 1, outcomes
    assert stored_count(Notification.kind == "moderation_suspended") == 1


# --- 4. the queue offers only what the moderator may do ------------------------------------------


@pytest.mark.parametrize(
    ("reader", "author", "offered"),
    [
        ("fmod", "admin", False),
        ("fmod", "site_mod", False),
        ("fmod", "colleague", False),
        ("fmod", "author", True),
        ("site_mod", "colleague", True),
        ("site_mod", "admin", False),
        ("admin", "site_mod", True),
    ],
)
def test_the_queue_offers_warnings_only_where_the_moderator_may_send_them(
    scene, app, client, auth, reader, author, offered
):
    """A forum moderator was offered "Warn or mute the author" on an admin's message, typed
    a warning and got a bare 403 page, the text gone."""
    message = scene["message"]
    if author != "author":
        from support import Factory

        message = Factory(app).message(scene["thread"], scene[author], "Ett inlägg")
    with app.test_request_context():
        moderation.flag_message(
            scene["author"] if author != "author" else scene["admin"], message.id, "offensive"
        )
    auth.login(scene[reader])
    warn = f'action="/moderation/messages/{message.id}/warn"'
    mute = f'action="/moderation/messages/{message.id}/mute"'
    for url in ("/moderation", f"/moderation/messages/{message.id}"):
        page = client.get(url).get_data(as_text=True)
        assert (warn in page, mute in page) == (offered, offered), url


def test_the_people_page_offers_no_lift_a_forum_moderator_may_not_make(scene, app, client, auth):
    with app.test_request_context():
        theirs = moderation.mute_person(
            scene["site_mod"], scene["colleague"].id, scene["forum"].id, 60, "Tonen"
        )
        member = moderation.mute_person(
            scene["site_mod"], scene["author"].id, scene["forum"].id, 60, "Tonen"
        )
    auth.login(scene["fmod"])
    page = client.get("/moderation/people").get_data(as_text=True)
    assert f"/moderation/actions/{theirs.id}/lift" not in page
    assert f"/moderation/actions/{member.id}/lift" in page
    auth.login(scene["site_mod"])
    page = client.get("/moderation/people").get_data(as_text=True)
    assert f"/moderation/actions/{theirs.id}/lift" in page


# --- 5. mute and suspension notices say when they end ------------------------------------------


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_mute_notice_says_where_and_until_when_in_the_persons_language(scene, app, language):
    person = scene["author"]
    person.locale = language
    _db.session.commit()
    with app.test_request_context():
        action = moderation.mute_person(
            scene["fmod"], person.id, scene["forum"].id, 24 * 60, "Spam"
        )
        with in_language_of(person):
            until = local_datetime(action.until)
    muted = notice("moderation_muted")
    assert until in muted.excerpt and scene["forum"].title in muted.excerpt
    assert "Spam" in muted.excerpt
    assert until in mail_of(muted).body


def test_a_suspension_notice_says_until_when(scene, app):
    person = scene["author"]
    with app.test_request_context():
        action = moderation.suspend_person(scene["site_mod"], person.id, 60, "Hot")
        with in_language_of(person):
            until = local_datetime(action.until)
    suspended = notice("moderation_suspended")
    assert until in suspended.excerpt and "Hot" in suspended.excerpt


@pytest.mark.parametrize("kind", ["mute", "suspend"])
def test_a_lift_notice_names_what_was_lifted(scene, app, kind):
    person = scene["author"]
    with app.test_request_context():
        if kind == "mute":
            action = moderation.mute_person(scene["fmod"], person.id, scene["forum"].id, 60, "x")
        else:
            action = moderation.suspend_person(scene["site_mod"], person.id, 60, "x")
        moderation.lift_restriction(scene["site_mod"], action.id)
        with in_language_of(person):
            until = local_datetime(action.until)
    lifted = notice("moderation_lifted").excerpt
    assert until in lifted
    if kind == "mute":
        assert scene["forum"].title in lifted


# --- 6. the queue reaches every flagged message and appeal -------------------------------------


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_the_queue_reaches_every_flagged_message_the_header_counts(make, app, client, auth):
    forum, author, flagger = make.forum(), make.user(), make.user()
    thread = make.thread(forum=forum, author=author)
    messages = [
        make.message(thread, author, f"Inlägg nummer {i}") for i in range(mq.QUEUE_LIMIT + 3)
    ]
    with app.test_request_context():
        for m in messages:
            moderation.flag_message(flagger, m.id, "spam")
        moderation.flag_message(make.user(), messages[-1].id, "spam")  # two flags: first
    site_mod = make.user("moderator")
    with app.test_request_context():
        assert mq.waiting_count(site_mod) == len(messages)
    auth.login(site_mod)
    seen: list[str] = []
    url = "/moderation"
    for _page in range(3):
        page = client.get(url).get_data(as_text=True)
        seen += [
            part.split('"')[0]
            for part in page.split('<article class="review-item" id="review-')[1:]
        ]
        if 'rel="next"' not in page:
            break
        url = page.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert seen[0] == str(messages[-1].id)
    assert sorted(map(int, seen)) == sorted(m.id for m in messages)


def test_the_appeals_are_paged_too(scene, make, app):
    with app.test_request_context():
        for _ in range(3):
            member = make.user()
            warning = moderation.warn_person(scene["fmod"], member.id, "x", scene["forum"].id)
            moderation.appeal(member, warning.id, "Orättvist")
        first, after = mq.pending_appeals_page(scene["colleague"], limit=2)
        rest, end = mq.pending_appeals_page(scene["colleague"], after, limit=2)
    assert len(first) == 2 and len(rest) == 1 and end is None
    assert [a.id for a in first + rest] == sorted(a.id for a in first + rest)


def test_a_queue_cursor_that_does_not_parse_starts_from_the_beginning(scene, client, auth):
    auth.login(scene["fmod"])
    for cursor in ("x", "1.2.3", "9" * 40 + ".1.1.1", "-1.0.0.0"):
        assert client.get("/moderation", query_string={"after": cursor}).status_code == 200
    assert client.get("/moderation?appeals_after=" + "9" * 40).status_code == 200


# --- 7. transparency counts Stockholm months ---------------------------------------------------


def test_transparency_months_are_stockholm_months(app):
    """Hidden at 00:30 on 1 March in Stockholm (23:30 UTC the day before) is March's; at
    23:59 on 31 July in Stockholm (21:59 UTC, summer time) is still July's."""
    for at in (
        datetime(2027, 2, 28, 23, 30, tzinfo=UTC),
        datetime(2027, 7, 31, 21, 59, tzinfo=UTC),
        datetime(2027, 7, 31, 22, 0, tzinfo=UTC),
    ):
        _db.session.add(
            AuditEntry(
                action="message.hidden",
                target_type="message",
                target_id=1,
                reason="",
                created_at=at,
            )
        )
    _db.session.commit()
    with app.test_request_context():
        months = dict(mq.transparency()["months"])
    assert months == {
        "2027-03": {"message.hidden": 1},
        "2027-07": {"message.hidden": 1},
        "2027-08": {"message.hidden": 1},
    }
