"""Moderation: flags, the queue, hide/restore/redact/warn, mutes, suspensions, appeals,
thread controls, the audit log and the transparency page (HTTP, socket and services)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select
from support import Auth, at_once

from forum.config import parse_rate_limit
from forum.errors import Invalid, RateLimited
from forum.extensions import socketio
from forum.formatting import iso_utc
from forum.models import (
    Appeal,
    AuditEntry,
    Flag,
    Message,
    MessageRevision,
    ModerationAction,
    Notification,
    OutboxMail,
    Thread,
)
from forum.models.base import utcnow
from forum.services import moderation


def english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture(autouse=True)
def _english(client):
    english(client)


def received(sock, name):
    return [item["args"][0] for item in sock.get_received() if item["name"] == name]


def text(response):
    return response.get_data(as_text=True)


class _Fields(HTMLParser):
    """What a page's form fields hold, by id: a textarea's text, an input's value, a select's
    chosen option ("" when none is marked), whether a checkbox or radio is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, object] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "textarea":
            self._textarea = a["id"]
            self.fields[a["id"]] = ""
        elif tag == "select":
            self._select = a["id"]
            self.fields[a["id"]] = ""
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a["value"]
        elif tag == "input" and "id" in a:
            checkable = a.get("type") in ("radio", "checkbox")
            self.fields[a["id"]] = "checked" in a if checkable else a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


def fields(response) -> dict[str, object]:
    parser = _Fields()
    parser.feed(text(response))
    return parser.fields


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@dataclass
class Scene:
    author: object
    flaggers: list
    watcher: object
    forum_moderator: object
    forum: object
    thread: object
    message: object


@pytest.fixture
def scene(make):
    forum_moderator = make.user(name="Fia Forummoderator")
    forum = make.forum(moderators=[forum_moderator])
    author = make.user(name="Arne Author")
    thread = make.thread(forum=forum, author=author)
    make.message(thread, author, "Före")
    message = make.message(thread, author, "Ring mig på 070-123 45 67, jag bor på Storgatan 1")
    make.message(thread, author, "Efter")
    flaggers = [make.user(name=f"Flagger {i}") for i in range(3)]
    return Scene(author, flaggers, make.user(), forum_moderator, forum, thread, message)


def flag(client, auth, user, message, reason="offensive", note=""):
    auth.login(user)
    return client.post(f"/messages/{message.id}/flag", data={"reason": reason, "note": note})


# --- flags ---------------------------------------------------------------------------


def test_three_flags_hide_the_message_live_pending_review(scene, client, auth, socket_for, db):
    watcher = socket_for(scene.watcher)
    watcher.emit("join", {"thread_id": scene.thread.id}, callback=True)
    watcher.get_received()

    for flagger in scene.flaggers[:2]:
        assert flag(client, auth, flagger, scene.message).status_code == 302
    assert received(watcher, "message:hidden") == []
    db.session.refresh(scene.message)
    assert scene.message.state == "visible"

    assert flag(client, auth, scene.flaggers[2], scene.message, "spam").status_code == 302

    hidden = received(watcher, "message:hidden")
    assert len(hidden) == 1
    payload = hidden[0]["message"]
    assert payload["id"] == scene.message.id and payload["state"] == "hidden"
    assert payload["html"] == "" and payload["body"] == ""
    # hidden by flags, with no moderator's words: the sentence in each reader's language
    assert payload["hidden_reasons"] == {
        "sv": "Anmält av flera personer. Väntar på en moderator.",
        "en": "Flagged by several people; waiting for a moderator.",
    }
    assert payload["hidden_reason"] == payload["hidden_reasons"]["en"]  # the flagger's language
    db.session.refresh(scene.message)
    assert scene.message.state == "hidden" and "Storgatan" in scene.message.body  # kept
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "message.auto_hidden"))
    assert entry.actor_id is None and entry.forum_id == scene.forum.id


@pytest.mark.config(FORUM_FLAG_THRESHOLD=1)
def test_the_threshold_is_configurable(scene, client, auth, db):
    flag(client, auth, scene.flaggers[0], scene.message)
    db.session.refresh(scene.message)
    assert scene.message.state == "hidden"


def test_flagging_twice_counts_once(scene, client, auth, db):
    first = flag(client, auth, scene.flaggers[0], scene.message)
    second = flag(client, auth, scene.flaggers[0], scene.message, "spam")
    assert first.status_code == second.status_code == 302
    assert count(db, Flag) == 1
    page = client.get(second.headers["Location"])
    assert "already flagged" in text(page)


def test_flagging_a_message_you_cannot_see_is_404(make, client, auth, db):
    insider = make.user()
    forum = make.forum(visibility="invite", members=[insider])
    thread = make.thread(forum=forum, author=insider)
    secret = make.message(thread, insider, "hemligt")
    assert flag(client, auth, make.user(), secret).status_code == 404
    assert client.get(f"/messages/{secret.id}/flag").status_code == 404
    assert client.post("/messages/999999/flag", data={"reason": "spam"}).status_code == 404
    assert count(db, Flag) == 0


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [
        ("", "", "reason"),
        ("nonsense", "", "reason"),
        ("other", "", "note"),
        ("other", "x" * 501, "note"),
        ("spam", "x" * 501, "note"),
    ],
)
def test_bad_flags_are_refused(scene, client, auth, db, reason, note, field):
    response = flag(client, auth, scene.flaggers[0], scene.message, reason, note)
    assert response.status_code == 400
    assert f'id="{field}-error"' in text(response)
    assert count(db, Flag) == 0


