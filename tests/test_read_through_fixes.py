"""What a read-through of the session's change found: a reminder that raced a moderator's
hide quoted the hidden action, notices of actions hidden before the change kept quoting
their updates, the start page's "more rounds for you" led to every open round, and a
refusal said "Wait 1 minutes"."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import flask_migrate
import pytest
from consultation_support import make_round
from sqlalchemy import event, select, text
from support import PASSWORD
from support import app_settings as app_config
from test_dashboard_review_fixes import start_section
from test_migrations import database_url, keep_logging, postgres_url  # noqa: F401 - fixtures

from forum import create_app
from forum.config import parse_rate_limit
from forum.extensions import db as _db
from forum.models import Action, Department, Notification, OutboxMail, User
from forum.services import follow_up as service

SECRET = "Ring Anna Svensson 070-1234567"


def _action(make, db, title: str, days: int = 3):
    official = make.user("official")
    department = db.session.scalar(
        select(Department).where(Department.name == "Social resursnämnd")
    )
    with make.app.test_request_context():
        action = service.propose_action(
            official,
            service.ActionInput(
                title=title,
                owner=f"department:{department.id}",
                due_date=(service.today() + timedelta(days=days)).isoformat(),
                commitment_ids=make.commitment_ids(1),
            ),
        )
    return official, action


def test_a_reminder_that_races_a_hide_does_not_quote_the_hidden_action(app, make, db):
    """The reminder job read its list, a moderator's hide committed, and the reminder's
    notice and mail quoted the title the hide had just blanked everywhere else."""
    _official, action = _action(make, db, SECRET)
    action_id, moderator_id = action.id, make.user("moderator").id
    fired: list[int] = []

    def hide_meanwhile() -> None:
        with app.test_request_context():
            try:
                service.hide_action(_db.session.get(User, moderator_id), action_id, "Personuppgift")
            finally:
                _db.session.remove()

    def after(_conn, _cursor, statement, *_args) -> None:
        # the reminder job has just read its candidates: the moderator's hide commits now
        if not fired and "FROM actions" in statement and "hidden_at IS NULL" in statement:
            fired.append(1)
            other = threading.Thread(target=hide_meanwhile)
            other.start()
            other.join(20)

    event.listen(_db.engine, "after_cursor_execute", after)
    try:
        with app.test_request_context():
            service.remind()
    finally:
        event.remove(_db.engine, "after_cursor_execute", after)
    assert fired
    db.session.expire_all()
    assert db.session.get(Action, action_id).hidden_at is not None
    excerpts = db.session.scalars(select(Notification.excerpt)).all()
    mails = db.session.scalars(select(OutboxMail.body).where(OutboxMail.sent_at.is_(None))).all()
    assert [t for t in [*excerpts, *mails] if SECRET in t] == []


def test_a_reminder_is_sent_as_before_when_nothing_races_it(app, make, db):
    _official, action = _action(make, db, "Öppet hus")
    with app.test_request_context():
        assert service.remind() == 1
        assert service.remind() == 0  # once each
    excerpts = db.session.scalars(
        select(Notification.excerpt).where(Notification.kind == "action_reminder")
    ).all()
    assert excerpts and all(e.startswith("Öppet hus (") for e in excerpts)


@pytest.mark.usefixtures("keep_logging")
def test_notices_of_actions_hidden_before_the_change_are_blanked_by_the_migration(
    database_url,  # noqa: F811
):
    """e32hiddennotices: the notices of an action hidden under the old code still quoted
    its update after the placeholder; they are emptied, and no other notice changes."""
    from forum.services import accounts
    from forum.services.agreement import seed_agreement

    app = create_app(app_config(database_url))
    with app.app_context():
        try:
            # the data made by today's services, then the schema taken back to before the
            # migration (what later ones add, e.g. thread_access_changes, is empty here)
            flask_migrate.upgrade()
            with app.test_request_context():
                seed_agreement()
                official = accounts.create_user_with_role(
                    "o@example.org", "Olle Official", PASSWORD, "official", "Kulturnämnden"
                )
                follower = accounts.create_user_with_role(
                    "f@example.org", "Fia Följare", PASSWORD, "member"
                )
                owner = f"department:{official.department_id}"
                made = {}
                for name in ("hidden", "shown"):
                    made[name] = service.propose_action(
                        official,
                        service.ActionInput(
                            title=f"Öppet hus {name}",
                            owner=owner,
                            due_date=(service.today() + timedelta(days=30)).isoformat(),
                            commitment_ids=[1],
                        ),
                    ).id
                    service.set_following(follower, made[name], True)
                    service.post_update(official, made[name], f"{SECRET} ({name})")
            hidden, shown = made["hidden"], made["shown"]
            _db.session.commit()
            flask_migrate.downgrade(revision="e31exportfail")
            # what the old hide left: hidden, the title swapped for the placeholder only
            _db.session.execute(
                text(
                    "UPDATE actions SET hidden_at = CURRENT_TIMESTAMP, hidden_reason = 'x' "
                    "WHERE id = :id"
                ),
                {"id": hidden},
            )
            _db.session.execute(
                text(
                    "UPDATE notifications SET excerpt = REPLACE(excerpt, 'Öppet hus hidden', "
                    "'[Åtgärden dold av en moderator]')"
                )
            )
            # a notice of another kind that links to the hidden action keeps its text
            _db.session.execute(
                text(
                    "INSERT INTO notifications (user_id, kind, excerpt, url, created_at) "
                    "VALUES (:u, 'mention', 'nämnd i en åtgärd', :url, CURRENT_TIMESTAMP)"
                ),
                {"u": follower.id, "url": f"/actions/{hidden}"},
            )
            _db.session.commit()
            flask_migrate.upgrade()
            rows = _db.session.execute(
                text("SELECT kind, url, excerpt FROM notifications ORDER BY id")
            ).all()
        finally:
            _db.session.remove()
            _db.engine.dispose()
    of_hidden = [
        r for r in rows if r.kind != "mention" and re.search(rf"/actions/{hidden}(#|$)", r.url)
    ]
    of_shown = [r for r in rows if re.search(rf"/actions/{shown}(#|$)", r.url)]
    assert of_hidden and all(r.excerpt == "" for r in of_hidden), of_hidden
    assert of_shown and any(SECRET in r.excerpt for r in of_shown), of_shown
    assert [r.excerpt for r in rows if r.kind == "mention"] == ["nämnd i en åtgärd"]


def test_more_rounds_for_you_lead_to_the_rounds_that_ask_you(app, make, client, auth):
    """The start page counted the rounds that ask the person, and linked to every open
    round; /consultations?for=me lists those it counted."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    official, person = make.user("official"), make.user()
    make.organisation(admin=person)
    other = make.organisation(admin=make.user())
    mine = [make_round(app, make, official, title=f"Till alla {n}") for n in range(9)]
    elsewhere = [
        make_round(
            app,
            make,
            official,
            title=f"Bara inbjudna {n}",
            audience="invited",
            invited_ids=[other.id],
        )
        for n in range(3)
    ]
    auth.login(person)
    page = client.get("/").get_data(as_text=True)
    section = start_section(page, "rounds")
    link = re.search(r'<a href="(/consultations\?[^"]+)">1 more open round for you', section)
    assert link, section
    listed = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert all(f'href="/consultations/{r.id}"' in listed for r in mine)
    assert [r.title for r in elsewhere if f'href="/consultations/{r.id}"' in listed] == []
    assert 'id="filter-for-me" name="for" value="me" checked' in listed
    # to a visitor the filter means nothing: every round they may see
    visitor = app.test_client()
    everything = visitor.get("/consultations?phase=open&for=me").get_data(as_text=True)
    assert all(f'href="/consultations/{r.id}"' in everything for r in [*mine, *elsewhere])


@pytest.mark.config(FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("1/60s"))
def test_a_refusal_says_one_minute_not_one_minutes(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    data = {"display_name": "Person X", "password": "a long enough passphrase 42"}
    address = {"REMOTE_ADDR": "203.0.113.9"}
    first = client.post("/register", data={**data, "email": "a@example.org"}, environ_base=address)
    assert first.status_code == 303
    again = {**data, "email": "b@example.org", "display_name": "Person Y"}
    refused = client.post("/register", data=again, environ_base=address)
    assert refused.status_code == 429
    assert "Wait 1 minute and try again." in refused.get_data(as_text=True)
