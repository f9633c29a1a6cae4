"""Follow-up actions the owner's side declines, and actions a moderator hides or redacts.

A proposal used to wait for ever: the side it was proposed to could only accept it, and a
moderator could neither hide it nor take personal data out of its title. These tests pin
down declining (with a reason, told to the followers, final), hiding (seen by moderators
only, out of every count, list and API, logged, reversible) and redacting the title (the
replaced text kept for admins only).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from forum.errors import Conflict, Forbidden, Invalid, NotFound
from forum.models import (
    Action,
    ActionHistory,
    ActionKind,
    Appeal,
    AppealOutcome,
    AuditEntry,
    Department,
    Membership,
    ModerationAction,
    Notification,
)
from forum.models.base import utcnow
from forum.queries import follow_up as fq
from forum.queries.start import personal
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
    w.member = make.user(name="Maja Medlem")
    w.org_admin = make.user(name="Oskar Orgadmin")
    w.moderator = make.user("moderator", name="Sara Moderator")
    w.forum_moderator = make.user(name="Fia Forummoderator")
    w.admin = make.user("admin")
    w.org = make.organisation(admin=w.org_admin)
    w.forum = make.forum(owner=w.official, moderators=[w.forum_moderator])
    w.thread = make.thread(forum=w.forum, author=w.official)
    w.message = make.message(w.thread, w.member, "Ring Kalle på 070-123 45 67 om kvällsöppet.")
    w.dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    db.session.commit()
    return w


def propose(app, user, w, **over) -> Action:
    data = {
        "title": "Kvällsöppet, ring Kalle 070-123 45 67",
        "owner": f"department:{w.dept.id}",
        "due_date": (service.today() + timedelta(days=60)).isoformat(),
        "commitment_ids": [w.thread.commitments[0].id],
        "message_id": w.message.id,
    }
    data.update(over)
    with app.test_request_context():
        return service.propose_action(user, service.ActionInput(**data))


def run(app, fn, *args):
    with app.test_request_context():
        return fn(*args)


def fields_of(db, action_id) -> list[str]:
    return list(
        db.session.scalars(
            select(ActionHistory.field)
            .where(ActionHistory.action_id == action_id)
            .order_by(ActionHistory.id)
        )
    )


def notes(db, user, kind) -> int:
    return db.session.scalar(
        select(func.count()).where(Notification.user_id == user.id, Notification.kind == kind)
    )


# --- declining ------------------------------------------------------------------------


def test_the_owner_side_declines_with_a_reason_and_the_proposer_is_told(app, world, db):
    w = world
    action = propose(app, w.member, w)
    declined = run(app, service.decline_action, w.official, action.id, "  Ingen budget i år.  ")
    assert declined.declined
    assert declined.decline_reason == "Ingen budget i år."
    assert declined.declined_at is not None
    assert fields_of(db, action.id) == ["created", "declined"]
    who = db.session.scalar(
        select(ActionHistory.actor_id).where(
            ActionHistory.action_id == action.id, ActionHistory.field == "declined"
        )
    )
    assert who == w.official.id
    assert notes(db, w.member, "action_declined") == 1  # the proposer follows it
    # final: neither accepted, nor declined again, nor changed
    with pytest.raises(Conflict):
        run(app, service.accept_action, w.official, action.id)
    with pytest.raises(Conflict):
        run(app, service.decline_action, w.official, action.id, "igen")
    with pytest.raises((Conflict, Forbidden)):
        run(app, service.change_action, w.official, action.id, "in_progress", 10)
    assert notes(db, w.member, "action_declined") == 1


@pytest.mark.parametrize(
    ("reason", "message"),
    # the services speak the default language (Swedish) outside a person's request
    [
        ("", "Fältet måste fyllas i."),
        ("   \n ", "Fältet måste fyllas i."),
        ("x" * (service.MAX_REASON + 1), "Högst 2000 tecken"),
    ],
)
def test_a_decline_needs_a_reason_of_sensible_length(app, world, db, reason, message):
    w = world
    action = propose(app, w.member, w)
    with pytest.raises(Invalid) as err:
        run(app, service.decline_action, w.official, action.id, reason)
    assert err.value.field == "reason"
    assert message in err.value.message
    db.session.rollback()
    assert not db.session.get(Action, action.id).declined


def test_only_the_owner_side_declines(app, world, db):
    w = world
    to_dept = propose(app, w.member, w)
    to_org = propose(app, w.member, w, owner=f"organisation:{w.org.id}", title="Till föreningen")
    for person in (w.member, w.other_official, w.moderator, w.org_admin):
        with pytest.raises(Forbidden):
            run(app, service.decline_action, person, to_dept.id, "nej")
    for person in (w.member, w.official):
        with pytest.raises(Forbidden):
            run(app, service.decline_action, person, to_org.id, "nej")
    run(app, service.decline_action, w.org_admin, to_org.id, "Vi har inte tid.")
    run(app, service.decline_action, w.admin, to_dept.id, "Admin avböjer.")


def test_an_accepted_action_is_not_declined(app, world):
    w = world
    action = propose(app, w.member, w)
    run(app, service.accept_action, w.official, action.id)
    with pytest.raises(Conflict):
        run(app, service.decline_action, w.official, action.id, "för sent")


def test_an_org_admin_removed_from_the_organisation_no_longer_declines(app, world, db):
    w = world
    action = propose(app, w.member, w, owner=f"organisation:{w.org.id}")
    db.session.execute(delete(Membership).where(Membership.user_id == w.org_admin.id))
    db.session.commit()
    with pytest.raises(Forbidden):
        run(app, service.decline_action, w.org_admin, action.id, "nej")


def test_the_proposer_may_propose_again_after_a_decline(app, world):
    w = world
    first = propose(app, w.member, w)
    run(app, service.decline_action, w.official, first.id, "Inte nu.")
    again = propose(app, w.member, w)
    assert again.id != first.id and not again.declined


def test_a_declined_proposal_leaves_the_open_lists(app, world, db):
    w = world
    action = propose(app, w.member, w)
    with app.test_request_context():
        assert action.id in [a.id for a in fq.actions_of(w.official)[0]]
        assert action.id in [a.id for a in fq.list_actions(None, "proposed")]
    run(app, service.decline_action, w.official, action.id, "Inte nu.")
    with app.test_request_context():
        assert action.id not in [a.id for a in fq.actions_of(w.official)[0]]
        assert action.id not in [a.id for a in fq.actions_of(w.member)[0]]
        assert action.id not in [a.id for a in fq.list_actions(None, "proposed")]
        assert action.id in [a.id for a in fq.list_actions(None, "declined")]
        assert action.id not in [a.id for a in personal(w.official, utcnow()).actions]


def test_the_decline_form_shows_errors_and_then_the_declined_action(app, world, client, auth):
    w = world
    action = propose(app, w.member, w)
    auth.login(w.official)
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert 'id="decline-reason"' in page or 'for="reason"' in page
    empty = client.post(f"/actions/{action.id}/decline", data={"reason": ""})
    assert empty.status_code == 400
    text = empty.get_data(as_text=True)
    assert "error-summary" in text and "This field is required." in text
    done = client.post(
        f"/actions/{action.id}/decline", data={"reason": "<script>alert(1)</script> Ingen budget"}
    )
    assert done.status_code == 302
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert "Declined" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Ingen budget" in page
    assert "<script>alert(1)" not in page
    assert w.official.display_name in page
    again = client.post(f"/actions/{action.id}/decline", data={"reason": "igen"})
    assert again.status_code == 409
    accept = client.post(f"/actions/{action.id}/accept")
    assert accept.status_code == 409


def test_the_declined_action_reads_in_swedish(app, world, client, auth):
    w = world
    action = propose(app, w.member, w)
    run(app, service.decline_action, w.official, action.id, "Ingen budget.")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "sv"
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert "Avböjd" in page


def test_declining_over_http_by_someone_else_is_refused(app, world, client, auth):
    w = world
    action = propose(app, w.member, w)
    auth.login(w.member)
    assert client.post(f"/actions/{action.id}/decline", data={"reason": "nej"}).status_code == 403
    auth.logout()
    response = client.post(f"/actions/{action.id}/decline", data={"reason": "nej"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- hiding and redacting -------------------------------------------------------------


def test_a_moderator_hides_an_action_from_everyone_but_moderators(app, world, db, client, auth):
    w = world
    action = propose(app, w.official, w, message_id=None, title="Synlig åtgärd")
    hidden = propose(app, w.official, w, title="Dold åtgärd")
    assert hidden.accepted and action.accepted
    with app.test_request_context():
        before = fq.dashboard(utcnow().year, service.today(), utcnow()).total.action_total
    run(app, service.hide_action, w.moderator, hidden.id, "Personuppgifter i titeln.")
    db.session.expire_all()
    assert db.session.get(Action, hidden.id).hidden
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "action.hidden"))
    assert entry.target_type == "action" and entry.target_id == hidden.id
    assert entry.actor_id == w.moderator.id and "Personuppgifter" in entry.reason
    with app.test_request_context():
        with pytest.raises(NotFound):
            fq.get_action(w.member, hidden.id)
        with pytest.raises(NotFound):
            fq.get_action(w.official, hidden.id)  # the owner too
        assert fq.get_action(w.moderator, hidden.id).id == hidden.id
        assert hidden.id not in [a.id for a in fq.list_actions(w.member)]
        assert hidden.id in [a.id for a in fq.list_actions(w.moderator)]
        after = fq.dashboard(utcnow().year, service.today(), utcnow()).total.action_total
        assert after == before - 1
        mod_board = fq.dashboard(utcnow().year, service.today(), utcnow(), user=w.moderator)
        assert mod_board.total.action_total == before - 1
        assert hidden.id not in [a.id for a in fq.actions_of(w.official)[0]]
    # pages, API and exports
    assert client.get(f"/actions/{hidden.id}").status_code == 404
    listing = client.get("/api/v1/actions").get_json()
    assert hidden.id not in [a["id"] for a in listing["items"]]
    assert client.get(f"/api/v1/actions/{hidden.id}").status_code == 404
    figures = client.get("/api/v1/indicators").get_json()
    assert sum(figures["total"]["actions"].values()) == before - 1
    assert "Dold åtgärd" not in client.get("/actions").get_data(as_text=True)
    auth.login(w.moderator)
    page = client.get(f"/actions/{hidden.id}").get_data(as_text=True)
    assert "Hidden by a moderator" in page and "Personuppgifter i titeln." in page
    assert "Dold åtgärd" in client.get("/actions").get_data(as_text=True)
    # reversible: shown again, nothing lost
    run(app, service.unhide_action, w.moderator, hidden.id)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "action.unhidden"))
    with app.test_request_context():
        assert fq.get_action(w.member, hidden.id).title == "Dold åtgärd"
        assert fq.dashboard(utcnow().year, service.today(), utcnow()).total.action_total == before


def test_hiding_needs_a_moderator_and_a_reason(app, world, db):
    w = world
    action = propose(app, w.member, w)
    for person in (w.member, w.official, w.org_admin):
        with pytest.raises(Forbidden):
            run(app, service.hide_action, person, action.id, "nej")
    with pytest.raises(Invalid) as err:
        run(app, service.hide_action, w.moderator, action.id, "")
    assert err.value.field == "reason"
    db.session.rollback()
    # the forum's own moderator hides what came from their forum
    run(app, service.hide_action, w.forum_moderator, action.id, "Utanför ämnet.")
    with pytest.raises(Conflict):
        run(app, service.hide_action, w.moderator, action.id, "igen")
    # a hidden proposal is neither accepted nor declined, even by the admin
    with pytest.raises(Conflict):
        run(app, service.accept_action, w.admin, action.id)
    with pytest.raises(Conflict):
        run(app, service.decline_action, w.admin, action.id, "nej")
    with pytest.raises(NotFound):  # the owner side no longer sees it
        run(app, service.decline_action, w.official, action.id, "nej")
    run(app, service.unhide_action, w.moderator, action.id)
    with pytest.raises(Conflict):
        run(app, service.unhide_action, w.moderator, action.id)


def test_a_moderator_redacts_the_title_and_admins_keep_the_original(app, world, db, client, auth):
    w = world
    action = propose(app, w.member, w)
    with pytest.raises(Forbidden):
        run(app, service.redact_action_title, w.member, action.id, "Kvällsöppet", "")
    run(app, service.redact_action_title, w.moderator, action.id, "Kvällsöppet", "telefonnummer")
    db.session.expire_all()
    assert db.session.get(Action, action.id).title == "Kvällsöppet"
    assert db.session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.action == "action.redacted", AuditEntry.target_id == action.id
        )
    )
    auth.login(w.member)
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert "070-123 45 67" not in page and "Kvällsöppet" in page
    note = db.session.scalar(
        select(Notification.excerpt).where(
            Notification.user_id == w.official.id, Notification.kind == "action_awaiting"
        )
    )
    assert "070-123" not in note
    auth.login(w.moderator)
    assert "070-123 45 67" not in client.get(f"/actions/{action.id}").get_data(as_text=True)
    auth.login(w.admin)
    assert "070-123 45 67" in client.get(f"/actions/{action.id}").get_data(as_text=True)
    # the default replacement, and an unchanged title is refused
    with pytest.raises(Invalid):
        run(app, service.redact_action_title, w.moderator, action.id, "Kvällsöppet", "")


def test_notices_of_a_hidden_action_stop_quoting_its_title_until_it_is_shown(app, world, db):
    """The owner's side was told of the proposal (stored, and mail waiting to go): hidden, the
    notice keeps no text (the notifications page says it is hidden, in the reader's
    language) and the mail quotes a placeholder, not the title a moderator hid; shown
    again, the title is back."""
    from forum.models import OutboxMail

    w = world
    action = propose(app, w.member, w)
    title = action.title

    def quoted() -> tuple[str, list[str]]:
        note = db.session.scalar(
            select(Notification).where(
                Notification.user_id == w.official.id, Notification.kind == "action_awaiting"
            )
        )
        mails = db.session.scalars(
            select(OutboxMail.body).where(
                OutboxMail.notification_id == note.id, OutboxMail.sent_at.is_(None)
            )
        ).all()
        return note.excerpt, list(mails)

    excerpt, mails = quoted()
    assert title in excerpt and mails and all(title in body for body in mails)
    run(app, service.hide_action, w.moderator, action.id, "Kränkande rubrik")
    db.session.expire_all()
    excerpt, mails = quoted()
    assert excerpt == ""
    assert mails and not any(title in body for body in mails)
    assert all("[Åtgärden dold av en moderator]" in body for body in mails)
    run(app, service.unhide_action, w.moderator, action.id)
    db.session.expire_all()
    excerpt, mails = quoted()
    assert title in excerpt and all(title in body for body in mails)


def test_the_proposer_is_told_of_a_hide_a_show_and_a_redaction_in_their_language(
    app, world, db, client, auth
):
    """As a message's author is told of a moderator's step, an action's proposer is: with
    the moderator's reason, not their name, and never the hidden title; the moderator
    hiding an action of their own is not told."""
    from flask_babel import force_locale

    from forum.services.notifications import describe

    w = world
    w.member.locale = "en"
    db.session.commit()
    action = propose(app, w.member, w)
    title = action.title
    run(app, service.hide_action, w.moderator, action.id, "Kränkande rubrik")
    run(app, service.unhide_action, w.moderator, action.id)
    run(app, service.redact_action_title, w.moderator, action.id, "Kvällsöppet", "telefonnr")
    told = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == w.member.id, Notification.kind.like("moderation_%"))
        .order_by(Notification.id)
    ).all()
    assert [(n.kind, n.excerpt) for n in told] == [
        ("moderation_action_hidden", "Kränkande rubrik"),
        ("moderation_action_shown", ""),
        ("moderation_action_redacted", "telefonnr"),
    ]
    assert all(title not in n.excerpt and w.moderator.display_name not in n.excerpt for n in told)
    decision = db.session.scalar(
        select(ModerationAction).where(ModerationAction.follow_up_action_id == action.id)
    )
    # the hide notice leads to the decision, where it can be appealed (the action is a 404)
    assert told[0].url.endswith(f"/moderation/actions/{decision.id}")
    assert told[1].url.endswith(f"/actions/{action.id}")
    auth.login(w.member)
    page = client.get("/notifications", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "A moderator hid an action you proposed" in page
    assert "A moderator removed personal data from the title of an action you proposed" in page
    with app.test_request_context(), force_locale("sv"):
        assert describe("moderation_action_hidden", "", "") == (
            "En moderator har dolt en åtgärd som du föreslog"
        )
    own = propose(app, w.moderator, w)
    before = notes(db, w.moderator, "moderation_action_hidden")
    run(app, service.hide_action, w.moderator, own.id, "Fel forum")
    assert notes(db, w.moderator, "moderation_action_hidden") == before


def test_a_hidden_action_is_a_decision_its_proposer_can_appeal(app, world, db, client, auth):
    """Hiding an action is recorded as a moderation decision about its proposer, as hiding
    a message is: they see it (with their title), appeal it once, a moderator other than
    the one who hid it decides, and a reversal shows the action again, logged."""
    from forum.queries.moderation import pending_appeals

    w = world
    action = propose(app, w.member, w)
    run(app, service.hide_action, w.moderator, action.id, "Kränkande rubrik")
    decision = db.session.scalar(select(ModerationAction))
    assert (decision.kind, decision.subject_id, decision.actor_id) == (
        ActionKind.hide_action,
        w.member.id,
        w.moderator.id,
    )
    assert decision.follow_up_action_id == action.id and decision.reason == "Kränkande rubrik"
    assert decision.forum_id == w.forum.id  # the forum the action came from

    # someone else neither sees nor appeals it
    auth.login(w.org_admin)
    assert client.get(f"/moderation/actions/{decision.id}").status_code == 404
    refused = client.post(f"/moderation/actions/{decision.id}/appeal", data={"body": "Nej"})
    assert refused.status_code in (403, 404) and db.session.scalar(select(Appeal)) is None

    auth.login(w.member)
    page = client.get(f"/moderation/actions/{decision.id}").get_data(as_text=True)
    assert "Hidden follow-up action" in page and "Kränkande rubrik" in page
    assert action.title in page  # their own words, marked hidden
    assert f'action="/moderation/actions/{decision.id}/appeal"' in page
    empty = client.post(f"/moderation/actions/{decision.id}/appeal", data={"body": " "})
    assert empty.status_code == 400 and db.session.scalar(select(Appeal)) is None
    sent = client.post(
        f"/moderation/actions/{decision.id}/appeal", data={"body": "Rubriken var saklig."}
    )
    assert sent.status_code == 302
    appeal = db.session.scalar(select(Appeal))
    assert appeal.action_id == decision.id and appeal.user_id == w.member.id

    # not the moderator who hid it; the forum's moderator and the admin may decide
    assert pending_appeals(w.moderator) == []
    assert [a.id for a in pending_appeals(w.forum_moderator)] == [appeal.id]
    assert [a.id for a in pending_appeals(w.admin)] == [appeal.id]
    auth.login(w.moderator)
    refused = client.post(
        f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "reversed", "note": "x"}
    )
    assert refused.status_code in (403, 404) and db.session.get(Action, action.id).hidden

    auth.login(w.forum_moderator)
    queue = client.get("/moderation").get_data(as_text=True)
    assert "Rubriken var saklig." in queue and "Hidden follow-up action" in queue
    shown_before = notes(db, w.member, "moderation_action_shown")
    done = client.post(
        f"/moderation/appeals/{appeal.id}/decide",
        data={"outcome": "reversed", "note": "Rubriken var saklig."},
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Action, action.id).hidden
    assert db.session.get(ModerationAction, decision.id).reversed_at is not None
    assert db.session.get(Appeal, appeal.id).outcome == AppealOutcome.reversed
    logged = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "action.unhidden", AuditEntry.target_id == action.id
        )
    )
    assert logged.actor_id == w.forum_moderator.id and logged.reason == "appeal"
    # told once, by the appeal's decision, not a second time as "shown again"
    assert notes(db, w.member, "appeal_reversed") == 1
    assert notes(db, w.member, "moderation_action_shown") == shown_before
    auth.login(w.member)
    assert client.get(f"/actions/{action.id}").status_code == 200


def test_an_upheld_appeal_keeps_the_action_hidden_and_showing_it_closes_a_waiting_one(
    app, world, db
):
    w = world
    kept, shown = propose(app, w.member, w), propose(app, w.member, w)
    own = propose(app, w.moderator, w)
    for item in (kept, shown, own):
        run(app, service.hide_action, w.moderator, item.id, "Reklam")
    # hiding one's own proposal is no decision about anyone: nothing to appeal
    assert (
        db.session.scalar(
            select(func.count()).where(ModerationAction.follow_up_action_id == own.id)
        )
        == 0
    )
    decisions = {
        d.follow_up_action_id: d
        for d in db.session.scalars(select(ModerationAction).order_by(ModerationAction.id))
    }
    from forum.services import moderation

    first = run(app, moderation.appeal, w.member, decisions[kept.id].id, "Det var inte reklam.")
    run(app, moderation.decide_appeal, w.admin, first.id, "upheld", "Det var reklam.")
    assert db.session.get(Action, kept.id).hidden
    assert decisions[kept.id].reversed_at is None
    with pytest.raises(Conflict):  # once
        run(app, moderation.appeal, w.member, decisions[kept.id].id, "Igen")

    waiting = run(app, moderation.appeal, w.member, decisions[shown.id].id, "Titta igen.")
    run(app, service.unhide_action, w.moderator, shown.id)
    db.session.expire_all()
    assert decisions[shown.id].reversed_at is not None
    assert db.session.get(Appeal, waiting.id).outcome == AppealOutcome.lapsed
    assert notes(db, w.member, "appeal_lapsed") == 1


def test_the_person_a_hiding_is_about_cannot_show_it_again(app, world, db, client, auth):
    """A forum moderator's own proposal hidden by a site moderator: the hiding is a decision
    about them, which they appeal; they may not lift it by showing the action again (as
    nobody moderates their own messages). Others who may hide it still may show it."""
    from forum import policy

    w = world
    action = propose(app, w.forum_moderator, w)
    run(app, service.hide_action, w.moderator, action.id, "Fel forum")
    assert policy.can_hide_action(w.forum_moderator, action)
    assert not policy.can_show_action(w.forum_moderator, action, w.forum_moderator.id)
    assert policy.can_show_action(w.forum_moderator, action, None)  # no decision about them
    assert policy.can_show_action(w.admin, action, w.forum_moderator.id)
    assert not policy.can_show_action(w.member, action, None)
    with pytest.raises(Forbidden):
        run(app, service.unhide_action, w.forum_moderator, action.id)
    auth.login(w.forum_moderator)
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert 'id="unhide-action"' not in page and 'id="hidden-about-you"' in page
    assert client.post(f"/actions/{action.id}/unhide").status_code == 403
    db.session.expire_all()
    assert db.session.get(Action, action.id).hidden
    auth.login(w.admin)
    assert 'id="unhide-action"' in client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert client.post(f"/actions/{action.id}/unhide").status_code == 302
    db.session.expire_all()
    assert not db.session.get(Action, action.id).hidden


def test_the_transparency_page_counts_hidden_and_redacted_actions(app, world, client):
    """Moderation in the open counts a moderator's steps on actions too, by month, without
    names or titles (a hide shown again still counts: it happened)."""
    w = world
    first, second = propose(app, w.member, w), propose(app, w.member, w)
    run(app, service.hide_action, w.moderator, first.id, "Kränkande rubrik")
    run(app, service.unhide_action, w.moderator, first.id)
    run(app, service.hide_action, w.moderator, second.id, "Spam")
    run(app, service.redact_action_title, w.moderator, second.id, "Kvällsöppet", "telefonnr")
    page = client.get("/moderation/transparency", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    head = html[html.index('<table id="per-month">') : html.index("</thead>")]
    columns = re.findall(r'<th scope="col">([^<]+)</th>', head)
    row = html[html.index("<tbody>", html.index('id="per-month"')) :]
    counts = [int(n) for n in re.findall(r"<td>(\d+)</td>", row[: row.index("</tr>")])]
    assert counts[columns.index("Actions hidden") - 1] == 2
    assert counts[columns.index("Action titles redacted") - 1] == 1
    assert first.title not in html and w.moderator.display_name not in html


def test_the_hide_form_needs_a_reason_over_http(app, world, client, auth):
    w = world
    action = propose(app, w.member, w)
    auth.login(w.moderator)
    empty = client.post(f"/actions/{action.id}/hide", data={"reason": ""})
    assert empty.status_code == 400
    assert "This field is required." in empty.get_data(as_text=True)
    assert client.post(f"/actions/{action.id}/hide", data={"reason": "Spam"}).status_code == 302
    assert client.post(f"/actions/{action.id}/hide", data={"reason": "Spam"}).status_code == 409
    assert client.post(f"/actions/{action.id}/unhide").status_code == 302
    auth.login(w.member)
    assert client.post(f"/actions/{action.id}/hide", data={"reason": "x"}).status_code == 403


# --- counts and queries ---------------------------------------------------------------


def _many(app, w, n: int, db) -> None:
    """n accepted actions from the forum's thread, n declined proposals, n hidden actions."""
    for i in range(n):
        propose(app, w.official, w, title=f"Öppen {i}")
        declined = propose(app, w.member, w, title=f"Avböjd {i}")
        run(app, service.decline_action, w.official, declined.id, "Nej tack.")
        hidden = propose(app, w.official, w, title=f"Dold {i}")
        run(app, service.hide_action, w.moderator, hidden.id, "Spam")
    db.session.expire_all()