def test_nobody_flags_their_own_message(scene, client, auth, db):
    assert flag(client, auth, scene.author, scene.message).status_code == 400
    assert count(db, Flag) == 0


# --- the queue -------------------------------------------------------------------------


def test_queue_orders_personal_data_then_flag_count_then_age(make, client, auth, db):
    moderator = make.user("moderator")
    thread = make.thread()
    author = make.user()
    one, two, three, personal = (make.message(thread, author, f"m{i}") for i in range(4))
    people = [make.user() for _ in range(2)]
    for target, reason, who in [
        (one, "spam", people[:1]),
        (two, "spam", people[:2]),
        (three, "spam", people[:1]),
        (personal, "personal_data", people[:1]),
    ]:
        for person in who:
            moderation.flag_message(person, target.id, reason)
    from forum.queries.moderation import queue

    ids = [item.message.id for item in queue(moderator)]
    assert ids == [personal.id, two.id, one.id, three.id]
    auth.login(moderator)
    page = text(client.get("/moderation"))
    assert page.index(f'id="review-{personal.id}"') < page.index(f'id="review-{two.id}"')
    assert "Personal data" in page


def test_forum_moderators_see_only_their_forums_in_the_queue(scene, make, client, auth):
    elsewhere = make.thread()
    other = make.message(elsewhere, make.user(), "annat forum")
    moderation.flag_message(scene.flaggers[0], other.id, "spam")
    moderation.flag_message(scene.flaggers[0], scene.message.id, "spam")
    auth.login(scene.forum_moderator)
    page = text(client.get("/moderation"))
    assert f'id="review-{scene.message.id}"' in page
    assert f'id="review-{other.id}"' not in page
    assert "Före" in page and "Efter" in page  # the context around it


# --- decisions on messages -----------------------------------------------------------------


def principle_slug(db):
    from forum.models import Principle

    return db.session.scalar(select(Principle.slug).order_by(Principle.position))


def test_hide_with_a_principle_tells_the_author_and_the_room(scene, client, auth, socket_for, db):
    watcher = socket_for(scene.watcher)
    watcher.emit("join", {"thread_id": scene.thread.id}, callback=True)
    author_socket = socket_for(scene.author)
    watcher.get_received()
    author_socket.get_received()
    scene.author.locale = "en"
    db.session.commit()
    auth.login(scene.forum_moderator)

    response = client.post(
        f"/moderation/messages/{scene.message.id}/hide",
        data={"reason": principle_slug(db), "note": "Personangrepp"},
    )

    assert response.status_code == 302
    db.session.refresh(scene.message)
    assert scene.message.state == "hidden"
    # the principle and the moderator's words are kept apart, so each reader gets the
    # principle's name in their own language (it used to read "Integritet (Privacy): ...")
    principle = scene.message.hidden_principle
    assert principle.slug == principle_slug(db) and principle.name_sv != principle.name_en
    assert scene.message.hidden_reason == "Personangrepp"
    sv, en = f"{principle.name_sv}: Personangrepp", f"{principle.name_en}: Personangrepp"
    hidden = received(watcher, "message:hidden")
    assert hidden[0]["message"]["hidden_reasons"] == {"sv": sv, "en": en}
    notes = received(author_socket, "notification")
    assert notes and notes[0]["notification"]["kind"] == "moderation_hidden"
    assert notes[0]["notification"]["excerpt"] == en  # the author reads English
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == scene.author.email))
    assert mail is not None and en in mail.body and principle.name_sv not in mail.body
    page = text(client.get(f"/threads/{scene.thread.id}"))  # the tests' browsers ask for English
    assert en in page and f"{principle.name_sv}:" not in page and "Storgatan" not in page
    client.post("/language", data={"lang": "sv"})
    page = text(client.get(f"/threads/{scene.thread.id}"))
    assert sv in page and principle.name_en not in page
    client.post("/language", data={"lang": "en"})

    again = client.post(
        f"/moderation/messages/{scene.message.id}/hide",
        data={"reason": principle_slug(db), "note": "igen"},
    )
    assert again.status_code == 409
    assert "already hidden" in text(again)
    assert count(db, AuditEntry, AuditEntry.action == "message.hidden") == 1
    assert count(db, ModerationAction) == 1


# A refused form comes back as the moderator sent it, and only that form: the message's other
# forms and the other messages' forms on the queue stay empty. Markup in it stays text.
TYPED = "Telefonnummer och adress </textarea><script>alert(1)</script>"


