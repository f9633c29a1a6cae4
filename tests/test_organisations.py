"""Organisations: number validation, registration, the pages, joining and managing members."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum import policy
from forum.errors import Conflict, Invalid
from forum.models import (
    AuditEntry,
    MemberRole,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationStatus,
)
from forum.services import organisations as org_service

VALID = "802456-1238"


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def membership(db, org, user) -> Membership | None:
    db.session.expire_all()
    return db.session.scalar(
        select(Membership).where(
            Membership.organisation_id == org.id, Membership.user_id == user.id
        )
    )


def org_audit(db) -> list[str]:
    """The audit actions about organisations (account factories record role grants too)."""
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == "organisation")
            .order_by(AuditEntry.id)
        )
    )


def registration(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Föreningen Läxhjälp Hisingen",
        "legal_form": "forening",
        "org_number": VALID,
        "description": "Läxhjälp och språkcafé.\n\nVarje tisdag.",
        "website": "https://example.org/laxhjalp",
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def _english(client):
    """Pages are asked for in English, so the assertions survive the Swedish translation."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


# --- organisation numbers ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("802456-1238", "802456-1238"),
        ("8024561238", "802456-1238"),
        ("  556012-5790 ", "556012-5790"),
        ("5560125790", "556012-5790"),
        ("802002-5394", "802002-5394"),
        ("716400-1344", "716400-1344"),
    ],
)
def test_valid_org_numbers_are_normalised_with_hyphen(app, raw, expected):
    assert org_service.normalise_org_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "802456-1233",  # wrong check digit
        "8024561233",  # wrong check digit, no hyphen
        "556012-5791",
        "000000-0001",
        "80245-61238",  # hyphen in the wrong place
        "802456--1238",
        "802456 1238",
        "802456-123",  # nine digits
        "802456-12380",  # eleven digits
        "16802456-1238",  # twelve-digit form is not accepted
        "80245a-1238",
        "٨٠٢٤٥٦-١٢٣٨",  # Arabic-Indic digits are not ASCII digits
        "",
        "   ",
    ],
)
def test_invalid_org_numbers_are_refused(app, raw):
    with app.test_request_context(), pytest.raises(Invalid) as err:
        org_service.normalise_org_number(raw)
    assert err.value.field == "org_number"


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("8024561238", True), ("5560125790", True), ("0", True), ("8024561237", False), ("", False)],
)
def test_luhn(digits, valid):
    assert org_service.luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("https://example.org", "https://example.org"),
        ("http://example.org/a?b=c", "http://example.org/a?b=c"),
        ("HTTPS://Example.org", "HTTPS://Example.org"),
    ],
)
def test_website_accepts_http_and_https(app, raw, expected):
    assert org_service.clean_website(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "JavaScript://example.org/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org",
        "example.org",
        "//example.org",
        "https://",
        "https://exa mple.org",
        "https://example.org/\nx",
        "https://" + "a" * 300 + ".se",
    ],
)
def test_website_refuses_other_schemes_and_junk(app, raw):
    with app.test_request_context(), pytest.raises(Invalid) as err:
        org_service.clean_website(raw)
    assert err.value.field == "website"


# --- registration ------------------------------------------------------------


