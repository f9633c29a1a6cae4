"""Requests to join an organisation and their answers reach the people concerned.

The organisation's page tells someone who asks to join that an admin will answer: the
admins are now told of the request (in the app, and by mail as each chose), and the person
is told the answer (approved, declined) and of a removal, in their own language. A second
click on "Decline" or "Remove" (or the form sent again after a lost answer) finds the first
one's work done and says so, not "not found"; withdrawing a request is not called leaving.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.models import Membership, MembershipStatus, Notification, OutboxMail
from forum.services import notifications
from forum.services import organisations as org_service


def run(app, fn, *args):
    with app.test_request_context():
        return fn(*args)


def notes_of(db, person) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == person.id).order_by(Notification.id)
        )
    )


def mails_to(db, person) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == person.email)))


@pytest.fixture
def club(make, db):
    """A verified organisation with two admins and a plain member; Swedish by choice."""
    admin, second_admin, member = make.user(), make.user(), make.user()
    org = make.organisation(admin=admin, members=[member], name="Läxhjälpen Hisingen")
    db.session.add(
        Membership(organisation_id=org.id, user_id=second_admin.id, role="admin", status="approved")
    )
    for person in (admin, second_admin, member):
        person.locale = "sv"
    db.session.commit()
    return org, admin, second_admin, member


def test_the_admins_are_told_of_a_request_to_join_and_nobody_else(app, make, db, club):
    org, admin, second_admin, member = club
    asker = make.user(name="Karin Frågvis")
    run(app, org_service.request_membership, asker, org.id)

    for person in (admin, second_admin):
        [note] = notes_of(db, person)
        assert note.kind == "membership_request"
        assert note.excerpt == "Läxhjälpen Hisingen"
        assert note.url == f"/organisations/{org.slug}#requests-heading"
        [mail] = mails_to(db, person)  # mail at once is the default
        assert "Karin Frågvis bad att få gå med i en organisation du administrerar" in mail.subject
    assert notes_of(db, member) == [] and notes_of(db, asker) == []


@pytest.mark.parametrize(
    ("answer", "kind", "sentence"),
    [
        (
            "approve",
            "membership_approved",
            "Din förfrågan om medlemskap i en organisation godkändes",
        ),
        ("reject", "membership_declined", "Din förfrågan om medlemskap i en organisation avböjdes"),
    ],
)
def test_the_asker_is_told_the_answer_in_their_language(
    app, make, db, club, answer, kind, sentence
):
    org, admin, _second, _member = club
    asker = make.user()
    asker.locale = "sv"
    db.session.commit()
    request = run(app, org_service.request_membership, asker, org.id)
    decide = org_service.approve_member if answer == "approve" else org_service.reject_member
    run(app, decide, admin, org.id, request.id)

    [note] = notes_of(db, asker)
    assert (note.kind, note.excerpt, note.actor_id) == (kind, "Läxhjälpen Hisingen", admin.id)
    [mail] = mails_to(db, asker)
    assert mail.subject == sentence
    assert f"/organisations/{org.slug}" in mail.body


def test_a_removed_member_is_told(app, db, club):
    org, admin, _second, member = club
    membership = db.session.scalar(select(Membership).where(Membership.user_id == member.id))
    run(app, org_service.remove_member, admin, org.id, membership.id)
    [note] = notes_of(db, member)
    assert note.kind == "membership_removed"
    assert mails_to(db, member)[0].subject == "Du togs bort ur en organisation"


def test_one_choice_in_the_settings_covers_the_answers(app, make, db, club):
    """Approved, declined and removed are one kind on the preferences page: "in the app
    only" for it stops all three mails; the admins' requests are a kind of their own."""
    org, admin, _second, _member = club
    assert notifications.preference_kind("membership_removed") == "membership"
    assert {"membership", "membership_request"} <= set(notifications.KINDS)
    asker = make.user()
    with app.test_request_context():
        notifications.save_preferences(asker, {"membership": notifications.IN_APP})
        request = org_service.request_membership(asker, org.id)
        org_service.approve_member(admin, org.id, request.id)
    assert [n.kind for n in notes_of(db, asker)] == ["membership_approved"]
    assert mails_to(db, asker) == []


def test_a_waiting_request_is_not_mailed_to_an_admin_demoted_since(app, make, db, club):
    """The digest names who asked: an admin who is no longer one by then is not mailed it
    (nor is its mail sent from the outbox after the demotion)."""
    org, admin, second_admin, _member = club
    with app.test_request_context():
        notifications.save_preferences(second_admin, {"membership_request": notifications.DIGEST})
    run(app, org_service.request_membership, make.user(), org.id)
    demoted = db.session.scalar(select(Membership).where(Membership.user_id == second_admin.id))
    run(app, org_service.set_member_role, admin, org.id, demoted.id, "member")

    run(app, notifications.send_digests)
    assert mails_to(db, second_admin) == []
    [note] = notes_of(db, second_admin)
    assert note.mail_state == notifications.WITHHELD


@pytest.mark.parametrize("action", ["remove", "reject"])
def test_a_second_click_finds_the_work_done(client, auth, db, club, make, action):
    org, admin, _second, member = club
    person = member
    if action == "reject":
        person = make.user()
        db.session.add(Membership(organisation_id=org.id, user_id=person.id))
        db.session.commit()
    mid = db.session.scalar(select(Membership.id).where(Membership.user_id == person.id))
    auth.login(admin)
    url = f"/organisations/{org.slug}/members/{mid}/{action}"
    assert client.post(url).status_code == 302
    second = client.post(url)
    assert second.status_code == 409
    said = "Personen är inte längre medlem." if action == "remove" else "redan besvarad"
    assert said in second.get_data(as_text=True)
    assert len(notes_of(db, person)) == 1  # told once


def test_someone_not_managing_gets_no_hint_of_a_gone_request(client, auth, db, club, make):
    """The second click's answer is for the organisation's admins: anyone else is refused
    before the request is looked up, as before."""
    org, _admin, _second, member = club
    auth.login(member)
    assert client.post(f"/organisations/{org.slug}/members/999999/reject").status_code == 403


def test_withdrawing_a_request_is_not_called_leaving(client, auth, db, club, make):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the asker chose no language
    org, _admin, _second, member = club
    asker = make.user()
    db.session.add(
        Membership(organisation_id=org.id, user_id=asker.id, status=MembershipStatus.pending)
    )
    db.session.commit()
    auth.login(asker)
    page = client.post(f"/organisations/{org.slug}/leave", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "Your request to join is withdrawn." in text
    assert "You are no longer a member." not in text

    auth.login(member)  # who chose Swedish
    page = client.post(f"/organisations/{org.slug}/leave", follow_redirects=True)
    assert "Du är inte längre medlem." in page.get_data(as_text=True)
