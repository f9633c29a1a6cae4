"""Notifications: one delivery function stores, pushes live after commit and mails per preference.

`deliver()` is the only place a notification is made. Everyone who must act is
told once: the caller names the recipients, the kind, an excerpt and a link;
each person's preference for that kind decides whether mail goes out at once,
waits for the daily digest (`send_digests`, run by
`flask --app forum notifications digest` or the in-process scheduler), or
stays in the app. Every mail has a plain-text and an HTML part and a one-click
unsubscribe link for its kind (also as List-Unsubscribe headers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from flask import current_app, render_template
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, or_, select, update

from .. import policy
from ..errors import Invalid
from ..events import emit_after_commit, user_room
from ..extensions import db
from ..formatting import STOCKHOLM, in_language_of, language_of
from ..links import absolute, path_for
from ..models import (
    Action,
    Appeal,
    ConsultationRound,
    Forum,
    Message,
    Notification,
    NotificationPreference,
    Organisation,
    Thread,
    User,
)
from ..models.base import utcnow
from ..queries.forums import rounds_by_thread
from ..queries.moderation import appeal_forum_id
from ..queries.payloads import notification_dict
from ..text import excerpt
from .mail import queue_mail
from .transaction import insert_on_conflict

IN_APP, IMMEDIATE, DIGEST = "in_app", "immediate", "digest"
MODES = (IN_APP, IMMEDIATE, DIGEST)
MODE_LABELS = {
    IN_APP: _l("In the app only"),
    IMMEDIATE: _l("Mail at once"),
    DIGEST: _l("Daily digest"),
}

# Every kind a person can choose for, with what it is about (the preferences page).
KINDS = {
    "mention": _l("Someone mentions you"),
    "reply": _l("Someone replies to you"),
    "consultation_opened": _l("A consultation round asks your organisation"),
    "consultation_changed": _l("A round your organisation is asked in is changed"),
    "consultation_response_drafted": _l("A member drafts or changes your organisation's response"),
    "consultation_reminder": _l("A round closes soon and your organisation has not answered"),
    "consultation_response_submitted": _l("A response arrives in a round you manage"),
    "consultation_deadline_passed": _l("The deadline passes in a round you manage"),
    "consultation_feedback": _l("The city publishes feedback on your input"),
    "action_awaiting": _l("An action waits for your side's acceptance"),
    "action_update": _l("An update on an action you follow"),
    "action_accepted": _l("An action you follow is accepted"),
    "action_declined": _l("An action you follow is declined"),
    "action_reminder": _l("An action your side owns is due"),
    "moderation_flag": _l("A message is flagged in a forum you moderate"),
    "moderation_appeal": _l("An appeal arrives in a forum you moderate"),
    "moderation": _l("A moderator acts on your message or account"),
    "membership_request": _l("Someone asks to join an organisation you administer"),
    "membership": _l("An organisation answers your request to join, or removes you"),
}


def preference_kind(kind: str) -> str:
    """The kind a preference is stored under (the moderation notices share one, and an
    action's reminders, a week before and on the due date, are one choice)."""
    if kind in MODERATION_KINDS:
        return "moderation"
    if kind in MEMBERSHIP_KINDS:
        return "membership"
    return "action_reminder" if kind == "action_due" else kind


def describe(kind: str, actor: str, thread: str) -> str:
    """The sentence shown for a notification, in the current language."""
    if kind == "mention":
        return _("%(actor)s mentioned you in “%(thread)s”", actor=actor, thread=thread)
    if kind == "reply":
        return _("%(actor)s replied to you in “%(thread)s”", actor=actor, thread=thread)
    if kind in CONSULTATION_SENTENCES:
        return CONSULTATION_SENTENCES[kind](thread)
    if kind in MODERATION_KINDS:
        return describe_moderation(kind, thread)
    if kind in ACTION_KINDS:
        return describe_action(kind, actor)
    if kind in MEMBERSHIP_KINDS or kind == "membership_request":
        return describe_membership(kind, actor)
    if kind == "moderation_flag":
        return _("A message was flagged in “%(thread)s”", thread=thread)
    if kind == "moderation_appeal":
        return _("An appeal waits for a decision")
    return _("New activity in “%(thread)s”", thread=thread)


CONSULTATION_SENTENCES: dict[str, Callable[[str], str]] = {
    "consultation_opened": lambda t: _(
        "Your organisation is asked for its view: “%(thread)s”", thread=t
    ),
    "consultation_reminder": lambda t: _(
        "Reminder: the consultation “%(thread)s” closes soon", thread=t
    ),
    "consultation_feedback": lambda t: _(
        "The city has published feedback on “%(thread)s”", thread=t
    ),
    "consultation_changed": lambda t: _("The consultation “%(thread)s” was changed", thread=t),
    "consultation_response_drafted": lambda t: _(
        "Your organisation's response to “%(thread)s” was drafted or changed", thread=t
    ),
    "consultation_response_submitted": lambda t: _("A response arrived in “%(thread)s”", thread=t),
    "consultation_deadline_passed": lambda t: _(
        "The deadline of “%(thread)s” has passed", thread=t
    ),
}


def unread_count(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def unread_counts(user_ids: list[int]) -> dict[int, int]:
    """Unread notifications of each of `user_ids` (0 for none), in one query."""
    rows = db.session.execute(
        select(Notification.user_id, func.count())
        .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
        .group_by(Notification.user_id)
    ).all()
    counts = dict.fromkeys(user_ids, 0)
    counts.update({user_id: count for user_id, count in rows})
    return counts


# --- preferences -----------------------------------------------------------------


# How a kind nobody chose for reaches a person with mail on. Mail off in the settings is
# not a choice per kind (_modes): the preferences page shows what applies once it is on.
DEFAULT_MODE = IMMEDIATE


def preferences(user: User) -> dict[str, str]:
    """The person's mode for every kind (their stored choice, else the default), as it
    applies while mail is on."""
    stored = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.mode).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {kind: stored.get(kind, DEFAULT_MODE) for kind in KINDS}


def _modes(users: list[User], kind: str) -> dict[int, str]:
    """How `kind` reaches each person now: their choice for it, else the default; and no
    mail at all for someone who turned mail off in the settings (the one switch there)."""
    stored = dict(
        db.session.execute(
            select(NotificationPreference.user_id, NotificationPreference.mode).where(
                NotificationPreference.user_id.in_([u.id for u in users]),
                NotificationPreference.kind == preference_kind(kind),
            )
        ).all()
    )
    return {
        u.id: stored.get(u.id, DEFAULT_MODE) if u.email_notifications else IN_APP for u in users
    }


def set_preference(user: User, kind: str, mode: str) -> None:
    """Choose how one kind reaches the person (in the caller's transaction)."""
    if kind not in KINDS:
        raise Invalid(_("Unknown kind of notification."), field="kind")
    if mode not in MODES:
        raise Invalid(_("Choose how you want to be told."), field=kind)
    # One statement decides, not a read before the insert: a mail client's one-click
    # unsubscribe and the person's own click (or two tabs) arrive at once, and both would
    # read "no choice yet" and insert one.
    table = NotificationPreference.__table__
    stmt = insert_on_conflict(table, db.session.get_bind().dialect.name).values(
        user_id=user.id, kind=kind, mode=mode
    )
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.user_id, table.c.kind], set_={"mode": stmt.excluded.mode}
        )
    )
    # the row loaded in this session, if any, is read afresh when next used
    loaded = db.session.identity_map.get(
        db.session.identity_key(NotificationPreference, (user.id, kind))
    )
    if loaded is not None:
        db.session.expire(loaded, ["mode"])


