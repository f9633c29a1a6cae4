"""All models, importable from one place (Alembic needs them registered)."""

from .accounts import LoginAttempt, OutboxMail, PasswordReset, User
from .activity import AuditEntry, Notification
from .agreement import Commitment, Department, Principle
from .forums import Forum, Message, MessageRevision, MessageState, ReadMarker, Thread, Visibility
from .organisations import (
    MemberRole,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationForm,
    OrganisationStatus,
)

__all__ = [
    "AuditEntry",
    "Commitment",
    "Department",
    "Forum",
    "LoginAttempt",
    "Membership",
    "MembershipStatus",
    "MemberRole",
    "Message",
    "MessageRevision",
    "MessageState",
    "Notification",
    "Organisation",
    "OrganisationForm",
    "OrganisationStatus",
    "OutboxMail",
    "PasswordReset",
    "Principle",
    "ReadMarker",
    "Thread",
    "User",
    "Visibility",
]
