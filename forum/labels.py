"""Words for codes: the one place where every audit event, target type and enum
value gets the label a person reads (templates call `audit_label`, `audit_reason`,
`target_label` and `enum_label`). A base module: imports only models and formatting.

A code without a label here is shown as a neutral "other event" rather than
as the raw code; tests/test_i18n_review_fixes.py fails on a code the app records
without a label, and tests/test_interface_language.py on raw codes in any demo page.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from enum import Enum

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from .formatting import local_from_iso
from .models import (
    ActionKind,
    ActionStatus,
    AppealOutcome,
    FlagReason,
    MessageState,
    Visibility,
)

TOKEN_SCOPES = {  # an API token's permissions (models.api_tokens.SCOPES)
    "read": _l("Read what I may read"),
    "respond": _l("Save my organisation's consultation responses"),
}

AUDIT_EVENTS = {
    "account.close": _l("Account closed"),
    "api_token.create": _l("API token created"),
    "api_token.revoke": _l("API token revoked"),
    "archive.export": _l("Exported for the archive"),
    "action.hidden": _l("Action hidden"),
    "action.unhidden": _l("Action shown again"),
    "action.redacted": _l("Personal data redacted from an action's title"),
    "appeal.submitted": _l("Appeal submitted"),
    "appeal.upheld": _l("Appeal decided: the decision stands"),
    "appeal.reversed": _l("Appeal decided: the decision was reversed"),
    "appeal.lapsed": _l("Appeal closed: the decision had already been lifted"),
    "consultation.created": _l("Consultation round created"),
    "consultation.opened": _l("Consultation round opened"),
    "consultation.closed": _l("Consultation round closed"),
    "consultation.response.submitted": _l("Consultation response submitted"),
    "consultation.feedback.published": _l("Consultation feedback published"),
    "consultation.deadline.changed": _l("Consultation deadline changed"),
    "consultation.revised": _l("Consultation round corrected"),
    "consultation.question.removed": _l("Consultation question removed"),
    "consultation.document.added": _l("Consultation document added"),
    "consultation.document.removed": _l("Consultation document removed"),
    "consultation.invited": _l("Organisations invited to a consultation round"),
    "consultation.reminded": _l("Consultation reminder sent"),
    "consultation.response.declined": _l("Consultation declined by an organisation"),
    "demo.completed": _l("Demo created"),
    "flags.dismissed": _l("Flags dismissed"),
    "forum.visibility": _l("Who can read the forum changed"),
    "forum.member.added": _l("Forum member added"),
    "account.renamed": _l("Display name changed"),
    "account.password_set": _l("Password set by the operators"),
    "forum.member.removed": _l("Forum member removed"),
    "forum.moderator.added": _l("Forum moderator appointed"),
    "forum.moderator.removed": _l("Forum moderator removed"),
    "membership.requested": _l("Membership requested"),
    "membership.approved": _l("Membership approved"),
    "membership.rejected": _l("Membership rejected"),
    "membership.removed": _l("Member removed"),
    "membership.left": _l("Member left"),
    "membership.admin_granted": _l("Made an organisation admin"),
    "membership.admin_removed": _l("No longer an organisation admin"),
    "message.hidden": _l("Message hidden"),
    "message.auto_hidden": _l("Message hidden automatically after flags"),
    "message.restored": _l("Message restored"),
    "message.redacted": _l("Personal data redacted"),
    "message.redaction_kept": _l("Redaction partly kept on appeal: later changes to the same text"),
    "organisation.registered": _l("Organisation registered"),
    "organisation.verified": _l("Organisation verified"),
    "organisation.rejected": _l("Organisation rejected"),
    "role.granted": _l("Role granted"),
    "role.revoked": _l("Role revoked"),
    "session.token_reused": _l("Login ended: a replaced remember-me token was used again"),
    "thread.locked": _l("Thread locked"),
    "thread.unlocked": _l("Thread unlocked"),
    "thread.pinned": _l("Thread pinned"),
    "thread.unpinned": _l("Thread unpinned"),
    "thread.archived": _l("Thread archived"),
    "thread.unarchived": _l("Thread taken out of the archive"),
    "thread.renamed": _l("Thread renamed"),
    "thread.moved": _l("Thread moved"),
    "thread.slow_mode": _l("Slow mode changed"),
    "user.warned": _l("Person warned"),
    "user.muted": _l("Person muted"),
    "user.unmuted": _l("Mute lifted"),
    "user.suspended": _l("Account suspended"),
    "user.unsuspended": _l("Suspension lifted"),
}

TARGET_TYPES = {
    "message": _l("message"),
    "thread": _l("thread"),
    "forum": _l("forum"),
    "user": _l("person"),
    "organisation": _l("organisation"),
    "consultation": _l("consultation round"),
    "moderation_action": _l("moderation decision"),
    "appeal": _l("appeal"),
    "action": _l("action"),
    "api_token": _l("API token"),
}

ENUMS: dict[type[Enum], dict[str, object]] = {
    ActionKind: {
        "hide": _l("hide the message"),
        "redact": _l("redact personal data"),
        "warn": _l("warning"),
        "mute": _l("mute in the forum"),
        "suspend": _l("suspend the account"),
        "hide_action": _l("hide the follow-up action"),
    },
    AppealOutcome: {
        "upheld": _l("the decision stands"),
        "reversed": _l("the decision was reversed"),
        "lapsed": _l("closed: the decision had already been lifted"),
    },
    ActionStatus: {
        "planned": _l("Planned"),
        "in_progress": _l("In progress"),
        "done": _l("Done"),
        "dropped": _l("Dropped"),
    },
    FlagReason: {
        "spam": _l("Spam or advertising"),
        "offensive": _l("Offensive or abusive"),
        "off_topic": _l("Off topic"),
        "personal_data": _l("Personal data"),
        "other": _l("Other"),
    },
    MessageState: {"visible": _l("visible"), "hidden": _l("hidden"), "deleted": _l("deleted")},
    Visibility: {  # the words of the forum list's badges
        "public": _l("Public"),
        "members": _l("For logged-in members"),
        "invite": _l("Invite only"),
    },
}

# The roles an audit reason names (services.admin.ROLES, and "member" from the command line),
# in the words of the admin page.
ROLE_NAMES = {
    "official": _l("Official"),
    "moderator": _l("Site moderator"),
    "admin": _l("Admin"),
    "member": _l("Member"),
}


def audit_label(code: str) -> str:
    """The words for an audit event code (never the dotted code itself)."""
    label = AUDIT_EVENTS.get(code)
    return str(label) if label is not None else str(_l("Other event"))


def target_label(kind: str) -> str:
    label = TARGET_TYPES.get(kind)
    return str(label) if label is not None else str(_l("item"))


def enum_label(value: object, enum: type[Enum] | None = None) -> str:
    """The words for an enum member (or its value, given the enum it belongs to)."""
    if isinstance(value, Enum):
        enum, value = type(value), value.value
    if enum is not None:
        label = ENUMS.get(enum, {}).get(str(value))
        if label is not None:
            return str(label)
    for labels in ENUMS.values():
        if str(value) in labels:
            return str(labels[str(value)])
    return "–" if value in (None, "") else str(value)


# The reactions a message can get (forum/queries/reactions.py keeps the same order), named
# for screen readers: "Reagera med tumme upp, 3 personer".
REACTION_NAMES = {
    "👍": _l("thumbs up"),
    "❤️": _l("heart"),
    "🎉": _l("celebration"),
    "❓": _l("question"),
    "✅": _l("done"),
}


_ISO = r"\d{4}-\d\d-\d\dT[\d:.]+Z"
# Audit details the services store as finished English fragments: the fixed words and the
# time are put in the reader's language when shown, the stored rows stay as they are.
_AUDIT_DETAILS: dict[str, list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]] = {
    "role.granted": [
        (
            re.compile(r"(?P<role>\w+) \(command line\)"),
            lambda m: gettext("%(role)s (command line)", role=_role(m["role"])),
        ),
        # an official's department is a name, shown as written
        (re.compile(r"official \((?P<x>.+)\)", re.S), lambda m: f"{_role('official')} ({m['x']})"),
        (re.compile(r"\w+"), lambda m: _role(m[0])),
    ],
    "thread.moved": [
        (re.compile(r"from (?P<x>.+)", re.S), lambda m: gettext("from %(forum)s", forum=m["x"])),
        (re.compile(r"to (?P<x>.+)", re.S), lambda m: gettext("to %(forum)s", forum=m["x"])),
    ],
}
_UNTIL = (
    re.compile(rf"(?P<reason>.*) \(until (?P<until>{_ISO})\)", re.S),
    lambda m: gettext(
        "%(reason)s (until %(time)s)", reason=m["reason"], time=local_from_iso(m["until"])
    ),
)
_AUDIT_DETAILS["user.suspended"] = _AUDIT_DETAILS["user.muted"] = [_UNTIL]
_AUDIT_DETAILS["role.revoked"] = _AUDIT_DETAILS["role.granted"]
_AUDIT_DETAILS["forum.visibility"] = [
    (
        re.compile(r"(?P<old>\w+) → (?P<new>\w+)"),
        lambda m: f"{enum_label(m['old'], Visibility)} → {enum_label(m['new'], Visibility)}",
    )
]
# who closed the account (services.privacy.close_account)
_CLOSED_BY = {"self": _l("by the person themselves"), "admin": _l("by an admin")}
_AUDIT_DETAILS["account.close"] = [
    (re.compile(r"self|admin"), lambda m: str(_CLOSED_BY[m[0]])),
]
# why a token was revoked with all of its owner's (services.accounts, revoke_all_tokens)
_REVOKED_BECAUSE = {
    "log out everywhere": _l("logged out everywhere"),
    "password reset": _l("password reset"),
    "password set without the old one": _l("password set without the old one"),
}
_AUDIT_DETAILS["api_token.revoke"] = [
    (
        re.compile(rf"(?P<name>.*) \((?P<why>{'|'.join(_REVOKED_BECAUSE)})\)", re.S),
        lambda m: f"{m['name']} ({_REVOKED_BECAUSE[m['why']]})",
    )
]
# a decision reversed on appeal (services.moderation.decide_appeal, follow_up.unhide_action)
_AUDIT_DETAILS["message.restored"] = _AUDIT_DETAILS["action.unhidden"] = [
    (re.compile(r"appeal"), lambda m: gettext("on appeal")),
]
_AUDIT_DETAILS["consultation.reminded"] = [
    (
        re.compile(r"\d+"),
        lambda m: ngettext(
            "%(num)d organisation reminded", "%(num)d organisations reminded", int(m[0])
        ),
    )
]


# What a correction of a consultation round changed (its revisions' `part`; a question's
# and published feedback's parts carry an id: `question-12`): the round page's history and
# the audit log's reasons name it so.
CHANGE_LABELS = {
    "closes_at": _l("Deadline"),
    "title": _l("Title"),
    "problem": _l("The problem"),
    "background": _l("Background"),
    "question": _l("Question"),
    "guidance": _l("Guidance for a question"),
    "invited": _l("Invited organisations"),
    "question-removed": _l("Question removed"),
    "document-added": _l("Document added"),
    "document-removed": _l("Document removed"),
    # published feedback corrected: `<part>-<question id>`
    "heard": _l("What we heard"),
    "action": _l("What the city will do"),
    "sources": _l("Draws on the responses of"),
}


def change_label(part: str) -> str:
    """The words for a revision's part, `question-12` as `question`; an unknown one as is."""
    label = CHANGE_LABELS.get(part) or CHANGE_LABELS.get(part.split("-")[0])
    return str(label) if label is not None else part


