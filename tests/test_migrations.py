"""The migrations build exactly the schema the models describe, and undo it again.

The rest of the suite creates its schema from the models (create_all), so this is
where a model change without a migration (or a migration that differs from the
models) is caught. Each test gets a database of its own: a temporary SQLite file,
or a fresh, uniquely named PostgreSQL database that is dropped afterwards.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from support import Factory, service_missing
from support import app_settings as app_config

from forum import create_app
from forum.extensions import db

# migrations/env.py (Flask-Migrate's template) tries Flask-SQLAlchemy 2's db.get_engine() first,
# which warns on Flask-SQLAlchemy 3; it falls back to db.engine. Harmless, so not an error here.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_server_url() -> str:
    """The PostgreSQL server to create the scratch database on (the test server if one is set)."""
    url = os.environ.get("FORUM_TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        return (
            make_url(url)
            .set(drivername="postgresql", database="postgres")
            .render_as_string(hide_password=False)
        )
    return DEFAULT_POSTGRES


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'migrations.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg
    from psycopg import sql

    server = postgres_server_url()
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        service_missing("PostgreSQL")
    name = f"t_migrations_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A test on a fresh SQLite file and on a fresh PostgreSQL database (`postgres_url`)."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'migrations.sqlite3'}"


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """migrations/env.py runs logging.fileConfig, which disables every existing logger:
    put the logging setup back so later tests (caplog, app.logger) are unaffected."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for name, logger in logging.Logger.manager.loggerDict.items():
        if not isinstance(logger, logging.Logger):
            continue
        if name in saved:
            logger.disabled, logger.level, handlers, logger.propagate = saved[name]
            logger.handlers[:] = handlers
        else:
            logger.disabled = False


def compare_options(app) -> dict[str, Any]:
    """The options migrations/env.py configures its autogenerate context with."""
    from forum.models.base import UTCDateTime

    def render_item(type_, obj, autogen_context):
        if type_ == "type" and isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
        return False

    options = dict(app.extensions["migrate"].configure_args)
    options.setdefault("render_item", render_item)
    options["compare_type"] = True
    options.setdefault("compare_server_default", False)
    return options