@pytest.mark.parametrize("who", ["visitor", "member", "forum_moderator", "moderator"])
def test_action_lists_and_the_dashboard_ask_the_same_queries_however_many_are_hidden(
    app, world, client, auth, count_queries, db, who
):
    w = world
    if who != "visitor":
        auth.login(getattr(w, who))
    counts: dict[str, list[int]] = {"/actions": [], "/uppfoljning": [], "/api/v1/actions": []}
    for batch in (1, 5):  # 1 of each, then 6 of each
        _many(app, w, batch, db)
        for url in counts:
            client.get(url)
            db.session.expire_all()
            with count_queries() as counter:
                response = client.get(url)
            assert response.status_code == 200
            counts[url].append(counter.count)
        page = client.get("/actions").get_data(as_text=True)
        shown_hidden = "Dold 0" in page
        assert shown_hidden is (who in ("forum_moderator", "moderator"))
        board = client.get("/uppfoljning").get_data(as_text=True)
        assert "Dold 0" not in board
    for url, pair in counts.items():
        assert pair[0] == pair[1], (url, pair)
    with app.test_request_context():
        total = fq.dashboard(utcnow().year, service.today(), utcnow()).total
    # only the accepted, visible ones count: 6 of them, none of the declined or hidden
    assert total.action_total == 6


