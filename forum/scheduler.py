"""The embedded default's clock: scheduled jobs in a thread of the serving process.

Production runs the same jobs from cron or systemd timers instead
(`flask --app forum mail send`, `consultations notices`, `notifications digest`,
`actions remind`, `exports run`, `users end-expired-sessions`, `documents delete-files`)
and leaves `FORUM_DIGEST_SCHEDULER` off; tests never start it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from flask import Flask

from .formatting import STOCKHOLM

log = logging.getLogger("forum.scheduler")
TICK_SECONDS = 300


def run_due_jobs(app: Flask, last_digest: str | None, now: datetime) -> str | None:
    """One tick: send mail, due consultation notices, the day's digest once the hour comes,
    and "download my data": copies left waiting (a worker that died) are prepared, and
    expired copies deleted as the privacy notice promises. Sessions past their idle or
    absolute limit end first, and their open sockets close (within a tick of expiring);
    follow-up actions' owners are reminded a week before and on the due date;
    the throttle's records of failed logins are forgotten once no window counts them;
    withdrawn documents' files that storage could not delete at the time are tried again.

    Returns the local date of the last digest run; that only spares a query each tick: the
    once-a-day guard that survives a restart is each person's claimed digest day
    (`send_digests`).
    """
    from .extensions import db
    from .services.accounts import end_expired_sessions, forget_old_attempts
    from .services.consultations import send_due_notices
    from .services.documents import delete_pending_files
    from .services.exports import run_pending_exports
    from .services.follow_up import remind
    from .services.mail import deliver_pending
    from .services.notifications import send_digests

    local = now.astimezone(STOCKHOLM)
    today = local.date().isoformat()
    with app.app_context():
        try:
            try:
                end_expired_sessions(now)
                forget_old_attempts(now)
            except Exception:
                db.session.rollback()
                log.exception("ending expired sessions failed")
            try:
                send_due_notices(now)
                if local.hour >= app.config["FORUM_DIGEST_HOUR"] and last_digest != today:
                    send_digests(now)
                    last_digest = today
            except Exception:  # a failed tick must not stop the clock
                db.session.rollback()
                log.exception("scheduled notices or digest failed")
            try:
                remind(now)  # a week before and on the due date, once each
            except Exception:
                db.session.rollback()
                log.exception("scheduled action reminders failed")
            try:
                run_pending_exports()  # and removes the expired copies
            except Exception:
                db.session.rollback()
                log.exception("scheduled personal exports failed")
            try:
                delete_pending_files()  # a bounded number each tick
            except Exception:
                db.session.rollback()
                log.exception("scheduled deletion of stored files failed")
            try:
                deliver_pending()  # waiting mail (a password reset) goes even so
            except Exception:
                db.session.rollback()
                log.exception("scheduled mail delivery failed")
        finally:
            db.session.remove()
    return last_digest


def start(app: Flask, stop: threading.Event | None = None) -> threading.Thread | None:
    """Start the daemon thread when the config asks for it (never under TESTING)."""
    if not app.config.get("FORUM_DIGEST_SCHEDULER") or app.testing:
        return None
    stop = stop or threading.Event()

    def loop() -> None:
        from .models.base import utcnow

        last: str | None = None
        while not stop.wait(0 if last is None else TICK_SECONDS):
            last = run_due_jobs(app, last, utcnow()) or ""

    thread = threading.Thread(target=loop, name="forum-scheduler", daemon=True)
    thread.start()
    return thread
