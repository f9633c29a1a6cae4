"""Command-line: seed, users, setup and serve (`flask --app forum ...`)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import inspect, select

from .config import ConfigError
from .errors import DomainError
from .extensions import db, socketio
from .ids import MAX_ID

users_cli = AppGroup("users", help="Manage accounts.")


def config_error_for_command_line(err: ConfigError) -> Exception:
    """What create_app raises for a refused setting: under a `flask` command (a click
    context is current) click's own error, its message on standard error and exit status 1
    instead of a traceback; anywhere else (gunicorn's worker, tests) the ConfigError."""
    if click.get_current_context(silent=True) is None:
        return err
    return click.ClickException(str(err))


mail_cli = AppGroup("mail", help="The mail outbox.")


def _print_demo_accounts(made) -> None:
    if not made:
        click.echo("Demo already present; passwords were shown when it was created.")
        return
    click.echo("Demo accounts (the passwords and the API token are shown only this once):")
    for account in made:
        click.echo(f"  {account.role:<20} {account.email:<40} {account.password}")


@click.command("seed")
@click.option("--demo", is_flag=True, help="Also create the demo (accounts, organisation, forums).")
def seed_command(demo: bool) -> None:
    """Seed the agreement (idempotent); with --demo also the demo data."""
    from .demo import seed_demo
    from .services.agreement import seed_agreement

    added = seed_agreement()
    click.echo(f"Agreement seeded ({added} rows added).")
    if demo:
        if current_app.config["FORUM_ENV"] == "production":
            raise click.ClickException("The demo is never created when FORUM_ENV=production.")
        from .demo import DemoIncomplete

        try:
            made = seed_demo()
        except DemoIncomplete as err:
            raise click.ClickException(str(err)) from None
        _print_demo_accounts(made)


@click.command("setup")
def setup_command() -> None:
    """Migrate the database to head, seed the agreement, and on a new database the demo
    (a demo an earlier run left half-made is reported, with how to start over)."""
    from .demo import DemoIncomplete, demo_state, seed_demo
    from .services.agreement import seed_agreement

    new_database = "alembic_version" not in inspect(db.engine).get_table_names()
    upgrade()
    seed_agreement()
    if not current_app.config["FORUM_DEMO"]:
        return
    # new: never migrated, or migrated (`db upgrade` first) with nobody in it yet
    if new_database or (demo_state() == "absent" and _nobody_yet()):
        _print_demo_accounts(seed_demo())
    elif demo_state() == "incomplete":
        # the server still starts (./scripts/run), with the warning in front of it
        click.echo(f"Warning: {DemoIncomplete()}", err=True)


def _nobody_yet() -> bool:
    from .models import User

    return db.session.scalar(select(User.id).limit(1)) is None


GUNICORN_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def gunicorn_available() -> bool:
    try:
        import gevent  # noqa: F401
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def gunicorn_command(host: str, port: int) -> list[str]:
    """One gunicorn process with one gevent worker: the production server, on one address."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(GUNICORN_CONFIG),
        "--bind",
        f"{host}:{port}",
        "forum:create_app()",
    ]


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=click.IntRange(1, 65535))
def serve_command(host: str, port: int) -> None:
    """Serve HTTP and Socket.IO in one process: for one machine (see ./scripts/production)."""
    config = current_app.config
    production = config["FORUM_ENV"] == "production"
    explicit = os.environ.get("FORUM_ASYNC_MODE", "").strip().lower()
    if explicit != "threading" and gunicorn_available() and GUNICORN_CONFIG.exists():
        click.echo(
            f"Dialogforum on http://{host}:{port} — one process (gunicorn, gevent), for one "
            "machine; several processes behind nginx: ./scripts/production and deploy/."
        )
        command = gunicorn_command(host, port)
        sys.stdout.flush()
        os.execv(command[0], command)  # noqa: S606 — replaces this process with the server
    if production:
        raise click.ClickException(
            "FORUM_ENV=production will not run the development server (Werkzeug). Install "
            "gunicorn and gevent (pip install gunicorn gevent) and use ./scripts/production or "
            "the files in deploy/."
        )
    click.echo(
        f"Dialogforum on http://{host}:{port} — one process (Werkzeug development server, "
        "threads), for one machine; gevent is not installed."
    )
    from .serving import NoDelayRequestHandler

    # Flask skips app.run() under the `flask` command unless told otherwise.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    from . import scheduler

    scheduler.start(app)
    socketio.run(
        app,
        host=host,
        port=port,
        allow_unsafe_werkzeug=True,
        request_handler=NoDelayRequestHandler,
    )


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option(
    "--role", type=click.Choice(["member", "official", "moderator", "admin"]), default="member"
)
@click.option("--department", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(
    email: str, name: str, role: str, department: str | None, password_stdin: bool
) -> None:
    """Create an account with a role (the first admin comes this way)."""
    from .services import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user_with_role(email, name, password, role, department)
    except DomainError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"Created {role} {user.email} (id {user.id}).")


@users_cli.command("set-password")
@click.argument("handle")
def set_password(handle: str) -> None:
    """Set a new password for an account, by its handle or email (a demo whose printed
    passwords were lost); checked like the registration form's, and every session of the
    account and every reset link asked for before end."""
    from .queries.moderation import find_person
    from .services import accounts

    user = find_person(handle)
    if user is None:
        raise click.ClickException(f"No account with the handle or email {handle.strip()!r}.")
    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.set_password(user, password)
    except DomainError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"Password set for {user.display_name} (@{user.handle}, {user.email}).")


@users_cli.command("end-expired-sessions")
def end_expired_sessions() -> None:
    """End the sessions past their idle or absolute limit and close their sockets (for cron;
    through Redis, the sockets on every serving process), and forget the throttle's records
    of failed logins that no window counts any more."""
    from .services import accounts

    click.echo(f"{accounts.end_expired_sessions()} expired session(s) ended.")
    click.echo(f"{accounts.forget_old_attempts()} old throttle record(s) forgotten.")


@users_cli.command("end-all-sessions")
@click.option("--yes", is_flag=True, help="Do not ask first.")
def end_all_sessions(yes: bool) -> None:
    """End every session of every account and close their sockets: everyone logs in again.
    For after restoring a backup, which brings back the sessions ended since it was made."""
    from .services import accounts

    if not yes:
        click.confirm("Log everyone out?", abort=True)
    click.echo(f"{accounts.end_every_session()} session(s) ended.")


@mail_cli.command("send")
def send_mail() -> None:
    """Send waiting mail from the outbox (for cron)."""
    from .services.mail import deliver_pending

    click.echo(f"Sent {deliver_pending()} mail(s).")


consultations_cli = AppGroup("consultations", help="Consultation rounds.")


@consultations_cli.command("remind")
@click.option("--days", default=3, show_default=True, type=click.IntRange(0, 3650))
def remind_consultations(days: int) -> None:
    """Remind organisations that have not answered a round closing within N days (for cron)."""
    from .services.consultations import remind

    click.echo(f"Reminded {remind(days)} organisation(s).")


@consultations_cli.command("notices")
def consultation_notices() -> None:
    """Reminders 3 and 1 days before a deadline, and "deadline passed" to officials (for cron)."""
    from .services.consultations import send_due_notices

    click.echo(f"Sent {send_due_notices()} notice(s).")


notifications_cli = AppGroup("notifications", help="Notifications and their mail.")


@notifications_cli.command("digest")
def notifications_digest() -> None:
    """Mail each person who chose a daily digest their waiting notifications (daily, by cron).

    Once per person per Stockholm day, however often it runs (beside the embedded clock too).
    """
    from .services.notifications import send_digests

    click.echo(f"Queued {send_digests()} digest mail(s).")


actions_cli = AppGroup("actions", help="Follow-up actions.")


@actions_cli.command("remind")
def remind_actions() -> None:
    """Remind owners a week before and on an action's due date, once each (for cron)."""
    from .services.follow_up import remind

    click.echo(f"Sent {remind()} action reminder(s).")


search_cli = AppGroup("search", help="The search index.")


@search_cli.command("reindex")
def search_reindex_command() -> None:
    """Rebuild every search entry from the stored rows (after an upgrade or a restore)."""
    from .services import search_index

    count = search_index.reindex_all(db.session)
    click.echo(f"Search index rebuilt: {count} entries written.")


documents_cli = AppGroup("documents", help="Documents of consultation rounds.")


@documents_cli.command("delete-files")
def documents_delete_files() -> None:
    """Delete the stored files of withdrawn documents that storage could not delete at the
    time, a bounded number each run (for cron)."""
    from .services.documents import delete_pending_files

    deleted, failed = delete_pending_files()
    click.echo(f"{deleted} stored file(s) deleted.")
    if failed:
        click.echo(f"{failed} could not be deleted; they are tried again next run.", err=True)


export_cli = AppGroup("export", help="Archive exports for the city's archive.")
exports_cli = AppGroup("exports", help="Personal-data exports.")


@export_cli.command("archive")
@click.argument("kind", type=click.Choice(["forum", "thread", "round"]))
@click.argument("object_id", type=click.IntRange(1, MAX_ID))
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, writable=True), help="Where to write the zip."
)
@click.option("--admin", "admin_email", required=True, help="The admin on whose behalf (logged).")
def export_archive_command(kind: str, object_id: int, out: str | None, admin_email: str) -> None:
    """Export a forum, thread or round as a self-contained zip (JSON, HTML, manifest)."""
    from sqlalchemy import select

    from .models import User
    from .services import exports

    admin = db.session.scalar(select(User).where(User.email == admin_email.strip().lower()))
    if admin is None:
        raise click.BadParameter(
            f"no account with the email {admin_email.strip()!r}.", param_hint="--admin"
        )
    _check_writable_file(out or ".")  # the default: the archive's own name, right here
    try:
        with current_app.test_request_context():
            name, archive_file = exports.build_archive(admin, kind, object_id)
    except DomainError as err:
        raise click.ClickException(err.message) from None
    path = out or name
    with archive_file, open(path, "wb") as f:
        shutil.copyfileobj(archive_file, f)
        size = f.tell()
    click.echo(f"Archive written to {path} ({size} bytes).")


