"""gunicorn settings for Dialogforum: `gunicorn -c deploy/gunicorn.conf.py 'forum:create_app()'`.

One worker per process (Flask-SocketIO's rule: gunicorn's balancer has no sticky
sessions; run several processes behind nginx instead), gevent with simple-websocket
(bench/README.md has the figures that chose it), TCP_NODELAY from gunicorn's listener,
and forwarded headers left to the app's ProxyFix (FORUM_PROXY_COUNT) alone.
FORUM_BIND (default 127.0.0.1:8000) and FORUM_WORKER_CONNECTIONS change the obvious.

This file must not import the app: gunicorn's master reads it before the gevent
worker monkey-patches the standard library, and the app is loaded only in the worker.
"""

import os

bind = [os.environ.get("FORUM_BIND", "127.0.0.1:8000")]
workers = 1
worker_class = "gevent"
worker_connections = int(os.environ.get("FORUM_WORKER_CONNECTIONS", "10000"))
raw_env = ["FORUM_ASYNC_MODE=gevent"]
# gunicorn would otherwise believe X-Forwarded-Proto from 127.0.0.1 on its own.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
# A worker blocked this long is restarted; WebSockets never "finish", so a short grace.
timeout = 30
graceful_timeout = int(os.environ.get("FORUM_GRACEFUL_TIMEOUT", "2"))
# Several processes on one machine: no shared control socket in $HOME.
control_socket_disable = True
keepalive = 5
accesslog = os.environ.get("FORUM_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("FORUM_LOG_LEVEL", "info")
proc_name = os.environ.get("FORUM_PROC_NAME", "dialogforum")


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
    forum_log.setLevel(logging.getLevelNamesMapping().get(loglevel.strip().upper(), logging.INFO))
    forum_log.propagate = False  # gunicorn's handlers already have the line


def post_worker_init(worker):  # noqa: ANN001, ANN201 — gunicorn's hook signature
    """In the embedded default (`flask serve` under gunicorn) the worker also runs the scheduled
    jobs (round notices, digests, the mail outbox) when FORUM_DIGEST_SCHEDULER asks for them;
    production leaves it off and runs the commands from cron or a systemd timer."""
    from forum import scheduler

    scheduler.start(worker.wsgi)
