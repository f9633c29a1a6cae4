"""Settings, read from FORUM_* environment variables."""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import idna

# The remember-me cookie: web.auth sets and rotates it; a socket only checks it, and is
# told `session:ended` when the login it names has ended (realtime.handlers).
REMEMBER_COOKIE = "forum_remember"


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


@dataclass(frozen=True)
class RateLimit:
    """At most `count` events per `seconds`; `count == 0` means unlimited."""

    count: int
    seconds: int

    @property
    def enabled(self) -> bool:
        return self.count > 0


def parse_rate_limit(text: str, name: str = "FORUM_MESSAGE_RATE_LIMIT") -> RateLimit:
    """Parse `10/10s` (or `off`) into a RateLimit; `name` is the setting, for the error."""
    text = text.strip().lower()
    if text in {"off", "0", "none"}:
        return RateLimit(0, 0)
    match = re.fullmatch(r"(\d+)\s*/\s*(\d+)\s*s?", text)
    if not match or int(match.group(2)) == 0:
        raise ConfigError(f"{name} must look like '10/10s' or 'off', not {text!r}")
    return RateLimit(int(match.group(1)), int(match.group(2)))


def parse_number(
    name: str,
    text: str | None,
    default: float,
    minimum: float,
    maximum: float,
    *,
    whole: bool = True,
    above: bool = False,
) -> float:
    """A number setting: empty or spaces give `default`; anything but plain ASCII digits
    (with a decimal point unless `whole`), or a value outside `minimum`..`maximum` (above
    `minimum` with `above`), is a ConfigError naming `name` and the range."""
    text = (text or "").strip()
    if not text:
        return default
    pattern = r"[+-]?\d{1,15}" if whole else r"[+-]?(?:\d{1,15}(?:\.\d{0,15})?|\.\d{1,15})"
    value = None
    if re.fullmatch(pattern, text, flags=re.ASCII):
        value = int(text) if whole else float(text)
    if value is None or value > maximum or value < minimum or (above and value == minimum):
        kind = "a whole number" if whole else "a number"
        low, high = (
            (f"{int(minimum)}", f"{int(maximum)}") if whole else (f"{minimum:g}", f"{maximum:g}")
        )
        bounds = f"more than {low} and at most {high}" if above else f"from {low} to {high}"
        raise ConfigError(f"{name} must be {kind} {bounds}, not {text!r}")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole-number FORUM_* setting between `minimum` and `maximum` (parse_number)."""
    return int(parse_number(name, env.get(name), default, minimum, maximum))


def _real(
    env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float
) -> float:
    """A FORUM_* setting that may have decimals, between `minimum` and `maximum`."""
    return float(parse_number(name, env.get(name), default, minimum, maximum, whole=False))


YES = frozenset({"1", "true", "yes", "on"})
NO = frozenset({"0", "false", "no", "off"})
# Every yes/no setting, checked whether or not this environment reads it: a typo is refused
# with its name (it was taken for "yes": FORUM_ALLOW_SQLITE=nope allowed SQLite).
FLAGS = (
    "FORUM_ALLOW_SQLITE",
    "FORUM_HTTPS",
    "FORUM_ALLOW_LOOPBACK_BASE_URL",
    "FORUM_DEMO",
    "FORUM_SMTP_STARTTLS",
    "FORUM_DIGEST_SCHEDULER",
    "FORUM_MAIL_TO_LOG",
)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in YES:
        return True
    if value in NO:
        return False
    raise ConfigError(
        f"{name}={env[name]!r} is neither yes nor no: use one of "
        f"{', '.join(sorted(YES))} or {', '.join(sorted(NO))}."
    )


def _flask_debug(env: Mapping[str, str]) -> bool:
    """FLASK_DEBUG as Flask itself reads it (flask.helpers.get_debug_flag): on for anything
    but '0', 'false' and 'no'; 'off' and ' 0' turn its debug mode on."""
    value = env.get("FLASK_DEBUG")
    return bool(value and value.lower() not in {"0", "false", "no"})


ENVIRONMENTS = ("development", "production")
# deploy/forum.env.example's old placeholder (64 characters, so the length check passed it)
EXAMPLE_SECRET_KEY = "change-me-to-64-hex-characters-from-the-command-above-0000000000"  # noqa: S105
ASYNC_MODES = ("gevent", "threading")
MIN_SECRET_KEY_BYTES = 32


def gevent_installed() -> bool:
    try:
        import gevent  # noqa: F401
    except ImportError:
        return False
    return True


def gevent_patched() -> bool:
    """True in a process whose socket module gevent has monkey-patched (gunicorn -k gevent)."""
    import sys

    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def _async_mode(env: dict[str, str]) -> str:
    """The Socket.IO async mode: FORUM_ASYNC_MODE, else gevent under a gevent server, else threads.

    Never eventlet (Flask-SocketIO would pick it if it happened to be installed).
    """
    mode = (env.get("FORUM_ASYNC_MODE") or "").strip().lower()
    if not mode:
        return "gevent" if gevent_patched() else "threading"
    if mode not in ASYNC_MODES:
        raise ConfigError(f"FORUM_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {mode!r}")
    if mode == "gevent" and not gevent_installed():
        raise ConfigError(
            "FORUM_ASYNC_MODE=gevent but gevent is not installed (pip install gevent)"
        )
    return mode


def _environment(env: dict[str, str]) -> str:
    environment = (env.get("FORUM_ENV") or "development").strip().lower()
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"FORUM_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r} "
            "(an unknown value is refused rather than taken for development)"
        )
    return environment


def _check_production(env: dict[str, str], database_url: str) -> None:
    """What production refuses: the debugger, a short or placeholder secret, SQLite unless
    allowed, a missing or loopback FORUM_BASE_URL unless allowed, no SMTP host unless mail
    to the log is asked for."""
    if _flask_debug(env):
        raise ConfigError(
            "FLASK_DEBUG is set with FORUM_ENV=production: the debugger would let anyone run "
            "code on the server. Unset FLASK_DEBUG."
        )
    if len(env.get("FORUM_SECRET_KEY", "").strip().encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"FORUM_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes in production, e.g. "
            "FORUM_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    key = env.get("FORUM_SECRET_KEY", "")
    if "change-me" in key.lower() or key == EXAMPLE_SECRET_KEY:
        raise ConfigError(
            "FORUM_SECRET_KEY is the example's placeholder: anyone who read the example could "
            "sign sessions. Set FORUM_SECRET_KEY=$(python -c 'import secrets; "
            "print(secrets.token_hex(32))')"
        )
    if database_url.startswith("sqlite") and not _flag(env, "FORUM_ALLOW_SQLITE", False):
        raise ConfigError(
            "FORUM_ENV=production needs FORUM_DATABASE_URL (PostgreSQL); the SQLite file is "
            "for one machine. Set FORUM_ALLOW_SQLITE=1 to use SQLite anyway."
        )
    if not (env.get("FORUM_PROXY_COUNT") or "").strip():
        raise ConfigError(
            "FORUM_PROXY_COUNT is not set: it says how many proxies in front of the app are "
            "trusted for the client's address. Set 1 behind nginx, 0 if nothing is in front "
            "(unset, every client behind nginx would be 127.0.0.1, and five wrong logins "
            "would lock everyone out)."
        )
    _check_base_url(env)
    if not (env.get("FORUM_SMTP_HOST") or "").strip() and not _flag(
        env, "FORUM_MAIL_TO_LOG", False
    ):
        raise ConfigError(
            "FORUM_SMTP_HOST is not set: production would write every mail to the log, "
            "message text included, instead of sending it. Set FORUM_SMTP_HOST, or "
            "FORUM_MAIL_TO_LOG=1 to write mail to the log on purpose (a mail with a "
            "password-reset link is logged without its text even then)."
        )
    base_url = (env.get("FORUM_BASE_URL") or "").strip().lower()
    if base_url.startswith("https://") and not _flag(env, "FORUM_HTTPS", True):
        raise ConfigError(
            "FORUM_HTTPS=0 with an https FORUM_BASE_URL: the cookies would not be Secure and "
            "would travel over plain HTTP too. Unset FORUM_HTTPS (on in production)."
        )


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104 — names, not a bind


def _check_base_url(env: dict[str, str]) -> None:
    """Production's public address: mail links and the socket origin check are built from it."""
    text = (env.get("FORUM_BASE_URL") or "").strip()
    if not text:
        raise ConfigError(
            "FORUM_BASE_URL is not set: in production it is the public address that links in "
            "mail point to, e.g. FORUM_BASE_URL=https://forum.example.se"
        )
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"FORUM_BASE_URL must be an absolute http(s) address such as "
            f"https://forum.example.se, not {text!r}"
        )
    host = parts.hostname.lower()
    loopback = host in LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost")
    if loopback and not _flag(env, "FORUM_ALLOW_LOOPBACK_BASE_URL", False):
        raise ConfigError(
            f"FORUM_BASE_URL={text} is this machine only: links in mail would not reach anyone. "
            "Set the public address, or FORUM_ALLOW_LOOPBACK_BASE_URL=1 to rehearse locally."
        )


