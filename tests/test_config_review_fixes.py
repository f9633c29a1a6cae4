"""The operations review's findings: settings that were taken silently and broke the site
later (a forgotten FORUM_PROXY_COUNT, numbers out of range, a malformed API limit or hash
method, database and Redis addresses), refused settings shown as tracebacks, CLI options
without bounds, and mail retried forever or waited on for minutes."""

from __future__ import annotations

import os
import runpy
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_mail_robustness import FakeSMTP

from forum import create_app
from forum.cli import GUNICORN_CONFIG
from forum.config import ConfigError, RateLimit, load_config
from forum.extensions import db
from forum.models import AuditEntry, OutboxMail
from forum.services import mail as mail_service
from forum.services.mail import deliver_pending, queue_mail

ROOT = GUNICORN_CONFIG.parent.parent
MAX_ATTEMPTS = getattr(mail_service, "MAX_ATTEMPTS", 5)
PRODUCTION = {
    "FORUM_ENV": "production",
    "FORUM_SECRET_KEY": "k" * 48,
    "FORUM_DATABASE_URL": "postgresql://forum@db.example/forum",
    "FORUM_BASE_URL": "https://forum.example.se",
    "FORUM_PROXY_COUNT": "1",
    "FORUM_SMTP_HOST": "smtp.example.se",  # or FORUM_MAIL_TO_LOG=1
}


# --- 1. production needs FORUM_PROXY_COUNT ------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  "])
def test_production_refuses_a_missing_proxy_count(tmp_path, value):
    env = {**PRODUCTION, "FORUM_PROXY_COUNT": value}
    if value is None:
        del env["FORUM_PROXY_COUNT"]
    with pytest.raises(ConfigError, match="FORUM_PROXY_COUNT") as excinfo:
        load_config(tmp_path, env)
    assert "1 behind nginx, 0 if nothing is in front" in str(excinfo.value)


@pytest.mark.parametrize("value", ["0", "1"])
def test_production_takes_an_explicit_proxy_count(tmp_path, value):
    config = load_config(tmp_path, {**PRODUCTION, "FORUM_PROXY_COUNT": value})
    assert config["FORUM_PROXY_COUNT"] == int(value)


def test_the_production_script_and_the_deploy_files_set_the_proxy_count():
    assert "export FORUM_PROXY_COUNT=1" in (ROOT / "scripts" / "production").read_text()
    example = (ROOT / "deploy" / "forum.env.example").read_text()
    assert "\nFORUM_PROXY_COUNT=1\n" in example


# --- 2. numbers ----------------------------------------------------------------------------

BAD_NUMBERS = [
    ("FORUM_LOGIN_MAX_FAILURES", "0"),
    ("FORUM_LOGIN_MAX_FAILURES", "five"),
    ("FORUM_LOGIN_WINDOW_MINUTES", "0"),
    ("FORUM_LOGIN_WINDOW_MINUTES", "-15"),
    ("FORUM_SESSION_MAX_DAYS", "99999999999"),
    ("FORUM_SESSION_MAX_DAYS", "0"),
    ("FORUM_SESSION_IDLE_MINUTES", "99999999999999"),
    ("FORUM_RESET_TOKEN_MINUTES", "-1"),
    ("FORUM_RESET_TOKEN_MINUTES", "99999999999999"),
    ("FORUM_DATABASE_CONNECT_TIMEOUT", "0"),
    ("FORUM_DATABASE_CONNECT_TIMEOUT", "3s"),
    ("FORUM_DOCUMENT_MAX_MB", "20MB"),
    ("FORUM_DOCUMENT_MAX_MB", "0"),
    ("FORUM_DOCUMENT_MAX_COUNT", "1.5"),
    ("FORUM_SOCKET_EVENTS_PER_SECOND", "nan"),
    ("FORUM_SOCKET_EVENTS_PER_SECOND", "-1"),
    ("FORUM_SOCKET_BURST", "inf"),
    ("FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT", "0"),
    ("FORUM_SOCKET_FLOOD_COOLDOWN_SECONDS", "1e9"),
    ("FORUM_TYPING_INTERVAL_SECONDS", "two"),
    ("FORUM_FLAG_THRESHOLD", "0"),
    ("FORUM_SMTP_PORT", "99999"),
    ("FORUM_SMTP_PORT", "smtp"),
    ("FORUM_DIGEST_HOUR", "24"),
    ("FORUM_DIGEST_HOUR", "-1"),
    ("FORUM_PROXY_COUNT", "٣"),
    ("FORUM_PRESENCE_TTL", "9" * 5000),
]


