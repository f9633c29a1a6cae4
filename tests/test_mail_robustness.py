"""Mail that cannot go out hurts no other mail: titles are one line, header values never
carry a line break, and the outbox sends (and commits) one mail at a time."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from consultation_support import english, make_round
from sqlalchemy import select, update
from support import Auth

from forum.extensions import db
from forum.models import ConsultationRound, OutboxMail, Thread
from forum.models.base import utcnow
from forum.services import mail as mail_service
from forum.services.mail import build_message, deliver_pending, queue_mail
from forum.services.validation import clean_text

BREAKS = ["\r\n", "\n", "\r", "\u2028", "\x85", "\x0b", "\x0c", "\x1c"]


class Crash(BaseException):
    """The process dying mid-run (a kill, an out-of-memory): nothing after it runs."""


class FakeSMTP:
    """Stands in for smtplib.SMTP: records what was sent, fails for the chosen addresses."""

    sent: list[tuple[str, str]]
    failing: dict[str, BaseException]

    def __init__(self, *_args, **_kwargs) -> None:
        pass

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *_exc) -> bool:
        return False

    def starttls(self) -> None:
        pass

    def login(self, *_args) -> None:
        pass

    def send_message(self, message) -> None:
        to = message["To"]
        if to in self.failing:
            raise self.failing[to]
        self.sent.append((to, message["Subject"]))


@pytest.fixture
def smtp(app, monkeypatch) -> type[FakeSMTP]:
    app.config["FORUM_SMTP_HOST"] = "smtp.invalid"
    monkeypatch.setattr(FakeSMTP, "sent", [], raising=False)
    monkeypatch.setattr(FakeSMTP, "failing", {}, raising=False)
    monkeypatch.setattr(mail_service.smtplib, "SMTP", FakeSMTP)
    return FakeSMTP


def queue(*addresses: str) -> list[OutboxMail]:
    mails = [queue_mail(address, f"Till {address}", "Hej") for address in addresses]
    db.session.commit()
    return mails


def unsent() -> list[str]:
    return list(
        db.session.scalars(
            select(OutboxMail.to_address)
            .where(OutboxMail.sent_at.is_(None))
            .order_by(OutboxMail.id)
        )
    )


# --- a title is one line ---------------------------------------------------------------


@pytest.mark.parametrize("brk", BREAKS)
def test_a_title_folds_line_breaks_and_runs_of_space(brk):
    assert (
        clean_text(f"  Ny titel{brk}andra \t raden  ", "title", max_length=200, single_line=True)
        == "Ny titel andra raden"
    )
    # other texts keep their line breaks (a browser's CRLF, or a lone CR, stored as LF)
    kept = "\n" if brk in ("\r\n", "\r") else brk
    assert clean_text(f"Första{brk}andra", "problem", max_length=200) == f"Första{kept}andra"


def test_a_title_of_only_line_breaks_is_empty():
    from forum.errors import Invalid

    with pytest.raises(Invalid):
        clean_text("\r\n \n", "title", max_length=200, single_line=True)


def test_the_corrected_round_title_is_one_line_and_its_mail_goes(app, client, make, smtp):
    english(client)
    official = make.user("official")
    chair = make.user(name="Olle")
    make.organisation(admin=chair)
    round_ = make_round(app, make, official, state="open")
    chair.email_notifications = True
    db.session.commit()
    Auth(client).login(official)
    response = client.post(
        f"/consultations/{round_.id}/change",
        data={"change": "text", "part": "title", "text": "Ny titel\r\nandra raden", "reason": "x"},
    )
    assert response.status_code == 302
    assert db.session.get(ConsultationRound, round_.id).title == "Ny titel andra raden"
    with app.app_context():
        deliver_pending()
    assert unsent() == []
    assert any("Ny titel andra raden" in subject for _to, subject in smtp.sent)


def test_new_rounds_threads_and_forums_get_one_line_titles(app, make):
    official = make.user("official")
    round_ = make_round(app, make, official, state="draft", title="Samråd\nBcc: x@example.se")
    forum = make.forum(title="Forum\r\nom saker")
    thread = make.thread(forum=forum, title="Rad ett\nRad två")
    assert round_.title == "Samråd Bcc: x@example.se"
    assert forum.title == "Forum om saker"
    assert thread.title == "Rad ett Rad två"


# --- a header value is one line --------------------------------------------------------


@pytest.mark.parametrize("brk", BREAKS)
def test_header_values_are_folded_to_one_line(app, brk):
    row = OutboxMail(to_address="anna@example.se", subject=f"Rad ett{brk}Bcc: x@evil", body="Hej")
    message = build_message(row, f"Forum{brk}<forum@example.se>")
    assert message["Subject"] == "Rad ett Bcc: x@evil"
    assert message["From"] == "Forum <forum@example.se>"
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]


def test_queued_subjects_are_one_line(app):
    assert queue_mail("anna@example.se", "Rad ett\r\nRad två", "Hej").subject == "Rad ett Rad två"


def test_a_stored_thread_title_with_a_line_break_still_mails(app, make, smtp):
    """Titles stored before they were folded: the notification mail still goes."""
    author, reader = make.user(), make.user()
    reader.email_notifications = True
    db.session.commit()
    thread = make.thread(author=author)
    db.session.get(Thread, thread.id).title = "Rad ett\nRad två"
    db.session.commit()
    first = make.message(thread, reader, "Hej")
    make.message(thread, author, "Svar", reply_to=first.id)
    [notice] = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == reader.email))
    row = OutboxMail(to_address=reader.email, subject="Gammal\r\nrad", body="Hej")
    db.session.add(row)
    db.session.commit()
    deliver_pending()
    assert unsent() == []
    assert smtp.sent == [(reader.email, notice.subject), (reader.email, "Gammal rad")]
    assert "Rad ett Rad två" in notice.subject


# --- one mail at a time ----------------------------------------------------------------


def test_a_failing_mail_is_recorded_and_blocks_no_other(app, smtp, caplog):
    bad = "bad@example.se"
    queue(bad, "anna@example.se", "bo@example.se")
    smtp.failing[bad] = ValueError("Header values may not contain linefeed")
    with caplog.at_level(logging.WARNING, logger="forum.mail"):
        assert deliver_pending() == 2
    db.session.rollback()  # what was sent stays sent: it was committed as it went
    assert [to for to, _subject in smtp.sent] == ["anna@example.se", "bo@example.se"]
    assert unsent() == [bad]
    row = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == bad)).one()
    assert row.attempts == 1 and row.last_error.startswith("ValueError: Header values")
    assert any(str(row.id) in r.getMessage() and bad in r.getMessage() for r in caplog.records)

    assert deliver_pending() == 0  # the next run tries only the bad one again
    assert [to for to, _subject in smtp.sent] == ["anna@example.se", "bo@example.se"]
    assert db.session.get(OutboxMail, row.id).attempts == 2


def test_a_crash_mid_run_never_sends_a_mail_twice(app, smtp):
    queue("anna@example.se", "crash@example.se", "bo@example.se")
    smtp.failing["crash@example.se"] = Crash()
    with pytest.raises(Crash):
        deliver_pending()
    db.session.rollback()
    assert unsent() == ["crash@example.se", "bo@example.se"]
    del smtp.failing["crash@example.se"]
    # the dead sender's claim holds its mail (it may have gone out) until the claim lapses
    assert deliver_pending() == 1
    assert unsent() == ["crash@example.se"]
    lapse_claims()
    assert deliver_pending() == 1
    assert [to for to, _subject in smtp.sent] == [
        "anna@example.se",
        "bo@example.se",
        "crash@example.se",
    ]


def lapse_claims() -> None:
    db.session.execute(update(OutboxMail).values(claimed_until=utcnow() - mail_service.CLAIM))
    db.session.commit()


def test_two_senders_at_once_send_each_mail_once(app, smtp, monkeypatch):
    """A second sender (another cron run, the embedded clock beside cron) starts while the
    first is sending: it skips the mail the first has taken and sends the rest."""
    queue("anna@example.se", "bo@example.se", "cilla@example.se")
    send = FakeSMTP.send_message
    second_run: list[int] = []
    started = []

    def send_and_start_another_sender(self, message):
        if not started:
            started.append(message["To"])
            with app.app_context():  # its own session, as another process would have
                second_run.append(deliver_pending())
        send(self, message)

    monkeypatch.setattr(FakeSMTP, "send_message", send_and_start_another_sender)
    first_run = deliver_pending()
    assert started == ["anna@example.se"]
    assert second_run == [2] and first_run == 1
    assert sorted(to for to, _subject in smtp.sent) == [
        "anna@example.se",
        "bo@example.se",
        "cilla@example.se",
    ]
    assert unsent() == []


def test_a_claim_taken_by_another_sender_is_left_until_it_lapses(app, smtp):
    mine, theirs = queue("anna@example.se", "bo@example.se")
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == theirs.id)
        .values(claimed_until=utcnow() + mail_service.CLAIM)
    )
    db.session.commit()
    assert deliver_pending() == 1
    assert unsent() == ["bo@example.se"]
    lapse_claims()
    assert deliver_pending() == 1
    assert unsent() == []


def test_mail_that_keeps_failing_goes_after_new_mail(app, smtp):
    queue("bad@example.se", "anna@example.se", "bo@example.se")
    smtp.failing["bad@example.se"] = OSError("connection refused")
    for _run in range(3):
        deliver_pending(limit=1)
    assert unsent() == ["bad@example.se"]
    assert [to for to, _subject in smtp.sent] == ["anna@example.se", "bo@example.se"]


def test_the_clock_sends_mail_even_when_the_notices_fail(app, smtp, monkeypatch, caplog):
    from forum import scheduler
    from forum.services import consultations

    def broken(_now):
        raise RuntimeError("notices broke")

    monkeypatch.setattr(consultations, "send_due_notices", broken)
    queue("anna@example.se")
    with caplog.at_level(logging.ERROR, logger="forum.scheduler"):
        scheduler.run_due_jobs(app, "2026-12-07", datetime(2026, 12, 7, 5, 0, tzinfo=UTC))
    assert [to for to, _subject in smtp.sent] == ["anna@example.se"]
    assert unsent() == []
    assert any("notices" in r.getMessage() for r in caplog.records)
