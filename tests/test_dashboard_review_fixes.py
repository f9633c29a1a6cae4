"""Review of the follow-up dashboard and the pages around it: a hidden action's notices, the
dashboard's (Stockholm) year, the notification choices while mail is off, and the action
lists that were unbounded or cut off without a word."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from consultation_support import make_round
from flask_babel import force_locale
from sqlalchemy import select

from forum.config import parse_rate_limit
from forum.formatting import long_date
from forum.models import (
    Commitment,
    Department,
    Notification,
    NotificationPreference,
    OutboxMail,
    RoundState,
)
from forum.models.base import utcnow
from forum.queries import follow_up as fq
from forum.services import follow_up as service
from forum.services import forums, notifications

SECRET = "Kontaktperson Anna Svensson 070-1234567"
TITLE = "Öppet hus på fritidsgården"
PLACEHOLDER_EN = "[Action hidden by a moderator]"


def department(db) -> Department:
    return db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))


def propose(app, make, db, official, title=TITLE, due_in=60):
    with app.test_request_context():
        return service.propose_action(
            official,
            service.ActionInput(
                title=title,
                owner=f"department:{department(db).id}",
                due_date=(service.today() + timedelta(days=due_in)).isoformat(),
                commitment_ids=make.commitment_ids(1),
            ),
        )


def run(app, fn, *args):
    with app.test_request_context():
        return fn(*args)


# --- 1. a hidden action's notices quote neither its title nor its updates ----------------


class Followed:
    pass


@pytest.fixture
def followed(app, make, db):
    """An action a follower is told about: an update quoting personal data, mail waiting."""
    w = Followed()
    w.official = make.user("official")
    w.moderator = make.user("moderator")
    w.follower = make.user()
    w.digest_follower = make.user()
    run(app, notifications.save_preferences, w.follower, {"action_update": "immediate"})
    run(app, notifications.save_preferences, w.digest_follower, {"action_update": "digest"})
    w.action = propose(app, make, db, w.official)
    for person in (w.follower, w.digest_follower):
        run(app, service.set_following, person, w.action.id, True)
    w.update = run(app, service.post_update, w.official, w.action.id, f"Ring {SECRET} för frågor.")
    return w


def notes_of(db, person) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.user_id == person.id, Notification.kind == "action_update"
            )
        )
    )


def waiting_mail(db, note) -> list[OutboxMail]:
    return list(
        db.session.scalars(
            select(OutboxMail).where(
                OutboxMail.notification_id == note.id, OutboxMail.sent_at.is_(None)
            )
        )
    )


def test_a_hidden_actions_notices_keep_neither_its_title_nor_its_update(app, db, followed):
    w = followed
    [note] = notes_of(db, w.follower)
    assert SECRET in note.excerpt and TITLE in note.excerpt
    [mail] = waiting_mail(db, note)
    assert SECRET in mail.body
    run(app, service.hide_action, w.moderator, w.action.id, "Personuppgifter")
    for person in (w.follower, w.digest_follower):
        [note] = notes_of(db, person)
        assert note.excerpt == ""  # nothing stored: the placeholder is written when shown
    [note] = notes_of(db, w.follower)
    [mail] = waiting_mail(db, note)
    for text in (mail.subject, mail.body, mail.html_body or ""):
        assert SECRET not in text and TITLE not in text


def test_the_notifications_page_shows_the_placeholder_in_the_readers_language(
    app, db, client, auth, followed
):
    w = followed
    run(app, service.hide_action, w.moderator, w.action.id, "Personuppgifter")
    auth.login(w.follower)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert client.get(f"/actions/{w.action.id}").status_code == 404
    page = client.get("/notifications").get_data(as_text=True)
    assert SECRET not in page and TITLE not in page
    assert PLACEHOLDER_EN in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "sv"
    page = client.get("/notifications").get_data(as_text=True)
    assert PLACEHOLDER_EN not in page and "[Åtgärden dold av en moderator]" in page


def test_the_daily_summary_leaves_out_a_hidden_actions_update(app, make, db, followed):
    w = followed
    other = propose(app, make, db, w.official, title="Något annat")
    run(app, service.set_following, w.digest_follower, other.id, True)
    run(app, service.post_update, w.official, other.id, "Allt går bra.")
    run(app, service.hide_action, w.moderator, w.action.id, "Personuppgifter")
    run(app, notifications.send_digests)
    bodies = db.session.scalars(
        select(OutboxMail.body).where(OutboxMail.to_address == w.digest_follower.email)
    ).all()
    assert len(bodies) == 1  # the other action's update still goes out
    assert SECRET not in bodies[0] and TITLE not in bodies[0] and "Allt går bra." in bodies[0]


def test_showing_the_action_again_brings_its_notices_back(app, db, followed):
    w = followed
    [before] = notes_of(db, w.follower)
    quoted = before.excerpt
    run(app, service.hide_action, w.moderator, w.action.id, "Personuppgifter")
    run(app, service.unhide_action, w.moderator, w.action.id)
    [note] = notes_of(db, w.follower)
    assert note.excerpt == quoted
    [mail] = waiting_mail(db, note)
    assert SECRET in mail.body and TITLE in mail.body


def test_a_title_redacted_while_hidden_is_the_one_quoted_once_shown(app, db, followed):
    w = followed
    run(app, service.hide_action, w.moderator, w.action.id, "Personuppgifter")
    run(app, service.redact_action_title, w.moderator, w.action.id, "Öppet hus", "")
    [note] = notes_of(db, w.follower)
    assert note.excerpt == ""
    run(app, service.unhide_action, w.moderator, w.action.id)
    [note] = notes_of(db, w.follower)
    assert note.excerpt.startswith("Öppet hus: ") and TITLE not in note.excerpt
    assert SECRET in note.excerpt  # the update itself was not hidden, only the action
    [mail] = waiting_mail(db, note)
    assert TITLE not in mail.body and "Öppet hus" in mail.body


def test_a_redacted_title_is_requoted_in_every_notice(app, db, followed):
    w = followed
    run(app, service.redact_action_title, w.moderator, w.action.id, "Öppet hus", "")
    [note] = notes_of(db, w.follower)
    assert note.excerpt.startswith("Öppet hus: ") and TITLE not in note.excerpt
    [mail] = waiting_mail(db, note)
    assert TITLE not in mail.body and TITLE not in mail.subject


# --- 2. the dashboard's year is the city's (Stockholm) year ------------------------------

YEAR = utcnow().year - 1
# 00:30 on New Year's Day in Gothenburg (CET, UTC+1) is still the old year in UTC
NEW_YEARS_NIGHT = datetime(YEAR - 1, 12, 31, 23, 30, tzinfo=UTC)


def first_commitment(db) -> Commitment:
    return db.session.scalars(select(Commitment).order_by(Commitment.position)).first()


def test_a_message_after_midnight_on_new_years_day_counts_in_the_new_year(app, make, db):
    official = make.user("official")
    forum = make.forum(owner=official)
    with app.test_request_context():
        thread = forums.start_thread(official, forum, "Nyårsnatt", [first_commitment(db).id])
    message = make.message(thread, official, "Gott nytt år!")
    message.created_at = NEW_YEARS_NIGHT
    db.session.commit()
    new = fq.dashboard(YEAR, service.today(), utcnow()).total.messages
    old = fq.dashboard(YEAR - 1, service.today(), utcnow()).total.messages
    assert (old, new) == (0, 1)


def test_an_action_and_a_round_after_midnight_on_new_years_day_count_in_the_new_year(app, make, db):
    official = make.user("official")
    make.organisation(admin=make.user())  # a round asks someone
    action = propose(app, make, db, official, title="Nyårslöfte")
    action.created_at = NEW_YEARS_NIGHT
    round_ = make_round(app, make, official, "closed", commitment_ids=[first_commitment(db).id])
    round_.opens_at = NEW_YEARS_NIGHT
    round_.closes_at = NEW_YEARS_NIGHT + timedelta(days=14)
    db.session.commit()
    new = fq.dashboard(YEAR, service.today(), utcnow()).total
    old = fq.dashboard(YEAR - 1, service.today(), utcnow()).total
    assert (old.action_total, new.action_total) == (0, 1)
    assert (old.rounds, new.rounds) == (0, 1)


def test_weeks_to_the_decision_count_from_the_closing_day_in_stockholm(app, make, db):
    """A round closing at 00:30 on 2 March in Gothenburg (23:30 UTC on 1 March), with the
    decision planned on 9 March: one week, not eight days."""
    official = make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official, "closed", commitment_ids=[first_commitment(db).id])
    closes = datetime(YEAR, 3, 1, 23, 30, tzinfo=UTC)
    round_.opens_at = closes - timedelta(days=14)
    round_.closes_at = closes
    round_.decision_date = date(YEAR, 3, 9)
    round_.state = RoundState.closed
    db.session.commit()
    board = fq.dashboard(YEAR, service.today(), utcnow())
    assert board.total.decision_weeks == [1.0]


def test_on_new_years_night_the_pages_show_the_new_years_figures(
    app, make, db, client, monkeypatch
):
    """00:30 on 1 January in Gothenburg: the commitment page's heading and figures, and the
    dashboard's default year, are the new (Stockholm) year's, not the old (UTC) one's."""
    from forum.services import follow_up as service_module
    from forum.web import follow_up as web_module

    c = first_commitment(db)
    official = make.user("official")
    forum = make.forum(owner=official)
    with app.test_request_context():
        thread = forums.start_thread(official, forum, "I juni", [c.id])
    message = make.message(thread, official, "Sommarmöte")
    message.created_at = datetime(YEAR, 6, 1, 12, tzinfo=UTC)  # the old year, mid-year
    db.session.commit()
    night = datetime(YEAR, 12, 31, 23, 30, tzinfo=UTC)  # 1 January YEAR+1, 00:30 in Stockholm
    monkeypatch.setattr(web_module, "utcnow", lambda: night)
    monkeypatch.setattr(service_module, "utcnow", lambda: night)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get(f"/commitments/{c.slug}").get_data(as_text=True)
    heading = re.search(r"Figures for (\d{4})", page).group(1)
    messages = re.search(r"<dt>Messages</dt><dd>(\d+)</dd>", page).group(1)
    assert (heading, messages) == (str(YEAR + 1), "0")
    board = client.get("/uppfoljning/export.csv").get_data(as_text=True)
    assert f"uppfoljning-{YEAR + 1}" in client.get("/uppfoljning/export.csv").headers.get(
        "Content-Disposition", ""
    ), board[:200]
    assert client.get(f"/uppfoljning?year={YEAR + 2}").status_code == 200  # next year's