@pytest.mark.parametrize(("name", "value"), BAD_NUMBERS)
def test_a_number_out_of_range_or_no_number_is_refused_by_name_and_range(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name) as excinfo:
        load_config(tmp_path, {name: value})
    assert " from " in str(excinfo.value) and " to " in str(excinfo.value)


@pytest.mark.parametrize(
    ("name", "key", "default"),
    [
        ("FORUM_SMTP_PORT", "FORUM_SMTP_PORT", 587),
        ("FORUM_DIGEST_HOUR", "FORUM_DIGEST_HOUR", 7),
        ("FORUM_LOGIN_MAX_FAILURES", "FORUM_LOGIN_MAX_FAILURES", 5),
        ("FORUM_SESSION_MAX_DAYS", "FORUM_SESSION_MAX_DAYS", 31),
        ("FORUM_SOCKET_EVENTS_PER_SECOND", "FORUM_SOCKET_EVENTS_PER_SECOND", 10.0),
    ],
)
@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_number_means_the_default(tmp_path, name, key, default, blank):
    assert load_config(tmp_path, {name: blank})[key] == default


def test_numbers_in_range_are_taken_with_spaces_around_them(tmp_path):
    config = load_config(
        tmp_path,
        {
            "FORUM_DOCUMENT_MAX_MB": " 20 ",
            "FORUM_DATABASE_CONNECT_TIMEOUT": "",
            "FORUM_SESSION_MAX_DAYS": "3650",
            "FORUM_SOCKET_EVENTS_PER_SECOND": "0",
            "FORUM_TYPING_INTERVAL_SECONDS": "0.5",
        },
    )
    assert config["FORUM_DOCUMENT_MAX_MB"] == 20
    assert config["FORUM_SESSION_MAX_DAYS"] == 3650
    assert config["FORUM_SOCKET_EVENTS_PER_SECOND"] == 0  # the budget off, as documented
    assert config["FORUM_TYPING_INTERVAL_SECONDS"] == 0.5


def test_the_connect_timeout_is_at_least_one_second_on_postgresql(tmp_path):
    env = {"FORUM_DATABASE_URL": "postgresql://u@h/db"}
    options = load_config(tmp_path, {**env, "FORUM_DATABASE_CONNECT_TIMEOUT": " "})
    assert options["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["connect_timeout"] == 3
    with pytest.raises(ConfigError, match="FORUM_DATABASE_CONNECT_TIMEOUT"):
        load_config(tmp_path, {**env, "FORUM_DATABASE_CONNECT_TIMEOUT": "0"})


# Every `n/Ns` limit the configuration loads; the first test keeps this list complete.
RATE_LIMITS = [
    "FORUM_MESSAGE_RATE_LIMIT",
    "FORUM_REGISTER_RATE_LIMIT",
    "FORUM_PDF_RATE_LIMIT",
    "FORUM_ACTION_RATE_LIMIT",
]


def test_every_rate_limit_is_in_the_list(tmp_path):
    loaded = {k for k, v in load_config(tmp_path, {}).items() if isinstance(v, RateLimit)}
    assert loaded == set(RATE_LIMITS)


@pytest.mark.parametrize("name", RATE_LIMITS)
@pytest.mark.parametrize("value", [" ", ""])
def test_an_empty_rate_limit_means_the_default(tmp_path, name, value):
    assert load_config(tmp_path, {name: value})[name].enabled


@pytest.mark.parametrize("name", RATE_LIMITS)
@pytest.mark.parametrize("value", ["lots", "20/10m", "-1/60s", "20/0s"])
def test_a_malformed_rate_limit_is_refused_by_its_name(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, {name: value})


# --- 3., 4. the API limits and the hash method ---------------------------------------------


@pytest.mark.parametrize("name", ["FORUM_API_RATE_LIMIT", "FORUM_API_TOKEN_RATE_LIMIT"])
@pytest.mark.parametrize("value", ["garbage", "120 per fortnight", "120/minute;;x"])
def test_a_malformed_api_limit_is_refused(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, {name: value})


def test_api_limits_in_the_limits_notation_are_taken(tmp_path):
    config = load_config(
        tmp_path, {"FORUM_API_RATE_LIMIT": "10/second;1000/day", "FORUM_API_TOKEN_RATE_LIMIT": ""}
    )
    assert config["FORUM_API_RATE_LIMIT"] == "10/second;1000/day"
    assert config["FORUM_API_TOKEN_RATE_LIMIT"] == "600 per minute"


@pytest.mark.parametrize("value", ["scrpyt", "pbkdf2:sha257", "pbkdf2:sha256:0", "md5"])
def test_a_password_hash_method_werkzeug_refuses_is_refused_at_start(tmp_path, value):
    with pytest.raises(ConfigError, match="FORUM_PASSWORD_HASH"):
        load_config(tmp_path, {"FORUM_PASSWORD_HASH": value})


def test_a_good_password_hash_method_is_taken(tmp_path):
    config = load_config(tmp_path, {"FORUM_PASSWORD_HASH": " pbkdf2:sha256:1000 "})
    assert config["FORUM_PASSWORD_HASH"] == "pbkdf2:sha256:1000"


# --- 5. database and Redis addresses -------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["postgres://u:pw@h/db", "postgresql://u:pw@h/db", "  postgresql://u:pw@h/db  "]
)
def test_postgres_addresses_go_to_psycopg(tmp_path, url):
    config = load_config(tmp_path, {"FORUM_DATABASE_URL": url})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:pw@h/db"
    assert "connect_timeout" in config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]


