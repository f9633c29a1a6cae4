"""Follow-up actions: proposing, accepting, the rules for status and progress, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from forum.config import parse_rate_limit
from forum.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from forum.models import (
    Action,
    ActionHistory,
    ActionReminder,
    Department,
    Notification,
    OutboxMail,
)
from forum.services import follow_up as service


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


class World:
    pass


@pytest.fixture
def world(app, make, db):
    w = World()
    w.official = make.user("official")  # Social resursnämnd
    w.other_official = make.user("official", department="Kulturnämnden")
    w.member = make.user()
    w.member.locale = "en"
    w.org_admin = make.user()
    w.stranger = make.user()
    w.admin = make.user("admin")
    w.org = make.organisation(admin=w.org_admin)
    w.forum = make.forum(owner=w.official)
    w.thread = make.thread(forum=w.forum, author=w.official)
    w.message = make.message(w.thread, w.member, "Vi kan **ordna** kvällsöppet.")
    w.dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    db.session.commit()
    return w


def propose(app, user, w, **over):
    data = {
        "title": "Kvällsöppet på mötesplatsen",
        "description": "Prova *kvällsöppet* i ett halvår.",
        "owner": f"department:{w.dept.id}",
        "due_date": (service.today() + timedelta(days=60)).isoformat(),
        "commitment_ids": [w.thread.commitments[0].id],
        "message_id": w.message.id,
    }
    data.update(over)
    with app.test_request_context():
        return service.propose_action(user, service.ActionInput(**data))


def history_fields(db, action_id):
    return list(
        db.session.scalars(
            select(ActionHistory.field)
            .where(ActionHistory.action_id == action_id)
            .order_by(ActionHistory.id)
        )
    )


def test_member_proposes_official_accepts_updates_and_follower_is_told(app, world, db):
    w = world
    action = propose(app, w.member, w)
    assert not action.accepted
    assert action.source_thread_id == w.thread.id
    assert action.description_html == "<p>Prova <em>kvällsöppet</em> i ett halvår.</p>"
    with app.test_request_context(), pytest.raises(Forbidden):
        service.accept_action(w.member, action.id)
    with app.test_request_context(), pytest.raises(Forbidden):
        service.accept_action(w.other_official, action.id)
    with app.test_request_context():
        service.accept_action(w.official, action.id)
        with pytest.raises(Conflict):
            service.accept_action(w.official, action.id)
        service.post_update(w.official, action.id, "Lokalen är **bokad**.")
    notes = db.session.scalars(
        select(Notification).where(Notification.user_id == w.member.id).order_by(Notification.id)
    ).all()
    assert [n.kind for n in notes] == ["action_accepted", "action_update"]
    assert notes[1].url.startswith(f"/actions/{action.id}#update-")
    mail = db.session.scalars(
        select(OutboxMail).where(OutboxMail.to_address == w.member.email)
    ).all()
    assert any("posted an update on an action you follow" in m.subject for m in mail)
    # the official was told the proposal waited for acceptance, not about their own update
    assert list(
        db.session.scalars(select(Notification.kind).where(Notification.user_id == w.official.id))
    ) == ["action_awaiting"]
    assert history_fields(db, action.id) == ["created", "accepted", "update"]


def test_an_action_title_is_one_line(app, world):
    action = propose(app, world.official, world, title="Kvällsöppet\r\npå  mötesplatsen")
    assert action.title == "Kvällsöppet på mötesplatsen"


def test_owner_side_proposing_is_accepted_at_once(app, world):
    action = propose(app, world.official, world)
    assert action.accepted


def test_organisation_admins_own_organisation_actions(app, world):
    w = world
    action = propose(app, w.member, w, owner=f"organisation:{w.org.id}")
    with app.test_request_context(), pytest.raises(Forbidden):
        service.accept_action(w.official, action.id)
    with app.test_request_context():
        service.accept_action(w.org_admin, action.id)
        service.change_action(w.org_admin, action.id, "in_progress", "40")
    assert action.progress == 40


@pytest.mark.parametrize("who", ["member", "stranger", "other_official", "org_admin"])
def test_only_owner_side_changes_status_and_progress(app, world, who):
    w = world
    action = propose(app, w.official, w)
    with app.test_request_context():
        with pytest.raises(Forbidden):
            service.change_action(getattr(w, who), action.id, "in_progress", "10")
        with pytest.raises(Forbidden):
            service.post_update(getattr(w, who), action.id, "Hej")


def test_site_admin_may_change(app, world):
    action = propose(app, world.official, world)
    with app.test_request_context():
        service.change_action(world.admin, action.id, "in_progress", "30")
    assert action.status.value == "in_progress"


@pytest.mark.parametrize(
    ("status", "progress", "reason", "ok"),
    [
        ("done", "100", "", True),
        ("done", "", "", True),
        ("done", "90", "", False),
        ("in_progress", "100", "", False),
        ("planned", "0", "", True),
        ("dropped", "20", "", False),
        ("dropped", "20", "Budget saknas", True),
        ("in_progress", "-1", "", False),
        ("in_progress", "101", "", False),
        ("in_progress", "fifty", "", False),
        ("in_progress", "4.5", "", False),
        ("finished", "50", "", False),
    ],
)
def test_status_and_progress_rules(app, world, db, status, progress, reason, ok):
    action = propose(app, world.official, world)
    before = (action.status.value, action.progress, action.drop_reason)
    with app.test_request_context():
        if ok:
            service.change_action(world.official, action.id, status, progress, reason)
        else:
            with pytest.raises(Invalid):
                service.change_action(world.official, action.id, status, progress, reason)
    db.session.rollback()
    db.session.expire_all()
    stored = db.session.get(Action, action.id)
    if ok:  # what was asked for is what the database holds
        expected_progress = 100 if status == "done" else int(progress)
        assert stored.status.value == status
        assert stored.progress == expected_progress
        assert stored.drop_reason == (reason if status == "dropped" else None)
    else:  # a refused change leaves the action as it was
        assert (stored.status.value, stored.progress, stored.drop_reason) == before


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"due_date": "next tuesday"}, "due_date"),
        ({"due_date": "2027-02-30"}, "due_date"),
        ({"due_date": ""}, "due_date"),
        ({"owner": "department:999999"}, "owner"),
        ({"owner": "organisation:999999"}, "owner"),
        ({"owner": "person:1"}, "owner"),
        ({"owner": ""}, "owner"),
        ({"title": "  "}, "title"),
        ({"commitment_ids": []}, "commitments"),
        ({"commitment_ids": [999999]}, "commitments"),
    ],
)
def test_bad_proposals(app, world, db, override, field):
    with pytest.raises(Invalid) as caught:
        propose(app, world.member, world, **override)
    assert caught.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Action)) == 0


def test_action_from_a_message_you_cannot_see_is_not_found(app, make, world, client, auth, db):
    w = world
    secret_forum = make.forum(owner=w.official, visibility="invite", members=[w.member])
    secret_thread = make.thread(forum=secret_forum, author=w.official)
    secret = make.message(secret_thread, w.member, "Hemligt")
    with pytest.raises(NotFound):
        propose(app, w.stranger, w, message_id=secret.id)
    with pytest.raises(NotFound):
        propose(app, w.stranger, w, message_id=999999)
    auth.login(w.stranger)
    assert client.get(f"/actions/new?message={secret.id}").status_code == 404
    # an action from the invite-only thread is hidden from the stranger too
    action = propose(app, w.member, w, message_id=secret.id)
    assert client.get(f"/actions/{action.id}").status_code == 404
    assert action.title not in client.get("/actions").get_data(as_text=True)


def test_visitor_cannot_propose(app, world):
    with app.test_request_context(), pytest.raises(Exception) as caught:
        propose(app, None, world)
    assert caught.value.code == "auth_required"


def test_history_is_append_only_and_no_route_edits_it(app, world, db):
    action = propose(app, world.official, world)
    with app.test_request_context():
        service.change_action(world.official, action.id, "in_progress", "50")
        service.change_action(world.official, action.id, "done", "100")
    rows = db.session.scalars(
        select(ActionHistory).where(ActionHistory.action_id == action.id).order_by(ActionHistory.id)
    ).all()
    assert [(r.field, r.old_value, r.new_value) for r in rows if r.field != "created"][1:] == [
        ("status", "planned", "in_progress"),
        ("progress", "0", "50"),
        ("status", "in_progress", "done"),
        ("progress", "50", "100"),
    ]
    for rule in app.url_map.iter_rules():
        if "history" in rule.rule or "updates" in rule.rule:
            assert rule.methods is not None
            assert not ({"PUT", "PATCH", "DELETE"} & rule.methods)
            assert "<int:update_id>" not in rule.rule


def test_pages_and_forms(app, world, client, auth, db):
    w = world
    auth.login(w.member)
    page = client.get(f"/threads/{w.thread.id}").get_data(as_text=True)
    assert f"/actions/new?message={w.message.id}" in page
    assert "Make this an action" in page
    form = client.get(f"/actions/new?message={w.message.id}")
    assert form.status_code == 200
    response = client.post(
        f"/actions/new?message={w.message.id}",
        data={
            "title": "Öppna kvällstid",
            "description": "",
            "owner": f"department:{w.dept.id}",
            "due_date": "not a date",
            "commitments": [str(w.thread.commitments[0].id)],
        },
    )
    assert response.status_code == 400
    assert "Write the date as YYYY-MM-DD." in response.get_data(as_text=True)
    response = client.post(
        f"/actions/new?message={w.message.id}",
        data={
            "title": "Öppna kvällstid",
            "owner": f"department:{w.dept.id}",
            "due_date": "2027-05-01",
            "commitments": [str(w.thread.commitments[0].id)],
        },
    )
    assert response.status_code == 302
    action_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert "Proposed, awaiting the owner" in page
    assert "Accept the action" not in page
    # the member may not change it
    assert client.post(f"/actions/{action_id}/change", data={"status": "done"}).status_code == 403
    auth.login(w.official)
    assert "Accept the action" in client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert client.post(f"/actions/{action_id}/accept").status_code == 302
    bad = client.post(
        f"/actions/{action_id}/change",
        data={"status": "in_progress", "progress": "150", "due_date": "2027-05-01"},
    )
    assert bad.status_code == 400
    assert "whole number from 0 to 100" in bad.get_data(as_text=True)
    ok = client.post(
        f"/actions/{action_id}/change",
        data={"status": "in_progress", "progress": "25", "due_date": "2027-05-01"},
    )
    assert ok.status_code == 302
    assert (
        client.post(f"/actions/{action_id}/updates", data={"body": "Klart snart"}).status_code
        == 302
    )
    page = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert "Klart snart" in page and "25 %" in page
    # the commitment page lists it
    slug = w.thread.commitments[0].slug
    assert "Öppna kvällstid" in client.get(f"/commitments/{slug}").get_data(as_text=True)
    assert "Öppna kvällstid" in client.get(f"/actions?commitment={slug}").get_data(as_text=True)
    # follow and unfollow
    auth.login(w.stranger)
    assert client.post(f"/actions/{action_id}/follow", data={"follow": "1"}).status_code == 302
    assert "Stop following" in client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert client.post(f"/actions/{action_id}/follow", data={"follow": "0"}).status_code == 302
    assert "Follow this action" in client.get(f"/actions/{action_id}").get_data(as_text=True)


def test_overdue_is_marked(app, world, client):
    yesterday = (service.today() - timedelta(days=1)).isoformat()  # a due date is recent
    action = propose(app, world.official, world, due_date=yesterday)
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert "Overdue" in page
    assert action.title in client.get("/actions?overdue=1").get_data(as_text=True)


def test_reminders_a_week_before_and_on_the_due_date_once_each(app, world, db):
    w = world
    day = service.today()
    week = propose(
        app, w.official, w, title="Om en vecka", due_date=(day + timedelta(days=7)).isoformat()
    )
    due = propose(app, w.official, w, title="I dag", due_date=day.isoformat())
    later = propose(
        app, w.official, w, title="Senare", due_date=(day + timedelta(days=30)).isoformat()
    )
    proposed = propose(app, w.member, w, title="Ej accepterad", due_date=day.isoformat())
    with app.test_request_context():
        assert service.remind() == 2
        assert service.remind() == 0
    kinds = dict(db.session.execute(select(ActionReminder.action_id, ActionReminder.kind)).all())
    assert kinds == {week.id: "week", due.id: "due"}
    assert later.id not in kinds and proposed.id not in kinds
    notes = db.session.scalars(
        select(Notification).where(Notification.kind.in_(("action_reminder", "action_due")))
    ).all()
    # the officials of the owning department are told, one reminder per action: "due soon"
    # a week before, "has reached its due date" on the day
    assert {n.user_id for n in notes} == {w.official.id}
    assert sorted(n.kind for n in notes) == ["action_due", "action_reminder"]


def test_cli_remind(app, world):
    result = app.test_cli_runner().invoke(args=["actions", "remind"])
    assert result.exit_code == 0
    assert "action reminder" in result.output


def test_an_official_turns_published_feedback_into_an_action(app, client, make, db):
    """The round page offers 'make this an action' on published feedback; the action links back."""
    from consultation_support import make_round, respond
    from support import Auth

    from forum.models import Action, ConsultationFeedback
    from forum.services import consultations as rounds

    official = make.user("official")
    chair = make.user()
    org = make.organisation(admin=chair)
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org)
    with app.test_request_context():
        rounds.close_round(official, round_.id)
        items = {
            round_.questions[0].id: rounds.FeedbackInput(
                heard="Kvällar", action="Vi provar kvällsöppet"
            )
        }
        rounds.save_feedback(official, round_.id, items, publish=True)
    feedback = db.session.scalar(
        select(ConsultationFeedback).where(ConsultationFeedback.round_id == round_.id)
    )
    english = {"Accept-Language": "en"}
    Auth(client).login(official)
    page = client.get(f"/consultations/{round_.id}", headers=english).get_data(as_text=True)
    assert f"/actions/new?feedback={feedback.id}" in page
    form = client.get(f"/actions/new?feedback={feedback.id}", headers=english)
    assert form.status_code == 200 and "Vi provar kvällsöppet" in form.get_data(as_text=True)
    response = client.post(
        f"/actions/new?feedback={feedback.id}",
        data={
            "title": "Kvällsöppet på prov",
            "owner": f"department:{official.department_id}",
            "due_date": (service.today() + timedelta(days=90)).isoformat(),
            "commitments": [str(round_.commitments[0].id)],
        },
    )
    assert response.status_code == 302
    action = db.session.scalar(select(Action).order_by(Action.id.desc()))
    assert action.source_feedback_id == feedback.id
    shown = client.get(response.headers["Location"], headers=english).get_data(as_text=True)
    assert f"/consultations/{round_.id}#feedback" in shown
    assert client.get("/actions/new?feedback=999999").status_code == 404
    assert client.get("/actions/new?feedback=abc").status_code == 404
    Auth(client).login(chair)
    page = client.get(f"/consultations/{round_.id}", headers=english).get_data(as_text=True)
    assert "/actions/new?feedback=" not in page


def test_a_changed_due_date_is_shown_as_a_date_in_the_readers_language(app, world, client, auth):
    w = world
    action = propose(app, w.official, w, due_date="2027-05-01")
    with app.test_request_context():  # an official's own proposal is accepted at once
        service.change_action(w.official, action.id, "in_progress", 10, due_date="2027-06-01")
    auth.login(w.member)
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert "1 May 2027 → 1 June 2027" in page and "2027-06-01" not in page  # British
    auth.login(w.stranger)
    swedish = client.get(f"/actions/{action.id}", headers={"Accept-Language": "sv"})
    assert "1 maj 2027 → 1 juni 2027" in swedish.get_data(as_text=True)


def _hidden_token(page: str) -> str:
    import re

    match = re.search(r'name="form_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="form_token"', page
    )
    assert match, page
    return match.group(1)


def test_a_proposal_form_posted_twice_makes_one_action(app, world, client, auth, db):
    """A double click (or a resend) posts the same form twice: one action, the owner's
    side told once, both posts sent to it. A fresh form is a new proposal."""
    w = world
    auth.login(w.member)
    url = f"/actions/new?message={w.message.id}"
    token = _hidden_token(client.get(url).get_data(as_text=True))
    data = {
        "title": "Öppna kvällstid",
        "owner": f"department:{w.dept.id}",
        "due_date": "2027-05-01",
        "commitments": [str(w.thread.commitments[0].id)],
        "form_token": token,
    }
    first, second = client.post(url, data=data), client.post(url, data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(Action.id))) == 1
    awaiting = select(func.count(Notification.id)).where(
        Notification.user_id == w.official.id, Notification.kind == "action_awaiting"
    )
    assert db.session.scalar(awaiting) == 1
    again = _hidden_token(client.get(url).get_data(as_text=True))
    assert again != token
    assert client.post(url, data={**data, "form_token": again}).status_code == 302
    assert db.session.scalar(select(func.count(Action.id))) == 2


def test_an_update_form_posted_twice_posts_one_update(app, world, client, auth, db):
    from forum.models import ActionUpdate

    w = world
    action = propose(app, w.official, w, message_id=None, commitment_ids=[1])
    with app.test_request_context():
        service.set_following(w.member, action.id, True)
    auth.login(w.official)
    token = _hidden_token(client.get(f"/actions/{action.id}").get_data(as_text=True))
    data = {"body": "Lokalen är bokad.", "form_token": token}
    for _ in range(2):
        assert client.post(f"/actions/{action.id}/updates", data=data).status_code == 302
    assert db.session.scalar(select(func.count(ActionUpdate.id))) == 1
    told = select(func.count(Notification.id)).where(
        Notification.user_id == w.member.id, Notification.kind == "action_update"
    )
    assert db.session.scalar(told) == 1
    # someone else's token is theirs alone: it does not find this update
    with app.test_request_context():
        service.post_update(w.admin, action.id, "Från admin.", form_token=token)
    assert db.session.scalar(select(func.count(ActionUpdate.id))) == 2


def test_a_different_proposal_from_a_used_form_is_refused_not_dropped(app, world, client, auth, db):
    """Propose, go Back (the browser restores the form with its hidden token), change the
    title and date and propose again: not silently the first action (the second was never
    stored but said it was), but a 409 that keeps the text, says the form was used for
    another proposal, and carries a fresh token, so pressing the button again proposes it."""
    w = world
    auth.login(w.member)
    url = f"/actions/new?message={w.message.id}"
    token = _hidden_token(client.get(url).get_data(as_text=True))
    data = {
        "title": "Kvällsöppet",
        "owner": f"department:{w.dept.id}",
        "due_date": "2027-05-01",
        "commitments": [str(w.thread.commitments[0].id)],
        "form_token": token,
    }
    assert client.post(url, data=data).status_code == 302
    other = {**data, "title": "Helgöppet, ett annat förslag", "due_date": "2027-09-01"}
    second = client.post(url, data=other)
    page = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "This form was already used to propose a different action." in page
    assert 'value="Helgöppet, ett annat förslag"' in page
    assert 'value="2027-09-01"' in page
    fresh = _hidden_token(page)
    assert fresh != token
    assert list(db.session.scalars(select(Action.title))) == ["Kvällsöppet"]
    awaiting = select(func.count(Notification.id)).where(
        Notification.user_id == w.official.id, Notification.kind == "action_awaiting"
    )
    assert db.session.scalar(awaiting) == 1
    # the button pressed again sends the re-rendered form: a new proposal
    assert client.post(url, data={**other, "form_token": fresh}).status_code == 302
    titles = db.session.scalars(select(Action.title).order_by(Action.id))
    assert list(titles) == ["Kvällsöppet", "Helgöppet, ett annat förslag"]
    assert db.session.scalar(awaiting) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"description": "Och på helgerna."},
        {"owner": "organisation"},
        {"due_date": "2027-05-02"},
        {"commitment_ids": "another"},
        {"commitment_ids": "both"},
    ],
)
def test_a_used_token_with_other_content_is_a_conflict(app, world, db, change):
    """Any field the proposer filled in that differs from the stored action makes it another
    proposal (refused: the form was used), not the same one posted again."""
    from forum.models import Commitment

    w = world
    token = "c" * 32
    first = propose(app, w.member, w, form_token=token, due_date="2027-05-01")
    commitments = list(db.session.scalars(select(Commitment.id).order_by(Commitment.id)))
    over = {"due_date": "2027-05-01", **change}
    if over.get("owner") == "organisation":
        over["owner"] = f"organisation:{w.org.id}"
    if over.get("commitment_ids") == "another":
        over["commitment_ids"] = [c for c in commitments if c != first.commitments[0].id][:1]
    elif over.get("commitment_ids") == "both":
        over["commitment_ids"] = [first.commitments[0].id, commitments[-1]]
    with pytest.raises(Conflict):
        propose(app, w.member, w, form_token=token, **over)
    assert db.session.scalar(select(func.count(Action.id))) == 1


def test_the_same_proposal_posted_again_is_the_same_action_as_cleaned(app, world, db):
    """The same text as the form sends it again (spaces around, CR LF line breaks): the
    same proposal, so the stored action, not a conflict."""
    w = world
    token = "d" * 32
    first = propose(app, w.member, w, form_token=token, description="Rad ett.\nRad två.")
    again = propose(
        app,
        w.member,
        w,
        form_token=token,
        title="  Kvällsöppet   på mötesplatsen ",
        description="Rad ett.\r\nRad två.\r\n",
    )
    assert again.id == first.id
    assert db.session.scalar(select(func.count(Action.id))) == 1


def test_a_different_update_from_a_used_form_is_refused_not_dropped(app, world, client, auth, db):
    """The update form sent, Back, another text in the same form: a 409 that keeps the text
    and carries a fresh token (so pressing the button again posts it), not the first update
    quietly shown as posted."""
    from forum.models import ActionUpdate

    w = world
    action = propose(app, w.official, w, message_id=None, commitment_ids=[1])
    with app.test_request_context():
        service.set_following(w.member, action.id, True)
    auth.login(w.official)
    token = _hidden_token(client.get(f"/actions/{action.id}").get_data(as_text=True))
    url = f"/actions/{action.id}/updates"
    assert client.post(url, data={"body": "Lokalen är bokad.", "form_token": token}).status_code
    other = {"body": "Andra uppdateringen: personal anställd.", "form_token": token}
    second = client.post(url, data=other)
    page = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "This form was already used to post a different update." in page
    assert "Andra uppdateringen: personal anställd.</textarea>" in page
    fresh = _hidden_token(page)
    assert fresh != token
    assert list(db.session.scalars(select(ActionUpdate.body))) == ["Lokalen är bokad."]
    told = select(func.count(Notification.id)).where(
        Notification.user_id == w.member.id, Notification.kind == "action_update"
    )
    assert db.session.scalar(told) == 1
    assert client.post(url, data={**other, "form_token": fresh}).status_code == 302
    bodies = db.session.scalars(select(ActionUpdate.body).order_by(ActionUpdate.id))
    assert list(bodies) == ["Lokalen är bokad.", "Andra uppdateringen: personal anställd."]
    assert db.session.scalar(told) == 2
    third = {"body": "En tredje.", "form_token": token}
    swedish = client.post(url, data=third, headers={"Accept-Language": "sv"})
    assert swedish.status_code == 409
    assert "redan använts för att lägga upp en annan lägesrapport" in swedish.get_data(as_text=True)


def test_an_update_token_used_on_another_action_is_a_conflict(app, world, db):
    """A token is one form's: posted to another action (the same text even) it is refused,
    not a database error from the unique (author, token) index."""
    from forum.models import ActionUpdate

    w = world
    first = propose(app, w.official, w, message_id=None, commitment_ids=[1])
    second = propose(app, w.official, w, message_id=None, commitment_ids=[1], title="Andra")
    token = "e" * 32
    with app.test_request_context():
        service.post_update(w.official, first.id, "Lokalen är bokad.", form_token=token)
        with pytest.raises(Conflict):
            service.post_update(w.official, second.id, "Lokalen är bokad.", form_token=token)
    db.session.rollback()
    assert db.session.scalar(select(func.count(ActionUpdate.id))) == 1


def test_accepting_an_accepted_action_says_so(app, world, client, auth, db):
    """A second "Accept" (a double click, or a colleague a moment later) is told it already
    is, with no second history row or notification."""
    w = world
    action = propose(app, w.member, w)
    auth.login(w.official)
    assert client.post(f"/actions/{action.id}/accept").status_code == 302
    again = client.post(f"/actions/{action.id}/accept")
    assert again.status_code == 409
    assert "The action is already accepted." in again.get_data(as_text=True)
    assert history_fields(db, action.id).count("accepted") == 1
    told = select(func.count(Notification.id)).where(
        Notification.user_id == w.member.id, Notification.kind == "action_accepted"
    )
    assert db.session.scalar(told) == 1


def test_start_page_actions_are_cut_after_dropping_the_unreadable(app, make, world, client, auth):
    """The start page's eight "actions you own or follow" are eight the person may read:
    those from a forum they were taken out of do not use up the places."""
    from forum.extensions import db as _db

    w = world
    person = make.user()
    secret = make.forum(owner=w.official, visibility="invite", members=[person])
    hidden_thread = make.thread(forum=secret, author=w.official)
    hidden_message = make.message(hidden_thread, person, "hemligt")
    open_message = make.message(w.thread, person, "öppet")
    soon = service.today() + timedelta(days=5)
    for i in range(8):  # due first; the person proposed and so follows them
        propose(
            app,
            person,
            w,
            title=f"Hemlig {i}",
            message_id=hidden_message.id,
            due_date=(soon + timedelta(days=i)).isoformat(),
            commitment_ids=[hidden_thread.commitments[0].id],
        )
    propose(app, person, w, title="Öppen åtgärd", message_id=open_message.id)
    secret.members = [m for m in secret.members if m.id != person.id]
    _db.session.commit()
    auth.login(person)
    page = client.get("/").get_data(as_text=True)
    section = page.split('id="start-actions"')[1].split("</section>")[0]
    assert "Öppen åtgärd" in section
    assert "Hemlig" not in section


def test_a_rejected_owner_organisation_is_named_without_a_link(app, world, client, auth, db):
    """After its organisation is rejected an action still names its owner, but links to the
    organisation's page only for those who may open it (for others it is a 404)."""
    from forum.services import organisations as org_service

    w = world
    action = propose(app, w.official, w, owner=f"organisation:{w.org.id}", message_id=None)
    link = f'href="/organisations/{w.org.slug}"'
    assert link in client.get(f"/actions/{action.id}").get_data(as_text=True)
    with app.test_request_context():
        org_service.reject_organisation(w.admin, w.org.id, "Okänt nummer.")
    for person in (None, w.stranger, w.org_admin):
        if person is None:
            auth.logout()
        else:
            auth.login(person)
        page = client.get(f"/actions/{action.id}").get_data(as_text=True)
        assert w.org.name in page
        assert (link in page) == (person is w.org_admin)
        if link in page:
            assert client.get(f"/organisations/{w.org.slug}").status_code == 200


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("3/3600s"))
def test_proposals_to_another_side_are_rate_limited(app, world, client, auth, db):
    """A person may not flood an owner's side with proposals (each one notifies it): past
    the limit the form says to wait, nothing is stored and nobody is told. Proposing for
    one's own side (accepted at once, telling no one) is not counted."""
    w = world
    for i in range(3):
        propose(app, w.member, w, title=f"Förslag {i}")
    with app.test_request_context(), pytest.raises(RateLimited):
        propose(app, w.member, w, title="Ett för mycket")
    auth.login(w.member)
    url = f"/actions/new?message={w.message.id}"
    response = client.post(
        url,
        data={
            "title": "Ett till",
            "owner": f"department:{w.dept.id}",
            "due_date": "2027-05-01",
            "commitments": [str(w.thread.commitments[0].id)],
        },
    )
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "too many actions" in page and 'value="Ett till"' in page
    assert db.session.scalar(select(func.count(Action.id))) == 3
    awaiting = select(func.count(Notification.id)).where(
        Notification.user_id == w.official.id, Notification.kind == "action_awaiting"
    )
    assert db.session.scalar(awaiting) == 3
    # an official recording their own department's actions is not limited
    for i in range(4):
        assert propose(app, w.official, w, title=f"Eget {i}").accepted
    # someone else may still propose
    assert not propose(app, w.org_admin, w, title="Från föreningen").accepted
