"""The outbox, reviewed: a notice's mail waiting in the outbox is sent only if its reader may
still read what it quotes; a relay that says "later" (a 4xx) is not taken for a refusal of
every mail after it; and every mail carries a Date and a Message-ID."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import func, select
from test_mail_robustness import FakeSMTP

from forum.extensions import db
from forum.models import Membership, OutboxMail
from forum.services import forums as forum_service
from forum.services import mail as mail_service
from forum.services import notifications, organisations
from forum.services.mail import deliver_pending, queue_mail


class Relay(FakeSMTP):
    """test_mail_robustness's SMTP stand-in that takes `per_run` mails, then answers
    `answer` (a 4xx), as a relay with a rate limit does."""

    per_run = 10**6
    answer: tuple[int, bytes] = (451, b"4.7.0 Rate limit exceeded, try again later")
    taken: list = []

    def send_message(self, message) -> None:
        if len(Relay.taken) >= Relay.per_run:
            raise smtplib.SMTPDataError(*Relay.answer)
        Relay.taken.append(message)


@pytest.fixture
def relay(app, monkeypatch):
    app.config["FORUM_SMTP_HOST"] = "smtp.invalid"
    monkeypatch.setattr(mail_service.smtplib, "SMTP", Relay)
    Relay.taken, Relay.per_run = [], 10**6
    return Relay


def sent_to(address: str) -> list[OutboxMail]:
    return list(
        db.session.scalars(
            select(OutboxMail).where(
                OutboxMail.to_address == address, OutboxMail.sent_at.is_not(None)
            )
        )
    )


def test_a_mention_mail_is_not_sent_after_the_reader_left_the_invite_only_forum(app, make):
    owner, member = make.user("official"), make.user(name="Mia Medlem")
    forum = make.forum(owner=owner, visibility="invite", members=[member])
    thread = make.thread(forum=forum, author=owner, title="Hemlig plan")
    with app.test_request_context():
        notifications.save_preferences(member, {"mention": "immediate"})
    make.message(thread, owner, f"Hej @{member.handle} KONFIDENTIELL budget")
    waiting = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == member.email))
    assert [m.sent_at for m in waiting] == [None]
    with app.test_request_context():
        forum_service.change_forum_people(owner, forum, member.email, "member", False)
    deliver_pending()  # the next run, after the removal (or SMTP was down meanwhile)
    assert sent_to(member.email) == []
    # withdrawn, not failed: nothing for the operators to look into, and never sent later
    assert db.session.scalar(select(func.count()).where(OutboxMail.to_address == member.email)) == 0
    # whoever may still read it gets theirs
    other = make.user(name="Olle Kvar")
    with app.test_request_context():
        forum_service.change_forum_people(owner, forum, other.email, "member", True)
        notifications.save_preferences(other, {"mention": "immediate"})
    make.message(thread, owner, f"Hej @{other.handle}")
    deliver_pending()
    assert len(sent_to(other.email)) == 1


def test_a_draft_mail_is_not_sent_after_the_reader_left_the_organisation(app, make):
    admin_a, admin_b = make.user(), make.user()
    org = make.organisation(admin=admin_a)
    db.session.add(
        Membership(organisation_id=org.id, user_id=admin_b.id, role="admin", status="approved")
    )
    db.session.commit()
    with app.test_request_context():
        notifications.deliver(
            [admin_b],
            "consultation_response_drafted",
            "Utkast: HEMLIGT svar",
            f"/consultations/1/response?organisation={org.id}",
            actor=admin_a,
        )
        db.session.commit()
        membership = db.session.scalar(select(Membership).where(Membership.user_id == admin_b.id))
        organisations.remove_member(admin_a, org.id, membership.id)
    deliver_pending()
    # told of the removal itself, but not of the draft
    assert [m.subject for m in sent_to(admin_b.email)] == ["Du togs bort ur en organisation"]
    assert not any("HEMLIGT" in m.body for m in sent_to(admin_b.email))


def test_a_relay_that_says_later_ends_the_run_and_every_mail_goes_in_the_end(app, relay):
    """30 a minute, then 451: the run stops at the first 451 (each mail after it would get
    the same answer and use up an attempt), and cron's next runs send the rest."""
    for i in range(100):
        queue_mail(f"member{i}@example.se", "Er organisation tillfrågas", "Hej")
    db.session.commit()
    relay.per_run = 30
    runs = 0
    while db.session.scalar(select(func.count()).where(OutboxMail.sent_at.is_(None))) and runs < 10:
        relay.taken = []
        deliver_pending(limit=1000)
        runs += 1
    assert db.session.scalar(select(func.count()).where(OutboxMail.sent_at.is_not(None))) == 100
    assert db.session.scalar(select(func.count()).where(OutboxMail.failed_at.is_not(None))) == 0
    assert runs == 4
    # each 451 counted an attempt against one mail only
    assert db.session.scalar(select(func.max(OutboxMail.attempts))) == 2


def test_a_recipient_the_relay_defers_does_not_stop_the_others(app, relay, monkeypatch):
    """A 4xx about one recipient (its mailbox full for now) is that mail's, not the run's."""

    def refuse_one(self, message) -> None:
        if message["To"] == "full@example.se":
            raise smtplib.SMTPRecipientsRefused({"full@example.se": (452, b"4.2.2 Mailbox full")})
        Relay.taken.append(message)

    monkeypatch.setattr(Relay, "send_message", refuse_one)
    queue_mail("full@example.se", "Först", "Hej")
    queue_mail("other@example.se", "Sedan", "Hej")
    db.session.commit()
    assert deliver_pending() == 1
    assert [m["To"] for m in relay.taken] == ["other@example.se"]
    full = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == "full@example.se"))
    assert full.attempts == 1 and full.failed_at is None  # tried again next run


def test_every_mail_has_a_date_and_one_message_id_across_retries(app, relay):
    mail = queue_mail("anna@example.se", "Återställ ditt lösenord", "Hej")
    db.session.commit()
    first = mail_service.build_message(mail, "forum@example.se")
    again = mail_service.build_message(mail, "forum@example.se")
    assert first["Date"] and first["Message-ID"]
    assert first["Message-ID"] == again["Message-ID"]  # a retry is the same message
    assert first["Message-ID"].endswith("@localhost>")  # FORUM_BASE_URL's host
    other = queue_mail("bo@example.se", "Hej", "Hej")
    db.session.commit()
    assert (
        mail_service.build_message(other, "forum@example.se")["Message-ID"] != first["Message-ID"]
    )
    assert deliver_pending() == 2
    assert all(m["Date"] and m["Message-ID"] for m in relay.taken)