def save_preferences(user: User | None, choices: dict[str, str]) -> None:
    """The preferences form: one mode per kind."""
    policy.require_login(user)
    assert user is not None
    for kind, mode in choices.items():
        if mode == DEFAULT_MODE and kind in KINDS:
            # the default is not stored as a choice: a later change of the default applies
            db.session.execute(
                delete(NotificationPreference).where(
                    NotificationPreference.user_id == user.id, NotificationPreference.kind == kind
                )
            )
        else:
            set_preference(user, kind, mode)
    db.session.commit()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(user_id: int, kind: str) -> str:
    return str(_serializer().dumps([user_id, preference_kind(kind)]))


def unsubscribe(token: str) -> tuple[User, str]:
    """One click from a mail: that kind stays in the app from now on. The daily summary's
    link (kind DIGEST) moves every kind the person chose the summary for to the app."""
    try:
        user_id, kind = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        raise Invalid(_("This unsubscribe link is not valid.")) from None
    user = db.session.get(User, user_id)
    if user is None or (kind not in KINDS and kind != DIGEST):
        raise Invalid(_("This unsubscribe link is not valid."))
    chosen = preferences(user)
    for stopped in (
        [k for k, mode in chosen.items() if mode == DIGEST] if kind == DIGEST else [kind]
    ):
        set_preference(user, stopped, IN_APP)
    db.session.commit()
    return user, kind


