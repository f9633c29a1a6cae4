"""The start page: a logged-in person's own overview (unread conversations, open rounds
for their organisations, their actions, their notifications); the public page's open
rounds and latest feedback."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from consultation_support import make_round, respond
from sqlalchemy import select

from forum.models import Department
from forum.services import consultations as round_service
from forum.services import follow_up


class World:
    pass


@pytest.fixture
def world(app, make, db):
    w = World()
    w.official = make.user("official")
    w.member = make.user(name="Mira Medlem")
    w.outsider = make.user()
    w.org = make.organisation(admin=w.member, name="Föreningen Gemenskap")
    w.other_org = make.organisation(admin=w.outsider)
    w.forum = make.forum(owner=w.official)
    w.thread = make.thread(forum=w.forum, author=w.official, title="Kvällsöppet")
    mine = make.message(w.thread, w.member, "Vi vill ha kvällsöppet.")
    make.message(w.thread, w.official, "Tack!", reply_to=mine.id)
    make.message(w.thread, w.official, "En sak till.")
    w.quiet = make.thread(forum=w.forum, author=w.member, title="Inget nytt här")
    make.message(w.quiet, w.member, "Bara jag.")
    w.unvisited = make.thread(forum=w.forum, author=w.official, title="Aldrig öppnad")
    make.message(w.unvisited, w.official, "Hej alla.")
    w.dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    w.round3 = make_round(
        app, make, w.official, title="Tre dagar kvar", closes_at=_local(timedelta(days=3))
    )
    w.round1 = make_round(
        app, make, w.official, title="En dag kvar", closes_at=_local(timedelta(days=1))
    )
    w.invited_elsewhere = make_round(
        app,
        make,
        w.official,
        title="Bara för andra",
        audience="invited",
        invited_ids=[w.other_org.id],
    )
    w.draft = make_round(app, make, w.official, state="draft", title="Ett utkast")
    db.session.commit()
    return w


def _local(delta):
    from consultation_support import local

    return local(delta)


def _action(app, user, title, owner, w):
    with app.test_request_context():
        return follow_up.propose_action(
            user,
            follow_up.ActionInput(
                title=title,
                description="",
                owner=owner,
                due_date=(follow_up.today() + timedelta(days=30)).isoformat(),
                commitment_ids=w.thread.commitments and [w.thread.commitments[0].id] or [],
            ),
        )


def _page(client, lang="en"):
    response = client.get("/", headers={"Accept-Language": lang})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(body, section_id):
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', body, re.S)
    assert match, section_id
    return match.group(0)


def test_the_start_page_shows_what_is_new_for_the_person(app, client, auth, world, db):
    w = world
    org_action = _action(app, w.official, "Föreningens matkväll", f"organisation:{w.org.id}", w)
    followed = _action(app, w.official, "Stadens kalender", f"department:{w.dept.id}", w)
    _action(app, w.official, "Någon annans åtgärd", f"organisation:{w.other_org.id}", w)
    with app.test_request_context():
        follow_up.set_following(w.member, followed.id, True)
    auth.login(w.member)
    body = _page(client)

    unread = _section(body, "start-unread")
    assert f'href="/threads/{w.thread.id}#first-unread"' in unread
    assert "2 unread" in unread
    assert "Inget nytt här" not in unread  # read to the end
    assert "Aldrig öppnad" not in unread  # never visited: the forum lists it

    rounds = _section(body, "start-rounds")
    assert rounds.index("En dag kvar") < rounds.index("Tre dagar kvar")  # soonest first
    assert "1 day left" in rounds and "3 days left" in rounds
    assert "Bara för andra" not in rounds and "Ett utkast" not in rounds

    actions = _section(body, "start-actions")
    assert f"/actions/{org_action.id}" in actions and f"/actions/{followed.id}" in actions
    assert "Någon annans åtgärd" not in actions
    assert actions.count("You follow it") == 1

    notes = _section(body, "start-notifications")
    assert "replied to you" in notes and "New" in notes
    assert "/notifications/" in notes


def test_days_left_and_counts_are_swedish(client, auth, world):
    auth.login(world.member)
    body = _page(client, "sv")
    assert "1 dag kvar" in body and "3 dagar kvar" in body
    assert "2 olästa" in body


def test_a_closed_round_and_a_thread_no_longer_readable_drop_off(
    app, client, auth, make, world, db
):
    w = world
    secret = make.forum(owner=w.official, visibility="invite", members=[w.member])
    hidden = make.thread(forum=secret, author=w.official, title="Hemlig tråd")
    make.message(hidden, w.member, "Jag var här.")
    make.message(hidden, w.official, "Nytt.")
    auth.login(w.member)
    assert "Hemlig tråd" in _section(_page(client), "start-unread")
    secret.members = []
    with app.test_request_context():
        round_service.close_round(w.official, w.round1.id)
    db.session.commit()
    body = _page(client)
    assert "Hemlig tråd" not in _section(body, "start-unread")
    assert "En dag kvar" not in _section(body, "start-rounds")


def test_reading_the_thread_clears_it_from_the_start_page(client, auth, world):
    auth.login(world.member)
    client.get(f"/threads/{world.thread.id}")
    assert "Kvällsöppet" not in _section(_page(client), "start-unread")


def test_empty_states_say_what_to_do_next(client, auth, make):
    auth.login(make.user())
    body = _page(client)
    assert "You are up to date" in _section(body, "start-unread")
    assert 'href="/forums"' in _section(body, "start-unread")
    assert 'href="/organisations"' in _section(body, "start-rounds")
    assert 'href="/actions"' in _section(body, "start-actions")
    assert "Choose what you are told" in _section(body, "start-notifications")


def test_an_official_sees_the_open_rounds_of_their_department(client, auth, world):
    auth.login(world.official)
    rounds = _section(_page(client), "start-rounds")
    assert "Tre dagar kvar" in rounds and "Bara för andra" in rounds


def test_the_public_page_shows_open_rounds_and_the_latest_feedback(app, client, make, world, db):
    w = world
    done = make_round(app, make, w.official, title="Lokaler", closes_at=_local(timedelta(days=2)))
    respond(app, w.member, done, w.org)
    with app.test_request_context():
        round_service.close_round(w.official, done.id)
        round_service.save_feedback(
            w.official,
            done.id,
            {
                q.id: round_service.FeedbackInput(heard="Kvällar", action="Vi öppnar")
                for q in done.questions
            },
            publish=True,
        )
    body = _page(client)
    assert "Welcome" not in body
    rounds = _section(body, "open-rounds")
    assert f"/consultations/{w.round1.id}" in rounds and "1 day left" in rounds
    assert "Ett utkast" not in rounds and "Lokaler" not in rounds
    feedback = _section(body, "latest-feedback")
    assert f'href="/consultations/{done.id}#feedback"' in feedback
    assert "Tre dagar kvar" not in feedback


def test_the_public_page_without_rounds_says_so(client):
    body = _page(client)
    assert "No round is open right now" in _section(body, "open-rounds")
    assert "No feedback is published yet" in _section(body, "latest-feedback")


def test_the_page_counts_unread_as_the_forum_list_does(app, world):
    """The page reuses the forum list's unread count (one rule for 'unread')."""
    from forum.queries import forums as forum_queries

    with app.test_request_context():
        items, total = forum_queries.unread_threads(world.member)
        assert total == 1
        assert (
            items[0].unread
            == forum_queries.unread_by_thread(world.member, [world.thread.id])[world.thread.id]
        )


