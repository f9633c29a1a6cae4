"""Configuration, security headers, the health check and the command line.

Settings are tested through forum.config.load_config(instance_path, env) with an
explicit environment, so the machine's FORUM_* variables never leak in.
"""

from __future__ import annotations

import re
import stat

import pytest
import redis
from sqlalchemy import func, select
from support import app_settings as app_config
from support import service_missing
from test_migrations import keep_logging  # noqa: F401  (fixture, used by name)

from forum import create_app
from forum.agreement_content import COMMITMENTS, PRINCIPLES
from forum.config import ConfigError, RateLimit, load_config, parse_rate_limit
from forum.extensions import db as _db
from forum.models import Commitment, Principle, User

REAL_REDIS = "redis://127.0.0.1:6379/0"
LONG_KEY = "k" * 32
PG = "postgresql://forum@db.example/forum"
PRODUCTION = {
    "FORUM_ENV": "production",
    "FORUM_SECRET_KEY": LONG_KEY,
    "FORUM_DATABASE_URL": PG,
    "FORUM_BASE_URL": "https://forum.example.se",
    "FORUM_PROXY_COUNT": "1",  # production refuses to start without it
    "FORUM_SMTP_HOST": "smtp.example.se",  # or FORUM_MAIL_TO_LOG=1
}
CLOSED_REDIS = "redis://127.0.0.1:1/0"
STRONG_PASSWORD = "a-long-password-123"


@pytest.fixture(autouse=True)
def _close_pooled_connections(request):
    """Dispose the test app's engine after conftest's `app` fixture is done with it.

    Set up before `app`, so torn down after it. Without this the pooled connections of
    every test app are closed only by the garbage collector, which psycopg reports as a
    ResourceWarning (an error under this project's warning filter) on PostgreSQL.
    """
    yield
    app = (request.node.funcargs or {}).get("app")
    if app is not None:
        with app.app_context():
            _db.engine.dispose()


# --- security headers and cookies on real responses --------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


@pytest.mark.parametrize("path", ["/", "/overenskommelsen", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    assert response.status_code in (200, 404)
    csp = csp_directives(response.headers["Content-Security-Policy"])
    script_src = csp.get("script-src", csp.get("default-src"))
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert "*" not in script_src
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    }
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP in tests


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, f"no session cookie in {response.headers.getlist('Set-Cookie')}"
    return cookies[0]


def test_session_cookie_is_httponly_and_lax(client):
    response = client.post("/language", data={"lang": "en", "next": "/"})
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


@pytest.mark.config(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
def test_session_cookie_is_secure_over_https(client):
    response = client.post("/language", data={"lang": "en", "next": "/"})
    cookie = session_cookie(response)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


# --- load_config -----------------------------------------------------------------------


def test_cookie_settings_in_development(tmp_path):
    config = load_config(tmp_path, {})
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_SECURE"] is False


@pytest.mark.parametrize(
    "env",
    [
        {"FORUM_HTTPS": "1"},
        PRODUCTION,
    ],
    ids=["https", "production"],
)
def test_cookies_are_secure_with_https_or_in_production(tmp_path, env):
    config = load_config(tmp_path, env)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["PREFERRED_URL_SCHEME"] == "https"


def test_production_without_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="FORUM_SECRET_KEY") as excinfo:
        load_config(tmp_path, {"FORUM_ENV": "production"})
    assert "production" in str(excinfo.value)
    assert not (tmp_path / "secret_key").exists(), "production must never generate a key file"


def test_production_uses_the_secret_key_from_the_environment(tmp_path):
    key = "s3cret-from-env-" + "x" * 32
    config = load_config(tmp_path, {**PRODUCTION, "FORUM_SECRET_KEY": key})
    assert config["SECRET_KEY"] == key
    assert config["FORUM_ENV"] == "production"


def test_development_generates_a_secret_key_once_and_reuses_it(tmp_path):
    instance = tmp_path / "instance"
    first = load_config(instance, {})["SECRET_KEY"]
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert len(str(first)) >= 32
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, "the key file must be private"
    assert load_config(instance, {})["SECRET_KEY"] == first
    assert load_config(tmp_path / "other", {})["SECRET_KEY"] != first


def test_secret_key_from_environment_writes_no_file(tmp_path):
    assert load_config(tmp_path, {"FORUM_SECRET_KEY": "given"})["SECRET_KEY"] == "given"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("env", "demo"),
    [
        ({}, True),
        ({"FORUM_DEMO": "1"}, True),
        ({"FORUM_DEMO": "0"}, False),
        ({"FORUM_DEMO": "false"}, False),
        (PRODUCTION, False),
        ({**PRODUCTION, "FORUM_DEMO": "1"}, False),
    ],
)
def test_demo_setting(tmp_path, env, demo):
    assert load_config(tmp_path, env)["FORUM_DEMO"] is demo


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    config = load_config(tmp_path, {})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'forum.sqlite3'}"