def stopped_label(kind: str) -> str:
    """What an unsubscribe link stopped, for its page: a kind, or the daily summary."""
    return str(MODE_LABELS[DIGEST] if kind == DIGEST else KINDS[kind])


# --- delivery --------------------------------------------------------------------


def _mail_parts(user: User, kind: str, subject: str, text: str, url: str) -> tuple[str, str, str]:
    """(plain text, HTML, unsubscribe link) of a notification mail in the person's language."""
    link = absolute(url)
    stop = absolute(
        path_for("notification_settings.unsubscribe", token=unsubscribe_token(user.id, kind))
    )
    with in_language_of(user):
        kind_label = str(KINDS.get(preference_kind(kind), ""))
        footer = _("Stop these mails (%(kind)s): %(link)s", kind=kind_label, link=stop)
        parts = [subject, text, link]
        body = "\n\n".join(part for part in parts if part) + f"\n\n-- \n{footer}\n"
        html = render_template(
            "mail/notification.html",
            lang=language_of(user),
            subject=subject,
            items=[(subject, text, link, None)],  # the excerpt written in this language
            unsubscribe=stop,
            kind_label=kind_label,
        )
    return body, html, stop


def _mail(user: User, kind: str, subject: str, text: str, url: str, note: Notification) -> None:
    """A plain-text and HTML mail with a one-click unsubscribe link for the kind; it is tied
    to its notification, so a moderator's hiding can still blank it before it is sent."""
    body, html, stop = _mail_parts(user, kind, subject, text, url)
    mail = queue_mail(user.email, subject, body, notification_id=note.id)
    mail.html_body = html
    mail.unsubscribe_url = stop


def _mode_while_suspended(user: User, kind: str, mode: str, now: datetime) -> str:
    """How a notice reaches a suspended person. Their mail waits for the suspension to end
    (the first digest after it): they cannot log in to act on it. Not the moderation notices
    (why they are suspended, an appeal's outcome): mail is the only way those reach them
    now, so one they chose the digest for goes at once, as the digest skips them while
    suspended and the suspension's reason and the link that appeals it would arrive when
    there is nothing left to appeal. "In the app only" and mail turned off stay without
    mail: the settings promise "not by mail at all"."""
    if not user.is_suspended(now):
        return mode
    if kind in MODERATION_KINDS:
        return IMMEDIATE if mode == DIGEST else mode
    return DIGEST if mode == IMMEDIATE else mode  # held for the first digest after it


