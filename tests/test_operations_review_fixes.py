"""What operators and newcomers run, reviewed: a downgrade that would show hidden actions
refuses, an official refused for a blank department leaves no account behind, and `setup`
after a bare `db upgrade` still creates the demo."""

from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import func, select, text
from support import app_settings as app_config
from test_migrations import database_url, keep_logging, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.extensions import db as _db
from forum.models import User

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


@pytest.mark.usefixtures("keep_logging")
def test_undoing_hide_and_decline_refuses_while_an_action_is_hidden(database_url):  # noqa: F811
    """Downgrading past e26actiondecline dropped hidden_at and declined_at: a hidden action
    (personal data out of view) was shown again, and upgrading again did not hide it."""
    app = create_app(app_config(database_url, FORUM_DEMO=True))
    with app.app_context():
        try:
            runner = app.test_cli_runner()
            assert runner.invoke(args=["setup"]).exit_code == 0
            hidden = _db.session.execute(
                text("SELECT COUNT(*) FROM actions WHERE hidden_at IS NOT NULL")
            ).scalar()
            assert hidden, "the demo has a hidden action"
            before = _db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            _db.session.remove()
            with pytest.raises(SystemExit):  # flask_migrate logs the error and exits
                flask_migrate.downgrade(revision="e26hidden")
            _db.session.remove()
            # it stops at the step that refuses: PostgreSQL undoes the whole downgrade (one
            # transaction); SQLite's schema changes are not transactional, so it is left at
            # e26actiondecline itself, a revision the code runs on, the actions as they were
            version = _db.session.execute(text("SELECT version_num FROM alembic_version"))
            postgres = _db.engine.dialect.name == "postgresql"
            assert version.scalar() == (before if postgres else "e26actiondecline")
            still = _db.session.execute(
                text("SELECT COUNT(*) FROM actions WHERE hidden_at IS NOT NULL")
            )
            assert still.scalar() == hidden
            _db.session.remove()
            # with nothing hidden, declined or redacted, it goes down and up as before
            _db.session.execute(text("UPDATE actions SET hidden_at = NULL, declined_at = NULL"))
            _db.session.execute(text("UPDATE action_history SET admin_only = :f"), {"f": False})
            _db.session.commit()
            _db.session.remove()
            flask_migrate.downgrade(revision="e26hidden")
            flask_migrate.upgrade()
        finally:
            _db.session.remove()
            _db.engine.dispose()


def test_an_official_refused_for_a_blank_department_leaves_no_account(app):
    runner = app.test_cli_runner()
    command = ["users", "create", "ny@example.se", "--name", "Ny Tjänsteperson"]
    for department in ("   ", "x" * 201):
        refused = runner.invoke(
            args=[*command, "--role", "official", "--department", department, "--password-stdin"],
            input="correct horse battery\n",
        )
        assert refused.exit_code != 0
        assert _db.session.scalar(select(func.count()).select_from(User)) == 0
    made = runner.invoke(
        args=[
            *command,
            "--role",
            "official",
            "--department",
            "Kulturförvaltningen",
            "--password-stdin",
        ],
        input="correct horse battery\n",
    )
    assert made.exit_code == 0, made.output
    person = _db.session.scalar(select(User).where(User.email == "ny@example.se"))
    assert person is not None and person.department.name == "Kulturförvaltningen"


@pytest.mark.usefixtures("keep_logging")
def test_setup_after_a_bare_db_upgrade_creates_the_demo(tmp_path):
    """`flask db upgrade` first (it is in the README's list), then ./scripts/run: setup saw
    a migrated database, took it for an old one, and started a server nobody could log in to."""
    fresh = create_app(app_config(f"sqlite:///{tmp_path / 'bare.sqlite3'}", FORUM_DEMO=True))
    with fresh.app_context():
        try:
            flask_migrate.upgrade()
            _db.session.remove()
            result = fresh.test_cli_runner().invoke(args=["setup"])
            assert result.exit_code == 0, result.output
            assert "Demo accounts" in result.output
            assert _db.session.scalar(select(func.count()).select_from(User))
            # a database with people in it, demo or not, is never given the demo
            again = fresh.test_cli_runner().invoke(args=["setup"])
            assert "Demo accounts" not in again.output
        finally:
            _db.session.remove()
            _db.engine.dispose()
