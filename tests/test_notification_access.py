"""Nobody is told, or mailed, what they may no longer read: removed members, outsiders, closed
accounts; and a digest goes out once a day per person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from forum.errors import Invalid
from forum.models import Notification, OutboxMail
from forum.services import follow_up
from forum.services import forums as forum_service


def notes_of(db, user) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


def mails_to(db, user) -> list[OutboxMail]:
    return list(
        db.session.scalars(
            select(OutboxMail).where(OutboxMail.to_address == user.email).order_by(OutboxMail.id)
        )
    )


def action_input(thread, message, owner: str) -> follow_up.ActionInput:
    return follow_up.ActionInput(
        title="Hemlig åtgärd",
        owner=owner,
        due_date=(follow_up.today() + timedelta(days=30)).isoformat(),
        commitment_ids=[thread.commitments[0].id],
        message_id=message.id,
    )


def idea_in_an_invite_only_forum(make):
    """An official's invite-only forum, and a member's idea there to propose as an action
    owned by the official's department."""
    official = make.user("official")
    member = make.user()
    forum = make.forum(owner=official, visibility="invite", members=[member])
    thread = make.thread(forum=forum, author=official)
    message = make.message(thread, member, "Idé")
    idea = action_input(thread, message, f"department:{official.department_id}")
    return official, member, forum, idea


def test_a_follower_removed_from_the_forum_hears_no_more_of_the_action(app, make, db):
    official, member, forum, idea = idea_in_an_invite_only_forum(make)
    with app.test_request_context():
        action = follow_up.propose_action(member, idea)
        forum_service.change_forum_people(official, forum, member.email, "member", False)
        follow_up.accept_action(official, action.id)
        follow_up.post_update(official, action.id, "KONFIDENTIELL uppdatering")
    assert [n.kind for n in notes_of(db, member)] == []
    assert not any("KONFIDENTIELL" in mail.body for mail in mails_to(db, member))


def test_only_owners_who_may_open_the_action_are_asked_to_accept_it(app, make, db, client, auth):
    invited = make.user("official")
    outsider = make.user("official")  # same department, not in the forum
    forum_owner = make.user("official", department="Kulturnämnden")
    member = make.user()
    forum = make.forum(owner=forum_owner, visibility="invite", members=[member, invited])
    thread = make.thread(forum=forum, author=forum_owner)
    message = make.message(thread, member, "Idé")
    owner = f"department:{invited.department_id}"
    with app.test_request_context():
        action = follow_up.propose_action(member, action_input(thread, message, owner))
    assert [n.kind for n in notes_of(db, invited)] == ["action_awaiting"]
    assert notes_of(db, outsider) == []
    auth.login(invited)
    assert client.get(f"/actions/{action.id}").status_code == 200


def test_an_action_nobody_on_the_owners_side_may_open_is_refused(app, make, db):
    make.user("official")  # Social resursnämnd, not in the forum
    forum_owner = make.user("official", department="Kulturnämnden")
    member = make.user()
    forum = make.forum(owner=forum_owner, visibility="invite", members=[member])
    thread = make.thread(forum=forum, author=forum_owner)
    message = make.message(thread, member, "Idé")
    other = make.user("official")
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        follow_up.propose_action(
            member, action_input(thread, message, f"department:{other.department_id}")
        )
    assert refused.value.field == "owner"
    db.session.rollback()
    assert notes_of(db, other) == []


def test_a_closed_account_is_told_and_mailed_nothing_more(app, make, db):
    from forum.models import NotificationPreference
    from forum.services import notifications, privacy

    person = make.user()
    other = make.user()
    thread = make.thread()
    with app.test_request_context():
        notifications.save_preferences(person, {"reply": "immediate", "mention": "digest"})
    message = make.message(thread, person, "Hej")
    with app.test_request_context():
        privacy.close_account(make.user("admin"), person.id)
    assert (
        db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == person.id)
        ).all()
        == []
    )
    make.message(thread, other, "Svar till ett stängt konto", reply_to=message.id)
    with app.test_request_context():
        notifications.deliver([person], "action_update", "text", "/actions/1", actor=other)
        db.session.commit()
        notifications.send_digests()
    assert notes_of(db, person) == []
    assert mails_to(db, person) == []