def deliver(
    recipients: Iterable[User],
    kind: str,
    excerpt_text: str | Callable[[], str],
    url: str,
    *,
    actor: User | None = None,
    actor_name: str | None = None,
    thread: Thread | None = None,
    title: str = "",
    message_id: int | None = None,
) -> list[Notification]:
    """Tell each person once (never the actor): stored, pushed live after commit, mailed.

    `excerpt_text` may be a function: it is then called in each person's language.
    Mail goes out at once or waits for the digest, as the person chose for `kind`.
    """
    people: dict[int, User] = {}
    for user in recipients:
        if (actor is not None and user.id == actor.id) or user.is_closed:
            continue
        people.setdefault(user.id, user)
    if not people:
        return []
    modes = _modes(list(people.values()), kind)
    name = actor_name if actor_name is not None else (actor.display_name if actor else "")
    title = title or (thread.title if thread is not None else "")
    made: list[tuple[User, Notification, str, str, str]] = []
    now = utcnow()
    for user in people.values():
        mode = _mode_while_suspended(user, kind, modes[user.id], now)
        lang = language_of(user)
        with force_locale(lang):
            text = excerpt_text() if callable(excerpt_text) else excerpt_text
            subject = describe(kind, name, title)
        note = Notification(
            user_id=user.id,
            kind=kind,
            actor_id=actor.id if actor is not None else None,
            thread_id=thread.id if thread is not None else None,
            message_id=message_id,
            url=url,
            excerpt=text[:300],
            excerpt_lang=lang if callable(excerpt_text) else None,
            mail_state=DIGEST if mode == DIGEST else None,
        )
        db.session.add(note)
        modes[user.id] = mode
        made.append((user, note, subject, text, lang))
    db.session.flush()  # one flush and one count for everyone told, however many they are
    unread = unread_counts(list(people))
    for user, note, subject, text, lang in made:
        # `summary`: what it is, in the person's language (`lang`: a page in the other one
        # marks it so), for the live region to read: a notice without an actor or excerpt,
        # a moderator's, was read as "New notification : "
        payload = {**notification_dict(note, name, title), "summary": subject, "lang": lang}
        emit_after_commit(
            "notification", {"notification": payload, "unread": unread[user.id]}, user_room(user.id)
        )
        if modes[user.id] == IMMEDIATE:
            _mail(user, kind, subject, text, url, note)
    return [note for _user, note, _subject, _text, _lang in made]


def send_digests(now: datetime | None = None) -> int:
    """Mail each person one digest of their waiting notifications, once per Stockholm day;
    returns the mails queued.

    The day is claimed per person with a conditional UPDATE of `last_digest_on` before the
    mail is queued, so a second run the same day (a restart, cron beside the embedded clock,
    two at once) sends nothing more. A notification about a thread the person may no longer
    read is left out (it is not mailed later either).
    """
    now = now or utcnow()
    day = now.astimezone(STOCKHOLM).date()
    waiting = db.session.execute(
        select(Notification, User)
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.mail_state == DIGEST,
            ~User.is_closed,
            # a suspended person's digest waits until the suspension ends (_mode_while_suspended)
            or_(User.suspended_until.is_(None), User.suspended_until <= now),
            or_(User.last_digest_on.is_(None), User.last_digest_on < day),
        )
        .order_by(Notification.user_id, Notification.id)
    ).all()
    by_user: dict[int, tuple[User, list[Notification]]] = {}
    for note, user in waiting:
        by_user.setdefault(user.id, (user, []))[1].append(note)
    sent = 0
    for user, notes in by_user.values():
        # mail turned off since these waited: they stay in the app, not mailed later
        readable = [n for n in notes if user.email_notifications and _still_readable(user, n)]
        if readable and not _claim_digest_day(user, day):
            continue  # another run sent today's digest
        for note in notes:
            note.mail_state = "sent" if note in readable else WITHHELD
        if readable:
            _queue_digest(user, readable)
            sent += 1
    db.session.commit()
    return sent


WITHHELD = "withheld"  # a digest line left out: its thread is no longer the person's to read


RESPONSE_URL = re.compile(
    r"/consultations/(\d{1,9})/response\?(?:.*&)?organisation=(\d{1,9})(?:&|#|$)"
)


ORGANISATION_URL = re.compile(r"/organisations/([^/?#]+)")
ROUND_URL = re.compile(r"/consultations/(\d{1,9})(?:[/?#]|$)")
# the notices to a round's officials: which organisations have answered an open round, and
# that its deadline has passed, are theirs to act on (policy.can_manage_round)
ROUND_MANAGERS_KINDS = frozenset(
    {"consultation_response_submitted", "consultation_deadline_passed"}
)
ACTION_URL = re.compile(r"/actions/(\d{1,9})(?:#|$)")


def _still_readable(user: User, note: Notification) -> bool:
    thread = db.session.get(Thread, note.thread_id) if note.thread_id is not None else None
    if thread is not None and not policy.can_view_thread(user, thread):
        return False
    if note.kind in ROUND_MANAGERS_KINDS:
        return _still_manages_round(user, note.url or "")
    if note.kind.startswith("consultation_response_"):
        return _still_acts_for(user, note.url or "")
    if note.kind in ACTION_KINDS:
        return _action_still_shown(user, note.url or "")
    if note.kind == "membership_request":
        return _still_manages(user, note.url or "")
    # who flagged what, and what an appeal says, are for those who may still act on them
    if note.kind == "moderation_flag":
        return thread is None or policy.is_forum_moderator(user, thread.forum)
    if note.kind == "moderation_appeal":
        return _still_decides(user, note.url or "")
    return True