def _check_writable_file(path: str) -> None:
    """Refuse an --out whose folder is missing or not writable before anything is built
    (building logs the export in the audit log)."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise click.BadParameter(f"the folder {str(folder)!r} does not exist.", param_hint="--out")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"the folder {str(folder)!r} is not writable.", param_hint="--out")


@exports_cli.command("run")
def exports_run_command() -> None:
    """Prepare waiting "download my data" requests and mail their links."""
    from .services import exports

    with current_app.test_request_context():
        count = exports.run_pending_exports()
    click.echo(f"{count} personal exports prepared.")


def refuse_flask_run(app: Flask) -> None:
    """Flask's own `flask run` (Werkzeug's development server) loads the app inside its
    command: in production it stops there, as `flask serve` does, instead of serving a
    development server with a versioned Server header behind the city's address."""
    context = click.get_current_context(silent=True)
    if app.config["FORUM_ENV"] == "production" and context is not None:
        if context.info_name == "run":
            raise click.ClickException(
                "FORUM_ENV=production will not run the development server (flask run). "
                "Use ./scripts/production or the files in deploy/ (gunicorn behind nginx)."
            )


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    refuse_flask_run(app)
    for command in (seed_command, setup_command, serve_command, users_cli, mail_cli):
        app.cli.add_command(command)
    app.cli.add_command(consultations_cli)
    app.cli.add_command(actions_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(documents_cli)
    app.cli.add_command(export_cli)
    app.cli.add_command(exports_cli)
    app.cli.add_command(notifications_cli)
