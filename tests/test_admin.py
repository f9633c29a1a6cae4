"""The admin page: access, verifying organisations, appointing roles, search, audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.models import (
    AuditEntry,
    Department,
    Organisation,
    OrganisationStatus,
    OutboxMail,
    User,
)
from forum.services import audit


def entries(db, action_prefix: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.like(f"{action_prefix}%"), AuditEntry.actor_id.isnot(None))
            .order_by(AuditEntry.id)
        )
    )


def reload(db, obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def pending_org(make, db, admin=None, creator=None):
    members = [creator] if creator is not None else []  # who registered it, still a member
    org = make.organisation(
        admin=admin, verified=False, name="Kooperativet Väntan", members=members
    )
    if creator is not None:
        org.created_by_id = creator.id
        db.session.commit()
    return org


@pytest.fixture(autouse=True)
def _english(client):
    """Pages are asked for in English, so the assertions survive the Swedish translation."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


# --- access ------------------------------------------------------------------


def test_visitor_is_sent_to_login(client):
    response = client.get("/admin")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["member", "official", "moderator"])
def test_non_admins_get_403(client, make, auth, role):
    auth.login(make.user(role))
    assert client.get("/admin").status_code == 403


def test_org_admin_gets_403(client, make, auth):
    admin = make.user()
    make.organisation(admin=admin)
    auth.login(admin)
    assert client.get("/admin").status_code == 403


def test_admin_sees_pending_organisations(client, make, auth, db):
    org = pending_org(make, db, admin=make.user())
    make.organisation(name="Redan verifierad")
    auth.login(make.user("admin"))
    response = client.get("/admin")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Kooperativet Väntan" in page
    assert "Redan verifierad" not in page
    assert f'action="/admin/organisations/{org.id}/verify"' in page
    assert f'<label for="reason-{org.id}">' in page


# --- verifying organisations ---------------------------------------------------


def test_admin_verifies_and_the_organisation_is_told(client, make, auth, db):
    org_admin, creator = (
        make.user(email="styrelse@example.se"),
        make.user(email="grundare@example.se"),
    )
    org_admin.locale = "en"  # mails follow the recipient's language, Swedish if unset
    db.session.commit()
    org = pending_org(make, db, admin=org_admin, creator=creator)
    admin = make.user("admin")
    auth.login(admin)

    response = client.post(f"/admin/organisations/{org.id}/verify")

    assert response.status_code == 302
    org = reload(db, org)
    assert org.status == OrganisationStatus.verified
    assert org.reviewed_at is not None
    [entry] = entries(db, "organisation.")
    assert (entry.action, entry.actor_id, entry.target_id) == (
        "organisation.verified",
        admin.id,
        org.id,
    )
    mail = {m.to_address: m for m in db.session.scalars(select(OutboxMail))}
    assert set(mail) == {"styrelse@example.se", "grundare@example.se"}
    assert "verified" in mail["styrelse@example.se"].subject
    assert f"/organisations/{org.slug}" in mail["styrelse@example.se"].body


def test_admin_rejects_with_a_reason(client, make, auth, db):
    org = pending_org(make, db, admin=make.user(email="styrelse@example.se"))
    admin = make.user("admin")
    auth.login(admin)

    response = client.post(
        f"/admin/organisations/{org.id}/reject", data={"reason": "Okänt nummer."}
    )

    assert response.status_code == 302
    org = reload(db, org)
    assert org.status == OrganisationStatus.rejected
    assert org.rejection_reason == "Okänt nummer."
    [entry] = entries(db, "organisation.")
    assert (entry.action, entry.reason) == ("organisation.rejected", "Okänt nummer.")
    [mail] = db.session.scalars(select(OutboxMail)).all()
    assert mail.to_address == "styrelse@example.se"
    assert "Okänt nummer." in mail.body


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejection_needs_a_reason(client, make, auth, db, reason):
    org = pending_org(make, db, admin=make.user())
    auth.login(make.user("admin"))
    response = client.post(f"/admin/organisations/{org.id}/reject", data={"reason": reason})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="reason-{org.id}-error"' in page
    assert "Give a reason" in page
    assert 'class="error-summary"' in page
    assert reload(db, org).status == OrganisationStatus.pending
    assert entries(db, "organisation.") == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0


