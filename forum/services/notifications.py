"""Notifications: stored, pushed live to the person's own room, optionally mailed."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from .. import policy
from ..events import emit_after_commit, user_room
from ..extensions import db
from ..links import absolute, path_for
from ..models import Message, Notification, Thread, User
from ..models.base import utcnow
from ..queries.payloads import notification_dict
from ..text import excerpt
from .mail import queue_mail


def describe(kind: str, actor: str, thread: str) -> str:
    """The sentence shown for a notification, in the current language."""
    if kind == "mention":
        return _("%(actor)s mentioned you in “%(thread)s”", actor=actor, thread=thread)
    if kind == "reply":
        return _("%(actor)s replied to you in “%(thread)s”", actor=actor, thread=thread)
    if kind == "consultation_opened":
        return _("Your organisation is asked for its view: “%(thread)s”", thread=thread)
    if kind == "consultation_reminder":
        return _("Reminder: the consultation “%(thread)s” closes soon", thread=thread)
    if kind == "consultation_feedback":
        return _("The city has published feedback on “%(thread)s”", thread=thread)
    if kind in MODERATION_KINDS:
        return describe_moderation(kind, thread)
    if kind in ACTION_KINDS:
        return describe_action(kind, actor)
    return _("New activity in “%(thread)s”", thread=thread)


def unread_count(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


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
    for user in recipients:
        if not policy.can_view_thread(user, thread):
            continue
        kind = kinds[user.id]
        note = Notification(
            user_id=user.id,
            kind=kind,
            actor_id=message.author_id,
            thread_id=thread.id,
            message_id=message.id,
            url=url,
            excerpt=text,
        )
        db.session.add(note)
        db.session.flush()
        emit_after_commit(
            "notification",
            {
                "notification": notification_dict(note, message.author.display_name, thread.title),
                "unread": unread_count(user.id),
            },
            user_room(user.id),
        )
        if user.email_notifications:
            subject, body = _message_mail(user, kind, message.author.display_name, thread, note)
            queue_mail(user.email, subject, body, notification_id=note.id)


def _message_mail(
    user: User, kind: str, actor: str, thread: Thread, note: Notification
) -> tuple[str, str]:
    """Subject and body of the mail telling of a mention or reply (the excerpt may be empty)."""
    with force_locale(user.locale or "sv"):
        subject = describe(kind, actor, thread.title)
        parts = [subject, note.excerpt, absolute(note.url)]
        body = "\n\n".join(part for part in parts if part)
        body += "\n\n" + _("You can turn these mails off in your settings.")
    return subject, body


def sync_message_excerpts(message: Message) -> None:
    """Notifications of a message, and their mail not yet sent, quote what the message shows now.

    Hidden or deleted: the excerpt is blank; restored or redacted: the visible text.
    Runs in the caller's transaction.
    """
    from ..models import MessageState, OutboxMail

    text = excerpt(message.html) if message.state == MessageState.visible else ""
    notes = db.session.scalars(
        select(Notification).where(Notification.message_id == message.id)
    ).all()
    if not notes:
        return
    by_id = {note.id: note for note in notes}
    for note in notes:
        note.excerpt = text
    pending = db.session.scalars(
        select(OutboxMail).where(
            OutboxMail.notification_id.in_(list(by_id)), OutboxMail.sent_at.is_(None)
        )
    ).all()
    for mail in pending:
        note = by_id[mail.notification_id]  # type: ignore[index]
        user = db.session.get(User, note.user_id)
        thread = db.session.get(Thread, note.thread_id)
        if user is None or thread is None:
            continue
        _subject, mail.body = _message_mail(
            user, note.kind, message.author.display_name, thread, note
        )


def mark_read(user: User, notification_ids: list[int] | None = None) -> int:
    """Mark some (or all) of the user's notifications read; returns the unread count."""
    query = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
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
    }
    return sentences[kind]


def notify_person(
    user: User,
    kind: str,
    reason: str,
    url: str,
    thread: Thread | None = None,
    message_id: int | None = None,
) -> None:
    """Tell a person about a moderation step or an appeal's outcome, with the reason.

    Stored, pushed to the person's own room after commit, and mailed if they want mail.
    """
    note = Notification(
        user_id=user.id,
        kind=kind,
        thread_id=thread.id if thread else None,
        message_id=message_id,
        url=url,
        excerpt=reason[:300],
    )
    db.session.add(note)
    db.session.flush()
    title = thread.title if thread else ""
    emit_after_commit(
        "notification",
        {
            "notification": notification_dict(note, "", title),
            "unread": unread_count(user.id),
        },
        user_room(user.id),
    )
    if user.email_notifications:
        with force_locale(user.locale or "sv"):
            subject = describe(kind, "", title)
            body = subject
            if reason:
                body += "\n\n" + _("Reason: %(reason)s", reason=reason)
            body += "\n\n" + absolute(url)
            body += "\n\n" + _("You can turn these mails off in your settings.")
        queue_mail(user.email, subject, body)


# --- follow-up actions ---------------------------------------------------------

ACTION_KINDS = frozenset({"action_update", "action_accepted", "action_reminder"})


def describe_action(kind: str, actor: str) -> str:
    """The sentence for a follow-up notice (the excerpt names the action)."""
    sentences = {
        "action_update": _("%(actor)s posted an update on an action you follow", actor=actor),
        "action_accepted": _("An action you follow was accepted by its owner"),
        "action_reminder": _("Reminder: an action your side owns is due soon"),
    }
    return sentences[kind]


def notify_people(
    users: list[User], kind: str, url: str, excerpt_text: str, actor: User | None = None
) -> None:
    """Tell each person (not the actor): stored, pushed live after commit, mailed if wanted."""
    actor_name = actor.display_name if actor else ""
    for user in users:
        if actor is not None and user.id == actor.id:
            continue
        note = Notification(
            user_id=user.id,
            kind=kind,
            actor_id=actor.id if actor else None,
            url=url,
            excerpt=excerpt_text[:300],
        )
        db.session.add(note)
        db.session.flush()
        emit_after_commit(
            "notification",
            {
                "notification": notification_dict(note, actor_name, ""),
                "unread": unread_count(user.id),
            },
            user_room(user.id),
        )
        if user.email_notifications:
            with force_locale(user.locale or "sv"):
                subject = describe(kind, actor_name, "")
                body = f"{subject}\n\n{excerpt_text}\n\n{absolute(url)}"
                body += "\n\n" + _("You can turn these mails off in your settings.")
            queue_mail(user.email, subject, body)
