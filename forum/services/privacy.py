"""Personal data: what the app holds about a person, and closing an account.

Posts to the city's channels are public records (offentlighetsprincipen,
arkivlagen): a closed account's messages, revisions, responses and moderation
records stay, under the pseudonym "Före detta användare <id>". Everything else
that identifies the person (email, name, handle, password, memberships,
notifications, tokens, sessions, login attempts, resets, mail) is deleted.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import and_, delete, func, or_, select, update

from .. import policy
from ..errors import Conflict, Forbidden, NotFound
from ..events import disconnect_user
from ..extensions import db
from ..formatting import in_language_of, iso_utc
from ..links import path_for
from ..models import (
    Action,
    ActionFollower,
    ActionHistory,
    ActionUpdate,
    ApiToken,
    Appeal,
    AuditEntry,
    ConsultationAnswer,
    ConsultationFeedback,
    ConsultationQuestion,
    ConsultationResponse,
    ConsultationRound,
    Document,
    Flag,
    Forum,
    LoginAttempt,
    Membership,
    Message,
    MessageReaction,
    MessageRevision,
    ModerationAction,
    Notification,
    NotificationPreference,
    Organisation,
    OutboxMail,
    PasswordReset,
    PersonalExport,
    ReadingChange,
    ReadMarker,
    ResponseStatus,
    ResponseVersion,
    RoundRevision,
    RoundState,
    Thread,
    User,
    UserSession,
    VersionAnswer,
)
from ..models.accounts import CLOSED_DOMAIN
from ..models.forums import forum_members, forum_moderators
from ..queries import payloads
from ..queries.open_data import responses_are_public
from ..queries.search import round_readable, thread_readable
from ..text import HANDLE_CHARS, MENTION_RE
from . import consultations, exports, follow_up, search_index
from .accounts import confirm_password, throttle_keys
from .audit import record as audit
from .names import CLOSED_ACCOUNT_NAME
from .organisations import organisations_led_alone
from .transaction import lock_person


def pseudonym(user_id: int) -> str:
    """The name a closed account's public posts keep (Swedish, as the records are)."""
    return f"{CLOSED_ACCOUNT_NAME} {user_id}"


def close_account(
    actor: User | None, user_id: int, password: str | None = None, address: str | None = None
) -> User:
    """Close an account: the person themselves (with their password) or an admin on request.

    The password check is throttled like a login. An organisation's last admin hands the
    role over first, so no organisation is left that nobody can manage or answer for.
    """
    actor = policy.require_login(actor)
    user = db.session.get(User, user_id)
    if user is None or user.is_closed:
        raise NotFound(_("No such account."))
    if actor.id == user.id:
        confirm_password(user, password, address, field="password")
    elif not policy.is_admin(actor):
        raise Forbidden(_("You may not do that."))
    _lock_account(user)
    if actor.id != user.id and user.is_admin:  # read under the lock: made an admin meanwhile
        raise Forbidden(_("Remove the admin role before closing an admin's account."))
    led = organisations_led_alone(user)  # locks the organisations they are an admin of
    if led:
        raise Conflict(
            _(
                "%(person)s is the last admin of %(names)s. Appoint another admin first.",
                person=user.display_name,
                names=", ".join(led),
            )
        )
    old_email, old_handle = user.email, user.handle
    copies = db.session.scalars(
        select(PersonalExport.id).where(PersonalExport.user_id == user.id)
    ).all()
    names = names_used(user)
    _delete_personal_rows(user, old_email, names)
    _unname_others_mail(user.id, names, old_handle, old_email, pseudonym(user.id))
    _unname_others_notices(user.id, names, pseudonym(user.id))
    _pseudonymise_mentions(user.handle, pseudonym(user.id))
    user.email = f"closed-{user.id}@{CLOSED_DOMAIN}"
    user.handle = f"fd-{user.id}"
    user.display_name = pseudonym(user.id)
    user.password_hash = "!closed"  # noqa: S105 - matches no password
    user.locale = None
    user.email_notifications = False
    user.is_moderator = False
    user.department_id = None
    audit(actor, "account.close", "user", user.id, "self" if actor.id == user.id else "admin")
    db.session.flush()  # the index follows the rewritten rows first
    search_index.forget_terms(db.session.connection(), old_email, old_handle, *names)
    db.session.commit()
    # the zips of "download my data" hold everything above: they go once the closing is kept
    exports.remove_export_files(list(copies))
    disconnect_user(user.id)
    return user