def schema_diff(app) -> list[Any]:
    """Autogenerate's differences between the models and the database's schema."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=compare_options(app))
        return compare_metadata(context, db.metadata)


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names())


@contextmanager
def at_head(url: str) -> Iterator[Any]:
    """An app on `url` migrated to the newest revision, with the agreement seeded, in its
    app context; the session and the engine go with it."""
    from forum.services.agreement import seed_agreement

    app = create_app(app_config(url))
    with app.app_context():
        try:
            flask_migrate.upgrade()
            with app.test_request_context():
                seed_agreement()
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def check_round_trip(url: str) -> None:
    app = create_app(app_config(url))
    with app.app_context():
        try:
            assert table_names() == set(), "the scratch database should start empty"

            flask_migrate.upgrade()
            assert "alembic_version" in table_names()
            assert set(db.metadata.tables) <= table_names()
            diff = schema_diff(app)
            assert diff == [], (
                "the migrated schema differs from the models; write a migration "
                "(flask --app forum db migrate -m '...') and review it:\n"
                + "\n".join(repr(item) for item in diff)
            )

            flask_migrate.downgrade(revision="base")
            assert table_names() <= {"alembic_version"}, "downgrade to base left tables behind"

            # Upgrading again works after a full downgrade (nothing left behind, e.g. types).
            flask_migrate.upgrade()
            assert schema_diff(app) == []
            flask_migrate.downgrade(revision="base")
            assert table_names() <= {"alembic_version"}
        finally:
            db.session.remove()
            db.engine.dispose()


def test_migrations_match_models_on_sqlite(sqlite_url, keep_logging):
    check_round_trip(sqlite_url)


@pytest.mark.postgres
def test_migrations_match_models_on_postgres(postgres_url, keep_logging):
    check_round_trip(postgres_url)


def test_single_migration_head():
    """Two heads means two branches were merged without a merge migration."""
    from alembic.script import ScriptDirectory

    app = create_app(app_config("sqlite://"))
    with app.app_context():
        state = app.extensions["migrate"]
        config = state.migrate.get_config(directory=state.directory)
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"more than one migration head: {heads}"


def test_search_terms_are_filled_from_an_existing_sqlite_index(sqlite_url, keep_logging):
    """e16searchterms: a database indexed before it finds its prefixes without a reindex."""
    from sqlalchemy import text

    app = create_app(app_config(sqlite_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e14reactions")
            with db.engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO search_fts (rowid, title, body) VALUES (7, :t, :b)"),
                    {"t": "motesplat", "b": "foren lokal foren"},
                )
            # e16searchterms itself: e27search rebuilds the index from the entries (this FTS5
            # row has none), see tests/test_search_migration.py
            flask_migrate.upgrade(revision="e16searchterms")
            with db.engine.connect() as connection:
                terms = connection.scalars(text("SELECT term FROM search_terms")).all()
            assert sorted(terms) == ["foren", "lokal", "motesplat"]
            flask_migrate.downgrade(revision="e14reactions")
            assert "search_terms" not in table_names()
        finally:
            db.session.remove()
            db.engine.dispose()


def forget_hidden_actions() -> None:
    """e26actiondecline refuses to go down while an action is hidden or declined or a title
    redacted (test_operations_review_fixes): the demo has some; tests about other tables
    take them out of the way first."""
    from sqlalchemy import text

    db.session.execute(text("UPDATE actions SET hidden_at = NULL, declined_at = NULL"))
    db.session.execute(text("UPDATE action_history SET admin_only = :no"), {"no": False})
    db.session.commit()
    db.session.remove()


def test_a_populated_sqlite_database_migrates_down_and_up_again(sqlite_url, keep_logging):
    """SQLite alters a table by copying it, dropping the old one and renaming the copy; with
    the app's foreign keys on, dropping a table that rows point at failed, so the demo's
    database could not be migrated down (users, messages and actions are pointed at)."""
    from sqlalchemy import text

    from forum.demo import seed_demo

    with at_head(sqlite_url) as app:
        with app.test_request_context():
            seed_demo()
        counted = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM messages)"
        before = tuple(db.session.execute(text(counted)).one())
        forget_hidden_actions()

        flask_migrate.downgrade(revision="e19outboxclaim")
        with db.engine.connect() as connection:
            version = connection.scalar(text("SELECT version_num FROM alembic_version"))
            assert version == "e19outboxclaim"
            assert tuple(connection.execute(text(counted)).one()) == before
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1  # back on
        assert "changed_at" not in {c["name"] for c in inspect(db.engine).get_columns("messages")}
        assert not {name for name in table_names() if name.startswith("_alembic")}

        flask_migrate.upgrade()
        assert schema_diff(app) == []
        with db.engine.connect() as connection:
            assert tuple(connection.execute(text(counted)).one()) == before


def test_hidden_reasons_are_split_into_principle_and_note_and_joined_again(
    sqlite_url, keep_logging
):
    """e26hidden: "Integritet (Privacy): note" becomes the principle and the note, the flags'
    sentence becomes empty (so each reader gets it in their language), an "other" reason
    stays the moderator's words; going down writes the old single texts back."""
    from sqlalchemy import select, text

    from forum.demo import seed_demo
    from forum.models import Message, MessageState, ModerationAction, Principle, User
    from forum.services import moderation

    with at_head(sqlite_url) as app:
        with app.test_request_context():
            seed_demo()
            admin = db.session.scalar(select(User).where(User.is_admin.is_(True)))
            visible = db.session.scalars(
                select(Message)
                .where(Message.state == MessageState.visible, Message.author_id != admin.id)
                .order_by(Message.id)
            ).all()
            principle = db.session.scalar(select(Principle).order_by(Principle.position))
            by_principle = moderation.hide_message(admin, visible[0].id, principle.slug, "Adress")
            moderation.hide_message(admin, visible[1].id, "other", "Reklam för en firma")
            flagged = visible[2].id
            db.session.execute(
                text("UPDATE messages SET state = 'hidden' WHERE id = :id"), {"id": flagged}
            )
            db.session.commit()
            action_id = by_principle.id
            ids = (visible[0].id, visible[1].id, flagged)
            name = f"{principle.name_sv} ({principle.name_en})"
        db.session.remove()
        reasons = "SELECT hidden_reason FROM messages WHERE id IN (:a, :b, :c) ORDER BY id"
        bound = dict(zip("abc", sorted(ids), strict=True))
        order = sorted(range(3), key=lambda n: ids[n])
        forget_hidden_actions()

        flask_migrate.downgrade(revision="e25actions")
        with db.engine.connect() as connection:
            stored = connection.scalars(text(reasons), bound).all()
            action = connection.scalar(
                text("SELECT reason FROM moderation_actions WHERE id = :id"), {"id": action_id}
            )
        old = [
            f"{name}: Adress",
            "Reklam för en firma",
            "Flaggat av flera personer. Väntar på en moderator.",
        ]
        assert stored == [old[n] for n in order]
        assert action == f"{name}: Adress"

        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT hidden_principle_id, hidden_reason FROM messages "
                    "WHERE id IN (:a, :b, :c) ORDER BY id"
                ),
                bound,
            ).all()
            action = connection.scalar(
                text("SELECT reason FROM moderation_actions WHERE id = :id"), {"id": action_id}
            )
        new = [(principle.id, "Adress"), (None, "Reklam för en firma"), (None, None)]
        assert [tuple(r) for r in rows] == [new[n] for n in order]
        assert action == "Adress"
        assert db.session.get(ModerationAction, action_id).principle_id == principle.id