# --- 3. the notification choices while mail is off ------------------------------------


def checked(page: str, kind: str) -> str:
    return re.search(rf'id="{kind}-(\w+)" value="\w+" checked', page).group(1)


def test_with_mail_off_the_page_shows_what_applies_once_mail_is_on(client, auth, make, db):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    person = make.user()
    person.email_notifications = False
    db.session.commit()
    auth.login(person)
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "The choices below apply then." in page
    shown = checked(page, "mention")
    person.email_notifications = True
    db.session.commit()
    now = checked(client.get("/notifications/settings").get_data(as_text=True), "mention")
    assert now == shown == "immediate"


def test_saving_with_mail_off_keeps_the_default_so_mail_comes_once_it_is_on(
    app, client, auth, make, db
):
    """The form saved as shown (every kind at its default) stores nothing: turned on
    later, mail comes as the default says; a choice other than the default is stored."""
    from support import csrf_tokens

    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    person, other = make.user(), make.user()
    person.email_notifications = False
    db.session.commit()
    auth.login(person)
    page = client.get("/notifications/settings").get_data(as_text=True)
    [token] = csrf_tokens(page)
    form = {kind: checked(page, kind) for kind in notifications.KINDS}
    form["reply"] = "digest"
    response = client.post("/notifications/settings", data={"csrf_token": token, **form})
    assert response.status_code == 302
    stored = db.session.execute(
        select(NotificationPreference.kind, NotificationPreference.mode).where(
            NotificationPreference.user_id == person.id
        )
    ).all()
    assert [tuple(row) for row in stored] == [("reply", "digest")]
    # a choice back to the default removes the stored one
    form["reply"] = "immediate"
    client.post("/notifications/settings", data={"csrf_token": token, **form})
    assert not db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == person.id)
    ).all()
    person.email_notifications = True
    db.session.commit()
    with app.test_request_context():
        notifications.deliver([person], "mention", "Hej", "/forums", actor=other)
        db.session.commit()
    assert db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == person.email)).all()