def _lock_account(user: User) -> None:
    """Lock the person's row until commit and read it afresh, so a second click on "close my
    account" (or an admin closing it meanwhile) waits, then finds it closed.

    After the password check, which commits (it counts the attempt), and before the
    organisations are locked (organisations_led_alone): the membership changes and reviews
    lock one organisation and no person, so the two orders cannot meet in a cycle. The
    person's lock (lock_person) is not a key lock: a row written that refers to the person
    (the log entry of them leaving an organisation in another tab, a notice to them) takes a
    key-share lock on their row, and SELECT ... FOR UPDATE would make that writer wait for
    this closing while this closing waits for the writer's organisation: PostgreSQL would
    end one of them as a deadlock."""
    lock_person(user.id)
    db.session.refresh(user)
    if user.is_closed:
        raise NotFound(_("No such account."))


# a notice's excerpt, rewritten under the pseudonym, is cut to its column again
EXCERPT_LENGTH: int = Notification.__table__.c.excerpt.type.length  # type: ignore[attr-defined]  # 300

# Stored text that can @mention someone: (model, markdown column, HTML column).
MENTIONING = (
    (Message, "body", "html"),
    (MessageRevision, "body", "html"),
    (ActionUpdate, "body", "html"),
    (Action, "description", "description_html"),
    (Forum, "description", "description_html"),
    (ConsultationRound, "problem", "problem_html"),
    (ConsultationRound, "background", "background_html"),
    (VersionAnswer, "body", "html"),
    (ConsultationFeedback, "heard", "heard_html"),
    (ConsultationFeedback, "action", "action_html"),
)

# Stored text that can @mention someone but has no HTML of its own: a response's working
# copy (rendered, and its mentions linked, when it is submitted again) and the round's
# public "changes after opening" (shown as written).
MENTIONING_TEXT = (
    (ConsultationAnswer, "body"),
    (RoundRevision, "before"),
    (RoundRevision, "after"),
)


def _pseudonymise_mentions(handle: str, name: str) -> None:
    """Others' text keeps its words (a public record) but no longer points at the person.

    A mention was a link to the person's profile under their handle, which often
    carries their name. In the stored HTML it becomes the pseudonym, unlinked; in
    the markdown it becomes the pseudonym as plain text, so a later edit or
    re-render cannot link it again (to the closed account, or to whoever takes
    the handle next). The search index follows the rewritten rows.
    """
    path = path_for("forums.person", handle=handle)
    link = re.compile(
        r'<a href="' + re.escape(path) + r'" class="mention"[^>]*>@[^<]*</a>', re.IGNORECASE
    )
    shown = Markup('<span class="mention mention-closed">@%s</span>') % name
    for model, source, html in MENTIONING:
        column = getattr(model, html)
        for row in db.session.scalars(select(model).where(column.contains(f'href="{path}"'))):
            setattr(row, html, link.sub(lambda _m: str(shown), getattr(row, html)))
            setattr(row, source, _unmention(getattr(row, source) or "", handle, name))
            _shown_changed(row)
    for text_model, text_column in MENTIONING_TEXT:
        column = getattr(text_model, text_column)
        for row in db.session.scalars(
            select(text_model).where(column.icontains("@" + handle, autoescape=True))
        ):
            setattr(row, text_column, _unmention(getattr(row, text_column), handle, name))
            _shown_changed(row)
    # others' notifications quote the text that mentioned the person (plain text)
    # (a handle is matched whatever its case, as a mention links: "@Mira.Medlem" too)
    for note in db.session.scalars(
        select(Notification).where(Notification.excerpt.icontains("@" + handle, autoescape=True))
    ):
        note.excerpt = _unmention(note.excerpt, handle, name)[:EXCERPT_LENGTH]


def _shown_changed(row: Any) -> None:
    """A text rewritten here shows on a round or an action (its own, a response's, the
    feedback's, the record of changes, an update): that item changed for its readers, and
    the open-data API's `changed_since` must give it again."""
    if isinstance(row, Action | ActionUpdate):
        action = row if isinstance(row, Action) else db.session.get(Action, row.action_id)
        if action is not None:
            follow_up.mark_changed(action)
        return
    round_ = _round_showing(row)
    if round_ is not None:
        consultations.mark_changed(round_)