@pytest.mark.parametrize("page", ["queue", "message"])
def test_a_hide_refused_by_another_moderators_hide_keeps_the_note(
    scene, make, client, auth, db, page
):
    other = make.message(scene.thread, scene.author, "Ett annat flaggat meddelande")
    for message in (scene.message, other):
        moderation.flag_message(scene.flaggers[0], message.id, "personal_data")
    moderation.hide_message(make.user("moderator"), scene.message.id, "other", "Först")
    auth.login(scene.forum_moderator)
    sid = scene.message.id
    response = client.post(
        f"/moderation/messages/{sid}/hide",
        data={"from": page, "reason": "other", "note": TYPED},
    )
    assert response.status_code == 409
    assert "<script>alert(1)" not in text(response)
    assert "already hidden" in text(response)
    typed = fields(response)
    assert typed[f"hide-note-{sid}"] == TYPED and typed[f"hide-reason-{sid}"] == "other"
    assert typed[f"redact-note-{sid}"] == typed[f"mute-note-{sid}"] == ""
    if page == "queue":
        assert typed[f"hide-note-{other.id}"] == ""


@pytest.mark.parametrize("page", ["queue", "message"])
def test_refused_message_forms_keep_what_was_typed(scene, make, client, auth, db, page):
    other = make.message(scene.thread, scene.author, "Ett annat flaggat meddelande")
    for message in (scene.message, other):
        moderation.flag_message(scene.flaggers[0], message.id, "personal_data")
    sid, oid = scene.message.id, other.id
    auth.login(scene.forum_moderator)

    def refused(op, status, **data):
        response = client.post(f"/moderation/messages/{sid}/{op}", data={"from": page, **data})
        assert response.status_code == status
        assert "<script>alert(1)" not in text(response)
        return fields(response)

    # hide: a note longer than allowed
    typed = refused("hide", 400, reason="other", note=TYPED + "x" * 1000)
    assert typed[f"hide-note-{sid}"] == TYPED + "x" * 1000
    assert typed[f"hide-reason-{sid}"] == "other"
    assert typed[f"redact-note-{sid}"] == typed[f"mute-note-{sid}"] == ""
    if page == "queue":
        assert typed[f"hide-note-{oid}"] == "" and typed[f"hide-reason-{oid}"] == ""

    # redact: the edited text and the note, with a note that is too long
    edited = "Ring mig, [nummer borttaget] <b>"
    typed = refused("redact", 400, replacement=edited, note=TYPED + "x" * 1000)
    assert typed[f"redact-text-{sid}"] == edited
    assert typed[f"redact-note-{sid}"] == TYPED + "x" * 1000
    assert typed[f"hide-note-{sid}"] == ""
    if page == "queue":
        assert typed[f"redact-text-{oid}"] == other.body and typed[f"redact-note-{oid}"] == ""

    # mute: another moderator muted the author a moment earlier
    moderation.mute_person(make.user("moderator"), scene.author.id, scene.forum.id, 60, "Först")
    typed = refused("mute", 409, minutes=str(7 * 24 * 60), note=TYPED)
    assert typed[f"mute-note-{sid}"] == TYPED
    assert typed[f"mute-minutes-{sid}"] == str(7 * 24 * 60)
    assert typed[f"warn-note-{sid}"] == typed[f"hide-note-{sid}"] == ""
    if page == "queue":
        assert typed[f"mute-note-{oid}"] == "" and typed[f"mute-minutes-{oid}"] == ""


def test_a_refused_appeal_decision_keeps_its_note(scene, make, client, auth, db):
    first = moderation.hide_message(scene.forum_moderator, scene.message.id, "other", "Spam")
    appeal = moderation.appeal(scene.author, first.id, "Det var inte spam")
    later = make.message(scene.thread, scene.author, "Annat")
    second = moderation.hide_message(scene.forum_moderator, later.id, "other", "Spam igen")
    waiting = moderation.appeal(scene.author, second.id, "Inte heller")
    moderation.decide_appeal(make.user("moderator"), appeal.id, "upheld", "Först")
    # another moderator decided it a moment earlier: the appeal stays with what was typed
    deciding = make.user("moderator")
    auth.login(deciding)
    response = client.post(
        f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "reversed", "note": TYPED}
    )
    assert response.status_code == 409
    assert "already been decided" in text(response)
    assert "<script>alert(1)" not in text(response)
    typed = fields(response)
    assert typed[f"appeal-note-{appeal.id}"] == TYPED
    assert typed[f"outcome-{appeal.id}-reversed"] is True
    assert typed[f"outcome-{appeal.id}-upheld"] is False
    assert typed[f"appeal-note-{waiting.id}"] == ""
    assert typed[f"outcome-{waiting.id}-upheld"] is True
    # one who may not decide it is not shown it (the author of the decision)
    auth.login(scene.forum_moderator)
    response = client.post(
        f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "reversed", "note": TYPED}
    )
    assert response.status_code == 403

    auth.login(deciding)
    response = client.post(
        f"/moderation/appeals/{waiting.id}/decide", data={"outcome": "sideways", "note": TYPED}
    )
    assert response.status_code == 400
    assert "<script>alert(1)" not in text(response)
    typed = fields(response)
    assert typed[f"appeal-note-{waiting.id}"] == TYPED


@pytest.mark.parametrize(
    ("reason", "note"),
    [("", ""), ("no-such-principle", ""), ("other", ""), ("other", "x" * 1001)],
)
def test_hide_needs_a_valid_reason(scene, client, auth, db, reason, note):
    auth.login(scene.forum_moderator)
    response = client.post(
        f"/moderation/messages/{scene.message.id}/hide", data={"reason": reason, "note": note}
    )
    assert response.status_code == 400
    db.session.refresh(scene.message)
    assert scene.message.state == "visible"
    assert count(db, AuditEntry, AuditEntry.action == "message.hidden") == 0


