"""What a review of the mail found: a production install by the README and deploy/ sent no
mail at all (production turns the embedded clock off and deploy/ scheduled none of its jobs),
the "your data is ready" mail was written in the language of whoever ran the job, a
suspension notice waited for a digest that skips suspended accounts, and an action's
reminder said "due soon" on and after the due date, with the date in ISO form."""

from __future__ import annotations

import ast
import shlex
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

from flask_babel import force_locale
from sqlalchemy import select
from support import unit_settings

from forum.config import load_config
from forum.extensions import db
from forum.models import Department, Notification, OutboxMail
from forum.services import exports, moderation, notifications
from forum.services import follow_up as follow_up_service

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "deploy" / "systemd"
FLASK = "/srv/dialogforum/.venv/bin/flask"


# --- 1. production schedules what the embedded clock runs ----------------------------------


def _calls(node: ast.AST) -> set[str]:
    """Every name called or imported under `node` (`f()`, `module.f()`, `from x import f`)."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def embedded_jobs() -> set[str]:
    """The service functions the embedded clock's tick calls (forum/scheduler.py)."""
    tree = ast.parse((ROOT / "forum" / "scheduler.py").read_text())
    [tick] = [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "run_due_jobs"
    ]
    imported = {
        alias.name
        for node in ast.walk(tick)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("services")
        for alias in node.names
    }
    return imported & _calls(tick)


def cli_commands() -> dict[str, set[str]]:
    """Each `flask --app forum` command ("mail send") and the functions its body calls."""
    tree = ast.parse((ROOT / "forum" / "cli.py").read_text())
    groups = {
        target.id: node.value.args[0].value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", "") == "AppGroup"
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    commands: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "command"
                and isinstance(decorator.func.value, ast.Name)
                and decorator.func.value.id in groups
            ):
                name = f"{groups[decorator.func.value.id]} {decorator.args[0].value}"
                commands[name] = _calls(node)
    return commands


def timed_units() -> dict[str, Path]:
    """The timers shipped in deploy/systemd, each with the service it starts."""
    units = {}
    for timer in SYSTEMD.glob("*.timer"):
        service = unit_settings(timer).get("Unit", [timer.stem + ".service"])[0]
        assert (SYSTEMD / service).is_file(), f"{timer.name} starts {service}, not shipped"
        units[timer.name] = SYSTEMD / service
    return units


def scheduled_commands(service: Path) -> list[str]:
    """The `flask --app forum` commands a service runs: on its ExecStart= lines, directly or
    as the arguments of deploy/forum-jobs (which runs each in turn)."""
    commands = []
    for line in unit_settings(service).get("ExecStart", []):
        words = shlex.split(line.lstrip("-@:+!"))
        if words[0] == FLASK:
            assert words[1:3] == ["--app", "forum"], line
            commands.append(" ".join(words[3:5]))
        else:
            assert words[0] == "/srv/dialogforum/deploy/forum-jobs", line
            commands.extend(words[1:])
    return commands


def test_every_job_of_the_embedded_clock_has_a_timer_in_deploy():
    """Production turns the embedded clock off: each job it runs must be run by a timer that
    deploy/ ships, or production never sends mail (nor notices, digests, exports). A new job
    in run_due_jobs without a command, or with one no timer runs, fails here."""
    commands = cli_commands()
    scheduled = {c for service in timed_units().values() for c in scheduled_commands(service)}
    jobs = embedded_jobs()
    assert {
        "deliver_pending",
        "send_digests",
        "send_due_notices",
        "run_pending_exports",
        "remind",
    } <= jobs
    for job in jobs:
        running = {name for name, calls in commands.items() if job in calls}
        assert running, f"no `flask --app forum` command runs {job}()"
        assert running & scheduled, (
            f"{job}() ({', '.join(sorted(running))}) has no timer in deploy/"
        )
    assert "actions remind" in scheduled
    assert all(command in commands for command in scheduled), scheduled - set(commands)


