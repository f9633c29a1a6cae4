"""Organisation numbers: a personnummer is not taken for one (the number is published), and a
rejected registration gives its number up (e33orgnumber: unique among the organisations
that are not rejected)."""

from __future__ import annotations

import flask_migrate
import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from support import app_settings as app_config
from support import steps_at_once
from test_migrations import database_url, keep_logging, postgres_url, schema_diff  # noqa: F401
from test_organisations import registration

from forum import create_app
from forum.errors import Conflict, Invalid
from forum.extensions import db as _db
from forum.models import AuditEntry, Organisation, OrganisationForm, OrganisationStatus
from forum.services import organisations as org_service

NUMBER = "802456-1238"

# personnummer (month 01-12 in digits 3-4) and samordningsnummer (day + 60), check digits valid
PERSONAL = ["811218-9876", "8507099805", "121212-1212", "701063-2391", "850769-9802"]


@pytest.fixture
def _english(client):
    """Pages are asked for in English, so the assertions survive the Swedish translation."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def organisations(db) -> list[tuple[str, OrganisationStatus]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Organisation.name, Organisation.status).order_by(Organisation.id)
    )
    return [tuple(row) for row in rows]


# --- a personnummer is not an organisation number ----------------------------------------


@pytest.mark.parametrize("number", PERSONAL)
def test_a_personal_identity_number_is_refused_with_a_kind_field_error(app, number):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        with pytest.raises(Invalid) as err:
            org_service.normalise_org_number(number)
    assert err.value.field == "org_number"
    assert "personal identity number" in err.value.message
    assert "shown publicly" in err.value.message
    assert "Skatteverket" in err.value.message


@pytest.mark.parametrize(
    "number",
    [
        "802456-1238",  # ideell förening (8)
        "212000-1355",  # a municipality (2): the lowest third digit a legal person has
        "556012-5790",  # aktiebolag (5)
        "716400-1344",  # stiftelse (7)
    ],
)
def test_organisation_numbers_of_legal_persons_pass(app, number):
    assert org_service.normalise_org_number(number) == number


@pytest.mark.usefixtures("_english")
@pytest.mark.parametrize("number", PERSONAL)
def test_registering_with_a_personnummer_keeps_the_form_and_says_why(
    client, make, auth, db, number
):
    """The number is shown on the organisation's public page and in the open-data API: a
    volunteer who types their own personnummer is refused, next to the field."""
    auth.login(make.user())
    response = client.post("/organisations/new", data=registration(org_number=number))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="org_number-error"' in page
    assert "personal identity number" in page
    assert "Skatteverket" in page
    assert 'value="Föreningen Läxhjälp Hisingen"' in page  # what was typed is kept
    assert f'value="{number}"' in page
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0


def test_the_demo_organisations_numbers_pass(app, db):
    """The demo's organisations are made without the service: their numbers must still be
    ones the registration form accepts."""
    from forum.demo import seed_demo

    with app.test_request_context():
        seed_demo()
    numbers = db.session.scalars(select(Organisation.org_number)).all()
    assert numbers
    for number in numbers:
        assert org_service.normalise_org_number(number) == number


@pytest.mark.usefixtures("_english")
def test_a_personnummer_stored_before_the_check_still_loads(client, make, auth, db):
    """Rows from before the check are not changed (nothing rewrites them): the page loads
    and an admin can still decide about the registration."""
    org = make.organisation(verified=False)
    org.org_number = "811218-9876"
    db.session.commit()
    assert client.get(f"/organisations/{org.slug}").status_code == 200
    auth.login(make.user("admin"))
    assert client.post(f"/admin/organisations/{org.id}/verify").status_code == 302


# --- a rejected registration gives its number up ------------------------------------------


def register(app, user, name: str, number: str = NUMBER) -> Organisation:
    with app.test_request_context():
        return org_service.register_organisation(user, name, "forening", number)


def reject(app, admin, org: Organisation, reason: str = "Inte er organisation.") -> None:
    with app.test_request_context():
        org_service.reject_organisation(admin, org.id, reason)


@pytest.mark.usefixtures("_english")
def test_the_real_organisation_registers_after_an_impostor_is_rejected(app, client, make, auth, db):
    """Anyone may type any number (a squatter, a typo). After an admin rejects that
    registration the number is free again: the rejected row had held it for ever."""
    squatter = register(app, make.user(), "Röda Korset Göteborg")
    reject(app, make.user("admin"), squatter)

    auth.login(make.user())
    response = client.post("/organisations/new", data=registration(org_number=NUMBER))
    assert response.status_code == 302
    assert organisations(db) == [
        ("Röda Korset Göteborg", OrganisationStatus.rejected),
        ("Föreningen Läxhjälp Hisingen", OrganisationStatus.pending),
    ]
    # the number is taken again while that registration waits or is verified
    again = client.post("/organisations/new", data=registration(name="Tredje", org_number=NUMBER))
    assert again.status_code == 400
    assert "already registered" in again.get_data(as_text=True)


@pytest.mark.usefixtures("_english")
@pytest.mark.parametrize("holder_verified", [False, True])
def test_verifying_the_rejected_one_after_its_number_was_taken_is_a_conflict(
    app, client, make, auth, db, holder_verified
):
    """The rejection can be undone from the organisation's page (verify), but not once
    another registration holds the number: a 409 that names it, not an IntegrityError."""
    site_admin = make.user("admin")
    old = register(app, make.user(), "Felstavade föreningen")
    reject(app, site_admin, old)
    real = register(app, make.user(), "Föreningen Läxhjälp Hisingen")
    if holder_verified:
        with app.test_request_context():
            org_service.verify_organisation(site_admin, real.id)

    auth.login(site_admin)
    response = client.post(f"/admin/organisations/{old.id}/verify")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Another organisation with this number is registered" in page
    assert "Föreningen Läxhjälp Hisingen" in page
    assert organisations(db) == [
        ("Felstavade föreningen", OrganisationStatus.rejected),
        (
            "Föreningen Läxhjälp Hisingen",
            OrganisationStatus.verified if holder_verified else OrganisationStatus.pending,
        ),
    ]
    verified = db.session.scalar(
        select(func.count()).where(
            AuditEntry.action == "organisation.verified", AuditEntry.target_id == old.id
        )
    )
    assert verified == 0

    # once that registration is rejected too, the first one can be verified again
    reject(app, site_admin, real, "Dubblett.")
    assert client.post(f"/admin/organisations/{old.id}/verify").status_code == 302
    assert organisations(db)[0] == ("Felstavade föreningen", OrganisationStatus.verified)


def test_rejected_registrations_may_share_a_number_but_not_the_others(app, make, db):
    """The index, without the service's checks: a number once among the pending and
    verified organisations, as often as it likes among the rejected."""

    def insert(name: str, status: OrganisationStatus) -> None:
        db.session.add(
            Organisation(
                slug=name,
                name=name,
                form=OrganisationForm.forening,
                org_number=NUMBER,
                status=status,
            )
        )
        db.session.commit()

    insert("a", OrganisationStatus.rejected)
    insert("b", OrganisationStatus.rejected)
    insert("c", OrganisationStatus.verified)
    with pytest.raises(IntegrityError):
        insert("d", OrganisationStatus.pending)
    db.session.rollback()


@pytest.mark.postgres
@pytest.mark.usefixtures("row_locks")
@pytest.mark.parametrize("first", ["register", "verify"])
def test_registering_a_number_while_its_rejected_owner_is_verified(app, make, first):
    """Both read the number as free (the other has not committed): the unique index decides,
    and the one that comes second is refused with a Conflict, not an IntegrityError."""
    site_admin, founder, real = make.user("admin"), make.user(), make.user()
    old = register(app, founder, "Felstavade föreningen")
    reject(app, site_admin, old)
    old_id = old.id

    def verify(user) -> None:
        org_service.verify_organisation(user, old_id)

    def register_real(user) -> None:
        org_service.register_organisation(user, "Föreningen Läxhjälp Hisingen", "forening", NUMBER)

    steps = {"register": (register_real, real.id), "verify": (verify, site_admin.id)}
    order = [first, "verify" if first == "register" else "register"]
    pause = {"register": "INSERT INTO organisations", "verify": "UPDATE organisations"}[first]
    outcomes = steps_at_once(
        app, [steps[s][0] for s in order], [steps[s][1] for s in order], pause_after=pause
    )
    assert outcomes[0] == "ok", outcomes
    assert isinstance(outcomes[1], Conflict), outcomes
    _db.session.expire_all()
    held = _db.session.scalars(
        select(Organisation.name).where(Organisation.status != OrganisationStatus.rejected)
    ).all()
    expected = "Föreningen Läxhjälp Hisingen" if first == "register" else "Felstavade föreningen"
    assert held == [expected]


# --- the migration --------------------------------------------------------------------------


def _insert(name: str, status: str, number: str = NUMBER) -> None:
    _db.session.execute(
        text(
            "INSERT INTO organisations (slug, name, form, org_number, description, status, "
            "created_at) VALUES (:name, :name, 'forening', :number, '', :status, :now)"
        ),
        {"name": name, "number": number, "status": status, "now": "2026-12-01 10:00:00"},
    )
    _db.session.commit()


def _about_organisations(difference) -> bool:
    """A difference between models and schema in the organisations table (the revisions
    after e33orgnumber change other tables)."""
    shown = repr(difference)
    return "table=<organisations>" in shown or "'organisations'" in shown


@pytest.mark.usefixtures("keep_logging")
def test_the_migration_frees_rejected_numbers_and_refuses_to_go_down_while_shared(
    database_url,  # noqa: F811
):
    """e33orgnumber up: the rows stay, a rejected one's number can be registered again. Down:
    refused, before changing anything, while two organisations share a number; without
    such, the old unique constraint comes back; up again matches the models."""
    app = create_app(app_config(database_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e32hiddennotices")
            _insert("impostor", "rejected")
            _insert("other", "verified", "556012-5790")
            with pytest.raises(IntegrityError):  # before: the rejected row holds the number
                _insert("real", "pending")
            _db.session.rollback()

            flask_migrate.upgrade(revision="e33orgnumber")
            assert [d for d in schema_diff(app) if _about_organisations(d)] == []  # later: others
            _insert("real", "pending")
            with pytest.raises(IntegrityError):
                _insert("second", "verified")
            _db.session.rollback()
            _db.session.remove()

            state = app.extensions["migrate"]
            config = state.migrate.get_config(directory=state.directory)
            with pytest.raises(RuntimeError, match=r"1 organisation number\(s\) are shared"):
                command.downgrade(config, "e32hiddennotices")
            _db.session.remove()
            version = _db.session.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == "e33orgnumber"
            _insert("another rejected", "rejected")  # the partial index is still there
            with pytest.raises(IntegrityError):
                _insert("second", "verified")
            _db.session.rollback()

            _db.session.execute(text("DELETE FROM organisations WHERE status = 'rejected'"))
            _db.session.commit()
            _db.session.remove()
            flask_migrate.downgrade(revision="e32hiddennotices")
            with pytest.raises(IntegrityError):  # the old constraint is back
                _insert("rejected again", "rejected")
            _db.session.rollback()
            names = _db.session.scalars(text("SELECT name FROM organisations ORDER BY id"))
            assert list(names) == ["other", "real"]
            _db.session.remove()

            flask_migrate.upgrade()
            assert schema_diff(app) == []
        finally:
            _db.session.remove()
            _db.engine.dispose()