def test_appeals_left_open_on_lifted_decisions_are_closed_and_opened_again(
    sqlite_url, keep_logging
):
    """e28moderation: an appeal left open on a decision lifted since (the code before it
    did not close it) is closed as lapsed, as of the lifting, by the one who lifted it,
    and logged; going down opens the lapsed appeals again (that code knows no 'lapsed')."""
    from sqlalchemy import select, text

    from forum.models import ActionKind, ModerationAction, Thread, User
    from forum.services import moderation

    with at_head(sqlite_url) as app:
        with app.test_request_context():
            make = Factory(app)
            mod, author = make.user("moderator"), make.user()
            thread = make.thread(author=make.user())
            hidden = make.message(thread, author, "dold")
            standing = make.message(thread, author, "står kvar")
            lifted = moderation.hide_message(mod, hidden.id, "other", "nej")
            kept = moderation.hide_message(mod, standing.id, "other", "nej")
            moderation.appeal(author, lifted.id, "fel")
            moderation.appeal(author, kept.id, "fel")
            lifted_id, kept_id = lifted.id, kept.id
            forum_id = db.session.get(Thread, thread.id).forum_id
            mod_id = mod.id
        db.session.remove()
        flask_migrate.downgrade(revision="e27search")
        with db.engine.begin() as connection:  # lifted the old way: its appeal stays open
            connection.execute(
                text(
                    "UPDATE moderation_actions SET reversed_at = created_at, "
                    "reversed_by_id = :by WHERE id = :id"
                ),
                {"by": mod_id, "id": lifted_id},
            )

        flask_migrate.upgrade()
        appeals = "SELECT action_id, outcome, decided_by_id FROM appeals ORDER BY action_id"
        with db.engine.connect() as connection:
            rows = [tuple(r) for r in connection.execute(text(appeals))]
            logged = connection.execute(
                text(
                    "SELECT actor_id, target_id, forum_id FROM audit_log "
                    "WHERE action = 'appeal.lapsed'"
                )
            ).all()
        assert rows == [(lifted_id, "lapsed", mod_id), (kept_id, None, None)]
        assert [tuple(r) for r in logged] == [(mod_id, lifted_id, forum_id)]
        assert (
            db.session.scalar(select(ModerationAction.kind).where(ModerationAction.id == kept_id))
            == ActionKind.hide
        )
        assert db.session.scalar(select(User.id).where(User.id == mod_id)) == mod_id

        flask_migrate.downgrade(revision="e27search")
        with db.engine.connect() as connection:
            rows = [tuple(r) for r in connection.execute(text(appeals))]
        assert rows == [(lifted_id, None, None), (kept_id, None, None)]

        # up again: closed again, and logged once (the transparency page counts log rows)
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            rows = [tuple(r) for r in connection.execute(text(appeals))]
            lapsed = connection.scalar(
                text("SELECT count(*) FROM audit_log WHERE action = 'appeal.lapsed'")
            )
        assert rows == [(lifted_id, "lapsed", mod_id), (kept_id, None, None)]
        assert lapsed == 1