def _round_showing(row: Any) -> ConsultationRound | None:
    """The round whose public pages show `row`, if any: a working answer is shown to nobody
    else, a submitted one once the responses are published, the feedback once it is (before,
    a changed round would tell a visitor that a response or the feedback named the person)."""
    if isinstance(row, ConsultationRound):
        return row
    if isinstance(row, RoundRevision):
        return db.session.get(ConsultationRound, row.round_id)
    if isinstance(row, ConsultationFeedback):
        round_ = db.session.get(ConsultationRound, row.round_id)
        return round_ if round_ is not None and round_.state == RoundState.published else None
    if isinstance(row, VersionAnswer):
        round_ = db.session.scalar(
            select(ConsultationRound)
            .join(ConsultationResponse, ConsultationResponse.round_id == ConsultationRound.id)
            .join(ResponseVersion, ResponseVersion.response_id == ConsultationResponse.id)
            .where(ResponseVersion.id == row.version_id)
        )
        return round_ if round_ is not None and responses_are_public(round_) else None
    return None


def _unmention(source: str, handle: str, name: str) -> str:
    """`source` with each @mention of `handle` (by forum.text's rule) replaced by `name`."""

    def swap(match: re.Match[str]) -> str:
        start, written = match.start(), match.group(1)
        found = written.rstrip("._-")
        if (start > 0 and HANDLE_CHARS.match(source[start - 1])) or found.lower() != handle.lower():
            return match.group(0)
        return name + written[len(found) :]

    return MENTION_RE.sub(swap, source)


def _unname_others_mail(user_id: int, names: set[str], handle: str, email: str, name: str) -> None:
    """Others' mail, sent or still to go, tells its news under the pseudonym.

    A mail that names the person ("Ture Brevsson nämnde dig i …") tells of a post that stays
    a public record under the pseudonym, and its reader keeps the notification, so a waiting
    mail still goes out, saying what the site now says; a sent mail's copy in the outbox
    keeps what it told, not who the person was. Their names, address and @mentions become
    the pseudonym, as whole words only ("Anna" in "Annika" stays).

    Only mail about the person: one telling of their notice, a digest to someone told of
    something they did, or one with their address or an @mention of them (a handle in any
    case). Another "Anna Berg", or the "Kim" in "Tack Kim!", is someone else.
    """
    columns = (OutboxMail.subject, OutboxMail.body, OutboxMail.html_body)

    def holding(forms: set[str]) -> Any:
        forms = forms | {str(escape(form)) for form in forms}
        return or_(*(c.icontains(form, autoescape=True) for c in columns for form in sorted(forms)))

    theirs = select(Notification.id).where(Notification.actor_id == user_id)
    told = select(User.email).join(Notification, Notification.user_id == User.id)
    found = or_(
        OutboxMail.notification_id.in_(theirs),
        and_(
            OutboxMail.notification_id.is_(None),
            OutboxMail.to_address.in_(told.where(Notification.actor_id == user_id)),
            holding(set(names)),
        ),
        holding({email, "@" + handle}),
    )
    words = sorted({*names, email}, key=len, reverse=True)
    plain = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")
    marked = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(str(escape(w))) for w in words) + r")(?!\w)"
    )

    def unname(text: str, pattern: re.Pattern[str]) -> str:
        return _unmention(pattern.sub(name, text), handle, name)

    for mail in db.session.scalars(select(OutboxMail).where(found)):
        mail.subject = unname(mail.subject, plain)[:300]
        mail.body = unname(mail.body, plain)
        if mail.html_body:
            mail.html_body = unname(mail.html_body, marked)


def _unname_others_notices(user_id: int, names: set[str], name: str) -> None:
    """Others' notices of what the person did quote their name in the excerpt ("Mira Medlem
    saved a draft…", "… attached a file"): under the pseudonym now, as the mail, whole
    words only."""
    words = sorted((n for n in names if n), key=len, reverse=True)
    if not words:
        return
    plain = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")
    for note in db.session.scalars(
        select(Notification).where(
            Notification.actor_id == user_id, Notification.user_id != user_id
        )
    ):
        if note.excerpt:
            # the pseudonym may be longer than the name: cut to the column's length again
            note.excerpt = plain.sub(name, note.excerpt)[:EXCERPT_LENGTH]