@pytest.mark.config(FORUM_FLAG_THRESHOLD=1)
def test_restore_from_the_queue_brings_the_message_back_live(scene, client, auth, socket_for, db):
    moderation.flag_message(scene.flaggers[0], scene.message.id, "spam")
    watcher = socket_for(scene.watcher)
    watcher.emit("join", {"thread_id": scene.thread.id}, callback=True)
    watcher.get_received()
    auth.login(scene.forum_moderator)

    response = client.post(f"/moderation/messages/{scene.message.id}/restore")

    assert response.status_code == 302
    restored = received(watcher, "message:restored")
    assert restored[0]["message"]["state"] == "visible"
    assert "Storgatan" in restored[0]["message"]["html"]
    assert count(db, Flag, Flag.resolved_at.is_(None)) == 0
    assert client.post(f"/moderation/messages/{scene.message.id}/restore").status_code == 409


@pytest.mark.config(FORUM_FLAG_THRESHOLD=1)
def test_dismissing_flags_shows_an_auto_hidden_message_again(scene, client, auth, db):
    moderation.flag_message(scene.flaggers[0], scene.message.id, "spam")
    auth.login(scene.forum_moderator)
    assert client.post(f"/moderation/messages/{scene.message.id}/dismiss").status_code == 302
    db.session.refresh(scene.message)
    assert scene.message.state == "visible"
    assert client.post(f"/moderation/messages/{scene.message.id}/dismiss").status_code == 409
    assert f'id="review-{scene.message.id}"' not in text(client.get("/moderation"))


def test_redaction_keeps_the_original_for_admins_only(scene, make, client, auth, socket_for, db):
    moderation.flag_message(scene.flaggers[0], scene.message.id, "personal_data")
    watcher = socket_for(scene.watcher)
    watcher.emit("join", {"thread_id": scene.thread.id}, callback=True)
    watcher.get_received()
    auth.login(scene.forum_moderator)

    response = client.post(
        f"/moderation/messages/{scene.message.id}/redact",
        data={"replacement": "Ring mig, [nummer borttaget]", "note": "Telefonnummer"},
    )

    assert response.status_code == 302
    db.session.refresh(scene.message)
    assert scene.message.body == "Ring mig, [nummer borttaget]"
    edited = received(watcher, "message:edited")
    assert "070" not in edited[0]["message"]["html"]
    original = db.session.scalar(select(MessageRevision))
    assert original.admin_only and "070-123" in original.body
    for who, sees in [(scene.forum_moderator, False), (scene.author, False)]:
        auth.login(who)
        assert ("070-123" in text(client.get(f"/messages/{scene.message.id}/revisions"))) is sees
    auth.login(make.user("admin"))
    assert "070-123" in text(client.get(f"/messages/{scene.message.id}/revisions"))
    assert "070-123" in text(client.get(f"/moderation/messages/{scene.message.id}"))
    assert count(db, Notification, Notification.kind == "moderation_redacted") == 1


def test_redaction_rewrites_the_flag_notifications_and_their_unsent_mail(scene, db):
    """The moderators told of the flag quoted the personal data: the redaction removes it."""
    moderation.flag_message(scene.flaggers[0], scene.message.id, "personal_data", "nummer")
    notes = db.session.scalars(
        select(Notification).where(Notification.kind == "moderation_flag")
    ).all()
    assert notes and all("070-123" in note.excerpt for note in notes)
    mails = db.session.scalars(
        select(OutboxMail).where(OutboxMail.notification_id.in_([n.id for n in notes]))
    ).all()
    assert mails and all("070-123" in mail.body for mail in mails)

    moderation.redact_message(scene.forum_moderator, scene.message.id, "Ring mig, [borttaget]")

    db.session.expire_all()
    notes = db.session.scalars(
        select(Notification).where(Notification.kind == "moderation_flag")
    ).all()
    assert notes and not any("070-123" in note.excerpt for note in notes)
    assert all("borttaget" in note.excerpt for note in notes)
    for mail in mails:
        db.session.refresh(mail)
        assert "070-123" not in mail.body and "070-123" not in (mail.html_body or "")


def test_warning_reaches_the_author_with_its_reason(scene, client, auth, db):
    auth.login(scene.forum_moderator)
    response = client.post(
        f"/moderation/messages/{scene.message.id}/warn", data={"note": "Håll god ton."}
    )
    assert response.status_code == 302
    note = db.session.scalar(select(Notification).where(Notification.user_id == scene.author.id))
    assert note.kind == "moderation_warned" and note.excerpt == "Håll god ton."
    auth.login(scene.author)
    page = text(client.get("/notifications"))
    assert "A moderator sent you a warning" in page
    assert client.post(f"/moderation/messages/{scene.message.id}/warn", data={}).status_code == 403


# --- people ----------------------------------------------------------------------------------


def send(sock, thread, body="hej", client_id="c1"):
    return sock.emit(
        "message:send",
        {"thread_id": thread.id, "body": body, "client_id": client_id},
        callback=True,
    )