def test_actions_hidden_before_get_a_decision_to_appeal_and_lose_it_going_down(
    sqlite_url, keep_logging
):
    """e29actionappeal: an action hidden before hiding was a decision gets one, by the
    moderator the audit log names, with the action's reason and time (none when they hid
    their own proposal); going down removes these decisions and their appeals (that code
    cannot read them; a waiting one is logged as lapsed), the action stays hidden."""
    from datetime import timedelta

    from sqlalchemy import select, text

    from forum.models import Action, ActionKind, ModerationAction, Thread
    from forum.services import follow_up, moderation

    with at_head(sqlite_url) as app:
        with app.test_request_context():
            make = Factory(app)
            mod, proposer = make.user("moderator"), make.user()
            official = make.user("official")
            thread = make.thread(author=official)
            message = make.message(thread, proposer, "Vi borde ha kvällsöppet.")

            def propose(user, title: str) -> Action:
                return follow_up.propose_action(
                    user,
                    follow_up.ActionInput(
                        title=title,
                        owner=f"department:{official.department_id}",
                        due_date=(follow_up.today() + timedelta(days=30)).isoformat(),
                        commitment_ids=[thread.commitments[0].id],
                        message_id=message.id,
                    ),
                )

            item = propose(proposer, "Kvällsöppet")
            follow_up.hide_action(mod, item.id, "Reklam")
            decision = db.session.scalar(select(ModerationAction))
            own = propose(mod, "Fel forum")
            follow_up.hide_action(mod, own.id, "Fel forum")  # their own: no decision
            moderation.appeal(proposer, decision.id, "Det var inte reklam.")
            ids = (item.id, proposer.id, mod.id)
            forum_id = db.session.get(Thread, thread.id).forum_id
            hidden_at = db.session.get(Action, item.id).hidden_at
        db.session.remove()

        flask_migrate.downgrade(revision="e28moderation")
        with db.engine.connect() as connection:
            count = "SELECT count(*) FROM {} WHERE {}"
            assert connection.scalar(text(count.format("moderation_actions", "1=1"))) == 0
            assert connection.scalar(text(count.format("appeals", "1=1"))) == 0
            assert connection.scalar(text(count.format("actions", "hidden_at IS NOT NULL"))) == 2
            assert (
                connection.scalar(text(count.format("audit_log", "action = 'appeal.submitted'")))
                == 1
            )

        flask_migrate.upgrade()
        # the appeal the downgrade removed was logged as lapsed: none counts as waiting
        from forum.queries.moderation import transparency

        with app.test_request_context():
            assert transparency()["appeals"]["pending"] == 0
        made = db.session.scalars(select(ModerationAction)).all()
        assert [
            (d.kind, d.follow_up_action_id, d.subject_id, d.actor_id, d.forum_id, d.reason)
            for d in made
        ] == [(ActionKind.hide_action, *ids, forum_id, "Reklam")]
        assert made[0].created_at == hidden_at and made[0].thread_id == thread.id
        with app.test_request_context():  # appealable again
            moderation.appeal(db.session.get(type(proposer), ids[1]), made[0].id, "fel")