def test_postgresql_url_uses_psycopg3(tmp_path):
    config = load_config(tmp_path, {"FORUM_DATABASE_URL": "postgresql://u@db.example:5432/forum"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example:5432/forum"


# --- rate limits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10/10s", RateLimit(10, 10)),
        ("10/10", RateLimit(10, 10)),
        (" 5 / 60s ", RateLimit(5, 60)),
        ("1/1S", RateLimit(1, 1)),
    ],
)
def test_parse_rate_limit(text, expected):
    limit = parse_rate_limit(text)
    assert limit == expected
    assert limit.enabled


@pytest.mark.parametrize("text", ["off", "OFF", "0", "none"])
def test_rate_limit_off(text):
    assert not parse_rate_limit(text).enabled


@pytest.mark.parametrize(
    "text", ["", "ten", "10", "10/", "/10s", "10/0s", "-1/10s", "10/10m", "1.5/10s"]
)
def test_bad_rate_limit_is_refused(text):
    with pytest.raises(ConfigError, match="FORUM_MESSAGE_RATE_LIMIT"):
        parse_rate_limit(text)


def test_bad_rate_limit_in_the_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="FORUM_MESSAGE_RATE_LIMIT"):
        load_config(tmp_path, {"FORUM_MESSAGE_RATE_LIMIT": "lots"})


@pytest.mark.parametrize("name", ["FORUM_REDIS_TIMEOUT", "FORUM_HEALTH_TIMEOUT"])
@pytest.mark.parametrize("text", ["soon", "0", "-1", "61", "nan", "inf"])
def test_a_bad_timeout_is_refused_by_name(tmp_path, name, text):
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, {name: text})


def test_timeouts_are_read_in_seconds(tmp_path):
    config = load_config(tmp_path, {"FORUM_REDIS_TIMEOUT": "0.5", "FORUM_HEALTH_TIMEOUT": "7"})
    assert (config["FORUM_REDIS_TIMEOUT"], config["FORUM_HEALTH_TIMEOUT"]) == (0.5, 7.0)
    assert load_config(tmp_path, {})["FORUM_HEALTH_TIMEOUT"] == 2.0


# --- health check ----------------------------------------------------------------------


@pytest.mark.config(FORUM_REDIS_URL=CLOSED_REDIS)
def test_healthz_is_503_when_the_message_queue_is_down(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "down"
    assert body["database"] == "ok"
    assert body["message_queue"].startswith("down")


@pytest.mark.redis
@pytest.mark.config(FORUM_REDIS_URL=REAL_REDIS)
def test_healthz_is_200_with_a_working_message_queue(client):
    try:
        redis.Redis.from_url(REAL_REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing("Redis")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("status", "database", "message_queue")} == {
        "status": "ok",
        "database": "ok",
        "message_queue": "ok",
    }
    assert body["sockets"] == 0


# --- command line ----------------------------------------------------------------------


def agreement_counts() -> tuple[int, int]:
    _db.session.expire_all()
    principles = _db.session.scalar(select(func.count()).select_from(Principle))
    commitments = _db.session.scalar(select(func.count()).select_from(Commitment))
    return principles, commitments


def test_seed_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    after_first = agreement_counts()
    assert after_first == (len(PRINCIPLES), len(COMMITMENTS))

    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0, second.output
    assert "(0 rows added)" in second.output
    assert agreement_counts() == after_first


def test_seed_fills_an_empty_database(tmp_path):
    fresh = create_app(app_config(f"sqlite:///{tmp_path / 'seed.sqlite3'}"))
    with fresh.app_context():
        try:
            _db.create_all()
            assert agreement_counts() == (0, 0)
            runner = fresh.test_cli_runner()
            first = runner.invoke(args=["seed"])
            assert first.exit_code == 0, first.output
            assert "(0 rows added)" not in first.output
            assert agreement_counts() == (len(PRINCIPLES), len(COMMITMENTS))
            second = runner.invoke(args=["seed"])
            assert "(0 rows added)" in second.output
            assert agreement_counts() == (len(PRINCIPLES), len(COMMITMENTS))
        finally:
            _db.session.remove()
            _db.engine.dispose()


@pytest.mark.config(FORUM_ENV="production")
def test_seed_demo_is_refused_in_production(app):
    result = app.test_cli_runner().invoke(args=["seed", "--demo"])
    assert result.exit_code != 0
    assert "production" in result.output
    assert _db.session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
@pytest.mark.usefixtures("keep_logging")
def test_setup_command_migrates_seeds_and_creates_the_demo_once(tmp_path):
    """What scripts/run does first: `flask --app forum setup` on a new database, twice."""
    fresh = create_app(app_config(f"sqlite:///{tmp_path / 'setup.sqlite3'}", FORUM_DEMO=True))
    with fresh.app_context():
        try:
            runner = fresh.test_cli_runner()
            first = runner.invoke(args=["setup"])
            assert first.exit_code == 0, first.output
            assert "Demo accounts" in first.output
            # the demo organisation's API token is printed once with the passwords
            assert re.search(r"API token\s+ordforande@demo\.dialogforum\.se\s+dfp_", first.output)
            assert agreement_counts() == (len(PRINCIPLES), len(COMMITMENTS))
            users = _db.session.scalar(select(func.count()).select_from(User))
            assert users and users > 0

            second = runner.invoke(args=["setup"])
            assert second.exit_code == 0, second.output
            assert "Demo accounts" not in second.output, "demo passwords are shown only once"
            assert "dfp_" not in second.output
            assert _db.session.scalar(select(func.count()).select_from(User)) == users
        finally:
            _db.session.remove()
            _db.engine.dispose()


def find_user(email: str) -> User | None:
    _db.session.expire_all()
    return _db.session.scalar(select(User).where(User.email == email))


def test_users_create_official_from_stdin(app):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "Olga.Official@Example.se",
            "--name",
            "Olga Official",
            "--role",
            "official",
            "--department",
            "Kulturnämnden",
            "--password-stdin",
        ],
        input=f"{STRONG_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    user = find_user("olga.official@example.se")
    assert user is not None
    assert user.display_name == "Olga Official"
    assert user.is_official
    assert user.department is not None and user.department.name == "Kulturnämnden"
    assert not user.is_admin
    assert STRONG_PASSWORD not in user.password_hash
    assert STRONG_PASSWORD not in result.output