DEFAULT_PORTS = {"http": 80, "https": 443}
ORIGIN_HOST = re.compile(r"[a-z0-9_.-]+", flags=re.ASCII)


def parse_origin(name: str, text: str, *, path_allowed: bool = False) -> str:
    """The origin a browser sends for `text` (scheme://host[:port]): scheme and host in
    lower case (a non-ASCII host as its xn-- form), no default port, no trailing slash;
    python-engineio compares origins as exact strings. Anything but an http(s) address
    of a host, or one with a path (unless `path_allowed`: the base URL's site prefix),
    query, fragment or user name, is a ConfigError naming `name` and the value."""
    value = text.strip()
    example = "such as https://partner.example or http://localhost:8080"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name} has {value!r}, which is not an address {example}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in DEFAULT_PORTS or not host or parts.username is not None:
        raise ConfigError(
            f"{name} has {value!r}: an origin is an http:// or https:// address of a host, "
            f"{example}"
        )
    if (parts.path.strip("/") and not path_allowed) or "?" in value or "#" in value:
        raise ConfigError(
            f"{name} has {value!r}: an origin has no "
            f"{'query or fragment' if path_allowed else 'path, query or fragment'}; "
            f"write it as scheme://host[:port], {example}"
        )
    try:
        host = str(ipaddress.ip_address(host))
        host = f"[{host}]" if ":" in host else host
    except ValueError:
        try:  # UTS 46 (IDNA 2008), as browsers: "straße" is xn--strae-oqa, not "strasse"
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            host = ""
        if not ORIGIN_HOST.fullmatch(host):
            raise ConfigError(
                f"{name} has {value!r}, whose host is not a host name {example}"
            ) from None
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_allowed_origins(text: str | None) -> list[str]:
    """FORUM_ALLOWED_ORIGINS: comma-separated origins, each normalised (parse_origin)."""
    origins = [
        parse_origin("FORUM_ALLOWED_ORIGINS", o) for o in (text or "").split(",") if o.strip()
    ]
    return list(dict.fromkeys(origins))