def _delete_personal_rows(user: User, email: str, names: set[str]) -> None:
    user_id = user.id
    notifications = select(Notification.id).where(Notification.user_id == user_id)
    for statement in (
        # mail first: a mail telling of a notification refers to it
        delete(OutboxMail).where(
            or_(OutboxMail.to_address == email, OutboxMail.notification_id.in_(notifications))
        ),
        delete(Membership).where(Membership.user_id == user_id),
        delete(LoginAttempt).where(LoginAttempt.email.in_(throttle_keys(user))),  # still its email
        delete(PasswordReset).where(PasswordReset.user_id == user_id),
        delete(Notification).where(Notification.user_id == user_id),
        delete(NotificationPreference).where(NotificationPreference.user_id == user_id),
        delete(ReadMarker).where(ReadMarker.user_id == user_id),
        delete(ReadingChange).where(ReadingChange.user_id == user_id),
        delete(ApiToken).where(ApiToken.user_id == user_id),
        delete(UserSession).where(UserSession.user_id == user_id),  # ends every login too
        delete(ActionFollower).where(ActionFollower.user_id == user_id),
        delete(forum_members).where(forum_members.c.user_id == user_id),
        delete(forum_moderators).where(forum_moderators.c.user_id == user_id),
    ):
        db.session.execute(statement)
    db.session.execute(delete(PersonalExport).where(PersonalExport.user_id == user_id))
    # The audit log stays (it is the record of what was done), but not who the person was:
    # their address, and each name they went by in the form the log writes it
    # ("Name (user 12)"), become the pseudonym. Only those exact forms: someone else's entry
    # that merely contains the same letters ("Anna" in "Annika") is left as it is.
    replacements = [(email, pseudonym(user_id))]
    replacements += [
        (f"{name} (user {user_id})", f"{pseudonym(user_id)} (user {user_id})") for name in names
    ]
    for old, new in replacements:
        db.session.execute(
            update(AuditEntry)
            .where(AuditEntry.reason.contains(old, autoescape=True))
            .values(reason=func.replace(AuditEntry.reason, old, new))
        )


# Audit actions whose reason is the person's name form, "Name (user 12)", as it was then.
NAMING_ACTIONS = ("membership.%", "forum.%", "account.renamed")


def names_used(user: User) -> set[str]:
    """Every name the person went by that the app wrote down: the current one, and earlier ones
    (before a rename) as the audit log wrote them at the time."""
    suffix = f" (user {user.id})"
    reasons = db.session.scalars(
        select(AuditEntry.reason).where(
            AuditEntry.reason.endswith(suffix, autoescape=True),
            or_(*(AuditEntry.action.like(pattern) for pattern in NAMING_ACTIONS)),
        )
    )
    return {user.display_name} | {r[: -len(suffix)] for r in reasons if len(r) > len(suffix)}


# --- what the app holds about a person (GDPR arts. 15 and 20) ------------------------