def test_a_hidden_action_is_not_found_by_search_and_found_again_when_shown(
    app, world, client, auth
):
    w = world
    action = propose(app, w.official, w, title="Sommarläger för hela familjen")
    found = client.get("/search?q=sommarläger").get_data(as_text=True)
    assert f"/actions/{action.id}" in found
    run(app, service.hide_action, w.moderator, action.id, "Dubblett")
    for who in (None, w.moderator):
        if who is not None:
            auth.login(who)
        page = client.get("/search?q=sommarläger").get_data(as_text=True)
        assert f"/actions/{action.id}" not in page
    run(app, service.unhide_action, w.moderator, action.id)
    assert f"/actions/{action.id}" in client.get("/search?q=sommarläger").get_data(as_text=True)


def test_an_org_admin_who_lost_the_role_is_refused_over_http(app, world, db, client, auth):
    w = world
    action = propose(app, w.member, w, owner=f"organisation:{w.org.id}")
    auth.login(w.org_admin)
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert 'id="decline-reason"' in page
    db.session.execute(delete(Membership).where(Membership.user_id == w.org_admin.id))
    db.session.commit()
    page = client.get(f"/actions/{action.id}").get_data(as_text=True)
    assert 'id="decline-reason"' not in page
    response = client.post(f"/actions/{action.id}/decline", data={"reason": "nej"})
    assert response.status_code == 403
    db.session.expire_all()
    assert not db.session.get(Action, action.id).declined