def test_the_example_production_config_leaves_the_jobs_to_the_timers():
    env = {}
    for line in (ROOT / "deploy" / "forum.env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    env["FORUM_SECRET_KEY"] = "0123456789abcdef" * 4
    config = load_config(ROOT / "instance", env)
    assert config["FORUM_ENV"] == "production" and not config["FORUM_DIGEST_SCHEDULER"]
    assert "forum-jobs.timer" in timed_units()


def test_the_job_units_run_like_the_other_units():
    """Same user, settings file, folder and virtualenv as the servers; oneshot, so a timer
    never starts a run while the last one still runs."""
    for service in timed_units().values():
        unit = unit_settings(service)
        assert unit["Type"] == ["oneshot"], service.name
        assert unit["User"] == ["dialogforum"] and unit["Group"] == ["dialogforum"]
        assert unit["WorkingDirectory"] == ["/srv/dialogforum"]
        assert unit["EnvironmentFile"] == ["/etc/dialogforum/forum.env"]
        assert unit["ExecStart"], service.name
    jobs = unit_settings(SYSTEMD / "forum-jobs.timer")
    assert jobs["Persistent"] == ["true"]
    assert jobs["OnCalendar"] == ["minutely"]
    # the outbox goes last in each run: what the jobs before it queued leaves at once
    for service in timed_units().values():
        assert scheduled_commands(service)[-1] == "mail send"


def test_the_daily_timer_runs_at_the_digest_hour_in_stockholm():
    """`notifications digest` claims each person's Stockholm day but does not wait for the
    hour (the embedded clock does): run every minute it would send each day's digest just
    after midnight. It has its own timer, from FORUM_DIGEST_HOUR's default hour (then each
    hour until noon, so that a failed run is made good: test_deploy_review_fixes.py)."""
    daily = unit_settings(SYSTEMD / "forum-daily.timer")
    hour = load_config(ROOT / "instance", {})["FORUM_DIGEST_HOUR"]
    assert daily["OnCalendar"] == [f"*-*-* {hour:02d}..12:00:00 Europe/Stockholm"]
    assert daily["Persistent"] == ["true"]
    assert scheduled_commands(SYSTEMD / "forum-daily.service")[0] == "notifications digest"
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:  # systemd reads the expressions as meant
        for timer in ("forum-daily.timer", "forum-jobs.timer"):
            [calendar] = unit_settings(SYSTEMD / timer)["OnCalendar"]
            result = subprocess.run(
                [analyze, "calendar", calendar], capture_output=True, text=True, timeout=30
            )
            assert result.returncode == 0, result.stderr


def test_the_job_runner_runs_every_command_though_one_fails(tmp_path):
    """deploy/forum-jobs: one failing command (an export) does not keep the mail waiting, and
    the run says it failed (the unit shows as failed)."""
    runner = ROOT / "deploy" / "forum-jobs"
    assert runner.stat().st_mode & 0o111, "deploy/forum-jobs is not executable"
    fake = tmp_path / "deploy"
    fake.mkdir()
    shutil.copy(runner, fake / "forum-jobs")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    flask = tmp_path / ".venv" / "bin" / "flask"
    flask.write_text(
        '#!/bin/sh\necho "$@" >> "$(dirname "$0")/ran"\n[ "$3" != exports ] || exit 1\n'
    )
    flask.chmod(0o755)
    result = subprocess.run(
        [str(fake / "forum-jobs"), "exports run", "mail send"],
        capture_output=True, text=True, timeout=30, cwd="/",
    )  # fmt: skip
    assert result.returncode == 1
    assert (tmp_path / ".venv" / "bin" / "ran").read_text().splitlines() == [
        "--app forum exports run",
        "--app forum mail send",
    ]
    assert "exports run" in result.stderr


# --- 2. "your data is ready" in the recipient's language -----------------------------------


def _export_mail(user) -> OutboxMail:
    return db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == user.email))


def test_the_export_mail_is_in_the_recipients_language(app, make, client, auth):
    reader = make.user()
    reader.locale = "en"
    db.session.commit()
    auth.login(reader)
    assert client.post("/integritet/export").status_code == 303
    with app.app_context():  # the job: no request, the site's language (Swedish)
        assert exports.run_pending_exports() == 1
    mail = _export_mail(reader)
    assert mail.subject == "Your data from Dialogforum"
    assert "The copy of your data is ready" in mail.body


