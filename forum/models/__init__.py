"""SQLAlchemy models, one module per domain, importable from one place (Alembic needs them registered): may import only base modules (extensions, errors, ...)."""

from .accounts import LoginAttempt, OutboxMail, PasswordReset, User
from .activity import AuditEntry, Notification
from .agreement import Commitment, Department, Principle
from .api_tokens import ApiToken
from .consultations import (
    Audience,
    ConsultationAnswer,
    ConsultationFeedback,
    ConsultationQuestion,
    ConsultationReminder,
    ConsultationResponse,
    ConsultationRound,
    Phase,
    ResponseStatus,
    ResponseVersion,
    RoundState,
    Stage,
    VersionAnswer,
)
from .exports import PersonalExport
from .follow_up import (
    Action,
    ActionFollower,
    ActionHistory,
    ActionReminder,
    ActionStatus,
    ActionUpdate,
)
from .forums import (
    Forum,
    Message,
    MessageReaction,
    MessageRevision,
    MessageState,
    ReadMarker,
    Thread,
    Visibility,
)
from .moderation import ActionKind, Appeal, AppealOutcome, Flag, FlagReason, ModerationAction
from .organisations import (
    MemberRole,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationForm,
    OrganisationStatus,
)
from .search import SearchEntry

__all__ = [
    "Action",
    "ApiToken",
    "ActionFollower",
    "ActionHistory",
    "ActionReminder",
    "ActionStatus",
    "ActionUpdate",
    "ActionKind",
    "Appeal",
    "AppealOutcome",
    "Flag",
    "FlagReason",
    "ModerationAction",
    "AuditEntry",
    "Audience",
    "ConsultationAnswer",
    "ConsultationFeedback",
    "ConsultationQuestion",
    "ConsultationReminder",
    "ConsultationResponse",
    "ConsultationRound",
    "Phase",
    "ResponseStatus",
    "ResponseVersion",
    "RoundState",
    "Stage",
    "VersionAnswer",
    "Commitment",
    "Department",
    "Forum",
    "LoginAttempt",
    "Membership",
    "MembershipStatus",
    "MemberRole",
    "Message",
    "MessageReaction",
    "MessageRevision",
    "MessageState",
    "Notification",
    "Organisation",
    "OrganisationForm",
    "OrganisationStatus",
    "OutboxMail",
    "PersonalExport",
    "PasswordReset",
    "Principle",
    "ReadMarker",
    "SearchEntry",
    "Thread",
    "User",
    "Visibility",
]