def test_a_muted_person_reads_but_cannot_post_until_the_time_is_up(
    scene, make, client, auth, socket_for, db
):
    auth.login(scene.forum_moderator)
    response = client.post(
        "/moderation/people/mute",
        data={
            "person": scene.author.handle,
            "forum_id": scene.forum.id,
            "minutes": 60,
            "reason": "Upprepade personangrepp",
        },
    )
    assert response.status_code == 302
    sock = socket_for(scene.author)
    assert sock.emit("join", {"thread_id": scene.thread.id}, callback=True)["ok"]
    ack = send(sock, scene.thread)
    assert ack["ok"] is False and ack["error"]["code"] == "muted" and ack["error"]["until"]
    edit = sock.emit(
        "message:edit", {"message_id": scene.message.id, "body": "ändrat"}, callback=True
    )
    assert edit["error"]["code"] == "muted"
    auth.login(scene.author)
    http = client.post(
        f"/threads/{scene.thread.id}/messages", data={"body": "via http", "client_id": "h1"}
    )
    assert http.status_code == 403
    # elsewhere the person may post
    assert send(sock, make.thread(author=make.user()), "annat forum", "c2")["ok"]
    # the mute ends by itself
    mute = db.session.scalar(select(ModerationAction))
    mute.until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert send(sock, scene.thread, "nu igen", "c3")["ok"]


@pytest.mark.parametrize("kind", ["mute", "suspend"])
def test_a_person_field_with_a_nul_is_no_one(scene, make, client, auth, db, kind):
    # PostgreSQL cannot compare text with a NUL in it: the lookup raised and gave a 500
    auth.login(make.user("moderator"))
    data = {"forum_id": scene.forum.id, "minutes": 60, "reason": "Hot", "confirmed": "1"}
    response = client.post(
        f"/moderation/people/{kind}", data={**data, "person": scene.author.handle + "\x00"}
    )
    assert response.status_code == 400
    assert count(db, ModerationAction) == 0


@pytest.mark.parametrize("minutes", ["-5", "0", str(10**9), "abc", ""])
def test_absurd_mute_durations_are_refused(scene, client, auth, db, minutes):
    auth.login(scene.forum_moderator)
    response = client.post(
        "/moderation/people/mute",
        data={
            "person": scene.author.handle,
            "forum_id": scene.forum.id,
            "minutes": minutes,
            "reason": "x",
        },
    )
    assert response.status_code == 400
    assert count(db, ModerationAction) == 0


@pytest.mark.parametrize("kind", ["mute", "suspend"])
def test_a_refused_person_form_keeps_what_was_typed(scene, make, client, auth, db, kind):
    moderator = make.user("moderator")
    elsewhere = make.forum(moderators=[moderator])
    auth.login(moderator)
    response = client.post(
        f"/moderation/people/{kind}",
        data={
            "person": scene.author.handle + "m",  # a typo
            "forum_id": str(scene.forum.id),
            "minutes": str(7 * 24 * 60),
            "reason": TYPED,
        },
    )
    assert response.status_code == 400
    assert "No one has that handle" in text(response)
    assert "<script>alert(1)" not in text(response)
    typed = fields(response)
    assert typed[f"{kind}-person"] == scene.author.handle + "m"
    assert typed[f"{kind}-minutes"] == str(7 * 24 * 60)
    assert typed[f"{kind}-reason"] == TYPED
    if kind == "mute":
        assert typed["mute-forum_id"] == str(scene.forum.id) != str(elsewhere.id)
    # the other form stays empty
    untouched = "suspend" if kind == "mute" else "mute"
    assert typed[f"{untouched}-person"] == typed[f"{untouched}-reason"] == ""
    assert typed[f"{untouched}-minutes"] == ""


def test_muting_twice_is_a_conflict_and_lifting_ends_it(scene, client, auth, db, socket_for):
    auth.login(scene.forum_moderator)
    data = {
        "person": scene.author.email,
        "forum_id": scene.forum.id,
        "minutes": 60,
        "reason": "x",
    }
    assert client.post("/moderation/people/mute", data=data).status_code == 302
    assert client.post("/moderation/people/mute", data=data).status_code == 409
    mute = db.session.scalar(select(ModerationAction))
    assert client.post(f"/moderation/actions/{mute.id}/lift").status_code == 302
    assert client.post(f"/moderation/actions/{mute.id}/lift").status_code == 409
    assert send(socket_for(scene.author), scene.thread)["ok"]