def test_the_demo_member_has_something_on_every_part_of_the_start_page(app, client, db):
    from support import Auth

    from forum.demo import seed_demo
    from forum.models import User
    from forum.services.agreement import seed_agreement

    with app.test_request_context():
        seed_agreement()
        seed_demo()
    member = db.session.scalar(select(User).where(User.email == "medlem@demo.dialogforum.se"))
    Auth(client).login(member)
    body = _page(client, "sv")
    unread = _section(body, "start-unread")
    assert unread.count("#first-unread") == 2 and "olästa" in unread
    assert re.search(r"\d+ dagar kvar", _section(body, "start-rounds"))
    actions = _section(body, "start-actions")
    assert "Du följer den" in actions and "Matlagningskvällar" in actions
    notes = _section(body, "start-notifications")
    assert "Ny" in notes and 'class=""' in notes  # unread and read ones


def test_days_left_count_stockholm_calendar_days(app):
    from datetime import UTC, datetime

    from forum.formatting import days_until

    evening = datetime(2027, 3, 1, 21, 0, tzinfo=UTC)  # 22:00 in Stockholm
    with app.test_request_context():
        assert days_until(datetime(2027, 3, 1, 22, 30, tzinfo=UTC), evening) == 0  # 23:30
        assert days_until(datetime(2027, 3, 1, 23, 30, tzinfo=UTC), evening) == 1  # 00:30
        assert days_until(datetime(2027, 3, 4, 8, 0, tzinfo=UTC), evening) == 3


def test_a_round_closing_later_today_says_so(app, client, auth, make, world, db):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from forum.models import ConsultationRound

    now = datetime.now(UTC)
    if (now + timedelta(minutes=5)).astimezone(ZoneInfo("Europe/Stockholm")).hour == 0:
        pytest.skip("five minutes from now is tomorrow in Stockholm")
    round_ = db.session.get(ConsultationRound, world.round1.id)
    round_.closes_at = now + timedelta(minutes=5)
    db.session.commit()
    auth.login(world.member)
    rounds = _section(_page(client, "sv"), "start-rounds")
    assert "Stänger i dag" in rounds and "0 dagar" not in rounds