# parts whose before and after are times, stored as ISO 8601 UTC (older ones as the text
# the official saw)
_TIME_PARTS = frozenset({"closes_at"})


def change_value(part: str, value: str | None) -> str:
    """A revision's before or after as the reader reads it: a time in their language and
    zone, anything else as written."""
    if value and part in _TIME_PARTS:
        with contextlib.suppress(ValueError):
            return local_from_iso(value)
    return value or ""


# a round's text corrected (services.consultations.revise_text): "<part>: <why>"
_AUDIT_DETAILS["consultation.revised"] = [
    (
        re.compile(r"(?P<part>[a-z_]+(?:-\d+)?): (?P<why>.*)", re.S),
        lambda m: f"{change_label(m['part'])}: {m['why']}",
    )
]


def _role(code: str) -> str:
    name = ROLE_NAMES.get(code)
    return str(name) if name is not None else code


def audit_reason(action: str, reason: str) -> str:
    """An audit entry's reason for the reader: a detail the app wrote in English words
    ("admin (command line)", "… (until 2026-12-05T23:58:36Z)") in the page's language and
    local time; what a person wrote is shown as written."""
    for pattern, words in _AUDIT_DETAILS.get(action, []):
        match = pattern.fullmatch(reason or "")
        if match:
            return words(match)
    return reason or ""