@pytest.mark.parametrize(("role", "flag"), [("admin", "is_admin"), ("moderator", "is_moderator")])
def test_users_create_admin_and_moderator(app, role, flag):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            f"{role}@example.se",
            "--name",
            f"The {role}",
            "--role",
            role,
            "--password-stdin",
        ],
        input=f"{STRONG_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    user = find_user(f"{role}@example.se")
    assert user is not None and getattr(user, flag) is True


@pytest.mark.parametrize("password", ["short", "aaaaaaaaaaaaaa", "1234567890", ""])
def test_users_create_refuses_a_weak_password(app, password):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "weak@example.se",
            "--name",
            "Weak Password",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=f"{password}\n",
    )
    assert result.exit_code != 0
    assert "Error" in result.output
    assert find_user("weak@example.se") is None


def test_users_create_official_needs_a_department(app):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "nodept@example.se",
            "--name",
            "No Dept",
            "--role",
            "official",
            "--password-stdin",
        ],
        input=f"{STRONG_PASSWORD}\n",
    )
    assert result.exit_code != 0
    assert find_user("nodept@example.se") is None


@pytest.mark.parametrize(
    ("text", "limit"), [(None, 1000), ("200", 200), ("20", 20), ("5000", 5000), (" ", 1000)]
)
def test_the_catch_up_limit_is_between_20_and_5000(tmp_path, text, limit):
    env = {} if text is None else {"FORUM_CATCH_UP_LIMIT": text}
    assert load_config(tmp_path, env)["FORUM_CATCH_UP_LIMIT"] == limit


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("FORUM_CATCH_UP_LIMIT", "lots"),
        # out of range is refused with the range, not quietly raised or lowered to it:
        # an operator who wrote 5 or 99999 learns it is not what runs
        ("FORUM_CATCH_UP_LIMIT", "5"),
        ("FORUM_CATCH_UP_LIMIT", "19"),
        ("FORUM_CATCH_UP_LIMIT", "5001"),
        ("FORUM_CATCH_UP_LIMIT", "99999"),
        ("FORUM_PRESENCE_TTL", "0"),
        ("FORUM_PRESENCE_TTL", "2"),
        ("FORUM_PRESENCE_TTL", "86401"),
    ],
)
def test_a_setting_out_of_its_range_is_refused_with_the_range(tmp_path, name, text):
    with pytest.raises(ConfigError, match=name) as refused:
        load_config(tmp_path, {name: text})
    assert repr(text) in str(refused.value)
    if text.isdigit():
        assert "from " in str(refused.value)


def test_the_presence_ttl_at_its_ends_is_taken(tmp_path):
    assert load_config(tmp_path, {"FORUM_PRESENCE_TTL": "3"})["FORUM_PRESENCE_TTL"] == 3
    assert load_config(tmp_path, {"FORUM_PRESENCE_TTL": "86400"})["FORUM_PRESENCE_TTL"] == 86400
