"""Builders for the consultation tests (imported by tests/test_consultations*.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import flask_babel
from sqlalchemy import select

from forum.extensions import db
from forum.models import ConsultationRound
from forum.services import consultations as service


def english(client):
    """Ask for English pages, so the assertions survive the Swedish translation."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@contextlib.contextmanager
def in_english(app) -> Iterator[None]:
    """A request context in English, for the messages of errors raised by services."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        flask_babel.refresh()  # the fixture's app context may have cached Swedish
        try:
            yield
        finally:
            flask_babel.refresh()


def local(delta: timedelta) -> str:
    """A datetime-local value (Stockholm) `delta` from now."""
    return service.local_input(datetime.now(UTC) + delta)


def consultation_people(make, locale: str | None = None) -> tuple:
    """(an official, the organisation's admin, a member, the organisation): the cast of the
    consultation tests; with `locale`, the three read their notices and mail in it."""
    official = make.user("official")
    chair = make.user(name="Olle Ordförande")
    member = make.user(name="Mira Medlem")
    org = make.organisation(admin=chair, members=[member], name="Föreningen Gemenskap")
    if locale is not None:
        for person in (official, chair, member):
            person.locale = locale
        db.session.commit()
    return official, chair, member, org


def round_input(make, **overrides) -> service.RoundInput:
    data = {
        "title": "Mötesplatser för unga",
        "problem": "Hur ska **mötesplatserna** utvecklas?",
        "background": "Stadsdelarna har olika behov.",
        "stage": "problem",
        "decision_date": (datetime.now(UTC) + timedelta(days=90)).date().isoformat(),
        "audience": "all_verified",
        "invited_ids": [],
        "commitment_ids": make.commitment_ids(2),
        "opens_at": local(-timedelta(hours=1)),
        "closes_at": local(timedelta(days=10)),
        "questions": [("Vad saknas i dag?", "Tänk på kvällar och helger."), ("Vem kan driva?", "")],
    }
    data.update(overrides)
    return service.RoundInput(**data)


def make_round(app, make, official, state: str = "open", **overrides) -> ConsultationRound:
    """A round through the services: 'draft', 'open' or 'closed'."""
    with app.test_request_context():
        round_ = service.create_round(official, round_input(make, **overrides))
        if state in ("open", "closed"):
            service.open_round(official, round_.id)
        if state == "closed":
            service.close_round(official, round_.id)
    return db.session.scalar(select(ConsultationRound).where(ConsultationRound.id == round_.id))


def respond(app, user, round_, org, submit=True, text="Kvällsöppet"):
    with app.test_request_context():
        return service.save_response(
            user,
            round_.id,
            org.id,
            {q.id: f"{text} {n}" for n, q in enumerate(round_.questions, start=1)},
            submit=submit,
        )


def expire_deadline(round_: ConsultationRound) -> None:
    """Move the closing time into the past (as if the deadline passed while a form was open)."""
    round_.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