# Every table with a reference to a person, and where it is in `personal_data` or why not:
#   users                              -> account
#   user_sessions                      -> sessions
#   password_resets.user_id            -> password_resets (when asked and used; the token is
#                                         a hash of a secret, useless to anyone, left out)
#   api_tokens                         -> api_tokens (name, prefix; never the secret)
#   notifications.user_id              -> notifications
#   notifications.actor_id             -> out: the notification is the recipient's data
#   notification_preferences           -> notification_preferences
#   audit_log.actor_id                 -> audit_entries_by_me (without the other person)
#   organisations.created_by_id        -> organisations_registered
#   memberships                        -> memberships
#   forums.created_by_id               -> forums_created
#   forum_members, forum_moderators    -> forums_member_of, forums_moderated
#   threads.author_id                  -> threads_started
#   messages.author_id                 -> messages (with their revisions, except the original
#                                         of a text a moderator redacted: often someone
#                                         else's personal data, for admins only)
#   read_markers                       -> read_markers
#   message_reactions                  -> reactions
#   flags.user_id                      -> flags
#   flags.resolved_by_id               -> out: who flagged is the flagger's data; what the
#                                         moderator did is in audit_entries_by_me
#   moderation_actions.subject_id      -> moderation_about_me
#   moderation_actions.actor_id,
#     .reversed_by_id                  -> out: about another person (audit_entries_by_me)
#   appeals.user_id                    -> appeals
#   appeals.decided_by_id              -> out: another person's appeal (audit_entries_by_me)
#   consultation_rounds.created_by_id  -> rounds_created (a draft they may no longer read
#                                         without its title)
#   consultation_responses.updated_by_id -> responses_edited (with the working copy's text;
#                                         earlier drafters' text was overwritten, not kept;
#                                         and the reason when their edit was the decline)
#   consultation_response_versions.submitted_by_id -> response_versions_submitted (the text)
#   consultation_feedback.updated_by_id -> feedback_edited
#   consultation_round_revisions.changed_by_id -> round_changes
#   documents.uploaded_by_id           -> documents_uploaded (name and size; the file itself
#                                         is the organisation's or the city's record)
#   actions.proposed_by_id, .accepted_by_id -> actions_proposed, actions_accepted
#   action_updates.author_id           -> action_updates
#   action_history.actor_id            -> action_changes
#   action_followers                   -> actions_followed
#   personal_exports                   -> out: the copies of this very export
#   login_attempts, outbox (by address, no reference) -> out: throttling counters and the
#                                         mail already sent to the person
#   reading_changes                    -> out: only when what the person may read last
#                                         changed (the open-data API's sync), deleted on
#                                         closing; the changes themselves are in the audit log


def personal_data(user: User) -> dict[str, Any]:
    """Everything the app holds about `user`, as plain JSON-ready data."""
    uid = user.id
    messages = db.session.scalars(
        select(Message).where(Message.author_id == uid).order_by(Message.id)
    ).all()
    revisions = db.session.scalars(
        select(MessageRevision)
        .where(
            MessageRevision.message_id.in_([m.id for m in messages] or [0]),
            # a text a moderator redacted (personal data, often someone else's) is for admins
            MessageRevision.admin_only.is_(False),
        )
        .order_by(MessageRevision.id)
    ).all()
    by_message: dict[int, list[dict[str, Any]]] = {}
    for r in revisions:
        by_message.setdefault(r.message_id, []).append(
            {
                "body": r.body,
                "created_at": iso_utc(r.created_at),
                "replaced_at": iso_utc(r.replaced_at),
            }
        )
    memberships = db.session.scalars(
        select(Membership).where(Membership.user_id == uid).order_by(Membership.id)
    ).all()
    return {
        "account": {
            "id": uid,
            "email": user.email,
            "handle": user.handle,
            "display_name": user.display_name,
            "locale": user.locale,
            "is_admin": user.is_admin,
            "is_moderator": user.is_moderator,
            "department": user.department.name if user.department else None,
            "email_notifications": user.email_notifications,
            "suspended_until": iso_utc(user.suspended_until),
            "created_at": iso_utc(user.created_at),
        },
        "memberships": [
            {
                "organisation": m.organisation.name,
                "role": m.role.value,
                "status": m.status.value,
                "created_at": iso_utc(m.created_at),
            }
            for m in memberships
        ],
        **_forum_data(user),
        "messages": [
            {
                "id": m.id,
                "thread_id": m.thread_id,
                "state": m.state.value,
                "body": m.body,
                "created_at": iso_utc(m.created_at),
                "edited_at": iso_utc(m.edited_at),
                "revisions": by_message.get(m.id, []),
            }
            for m in messages
        ],
        **_consultation_data(user),
        **_follow_up_data(user),
        "flags": [
            {
                "message_id": f.message_id,
                "reason": str(getattr(f, "reason", "")),
                "note": f.note,
                "created_at": iso_utc(f.created_at),
            }
            for f in db.session.scalars(select(Flag).where(Flag.user_id == uid))
        ],
        "notifications": [
            {
                "kind": n.kind,
                "url": n.url,
                "excerpt": n.excerpt,
                "created_at": iso_utc(n.created_at),
            }
            for n in db.session.scalars(
                select(Notification).where(Notification.user_id == uid).order_by(Notification.id)
            )
        ],
        "notification_preferences": [
            {"kind": p.kind, "mode": p.mode}
            for p in db.session.scalars(
                select(NotificationPreference)
                .where(NotificationPreference.user_id == uid)
                .order_by(NotificationPreference.kind)
            )
        ],
        "sessions": [
            {
                "device": row.user_agent,
                "created_at": iso_utc(row.created_at),
                "last_seen_at": iso_utc(row.last_seen_at),
                "ended_at": iso_utc(row.revoked_at),
            }
            for row in db.session.scalars(
                select(UserSession).where(UserSession.user_id == uid).order_by(UserSession.id)
            )
        ],
        "password_resets": [
            {
                "created_at": iso_utc(r.created_at),
                "expires_at": iso_utc(r.expires_at),
                "used_at": iso_utc(r.used_at),
            }
            for r in db.session.scalars(
                select(PasswordReset).where(PasswordReset.user_id == uid).order_by(PasswordReset.id)
            )
        ],
        "api_tokens": [
            {
                "name": t.name,
                "prefix": t.prefix,
                "scopes": t.scopes,
                "created_at": iso_utc(t.created_at),
            }
            for t in db.session.scalars(select(ApiToken).where(ApiToken.user_id == uid))
        ],
        "moderation_about_me": [
            {
                "kind": str(a.kind),
                "reason": payloads.decision_reason(a.principle, a.reason),
                "created_at": iso_utc(a.created_at),
            }
            for a in db.session.scalars(
                select(ModerationAction).where(ModerationAction.subject_id == uid)
            )
        ],
        "appeals": [
            {
                "body": a.body,
                "created_at": iso_utc(a.created_at),
                "decided_at": iso_utc(a.decided_at),
                "outcome": a.outcome.value if a.outcome else None,
                "decision_note": a.decision_note,
            }
            for a in db.session.scalars(
                select(Appeal).where(Appeal.user_id == uid).order_by(Appeal.id)
            )
        ],
        **_audit_entries(uid),
    }


