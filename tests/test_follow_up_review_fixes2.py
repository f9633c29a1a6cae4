"""Follow-up actions, as a review found them: the admins of an organisation rejected after it
owned actions still accepted, changed and updated them (and were reminded of them), though
they speak for it nowhere else; and a dashboard row filtered by a department linked to a
list of every department's actions, so its counts and the list disagreed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from forum.errors import Forbidden
from forum.models import Department
from forum.services import follow_up as service
from forum.services import organisations as org_service


def propose(app, user, owner: str, thread, message=None, title: str = "Kvällsöppet"):
    with app.test_request_context():
        return service.propose_action(
            user,
            service.ActionInput(
                title=title,
                owner=owner,
                due_date=(service.today() + timedelta(days=60)).isoformat(),
                commitment_ids=[thread.commitments[0].id],
                message_id=message.id if message is not None else None,
            ),
        )


def test_a_rejected_organisations_admin_no_longer_acts_for_its_actions(app, make, db):
    official, admin, chair, member = (
        make.user("official"),
        make.user("admin"),
        make.user(),
        make.user(),
    )
    org = make.organisation(admin=chair, members=[member])
    thread = make.thread(forum=make.forum(owner=official), author=official)
    message = make.message(thread, member, "Förslag")
    accepted = propose(app, chair, f"organisation:{org.id}", thread, message)  # its own side
    waiting = propose(app, member, f"organisation:{org.id}", thread, message, "Läxhjälp")
    assert accepted.accepted and not waiting.accepted
    with app.test_request_context():
        assert service.owner_people(accepted) == [chair]
        org_service.reject_organisation(admin, org.id, "Falskt organisationsnummer.")
    for act in (
        lambda: service.post_update(chair, accepted.id, "Vi fortsätter ändå."),
        lambda: service.change_action(chair, accepted.id, "done", "100"),
        lambda: service.accept_action(chair, waiting.id),
    ):
        with app.test_request_context(), pytest.raises(Forbidden):
            act()
        db.session.rollback()
    with app.test_request_context():
        accepted = db.session.merge(accepted)
        assert service.owner_people(accepted) == []  # not reminded, not asked


def test_a_dashboard_rows_link_keeps_its_department(app, make, db, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    official = make.user("official")  # Social resursnämnd
    culture_official = make.user("official", department="Kulturnämnden")
    thread = make.thread(forum=make.forum(owner=official), author=official)
    commitment = thread.commitments[0]
    social, culture = (
        db.session.scalar(select(Department).where(Department.name == name))
        for name in ("Social resursnämnd", "Kulturnämnden")
    )
    propose(app, official, f"department:{social.id}", thread, title="Sociala")
    propose(app, culture_official, f"department:{culture.id}", thread, title="Kulturens")
    page = client.get(f"/uppfoljning?department={social.id}").get_data(as_text=True)
    row = page.split(f'id="row-{commitment.slug}"', 1)[1].split("</tr>", 1)[0]
    href = re.search(r'href="([^"]+)"', row)[1].replace("&amp;", "&")
    listed = client.get(href).get_data(as_text=True)
    assert "Sociala" in listed and "Kulturens" not in listed, href
    report = client.get(f"/uppfoljning/rapport?department={social.id}").get_data(as_text=True)
    assert 'href="/uppfoljning?year=' in report and f"department={social.id}" in report
