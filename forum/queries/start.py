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
    rounds_total: int  # all of them: the page says how many more there are
    actions: list[Action]
    following: set[int]
    actions_total: int  # as rounds_total
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
    actions, following, actions_total = follow_up.actions_of(user)
    rounds, rounds_total = consultations.open_rounds_for(user, now)
    notes, titles = forums.notifications_page(user, limit=LATEST_NOTIFICATIONS)
    return PersonalStart(
        unread=unread,
        unread_total=unread_total,
        rounds=rounds,
        rounds_total=rounds_total,
        actions=actions,
        following=following,
        actions_total=actions_total,
        notifications=notes,
        notification_titles=titles,
    )


def public(now: datetime) -> PublicStart:
    return PublicStart(
        rounds=consultations.open_rounds(now), feedback=consultations.latest_feedback()
    )