def socket_origins(base_url: str, extra: list[str]) -> list[str]:
    """The origins allowed to open a socket when extra ones are set: the app's own (the
    origin of FORUM_BASE_URL, whose path is its site prefix) and the extra ones."""
    own = parse_origin("FORUM_BASE_URL", base_url, path_allowed=True)
    return list(dict.fromkeys([own, *(parse_origin("FORUM_ALLOWED_ORIGINS", o) for o in extra)]))


def _secret_key(env: dict[str, str], instance_path: Path, production: bool) -> str:
    key = env.get("FORUM_SECRET_KEY")
    if key:
        return key
    if production:
        raise ConfigError(
            "FORUM_SECRET_KEY is not set. In production the secret key must come from the "
            "environment, e.g. FORUM_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def parse_log_level(text: str | None) -> str:
    """FORUM_LOG_LEVEL, lower case (`info` when unset): one of LOG_LEVELS, which both the
    app's logger and gunicorn's error log take; anything else is refused with the list."""
    level = (text or "").strip().lower() or "info"
    if level not in LOG_LEVELS:
        raise ConfigError(f"FORUM_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {text!r}")
    return level


DEFAULT_REDIS_PREFIX = "dialogforum"


def parse_redis_prefix(text: str | None) -> str:
    """The namespace of this installation's Redis channels and keys (letters, digits, . _ -)."""
    prefix = (text or "").strip() or DEFAULT_REDIS_PREFIX
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", prefix):
        raise ConfigError(
            "FORUM_REDIS_PREFIX may hold letters, digits, '.', '_' and '-' (at most 64), "
            f"not {prefix!r}"
        )
    return prefix


DEFAULT_REDIS_TIMEOUT = 2.0


def parse_seconds(name: str, text: str | None, default: float) -> float:
    """A timeout setting in seconds, more than 0 and at most 60 (`default` when unset)."""
    return float(parse_number(name, text, default, 0, 60, whole=False, above=True))


def _database_url(env: Mapping[str, str], instance_path: Path) -> str:
    """FORUM_DATABASE_URL without surrounding spaces, postgres:// and postgresql:// on the
    psycopg driver; one that SQLAlchemy cannot read is refused (never echoed: it may hold
    a password)."""
    text = (env.get("FORUM_DATABASE_URL") or "").strip()
    if not text:
        return f"sqlite:///{instance_path / 'forum.sqlite3'}"
    for scheme in ("postgres://", "postgresql://"):
        if text.startswith(scheme):
            text = "postgresql+psycopg://" + text.removeprefix(scheme)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(text).get_dialect()
    except (ArgumentError, ValueError) as err:
        reason = "unknown database type" if "Can't load plugin" in str(err) else "cannot be read"
        raise ConfigError(
            f"FORUM_DATABASE_URL is not a database address ({reason}); it looks like "
            "postgresql://user:password@host:5432/dialogforum"
        ) from None
    return text


def _redis_url(env: Mapping[str, str]) -> str | None:
    """FORUM_REDIS_URL without surrounding spaces: a redis:// or rediss:// address."""
    text = (env.get("FORUM_REDIS_URL") or "").strip()
    if not text:
        return None
    example = "e.g. redis://127.0.0.1:6379/0 (rediss:// with TLS)"
    if text.lower().startswith("unix:"):
        raise ConfigError(
            "FORUM_REDIS_URL: a Unix socket (unix://) is not supported (the Socket.IO message "
            f"queue and the API's rate limiter need a TCP address); use {example}"
        )
    from redis.connection import parse_url

    try:
        parse_url(text)
    except ValueError as err:
        raise ConfigError(f"FORUM_REDIS_URL is not a Redis address ({err}); {example}") from None
    return text


def _rate_limit_text(env: Mapping[str, str], name: str, default: str) -> str:
    """An API limit in the limits package's notation ('120 per minute', '10/second;1000/day')."""
    text = (env.get(name) or "").strip() or default
    from limits import parse_many

    try:
        if not parse_many(text):
            raise ValueError(text)
    except ValueError:
        raise ConfigError(
            f"{name} must be a limit such as '120 per minute' or '10/second;1000/day', not {text!r}"
        ) from None
    return text


@functools.lru_cache(maxsize=8)
def _password_hash_works(method: str) -> bool:
    from werkzeug.security import generate_password_hash

    try:
        generate_password_hash("check", method)
    except (ValueError, TypeError, OverflowError, MemoryError, AttributeError):
        return False
    return True


def _password_hash(env: Mapping[str, str]) -> str:
    """FORUM_PASSWORD_HASH: a Werkzeug method, checked now rather than at the first login."""
    method = (env.get("FORUM_PASSWORD_HASH") or "").strip() or "scrypt"
    if not _password_hash_works(method):
        raise ConfigError(
            "FORUM_PASSWORD_HASH must be a Werkzeug password hash method such as 'scrypt' or "
            f"'pbkdf2:sha256:600000', not {method!r}"
        )
    return method


def redis_client_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a Redis client that sends commands: a hung Redis fails a
    command within FORUM_REDIS_TIMEOUT, once (redis-py would retry a timeout three times
    with backoff). Pub/sub listeners keep blocking reads."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    seconds = float(config.get("FORUM_REDIS_TIMEOUT") or DEFAULT_REDIS_TIMEOUT)
    return {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        "retry": Retry(NoBackoff(), 0),
    }


# libpq's TCP settings for a PostgreSQL connection whose peer stopped answering (its
# machine gone, a network path that drops everything): a request waiting on it fails
# within about 30 s instead of the kernel's many minutes. Keepalives probe a connection
# that has received nothing for 10 s, every 5 s, 3 times; tcp_user_timeout ends one whose
# sent data or probes go unacknowledged for 30 s (Linux then takes it for the keepalives'
# limit too). A server process that is stopped while its machine still answers TCP is no
# dead peer to these: the health check's own timeout covers that.
POSTGRESQL_DEAD_PEER = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # milliseconds
}


