"""What README.md promises and no other test file checks: each test names its sentence.

Mail by SMTP (to a local aiosmtpd sink) and to the log; the links a message may
carry; FORUM_ALLOWED_ORIGINS (real server, python-socketio client); the `internal`
error code; the `history` limit; the consultation list's filters; the demo's contents.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import socketio as sio_client
from consultation_support import expire_deadline, local, make_round, respond
from serverproc import ServerProcess, free_port
from sqlalchemy import func, select
from support import PASSWORD

from forum.config import parse_rate_limit
from forum.models import (
    Action,
    ConsultationFeedback,
    ConsultationResponse,
    ConsultationRound,
    Flag,
    Forum,
    Message,
    Notification,
    Organisation,
    OutboxMail,
    ResponseStatus,
    RoundState,
    User,
)
from forum.text import content_language


def text(response) -> str:
    return response.get_data(as_text=True)


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- "Mail goes through an outbox table; it is sent by SMTP when configured, otherwise
# --- written to the log."  `mail send` sends (and retries) the outbox -----------------


class SmtpSink:
    """aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list = []
        self.got_one = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        self.received.append(envelope)
        self.got_one.set()
        return "250 Message accepted"


@pytest.fixture
def smtp_sink():
    """An SMTP server on a free local port, for this test only."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


def ask_for_reset(client, make) -> User:
    user = make.user(email="glomsk@example.se")
    response = client.post("/reset", data={"email": "GLOMSK@example.se"})
    assert response.status_code == 200  # the same answer whether or not the account exists
    return user


def test_mail_is_sent_by_smtp_when_configured_and_retried_when_it_fails(
    app, client, make, db, smtp_sink
):
    sink, port = smtp_sink
    user = ask_for_reset(client, make)
    queued = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == user.email))
    assert queued is not None and queued.sent_at is None  # queued, not sent in the request

    # the server is down: the mail stays in the outbox with the error, for the next run
    app.config.update(
        FORUM_SMTP_HOST="127.0.0.1",
        FORUM_SMTP_PORT=free_port(),  # nobody listens there
        FORUM_SMTP_STARTTLS=False,
        FORUM_MAIL_FROM="dialogforum@example.se",
    )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "Sent 0 mail(s)." in result.output
    db.session.refresh(queued)
    # not reaching the server is no attempt at this mail (nor counts towards giving it up)
    assert queued.sent_at is None and queued.attempts == 0 and queued.last_error
    assert not sink.received

    # the server is up: `mail send` delivers it by SMTP, once
    app.config["FORUM_SMTP_PORT"] = port
    result = runner.invoke(args=["mail", "send"])
    assert "Sent 1 mail(s)." in result.output, result.output
    assert sink.got_one.wait(5)
    (envelope,) = sink.received
    assert envelope.mail_from == "dialogforum@example.se"
    assert envelope.rcpt_tos == [user.email]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["To"] == user.email and message["Subject"] == queued.subject
    body = message.get_content()
    assert re.search(r"http://localhost/reset/[A-Za-z0-9_\-]+", body), body
    db.session.refresh(queued)
    assert queued.sent_at is not None and queued.last_error is None
    assert "Sent 0 mail(s)." in runner.invoke(args=["mail", "send"]).output
    assert len(sink.received) == 1


def _flask(tmp_path, *args: str, input: str | None = None):  # noqa: A002
    """`flask --app forum ...` as its own process on a SQLite file of this test, with no
    logging configured by anyone but the app (as ./scripts/run and cron run it)."""
    import os
    import subprocess
    import sys

    from forum.cli import GUNICORN_CONFIG

    base = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
    env = {
        **base,
        "FORUM_DATABASE_URL": f"sqlite:///{tmp_path}/forum.sqlite3",
        "FORUM_SECRET_KEY": "s" * 40,
        "FORUM_DEMO": "0",
        "FORUM_DIGEST_SCHEDULER": "0",
        "FORUM_DOCUMENT_DIR": str(tmp_path / "documents"),
        "FORUM_REDIS_PREFIX": os.environ["FORUM_REDIS_PREFIX"],
    }
    flask = str(Path(sys.executable).parent / "flask")
    return subprocess.run(
        [flask, "--app", "forum", *args],
        cwd=GUNICORN_CONFIG.parent.parent,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_smtp_mail_is_written_to_the_log(tmp_path):
    """ "Without FORUM_SMTP_HOST, mail is written to the log": `flask mail send` (what cron
    and the embedded clock run) prints each queued mail on stderr, its text too, except
    the text of a mail with a single-use link (a password reset), which is withheld."""
    assert _flask(tmp_path, "setup").returncode == 0
    created = _flask(
        tmp_path,
        "users", "create", "glomsk@example.se", "--name", "Glömsk Person", "--password-stdin",
        input="ett långt lösenord 123\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    asked = _flask(
        tmp_path,
        "shell",
        input="from forum.extensions import db\n"
        "from forum.services import accounts\n"
        "from forum.services.mail import queue_mail\n"
        "accounts.request_password_reset('glomsk@example.se')\n"
        "queue_mail('glomsk@example.se', 'Ett svar', 'Någon svarade i tråden.')\n"
        "db.session.commit()\n",
    )
    assert asked.returncode == 0, asked.stderr
    sent = _flask(tmp_path, "mail", "send")
    assert sent.returncode == 0, sent.stderr
    assert "Sent 2 mail(s)." in sent.stdout
    assert "to=glomsk@example.se" in sent.stderr
    assert "Någon svarade i tråden." in sent.stderr
    assert "/reset/" not in sent.stderr, sent.stderr
    assert "[body withheld: it holds a single-use link]" in sent.stderr
    # logged once, not once per handler
    assert sent.stderr.count("to=glomsk@example.se") == 2


def test_app_logging_leaves_configured_logging_alone():
    """The app gives the `forum` logger a handler only when nobody configured logging:
    under pytest (caplog's handler on the root) or an operator's dictConfig it adds none,
    and a second app in the same process adds no second handler."""
    from forum import configure_logging

    forum_log = logging.getLogger("forum")
    root = logging.getLogger()
    saved = (forum_log.handlers[:], forum_log.level, root.handlers[:])
    try:
        forum_log.handlers.clear()
        assert root.handlers  # pytest's own
        configure_logging({})
        assert forum_log.handlers == []
        root.handlers.clear()
        configure_logging({"FORUM_LOG_LEVEL": "warning"})
        configure_logging({"FORUM_LOG_LEVEL": "warning"})
        assert len(forum_log.handlers) == 1
        assert forum_log.level == logging.WARNING
    finally:
        forum_log.handlers[:], root.handlers[:] = saved[0], saved[2]
        forum_log.setLevel(saved[1])


def test_gunicorn_routes_the_forum_logger_to_its_error_log(monkeypatch):
    """Under gunicorn the app's own log lines (the mail without SMTP) go where gunicorn's
    error log goes, at FORUM_LOG_LEVEL."""
    import runpy

    from forum.cli import GUNICORN_CONFIG

    monkeypatch.setenv("FORUM_LOG_LEVEL", "debug")
    settings = runpy.run_path(str(GUNICORN_CONFIG))
    error_log = logging.getLogger("gunicorn.error")
    forum_log = logging.getLogger("forum")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    saved = (forum_log.handlers[:], forum_log.level, error_log.handlers[:], forum_log.propagate)
    try:
        error_log.handlers[:] = [handler]
        forum_log.handlers.clear()
        settings["post_fork"](None, None)
        logging.getLogger("forum.mail").debug("mail to=%s", "x@example.se")
        assert [r.getMessage() for r in records] == ["mail to=x@example.se"]
        assert forum_log.level == logging.DEBUG
    finally:
        forum_log.handlers[:], error_log.handlers[:] = saved[0], saved[2]
        forum_log.setLevel(saved[1])
        forum_log.propagate = saved[3]


def test_set_password_from_the_command_line(app, make, db, client):
    """A demo whose printed passwords were lost: `flask users set-password HANDLE` sets a
    new one, checked like the registration form's, and ends the person's sessions."""
    user = make.user(email="borta@example.se", name="Borta Lösen")
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "set-password", user.handle], input="kort\nkort\n")
    assert weak.exit_code != 0 and "minst 10 tecken" in weak.output  # the form's rule
    unknown = runner.invoke(args=["users", "set-password", "ingen.alls"], input="x\nx\n")
    assert unknown.exit_code != 0 and "No account" in unknown.output
    new = "ett nytt långt lösenord 7"
    result = runner.invoke(args=["users", "set-password", user.handle], input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert "Password set" in result.output and new not in result.output
    response = client.post("/login", data={"email": user.email, "password": new})
    assert response.status_code in (302, 303) and "/login" not in response.headers["Location"]
    # by email too
    result = runner.invoke(
        args=["users", "set-password", "BORTA@example.se"], input=f"{new}x\n{new}x\n"
    )
    assert result.exit_code == 0, result.output
    # each time logged, and the person told (a weak password changed nothing, told nothing)
    from forum.models import AuditEntry, OutboxMail

    logged = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "account.password_set")
    ).all()
    assert [(e.actor_id, e.target_id, e.reason) for e in logged] == [
        (None, user.id, "command line")
    ] * 2
    told = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == user.email)).all()
    told = [m for m in told if "lösenord" in m.subject.lower()]
    assert len(told) == 2 and "driftansvariga" in told[0].body
    assert new not in told[0].body


# --- "only http, https and mailto links, all with rel="nofollow noopener ugc", no raw
# --- HTML, no images, no event attributes; @name mentions become links" ---------------

MARKDOWN = "\n\n".join(
    [
        "[webb](https://example.org/a?b=1) och [http](http://example.org)",
        "[skriv](mailto:kansliet@example.se)",
        "[skript](javascript:alert(1)) [ftp](ftp://example.org/fil) [data](data:text/html,x)",
        "![bild](https://example.org/bild.png)",
        '<a href="https://evil.example" onclick="steal()">rå länk</a> <img src=x onerror=boom()>',
        "<script>alert(1)</script> **fet**",
        "Hej @greta.granskare!",
    ]
)


def test_message_links_are_safe_and_marked_ugc(make, socket_for):
    author = make.user(name="Ada Author")
    greta = make.user(name="Greta Granskare")
    thread = make.thread(author=author)
    ack = socket_for(author).emit(
        "message:send",
        {"thread_id": thread.id, "body": MARKDOWN, "client_id": "links"},
        callback=True,
    )
    assert ack["ok"], ack
    html = ack["message"]["html"]
    anchors = re.findall(r"<a [^>]*>", html)
    hrefs = [re.search(r'href="([^"]*)"', a).group(1) for a in anchors]
    assert hrefs == [
        "https://example.org/a?b=1",
        "http://example.org",
        "mailto:kansliet@example.se",
        "https://example.org/bild.png",  # an image is only a link to it
        f"/people/{greta.handle}",
    ], html
    external = [a for a in anchors if "/people/" not in a]
    assert all('rel="nofollow noopener ugc"' in a for a in external), anchors
    # every link and source is one of those; the rest stays text, with no tag of its own
    assert re.findall(r'(?:href|src)="([^"]*)"', html) == hrefs
    tags = re.findall(r"<([a-z]+)([^>]*)>", html)
    assert {name for name, _attrs in tags} <= {"p", "a", "strong"}, tags
    assert not [attrs for _name, attrs in tags if re.search(r"\son\w+=", attrs)]
    assert "<strong>fet</strong>" in html


# --- FORUM_ALLOWED_ORIGINS: "comma-separated extra origins allowed to open a socket";
# --- the default is "the app's own origin" ------------------------------------------


def try_connect(server: ServerProcess, origin: str) -> bool:
    # polling: the websocket client adds an Origin header of its own next to ours
    client = sio_client.Client(reconnection=False)
    try:
        client.connect(
            server.url, headers={"Origin": origin}, transports=["polling"], wait_timeout=10
        )
    except sio_client.exceptions.ConnectionError:
        return False
    client.disconnect()
    return True


@pytest.mark.server
def test_allowed_origins(db_url, app):
    # started as the README says, `flask --app forum serve` (the other tests' servers skip
    # its first step): it replaces itself with gunicorn and its gevent worker
    with ServerProcess(db_url, through_flask=True) as server:
        assert try_connect(server, server.url)
        assert not try_connect(server, "https://elsewhere.example")
        log = server.log_path.read_text()
        assert "Dialogforum on http" in log and "Using worker: gevent" in log, log
    partner = "https://partner.example"
    with ServerProcess(db_url, FORUM_ALLOWED_ORIGINS=f"{partner}, https://b.example") as server:
        assert try_connect(server, partner)
        assert try_connect(server, "https://b.example")
        assert try_connect(server, server.url), "extra origins come on top of the app's own"
        assert not try_connect(server, "https://elsewhere.example")


# --- "an unexpected server fault answers `internal`" ----------------------------------


def test_an_unexpected_fault_answers_internal(make, socket_for, monkeypatch, caplog):
    from forum.queries import forums as forum_queries

    thread = make.thread()

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(forum_queries, "thread_for_page", broken)  # what `join` loads with
    with caplog.at_level(logging.ERROR):
        ack = socket_for(None).emit("join", {"thread_id": thread.id}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "internal"
    assert "database went away" not in ack["error"]["message"]  # no internals leak out
    assert any("RuntimeError" in (r.exc_text or "") or r.exc_info for r in caplog.records)


@pytest.mark.parametrize("lang, words", [("sv", "Något gick fel"), ("en", "Something went wrong")])
def test_a_fault_in_finding_out_who_asks_still_gets_the_error_page(
    app, make, auth, client, monkeypatch, caplog, lang, words
):
    """The error page's header and language ask who is reading: when that question was
    the fault, the page answers as to a visitor instead of failing a second time."""
    from forum.services import accounts

    auth.login(make.user())

    def broken(*_args, **_kwargs):
        raise RuntimeError("the session table is broken")

    monkeypatch.setattr(accounts, "session_user", broken)
    with caplog.at_level(logging.ERROR):
        page = client.get("/forums", headers={"Accept-Language": lang})
        data = client.get("/forums", headers={"Accept": "application/json"})
    assert page.status_code == 500
    text = page.get_data(as_text=True)
    assert words in text and f'lang="{lang}"' in text and "session table" not in text
    assert data.status_code == 500 and data.get_json()["error"]["code"] == "internal"
    assert any(r.exc_info for r in caplog.records)


# --- history: "up to `limit` (≤ 100, default 50) messages with id < `before`, oldest
# --- first" -----------------------------------------------------------------------


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_history_limit(make, socket_for, db):
    author = make.user()
    thread = make.thread(author=author)
    ids = [make.message(thread, author, f"m{n}").id for n in range(105)]
    sock = socket_for(None)
    assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]

    def history(**extra):
        return sock.emit(
            "history", {"thread_id": thread.id, "before": ids[-1] + 1, **extra}, callback=True
        )

    default = history()
    assert [m["id"] for m in default["messages"]] == ids[-50:] and default["has_more"]
    hundred = history(limit=100)
    assert [m["id"] for m in hundred["messages"]] == ids[-100:] and hundred["has_more"]
    few = history(limit=3, before=ids[3])
    assert [m["id"] for m in few["messages"]] == ids[:3] and few["has_more"] is False
    for bad in (101, -1, "many"):
        ack = history(limit=bad)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", (bad, ack)
        assert ack["error"]["field"] == "limit"


# --- "Rounds are listed with filters (open now, closing within a week, closed awaiting
# --- feedback, feedback published; by department and by commitment)" ------------------


def test_round_list_filters(app, make, client, db):
    from forum.models import Commitment, Department
    from forum.services import consultations as service

    social = make.user("official", department="Social resursnämnd")
    culture = make.user("official", department="Kulturnämnden")
    chair = make.user()
    org = make.organisation(admin=chair)
    a, b, c = db.session.scalars(select(Commitment).order_by(Commitment.position).limit(3))
    rounds = {
        "open": make_round(app, make, social, "open", commitment_ids=[a.id]),
        "closing": make_round(
            app, make, culture, "open", closes_at=local(timedelta(days=3)), commitment_ids=[b.id]
        ),
        "closed": make_round(app, make, social, "closed", commitment_ids=[a.id]),
        "expired": make_round(app, make, social, "open", commitment_ids=[a.id]),
        "published": make_round(app, make, social, "open", commitment_ids=[c.id]),
        "draft": make_round(app, make, social, "draft", commitment_ids=[a.id]),
    }
    expire_deadline(rounds["expired"])  # its deadline passed; nobody has closed it yet
    published = rounds["published"]
    respond(app, chair, published, org)
    response_id = db.session.scalar(select(ConsultationResponse.id))
    with app.test_request_context():
        service.close_round(social, published.id)
        service.save_feedback(
            social,
            published.id,
            {
                published.questions[0].id: service.FeedbackInput(
                    heard="Lokaler", action="Vi delar", source_ids=[response_id]
                )
            },
            publish=True,
        )
    assert db.session.get(ConsultationRound, published.id).state == RoundState.published

    def listed(query: str) -> set[str]:
        page = text(client.get(f"/consultations{query}"))
        return {key for key, r in rounds.items() if f'href="/consultations/{r.id}"' in page}

    culture_id = db.session.scalar(select(Department.id).where(Department.name == "Kulturnämnden"))
    assert listed("") == set(rounds) - {"draft"}  # a draft is for its officials only
    assert listed("?phase=open") == {"open", "closing"}
    assert listed("?phase=closing") == {"closing"}
    assert listed("?phase=awaiting") == {"closed", "expired"}
    assert listed("?phase=published") == {"published"}
    assert listed(f"?department={culture_id}") == {"closing"}
    assert listed(f"?commitment={a.slug}") == {"open", "closed", "expired"}
    assert listed(f"?phase=open&commitment={a.slug}") == {"open"}
    # unknown values do not break the page
    assert client.get("/consultations?phase=nonsense&department=x").status_code == 200


# --- "The demo has ..." ------------------------------------------------------------------


def test_the_demo_has_what_the_readme_says(app, db):
    from forum.demo import seed_demo
    from forum.models import (
        ActionStatus,
        Appeal,
        AppealOutcome,
        AuditEntry,
        Membership,
        MessageRevision,
        ModerationAction,
        Phase,
        Principle,
        RoundRevision,
        Thread,
        Visibility,
    )
    from forum.models.base import utcnow
    from forum.queries.moderation import pending_appeals
    from forum.services.follow_up import today

    with app.test_request_context():
        accounts = seed_demo()
    # "Demo accounts ... admin, official, moderator, organisation admin, member"
    assert {(a.email, a.role) for a in accounts} >= {
        ("admin@demo.dialogforum.se", "admin"),
        ("tjansteperson@demo.dialogforum.se", "official"),
        ("moderator@demo.dialogforum.se", "moderator"),
        ("ordforande@demo.dialogforum.se", "organisation admin"),
        ("medlem@demo.dialogforum.se", "member"),
    }
    by_email = {u.email: u for u in db.session.scalars(select(User))}
    assert by_email["admin@demo.dialogforum.se"].is_admin
    assert by_email["tjansteperson@demo.dialogforum.se"].department_id is not None
    assert by_email["moderator@demo.dialogforum.se"].is_moderator
    # "a verified organisation (Föreningen Gemenskap)" whose admin is the organisation admin
    org = db.session.scalar(select(Organisation).where(Organisation.name == "Föreningen Gemenskap"))
    assert org is not None and org.is_verified
    chair = by_email["ordforande@demo.dialogforum.se"]
    assert (
        db.session.scalar(
            select(Membership.role).where(
                Membership.organisation_id == org.id, Membership.user_id == chair.id
            )
        ).value
        == "admin"
    )
    # "a newcomer whose request to join Föreningen Gemenskap waits for its admin, who was
    # told of it"
    (request,) = db.session.scalars(
        select(Membership).where(
            Membership.organisation_id == org.id, Membership.status == "pending"
        )
    )
    assert request.user.display_name == "Sam Sökande"
    (told,) = db.session.scalars(
        select(Notification).where(Notification.kind == "membership_request")
    )
    assert told.user_id == chair.id
    # "a public forum about early consultation with a live conversation (a reply, a mention)"
    public = db.session.scalar(select(Forum).where(Forum.visibility == Visibility.public))
    assert public is not None and "samråd" in public.title.lower()
    messages = db.session.scalars(
        select(Message).join(Thread).where(Thread.forum_id == public.id)
    ).all()
    assert any(m.reply_to_id for m in messages)
    assert any('href="/people/' in m.html for m in messages)
    assert [m for m in messages if content_language(m.body) == "ar"]  # "a message in Arabic"
    # "a members-only forum about IOP"
    members = db.session.scalars(select(Forum).where(Forum.visibility == Visibility.members)).all()
    assert [f.title for f in members if "IOP" in f.title]
    # moderation: "a message flagged for personal data waiting in the queue and one hidden
    # under the principle of dialogue"
    waiting = db.session.execute(
        select(Flag.message_id, Flag.reason).where(Flag.resolved_at.is_(None)).distinct()
    ).all()
    assert {reason.value for _id, reason in waiting} == {"personal_data"}
    assert len({message_id for message_id, _reason in waiting}) == 1
    hidden = db.session.scalars(select(Message).where(Message.state == "hidden")).all()
    assert len(hidden) == 1
    hide = db.session.scalar(
        select(ModerationAction).where(ModerationAction.message_id == hidden[0].id)
    )
    dialogue = db.session.scalar(select(Principle).where(Principle.slug == "dialog"))
    assert hide.principle_id == dialogue.id
    # consultations: "an open round with a draft response, a closed round with two
    # responses and published feedback"
    rounds = db.session.scalars(select(ConsultationRound)).all()
    now = utcnow()
    by_phase: dict[Phase, list[ConsultationRound]] = {}
    for r in rounds:
        by_phase.setdefault(r.phase(now), []).append(r)
    # "a round in each phase: a draft, a scheduled one, an open one, a closed one awaiting
    # feedback and one with published feedback"
    assert {phase: len(found) for phase, found in by_phase.items()} == {
        Phase.draft: 1,
        Phase.scheduled: 1,
        Phase.open: 1,
        Phase.closed: 1,
        Phase.published: 1,
    }
    open_rounds, published = by_phase[Phase.open], by_phase[Phase.published]
    # "the open round's deadline was moved, with a reason (a round revision)"
    (revision,) = db.session.scalars(
        select(RoundRevision).where(RoundRevision.round_id == open_rounds[0].id)
    ).all()
    assert revision.part == "closes_at" and "vecka" in revision.reason
    # "the closed round awaits feedback: one response, one organisation declined with a reason"
    (closed,) = by_phase[Phase.closed]
    assert closed.state == RoundState.closed and closed.feedback_published_at is None
    statuses = {
        r.status: r
        for r in db.session.scalars(
            select(ConsultationResponse).where(ConsultationResponse.round_id == closed.id)
        )
    }
    assert set(statuses) == {ResponseStatus.submitted, ResponseStatus.declined}
    assert statuses[ResponseStatus.declined].decline_reason.startswith("Vi har ingen")
    drafts = db.session.scalars(
        select(ConsultationResponse).where(ConsultationResponse.round_id == open_rounds[0].id)
    ).all()
    assert drafts and all(r.status == ResponseStatus.draft for r in drafts)
    answered = db.session.scalars(
        select(ConsultationResponse).where(ConsultationResponse.round_id == published[0].id)
    ).all()
    assert len([r for r in answered if r.status == ResponseStatus.submitted]) == 2
    assert published[0].feedback_published_at is not None
    assert count(db, ConsultationFeedback, ConsultationFeedback.round_id == published[0].id)
    # follow-up: "actions proposed, in progress, done, dropped and overdue"
    actions = db.session.scalars(select(Action)).all()
    assert any(not a.accepted for a in actions)
    statuses = {a.status for a in actions if a.accepted}
    assert {ActionStatus.in_progress, ActionStatus.done, ActionStatus.dropped} <= statuses
    assert any(
        a.due_date < today() and a.status in (ActionStatus.planned, ActionStatus.in_progress)
        for a in actions
    )
    # "an advert posing as one that a moderator hid"
    (advert,) = [a for a in actions if a.hidden]
    assert "konferenspaket" in advert.title and advert.hidden_reason.startswith("Reklam")
    # "the hidden advert was appealed; an admin (not the moderator who hid it) upheld it"
    appeal, waiting_appeal = db.session.scalars(select(Appeal).order_by(Appeal.id)).all()
    assert appeal.action_id == hide.id and appeal.outcome == AppealOutcome.upheld
    assert appeal.decided_by_id == by_email["admin@demo.dialogforum.se"].id != hide.actor_id
    # "an invite-only working group with members"
    (group,) = db.session.scalars(select(Forum).where(Forum.visibility == Visibility.invite))
    assert {u.email for u in group.members} >= {
        "ordforande@demo.dialogforum.se",
        "medlem@demo.dialogforum.se",
    }
    # "an edited message (its earlier version kept)" and "a person muted for a week"
    edited = db.session.scalar(select(Message).where(Message.edited_at.is_not(None)))
    assert edited is not None and count(
        db, MessageRevision, MessageRevision.message_id == edited.id
    )
    mute = db.session.scalar(select(ModerationAction).where(ModerationAction.kind == "mute"))
    assert mute is not None and mute.forum_id == public.id and mute.until > utcnow()
    # "whose appeal waits in the admin's review queue (the moderator who muted her may not)"
    assert waiting_appeal.action_id == mute.id and waiting_appeal.decided_at is None
    assert waiting_appeal.user_id == mute.subject_id
    assert [a.id for a in pending_appeals(by_email["admin@demo.dialogforum.se"])] == [
        waiting_appeal.id
    ]
    assert pending_appeals(by_email["moderator@demo.dialogforum.se"]) == []
    # the last step marks the demo complete
    assert count(db, AuditEntry, AuditEntry.action == "demo.completed") == 1
    # and the demo is created once: a second run adds nothing
    with app.test_request_context():
        assert seed_demo() == []
    assert count(db, User) == len(by_email)


def test_a_demo_seed_that_stopped_half_way_is_reported_not_taken_as_present(app, db, monkeypatch):
    """A seed that fails part-way (a full disk refusing the round's PDF) left the accounts,
    and every later run said "Demo already present": now it says the demo is incomplete
    and how to start over."""
    from forum.demo import DemoIncomplete, demo_state, seed_demo
    from forum.services import documents

    def refuse(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(documents, "add_round_document", refuse)
    with app.test_request_context(), pytest.raises(OSError):
        seed_demo()
    db.session.rollback()
    monkeypatch.undo()
    assert count(db, User) > 0 and demo_state() == "incomplete"
    with app.test_request_context(), pytest.raises(DemoIncomplete):
        seed_demo()
    result = app.test_cli_runner().invoke(args=["seed", "--demo"])
    assert result.exit_code != 0
    assert "Demo already present" not in result.output
    assert "never finished" in result.output and "start over" in result.output


def test_demo_passwords_work(app, client, db):
    """The printed passwords log in (the README shows them being printed once)."""
    from forum.demo import seed_demo

    with app.test_request_context():
        accounts = seed_demo()
    member = next(a for a in accounts if a.role == "member")
    response = client.post("/login", data={"email": member.email, "password": member.password})
    assert response.status_code in (302, 303) and "/login" not in response.headers["Location"]
    assert PASSWORD != member.password


def test_demo_search_example_and_api_token(app, client, db):
    """ "In the demo, /search?q=mötesplatserna finds ... the message about a
    "mötesplatsträff"; /search?q=föreningar finds ... "föreningsledare"", and the printed
    API token lists the members-only forum that an anonymous request does not see."""
    from forum.demo import API_TOKEN_LABEL, seed_demo

    with app.test_request_context():
        accounts = seed_demo()
    found = text(client.get("/search", query_string={"q": "mötesplatserna"}))
    assert "Vad saknas på" in found and "mötesplatsträff" in found
    assert "Tidigt samråd om mötesplatser" in found
    found = text(client.get("/search", query_string={"q": "föreningar"}))
    assert "föreningsledare" in found
    token = next(a for a in accounts if a.role == API_TOKEN_LABEL)
    assert token.email == "ordforande@demo.dialogforum.se" and token.password.startswith("dfp_")

    def forum_titles(headers: dict[str, str]) -> set[str]:
        response = client.get("/api/v1/forums", headers=headers)
        assert response.status_code == 200
        return {f["title"] for f in response.get_json()["items"]}

    assert "Finansiering och IOP" not in forum_titles({})
    assert "Finansiering och IOP" in forum_titles({"Authorization": f"Bearer {token.password}"})


def test_the_demo_speaks_swedish(app, client, db):
    """The Swedish a newcomer meets in the demo: "på Hisingen", a Swedish name for the
    official, a closed round "Öppnade" (not "Öppnar") beside "Stängde", the board over its
    name labelled "Nämnd/förvaltning", and the admin page says "samrådsomgång"."""
    from support import Auth

    from forum.demo import seed_demo

    with app.test_request_context():
        seed_demo()
    org = text(client.get("/organisations/foreningen-gemenskap"))
    assert "på Hisingen" in org and "i Hisingen" not in org
    official = db.session.scalar(
        select(User).where(User.email == "tjansteperson@demo.dialogforum.se")
    )
    assert official.display_name == "Tove Tjänsteperson"
    closed = db.session.scalar(
        select(ConsultationRound).where(ConsultationRound.state == RoundState.published)
    )
    page = text(client.get(f"/consultations/{closed.id}", headers={"Accept-Language": "sv"}))
    assert "<dt>Öppnade</dt>" in page and "<dt>Öppnar</dt>" not in page
    assert "<dt>Stängde</dt>" in page
    assert "<dt>Nämnd/förvaltning</dt><dd>Social resursnämnd</dd>" in page
    page = text(client.get(f"/consultations/{closed.id}", headers={"Accept-Language": "en"}))
    assert "<dt>Opened</dt>" in page
    admin = db.session.scalar(select(User).where(User.email == "admin@demo.dialogforum.se"))
    Auth(client).login(admin)
    page = text(client.get("/admin", headers={"Accept-Language": "sv"}))
    assert "remissrunda" not in page and "en samrådsomgång" in page


def test_the_api_root_lists_its_resources(client):
    """The README introduces the API as /api/v1/: that address answers with links to each
    collection and to the reference and the OpenAPI document (and is itself described)."""
    response = client.get("/api/v1/")
    assert response.status_code == 200 and response.is_json
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    index = response.get_json()
    links = index["resources"]
    assert set(links) == {
        "commitments",
        "principles",
        "forums",
        "consultations",
        "organisations",
        "actions",
        "indicators",
    }
    for name, url in links.items():
        assert url == f"http://localhost/api/v1/{name}"
        assert client.get(url).status_code == 200, name
    assert client.get(index["openapi"]).get_json()["openapi"] == "3.1.0"
    assert client.get(index["reference"]).status_code == 200
    assert client.get("/api/v1").status_code in (301, 308)  # to /api/v1/
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/" in spec["paths"]


def test_a_demo_made_before_its_completion_marks_is_taken_as_complete(app, db, monkeypatch):
    """Demos made from 29 November to 5 December have neither the completion entry nor the
    last message that later demos end with; they end with the official's proposed action.
    After an upgrade, `seed --demo` and `setup` (./scripts/run) called them half-made and
    told the operator to delete the database."""
    import forum.demo as demo
    from forum.demo import demo_state, seed_demo

    with app.test_request_context():
        seed_demo()
    # the demo as those versions left it: no marker of the later kinds
    monkeypatch.setattr(demo, "COMPLETED", "demo.marker-not-yet-written")
    monkeypatch.setattr(demo, "_LEGACY_LAST_MESSAGE", "message-not-yet-written")
    assert demo_state() == "incomplete"  # made today: it ends with more than the action
    admin = db.session.scalar(select(User).where(User.email == "admin@demo.dialogforum.se"))
    admin.created_at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    db.session.commit()
    assert demo_state() == "complete"
    result = app.test_cli_runner().invoke(args=["seed", "--demo"])
    assert result.exit_code == 0 and "never finished" not in result.output


def test_a_demo_seed_that_stopped_after_its_actions_is_incomplete(app, db, monkeypatch):
    """The older demos' last step is made before today's last steps: a seed stopped after it
    (killed while telling the member the news) is still reported half-made."""
    import forum.demo as demo

    def stop(*_args, **_kwargs):
        raise RuntimeError("the seed stopped here")

    monkeypatch.setattr(demo, "_seed_news_for_the_member", stop)
    with app.test_request_context(), pytest.raises(RuntimeError):
        demo.seed_demo()
    db.session.rollback()
    assert demo.demo_state() == "incomplete"