def test_the_export_mail_is_swedish_for_a_swedish_reader_from_an_english_page(app, make):
    reader = make.user()
    reader.locale = "sv"
    db.session.commit()
    with app.test_request_context(headers={"Accept-Language": "en"}), force_locale("en"):
        exports.request_personal_export(reader)
        assert exports.run_pending_exports() == 1
    mail = _export_mail(reader)
    assert mail.subject != "Your data from Dialogforum"
    assert "Your data" not in mail.body


# --- 3. the suspension notice goes at once to a digest reader ------------------------------


def _suspend(app, person, admin, reason: str = "Upprepade personangrepp") -> None:
    with app.test_request_context():
        moderation.suspend_person(admin, person.id, 60 * 24 * 7, reason)


def _mails_to(person) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == person.email)))


def test_a_digest_reader_gets_the_suspension_notice_at_once(app, make):
    """The digest skips suspended accounts: the notice with the appeal link reached them
    after the suspension, when there was nothing left to appeal. It is mailed at once."""
    person, admin = make.user(), make.user("admin")
    with app.test_request_context():
        notifications.save_preferences(person, {"moderation": "digest"})
    _suspend(app, person, admin)
    [mail] = _mails_to(person)
    assert "Upprepade personangrepp" in mail.body and "/moderation/" in mail.body
    note = db.session.scalar(
        select(Notification).where(
            Notification.user_id == person.id, Notification.kind == "moderation_suspended"
        )
    )
    assert note.mail_state is None  # not waiting for a digest as well
    with app.test_request_context():
        notifications.send_digests(note.created_at + timedelta(days=8))
    assert len(_mails_to(person)) == 1  # and not mailed again once the suspension ends
    # the choice itself is kept: a later moderation notice waits for the digest again
    assert notifications.preferences(person)["moderation"] == "digest"


def test_in_the_app_only_and_mail_off_keep_their_promise(app, make):
    """The choice of no mail for moderation notices, and mail turned off, keep their promise
    ("not by mail at all", "nothing comes by mail until you turn it on"): no mail."""
    in_app, mail_off, admin = make.user(), make.user(), make.user("admin")
    mail_off.email_notifications = False
    db.session.commit()
    with app.test_request_context():
        notifications.save_preferences(in_app, {"moderation": "in_app"})
    _suspend(app, in_app, admin)
    _suspend(app, mail_off, admin)
    assert _mails_to(in_app) == [] and _mails_to(mail_off) == []


def test_other_digest_choices_of_a_suspended_person_still_wait(app, make):
    """Only the notices that tell a suspended person why go at once; the rest of their mail
    waits for the suspension to end, as before."""
    person, admin, replier = make.user(), make.user("admin"), make.user()
    thread = make.thread(author=person)
    mine = make.message(thread, person, "Min fråga")
    with app.test_request_context():
        notifications.save_preferences(person, {"reply": "digest", "moderation": "digest"})
    _suspend(app, person, admin)
    make.message(thread, replier, "Ett svar", reply_to=mine.id)
    reply = db.session.scalar(
        select(Notification).where(Notification.user_id == person.id, Notification.kind == "reply")
    )
    assert reply.mail_state == "digest"
    assert len(_mails_to(person)) == 1  # the suspension notice only


# --- 4. the action reminder: due soon, or due; the date in the reader's words --------------


def _propose(app, make, official, due):
    department = db.session.scalar(
        select(Department).where(Department.name == "Social resursnämnd")
    )
    with app.test_request_context():
        return follow_up_service.propose_action(
            official,
            follow_up_service.ActionInput(
                title="Öppna kvällstid",
                owner=f"department:{department.id}",
                due_date=due.isoformat(),
                commitment_ids=make.commitment_ids(1),
            ),
        )


def _remind(app) -> None:
    with app.test_request_context():
        assert follow_up_service.remind() == 1


def _reminder_mail(official) -> OutboxMail:
    [mail] = [
        m for m in _mails_to(official) if "Reminder" in m.subject or "Påminnelse" in m.subject
    ]
    return mail


def _long(day, locale: str) -> str:
    from babel.dates import format_date

    return format_date(day, "long", locale={"en": "en_GB"}.get(locale, locale))