@pytest.mark.parametrize(
    "url", ["postgress://u:secret@h/db", "not a url", "postgresql://u@h:port/db"]
)
def test_a_database_address_sqlalchemy_cannot_read_is_refused_without_its_password(tmp_path, url):
    with pytest.raises(ConfigError, match="FORUM_DATABASE_URL") as excinfo:
        load_config(tmp_path, {"FORUM_DATABASE_URL": url})
    assert "secret" not in str(excinfo.value)


def test_a_sqlite_address_with_spaces_around_it_is_refused_in_production_all_the_same(tmp_path):
    env = {**PRODUCTION, "FORUM_DATABASE_URL": f"  sqlite:///{tmp_path}/x.sqlite3"}
    with pytest.raises(ConfigError, match="FORUM_ALLOW_SQLITE"):
        load_config(tmp_path, env)


@pytest.mark.parametrize(
    "url", ["redis//127.0.0.1:6379", "http://127.0.0.1:6379", "redis://127.0.0.1:port/0"]
)
def test_a_redis_address_redis_cannot_read_is_refused(tmp_path, url):
    with pytest.raises(ConfigError, match="FORUM_REDIS_URL"):
        load_config(tmp_path, {"FORUM_REDIS_URL": url})


def test_a_unix_socket_redis_address_is_refused_clearly(tmp_path):
    """The code path cannot use one: the message queue's listener and the API limiter."""
    with pytest.raises(ConfigError, match="unix://") as excinfo:
        load_config(tmp_path, {"FORUM_REDIS_URL": "unix:///run/redis/redis.sock"})
    assert "FORUM_REDIS_URL" in str(excinfo.value)