APPEAL_URL = re.compile(r"#appeal-(\d{1,9})$")


def _still_decides(user: User, url: str) -> bool:
    """An appeal's notice (its link names the appeal: services.moderation.appeal) is for
    those who may still decide it: not a moderator removed since, nor one of a forum its
    thread has moved out of. An older notice without the appeal's id: still a moderator."""
    match = APPEAL_URL.search(url)
    item = db.session.get(Appeal, int(match[1])) if match is not None else None
    if item is None:
        return policy.can_use_moderation(user)
    forum_id = appeal_forum_id(item.action)
    forum = db.session.get(Forum, forum_id) if forum_id is not None else None
    return policy.can_decide_appeal(user, item.action, forum)


def _still_manages(user: User, url: str) -> bool:
    """A request to join names who asked: it is for those who still administer the
    organisation (an admin demoted or removed since is not mailed it)."""
    match = ORGANISATION_URL.search(url)
    org = (
        db.session.scalar(select(Organisation).where(Organisation.slug == match[1]))
        if match is not None
        else None
    )
    return org is None or policy.can_manage_organisation(user, org)


def _action_still_shown(user: User, url: str) -> bool:
    """A notice about an action a moderator has hid since is not mailed (not even to a
    moderator who follows it: its excerpt was blanked, services.follow_up._requote), nor
    one the person may no longer open."""
    match = ACTION_URL.search(url)
    if match is None:
        return True
    action = db.session.get(Action, int(match[1]))
    if action is None:
        return True  # actions are never removed: no such action has nothing to keep back
    return action.hidden_at is None and policy.can_view_action(user, action)


def _still_manages_round(user: User, url: str) -> bool:
    """An officials' notice about a round is for those who still manage it: not an official
    whose role was revoked, or who moved to another department, since it was written (it
    names the organisation that answered, while the responses are not yet public)."""
    match = ROUND_URL.search(url)
    round_ = db.session.get(ConsultationRound, int(match[1])) if match is not None else None
    return round_ is not None and policy.can_manage_round(user, round_)


def _still_acts_for(user: User, url: str) -> bool:
    """A notice about an organisation's draft response is for those who may still draft it
    (someone removed from the organisation since is not mailed its draft)."""
    match = RESPONSE_URL.search(url)
    if match is None:
        return True  # not about one organisation's response (the officials' notices)
    round_ = db.session.get(ConsultationRound, int(match[1]))
    org = db.session.get(Organisation, int(match[2]))
    return round_ is not None and org is not None and policy.can_draft_response(user, round_, org)


def _claim_digest_day(user: User, day: date) -> bool:
    """Take `day`'s digest for the person: true for exactly one of several runs."""
    claimed = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.last_digest_on.is_(None), User.last_digest_on < day),
        )
        .values(last_digest_on=day)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0))


def _queue_digest(user: User, notes: list[Notification]) -> None:
    """One mail listing the notifications, each line named as the notifications page names it."""
    with in_language_of(user):
        subject = ngettext(
            "Your daily summary: %(num)d notification",
            "Your daily summary: %(num)d notifications",
            len(notes),
        )
        lang = language_of(user)
        items = [
            (
                _digest_line(note),
                shown_excerpt(note),
                absolute(note.url or "/"),
                # written by the app in the language the person had then: marked when it
                # is not the mail's (a screen reader would read it with the wrong voice)
                note.excerpt_lang if note.excerpt and note.excerpt_lang != lang else None,
            )
            for note in notes
        ]
        settings = absolute(path_for("notification_settings.settings"))
        footer = _("Choose what you are told, and how: %(link)s", link=settings)
        body = subject + "\n\n"
        body += "\n\n".join(f"- {s}\n  {t}\n  {link}" for s, t, link, _lang in items)
        body += f"\n\n-- \n{footer}\n"
        html = render_template(
            "mail/notification.html",
            lang=lang,
            subject=subject,
            items=items,
            unsubscribe=settings,
            kind_label="",
        )
    mail = queue_mail(user.email, subject, body)
    mail.html_body = html
    # the header's one-click link (RFC 8058): the mail client posts to it without a login,
    # so it is a signed link that stops the summary, not the settings page
    mail.unsubscribe_url = absolute(
        path_for("notification_settings.unsubscribe", token=unsubscribe_token(user.id, DIGEST))
    )


