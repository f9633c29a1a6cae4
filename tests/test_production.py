"""Production guard rails, the server choice, proxies, health checks and shared presence.

The real-process tests (nginx, two servers, faults) are in test_production_stack.py.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import redis
from support import app_settings, create_schema, service_missing

from forum import create_app, events
from forum.cli import GUNICORN_CONFIG, gunicorn_command
from forum.config import EXAMPLE_SECRET_KEY, ConfigError, load_config
from forum.extensions import db as _db
from forum.realtime import presence
from forum.serving import NoDelayRequestHandler
from forum.web import health

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
REAL_REDIS = "redis://127.0.0.1:6379/0"


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["prod", "dev", "staging", "produktion", "test"])
def test_unknown_environment_is_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="FORUM_ENV"):
        load_config(tmp_path, {"FORUM_ENV": value})
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("value", ["development", "Development", " production "])
def test_known_environments_are_accepted(tmp_path, value):
    env = {**PRODUCTION, "FORUM_ENV": value}
    assert load_config(tmp_path, env)["FORUM_ENV"] == value.strip().lower()


@pytest.mark.parametrize("debug", ["1", "true", "yes"])
def test_production_refuses_flask_debug(tmp_path, debug):
    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        load_config(tmp_path, {**PRODUCTION, "FLASK_DEBUG": debug})


def test_flask_debug_off_is_fine_in_production(tmp_path):
    assert load_config(tmp_path, {**PRODUCTION, "FLASK_DEBUG": "0"})["FORUM_ENV"] == "production"


@pytest.mark.parametrize("key", ["short", "k" * 31, "å" * 15])
def test_production_refuses_a_short_secret_key(tmp_path, key):
    with pytest.raises(ConfigError, match="32 bytes"):
        load_config(tmp_path, {**PRODUCTION, "FORUM_SECRET_KEY": key})


def test_secret_key_length_counts_bytes(tmp_path):
    key = "å" * 16  # 16 characters, 32 bytes in UTF-8
    assert load_config(tmp_path, {**PRODUCTION, "FORUM_SECRET_KEY": key})["SECRET_KEY"] == key


def test_production_refuses_sqlite_unless_allowed(tmp_path):
    env = {**PRODUCTION}
    del env["FORUM_DATABASE_URL"]
    with pytest.raises(ConfigError, match="FORUM_ALLOW_SQLITE"):
        load_config(tmp_path, env)
    with pytest.raises(ConfigError, match="FORUM_ALLOW_SQLITE"):
        load_config(tmp_path, {**env, "FORUM_DATABASE_URL": "sqlite:////srv/forum.db"})
    config = load_config(tmp_path, {**env, "FORUM_ALLOW_SQLITE": "1"})
    assert str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite")


def test_development_keeps_sqlite_debug_and_a_generated_key(tmp_path):
    config = load_config(tmp_path, {"FLASK_DEBUG": "1"})
    assert str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite")


@pytest.mark.parametrize(("value", "mode"), [("gevent", "gevent"), ("Threading", "threading")])
def test_async_mode_comes_from_config(tmp_path, value, mode):
    assert load_config(tmp_path, {"FORUM_ASYNC_MODE": value})["FORUM_ASYNC_MODE"] == mode


def test_async_mode_defaults_to_threads_outside_a_gevent_server(tmp_path):
    assert load_config(tmp_path, {})["FORUM_ASYNC_MODE"] == "threading"


@pytest.mark.parametrize("value", ["eventlet", "asyncio", "gevent_uwsgi", "fast"])
def test_other_async_modes_are_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="FORUM_ASYNC_MODE"):
        load_config(tmp_path, {"FORUM_ASYNC_MODE": value})


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_bad_proxy_count_is_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="FORUM_PROXY_COUNT"):
        load_config(tmp_path, {"FORUM_PROXY_COUNT": value})


def test_postgresql_connections_time_out(tmp_path):
    config = load_config(tmp_path, {"FORUM_DATABASE_URL": PG})
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["connect_timeout"] == 3


# --- the server --------------------------------------------------------------------------


def test_the_socketio_server_runs_in_the_configured_mode(app):
    from forum.extensions import socketio

    assert socketio.server.eio.async_mode == "threading"
    assert app.config["FORUM_ASYNC_MODE"] == "threading"


def test_serve_uses_gunicorn_with_one_gevent_worker():
    command = gunicorn_command("127.0.0.1", 5000)
    assert command[1:3] == ["-m", "gunicorn"]
    assert str(GUNICORN_CONFIG) in command and "127.0.0.1:5000" in command
    settings: dict = {}
    exec(GUNICORN_CONFIG.read_text(), settings)  # noqa: S102 — our own config file
    assert settings["workers"] == 1
    assert settings["worker_class"] == "gevent"
    assert settings["raw_env"] == ["FORUM_ASYNC_MODE=gevent"]
    assert settings["worker_connections"] >= 10000
    assert settings["forwarded_allow_ips"] == ""


@pytest.mark.config(FORUM_ENV="production")
def test_serve_refuses_the_development_server_in_production(app, monkeypatch):
    monkeypatch.setenv("FORUM_ASYNC_MODE", "threading")
    result = app.test_cli_runner().invoke(args=["serve", "--port", "1"])
    assert result.exit_code != 0
    assert "development server" in result.output
    assert "scripts/production" in result.output


def test_flask_run_refuses_the_development_server_in_production(tmp_path):
    """Flask's own `flask run` started Werkzeug's development server in production, with a
    versioned Server header; it stops as `flask serve` does (exit 1, the way to run it)."""
    import os
    import secrets
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(
        FORUM_ENV="production",
        FORUM_SECRET_KEY=secrets.token_hex(32),
        FORUM_DATABASE_URL=f"sqlite:///{tmp_path / 'forum.sqlite3'}",
        FORUM_ALLOW_SQLITE="1",
        FORUM_BASE_URL="https://forum.example.se",
        FORUM_PROXY_COUNT="1",
        FORUM_SMTP_HOST="smtp.example.se",
        FORUM_DOCUMENT_DIR=str(tmp_path / "documents"),
    )
    done = subprocess.run(  # bounded: it would otherwise serve until killed
        [sys.executable, "-m", "flask", "--app", "forum", "run", "--port", "1"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-500:]
    assert "development server" in done.stderr and "scripts/production" in done.stderr


def test_embedded_werkzeug_server_names_no_versions_and_disables_nagle():
    import socket
    import threading

    import requests
    from werkzeug.serving import make_server

    def probe(environ, start_response):
        sock = environ["werkzeug.socket"]
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(nodelay).encode()]

    server = make_server(
        "127.0.0.1", 0, probe, threaded=True, request_handler=NoDelayRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = requests.get(f"http://127.0.0.1:{server.server_port}/", timeout=5)
        assert response.text == "1", "TCP_NODELAY is not set on the connection"
        assert response.headers["Server"] == "Dialogforum"
    finally:
        server.shutdown()
        server.server_close()


# --- proxies, origins and headers on Socket.IO responses ---------------------------------

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def test_polling_responses_carry_the_security_headers(client):
    response = client.get(HANDSHAKE, headers={"Origin": "http://localhost"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("0{")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_a_page_keeps_one_copy_of_each_header(client):
    response = client.get("/")
    assert len(response.headers.getlist("Content-Security-Policy")) == 1


def test_forwarded_headers_from_a_client_do_not_pass_the_origin_check(client):
    forged = {
        "Origin": "http://evil.example",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "http",
    }
    assert client.get(HANDSHAKE, headers=forged).status_code == 400
    assert client.get(HANDSHAKE, headers={"Origin": "http://evil.example"}).status_code == 400


def test_forwarded_headers_do_not_change_the_client_address_without_a_proxy(app, client):
    seen = {}

    @app.get("/_remote")
    def remote():
        from flask import request

        seen["addr"] = request.remote_addr
        seen["scheme"] = request.scheme
        return "ok"

    client.get("/_remote", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert seen == {"addr": "127.0.0.1", "scheme": "http"}


@pytest.mark.config(FORUM_PROXY_COUNT=1)
def test_the_configured_proxy_is_trusted_for_origin_address_and_scheme(app, client):
    seen = {}

    @app.get("/_remote")
    def remote():
        from flask import request

        seen["addr"] = request.remote_addr
        seen["scheme"] = request.scheme
        seen["host"] = request.host
        return "ok"

    proxied = {
        "X-Forwarded-For": "198.51.100.1, 203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "forum.example.se",
    }
    client.get("/_remote", headers=proxied)
    # one proxy: only the address it added counts, not what the client claimed before it
    assert seen == {"addr": "203.0.113.9", "scheme": "https", "host": "forum.example.se"}
    ok = client.get(HANDSHAKE, headers={**proxied, "Origin": "https://forum.example.se"})
    assert ok.status_code == 200
    # a second, client-written host in the chain is not believed
    forged = {**proxied, "X-Forwarded-Host": "evil.example, forum.example.se"}
    response = client.get(HANDSHAKE, headers={**forged, "Origin": "https://evil.example"})
    assert response.status_code == 400


# --- health ----------------------------------------------------------------------------------


def test_healthz_reports_database_sockets_and_mode(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["message_queue"] == "none"
    assert body["sockets"] == 0
    assert body["async_mode"] == "threading"


def test_liveness_answers(client):
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


@pytest.fixture
def dead_database_app():
    """An app whose PostgreSQL does not answer (nothing listens on port 1)."""
    application = create_app(app_settings("postgresql://postgres@127.0.0.1:1/nowhere"))
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


def test_healthz_is_503_and_liveness_200_when_the_database_is_down(dead_database_app):
    client = dead_database_app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "down" and body["database"].startswith("down")
    assert client.get("/healthz/live").status_code == 200


@pytest.mark.parametrize(("lang", "text"), [("sv", "Databasen går inte att nå"), ("en", "cannot")])
def test_pages_answer_503_without_the_database(dead_database_app, lang, text):
    client = dead_database_app.test_client()
    response = client.get("/forums", headers={"Accept-Language": lang})
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert text in page and f'lang="{lang}"' in page
    assert response.headers["Retry-After"]
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


def test_api_clients_get_a_json_503(dead_database_app):
    client = dead_database_app.test_client()
    response = client.get("/forums", headers={"Accept": "application/json"})
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False and body["error"]["code"] == "unavailable"
    # the open-data API keeps its one error shape, as its OpenAPI document says
    response = client.get("/api/v1/forums")
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == "unavailable"
    assert body["error"]["message"]


def test_socket_events_get_an_unavailable_ack_without_the_database(dead_database_app):
    from forum.extensions import socketio

    sock = socketio.test_client(dead_database_app)
    try:
        ack = sock.emit("join", {"thread_id": 1}, callback=True)
        assert ack["ok"] is False
        assert ack["error"]["code"] == "unavailable"
    finally:
        sock.disconnect()


# --- presence across processes (Redis) ----------------------------------------------------


@pytest.fixture
def shared_presence():
    """Presence on the real Redis under a prefix of its own, with a clock the test moves."""
    try:
        redis.Redis.from_url(REAL_REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing("Redis")
    prefix = f"test-presence-{uuid.uuid4().hex[:8]}"
    presence.configure(REAL_REDIS, ttl=30, prefix=prefix)
    yield prefix
    client = redis.Redis.from_url(REAL_REDIS)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()
    presence.configure(None)


def other_process_enters(prefix, thread_id, sid, person, expires_in=30.0, now=None):
    import time

    now = time.time() if now is None else now
    client = redis.Redis.from_url(REAL_REDIS)
    client.hset(
        f"{prefix}:presence:{thread_id}", sid, json.dumps({"p": person, "x": now + expires_in})
    )
    client.close()


@pytest.mark.redis
def test_presence_lists_people_on_every_process(shared_presence):
    anna = {"id": 1, "display_name": "Anna"}
    bo = {"id": 2, "display_name": "Bo"}
    presence.enter(7, "sid-here", anna)
    other_process_enters(shared_presence, 7, "sid-there", bo)
    other_process_enters(shared_presence, 7, "sid-visitor", None)
    snap = presence.snapshot(7)
    assert [u["display_name"] for u in snap["users"]] == ["Anna", "Bo"]
    assert snap["visitors"] == 1
    presence.leave_all("sid-here")
    assert [u["display_name"] for u in presence.snapshot(7)["users"]] == ["Bo"]


@pytest.mark.redis
def test_a_dead_process_entries_expire_and_the_room_is_told_once(shared_presence, monkeypatch):
    import time

    clock = {"now": time.time()}
    monkeypatch.setattr(presence.time, "time", lambda: clock["now"])
    anna = {"id": 1, "display_name": "Anna"}
    bo = {"id": 2, "display_name": "Bo"}
    presence.enter(8, "sid-alive", anna)
    other_process_enters(shared_presence, 8, "sid-dead", bo, now=clock["now"])
    assert len(presence.snapshot(8)["users"]) == 2
    clock["now"] += 20
    assert presence.refresh_once() == []  # within the TTL nothing changes
    clock["now"] += 20  # the dead process never refreshed: 40 s > 30 s TTL
    # the living process refreshed its own entry, so only the dead one went
    assert presence.refresh_once() == [8]
    assert [u["display_name"] for u in presence.snapshot(8)["users"]] == ["Anna"]
    assert presence.refresh_once() == []  # told once, not on every refresh
    presence.leave_all("sid-alive")


@pytest.mark.redis
def test_presence_falls_back_to_this_process_when_redis_is_down():
    presence.configure("redis://127.0.0.1:1/0", ttl=30, prefix="nowhere")
    try:
        presence.enter(9, "sid-local", {"id": 3, "display_name": "Cecilia"})
        assert [u["display_name"] for u in presence.snapshot(9)["users"]] == ["Cecilia"]
    finally:
        presence.leave_all("sid-local")
        presence.configure(None)


@pytest.mark.redis
def test_garbage_in_redis_is_dropped_not_crashed_on(shared_presence):
    client = redis.Redis.from_url(REAL_REDIS)
    client.hset(f"{shared_presence}:presence:10", "sid-bad", b"not json")
    client.close()
    assert presence.snapshot(10) == {"thread_id": 10, "users": [], "visitors": 0}


# --- scripts/production and deploy/ without starting servers ---------------------------------

ROOT = GUNICORN_CONFIG.parent.parent


def run_production_script(tmp_path, **env):
    import os
    import subprocess

    base = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
    return subprocess.run(
        [str(ROOT / "scripts" / "production")],
        env={**base, "FORUM_SKIP_SETUP": "1", "FORUM_RUN_DIR": str(tmp_path / "run"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_script_says_how_to_get_nginx_when_it_is_missing(tmp_path):
    result = run_production_script(tmp_path, FORUM_NGINX=str(tmp_path / "no-nginx"))
    assert result.returncode != 0
    assert "apt-get install nginx-light" in result.stderr
    assert not (tmp_path / "run").exists()


def test_production_script_needs_a_database_and_redis(tmp_path):
    result = run_production_script(tmp_path)
    assert result.returncode != 0 and "FORUM_DATABASE_URL" in result.stderr
    result = run_production_script(tmp_path, FORUM_DATABASE_URL="postgresql://x@127.0.0.1:1/x")
    assert result.returncode != 0 and "FORUM_REDIS_URL" in result.stderr
    result = run_production_script(tmp_path, FORUM_PROCESSES="none")
    assert result.returncode != 0 and "FORUM_PROCESSES" in result.stderr


def test_deploy_site_is_valid_nginx(tmp_path):
    import shutil
    import subprocess

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not shutil.which("openssl") or not Path(nginx).exists():
        pytest.skip("needs nginx and openssl")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=forum.example.se", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = (ROOT / "deploy" / "nginx" / "dialogforum.conf").read_text()
    site = site.replace("/etc/nginx/snippets/", f"{ROOT}/deploy/nginx/")
    site = site.replace(
        "/etc/letsencrypt/live/forum.example.se/fullchain.pem", str(tmp_path / "cert.pem")
    )
    site = site.replace(
        "/etc/letsencrypt/live/forum.example.se/privkey.pem", str(tmp_path / "key.pem")
    )
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    assert "ip_hash;" in site and "server_tokens off;" in site
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-q", "-e", f"{tmp_path}/error.log", "-c", f"{tmp_path}/nginx.conf"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    proxy = (ROOT / "deploy" / "nginx" / "dialogforum-proxy.conf").read_text()
    for directive in (
        "proxy_buffering off;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_read_timeout 75s;",
    ):
        assert directive in proxy


def test_systemd_unit_is_a_template_with_a_raised_file_limit():
    unit = (ROOT / "deploy" / "systemd" / "forum@.service").read_text()
    assert "FORUM_BIND=127.0.0.1:%i" in unit
    assert "LimitNOFILE=65536" in unit
    assert "gunicorn.conf.py" in unit and "EnvironmentFile=/etc/dialogforum/forum.env" in unit
    env = (ROOT / "deploy" / "forum.env.example").read_text()
    settings = dict(
        line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#")
    )
    # the example leaves the secret key to be filled in, and production refuses it empty
    assert settings["FORUM_SECRET_KEY"] == ""
    with pytest.raises(ConfigError, match="FORUM_SECRET_KEY"):
        load_config(ROOT / "instance", settings)
    settings["FORUM_SECRET_KEY"] = "0123456789abcdef" * 4
    assert load_config(ROOT / "instance", settings)["FORUM_ENV"] == "production"


def test_production_refuses_the_example_placeholder_secret_key(tmp_path):
    for key in (EXAMPLE_SECRET_KEY, "change-me-" + "0" * 40, "Please-CHANGE-ME-" + "x" * 32):
        with pytest.raises(ConfigError, match="placeholder"):
            load_config(tmp_path, {**PRODUCTION, "FORUM_SECRET_KEY": key})


@pytest.mark.parametrize(
    "base_url", [None, "", "forum.example.se", "ftp://forum.example.se", "https://"]
)
def test_production_needs_an_absolute_http_base_url(tmp_path, base_url):
    env = {**PRODUCTION, "FORUM_BASE_URL": base_url}
    if base_url is None:
        del env["FORUM_BASE_URL"]
    with pytest.raises(ConfigError, match="FORUM_BASE_URL"):
        load_config(tmp_path, env)


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:5000", "https://localhost", "http://[::1]:8080", "http://127.1.2.3"],
)
def test_production_refuses_a_loopback_base_url_unless_allowed(tmp_path, base_url):
    env = {**PRODUCTION, "FORUM_BASE_URL": base_url}
    with pytest.raises(ConfigError, match="FORUM_ALLOW_LOOPBACK_BASE_URL"):
        load_config(tmp_path, env)
    config = load_config(tmp_path, {**env, "FORUM_ALLOW_LOOPBACK_BASE_URL": "1"})
    assert config["FORUM_BASE_URL"] == base_url


def test_production_takes_a_public_base_url(tmp_path):
    config = load_config(tmp_path, {**PRODUCTION, "FORUM_BASE_URL": "http://forum.kommun.se/"})
    assert config["FORUM_BASE_URL"] == "http://forum.kommun.se"


def test_development_keeps_the_local_base_url(tmp_path):
    assert load_config(tmp_path, {})["FORUM_BASE_URL"] == "http://127.0.0.1:5000"


def _site() -> str:
    return (ROOT / "deploy" / "nginx" / "dialogforum.conf").read_text()


def test_the_nginx_site_takes_the_largest_upload_the_app_takes(tmp_path):
    """nginx's client_max_body_size must not refuse a document the app accepts."""
    sizes = re.findall(r"^\s*client_max_body_size\s+(\d+)m;", _site(), re.MULTILINE)
    assert len(sizes) == 1
    config = load_config(tmp_path, {})
    assert int(sizes[0]) * 1024 * 1024 == config["MAX_CONTENT_LENGTH"]
    assert config["MAX_CONTENT_LENGTH"] > config["FORUM_DOCUMENT_MAX_MB"] * 1024 * 1024