@pytest.mark.parametrize("role", ["member", "official", "moderator", "org_admin"])
@pytest.mark.parametrize("action", ["verify", "reject"])
def test_only_admins_review_organisations(client, make, auth, db, role, action):
    org_admin = make.user()
    org = pending_org(make, db, admin=org_admin)
    auth.login(org_admin if role == "org_admin" else make.user(role))
    response = client.post(f"/admin/organisations/{org.id}/{action}", data={"reason": "Nej."})
    assert response.status_code == 403
    assert reload(db, org).status == OrganisationStatus.pending
    assert entries(db, "organisation.") == []


def test_verifying_twice_is_refused(client, make, auth, db):
    org = make.organisation(admin=make.user())
    auth.login(make.user("admin"))
    assert client.post(f"/admin/organisations/{org.id}/verify").status_code == 409
    assert entries(db, "organisation.") == []


@pytest.mark.parametrize("action", ["verify", "reject"])
def test_unknown_organisation_is_404(client, make, auth, action):
    auth.login(make.user("admin"))
    response = client.post(f"/admin/organisations/999999/{action}", data={"reason": "x"})
    assert response.status_code == 404


# --- roles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ({"role": "moderator"}, lambda u: u.is_moderator and not u.is_admin),
        ({"role": "admin"}, lambda u: u.is_admin),
        (
            {"role": "official", "department_id": "EXISTING"},
            lambda u: u.department.name == "Kulturnämnden",
        ),
        (
            {"role": "official", "department_name": "  Park- och  naturförvaltningen "},
            lambda u: u.department.name == "Park- och naturförvaltningen",
        ),
        (
            {"role": "official", "department_name": "kulturnämnden"},
            lambda u: u.department.name == "Kulturnämnden",
        ),
    ],
)
def test_admin_appoints_roles(client, make, auth, db, data, check):
    culture = db.session.scalar(select(Department).where(Department.name == "Kulturnämnden"))
    if culture is None:
        culture = Department(name="Kulturnämnden")
        db.session.add(culture)
        db.session.commit()
    departments_before = db.session.scalar(select(func.count()).select_from(Department))
    person = make.user()
    admin = make.user("admin")
    auth.login(admin)
    data = {k: (str(culture.id) if v == "EXISTING" else v) for k, v in data.items()}

    response = client.post(f"/admin/users/{person.id}/roles/grant", data=data)

    assert response.status_code == 302
    assert check(reload(db, person))
    [entry] = entries(db, "role.granted")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (admin.id, "user", person.id)
    assert entry.reason.startswith(data["role"])
    new_departments = "Park" in data.get("department_name", "")
    assert db.session.scalar(select(func.count()).select_from(Department)) == (
        departments_before + new_departments
    )


@pytest.mark.parametrize(
    ("data", "input_id"),
    [
        ({"role": "official"}, "department"),
        ({"role": "official", "department_id": "999999"}, "department"),
        ({"role": "official", "department_id": "abc"}, "department"),
        ({"role": "official", "department_name": "x" * 201}, "department-name"),  # its own box
        ({"role": "owner"}, "role"),
        ({"role": ""}, "role"),
    ],
)
def test_bad_appointments_are_refused(client, make, auth, db, data, input_id):
    person = make.user()
    auth.login(make.user("admin"))
    response = client.post(
        f"/admin/users/{person.id}/roles/grant", data={**data, "q": person.email}
    )
    assert response.status_code == 400
    assert f'id="{input_id}-{person.id}-error"' in response.get_data(as_text=True)
    person = reload(db, person)
    assert (person.is_admin, person.is_moderator, person.department_id) == (False, False, None)
    assert entries(db, "role.") == []


def test_a_new_department_named_by_two_admins_at_once_is_one_department(app, make, db, monkeypatch):
    """The second of two admins appointing an official to the same new department read the
    list before the first's department was committed, and its insert met the unique name (a
    500). It now takes the department the first made."""
    from forum.services import accounts
    from forum.services import admin as admin_service

    admin, first, second = make.user("admin"), make.user(), make.user()
    with app.test_request_context():
        admin_service.grant_role(admin, first.id, "official", department_name="Stadsbyggnad")
    for module in (accounts, admin_service):  # the list read before it was there
        monkeypatch.setattr(module, "departments", lambda: [], raising=False)
    with app.test_request_context():
        admin_service.grant_role(admin, second.id, "official", department_name="Stadsbyggnad")
    named = db.session.scalars(select(Department).where(Department.name == "Stadsbyggnad")).all()
    assert len(named) == 1
    assert reload(db, first).department_id == reload(db, second).department_id == named[0].id