def _digest_line(note: Notification) -> str:
    """The sentence for one digest line, with who acted and the thread's title (checked
    readable by the caller)."""
    actor = note.actor.display_name if note.actor is not None else ""
    thread = db.session.get(Thread, note.thread_id) if note.thread_id is not None else None
    return describe(note.kind, actor, thread.title if thread is not None else "")


def notify_message(
    message: Message, thread: Thread, mentioned: set[int], reply_to: Message | None
) -> None:
    """Tell mentioned people and the author of the message replied to (not the sender)."""
    kinds: dict[int, str] = {uid: "mention" for uid in mentioned}
    if reply_to is not None and reply_to.author_id not in kinds:
        kinds[reply_to.author_id] = "reply"
    kinds.pop(message.author_id, None)
    if not kinds:
        return
    recipients = db.session.scalars(select(User).where(User.id.in_(kinds))).all()
    url = path_for("forums.thread", thread_id=thread.id, _anchor=f"m{message.id}")
    text = excerpt(message.html)
    allowed = thread_readers(recipients, thread)
    for kind in ("mention", "reply"):
        deliver(
            [u for u in allowed if kinds[u.id] == kind],
            kind,
            text,
            url,
            actor=message.author,
            thread=thread,
            message_id=message.id,
        )


def thread_readers(people: Iterable[User], thread: Thread) -> list[User]:
    """Those of `people` who may read `thread` (policy.can_view_thread), its round (if it is a
    round's discussion) read once for them all, not once each."""
    rounds = rounds_by_thread([thread.id])
    return [person for person in people if policy.can_view_thread(person, thread, rounds)]


def sync_message_excerpts(message: Message) -> None:
    """Notifications of a message, and their mail not yet sent, quote what the message shows now.

    Hidden or deleted: the excerpt is blank; restored or redacted: the visible text. Someone
    who may no longer read the thread (removed from an invite-only forum) gets no new text:
    their excerpt stays as it was (blank if the message is hidden or deleted) and their mail
    not yet sent is dropped. Digests are written from the stored excerpt when they go out.
    The author's moderation notices about the message are left alone (and their mail): they
    quote the decision's reason, a warning's or an appeal's words, never the message.
    Runs in the caller's transaction.
    """
    from ..models import MessageState, OutboxMail

    visible = message.state == MessageState.visible
    text = excerpt(message.html) if visible else ""
    notes = db.session.scalars(
        select(Notification).where(
            Notification.message_id == message.id,
            Notification.kind.not_in(MODERATION_KINDS),
        )
    ).all()
    if not notes:
        return
    thread = message.thread
    # in one query each: a message can mention hundreds
    people = db.session.scalars(select(User).where(User.id.in_({n.user_id for n in notes})))
    may_read = {u.id: u for u in thread_readers(people, thread)}
    readers: dict[int, User] = {}
    for note in notes:
        user = may_read.get(note.user_id)
        if user is not None:
            readers[note.id] = user
            note.excerpt = text
        elif not visible:
            note.excerpt = ""
    pending = db.session.scalars(
        select(OutboxMail).where(
            OutboxMail.notification_id.in_([note.id for note in notes]),
            OutboxMail.sent_at.is_(None),
        )
    ).all()
    by_id = {note.id: note for note in notes}
    for mail in pending:
        note = by_id[mail.notification_id]  # type: ignore[index]
        reader = readers.get(note.id)
        if reader is None:
            db.session.delete(mail)  # what they may no longer read is not mailed to them
            continue
        with in_language_of(reader):
            subject = describe(note.kind, message.author.display_name, thread.title)
        mail.body, mail.html_body, _stop = _mail_parts(reader, note.kind, subject, text, note.url)