def _forum_data(user: User) -> dict[str, list[dict[str, Any]]]:
    """The person's forums, threads, reactions and reading places (not their messages).

    A thread they started and may no longer read (removed from its invite-only forum, or
    the thread moved into one) is listed without its title and forum, as their notices
    name it: both may have been changed since by people the person no longer reads."""
    uid = user.id

    def forums(table: Any) -> list[dict[str, Any]]:
        rows = db.session.scalars(
            select(Forum)
            .join(table, table.c.forum_id == Forum.id)
            .where(table.c.user_id == uid)
            .order_by(Forum.id)
        )
        return [{"forum_id": f.id, "forum": f.title} for f in rows]

    threads = select(Thread).where(Thread.author_id == uid).order_by(Thread.id)
    readable = set(
        db.session.scalars(
            select(Thread.id).where(Thread.author_id == uid, thread_readable(user, Thread))
        )
    )
    with in_language_of(user):
        unreadable = _("a thread you can no longer read")
    reactions = (
        select(MessageReaction).where(MessageReaction.user_id == uid).order_by(MessageReaction.id)
    )
    markers = select(ReadMarker).where(ReadMarker.user_id == uid).order_by(ReadMarker.thread_id)
    created = select(Forum).where(Forum.created_by_id == uid).order_by(Forum.id)
    organisations = (
        select(Organisation).where(Organisation.created_by_id == uid).order_by(Organisation.id)
    )
    return {
        "organisations_registered": [
            {"organisation": o.name, "created_at": iso_utc(o.created_at)}
            for o in db.session.scalars(organisations)
        ],
        "forums_created": [
            {"forum_id": f.id, "forum": f.title, "created_at": iso_utc(f.created_at)}
            for f in db.session.scalars(created)
        ],
        "forums_member_of": forums(forum_members),
        "forums_moderated": forums(forum_moderators),
        "threads_started": [
            {
                "id": t.id,
                "title": t.title if t.id in readable else unreadable,
                "forum_id": t.forum_id if t.id in readable else None,
                "forum": t.forum.title if t.id in readable else None,
                "created_at": iso_utc(t.created_at),
            }
            for t in db.session.scalars(threads)
        ],
        "reactions": [
            {"message_id": r.message_id, "emoji": r.emoji, "created_at": iso_utc(r.created_at)}
            for r in db.session.scalars(reactions)
        ],
        "read_markers": [
            {"thread_id": m.thread_id, "last_read_message_id": m.last_read_id}
            for m in db.session.scalars(markers)
        ],
    }