def test_an_overdue_action_is_not_due_soon(app, make):
    official = make.user("official")
    official.locale = "en"
    db.session.commit()
    yesterday = follow_up_service.today() - timedelta(days=1)
    _propose(app, make, official, yesterday)
    _remind(app)
    mail = _reminder_mail(official)
    assert "due soon" not in mail.subject
    assert mail.subject == "Reminder: an action your side owns has reached its due date"
    assert yesterday.isoformat() not in mail.body
    assert f"Öppna kvällstid (due {_long(yesterday, 'en')})" in mail.body


def test_the_week_before_reminder_says_due_soon_with_a_long_date(app, make):
    official = make.user("official")
    official.locale = "en"
    db.session.commit()
    due = follow_up_service.today() + timedelta(days=5)
    _propose(app, make, official, due)
    _remind(app)
    mail = _reminder_mail(official)
    assert mail.subject == "Reminder: an action your side owns is due soon"
    assert f"Öppna kvällstid (due {_long(due, 'en')})" in mail.body
    note = db.session.scalar(select(Notification).where(Notification.user_id == official.id))
    assert note.kind == "action_reminder" and note.excerpt_lang == "en"


def test_the_due_day_reminder_in_swedish_and_on_the_notifications_page(app, make, client, auth):
    official = make.user("official")
    official.locale = "sv"
    db.session.commit()
    day = follow_up_service.today()
    _propose(app, make, official, day)
    _remind(app)
    mail = _reminder_mail(official)
    assert day.isoformat() not in mail.body and _long(day, "sv") in mail.body
    assert "snart" not in mail.subject
    auth.login(official)
    page = client.get("/notifications").get_data(as_text=True)  # in their language, Swedish
    assert "Påminnelse: en åtgärd som er sida äger har nått sitt slutdatum" in page
    assert f"Öppna kvällstid (klar senast {_long(day, 'sv')})" in page
    # read in English (the person changed language), the stored sentence keeps the
    # language it was written in, and says which
    official.locale = "en"
    db.session.commit()
    page = client.get("/notifications").get_data(as_text=True)
    assert "Reminder: an action your side owns has reached its due date" in page
    assert 'lang="sv">Öppna kvällstid' in page


def test_a_reminder_shown_again_keeps_its_long_date_and_language(app, make):
    """follow_up._requote writes reminders again from the reminder sent: in the language the
    notice was written in, with the date in words, not ISO."""
    official, moderator = make.user("official"), make.user("moderator")
    official.locale = "en"
    db.session.commit()
    due = follow_up_service.today() + timedelta(days=3)
    action = _propose(app, make, official, due)
    _remind(app)
    note = db.session.scalar(select(Notification).where(Notification.user_id == official.id))
    written = note.excerpt
    assert written == f"Öppna kvällstid (due {_long(due, 'en')})"
    action.due_date += timedelta(days=30)
    db.session.commit()
    with app.test_request_context():  # a Swedish request: the moderator's
        follow_up_service.hide_action(moderator, action.id, "Personuppgifter")
        assert db.session.get(Notification, note.id).excerpt == ""
        follow_up_service.unhide_action(moderator, action.id)
    db.session.expire_all()
    again = db.session.get(Notification, note.id)
    assert again.excerpt == written and again.excerpt_lang == "en"


def test_the_two_reminders_have_their_own_sentences_and_one_choice(app):
    with app.test_request_context(), force_locale("en"):
        due = notifications.describe("action_due", "", "")
        soon = notifications.describe("action_reminder", "", "")
    assert due != soon and "due soon" in soon and "due soon" not in due
    # one choice for both on the settings page, and one unsubscribe link
    assert notifications.preference_kind("action_due") == "action_reminder"


def test_the_embedded_clock_reminds_action_owners_too(app, make):
    """`./scripts/run` (no timers) never sent action reminders: its tick did not run them."""
    from datetime import UTC, datetime

    from forum import scheduler

    official = make.user("official")
    _propose(app, make, official, follow_up_service.today() + timedelta(days=3))
    scheduler.run_due_jobs(app, "already sent today", datetime.now(UTC))
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == official.id))
    assert "action_reminder" in set(kinds)