def test_the_nginx_site_compresses_static_css_and_javascript():
    static = re.search(r"location /static/ \{(.*?)\n    \}", _site(), re.DOTALL)
    assert static is not None
    assert "gzip on;" in static.group(1)
    types = re.search(r"gzip_types ([^;]+);", static.group(1))
    assert types is not None
    assert {"text/css", "application/javascript"} <= set(types.group(1).split())


# --- Redis and PostgreSQL that hang (our own servers, stopped with SIGSTOP) -----------------


def _bounded(work, seconds: float):
    """Run `work()` in a thread; (result, elapsed), or (None, elapsed) when it did not end."""
    import threading
    import time

    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(work()), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(seconds)
    return (result[0] if result else None), time.monotonic() - started


@pytest.fixture
def own_redis(tmp_path, request, monkeypatch):
    """A redis-server of our own for the test's app (marker `config`); SIGCONT and killed after."""
    import os
    import shutil
    import signal

    from production_stack import RedisServer

    if not shutil.which("redis-server"):
        service_missing("redis-server")
    server = RedisServer(tmp_path / "redis").start()
    request.node.add_marker(pytest.mark.config(FORUM_REDIS_URL=server.url))
    # the disconnect listener is once per process: don't leave it on a server we kill
    monkeypatch.setattr(events, "_listener_started", True)
    yield server
    if server.proc is not None and server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGCONT)
    server.stop()


