"""What an operations review of deploy/ and the README's production steps found: the servers
started beside the migration and after a failed one; the hardened unit could not write the
access log that deploy/logrotate rotates; that logrotate file named the nginx logs Debian's
own already rotates, so logrotate skipped Debian's block and exited 1 every day; one failed
run at 07:00 lost the day's digest; the install steps failed when followed literally (no
npm, no Pango, no poppler, a password the database role never got, no first admin, no way
to run a command with the root-only settings); static scripts without a version in their
address were cached an hour past an upgrade; and nothing said how to upgrade or back up.
The rehearsal's mail (scripts/production) is in test_production_stack.py."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from support import unit_settings

from forum.config import load_config
from forum.models import OutboxMail

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    """A README section, from its heading to the next heading of its level or above."""
    match = re.search(rf"^(#+) {re.escape(title)}\n(.*?)(?=^#{{1,3}} |\Z)", README, re.M | re.S)
    assert match is not None, title
    return match.group(2)


def _words(settings: dict[str, list[str]], key: str) -> set[str]:
    return {word for value in settings.get(key, []) for word in value.split()}


# --- 1. the migration before the servers ------------------------------------------------------


def test_no_server_starts_beside_the_migration_or_after_a_failed_one():
    server = unit_settings(SYSTEMD / "forum@.service")
    assert "forum-migrate.service" in _words(server, "Requires")
    assert "forum-migrate.service" in _words(server, "After")
    migrate = unit_settings(SYSTEMD / "forum-migrate.service")
    # a oneshot that stays active: one server's start or restart does not migrate again...
    assert migrate["Type"] == ["oneshot"] and migrate["RemainAfterExit"] == ["yes"]
    assert "Restart" not in migrate
    # ...and that stops with forum.target, so the start after an upgrade migrates again
    assert migrate["PartOf"] == ["forum.target"] and "forum.target" in _words(migrate, "Before")
    # the timers' jobs never run against a schema being migrated
    for name in ("forum-jobs.service", "forum-daily.service"):
        jobs = unit_settings(SYSTEMD / name)
        assert "forum-migrate.service" in _words(jobs, "Requisite"), name
        assert "forum-migrate.service" in _words(jobs, "After"), name


def test_systemd_reads_every_unit_without_a_complaint(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("needs systemd-analyze")
    for unit in SYSTEMD.iterdir():
        shutil.copy(unit, tmp_path / unit.name)
    shutil.copy(SYSTEMD / "forum@.service", tmp_path / "forum@8001.service")
    units = [f"./{p.name}" for p in sorted(tmp_path.iterdir()) if p.name != "forum@.service"]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    # /srv/dialogforum is not on this machine: only that may be missing
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable: No such file or directory" not in line
    ]
    assert complaints == []


# --- 2. the access log: writable, and rotated without touching nginx's logs --------------------


def test_the_servers_may_write_the_access_log_logrotate_rotates():
    server = unit_settings(SYSTEMD / "forum@.service")
    assert server["ProtectSystem"] == ["strict"]
    [logs] = server["LogsDirectory"]
    writable = [Path(p) for p in _words(server, "ReadWritePaths")] + [Path("/var/log") / logs]
    example = (DEPLOY / "forum.env.example").read_text()
    found = re.search(r"^#\s*FORUM_ACCESS_LOG=(\S+)$", example, re.M)
    assert found is not None
    access_log = Path(found.group(1))
    assert any(access_log.is_relative_to(folder) for folder in writable), access_log
    patterns = re.findall(r"^(/\S+) \{$", (DEPLOY / "logrotate" / "dialogforum").read_text(), re.M)
    assert patterns and all(Path(p).parent == Path("/var/log") / logs for p in patterns)
    assert any(fnmatch.fnmatch(str(access_log), p) for p in patterns)


DEBIAN_NGINX_LOGROTATE = """/var/log/nginx/*.log {
\tdaily
\tmissingok
\trotate 14
\tcompress
\tdelaycompress
\tnotifempty
\tcreate 0640 www-data adm
\tsharedscripts
\tpostrotate
\t\tinvoke-rc.d nginx rotate >/dev/null 2>&1
\tendscript
}
"""


def test_logrotate_keeps_debians_nginx_block_and_rotates_the_access_log(tmp_path):
    """Beside Debian's /etc/logrotate.d/nginx, as installed: no duplicate entry (logrotate
    would skip Debian's whole block and exit 1), and every log still has its rotation."""
    import grp
    import pwd

    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        pytest.skip("needs logrotate")
    nginx_conf = Path("/etc/logrotate.d/nginx")
    debian = nginx_conf.read_text() if nginx_conf.exists() else DEBIAN_NGINX_LOGROTATE
    logs = tmp_path / "log"
    confs = tmp_path / "logrotate.d"
    confs.mkdir()
    owner = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    shipped = (DEPLOY / "logrotate" / "dialogforum").read_text()
    ours = shipped.replace("su dialogforum dialogforum", "su {} {}".format(*owner))
    (confs / "dialogforum").write_text(ours.replace("/var/log/", f"{logs}/"))
    (confs / "nginx").write_text(debian.replace("/var/log/", f"{logs}/"))
    site = (DEPLOY / "nginx" / "dialogforum.conf").read_text()
    nginx_logs = re.findall(r"^\s*(?:access|error)_log (/var/log/\S+?)[ ;]", site, re.M)
    assert len(nginx_logs) == 2
    written = [
        logs / "nginx" / "access.log",
        *(logs / Path(p).relative_to("/var/log") for p in nginx_logs),
        logs / "dialogforum" / "access.log",
    ]
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a line\n")
    result = subprocess.run(
        [logrotate, "-d", "-s", str(tmp_path / "state"), str(confs)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "duplicate" not in output and "error:" not in output, output
    for path in written:
        assert f"considering log {path}\n" in output, path
    # rotated as the service user, who owns the folder (logrotate as root in a folder another
    # user may write is open to a symlink swapped in)
    assert "su dialogforum dialogforum" in shipped


# --- 3. the daily jobs: again each hour until noon, one digest a person a day ------------------


def _daily_runs(day: str) -> list[datetime]:
    """The times forum-daily.timer starts its service on `day` (YYYY-MM-DD), in UTC."""
    [calendar] = unit_settings(SYSTEMD / "forum-daily.timer")["OnCalendar"]
    match = re.fullmatch(r"\*-\*-\* (\d\d)\.\.(\d\d):00:00 Europe/Stockholm", calendar)
    assert match is not None, calendar
    from forum.formatting import STOCKHOLM

    first, last = int(match[1]), int(match[2])
    local = datetime.fromisoformat(day).replace(tzinfo=STOCKHOLM)
    return [(local + timedelta(hours=h)).astimezone(UTC) for h in range(first, last + 1)]


def test_the_daily_jobs_run_from_the_digest_hour_each_hour_until_noon():
    """One run at 07:00 lost the day's digest and reminders whenever it failed (the database
    away); the later runs make it good, and stop at noon."""
    from forum.formatting import STOCKHOLM

    hour = load_config(ROOT / "instance", {})["FORUM_DIGEST_HOUR"]
    runs = _daily_runs("2026-12-07")
    local = [run.astimezone(STOCKHOLM).hour for run in runs]
    assert local[0] == hour and local[-1] == 12 and len(runs) > 1
    timer = unit_settings(SYSTEMD / "forum-daily.timer")
    assert timer["Persistent"] == ["true"]
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:  # systemd reads it as meant
        result = subprocess.run(
            [analyze, "calendar", "--iterations=30", timer["OnCalendar"][0]],
            capture_output=True, text=True, timeout=30, env={**os.environ, "TZ": "UTC"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        elapses = re.findall(r"\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", result.stdout)
        assert len(elapses) == 30
        hours = {
            datetime.fromisoformat(e).replace(tzinfo=UTC).astimezone(STOCKHOLM).hour
            for e in elapses
        }
        assert hours == set(range(hour, 13))


def test_runs_each_hour_of_the_morning_send_each_person_one_digest_a_day(app, make, db):
    """Safe to run every hour: each person's Stockholm day is claimed once. Whoever had a
    digest at 07:00 gets nothing more that day (later notices wait for the next morning);
    someone whose first notice comes at 08:30 gets the day's digest at 09:00, once."""
    from forum.services import notifications

    early, late = make.user(), make.user()
    actor = make.user()

    def tell(person, text: str) -> None:
        with app.test_request_context():
            notifications.deliver([person], "action_update", text, "/actions/1", actor=actor)
            db.session.commit()

    def mails(person) -> list[OutboxMail]:
        return list(
            db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == person.email))
        )

    with app.test_request_context():
        for person in (early, late):
            notifications.save_preferences(person, {"action_update": "digest"})
    runs = _daily_runs("2026-12-07")
    tell(early, "före sju")
    for n, run in enumerate(runs):
        if n == 1:  # between the first and the second run
            tell(early, "efter sju")
            tell(late, "första för dagen")
        with app.test_request_context():
            notifications.send_digests(run + timedelta(seconds=5))
    assert [("före sju" in m.body, "efter sju" in m.body) for m in mails(early)] == [(True, False)]
    assert len(mails(late)) == 1 and "första för dagen" in mails(late)[0].body
    with app.test_request_context():
        notifications.send_digests(_daily_runs("2026-12-08")[0] + timedelta(seconds=5))
    assert len(mails(early)) == 2 and "efter sju" in mails(early)[1].body
    assert len(mails(late)) == 1


# --- 4. running a command by hand: deploy/forum-cli --------------------------------------------


def _fake_checkout(folder: Path) -> None:
    """deploy/forum-cli in a checkout whose flask prints who runs it, where, and with what;
    readable by everyone (the command runs as another user)."""
    folder.chmod(0o755)
    (folder / "deploy").mkdir()
    shutil.copy(DEPLOY / "forum-cli", folder / "deploy" / "forum-cli")
    (folder / ".venv" / "bin").mkdir(parents=True)
    flask = folder / ".venv" / "bin" / "flask"
    flask.write_text(
        '#!/bin/sh\necho "user=$(id -un) cwd=$(pwd)"\nfor a; do echo "arg=$a"; done\nenv\nexit 3\n'
    )
    for path in (folder / "deploy", folder / ".venv", folder / ".venv" / "bin"):
        path.chmod(0o755)
    flask.chmod(0o755)


def test_forum_cli_runs_a_command_as_the_service_user_with_the_settings_file_only():
    import pwd

    if os.geteuid() != 0:
        pytest.skip("runs the command as another user: needs root")
    # not pytest's tmp_path: its parents are root's alone, and the command runs as nobody
    folder = Path(tempfile.mkdtemp(prefix="forum-cli-"))
    try:
        _fake_checkout(folder)
        settings = folder / "forum.env"
        settings.write_text(
            "# a comment\n; another\nFORUM_ENV=production\n"
            "  FORUM_SECRET_KEY=ab$HOME`id`cd  \n"
            'FORUM_SMTP_PASSWORD="two words"\n'
            "FORUM_MAIL_FROM='quoted@example.se'\r\n"
            "not a setting\nFORUM_LAST=no-newline"
        )
        settings.chmod(0o600)
        result = subprocess.run(
            [str(folder / "deploy" / "forum-cli"), "users", "create", "a@example.se", "--name", "A B"],
            env={"PATH": os.environ["PATH"], "FORUM_ENV_FILE": str(settings),
                 "FORUM_SERVICE_USER": "nobody", "LEAKED_FROM_ROOT": "1"},
            capture_output=True, text=True, timeout=30, cwd="/",
        )  # fmt: skip
        assert result.returncode == 3, result.stderr  # the command's own status
        lines = result.stdout.splitlines()
        assert lines[0] == f"user=nobody cwd={folder}"
        assert [line for line in lines if line.startswith("arg=")] == [
            "arg=--app", "arg=forum", "arg=users", "arg=create", "arg=a@example.se",
            "arg=--name", "arg=A B",
        ]  # fmt: skip
        env = dict(
            line.split("=", 1)
            for line in lines
            if "=" in line and not line.startswith(("user=", "arg="))
        )
        assert env["FORUM_ENV"] == "production"
        assert env["FORUM_SECRET_KEY"] == "ab$HOME`id`cd"  # nothing expanded, nothing run
        assert env["FORUM_SMTP_PASSWORD"] == "two words"
        assert env["FORUM_MAIL_FROM"] == "quoted@example.se"
        assert env["FORUM_LAST"] == "no-newline"
        assert "LEAKED_FROM_ROOT" not in env
        assert not [name for name in env if name.startswith("FORUM_") and name not in {
            "FORUM_ENV", "FORUM_SECRET_KEY", "FORUM_SMTP_PASSWORD", "FORUM_MAIL_FROM", "FORUM_LAST"
        }]  # fmt: skip
        # as anyone but root it refuses, saying why, and runs nothing
        refused = subprocess.run(
            ["setpriv", "--reuid=nobody", f"--regid={pwd.getpwnam('nobody').pw_gid}", "--clear-groups",
             str(folder / "deploy" / "forum-cli"), "search", "reindex"],
            env={"PATH": os.environ["PATH"], "FORUM_ENV_FILE": str(settings)},
            capture_output=True, text=True, timeout=30, cwd="/",
        )  # fmt: skip
        assert refused.returncode == 2 and "as root" in refused.stderr
        assert "user=" not in refused.stdout
    finally:
        shutil.rmtree(folder)


def test_forum_cli_is_executable_and_documented():
    runner = DEPLOY / "forum-cli"
    assert runner.stat().st_mode & 0o111, "deploy/forum-cli is not executable"
    install = _section("Production and scale-out")
    assert "deploy/forum-cli users create" in install and "--role admin" in install


# --- 5. the README's install steps, followed literally ----------------------------------------


def _apt_packages() -> set[str]:
    """The packages of the install steps' `apt-get install` (with its continued lines)."""
    install = _section("Production and scale-out").split("**Install it for real**", 1)[1]
    lines = iter(install.splitlines())
    for line in lines:
        if "apt-get install" in line:
            command = line.split("apt-get install", 1)[1]
            while command.endswith("\\"):
                command = command[:-1] + next(lines)
            return set(command.split())
    raise AssertionError("no apt-get install in the install steps")


def test_the_install_steps_install_what_setup_pdfs_and_previews_need():
    packages = _apt_packages()
    # scripts/setup fetches the socket.io client with npm (static/vendor is not in git)
    assert "static/vendor/" in (ROOT / ".gitignore").read_text()
    assert {"nodejs", "npm"} <= packages
    # WeasyPrint (the PDF downloads) loads Pango; without it they are quietly left out
    assert "import weasyprint" in (ROOT / "forum" / "web" / "pdf.py").read_text()
    assert {"libpango-1.0-0", "libpangoft2-1.0-0"} <= packages
    # the previews use poppler-utils' pdfinfo and pdftoppm
    documents = (ROOT / "forum" / "services" / "documents.py").read_text()
    assert 'shutil.which("pdfinfo")' in documents and 'shutil.which("pdftoppm")' in documents
    assert "poppler-utils" in packages
    assert {"git", "sudo", "python3-venv", "postgresql", "redis-server"} <= packages


def test_the_readme_and_setup_ask_for_the_same_node():
    setup = re.search(r"Node\.js (\d+) or newer", (ROOT / "scripts" / "setup").read_text())
    assert setup is not None
    versions = set(re.findall(r"Node(?:\.js)? (\d+) or newer", README))
    assert versions == {setup.group(1)}


def test_the_database_role_and_address_in_the_install_steps_agree():
    """`createuser dialogforum` gives the role no password: the example's address reaches
    PostgreSQL by its socket (peer authentication), and the app takes that address."""
    install = _section("Production and scale-out")
    assert "sudo -u postgres createuser dialogforum\n" in install
    example = (DEPLOY / "forum.env.example").read_text()
    [url] = re.findall(r"^FORUM_DATABASE_URL=(\S+)$", example, re.M)
    assert url == "postgresql:///dialogforum?host=/var/run/postgresql" and url in install
    assert "createuser --pwprompt" in install  # the other machine's way
    config = load_config(
        ROOT / "instance",
        {"FORUM_ENV": "production", "FORUM_SECRET_KEY": "0123456789abcdef" * 4,
         "FORUM_PROXY_COUNT": "1", "FORUM_BASE_URL": "https://forum.example.se",
         "FORUM_SMTP_HOST": "smtp.example.se",
         "FORUM_DATABASE_URL": url},
    )  # fmt: skip
    assert config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg:///dialogforum?host=/var/run/postgresql"
    )


def test_every_deploy_file_the_readme_names_is_shipped():
    names = set(re.findall(r"deploy/[\w./@-]+[\w@]", README))
    units = set(re.findall(r"[`/](forum[\w@-]*\.(?:service|timer|target))`", README))
    assert {"forum@.service", "forum-migrate.service", "forum-jobs.timer"} <= units
    for name in names:
        assert (ROOT / name).exists(), name
    for unit in units:
        assert (SYSTEMD / unit).exists(), unit


# --- 6. static files revalidated, not cached an hour past an upgrade -------------------------


def test_nginx_keeps_versioned_static_files_and_revalidates_the_rest(tmp_path):
    """With `expires 1h` a browser ran the last release's scripts against the upgraded server
    for up to an hour. A plain address is asked for at each use (a 304 while unchanged, by
    ETag or Last-Modified) and a changed file comes at once; an address with a version
    (`?v=`, 12 hex: what the app's pages name) is kept a year, immutable."""
    import socket

    import requests

    site = (DEPLOY / "nginx" / "dialogforum.conf").read_text()
    static = re.search(r"location /static/ \{(.*?)\n    \}", site, re.S)
    assert static is not None
    assert "expires" not in static.group(1)
    assert "add_header Cache-Control $dialogforum_static_cache;" in static.group(1)
    versions = re.search(r"^map \$arg_v \$dialogforum_static_cache \{.*?^\}", site, re.S | re.M)
    assert versions is not None  # at the top: the http context
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("needs nginx")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    files = tmp_path / "static"
    (files / "js").mkdir(parents=True)
    script = files / "js" / "thread.js"
    script.write_text("export const release = 1;\n")
    body = static.group(1).replace("/srv/dialogforum/static/", f"{files}/")
    temp = "".join(
        f" {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        ""
        # as root, workers run as `nobody`, who may not read the test's folder
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\ndaemon off;\n"
        "events {}\nhttp {\n types { application/javascript js; }\n access_log off;\n"
        f"{versions.group(0)}\n"
        f"{temp} server {{\n  listen 127.0.0.1:{port};\n  location /static/ {{{body}\n  }}\n }}\n}}\n"
    )
    server = subprocess.Popen(
        [nginx, "-e", f"{tmp_path}/error.log", "-c", f"{tmp_path}/nginx.conf", "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/static/js/thread.js"
        first = None
        for _ in range(100):
            try:
                first = requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                if server.poll() is not None:
                    pytest.fail(server.stderr.read().decode())
                time.sleep(0.05)
        assert first is not None and first.status_code == 200
        assert first.headers["Cache-Control"] == "no-cache"
        assert "Expires" not in first.headers
        again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
        assert again.status_code == 304
        since = {"If-Modified-Since": first.headers["Last-Modified"]}
        assert requests.get(url, headers=since, timeout=5).status_code == 304
        script.write_text("export const release = 2;\n")  # the upgrade
        os.utime(script, (script.stat().st_atime, script.stat().st_mtime + 5))
        upgraded = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
        assert upgraded.status_code == 200 and "release = 2" in upgraded.text
        for query, expected in [
            ("?v=0123456789ab", "public, max-age=31536000, immutable"),
            ("?v=0123456789ab&x=1", "public, max-age=31536000, immutable"),
            ("?x=1", "no-cache"),
            ("?v=", "no-cache"),
            ("?v=0123456789abc", "no-cache"),  # not a version the app writes
            ("?v=../../etc", "no-cache"),
        ]:
            answer = requests.get(url + query, timeout=5)
            assert answer.status_code == 200 and "release = 2" in answer.text
            assert answer.headers["Cache-Control"] == expected, query
    finally:
        server.terminate()
        server.wait(10)
        server.stderr.close()


# --- 7. backups: the README's SQLite copy is whole while the forum writes -------------------


def test_vacuum_into_copies_the_live_wal_database_whole_and_private(tmp_path):
    """README: never `cp` the live SQLite file; VACUUM INTO under umask 077 writes one
    consistent moment, readable by its owner only, while another process goes on writing."""
    live = tmp_path / "forum.sqlite3"
    writer = sqlite3.connect(live, isolation_level=None, check_same_thread=False)
    assert writer.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    writer.execute("BEGIN")
    writer.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 200,)] * 20000)
    writer.execute("COMMIT")
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            writer.execute("BEGIN")
            writer.execute("INSERT INTO t (body) VALUES ('a')")
            writer.execute("INSERT INTO t (body) VALUES ('b')")  # in pairs, always
            writer.execute("COMMIT")

    thread = threading.Thread(target=write)
    thread.start()
    copy = tmp_path / "backup" / "forum-copy.sqlite3"
    copy.parent.mkdir()
    old_umask = os.umask(0o077)
    try:
        reader = sqlite3.connect(live, isolation_level=None)
        reader.execute("VACUUM INTO ?", (str(copy),))
        reader.close()
    finally:
        os.umask(old_umask)
        stop.set()
        thread.join(10)
        writer.close()
    assert copy.stat().st_mode & 0o777 == 0o600
    backup = sqlite3.connect(copy)
    assert backup.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    a, b = (
        backup.execute("SELECT count(*) FROM t WHERE body = ?", (k,)).fetchone()[0] for k in "ab"
    )
    assert a == b  # no half of a transaction
    backup.close()


def test_the_upgrade_stops_everything_migrates_then_starts():
    upgrade = _section("Upgrading and backups").split("**Backups.**", 1)[0]
    steps = [
        "systemctl stop forum.target",
        "git pull",
        "./scripts/setup --no-test",
        "systemctl start forum-migrate",
        "systemctl start\n   forum.target",
    ]
    places = [upgrade.find(step) for step in steps]
    assert -1 not in places and places == sorted(places), list(zip(steps, places, strict=True))
    assert upgrade.find("Take a backup") < places[0]


def test_after_a_restore_the_readme_ends_every_session_between_migrating_and_serving(app):
    """A restore brings back sessions logged out since the backup: the README ends them
    with the command that does (tests/test_session_expiry.py), once the database is migrated
    and before the servers start."""
    restore = _section("Upgrading and backups").split("**Restoring.**", 1)[1]
    restore = " ".join(restore.split())
    steps = [
        "systemctl start forum-migrate",
        "deploy/forum-cli users end-all-sessions --yes",
        "systemctl start forum.target",
    ]
    places = [restore.find(step) for step in steps]
    assert -1 not in places and places == sorted(places), list(zip(steps, places, strict=True))
    commands = app.test_cli_runner().invoke(args=["users", "--help"]).output
    assert "end-all-sessions" in commands