# --- 4. paged /actions; the start page says what it leaves out ----------------------------


def many_actions(app, make, db, n, follower=None, official=None):
    official = official or make.user("official")
    ids = make.commitment_ids(1)
    made = []
    with app.test_request_context():
        for i in range(n):
            action = service.propose_action(
                official,
                service.ActionInput(
                    title=f"Åtgärd nummer {i:03d}",
                    owner=f"department:{department(db).id}",
                    # every third one shares a due date: the pages order by (due, id)
                    due_date=(service.today() + timedelta(days=10 + i // 3)).isoformat(),
                    commitment_ids=ids,
                ),
            )
            if follower is not None:
                service.set_following(follower, action.id, True)
            made.append(action)
    return made


NEXT = re.compile(r'<a href="([^"]+)" rel="next"')


def titles_on(page: str) -> list[str]:
    return re.findall(r"Åtgärd nummer \d{3}", page)


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def test_the_action_list_is_paged_and_every_action_is_reached(app, make, db, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    made = many_actions(app, make, db, 120)
    seen: list[str] = []
    url = "/actions"
    pages = 0
    while url:
        page = client.get(url.replace("&amp;", "&"))
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        shown = text.count('class="action-item"')
        assert 0 < shown <= fq.ACTIONS_PAGE
        seen += titles_on(text)
        found = NEXT.search(text)
        url = found.group(1) if found else ""
        pages += 1
    assert seen == [a.title for a in made]  # soonest due first, none twice, none left out
    assert pages == -(-120 // fq.ACTIONS_PAGE)


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def test_the_next_page_keeps_the_filters(app, make, db, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    made = many_actions(app, make, db, 60)
    slug = db.session.get(Commitment, make.commitment_ids(1)[0]).slug
    query = f"/actions?status=planned&department={department(db).id}&commitment={slug}"
    page = client.get(query).get_data(as_text=True)
    link = NEXT.search(page).group(1).replace("&amp;", "&")
    for part in ("status=planned", f"department={department(db).id}", f"commitment={slug}"):
        assert part in link
    second = client.get(link).get_data(as_text=True)
    assert titles_on(second) == [a.title for a in made[fq.ACTIONS_PAGE :]]
    assert 'rel="next"' not in second


@pytest.mark.parametrize(
    "after",
    [
        "abc",
        "-1",
        "99999999999999999999999",
        "2025-01-01.-4",
        "2025-13-01.5",
        "99999-01-01.5",
        "2025-01-01.99999999999999999999",
        "2025-01-01",
        ".5",
        "2025-01-01.5.6",
    ],
)
def test_a_bad_paging_cursor_is_a_404(client, after):
    assert client.get("/actions", query_string={"after": after}).status_code == 404


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def test_the_paged_action_list_queries_do_not_grow(app, make, db, client, count_queries):
    counts = []
    official = make.user("official")
    for n in (3, 70):
        many_actions(app, make, db, n, official=official)
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get("/actions")
        assert response.status_code == 200
        counts.append(counter.count)
    link = NEXT.search(response.get_data(as_text=True)).group(1).replace("&amp;", "&")
    db.session.expire_all()
    with count_queries() as counter:
        assert client.get(link).status_code == 200
    counts.append(counter.count)
    assert counts[0] == counts[1] == counts[2], counts


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def start_section(page: str, name: str) -> str:
    """The start page's section `name` ("actions", "rounds"), as HTML."""
    return page.split(f'id="start-{name}"')[1].split("</section>")[0]


def test_the_start_page_links_to_all_the_actions_it_leaves_out(app, make, db, client, auth):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    person = make.user()
    made = many_actions(app, make, db, 10, follower=person)
    many_actions(app, make, db, 2)  # not theirs
    auth.login(person)
    page = client.get("/").get_data(as_text=True)
    section = start_section(page, "actions")
    assert section.count('class="action-item"') == 8
    link = re.search(r'<a href="(/actions\?[^"]+)">2 more actions you own or follow', section)
    assert link, section
    listed = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert titles_on(listed) == [a.title for a in made]


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def test_the_start_page_says_nothing_more_when_nothing_is_left_out(app, make, db, client, auth):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    person = make.user()
    many_actions(app, make, db, 8, follower=person)
    auth.login(person)
    page = client.get("/").get_data(as_text=True)
    section = start_section(page, "actions")
    assert section.count('class="action-item"') == 8 and "more action" not in section


def test_the_start_page_links_to_the_open_rounds_it_leaves_out(app, make, db, client, auth):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    official = make.user("official")
    person = make.user()
    make.organisation(admin=person)
    rounds = [make_round(app, make, official) for _ in range(10)]
    auth.login(person)
    page = client.get("/").get_data(as_text=True)
    section = start_section(page, "rounds")
    assert section.count("<li>") == 8
    link = re.search(r'<a href="(/consultations\?[^"]+)">2 more open rounds for you', section)
    assert link, section
    listed = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert all(f'href="/consultations/{r.id}"' in listed for r in rounds)


@pytest.mark.parametrize(
    "query", ["department=99999999999999999999999", "department=-5", "after=9999-12-31.2147483647"]
)
def test_odd_filters_on_the_action_list_are_no_error(client, query):
    assert client.get(f"/actions?{query}").status_code in (200, 404)


def test_a_reminder_shown_again_quotes_the_due_date_it_reminded_of(app, make, db):
    """Hidden and shown again, a reminder's notice is written from the reminder sent with
    it, not from a due date moved since."""
    official, moderator = make.user("official"), make.user("moderator")
    action = propose(app, make, db, official, due_in=3)
    run(app, service.remind)
    note = db.session.scalar(
        select(Notification).where(
            Notification.user_id == official.id, Notification.kind == "action_reminder"
        )
    )
    quoted = note.excerpt
    with app.test_request_context(), force_locale(note.excerpt_lang):  # the date in words
        assert long_date(action.due_date) in quoted
    action.due_date += timedelta(days=30)
    db.session.commit()
    run(app, service.hide_action, moderator, action.id, "Personuppgifter")
    db.session.expire_all()
    assert db.session.get(Notification, note.id).excerpt == ""
    run(app, service.unhide_action, moderator, action.id)
    db.session.expire_all()
    assert db.session.get(Notification, note.id).excerpt == quoted