def test_what_a_send_asks_of_redis_gives_up_in_seconds_while_redis_hangs(own_redis, app):
    """A send's Redis work: its rate limit, the Socket.IO broadcast, a disconnect notice.
    (The Socket.IO test client refuses a message queue; test_production_stack.py sends
    through the real processes.)"""
    import os
    import signal

    from forum.extensions import socketio
    from forum.message_queue import BoundedRedisManager
    from forum.services import throttle

    timeout = app.config["FORUM_REDIS_TIMEOUT"]
    assert isinstance(socketio.server.manager, BoundedRedisManager)
    assert throttle.redis_hit("send", "u1", 10, 10) is True
    assert own_redis.proc is not None
    os.kill(own_redis.proc.pid, signal.SIGSTOP)  # hung: connects, never answers

    def hit():
        with app.app_context():
            return throttle.redis_hit("send", "u1", 10, 10)

    hit, seconds = _bounded(hit, 20)
    assert hit is None and seconds < timeout + 1.5, seconds  # None: the database decides

    def broadcast():
        with app.test_request_context():
            socketio.emit("message:new", {"n": 1}, to="thread:1")
        return True

    done, seconds = _bounded(broadcast, 20)
    assert done and seconds < timeout + 1.5, seconds
    done, seconds = _bounded(broadcast, 20)  # paused: does not wait on Redis again
    assert done and seconds < 0.5, seconds

    def notice():
        with app.test_request_context():
            events.disconnect_room("session:x")
        return True

    done, seconds = _bounded(notice, 20)
    assert done and seconds < timeout + 1.5, seconds

    def here():  # a join enters "who is here" and reads it back: this process only
        presence.enter(1, "sid-1", None)  # a visitor
        return presence.snapshot(1)

    here_now, seconds = _bounded(here, 20)
    assert here_now == {"thread_id": 1, "users": [], "visitors": 1}, here_now
    assert seconds < 2 * timeout + 1.5, seconds  # enter writes, snapshot reads: once each