def shown_excerpt(note: Notification) -> str:
    """What a notice quotes where it is shown (the notifications page, a mail not yet sent),
    in the current language. A notice about an action a moderator hid keeps no text of it
    (services.follow_up._requote blanks it until the action is shown again): it says so,
    in the reader's language, rather than storing the words in one language for all."""
    if not note.excerpt and note.kind in ACTION_KINDS:
        return _("[Action hidden by a moderator]")
    return note.excerpt


def requote(notes: Sequence[Notification], text_of: Callable[[Notification], str]) -> None:
    """Notices whose quoted text changed (an action hidden, shown again or with its title
    redacted): each stores `text_of(note)` ("" for none), and its mail not yet sent is
    written again from it in the reader's language. Runs in the caller's transaction."""
    from ..models import OutboxMail

    for note in notes:
        note.excerpt = text_of(note)[:300]
    if not notes:
        return
    by_id = {note.id: note for note in notes}
    for mail in db.session.scalars(
        select(OutboxMail).where(
            OutboxMail.notification_id.in_(list(by_id)), OutboxMail.sent_at.is_(None)
        )
    ):
        note = by_id[mail.notification_id]  # type: ignore[index]
        reader = db.session.get(User, note.user_id)
        if reader is None:
            continue
        thread = db.session.get(Thread, note.thread_id) if note.thread_id is not None else None
        actor = note.actor.display_name if note.actor is not None else ""
        with in_language_of(reader):
            subject = describe(note.kind, actor, thread.title if thread is not None else "")
            text = shown_excerpt(note)
        mail.subject = subject[:300]
        mail.body, mail.html_body, _stop = _mail_parts(reader, note.kind, subject, text, note.url)


def mark_read(
    user: User, notification_ids: list[int] | None = None, upto: int | None = None
) -> int:
    """Mark some (or all, with `upto` all up to that id) of the user's notifications read;
    returns the unread count."""
    query = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
    if upto is not None:
        query = query.where(Notification.id <= upto)
    db.session.execute(query.values(read_at=utcnow()))
    count = unread_count(user.id)
    emit_after_commit("notification:count", {"unread": count}, user_room(user.id))
    db.session.commit()
    return count


# --- moderation: telling the person concerned ----------------------------------

MODERATION_KINDS = frozenset(
    {
        "moderation_hidden",
        "moderation_restored",
        "moderation_redacted",
        "moderation_warned",
        "moderation_muted",
        "moderation_suspended",
        "moderation_lifted",
        "appeal_upheld",
        "appeal_reversed",
        "appeal_lapsed",
        "moderation_action_hidden",
        "moderation_action_shown",
        "moderation_action_redacted",
    }
)


def describe_moderation(kind: str, thread: str) -> str:
    """The sentence for a moderation notice (no moderator is named)."""
    sentences = {
        "moderation_hidden": _("A moderator hid your message in “%(thread)s”", thread=thread),
        "moderation_restored": _(
            "A moderator restored your message in “%(thread)s”", thread=thread
        ),
        "moderation_redacted": _(
            "A moderator removed personal data from your message in “%(thread)s”", thread=thread
        ),
        "moderation_warned": _("A moderator sent you a warning"),
        "moderation_muted": _("You can't post in a forum for a while"),
        "moderation_suspended": _("Your account is suspended for a while"),
        "moderation_lifted": _("A moderator lifted a restriction on your account"),
        "appeal_upheld": _("Your appeal was considered: the decision stands"),
        "appeal_reversed": _("Your appeal was considered: the decision is reversed"),
        "appeal_lapsed": _("Your appeal is closed: the decision had already been lifted"),
        "moderation_action_hidden": _("A moderator hid an action you proposed"),
        "moderation_action_shown": _("A moderator showed an action you proposed again"),
        "moderation_action_redacted": _(
            "A moderator removed personal data from the title of an action you proposed"
        ),
    }
    return sentences[kind]


def notify_person(
    user: User,
    kind: str,
    reason: str | Callable[[], str],
    url: str,
    thread: Thread | None = None,
    message_id: int | None = None,
) -> None:
    """Tell a person about a moderation step or an appeal's outcome, with the reason (a
    function is called in their language)."""
    deliver(
        [user],
        kind,
        reason,
        url,
        thread=thread,
        message_id=message_id,
    )