def test_a_suspended_persons_mail_waits_but_moderation_notices_reach_them(app, make, db):
    from forum.models.base import utcnow
    from forum.services import notifications

    person = make.user()
    other = make.user()
    with app.test_request_context():
        notifications.save_preferences(person, {"action_update": "immediate"})
    person.suspended_until = utcnow() + timedelta(days=3)
    db.session.commit()
    with app.test_request_context():
        notifications.deliver([person], "action_update", "Uppdatering", "/actions/1", actor=other)
        notifications.notify_person(person, "moderation_suspended", "Skäl", "/appeals")
        db.session.commit()
        notifications.send_digests()
    assert len(notes_of(db, person)) == 2  # both wait in the app
    assert [m.body.count("Skäl") > 0 for m in mails_to(db, person)] == [True]
    person.suspended_until = None
    db.session.commit()
    with app.test_request_context():
        notifications.send_digests()
    mails = mails_to(db, person)
    assert len(mails) == 2 and "Uppdatering" in mails[1].body


def invite_thread_with_mention(app, make, db, mode: str):
    """An official's invite-only forum, a member in it told (per `mode`) of a mention."""
    from forum.services import notifications

    owner = make.user("official")
    member = make.user(name="Mia Medlem")
    forum = make.forum(owner=owner, visibility="invite", members=[member])
    thread = make.thread(forum=forum, author=owner, title="Hemlig plan")
    with app.test_request_context():
        notifications.save_preferences(member, {"mention": mode})
    message = make.message(thread, owner, f"Hej @{member.handle} första texten")
    return owner, member, forum, thread, message


def test_edits_after_removal_do_not_reach_the_removed_member(app, make, db):
    owner, member, forum, thread, message = invite_thread_with_mention(app, make, db, "immediate")
    [mail] = mails_to(db, member)
    with app.test_request_context():
        forum_service.change_forum_people(owner, forum, member.email, "member", False)
        forum_service.edit_message(owner, message.id, "KONFIDENTIELL budget")
    [note] = notes_of(db, member)
    assert "första texten" in note.excerpt
    # the mail not yet sent is dropped rather than rewritten with the new text
    assert db.session.get(OutboxMail, mail.id) is None
    assert not any("KONFIDENTIELL" in m.body for m in mails_to(db, member))


def test_the_digest_leaves_out_threads_the_person_may_no_longer_read(app, make, db):
    from forum.services import notifications

    owner, member, forum, thread, message = invite_thread_with_mention(app, make, db, "digest")
    with app.test_request_context():
        forum_service.change_forum_people(owner, forum, member.email, "member", False)
        forum_service.edit_message(owner, message.id, "KONFIDENTIELL efter borttagningen")
        notifications.save_preferences(member, {"action_update": "digest"})
        notifications.deliver([member], "action_update", "Annat", "/actions/1", actor=owner)
        db.session.commit()
        assert notifications.send_digests() == 1
    [mail] = mails_to(db, member)
    assert "KONFIDENTIELL" not in mail.body and "Hemlig plan" not in mail.body
    assert "Annat" in mail.body


def test_a_digest_line_names_who_acted_and_where(app, make, db):
    from forum.services import notifications

    owner, member, forum, thread, message = invite_thread_with_mention(app, make, db, "digest")
    member.locale = "en"
    db.session.commit()
    with app.test_request_context():
        notifications.send_digests()
    [mail] = mails_to(db, member)
    assert f"{owner.display_name} mentioned you in “Hemlig plan”" in mail.body
    assert "“”" not in mail.body


