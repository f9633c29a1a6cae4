"""The mail outbox: mail is queued in the database and sent by SMTP or to the log."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import or_, select, update

from ..extensions import db
from ..models import OutboxMail
from ..models.base import utcnow
from .validation import one_line

log = logging.getLogger("forum.mail")


SENT_BODY = "[sent; the single-use link it held is not kept]"
# What the log shows of a secret mail written there for want of SMTP: its link would be in
# the journal for anyone who reads it (development, or production with FORUM_MAIL_TO_LOG).
WITHHELD_BODY = "[body withheld: it holds a single-use link]"
# How long a sender holds a mail it took: a sender that dies mid-send leaves the claim
# to lapse, and the mail goes in a later run.
CLAIM = timedelta(minutes=10)


def queue_mail(
    to_address: str,
    subject: str,
    body: str,
    *,
    notification_id: int | None = None,
    secret: bool = False,
) -> OutboxMail:
    """Add a mail to the outbox in the caller's transaction.

    `secret`: the body holds a single-use link and is dropped once the mail is sent.
    """
    mail = OutboxMail(
        to_address=to_address,
        subject=one_line(subject)[:300],
        body=body,
        notification_id=notification_id,
        secret=secret,
    )
    db.session.add(mail)
    return mail


# A mail that failed this many times (or was refused for good, a 5xx) is marked failed.
MAX_ATTEMPTS = 5


class ServerUnavailable(Exception):
    """The SMTP server could not be reached or would not let us in (connect, TLS, login):
    no mail's fault, so no attempt is counted, and the run stops (the next mail would wait
    as long for the same answer)."""


def _permanent(exc: BaseException) -> bool:
    """The server refused this mail for good: a 5xx answer to it, or to its recipient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600


def _try_later(exc: BaseException) -> bool:
    """The server said "not now" to the session (a 4xx to the sender or the data: 421
    closing, 451 rate limited, 452 out of room): every mail after this one would get the
    same answer and use up an attempt, so the run stops. A 4xx about one recipient (their
    mailbox full for now) is that mail's alone."""
    return isinstance(exc, smtplib.SMTPResponseException) and 400 <= exc.smtp_code < 500


def _connection_lost(exc: BaseException) -> bool:
    """The connection failed while sending (dropped, timed out): not an answer about this
    mail, so the run stops rather than wait on every other mail too."""
    answered = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)
    return isinstance(exc, OSError) and not isinstance(exc, answered)


def _describe(exc: BaseException) -> str:
    return one_line(f"{type(exc).__name__}: {exc}").replace("\x00", "")[:2000]


def deliver_pending(limit: int = 100) -> int:
    """Send waiting mail: by SMTP when configured, else written to the log. Returns sent count.

    Each mail is committed as it goes: a sent one is never sent again because a later
    one (or the process) failed. A mail that fails keeps its own count of attempts and its
    last error, is logged, and is tried again next run; mail tried fewer times goes first,
    so a mail that keeps failing holds up no other. A mail refused for good (a 5xx answer)
    or failed MAX_ATTEMPTS times is marked failed (`failed_at`, an error in the log) and
    kept, never tried again. A server that cannot be reached, or a connection lost while
    sending, ends the run at once (the rest wait for the next run). Each mail is claimed
    before it is sent (`_claim`), so of two senders running at once only one sends it.
    """
    pending = db.session.scalars(
        select(OutboxMail.id)
        .where(OutboxMail.sent_at.is_(None), OutboxMail.failed_at.is_(None))
        .order_by(OutboxMail.attempts, OutboxMail.id)
        .limit(limit)
    ).all()
    sent = 0
    for mail_id in pending:
        if not _claim(mail_id, utcnow()):
            continue  # sent, taken by another sender, or deleted (an account erased) meanwhile
        mail = db.session.get(OutboxMail, mail_id)
        if mail is None:
            continue
        if not _still_for_its_reader(mail):
            # the reader lost access to what it quotes since it was queued (removed from
            # the forum or the organisation): withdrawn, as the digest leaves such lines out
            log.info("mail %s withdrawn: its reader may no longer read what it quotes", mail.id)
            db.session.delete(mail)
            db.session.commit()
            continue
        try:
            _send(mail)
        except ServerUnavailable as exc:
            reason = exc.__cause__ or exc
            mail.last_error = _describe(reason)
            mail.claimed_until = None  # free for the next run
            db.session.commit()
            log.warning(
                "SMTP server unavailable (%s); this run stops, waiting mail goes in a later run",
                mail.last_error,
            )
            break
        except Exception as exc:  # one bad mail must not stop the others
            mail.attempts += 1
            mail.last_error = _describe(exc)
            mail.claimed_until = None  # free for the next run
            lost = _connection_lost(exc) or _try_later(exc)
            if _permanent(exc) or mail.attempts >= MAX_ATTEMPTS:
                mail.failed_at = utcnow()
                log.error(
                    "mail %s to %s failed for good after %s attempt(s), not tried again: %s",
                    mail.id,
                    one_line(mail.to_address),
                    mail.attempts,
                    mail.last_error,
                )
            else:
                expected = isinstance(exc, OSError)  # the server or network (SMTPException too)
                log.log(
                    logging.WARNING if expected else logging.ERROR,
                    "mail %s to %s not sent (attempt %s): %s",
                    mail.id,
                    one_line(mail.to_address),
                    mail.attempts,
                    mail.last_error,
                    exc_info=not expected,
                )
            db.session.commit()
            if lost:
                break
        else:
            mail.attempts += 1
            mail.sent_at = utcnow()
            mail.last_error = None
            if mail.secret:
                mail.body = SENT_BODY
            sent += 1
            db.session.commit()
    return sent