def test_a_mute_and_its_lifting_reach_the_persons_open_pages(
    scene, make, client, auth, db, socket_for
):
    """A thread page open when the mute is imposed learns it at once (its box goes), and
    one open when it is lifted learns that (its box comes back); a join says it too, for a
    page that was away when it happened. Nobody else is told."""
    person = socket_for(scene.author)
    joined = person.emit("join", {"thread_id": scene.thread.id}, callback=True)
    assert joined["ok"] and joined["muted_until"] is None
    bystander = socket_for(make.user())
    assert bystander.emit("join", {"thread_id": scene.thread.id}, callback=True)["ok"]
    person.get_received()
    bystander.get_received()
    auth.login(scene.forum_moderator)
    data = {"person": scene.author.handle, "forum_id": scene.forum.id, "minutes": 60, "reason": "x"}

    assert client.post("/moderation/people/mute", data=data).status_code == 302
    mute = db.session.scalar(select(ModerationAction))
    told = received(person, "mute:changed")
    assert told == [{"forum_id": scene.forum.id, "until": iso_utc(mute.until)}]
    assert received(bystander, "mute:changed") == []
    again = person.emit("join", {"thread_id": scene.thread.id, "since": 0}, callback=True)
    assert again["muted_until"] == iso_utc(mute.until)
    # a second mute is refused: nothing is said
    assert client.post("/moderation/people/mute", data=data).status_code == 409
    assert received(person, "mute:changed") == []

    assert client.post(f"/moderation/actions/{mute.id}/lift").status_code == 302
    assert received(person, "mute:changed") == [{"forum_id": scene.forum.id, "until": None}]
    assert received(bystander, "mute:changed") == []
    again = person.emit("join", {"thread_id": scene.thread.id, "since": 0}, callback=True)
    assert again["muted_until"] is None


def test_suspension_ends_sessions_sockets_and_logins(make, client, auth, socket_for, db, app):
    member = make.user()
    thread = make.thread(author=member)
    sock = socket_for(member)
    assert sock.is_connected()
    auth.login(member)
    assert client.get("/notifications").status_code == 200
    site_moderator = make.user("moderator")
    moderator_client = english(app.test_client())
    Auth(moderator_client).login(site_moderator)

    response = moderator_client.post(
        "/moderation/people/suspend",
        data={
            "person": member.handle,
            "minutes": 60 * 24,
            "reason": "Hot mot andra",
            "confirmed": "1",
        },
    )

    assert response.status_code == 302
    assert not sock.is_connected()
    assert client.get("/notifications").status_code == 302  # the session is gone
    fresh = socketio.test_client(app, flask_test_client=client)  # the ended session's cookie
    assert send(fresh, thread)["error"]["code"] == "auth_required"
    fresh.disconnect()
    login = client.post("/login", data={"email": member.email, "password": "correct horse battery"})
    assert login.status_code == 400 and "suspended" in text(login)
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == member.email))
    assert mail is not None and "Hot mot andra" in mail.body
    # the suspension ends by itself
    db.session.refresh(member)
    member.suspended_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    login = client.post("/login", data={"email": member.email, "password": "correct horse battery"})
    assert login.status_code == 303


def test_forum_moderators_cannot_suspend(scene, client, auth, db):
    auth.login(scene.forum_moderator)
    response = client.post(
        "/moderation/people/suspend",
        data={"person": scene.author.handle, "minutes": 60, "reason": "x"},
    )
    assert response.status_code == 403
    db.session.refresh(scene.author)
    assert scene.author.suspended_until is None


# --- appeals -------------------------------------------------------------------------------


def test_appeal_once_and_hear_the_outcome(scene, make, client, auth, db):
    action = moderation.hide_message(scene.forum_moderator, scene.message.id, "other", "Spam")
    auth.login(scene.author)
    page = text(client.get(f"/moderation/actions/{action.id}"))
    assert "Send the appeal" in page
    assert (
        client.post(f"/moderation/actions/{action.id}/appeal", data={"body": ""}).status_code == 400
    )
    ok = client.post(f"/moderation/actions/{action.id}/appeal", data={"body": "Det var inte spam"})
    assert ok.status_code == 302
    again = client.post(f"/moderation/actions/{action.id}/appeal", data={"body": "igen"})
    assert again.status_code == 409
    assert count(db, Appeal) == 1

    other_moderator = make.user("moderator")
    auth.login(other_moderator)
    assert "Det var inte spam" in text(client.get("/moderation"))
    appeal = db.session.scalar(select(Appeal))
    decided = client.post(
        f"/moderation/appeals/{appeal.id}/decide",
        data={"outcome": "reversed", "note": "Vi höll inte med oss själva"},
    )
    assert decided.status_code == 302
    db.session.refresh(scene.message)
    assert scene.message.state == "visible"
    note = db.session.scalar(
        select(Notification)
        .where(Notification.user_id == scene.author.id)
        .order_by(Notification.id.desc())
    )
    assert note.kind == "appeal_reversed" and "höll inte" in note.excerpt
    again = client.post(f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "upheld"})
    assert again.status_code == 409
    auth.login(scene.author)
    assert "The decision was reversed." in text(client.get(f"/moderation/actions/{action.id}"))


def test_appeals_only_by_the_person_concerned_and_only_on_decisions(scene, client, auth, db):
    action = moderation.warn_person(
        scene.forum_moderator, 0, "Tänk på tonen", message_id=scene.message.id
    )
    auth.login(scene.flaggers[0])
    assert (
        client.post(f"/moderation/actions/{action.id}/appeal", data={"body": "för honom"})
    ).status_code == 403
    assert client.get(f"/moderation/actions/{action.id}").status_code == 404
    auth.login(scene.author)
    assert (
        client.post("/moderation/actions/999999/appeal", data={"body": "vad?"}).status_code == 404
    )
    overlong = client.post(f"/moderation/actions/{action.id}/appeal", data={"body": "x" * 2001})
    assert overlong.status_code == 400
    assert count(db, Appeal) == 0


# --- thread controls ---------------------------------------------------------------------------