def test_a_digest_goes_out_once_a_day_across_restarts_and_the_cli(app, make, db, monkeypatch):
    from datetime import UTC, datetime

    from forum import scheduler
    from forum.services import notifications

    person = make.user()
    actor = make.user()

    def tell(text: str) -> None:
        with app.test_request_context():
            notifications.deliver([person], "action_update", text, "/actions/1", actor=actor)
            db.session.commit()

    with app.test_request_context():
        notifications.save_preferences(person, {"action_update": "digest"})
    tell("första")
    morning = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 08:00 in Stockholm
    assert scheduler.run_due_jobs(app, None, morning) == "2026-12-07"
    tell("andra")
    scheduler.run_due_jobs(app, None, morning + timedelta(hours=2))  # restarted: no memory
    with app.test_request_context():
        assert notifications.send_digests(morning + timedelta(hours=3)) == 0  # as the CLI runs
    # the command itself, on its own clock, later the same day (the real clock made this
    # test fail from the day after the date above)
    with monkeypatch.context() as clock:
        clock.setattr(notifications, "utcnow", lambda: morning + timedelta(hours=4))
        assert app.test_cli_runner().invoke(args=["notifications", "digest"]).exit_code == 0
    assert len(mails_to(db, person)) == 1
    next_day = morning + timedelta(days=1)
    with app.test_request_context():
        assert notifications.send_digests(next_day) == 1
    mails = mails_to(db, person)
    assert len(mails) == 2 and "andra" in mails[1].body and "första" not in mails[1].body


def test_of_two_runs_at_once_only_one_claims_the_day(app, make, db):
    from datetime import date

    from forum.services import notifications

    person = make.user()
    day = date(2026, 12, 7)
    assert notifications._claim_digest_day(person, day) is True
    assert notifications._claim_digest_day(person, day) is False
    assert notifications._claim_digest_day(person, date(2026, 12, 8)) is True
    db.session.rollback()


def test_a_waiting_action_notice_is_left_out_of_the_digest_after_removal(app, make, db):
    from forum.services import notifications

    official, member, forum, idea = idea_in_an_invite_only_forum(make)
    with app.test_request_context():
        notifications.save_preferences(member, {"action_update": "digest"})
        action = follow_up.propose_action(member, idea)
        follow_up.accept_action(official, action.id)
        follow_up.post_update(official, action.id, "KONFIDENTIELL uppdatering")
        forum_service.change_forum_people(official, forum, member.email, "member", False)
        notifications.send_digests()
    assert not any("KONFIDENTIELL" in mail.body for mail in mails_to(db, member))


def test_the_proposal_form_names_the_owner_nobody_there_may_read_for(app, make, db, client, auth):
    from forum.models import Action

    make.user("official")
    forum_owner = make.user("official", department="Kulturnämnden")
    member = make.user()
    forum = make.forum(owner=forum_owner, visibility="invite", members=[member])
    thread = make.thread(forum=forum, author=forum_owner)
    message = make.message(thread, member, "Idé")
    other = make.user("official")
    auth.login(member)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post(
        f"/actions/new?message={message.id}",
        data={
            "title": "Hemlig åtgärd",
            "owner": f"department:{other.department_id}",
            "due_date": (follow_up.today() + timedelta(days=30)).isoformat(),
            "commitments": [str(thread.commitments[0].id)],
        },
    )
    assert response.status_code == 400
    assert "Nobody on that side may read where the action comes from" in response.get_data(
        as_text=True
    )
    assert db.session.scalars(select(Action)).all() == []


def test_turning_mail_off_in_the_settings_stops_every_mail(app, make, db, client, auth):
    """The settings page's one switch, "Send me notifications by email", holds over the
    choices per kind: saved unchanged, they all said "at once" and still sent mail."""
    from forum.services import notifications

    member, writer = make.user(), make.user()
    thread = make.thread(author=writer)
    with app.test_request_context():
        notifications.save_preferences(
            member, dict.fromkeys(notifications.KINDS, notifications.IMMEDIATE)
        )
        notifications.save_preferences(member, {"action_update": "digest"})
        notifications.deliver([member], "action_update", "Väntar", "/actions/1", actor=writer)
        db.session.commit()
    auth.login(member)
    response = client.post(
        "/settings",
        data={"display_name": member.display_name, "locale": "sv", "save_settings": "1"},
    )
    assert response.status_code in (302, 303)
    db.session.refresh(member)
    assert member.email_notifications is False
    make.message(thread, writer, f"Hej @{member.handle}")
    with app.test_request_context():
        assert notifications.send_digests() == 0  # what waited for the digest stays in the app
    assert mails_to(db, member) == []
    assert [n.kind for n in notes_of(db, member)] == ["action_update", "mention"]
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "Mail is turned off in your settings" in page or "E-post är avstängd" in page