def test_visitor_is_sent_to_login_to_register(client):
    response = client.get("/organisations/new")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_register_organisation(client, make, auth, db):
    user = make.user()
    auth.login(user)
    form_page = client.get("/organisations/new")
    assert form_page.status_code == 200
    assert "<legend" in form_page.get_data(as_text=True)

    response = client.post("/organisations/new", data=registration(org_number="8024561238"))

    assert response.status_code == 302
    org = db.session.scalar(select(Organisation))
    assert response.headers["Location"].endswith(f"/organisations/{org.slug}")
    assert org.slug == "foreningen-laxhjalp-hisingen"
    assert org.org_number == VALID
    assert org.status == OrganisationStatus.pending
    assert org.created_by_id == user.id
    assert org.website == "https://example.org/laxhjalp"
    mine = membership(db, org, user)
    assert (mine.role, mine.status) == (MemberRole.admin, MembershipStatus.approved)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.target_type == "organisation"))
    assert (entry.action, entry.target_id, entry.actor_id) == (
        "organisation.registered",
        org.id,
        user.id,
    )

    page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    assert "Föreningen Läxhjälp Hisingen" in page
    assert VALID in page
    assert 'href="https://example.org/laxhjalp" rel="nofollow noopener"' in page
    assert "Awaiting verification" in page
    assert "<p>Varje tisdag.</p>" in page


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_description_from_a_browser_keeps_its_paragraphs(client, make, auth, db, newline):
    """A textarea is sent with CR LF line breaks: stored as LF, the page shows two paragraphs."""
    auth.login(make.user())
    description = f"Läxhjälp.{newline}{newline}Varje tisdag.{newline}"
    response = client.post("/organisations/new", data=registration(description=description))
    assert response.status_code == 302
    org = db.session.scalar(select(Organisation))
    assert org.description == "Läxhjälp.\n\nVarje tisdag."
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<p>Läxhjälp.</p>" in page
    assert "<p>Varje tisdag.</p>" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"org_number": "802456-1233"}, "org_number", "not a valid organisation number"),
        ({"org_number": "802456123"}, "org_number", "NNNNNN-NNNN"),
        ({"org_number": ""}, "org_number", "required"),
        ({"website": "javascript:alert(1)"}, "website", "https://"),
        ({"website": "ftp://example.org"}, "website", "https://"),
        ({"name": "x" * 201}, "name", "At most 200"),
        ({"name": ""}, "name", "required"),
        ({"legal_form": "aktiebolag"}, "legal_form", "form"),
        ({"legal_form": ""}, "legal_form", "form"),
        ({"description": "y" * 5001}, "description", "At most 5000"),
    ],
)
def test_register_refuses_bad_input_and_writes_nothing(
    client, make, auth, db, overrides, field, message
):
    auth.login(make.user())
    response = client.post("/organisations/new", data=registration(**overrides))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'class="error-summary"' in page
    assert f'id="{field}-error"' in page
    assert message in page
    assert count(db, Organisation) == 0
    assert count(db, Membership) == 0
    assert org_audit(db) == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("\u202eGothenburg City\u202c", "U+202E"),  # right-to-left override: reads backwards
        ("\u200b", "U+200B"),  # a zero-width space alone: a name nobody sees
        ("Läx\u200dhjälp", "U+200D"),
        ("Förening\u2066 Hisingen", "U+2066"),
    ],
)
def test_name_with_an_invisible_character_is_refused(client, make, auth, db, name, code):
    """An organisation's name is shown beside its members' messages: it follows the rule
    for display names (no bidi controls, zero-width or other invisible characters)."""
    auth.login(make.user())
    response = client.post("/organisations/new", data=registration(name=name))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="name-error"' in page
    assert f"invisible or control character ({code})" in page
    assert count(db, Organisation) == 0


