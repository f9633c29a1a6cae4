"""The e24asked migration: rounds opened before it keep the organisations they asked."""

from __future__ import annotations

import flask_migrate
import pytest
from support import app_settings as app_config
from test_migrations import database_url, keep_logging, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.extensions import db

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


@pytest.mark.usefixtures("keep_logging")
def test_rounds_opened_before_keep_who_they_asked(database_url):  # noqa: F811
    """e24asked: an opened round's remiss list is filled from its audience and its responses."""
    from datetime import UTC, datetime

    from sqlalchemy import event, text
    from sqlalchemy.orm import Session

    from forum.models import (
        Audience,
        ConsultationResponse,
        Department,
        Organisation,
        OrganisationStatus,
        RoundState,
    )
    from forum.services import search_index

    app = create_app(app_config(database_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e23notelang")
            # the rows are written with today's models into the e23 schema: today's search
            # hook writes `document`, which is a generated column until e27search
            event.remove(Session, "after_flush", search_index._after_flush)
            orgs = {
                name: Organisation(
                    slug=name,
                    name=name,
                    org_number=f"80200{n}-0000",
                    form="forening",
                    status=status,
                )
                for n, (name, status) in enumerate(
                    [
                        ("invited", OrganisationStatus.verified),
                        ("other", OrganisationStatus.verified),
                        ("rejected-responder", OrganisationStatus.rejected),
                    ]
                )
            }
            department = Department(name="Kulturnämnden")
            db.session.add_all([department, *orgs.values()])
            db.session.flush()
            when = datetime(2026, 1, 1, tzinfo=UTC)

            def round_(state, audience, invited=()):
                # in SQL: the model has columns the e23 schema has not (changed_at)
                db.session.execute(
                    text(
                        "INSERT INTO consultation_rounds (department_id, title, problem,"
                        " problem_html, background, background_html, stage, audience, state,"
                        " opens_at, closes_at, created_at) VALUES (:department, :title, '',"
                        " '', '', '', 'problem', :audience, :state, :when, :when, :when)"
                    ),
                    {
                        "department": department.id,
                        "title": f"{state} {audience}",
                        "audience": audience.value,
                        "state": state.value,
                        "when": when,
                    },
                )
                made = db.session.scalar(text("SELECT max(id) FROM consultation_rounds"))
                for org in invited:
                    db.session.execute(
                        text(
                            "INSERT INTO consultation_invitations (round_id, organisation_id)"
                            " VALUES (:round, :org)"
                        ),
                        {"round": made, "org": org.id},
                    )
                return made

            invited = round_(RoundState.closed, Audience.invited, [orgs["invited"]])
            everyone = round_(RoundState.open, Audience.all_verified)
            draft = round_(RoundState.draft, Audience.all_verified)
            db.session.add(
                ConsultationResponse(
                    round_id=invited, organisation_id=orgs["rejected-responder"].id
                )
            )
            db.session.commit()
            search_index.register()
            flask_migrate.upgrade()
            with db.engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT a.round_id, o.name FROM consultation_asked a "
                        "JOIN organisations o ON o.id = a.organisation_id"
                    )
                ).all()
            asked: dict[int, set[str]] = {}
            for round_id, name in rows:
                asked.setdefault(round_id, set()).add(name)
            assert asked == {
                invited: {"invited", "rejected-responder"},
                everyone: {"invited", "other"},
            }
            assert draft not in asked
        finally:
            search_index.register()  # again, if the test failed before it (once only)
            db.session.remove()
            db.engine.dispose()
