"""gunicorn settings for Dialogforum: `gunicorn -c deploy/gunicorn.conf.py 'forum:create_app()'`.

One worker per process (Flask-SocketIO's rule: gunicorn's balancer has no sticky
sessions; run several processes behind nginx instead), gevent with simple-websocket
(bench/README.md has the figures that chose it), TCP_NODELAY from gunicorn's listener,
and forwarded headers left to the app's ProxyFix (FORUM_PROXY_COUNT) alone.
FORUM_BIND (default 127.0.0.1:8000) and FORUM_WORKER_CONNECTIONS change the obvious.

This file must not import the app: gunicorn's master reads it before the gevent
worker monkey-patches the standard library, and the app is loaded only in the worker.
Its numbers are read by forum/config.py's parse_number, loaded on its own (it imports
nothing of the app), and the app's settings are checked in a separate process before
any worker starts: a refused setting is its message and exit status 1, not a traceback.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path


def _settings_module():  # noqa: ANN202 — forum/config.py as a module of its own
    """forum/config.py without the `forum` package (whose import would load the app)."""
    package = importlib.util.find_spec("forum")
    if package is None or package.origin is None:
        sys.exit("Error: the forum package is not installed in this Python (./scripts/setup)")
    path = Path(package.origin).parent / "config.py"
    spec = importlib.util.spec_from_file_location("_dialogforum_settings", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look it up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_settings = _settings_module()


def _checked(parse, *args):  # noqa: ANN001, ANN002, ANN202 — a forum/config.py parser
    """What `parse` makes of the arguments; a refused setting is its message and exit 1."""
    try:
        return parse(*args)
    except _settings.ConfigError as err:
        sys.stderr.write(f"Error: {err}\n")
        sys.exit(1)


def _whole(name: str, default: int, minimum: int, maximum: int) -> int:
    return int(
        _checked(_settings.parse_number, name, os.environ.get(name), default, minimum, maximum)
    )


bind = [os.environ.get("FORUM_BIND", "127.0.0.1:8000")]
workers = 1
worker_class = "gevent"
worker_connections = _whole("FORUM_WORKER_CONNECTIONS", 10000, 1, 1_000_000)
raw_env = ["FORUM_ASYNC_MODE=gevent"]
# gunicorn would otherwise believe X-Forwarded-Proto from 127.0.0.1 on its own.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
# A worker blocked this long is restarted; WebSockets never "finish", so a short grace.
timeout = 30
graceful_timeout = _whole("FORUM_GRACEFUL_TIMEOUT", 2, 0, 3600)
# Several processes on one machine: no shared control socket in $HOME.
control_socket_disable = True
keepalive = 5
accesslog = os.environ.get("FORUM_ACCESS_LOG") or None
errorlog = "-"
loglevel = _checked(_settings.parse_log_level, os.environ.get("FORUM_LOG_LEVEL"))
proc_name = os.environ.get("FORUM_PROC_NAME", "dialogforum")


_CHECK_APP_SETTINGS = """
import sys, tempfile
from pathlib import Path
import importlib.util
spec = importlib.util.spec_from_file_location("_dialogforum_settings", sys.argv[1])
settings = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = settings
spec.loader.exec_module(settings)
with tempfile.TemporaryDirectory() as instance:
    try:
        settings.load_config(Path(instance))
    except settings.ConfigError as err:
        sys.stderr.write(f"Error: {err}\\n")
        sys.exit(1)
"""


def on_starting(server):  # noqa: ANN001, ANN201, ARG001 — gunicorn's hook signature
    """Check the app's FORUM_* settings before any worker starts, in a process of its own
    (this one must not import what the app imports): a refused setting stops gunicorn with
    its message and exit status 1 instead of a worker's traceback and "failed to boot"."""
    check = subprocess.run(  # noqa: S603 — this Python, our own script
        [sys.executable, "-c", _CHECK_APP_SETTINGS, _settings.__file__],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        sys.stderr.write(check.stderr)
        sys.exit(1)


def post_fork(server, worker):  # noqa: ANN001, ANN201, ARG001 — gunicorn's hook signature
    """The app's own loggers (`forum.*`: mail written to the log without SMTP, the scheduler)
    write where gunicorn's error log does, at FORUM_LOG_LEVEL; the app then adds none of its
    own (forum/__init__.py configure_logging)."""
    import logging

    forum_log = logging.getLogger("forum")
    if forum_log.handlers:
        return
    for handler in logging.getLogger("gunicorn.error").handlers:
        forum_log.addHandler(handler)
    forum_log.setLevel(logging.getLevelNamesMapping()[loglevel.upper()])
    forum_log.propagate = False  # gunicorn's handlers already have the line


def post_worker_init(worker):  # noqa: ANN001, ANN201 — gunicorn's hook signature
    """In the embedded default (`flask serve` under gunicorn) the worker also runs the scheduled
    jobs (round notices, digests, the mail outbox) when FORUM_DIGEST_SCHEDULER asks for them;
    production leaves it off and runs the commands from cron or a systemd timer."""
    from forum import scheduler

    scheduler.start(worker.wsgi)