def test_the_daily_summarys_one_click_unsubscribe_stops_the_summary(app, make, db):
    """The summary's List-Unsubscribe header named the settings page, which needs a login and
    a form: a mail client's one-click post (RFC 8058, no cookie) was sent to the login page,
    changed nothing, and the client told the person they were unsubscribed. It is a signed
    link now that moves every kind sent in the summary to the app, and nothing else."""
    from forum.services import notifications
    from forum.services.mail import build_message

    person, other = make.user(), make.user()
    with app.test_request_context():
        notifications.save_preferences(
            person, {"action_update": "digest", "mention": "digest", "reply": "immediate"}
        )
        notifications.deliver([person], "action_update", "Uppdatering", "/actions/1", actor=other)
        db.session.commit()
        assert notifications.send_digests() == 1
    [summary] = mails_to(db, person)
    header = build_message(summary, "forum@example.se")["List-Unsubscribe"]
    assert header == f"<{summary.unsubscribe_url}>"
    path = summary.unsubscribe_url.removeprefix("http://localhost")
    visitor = app.test_client()  # the mail client: no session, no CSRF token
    visitor.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert visitor.get(path).status_code == 200  # a link followed changes nothing
    with app.test_request_context():
        assert notifications.preferences(person)["mention"] == "digest"
    done = visitor.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Daily digest" in done.get_data(as_text=True)
    with app.test_request_context():
        chosen = notifications.preferences(person)
    assert (chosen["action_update"], chosen["mention"], chosen["reply"]) == (
        "in_app",
        "in_app",
        "immediate",
    )


@pytest.mark.parametrize("mode", ["digest", "immediate"])
@pytest.mark.parametrize("change", [None, "role revoked", "moved to another department"])
def test_a_round_s_officials_notice_reaches_only_who_still_manages_the_round(
    app, make, db, mode, change
):
    """Who has answered an open round is for its officials: an official whose role was
    revoked, or who moved to another department, after the response came is neither sent
    the waiting mail nor the digest line that names the organisation."""
    from consultation_support import consultation_people, make_round, respond

    from forum.services import admin as admin_service
    from forum.services import mail, notifications

    admin = make.user("admin")
    official, chair, _member, org = consultation_people(make)
    with app.test_request_context():
        notifications.save_preferences(official, {"consultation_response_submitted": mode})
    round_ = make_round(app, make, official)
    before = {m.id for m in mails_to(db, official)}
    respond(app, chair, round_, org, submit=True)
    with app.test_request_context():
        if change == "role revoked":
            admin_service.revoke_role(admin, official.id, "official")
        elif change == "moved to another department":
            admin_service.grant_role(
                admin, official.id, "official", department_name="Kulturnämnden"
            )
        notifications.send_digests()
        mail.deliver_pending()
    told = [m for m in mails_to(db, official) if m.id not in before and m.sent_at is not None]
    naming = [m for m in told if "Föreningen Gemenskap" in m.body]
    if change is None:
        assert len(naming) == 1
    else:
        assert naming == []
    notes = [n for n in notes_of(db, official) if n.kind == "consultation_response_submitted"]
    assert len(notes) == 1  # kept in the app either way: it was theirs when it came


@pytest.mark.parametrize("change", [None, "role revoked"])
def test_a_passed_deadline_is_mailed_only_to_who_still_manages_the_round(app, make, db, change):
    from consultation_support import consultation_people, expire_deadline, make_round

    from forum.services import admin as admin_service
    from forum.services import consultations, mail, notifications

    admin = make.user("admin")
    official, *_asked = consultation_people(make)
    with app.test_request_context():
        notifications.save_preferences(official, {"consultation_deadline_passed": "digest"})
    round_ = make_round(app, make, official)
    expire_deadline(round_)
    db.session.commit()
    before = {m.id for m in mails_to(db, official)}
    with app.test_request_context():
        consultations.send_due_notices()
        if change == "role revoked":
            admin_service.revoke_role(admin, official.id, "official")
        notifications.send_digests()
        mail.deliver_pending()
    told = [m for m in mails_to(db, official) if m.id not in before and m.sent_at is not None]
    about = [m for m in told if "Mötesplatser för unga" in m.body]
    assert len(about) == (1 if change is None else 0)