def control(client, thread, action, **data):
    return client.post(f"/threads/{thread.id}/moderate", data={"action": action, **data})


def test_lock_takes_effect_live_and_refuses_sends_and_edits(scene, client, auth, socket_for, db):
    sock = socket_for(scene.author)
    sock.emit("join", {"thread_id": scene.thread.id}, callback=True)
    sock.get_received()
    auth.login(scene.forum_moderator)

    assert control(client, scene.thread, "lock").status_code == 302

    updated = received(sock, "thread:updated")
    assert updated[0]["thread"]["locked"] is True
    assert send(sock, scene.thread)["error"]["code"] == "locked"
    edit = sock.emit("message:edit", {"message_id": scene.message.id, "body": "x"}, callback=True)
    assert edit["error"]["code"] == "locked"
    assert control(client, scene.thread, "lock").status_code == 409
    assert control(client, scene.thread, "unlock").status_code == 302
    assert send(sock, scene.thread)["ok"]


def test_pin_rename_archive_and_move(scene, make, client, auth, socket_for, db):
    sock = socket_for(scene.author)
    sock.emit("join", {"thread_id": scene.thread.id}, callback=True)
    sock.get_received()
    auth.login(scene.forum_moderator)
    assert control(client, scene.thread, "pin").status_code == 302
    assert control(client, scene.thread, "rename", title="Nytt namn").status_code == 302
    assert control(client, scene.thread, "rename", title="x" * 201).status_code == 400
    # a title is one line (it goes into mail subjects): line breaks fold, no change is none
    assert control(client, scene.thread, "rename", title="Nytt\r\nnamn").status_code == 409
    updates = received(sock, "thread:updated")
    assert updates[0]["thread"]["pinned"] is True
    assert updates[1]["thread"]["title"] == "Nytt namn"

    foreign = make.forum()
    assert control(client, scene.thread, "move", forum_id=foreign.id).status_code == 403
    mine = make.forum(moderators=[scene.forum_moderator])
    assert control(client, scene.thread, "move", forum_id=mine.id).status_code == 302
    assert received(sock, "thread:updated")[0]["thread"]["forum"]["id"] == mine.id
    db.session.expire_all()
    assert db.session.get(Thread, scene.thread.id).forum_id == mine.id
    assert control(client, scene.thread, "archive").status_code == 302
    assert send(sock, scene.thread)["error"]["code"] == "locked"
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"thread.pinned", "thread.renamed", "thread.moved", "thread.archived"} <= actions


def test_a_rounds_discussion_cannot_be_moved_out_or_another_thread_in(app, make, db):
    """The round's rules read its discussion by its forum: moving would break who may read."""
    from consultation_support import make_round

    official, admin = make.user("official"), make.user("admin")
    make.organisation(admin=make.user())  # someone to ask
    round_ = make_round(app, make, official)
    thread = db.session.get(Thread, round_.thread_id)
    elsewhere = make.forum(visibility="members")
    other = make.thread(forum=elsewhere)
    with app.test_request_context():
        for thread_id, forum_id in ((thread.id, elsewhere.id), (other.id, thread.forum_id)):
            with pytest.raises(Invalid) as refused:
                moderation.move_thread(admin, thread_id, forum_id)
            assert refused.value.field == "forum_id"
    db.session.expire_all()
    assert db.session.get(Thread, thread.id).forum_id != elsewhere.id


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_slow_mode_spaces_messages_but_not_for_moderators(scene, client, auth, socket_for, db):
    auth.login(scene.forum_moderator)
    assert control(client, scene.thread, "slow_mode", seconds="30").status_code == 302
    member = socket_for(scene.flaggers[0])
    assert send(member, scene.thread, "ett", "s1")["ok"]
    refused = send(member, scene.thread, "två", "s2")
    assert refused["error"]["code"] == "rate_limited"
    assert 0 < refused["error"]["retry_after"] <= 30
    moderator = socket_for(scene.forum_moderator)
    assert send(moderator, scene.thread, "m1", "m1")["ok"]
    assert send(moderator, scene.thread, "m2", "m2")["ok"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "thread.slow_mode"))
    assert entry.reason == "30 s"


def test_slow_mode_holds_for_sends_at_the_same_moment(app, scene, db, monkeypatch):
    """Parallel sends of one person: slow mode is checked inside the serialised write,
    so the second sees the first one's message and waits (only one of them is stored)."""

    from forum.extensions import db as _db
    from forum.models import User
    from forum.services import forums as forum_service

    # slow mode holds by itself: without the rate limit's lock (off, or kept in Redis)
    app.config["FORUM_MESSAGE_RATE_LIMIT"] = parse_rate_limit("off")
    moderation.set_slow_mode(scene.forum_moderator, scene.thread.id, 600)
    thread_id, author_id = scene.thread.id, scene.flaggers[0].id  # no ORM objects in threads
    before = count(db, Message, Message.thread_id == thread_id)
    render = forum_service.render_body

    def slow_render(text):
        time.sleep(0.2)  # a long message's rendering, before the write: all are past the checks
        return render(text)

    monkeypatch.setattr(forum_service, "render_body", slow_render)
    start = threading.Barrier(5, timeout=10)

    def send_one(n: int) -> str:
        user = _db.session.get(User, author_id)
        start.wait()
        forum_service.send(user, thread_id, f"samtidigt {n}", f"par-{n}")
        return "ok"

    outcomes = [
        "rate_limited" if isinstance(out, RateLimited) else out if out == "ok" else repr(out)
        for out in at_once(app, send_one, 5)
    ]
    assert sorted(outcomes) == ["ok"] + ["rate_limited"] * 4
    db.session.expire_all()
    assert count(db, Message, Message.thread_id == thread_id) == before + 1


