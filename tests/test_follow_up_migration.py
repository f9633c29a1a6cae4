"""The e25actions and e26actiondecline migrations on a database that already has follow-up
actions.

SQLite connections run with foreign keys on (forum/__init__.py), the migrations' too: a
migration that rebuilds `actions` (drop the table, rename a copy) fails there as soon as a
follower or an update points at an action, and leaves `_alembic_tmp_actions` behind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import flask_migrate
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from support import app_settings as app_config
from test_migrations import database_url, keep_logging, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.extensions import db

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


def _rows() -> dict[str, list[tuple]]:
    """What the test wrote, read back (the columns that were there before e25actions)."""
    queries = {
        "actions": "SELECT id, title, proposed_by_id, owner_department_id FROM actions",
        "followers": "SELECT action_id, user_id FROM action_followers",
        "updates": "SELECT id, action_id, author_id, body FROM action_updates",
        "commitments": "SELECT action_id, commitment_id FROM action_commitments",
        "history": "SELECT action_id, field FROM action_history",
    }
    with db.engine.connect() as connection:
        return {
            name: sorted(tuple(row) for row in connection.execute(text(query)))
            for name, query in queries.items()
        }


def _columns(table: str) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns(table)}


def _leftovers() -> set[str]:
    return {name for name in inspect(db.engine).get_table_names() if name.startswith("_alembic")}


@pytest.mark.usefixtures("keep_logging")
def test_actions_with_followers_and_updates_upgrade_and_downgrade(database_url):  # noqa: F811
    """e25actions on a database with an action that has a follower, an update, a commitment
    and history: the rows stay, the token columns come, and down and up again works."""
    from forum.models import Commitment, Department, User

    app = create_app(app_config(database_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e24asked")
            department = Department(name="Kulturnämnden")
            commitment = Commitment(slug="motesplatser", position=1, title_sv="M", title_en="M")
            db.session.add_all([department, commitment])
            db.session.flush()
            official = User(
                email="official@example.org",
                handle="official",
                display_name="Official",
                password_hash="x",
                department_id=department.id,
            )
            follower = User(
                email="follower@example.org",
                handle="follower",
                display_name="Follower",
                password_hash="x",
            )
            db.session.add_all([official, follower])
            db.session.commit()
            when = datetime(2026, 11, 1, tzinfo=UTC)
            # the rows as e24asked stores them (the models have the token column already)
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO actions (id, title, description, description_html,"
                        " owner_department_id, due_date, status, progress, proposed_by_id,"
                        " accepted_at, accepted_by_id, created_at, updated_at)"
                        " VALUES (1, 'Kvällsöppet', '', '', :dept, :due, 'planned', 0,"
                        " :official, :when, :official, :when, :when)"
                    ),
                    {
                        "dept": department.id,
                        "due": date(2027, 5, 1),
                        "official": official.id,
                        "when": when,
                    },
                )
                connection.execute(
                    text(
                        "INSERT INTO action_followers (action_id, user_id, created_at)"
                        " VALUES (1, :official, :when), (1, :follower, :when)"
                    ),
                    {"official": official.id, "follower": follower.id, "when": when},
                )
                connection.execute(
                    text(
                        "INSERT INTO action_updates (id, action_id, author_id, body, html,"
                        " created_at) VALUES (1, 1, :official, 'Lokalen är bokad.',"
                        " '<p>Lokalen är bokad.</p>', :when)"
                    ),
                    {"official": official.id, "when": when},
                )
                connection.execute(
                    text(
                        "INSERT INTO action_commitments (action_id, commitment_id)"
                        " VALUES (1, :commitment)"
                    ),
                    {"commitment": commitment.id},
                )
                connection.execute(
                    text(
                        "INSERT INTO action_history (action_id, actor_id, field, old_value,"
                        " new_value, created_at) VALUES (1, :official, 'created', '',"
                        " 'Kvällsöppet', :when)"
                    ),
                    {"official": official.id, "when": when},
                )
            # the ids above were read in a transaction of the session's: ended, so it holds
            # no lock on users that a migration's DROP TABLE with a key to users waits for
            db.session.close()
            before = _rows()
            assert before["followers"] and before["updates"]

            flask_migrate.upgrade()
            assert _rows() == before
            assert "form_token" in _columns("actions")
            assert "form_token" in _columns("action_updates")
            # e26actiondecline: declined and hidden, and the history's admin-only rows
            assert {"declined_at", "decline_reason", "hidden_at", "hidden_reason"} <= _columns(
                "actions"
            )
            with db.engine.connect() as connection:
                flags = connection.execute(text("SELECT admin_only FROM action_history")).all()
            assert [bool(row[0]) for row in flags] == [False]  # an old row is public
            assert _leftovers() == set()

            flask_migrate.downgrade(revision="e24asked")
            assert _rows() == before
            assert "form_token" not in _columns("actions")
            assert "form_token" not in _columns("action_updates")
            assert "declined_at" not in _columns("actions")
            assert "admin_only" not in _columns("action_history")
            assert _leftovers() == set()

            flask_migrate.upgrade()
            assert _rows() == before
            assert "form_token" in _columns("actions")
            with db.engine.connect() as connection:
                version = connection.scalar(text("SELECT version_num FROM alembic_version"))
            state = app.extensions["migrate"]
            config = state.migrate.get_config(directory=state.directory)
            assert version == ScriptDirectory.from_config(config).get_current_head()
        finally:
            db.session.remove()
            db.engine.dispose()