def test_a_redis_address_loses_its_spaces_and_goes_to_the_redis_queue(tmp_path):
    url = load_config(tmp_path, {"FORUM_REDIS_URL": " redis://127.0.0.1:6379/0 "})
    assert url["FORUM_REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert load_config(tmp_path, {"FORUM_REDIS_URL": "  "})["FORUM_REDIS_URL"] is None


# --- 6. a refused setting is a message and exit status 1 ------------------------------------


def _flask(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
    settings = {
        "FORUM_DATABASE_URL": f"sqlite:///{tmp_path}/forum.sqlite3",
        "FORUM_SECRET_KEY": "s" * 40,
        "FORUM_DIGEST_SCHEDULER": "0",
        **env,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "forum", *args],
        cwd=ROOT,
        env={**base, **settings},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_refused_setting_under_a_flask_command_is_its_message_not_a_traceback(tmp_path):
    result = _flask(tmp_path, "mail", "send", FORUM_LOGIN_MAX_FAILURES="0")
    assert result.returncode == 1
    assert "Error: FORUM_LOGIN_MAX_FAILURES must be a whole number from 1 to" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_app_outside_a_command_still_raises_the_config_error(monkeypatch):
    monkeypatch.setenv("FORUM_SMTP_PORT", "smtp")
    with pytest.raises(ConfigError, match="FORUM_SMTP_PORT"):
        create_app()


def test_the_gunicorn_config_refuses_its_own_bad_numbers_with_exit_status_1(monkeypatch, capsys):
    monkeypatch.setenv("FORUM_WORKER_CONNECTIONS", "lots")
    with pytest.raises(SystemExit) as excinfo:
        runpy.run_path(str(GUNICORN_CONFIG))
    assert excinfo.value.code == 1
    assert "FORUM_WORKER_CONNECTIONS must be a whole number" in capsys.readouterr().err
    monkeypatch.setenv("FORUM_WORKER_CONNECTIONS", "")
    monkeypatch.setenv("FORUM_GRACEFUL_TIMEOUT", "-2")
    with pytest.raises(SystemExit):
        runpy.run_path(str(GUNICORN_CONFIG))
    monkeypatch.delenv("FORUM_GRACEFUL_TIMEOUT")
    settings = runpy.run_path(str(GUNICORN_CONFIG))
    assert (settings["worker_connections"], settings["graceful_timeout"]) == (10000, 2)


def test_gunicorn_checks_the_app_settings_before_any_worker_starts(monkeypatch, capsys):
    settings = runpy.run_path(str(GUNICORN_CONFIG))
    monkeypatch.setenv("FORUM_LOGIN_WINDOW_MINUTES", "0")
    with pytest.raises(SystemExit) as excinfo:
        settings["on_starting"](None)
    assert excinfo.value.code == 1
    err = capsys.readouterr().err
    assert "Error: FORUM_LOGIN_WINDOW_MINUTES" in err and "Traceback" not in err
    monkeypatch.delenv("FORUM_LOGIN_WINDOW_MINUTES")
    settings["on_starting"](None)  # good settings: nothing to say


# --- 7. production's cookies and key --------------------------------------------------------


def test_production_refuses_https_off_with_an_https_address(tmp_path):
    with pytest.raises(ConfigError, match="FORUM_HTTPS"):
        load_config(tmp_path, {**PRODUCTION, "FORUM_HTTPS": "0"})
    plain = {**PRODUCTION, "FORUM_HTTPS": "0", "FORUM_BASE_URL": "http://forum.example.se"}
    assert load_config(tmp_path, plain)["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize("key", [" " * 64, "\t" * 40, " " * 30 + "abc" + " " * 30])
def test_production_measures_the_secret_key_without_its_spaces(tmp_path, key):
    with pytest.raises(ConfigError, match="FORUM_SECRET_KEY"):
        load_config(tmp_path, {**PRODUCTION, "FORUM_SECRET_KEY": key})


# --- 8. command-line options ---------------------------------------------------------------


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_archive_export_checks_the_folder_before_building(app, make, tmp_path):
    admin = make.user("admin")
    forum = make.forum()
    before = _audit_count()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["export", "archive", "forum", str(forum.id), "--admin", admin.email,
              "--out", str(tmp_path / "missing" / "x.zip")]
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.output
    assert not isinstance(result.exception, FileNotFoundError)
    assert _audit_count() == before  # nothing built, nothing logged
    target = tmp_path / "x.zip"
    result = runner.invoke(
        args=["export", "archive", "forum", str(forum.id), "--admin", admin.email,
              "--out", str(target)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0 and _audit_count() == before + 1


def test_archive_export_names_an_unknown_admin(app, make):
    forum = make.forum()
    result = app.test_cli_runner().invoke(
        args=["export", "archive", "forum", str(forum.id), "--admin", "nobody@example.se"]
    )
    assert result.exit_code == 2
    assert "nobody@example.se" in result.output and "permission" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["consultations", "remind", "--days", "99999999"],
        ["consultations", "remind", "--days", "-1"],
        ["serve", "--port", "99999"],
        ["serve", "--port", "0"],
    ],
)
def test_command_line_numbers_are_bounded(app, args):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2
    assert "is not in the range" in result.output


# --- 9. mail ------------------------------------------------------------------------------


class Server(FakeSMTP):
    """test_mail_robustness's stand-in for smtplib.SMTP (`failing[to]` is what the server
    raises for `to`), counting connections, and refusing them with `refuse_connection`."""

    connections = 0
    refuse_connection: BaseException | None = None

    def __init__(self, *_args, **_kwargs) -> None:
        type(self).connections += 1
        if self.refuse_connection is not None:
            raise self.refuse_connection


@pytest.fixture
def server(app, monkeypatch) -> type[Server]:
    app.config["FORUM_SMTP_HOST"] = "smtp.invalid"
    monkeypatch.setattr(Server, "connections", 0)
    monkeypatch.setattr(Server, "sent", [], raising=False)
    monkeypatch.setattr(Server, "failing", {}, raising=False)
    monkeypatch.setattr(Server, "refuse_connection", None)
    monkeypatch.setattr(mail_service.smtplib, "SMTP", Server)
    return Server


def _queue(*addresses: str) -> None:
    for address in addresses:
        queue_mail(address, f"Till {address}", "Hej")
    db.session.commit()


def _row(address: str) -> OutboxMail:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == address)).one()


def test_a_mail_refused_for_good_is_marked_failed_and_never_tried_again(app, server, caplog):
    _queue("gone@example.se", "anna@example.se")
    server.failing["gone@example.se"] = smtplib.SMTPRecipientsRefused(
        {"gone@example.se": (550, b"no such user")}
    )
    assert deliver_pending() == 1
    row = _row("gone@example.se")
    assert row.failed_at is not None and row.sent_at is None and row.attempts == 1
    assert "550" in row.last_error
    assert any(r.levelname == "ERROR" and str(row.id) in r.getMessage() for r in caplog.records)
    connections = server.connections
    assert deliver_pending() == 0
    assert server.connections == connections  # not tried again


def test_a_data_refusal_5xx_fails_at_once_but_a_4xx_is_retried(app, server):
    _queue("big@example.se", "busy@example.se")
    server.failing["big@example.se"] = smtplib.SMTPDataError(552, b"too big")
    server.failing["busy@example.se"] = smtplib.SMTPDataError(451, b"try later")
    deliver_pending()
    assert _row("big@example.se").failed_at is not None
    busy = _row("busy@example.se")
    assert busy.failed_at is None and busy.attempts == 1


def test_a_mail_that_keeps_failing_is_given_up_after_max_attempts(app, server):
    _queue("odd@example.se")
    server.failing["odd@example.se"] = ValueError("cannot encode")
    for _run in range(MAX_ATTEMPTS + 2):
        deliver_pending()
    row = _row("odd@example.se")
    assert row.attempts == MAX_ATTEMPTS and row.failed_at is not None and row.sent_at is None


def test_an_unreachable_server_stops_the_run_at_the_first_mail(app, server):
    _queue(*(f"p{i}@example.se" for i in range(10)))
    server.refuse_connection = ConnectionRefusedError(111, "Connection refused")
    assert deliver_pending() == 0
    assert server.connections == 1  # not ten connection attempts of up to 15 s each
    rows = db.session.scalars(select(OutboxMail)).all()
    assert all(r.failed_at is None and r.attempts == 0 and r.claimed_until is None for r in rows)
    for _run in range(MAX_ATTEMPTS + 1):  # a long outage fails no mail
        deliver_pending()
    assert all(r.failed_at is None for r in db.session.scalars(select(OutboxMail)))
    server.refuse_connection = None
    assert deliver_pending() == 10


def test_a_connection_lost_while_sending_stops_the_run(app, server):
    _queue("a@example.se", "b@example.se", "c@example.se")
    server.failing["a@example.se"] = smtplib.SMTPServerDisconnected("gone")
    assert deliver_pending() == 0
    assert server.connections == 1
    assert _row("a@example.se").attempts == 1 and _row("b@example.se").attempts == 0