def _still_for_its_reader(mail: OutboxMail) -> bool:
    """Whether a notice's mail may still go: its reader may still read what it quotes
    (the digest's own check at send time, notifications._still_readable)."""
    if mail.notification_id is None:
        return True
    from ..models import Notification, User
    from .notifications import _still_readable

    note = db.session.get(Notification, mail.notification_id)
    reader = db.session.get(User, note.user_id) if note is not None else None
    return note is None or reader is None or _still_readable(reader, note)


def _claim(mail_id: int, now: datetime) -> bool:
    """Take a waiting mail for this sender until `now + CLAIM`: a conditional UPDATE,
    committed before sending, so a second sender reading the same row takes nothing."""
    result = db.session.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == mail_id,
            OutboxMail.sent_at.is_(None),
            OutboxMail.failed_at.is_(None),
            or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until <= now),
        )
        .values(claimed_until=now + CLAIM)
        .execution_options(synchronize_session=False)
    )
    taken: int = result.rowcount or 0  # type: ignore[attr-defined]  # an UPDATE's CursorResult
    db.session.commit()
    return taken == 1


def build_message(mail: OutboxMail, sender: str) -> EmailMessage:
    """The MIME message for an outbox row: plain text, HTML alternative, unsubscribe headers."""
    message = EmailMessage()
    # A header value is one line: a line break would end it (and start another header).
    message["From"] = one_line(sender)
    message["To"] = one_line(mail.to_address)
    message["Subject"] = one_line(mail.subject)
    # RFC 5322 asks for both (some receivers refuse mail without a Message-ID); the id is
    # the outbox row's, so a mail sent again after a lost connection is the same message
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = _message_id(mail)
    message.set_content(mail.body)
    if mail.html_body:
        message.add_alternative(mail.html_body, subtype="html")
    if mail.unsubscribe_url:
        # RFC 8058: mail clients offer a one-click "unsubscribe" that posts to this link.
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def _message_id(mail: OutboxMail) -> str:
    host = urlsplit(current_app.config.get("FORUM_BASE_URL") or "").hostname or "dialogforum"
    made = mail.created_at or utcnow()
    return f"<outbox.{mail.id}.{int(made.timestamp())}@{host}>"


def _send(mail: OutboxMail) -> None:
    config = current_app.config
    host = config["FORUM_SMTP_HOST"]
    if not host:
        log.info(
            "mail (no SMTP configured) to=%s subject=%s\n%s",
            one_line(mail.to_address),
            one_line(mail.subject),
            WITHHELD_BODY if mail.secret else mail.body,
        )
        return
    message = build_message(mail, config["FORUM_MAIL_FROM"])
    try:
        smtp = smtplib.SMTP(host, config["FORUM_SMTP_PORT"], timeout=15)
    except Exception as exc:  # refused, unknown host, timed out, a 4xx/5xx greeting
        raise ServerUnavailable(f"cannot connect to {host}") from exc
    with smtp:
        try:
            if config["FORUM_SMTP_STARTTLS"]:
                smtp.starttls()
            if config["FORUM_SMTP_USER"]:
                smtp.login(config["FORUM_SMTP_USER"], config["FORUM_SMTP_PASSWORD"] or "")
        except Exception as exc:  # TLS or the login failed: the settings, not this mail
            raise ServerUnavailable(f"{host} refused TLS or the login") from exc
        smtp.send_message(message)