def load_config(instance_path: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    """Build the Flask config from the environment (FORUM_* variables)."""
    env = dict(os.environ if env is None else env)
    environment = _environment(env)
    production = environment == "production"
    for name in FLAGS:
        _flag(env, name, False)
    database_url = _database_url(env, instance_path)
    secret_key = _secret_key(env, instance_path, production)
    if production:
        _check_production(env, database_url)
    https = _flag(env, "FORUM_HTTPS", production)
    origins = parse_allowed_origins(env.get("FORUM_ALLOWED_ORIGINS"))
    base_url = env.get("FORUM_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    if origins:  # engine.io then takes the base URL's origin from the list, not the request
        socket_origins(base_url, origins)
    # pool_pre_ping replaces connections a database restart broke; connect_timeout bounds
    # how long a request waits for a database that does not answer.
    engine_options: dict[str, object] = {
        "pool_pre_ping": True,
        "connect_args": {
            # at least 1: psycopg takes 0 for "wait forever"
            "connect_timeout": _whole(env, "FORUM_DATABASE_CONNECT_TIMEOUT", 3, 1, 300),
            **POSTGRESQL_DEAD_PEER,
        },
    }
    if database_url.startswith("sqlite"):
        # how long a write waits for SQLite's lock (another process's writer) before the
        # request is answered "busy, try again" (forum.sqlite)
        busy = parse_seconds(
            "FORUM_SQLITE_BUSY_TIMEOUT", env.get("FORUM_SQLITE_BUSY_TIMEOUT"), 30.0
        )
        engine_options = {"connect_args": {"timeout": busy, "check_same_thread": False}}
    if production:
        # an error's log line without its bound values (addresses, password hashes,
        # session keys); development and tests keep them to debug with
        engine_options["hide_parameters"] = True
    redis_timeout = parse_seconds(
        "FORUM_REDIS_TIMEOUT", env.get("FORUM_REDIS_TIMEOUT"), DEFAULT_REDIS_TIMEOUT
    )
    document_max_mb = _whole(env, "FORUM_DOCUMENT_MAX_MB", 20, 1, 1024)
    document_storage = env.get("FORUM_DOCUMENT_STORAGE", "disk").strip().lower()
    if document_storage not in {"disk", "s3"}:
        raise ConfigError("FORUM_DOCUMENT_STORAGE must be 'disk' or 's3'")
    if document_storage == "s3" and not env.get("FORUM_S3_BUCKET"):
        raise ConfigError("FORUM_DOCUMENT_STORAGE=s3 needs FORUM_S3_BUCKET")
    return {
        "FORUM_ENV": environment,
        "SECRET_KEY": secret_key,
        "FORUM_ASYNC_MODE": _async_mode(env),
        "FORUM_PROXY_COUNT": _whole(env, "FORUM_PROXY_COUNT", 0, 0, 10),
        # below 3 s a live process's own refresh could not keep its people present
        "FORUM_PRESENCE_TTL": _whole(env, "FORUM_PRESENCE_TTL", 30, 3, 86400),
        # at most this many messages (and as many changes) in one catch-up join's answer;
        # the page joins again for the rest, so a phone back after a long absence gets
        # the gap in answers of a size it can take. Out of range is refused with the range, as
        # every number setting is, not quietly raised or lowered to it.
        "FORUM_CATCH_UP_LIMIT": _whole(env, "FORUM_CATCH_UP_LIMIT", 1000, 20, 5000),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "FORUM_REDIS_URL": _redis_url(env),
        "FORUM_REDIS_PREFIX": parse_redis_prefix(env.get("FORUM_REDIS_PREFIX")),
        "FORUM_REDIS_TIMEOUT": redis_timeout,
        # /healthz reports the database down when a round trip takes longer than this
        "FORUM_HEALTH_TIMEOUT": parse_seconds(
            "FORUM_HEALTH_TIMEOUT", env.get("FORUM_HEALTH_TIMEOUT"), 2.0
        ),
        # The open-data API's limiter (Flask-Limiter): a hung Redis fails its check within
        # the timeout, and a Redis that is down lets requests through on an in-memory count
        # instead of answering 500 (forum/api only sets these when they are missing).
        "RATELIMIT_STORAGE_OPTIONS": redis_client_options({"FORUM_REDIS_TIMEOUT": redis_timeout}),
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "FORUM_ALLOWED_ORIGINS": origins,
        "FORUM_DEMO": _flag(env, "FORUM_DEMO", True) and not production,
        "FORUM_BASE_URL": base_url,
        "FORUM_MESSAGE_RATE_LIMIT": parse_rate_limit(
            (env.get("FORUM_MESSAGE_RATE_LIMIT") or "").strip() or "10/10s"
        ),
        # accounts registered from one address (an IPv6 /64): each mails a welcome
        "FORUM_REGISTER_RATE_LIMIT": parse_rate_limit(
            (env.get("FORUM_REGISTER_RATE_LIMIT") or "").strip() or "10/3600s",
            "FORUM_REGISTER_RATE_LIMIT",
        ),
        # PDF renders per address (seconds of CPU each; a PDF already made costs none)
        "FORUM_PDF_RATE_LIMIT": parse_rate_limit(
            (env.get("FORUM_PDF_RATE_LIMIT") or "").strip() or "20/600s",
            "FORUM_PDF_RATE_LIMIT",
        ),
        # proposals awaiting another side's acceptance, per person (each tells that side)
        "FORUM_ACTION_RATE_LIMIT": parse_rate_limit(
            (env.get("FORUM_ACTION_RATE_LIMIT") or "").strip() or "10/3600s",
            "FORUM_ACTION_RATE_LIMIT",
        ),
        # 0 events per second turns the budget off
        "FORUM_SOCKET_EVENTS_PER_SECOND": _real(
            env, "FORUM_SOCKET_EVENTS_PER_SECOND", 10, 0, 10000
        ),
        "FORUM_SOCKET_BURST": _real(env, "FORUM_SOCKET_BURST", 40, 1, 100000),
        "FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT": _real(
            env, "FORUM_SOCKET_REFUSALS_BEFORE_DISCONNECT", 100, 1, 100000
        ),
        "FORUM_SOCKET_FLOOD_COOLDOWN_SECONDS": _real(
            env, "FORUM_SOCKET_FLOOD_COOLDOWN_SECONDS", 30, 0, 86400
        ),
        "FORUM_TYPING_INTERVAL_SECONDS": _real(env, "FORUM_TYPING_INTERVAL_SECONDS", 2, 0, 3600),
        # at least 1 each: 0 failures locked everyone out, a 0 window turned throttling off;
        # the maxima keep the dates computed from them within what datetime can hold
        "FORUM_LOGIN_MAX_FAILURES": _whole(env, "FORUM_LOGIN_MAX_FAILURES", 5, 1, 1000),
        "FORUM_LOGIN_WINDOW_MINUTES": _whole(env, "FORUM_LOGIN_WINDOW_MINUTES", 15, 1, 10080),
        "FORUM_SESSION_IDLE_MINUTES": _whole(env, "FORUM_SESSION_IDLE_MINUTES", 720, 1, 525600),
        "FORUM_SESSION_MAX_DAYS": _whole(env, "FORUM_SESSION_MAX_DAYS", 31, 1, 3650),
        "FORUM_RESET_TOKEN_MINUTES": _whole(env, "FORUM_RESET_TOKEN_MINUTES", 60, 1, 10080),
        "FORUM_FLAG_THRESHOLD": _whole(env, "FORUM_FLAG_THRESHOLD", 3, 1, 1000),
        "FORUM_API_RATE_LIMIT": _rate_limit_text(env, "FORUM_API_RATE_LIMIT", "120 per minute"),
        "FORUM_API_TOKEN_RATE_LIMIT": _rate_limit_text(
            env, "FORUM_API_TOKEN_RATE_LIMIT", "600 per minute"
        ),
        "FORUM_PASSWORD_HASH": _password_hash(env),
        "FORUM_MAIL_FROM": env.get("FORUM_MAIL_FROM", "dialogforum@localhost"),
        # Where the accessibility statement tells people to report problems (default: MAIL_FROM).
        "FORUM_ACCESSIBILITY_CONTACT": env.get("FORUM_ACCESSIBILITY_CONTACT", ""),
        "FORUM_SMTP_HOST": (env.get("FORUM_SMTP_HOST") or "").strip() or None,
        "FORUM_LOG_LEVEL": parse_log_level(env.get("FORUM_LOG_LEVEL")),
        "FORUM_SMTP_PORT": _whole(env, "FORUM_SMTP_PORT", 587, 1, 65535),
        "FORUM_SMTP_USER": env.get("FORUM_SMTP_USER") or None,
        "FORUM_SMTP_PASSWORD": env.get("FORUM_SMTP_PASSWORD") or None,
        "FORUM_SMTP_STARTTLS": _flag(env, "FORUM_SMTP_STARTTLS", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "BABEL_DEFAULT_LOCALE": "sv",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Stockholm",
        "WTF_CSRF_TIME_LIMIT": None,
        # Uploads: documents are the largest thing a form sends.
        "MAX_CONTENT_LENGTH": (document_max_mb + 1) * 1024 * 1024,
        "FORUM_DOCUMENT_MAX_MB": document_max_mb,
        "FORUM_DOCUMENT_MAX_COUNT": _whole(env, "FORUM_DOCUMENT_MAX_COUNT", 10, 1, 100),
        "FORUM_DOCUMENT_STORAGE": document_storage,
        "FORUM_DOCUMENT_DIR": env.get("FORUM_DOCUMENT_DIR") or str(instance_path / "documents"),
        "FORUM_S3_BUCKET": env.get("FORUM_S3_BUCKET") or None,
        "FORUM_S3_ENDPOINT_URL": env.get("FORUM_S3_ENDPOINT_URL") or None,
        "FORUM_S3_REGION": env.get("FORUM_S3_REGION") or None,
        "FORUM_S3_PREFIX": env.get("FORUM_S3_PREFIX", ""),
        # The daily digest: run in-process in the embedded default, by cron in production.
        "FORUM_DIGEST_SCHEDULER": _flag(env, "FORUM_DIGEST_SCHEDULER", not production),
        "FORUM_DIGEST_HOUR": _whole(env, "FORUM_DIGEST_HOUR", 7, 0, 23),
    }
