"""The read side of the start page: a person's own overview, and the public one.

Assembled from the other query modules' functions (unread counts, notifications,
rounds, actions); a fixed number of queries whatever the amount of data (tests count
them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..models import Action, ConsultationRound, Notification, User
from . import consultations, follow_up, forums


@dataclass
class PersonalStart:
    """What a logged-in person sees first."""

    unread: list[forums.UnreadThread]
    unread_total: int
    rounds: list[ConsultationRound]
    actions: list[Action]
    following: set[int]
    notifications: list[Notification]
    notification_titles: dict[int, str]


@dataclass
class PublicStart:
    """What everyone sees: consultation rounds open now and the latest feedback."""

    rounds: list[ConsultationRound]
    feedback: list[ConsultationRound]


LATEST_NOTIFICATIONS = 5


def personal(user: User, now: datetime) -> PersonalStart:
    unread, unread_total = forums.unread_threads(user)
    actions, following = follow_up.actions_of(user)
    notes, titles = forums.notifications_page(user, limit=LATEST_NOTIFICATIONS)
    return PersonalStart(
        unread=unread,
        unread_total=unread_total,
        rounds=consultations.open_rounds_for(user, now),
        actions=actions,
        following=following,
        notifications=notes,
        notification_titles=titles,
    )


def public(now: datetime) -> PublicStart:
    return PublicStart(
        rounds=consultations.open_rounds(now), feedback=consultations.latest_feedback()
    )