def test_duplicate_number_is_a_field_error(client, make, auth, db):
    auth.login(make.user())
    assert client.post("/organisations/new", data=registration()).status_code == 302
    response = client.post(
        "/organisations/new", data=registration(name="Another name", org_number="8024561238")
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="org_number-error"' in page
    assert "already registered" in page
    assert count(db, Organisation) == 1


def test_slugs_stay_unique(client, make, auth, db):
    auth.login(make.user())
    client.post("/organisations/new", data=registration(name="Gemenskap"))
    client.post("/organisations/new", data=registration(name="Gemenskap", org_number="5560125790"))
    slugs = set(db.session.scalars(select(Organisation.slug)))
    assert slugs == {"gemenskap", "gemenskap-2"}


@pytest.mark.parametrize("name", ["New", "NEW", "Nëw", "new!"])
def test_a_name_that_makes_a_route_word_gets_a_page_of_its_own(client, make, auth, db, name):
    """/organisations/new is the registration form: an organisation called "New" would
    have a page nobody could reach."""
    auth.login(make.user())
    response = client.post("/organisations/new", data=registration(name=name))
    assert response.status_code == 302
    org = db.session.scalar(select(Organisation))
    assert org.slug == "new-2"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert f"<h1>{name}</h1>" in page.get_data(as_text=True)


def verdict_mailed_to(db) -> set[str]:
    """Who got the review's mail (the notices of joining before it are notifications')."""
    from forum.models import OutboxMail

    mails = select(OutboxMail).where(OutboxMail.notification_id.is_(None))
    return {m.to_address for m in db.session.scalars(mails)}


@pytest.mark.parametrize("verdict", ["verify", "reject"])
def test_a_removed_founder_is_not_told_the_verdict(client, make, auth, db, verdict):
    """The review's mail (with a rejection's reason) goes to the organisation's admins, and
    to the person who registered it only while they are still a member."""
    founder, successor, member = make.user(), make.user(), make.user()
    auth.login(founder)
    client.post("/organisations/new", data=registration())
    org = db.session.scalar(select(Organisation))
    for person in (successor, member):
        org_service.request_membership(person, org.id)
        org_service.approve_member(founder, org.id, membership(db, org, person).id)
    org_service.set_member_role(founder, org.id, membership(db, org, successor).id, "admin")
    org_service.remove_member(successor, org.id, membership(db, org, founder).id)

    admin = make.user("admin")
    if verdict == "verify":
        org_service.verify_organisation(admin, org.id)
    else:
        org_service.reject_organisation(admin, org.id, "Styrelsetvist med grundaren.")

    told = verdict_mailed_to(db)
    assert told == {successor.email}


def test_a_founder_still_a_member_is_told_the_verdict(client, make, auth, db):
    founder, successor = make.user(), make.user()
    auth.login(founder)
    client.post("/organisations/new", data=registration())
    org = db.session.scalar(select(Organisation))
    org_service.request_membership(successor, org.id)
    org_service.approve_member(founder, org.id, membership(db, org, successor).id)
    org_service.set_member_role(founder, org.id, membership(db, org, successor).id, "admin")
    org_service.set_member_role(successor, org.id, membership(db, org, founder).id, "member")

    org_service.reject_organisation(make.user("admin"), org.id, "Okänt nummer.")

    told = verdict_mailed_to(db)
    assert told == {founder.email, successor.email}


# --- pages -------------------------------------------------------------------


def test_list_shows_verified_and_own_pending(client, make, auth):
    me = make.user()
    make.organisation(name="Verifierad förening")
    make.organisation(name="Min väntande", admin=me, verified=False)
    make.organisation(name="Någon annans väntande", verified=False)
    page = client.get("/organisations").get_data(as_text=True)
    assert "Verifierad förening" in page
    assert "väntande" not in page

    auth.login(me)
    page = client.get("/organisations").get_data(as_text=True)
    assert "Verifierad förening" in page
    assert "Min väntande" in page
    assert "Någon annans väntande" not in page


def test_unknown_slug_is_404(client):
    assert client.get("/organisations/no-such-org").status_code == 404


def test_rejected_organisation_is_hidden_from_others(client, make, auth, db):
    admin = make.user()
    org = make.organisation(admin=admin, verified=False)
    org.status = OrganisationStatus.rejected
    db.session.commit()
    assert client.get(f"/organisations/{org.slug}").status_code == 404
    auth.login(admin)
    assert client.get(f"/organisations/{org.slug}").status_code == 200


def test_members_list_is_for_members(client, make, auth):
    admin, member, outsider = make.user(), make.user(name="Mira Medlem"), make.user()
    org = make.organisation(admin=admin, members=[member])
    assert "Mira Medlem" not in client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    auth.login(outsider)
    page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    assert "Mira Medlem" not in page
    assert "Ask to join" in page
    auth.login(member)
    page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    assert "Mira Medlem" in page
    assert "Requests to join" not in page
    auth.login(admin)
    page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    assert "Requests to join" in page
    assert "Make an admin" in page


# --- joining and managing members ---------------------------------------------


def test_join_approve_then_listed(client, make, auth, db):
    admin, newcomer = make.user(), make.user(name="Nils Ny")
    org = make.organisation(admin=admin)

    auth.login(newcomer)
    assert client.post(f"/organisations/{org.slug}/join").status_code == 302
    pending = membership(db, org, newcomer)
    assert pending.status == MembershipStatus.pending
    assert not policy.can_act_for_organisation(newcomer, org)

    auth.login(admin)
    page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    assert "Nils Ny" in page
    response = client.post(f"/organisations/{org.slug}/members/{pending.id}/approve")
    assert response.status_code == 302
    approved = membership(db, org, newcomer)
    assert (approved.status, approved.role) == (MembershipStatus.approved, MemberRole.member)
    assert policy.can_act_for_organisation(newcomer, org)

    auth.login(newcomer)
    page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
    assert "You are a member of this organisation." in page
    assert "Nils Ny</a>" in page
    assert org_audit(db) == ["membership.requested", "membership.approved"]


def test_a_user_can_belong_to_several_organisations(client, make, auth, db):
    user = make.user()
    first, second = make.organisation(admin=make.user()), make.organisation(admin=make.user())
    auth.login(user)
    for org in (first, second):
        assert client.post(f"/organisations/{org.slug}/join").status_code == 302
    assert membership(db, first, user) is not None
    assert membership(db, second, user) is not None


def test_joining_twice_is_refused(client, make, auth, db):
    user = make.user()
    org = make.organisation(admin=make.user())
    auth.login(user)
    client.post(f"/organisations/{org.slug}/join")
    response = client.post(f"/organisations/{org.slug}/join")
    assert response.status_code == 409
    assert "already a member or have asked" in response.get_data(as_text=True)
    assert count(db, Membership) == 2


def test_visitor_join_goes_to_login(client, make, db):
    org = make.organisation(admin=make.user())
    response = client.post(f"/organisations/{org.slug}/join")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert count(db, Membership) == 1


@pytest.mark.parametrize("who", ["member", "outsider", "requester", "official", "moderator"])
def test_only_org_admins_approve_members(client, make, auth, db, who):
    member, requester = make.user(), make.user()
    org = make.organisation(admin=make.user(), members=[member])
    db.session.add(Membership(organisation_id=org.id, user_id=requester.id))
    db.session.commit()
    request = membership(db, org, requester)
    actor = {
        "member": member,
        "requester": requester,
        "outsider": make.user(),
        "official": make.user("official"),
        "moderator": make.user("moderator"),
    }[who]
    auth.login(actor)
    for action in ("approve", "reject"):
        response = client.post(f"/organisations/{org.slug}/members/{request.id}/{action}")
        assert response.status_code == 403
    assert membership(db, org, requester).status == MembershipStatus.pending
    assert org_audit(db) == []


def test_site_admin_may_manage_members(client, make, auth, db):
    requester = make.user()
    org = make.organisation(admin=make.user())
    db.session.add(Membership(organisation_id=org.id, user_id=requester.id))
    db.session.commit()
    auth.login(make.user("admin"))
    request = membership(db, org, requester)
    assert client.post(f"/organisations/{org.slug}/members/{request.id}/approve").status_code == 302
    assert membership(db, org, requester).status == MembershipStatus.approved


def test_org_admin_declines_removes_and_promotes(client, make, auth, db):
    admin, member, requester = make.user(), make.user(), make.user()
    org = make.organisation(admin=admin, members=[member])
    db.session.add(Membership(organisation_id=org.id, user_id=requester.id))
    db.session.commit()
    auth.login(admin)
    base = f"/organisations/{org.slug}/members"

    assert client.post(f"{base}/{membership(db, org, requester).id}/reject").status_code == 302
    assert membership(db, org, requester) is None

    member_id = membership(db, org, member).id
    assert client.post(f"{base}/{member_id}/role", data={"role": "admin"}).status_code == 302
    assert membership(db, org, member).role == MemberRole.admin
    assert client.post(f"{base}/{member_id}/role", data={"role": "member"}).status_code == 302
    assert membership(db, org, member).role == MemberRole.member
    assert client.post(f"{base}/{member_id}/role", data={"role": "owner"}).status_code == 400
    assert client.post(f"{base}/{member_id}/remove").status_code == 302
    assert membership(db, org, member) is None
    assert org_audit(db) == [
        "membership.rejected",
        "membership.admin_granted",
        "membership.admin_removed",
        "membership.removed",
    ]


@pytest.mark.parametrize("how", ["leave", "remove", "demote"])
def test_last_admin_stays(client, make, auth, db, how):
    admin = make.user()
    org = make.organisation(admin=admin, members=[make.user()])
    own = membership(db, org, admin)
    auth.login(admin)
    url = {
        "leave": f"/organisations/{org.slug}/leave",
        "remove": f"/organisations/{org.slug}/members/{own.id}/remove",
        "demote": f"/organisations/{org.slug}/members/{own.id}/role",
    }[how]
    response = client.post(url, data={"role": "member"})
    assert response.status_code == 409
    assert "admin" in response.get_data(as_text=True)
    kept = membership(db, org, admin)
    assert (kept.role, kept.status) == (MemberRole.admin, MembershipStatus.approved)
    assert org_audit(db) == []


@pytest.mark.parametrize("how", ["leave", "close the account", "an admin closes it"])
def test_the_last_admin_of_a_rejected_organisation_may_go(app, client, make, auth, db, how):
    """A rejected organisation takes no members, so nobody could take the role over: its
    admin may leave it, and close their account (or have an admin close it), where before
    every way out was refused until they appointed another admin."""
    from support import PASSWORD

    from forum.models import User
    from forum.services import privacy

    person, site_admin = make.user(), make.user("admin")
    org = make.organisation(admin=person, verified=False)
    with app.test_request_context():
        org_service.reject_organisation(site_admin, org.id, "Inte en förening.")
    if how == "leave":
        auth.login(person)
        assert client.post(f"/organisations/{org.slug}/leave").status_code == 302
        assert membership(db, org, person) is None
        return
    actor = person if how == "close the account" else site_admin
    with app.test_request_context():
        privacy.close_account(actor, person.id, PASSWORD if actor is person else None, "10.0.0.9")
    assert db.session.get(User, person.id).is_closed


def test_the_last_admin_of_a_rejected_organisation_with_members_hands_over_first(
    app, client, make, auth, db
):
    """Members from before the rejection stay, and the organisation may be verified again:
    one of them takes the role over, as in any organisation."""
    person, site_admin, member = make.user(), make.user("admin"), make.user()
    org = make.organisation(admin=person, members=[member], verified=False)
    with app.test_request_context():
        org_service.reject_organisation(site_admin, org.id, "Inte en förening.")
    auth.login(person)
    assert client.post(f"/organisations/{org.slug}/leave").status_code == 409
    assert membership(db, org, person).role == MemberRole.admin


def test_the_last_admin_of_a_verified_organisation_still_hands_over_before_closing(app, make):
    from support import PASSWORD

    from forum.services import privacy

    person = make.user()
    org = make.organisation(admin=person, members=[make.user()])
    with app.test_request_context(), pytest.raises(Conflict) as refused:
        privacy.close_account(person, person.id, PASSWORD, "10.0.0.9")
    assert org.name in refused.value.message


def test_an_admin_may_leave_once_another_admin_exists(client, make, auth, db):
    admin, member = make.user(), make.user()
    org = make.organisation(admin=admin, members=[member])
    auth.login(admin)
    client.post(
        f"/organisations/{org.slug}/members/{membership(db, org, member).id}/role",
        data={"role": "admin"},
    )
    assert client.post(f"/organisations/{org.slug}/leave").status_code == 302
    assert membership(db, org, admin) is None
    assert membership(db, org, member).role == MemberRole.admin


@pytest.mark.parametrize("status", [MembershipStatus.approved, MembershipStatus.pending])
def test_member_leaves_or_withdraws(client, make, auth, db, status):
    user = make.user()
    org = make.organisation(admin=make.user())
    db.session.add(Membership(organisation_id=org.id, user_id=user.id, status=status))
    db.session.commit()
    auth.login(user)
    assert client.post(f"/organisations/{org.slug}/leave").status_code == 302
    assert membership(db, org, user) is None


def test_leaving_without_membership_is_refused(client, make, auth):
    org = make.organisation(admin=make.user())
    auth.login(make.user())
    assert client.post(f"/organisations/{org.slug}/leave").status_code == 409


def test_unknown_ids_are_404(client, make, auth, db):
    admin = make.user()
    org = make.organisation(admin=admin)
    other = make.organisation(admin=make.user())
    elsewhere = db.session.scalar(select(Membership).where(Membership.organisation_id == other.id))
    auth.login(admin)
    for membership_id in (999999, elsewhere.id):
        for action in ("approve", "reject", "remove", "role"):
            url = f"/organisations/{org.slug}/members/{membership_id}/{action}"
            # declining or removing one that is not there is done already (a double click's
            # second request finds it so: tests/test_membership_notices.py), not "not found"
            gone = membership_id == 999999 and action in ("reject", "remove")
            status = client.post(url, data={"role": "admin"}).status_code
            assert status == (409 if gone else 404), (membership_id, action)
    assert client.post("/organisations/no-such-org/join").status_code == 404


def test_cannot_join_a_rejected_organisation(client, make, auth, db):
    org = make.organisation(admin=make.user(), verified=False)
    org.status = OrganisationStatus.rejected
    db.session.commit()
    auth.login(make.user())
    assert client.post(f"/organisations/{org.slug}/join").status_code == 404
    assert count(db, Membership) == 1


def test_unverified_organisation_members_cannot_act_for_it(client, make, auth, db):
    admin, member = make.user(), make.user()
    org = make.organisation(admin=admin, members=[member], verified=False)
    assert not policy.can_act_for_organisation(admin, org)
    assert not policy.can_act_for_organisation(member, org)
    # Managing members does not wait for verification.
    assert policy.can_manage_organisation(admin, org)

    auth.login(make.user("admin"))
    assert client.post(f"/admin/organisations/{org.id}/verify").status_code == 302
    db.session.refresh(org)
    assert org.is_verified
    assert policy.can_act_for_organisation(admin, org)
    assert policy.can_act_for_organisation(member, org)
    assert not policy.can_act_for_organisation(make.user(), org)


def test_asking_to_join_is_no_window_on_a_rejected_organisation(app, client, make, auth, db):
    """Someone who only asked to join sees neither a rejected organisation's page nor the
    admin's reason; its approved members still do."""
    founder, asker, member = make.user(), make.user(), make.user()
    org = make.organisation(admin=founder)
    with app.test_request_context():
        org_service.request_membership(asker, org.id)
        org_service.request_membership(member, org.id)
    membership(db, org, member).status = MembershipStatus.approved
    db.session.commit()
    with app.test_request_context():
        org_service.reject_organisation(make.user("admin"), org.id, "Protokollet är förfalskat.")
    auth.login(asker)
    response = client.get(f"/organisations/{org.slug}")
    assert response.status_code == 404
    assert "förfalskat" not in response.get_data(as_text=True)
    assert not policy.can_view_organisation(asker, org)
    for person in (founder, member):
        auth.login(person)
        page = client.get(f"/organisations/{org.slug}").get_data(as_text=True)
        assert "förfalskat" in page