def _consultation_data(user: User) -> dict[str, list[dict[str, Any]]]:
    """Rounds the person set up, and the text of the responses they drafted and submitted.

    A working copy is the organisation's, written by colleagues too: its text only while
    the person may still draft it (a member who left gets the response without answers).
    A submitted version's text only when they submitted it themselves. A round they set up
    and may no longer read (a draft of a department they left) is not named: colleagues
    may have renamed it since. A decline's reason is theirs when they declined."""
    uid = user.id
    questions = dict(
        db.session.execute(select(ConsultationQuestion.id, ConsultationQuestion.text)).all()
    )

    def answers(rows: list[ConsultationAnswer] | list[VersionAnswer]) -> list[dict[str, Any]]:
        return [{"question": questions.get(a.question_id), "answer": a.body} for a in rows]

    edited = (
        select(ConsultationResponse, ConsultationRound)
        .join(ConsultationRound, ConsultationRound.id == ConsultationResponse.round_id)
        .where(ConsultationResponse.updated_by_id == uid)
    )
    versions = (
        select(ResponseVersion, ConsultationResponse.round_id)
        .join(ConsultationResponse, ConsultationResponse.id == ResponseVersion.response_id)
        .where(ResponseVersion.submitted_by_id == uid)
        .order_by(ResponseVersion.id)
    )
    rounds = select(ConsultationRound).where(ConsultationRound.created_by_id == uid)
    readable = set(
        db.session.scalars(
            select(ConsultationRound.id).where(
                ConsultationRound.created_by_id == uid, round_readable(user, ConsultationRound)
            )
        )
    )
    with in_language_of(user):
        unreadable = _("a round you can no longer read")
    declined = {
        (round_id, name)
        for round_id, name in db.session.execute(
            select(AuditEntry.target_id, AuditEntry.reason).where(
                AuditEntry.actor_id == uid, AuditEntry.action == "consultation.response.declined"
            )
        )
    }
    feedback = select(ConsultationFeedback).where(ConsultationFeedback.updated_by_id == uid)
    changes = select(RoundRevision).where(RoundRevision.changed_by_id == uid)
    documents = select(Document).where(Document.uploaded_by_id == uid).order_by(Document.id)
    return {
        "rounds_created": [
            {
                "id": r.id,
                "title": r.title if r.id in readable else unreadable,
                "created_at": iso_utc(r.created_at),
            }
            for r in db.session.scalars(rounds.order_by(ConsultationRound.id))
        ],
        # the working copies they saved last (the text as it stands, submitted or not)
        "responses_edited": [
            {
                "id": r.id,
                "round_id": r.round_id,
                "organisation": r.organisation.name,
                "status": r.status.value,
                "updated_at": iso_utc(r.updated_at),
                # the reason, when the decline was theirs (the log says who declined: a
                # colleague may have saved the draft since, the status still declined)
                **(
                    {"decline_reason": r.decline_reason}
                    if r.status == ResponseStatus.declined
                    and (r.round_id, r.organisation.name) in declined
                    else {}
                ),
                **(
                    {"answers": answers(r.answers)}
                    if policy.can_draft_response(user, round_, r.organisation)
                    else {}
                ),
            }
            for r, round_ in db.session.execute(edited.order_by(ConsultationResponse.id))
        ],
        "response_versions_submitted": [
            {
                "response_id": v.response_id,
                "round_id": round_id,
                "version": v.number,
                "submitted_at": iso_utc(v.submitted_at),
                "answers": answers(v.answers),
            }
            for v, round_id in db.session.execute(versions)
        ],
        "feedback_edited": [
            {
                "round_id": f.round_id,
                "question": questions.get(f.question_id),
                "heard": f.heard,
                "action": f.action,
                "updated_at": iso_utc(f.updated_at),
            }
            for f in db.session.scalars(feedback.order_by(ConsultationFeedback.id))
        ],
        "round_changes": [
            {
                "round_id": c.round_id,
                "part": c.part,
                "reason": c.reason,
                "changed_at": iso_utc(c.changed_at),
            }
            for c in db.session.scalars(changes.order_by(RoundRevision.id))
        ],
        "documents_uploaded": [
            {
                "filename": d.filename,
                "size": d.size,
                "sha256": d.sha256,
                "created_at": iso_utc(d.created_at),
                "removed_at": iso_utc(d.removed_at),
            }
            for d in db.session.scalars(documents)
        ],
    }