@pytest.mark.parametrize("change", ["revoke", "grant"])
def test_an_admin_demoted_while_their_change_is_handled_changes_nothing(
    app, make, db, monkeypatch, change
):
    """Admins A and B revoke each other's role at the same moment: B's request, handled after
    A's was kept, finds B no longer an admin. Both succeeded, and no admin was left (or the
    demoted admin's grant still made someone an admin)."""
    from forum.errors import Forbidden
    from forum.services import admin as admin_service

    first, second, member = make.user("admin"), make.user("admin"), make.user()
    ids = (first.id, second.id, member.id)
    original = admin_service.lock_person
    steps = ["A revokes B"]

    def a_first(person_id):
        if steps:
            steps.pop()
            with app.test_request_context():
                admin_service.revoke_role(db.session.get(User, ids[0]), ids[1], "admin")
        original(person_id)

    monkeypatch.setattr(admin_service, "lock_person", a_first)
    with app.test_request_context(), pytest.raises(Forbidden):
        b = db.session.get(User, ids[1])
        if change == "revoke":
            admin_service.revoke_role(b, ids[0], "admin")
        else:
            admin_service.grant_role(b, ids[2], "admin")
    db.session.rollback()
    admins = db.session.scalars(select(User.id).where(User.is_admin)).all()
    assert admins == [ids[0]]


def test_granting_a_role_twice_is_refused(client, make, auth, db):
    person = make.user("moderator")
    auth.login(make.user("admin"))
    response = client.post(f"/admin/users/{person.id}/roles/grant", data={"role": "moderator"})
    assert response.status_code == 409
    assert entries(db, "role.") == []


@pytest.mark.parametrize(
    ("role", "check"),
    [
        ("official", lambda u: u.department_id is None),
        ("moderator", lambda u: not u.is_moderator),
        ("admin", lambda u: not u.is_admin),
    ],
)
def test_admin_removes_roles(client, make, auth, db, role, check):
    person = make.user(role)
    admin = make.user("admin")
    auth.login(admin)
    response = client.post(f"/admin/users/{person.id}/roles/revoke", data={"role": role})
    assert response.status_code == 302
    assert check(reload(db, person))
    [entry] = entries(db, "role.revoked")
    assert (entry.actor_id, entry.target_id) == (admin.id, person.id)
    assert entry.reason.startswith(role)


def test_removing_a_role_nobody_has_is_refused(client, make, auth, db):
    person = make.user()
    auth.login(make.user("admin"))
    response = client.post(f"/admin/users/{person.id}/roles/revoke", data={"role": "moderator"})
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("endpoint", "data"),
    [
        ("revoke", {"role": "admin"}),
        ("grant", {"role": "moderator"}),
        ("grant", {"role": "official", "department_name": "Kulturnämnden"}),
    ],
)
def test_nobody_changes_their_own_roles(client, make, auth, db, endpoint, data):
    admin = make.user("admin")
    auth.login(admin)
    response = client.post(f"/admin/users/{admin.id}/roles/{endpoint}", data=data)
    assert response.status_code == 403
    admin = reload(db, admin)
    assert (admin.is_admin, admin.is_moderator, admin.department_id) == (True, False, None)
    assert entries(db, "role.") == []


def test_own_row_has_no_role_buttons(client, make, auth):
    admin = make.user("admin", email="jag@example.se")
    auth.login(admin)
    page = client.get("/admin?q=jag@example.se").get_data(as_text=True)
    assert "Nobody can change their own roles." in page
    assert f"/admin/users/{admin.id}/roles" not in page


def test_each_person_but_an_admin_can_be_closed_on_request(client, make, auth):
    """Closing goes through a confirmation; an admin's own row and other admins' have no
    button (the role is removed first)."""
    admin = make.user("admin", email="jag@example.se")
    person = make.user(email="jagna@example.se")
    other_admin = make.user("admin", email="jagadmin@example.se")
    auth.login(admin)
    page = client.get("/admin?q=jag").get_data(as_text=True)
    assert f"/admin/users/{person.id}/close" in page
    assert f"/admin/users/{admin.id}/close" not in page
    assert f"/admin/users/{other_admin.id}/close" not in page


def test_admin_page_links_the_archives(client, make, auth):
    auth.login(make.user("admin"))
    assert 'href="/admin/archive"' in client.get("/admin").get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "official", "moderator"])