# --- follow-up actions ---------------------------------------------------------

ACTION_KINDS = frozenset(
    {
        "action_update",
        "action_accepted",
        "action_declined",
        "action_reminder",  # a week before the due date
        "action_due",  # on the due date (or after it, for one accepted late)
        "action_awaiting",
    }
)


def describe_action(kind: str, actor: str) -> str:
    """The sentence for a follow-up notice (the excerpt names the action)."""
    sentences = {
        "action_update": _("%(actor)s posted an update on an action you follow", actor=actor),
        "action_accepted": _("An action you follow was accepted by its owner"),
        "action_declined": _("An action you follow was declined by its owner"),
        "action_reminder": _("Reminder: an action your side owns is due soon"),
        "action_due": _("Reminder: an action your side owns has reached its due date"),
        "action_awaiting": _("An action waits for your side to accept it"),
    }
    return sentences[kind]


# --- organisations: requests to join and their answers -------------------------------

# what the person who asked (or a member) is told; one choice ("membership") for them all
MEMBERSHIP_KINDS = frozenset({"membership_approved", "membership_declined", "membership_removed"})


def describe_membership(kind: str, actor: str) -> str:
    """The sentence for a membership notice (the excerpt names the organisation)."""
    sentences = {
        "membership_request": _(
            "%(actor)s asked to join an organisation you administer", actor=actor
        ),
        "membership_approved": _("Your request to join an organisation was approved"),
        "membership_declined": _("Your request to join an organisation was declined"),
        "membership_removed": _("You were removed from an organisation"),
    }
    return sentences[kind]


def notify_people(
    users: list[User],
    kind: str,
    url: str,
    excerpt_text: str | Callable[[], str],
    actor: User | None = None,
    thread: Thread | None = None,
) -> None:
    """Tell each person (not the actor): stored, pushed live after commit, mailed if wanted.

    `thread` is where an action came from: a digest leaves the notice out for someone who
    may no longer read it. A function as `excerpt_text` is called in each person's language.
    """
    deliver(users, kind, excerpt_text, url, actor=actor, thread=thread)


# --- moderators: flags and appeals ------------------------------------------------


def moderators_of(forum_id: int | None) -> list[User]:
    """Site moderators and admins, and the forum's own moderators (for `forum_id`)."""
    from ..models.forums import forum_moderators

    condition = User.is_moderator.is_(True) | User.is_admin.is_(True)
    if forum_id is not None:
        in_forum = select(forum_moderators.c.user_id).where(forum_moderators.c.forum_id == forum_id)
        condition = condition | User.id.in_(in_forum)
    return list(db.session.scalars(select(User).where(condition).order_by(User.id)))


def tell_moderators(
    forum_id: int | None,
    kind: str,
    excerpt_text: str,
    url: str,
    actor: User | None = None,
    thread: Thread | None = None,
    message_id: int | None = None,
    barred_id: int | None = None,
    may_decide: Callable[[User], bool] | None = None,
) -> None:
    """A flag or an appeal arrived: its moderators are told, and their header count moves live.
    With `message_id` the notice is tied to the message, so a later redaction or hiding
    rewrites its excerpt and its unsent mail as for every other notice of it. `barred_id`
    is a moderator who may not decide it (the flagged message's author, the appealed
    decision's moderator), and `may_decide` tells who may: the others are not told, as
    their queue does not show it."""
    left_out = {actor.id if actor is not None else None, barred_id} - {None}
    people = [
        u
        for u in moderators_of(forum_id)
        if u.id not in left_out and (may_decide is None or may_decide(u))
    ]
    deliver(people, kind, excerpt_text, url, thread=thread, message_id=message_id)
    recount_for_moderators(people)


def recount_for_moderators(people: list[User]) -> None:
    """Each of `people`'s header count of what waits, as it is after this transaction's
    changes (sent after commit): it goes up with a flag or appeal and down with a decision."""
    from ..queries.moderation import waiting_count

    for user in people:
        emit_after_commit("moderation:count", {"count": waiting_count(user)}, user_room(user.id))