def test_the_open_data_api_answers_while_redis_is_down(own_redis, app, make):
    make.forum(title="Öppet forum")
    client = app.test_client()
    assert client.get("/api/v1/forums").status_code == 200
    own_redis.stop()
    response = client.get("/api/v1/forums")
    assert response.status_code == 200
    assert any(f["title"] == "Öppet forum" for f in response.get_json()["items"])


def test_healthz_reports_a_hung_database_down_in_seconds(tmp_path):
    import os
    import signal
    import subprocess

    from production_stack import PostgresCluster

    try:
        cluster = PostgresCluster().init()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        service_missing(f"initdb ({exc})")
    stopped: list[int] = []
    application = None
    try:
        cluster.start()
        application = create_app(app_settings(cluster.url))
        with application.app_context():
            create_schema()  # /healthz answers 200 at the migrations' head only
        client = application.test_client()
        assert client.get("/healthz").status_code == 200  # a pooled connection now
        postmaster = int((cluster.data / "db" / "postmaster.pid").read_text().split()[0])
        backends = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, timeout=5
        ).stdout.split()
        for pid in [postmaster, *map(int, backends)]:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)

        response, seconds = _bounded(lambda: client.get("/healthz"), 15)
        assert response is not None, "/healthz waited on the hung database"
        assert response.status_code == 503 and seconds < 4
        assert response.get_json()["database"] == "down: Timeout"
        # a second check does not pile up another waiting ping
        response, seconds = _bounded(lambda: client.get("/healthz"), 15)
        assert response is not None and response.status_code == 503 and seconds < 1
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if application is not None:  # close every connection before the cluster goes
            with application.app_context():
                waiting = health._pending.get(_db.engine)
                if waiting is not None:
                    waiting.join(15)
                _db.session.remove()
                _db.engine.dispose()
        cluster.remove()