@pytest.mark.parametrize("endpoint", ["grant", "revoke"])
def test_non_admins_cannot_change_roles(client, make, auth, db, role, endpoint):
    person = make.user("moderator")
    actor = make.user(role)
    auth.login(actor)
    response = client.post(f"/admin/users/{person.id}/roles/{endpoint}", data={"role": "moderator"})
    assert response.status_code == 403
    assert reload(db, person).is_moderator
    assert entries(db, "role.") == []


@pytest.mark.parametrize("endpoint", ["grant", "revoke"])
def test_unknown_user_is_404(client, make, auth, endpoint):
    auth.login(make.user("admin"))
    response = client.post(f"/admin/users/999999/roles/{endpoint}", data={"role": "moderator"})
    assert response.status_code == 404


# --- search and audit ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found", "not_found"),
    [
        ("stina", ["Stina Svensson"], ["Karl Karlsson"]),
        ("KARL@EXAMPLE", ["Karl Karlsson"], ["Stina Svensson"]),
        ("%", [], ["Stina Svensson", "Karl Karlsson"]),
        ("_", [], ["Stina Svensson", "Karl Karlsson"]),
    ],
)
def test_find_people_by_name_or_email(client, make, auth, query, found, not_found):
    make.user(name="Stina Svensson", email="stina@example.se")
    make.user(name="Karl Karlsson", email="karl@example.se")
    auth.login(make.user("admin"))
    page = client.get("/admin", query_string={"q": query}).get_data(as_text=True)
    for name in found:
        assert name in page
    for name in not_found:
        assert name not in page


def test_without_a_search_people_with_roles_are_listed(client, make, auth):
    make.user("moderator", name="Maja Moderator")
    make.user(name="Mira Medlem")
    auth.login(make.user("admin"))
    page = client.get("/admin").get_data(as_text=True)
    assert "Maja Moderator" in page
    assert "Mira Medlem" not in page


def test_audit_log_shows_the_latest_fifty(client, make, auth, db):
    admin = make.user("admin")
    for n in range(60):
        audit.record(admin, "test.step", "thing", n, f"steg-{n:02d}.")
    db.session.commit()
    auth.login(admin)
    page = client.get("/admin").get_data(as_text=True)
    assert "steg-59." in page
    assert "steg-10." in page
    assert "steg-09." not in page
    assert page.count('data-event="test.step"') == 50


def test_role_changes_appear_in_the_audit_log(client, make, auth, db):
    person = make.user()
    auth.login(make.user("admin"))
    client.post(
        f"/admin/users/{person.id}/roles/grant",
        data={"role": "official", "department_name": "Idrotts- och föreningsnämnden"},
    )
    page = client.get("/admin").get_data(as_text=True)
    assert 'data-event="role.granted"' in page
    assert "Official (Idrotts- och föreningsnämnden)" in page  # the role in words
    assert db.session.scalar(select(User).where(User.id == person.id)).is_official


def test_registered_organisation_then_verified_end_to_end(client, make, auth, db):
    founder = make.user(email="grundare@example.se")
    auth.login(founder)
    client.post(
        "/organisations/new",
        data={"name": "Stiftelsen Öppen", "legal_form": "stiftelse", "org_number": "5560125790"},
    )
    org = db.session.scalar(select(Organisation))
    assert org.status == OrganisationStatus.pending
    assert (
        "Stiftelsen Öppen"
        not in client.get("/organisations").get_data(as_text=True).split("verified-heading")[1]
    )

    auth.login(make.user("admin"))
    assert "Stiftelsen Öppen" in client.get("/admin").get_data(as_text=True)
    client.post(f"/admin/organisations/{org.id}/verify")
    page = client.get("/admin").get_data(as_text=True)
    pending_section = page.split('id="pending-heading"')[1].split('id="people-heading"')[0]
    assert "Stiftelsen Öppen" not in pending_section
    assert "No organisation is waiting." in pending_section
    auth.logout()
    listing = client.get("/organisations").get_data(as_text=True)
    assert "Stiftelsen Öppen" in listing
    [mail] = db.session.scalars(select(OutboxMail)).all()
    assert mail.to_address == "grundare@example.se"


def test_a_refused_form_with_a_nul_in_its_search_redraws_the_page(client, make, auth):
    """A refused appointment draws the page again, searching with the form's `q`: with a
    NUL in it, PostgreSQL could not run the search (a 500)."""
    person = make.user(name="Tove Test")
    auth.login(make.user("admin"))
    response = client.post(
        f"/admin/users/{person.id}/roles/grant", data={"role": "", "q": "Tove\x00"}
    )
    assert response.status_code == 400
    assert "Tove Test" in response.get_data(as_text=True)