@pytest.mark.parametrize("seconds", ["-1", "3601", "abc"])
def test_bad_slow_mode_values_are_refused(scene, client, auth, db, seconds):
    auth.login(scene.forum_moderator)
    assert control(client, scene.thread, "slow_mode", seconds=seconds).status_code == 400
    db.session.refresh(scene.thread)
    assert scene.thread.slow_mode_seconds == 0


# --- audit log and transparency -------------------------------------------------------------


def test_audit_log_filters_and_cannot_be_changed(scene, make, client, auth, db):
    moderation.hide_message(scene.forum_moderator, scene.message.id, "other", "Skräp")
    moderation.lock_thread(scene.forum_moderator, scene.thread.id)
    elsewhere = make.thread()
    site_moderator = make.user("moderator")
    moderation.lock_thread(site_moderator, elsewhere.id)

    auth.login(site_moderator)
    page = text(client.get("/moderation/audit"))
    # entries, counted exactly: the action filter's own option must not count as one
    assert page.count('data-event="thread.locked"') == 2 and "Skräp" in page
    only_hides = text(client.get("/moderation/audit?action=message.hidden"))
    assert "Skräp" in only_hides and 'data-event="thread.locked"' not in only_hides
    by_actor = text(client.get(f"/moderation/audit?actor={site_moderator.handle}"))
    assert (
        'data-event="message.hidden"' not in by_actor and 'data-event="thread.locked"' in by_actor
    )
    by_forum = text(client.get(f"/moderation/audit?forum={scene.forum.id}"))
    assert "Skräp" in by_forum
    today = utcnow().date()
    future = text(client.get(f"/moderation/audit?since={today + timedelta(days=2)}"))
    assert "Nothing matches." in future
    assert client.get("/moderation/audit?since=yesterday").status_code == 400

    auth.login(scene.forum_moderator)
    own = text(client.get("/moderation/audit"))
    assert "Skräp" in own and f"thread #{elsewhere.id}" not in own

    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/moderation/audit").status_code == 405
    auth.login(make.user())
    assert client.get("/moderation/audit").status_code == 403


def test_only_admins_are_offered_the_who_filter_by_email(scene, make, client, auth):
    # moderators filter by handle only (an address is private), so the label says so
    for user, label in [
        (scene.forum_moderator, "Who (handle)"),
        (make.user("moderator"), "Who (handle)"),
        (make.user("admin"), "Who (handle or email)"),
    ]:
        auth.login(user)
        page = text(client.get("/moderation/audit"))
        assert f'<label for="actor">{label}</label>' in page


def test_transparency_counts_without_names(scene, client, auth, db):
    moderation.hide_message(scene.forum_moderator, scene.message.id, principle_slug(db), "Namn")
    moderation.warn_person(scene.forum_moderator, 0, "Tonen", message_id=scene.message.id)
    auth.logout()
    response = client.get("/moderation/transparency")
    assert response.status_code == 200
    page = text(response)
    month = utcnow().strftime("%Y-%m")
    assert month in page
    assert "Integrity and independence" in page
    for secret in (scene.author.display_name, scene.forum_moderator.display_name, "Tonen"):
        assert secret not in page


# --- query counts ------------------------------------------------------------------------------


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_queue_queries_do_not_grow_with_flags_and_messages(make, client, auth, count_queries, db):
    moderator = make.user("moderator")
    auth.login(moderator)
    counts = []
    for n_messages, n_flaggers in [(2, 1), (12, 5)]:
        thread = make.thread()
        author = make.user()
        flaggers = [make.user() for _ in range(n_flaggers)]
        for i in range(n_messages):
            message = make.message(thread, author, f"m{i}")
            for person in flaggers[: 1 + i % n_flaggers]:
                db.session.add(Flag(message_id=message.id, user_id=person.id, reason="spam"))
        db.session.commit()
        client.get("/moderation")
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get("/moderation")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_messages_are_never_deleted_by_moderation(scene, db):
    moderation.hide_message(scene.forum_moderator, scene.message.id, "other", "x")
    moderation.redact_message(scene.forum_moderator, scene.message.id, "", "y")
    assert count(db, Message) == 3


def test_a_flag_leaves_the_messages_changed_at_alone(make, db):
    """Flagging locks the message (on SQLite an UPDATE that sets its key to itself): the lock
    must not stamp `changed_at`, which sends the message to every page that reconnects as
    changed, though nothing a reader sees changed."""
    author, reader = make.user(), make.user()
    message = make.message(make.thread(author=author), author, "Köp klockor")
    db.session.refresh(message)
    before = message.changed_at
    moderation.flag_message(reader, message.id, "spam")
    db.session.expire_all()
    assert db.session.get(Message, message.id).changed_at == before