def test_an_installation_whose_e17_lacked_the_previous_hash_gets_it(database_url, keep_logging):
    """e17remember gained remember_previous_hash after it was released: an installation
    migrated in between had no such column after upgrading, and nobody could log in."""
    from forum.models import UserSession
    from forum.services import accounts

    app = create_app(app_config(database_url))
    with app.app_context():
        try:
            flask_migrate.upgrade(revision="e34searchstops")
            with db.engine.begin() as connection:  # as e17remember was before 25a00d4
                connection.execute(
                    text("ALTER TABLE user_sessions DROP COLUMN remember_previous_hash")
                )
            flask_migrate.upgrade()
            columns = {c["name"] for c in inspect(db.engine).get_columns("user_sessions")}
            assert "remember_previous_hash" in columns
            assert schema_diff(app) == []
            with app.test_request_context():
                from forum.services.agreement import seed_agreement

                seed_agreement()
                person = accounts.register_user(
                    "sessions@example.se", "Sessions Test", "lagom långt lösenord 42"
                )
                row, token = accounts.open_session(person, "test", remember=True)
                db.session.expire_all()  # a login reads every column of its session
                assert db.session.get(UserSession, row.id).remember_hash is not None
                assert token
            flask_migrate.downgrade(revision="e34searchstops")  # the column stays: e17's
            flask_migrate.upgrade()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_files_of_documents_withdrawn_before_e38_are_listed_for_deletion(
    database_url, keep_logging, tmp_path, caplog
):
    """e38filedeletions: a delete that failed before it left the file for good; the files of
    every document withdrawn by then (policy.document_withdrawn) are listed, and the job
    deletes them. Documents still on the record (removed from an open round, a letter a
    submitted version holds) and live ones are not listed."""
    from consultation_support import consultation_people, make_round, respond

    from forum.demo.pdf import simple_pdf
    from forum.models import Document
    from forum.services import documents
    from forum.services.storage import DiskStorage

    with at_head(database_url) as app:
        folder = tmp_path / "documents"
        app.extensions["forum_storage"] = DiskStorage(folder)
        make = Factory(app)
        official, chair, member, org = consultation_people(make)
        draft = make_round(app, make, official, "draft")
        open_ = make_round(app, make, official, "open", title="Parkerna i centrum")

        def attach(name, round_=open_, response=False):
            data = simple_pdf([name])
            with app.test_request_context():
                if response:
                    made = documents.add_response_document(member, round_.id, org.id, name, data)
                else:
                    made = documents.add_round_document(official, round_.id, name, data)
            return made.id

        withdrawn = [attach("utkast.pdf", draft)]
        on_record = [attach("underlag.pdf"), attach("skickat.pdf", response=True)]
        live = attach("kvar.pdf")
        respond(app, chair, open_, org)  # the version holds skickat.pdf
        withdrawn.append(attach("aldrig.pdf", response=True))
        with app.test_request_context():
            for document_id in withdrawn + on_record:
                documents.remove_document(
                    official if document_id in (withdrawn[0], on_record[0]) else member,
                    document_id,
                )
        keys = {i: db.session.get(Document, i).storage_key for i in [*withdrawn, *on_record, live]}
        db.session.remove()

        flask_migrate.downgrade(revision="e37threadaccess")
        assert "file_deletions" not in table_names()
        flask_migrate.upgrade()
        assert schema_diff(app) == []
        with db.engine.connect() as connection:
            listed = connection.scalars(text("SELECT storage_key FROM file_deletions")).all()
        assert sorted(listed) == sorted(keys[i] for i in withdrawn)

        with caplog.at_level(logging.WARNING):
            assert documents.delete_pending_files() == (2, 0)  # deleted at the time: no error
        assert "uses it" not in caplog.text
        assert {p.name for p in folder.iterdir()} == {keys[i] for i in [*on_record, live]}