def _follow_up_data(user: User) -> dict[str, list[dict[str, Any]]]:
    """The actions the person proposed, accepted, updated, changed and follows.

    An action a moderator hid that the person only follows is named by the placeholder its
    notices show; a title a moderator redacted is not in the changes (the original is kept
    for admins, as a redacted message's text is)."""
    uid = user.id

    def actions(column: Any) -> list[dict[str, Any]]:
        rows = db.session.scalars(select(Action).where(column == uid).order_by(Action.id))
        return [
            {"action_id": a.id, "title": a.title, "created_at": iso_utc(a.created_at)} for a in rows
        ]

    followed = (
        select(ActionFollower, Action.title, Action.hidden_at)
        .join(Action, Action.id == ActionFollower.action_id)
        .where(ActionFollower.user_id == uid)
        .order_by(ActionFollower.action_id)
    )
    updates = select(ActionUpdate).where(ActionUpdate.author_id == uid).order_by(ActionUpdate.id)
    history = (
        select(ActionHistory)
        .where(ActionHistory.actor_id == uid, ActionHistory.admin_only.is_(False))
        .order_by(ActionHistory.id)
    )
    with in_language_of(user):
        hidden = _("[Action hidden by a moderator]")  # what its notices quote
    return {
        "actions_followed": [
            {
                "action_id": f.action_id,
                "title": title if hidden_at is None else hidden,
                "since": iso_utc(f.created_at),
            }
            for f, title, hidden_at in db.session.execute(followed)
        ],
        "actions_proposed": actions(Action.proposed_by_id),
        "actions_accepted": actions(Action.accepted_by_id),
        "action_updates": [
            {"action_id": u.action_id, "body": u.body, "created_at": iso_utc(u.created_at)}
            for u in db.session.scalars(updates)
        ],
        "action_changes": [
            {
                "action_id": h.action_id,
                "field": h.field,
                "old_value": h.old_value,
                "new_value": h.new_value,
                "created_at": iso_utc(h.created_at),
            }
            for h in db.session.scalars(history)
        ],
    }


def _audit_entries(uid: int) -> dict[str, list[dict[str, Any]]]:
    """The audit log's entries about the person, and those they wrote about anything else.

    An entry about the person is theirs in full. An entry they wrote (as an organisation's
    admin, a moderator) keeps what they did and when, but not the other person it was about:
    that person's name form ("Name (user 12)") and what was written about them are that
    person's data, not this one's.
    """
    suffix = f" (user {uid})"
    about_me = or_(
        (AuditEntry.target_type == "user") & (AuditEntry.target_id == uid),
        AuditEntry.reason.endswith(suffix, autoescape=True)
        & or_(*(AuditEntry.action.like(pattern) for pattern in NAMING_ACTIONS)),
    )
    about = db.session.scalars(select(AuditEntry).where(about_me).order_by(AuditEntry.id)).all()
    seen = {e.id for e in about}
    written = db.session.scalars(
        select(AuditEntry).where(AuditEntry.actor_id == uid).order_by(AuditEntry.id)
    )
    return {
        "audit_entries_about_me": [
            {"action": e.action, "reason": e.reason, "created_at": iso_utc(e.created_at)}
            for e in about
        ],
        "audit_entries_by_me": [
            {
                "action": e.action,
                "target_type": e.target_type,
                "target_id": None if e.target_type == "user" else e.target_id,
                "reason": None if _about_someone(e) else e.reason,
                "created_at": iso_utc(e.created_at),
            }
            for e in written
            if e.id not in seen
        ],
    }


_NAME_FORM = re.compile(r".* \(user \d+\)")


def _about_someone(entry: AuditEntry) -> bool:
    """Whether an entry's reason is about another person (their account, or their name)."""
    return entry.target_type == "user" or bool(_NAME_FORM.fullmatch(entry.reason or ""))
