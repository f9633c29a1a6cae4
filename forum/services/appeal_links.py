"""Appealing a suspension without logging in: a signed, expiring link for that one decision.

A suspended person cannot log in, so the decision's page and its appeal form (which need a
login) are out of reach while the suspension lasts. The suspension mail, and the login page
once the right password is given, carry a link signed with the app's secret (its own salt:
no other signed link of the site works here) that names the decision and its person; it
expires after LINK_MAX_AGE (the login page gives a fresh one). The appeal itself is the
ordinary one (`moderation.appeal`): once per decision, and into the moderators' queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from .. import policy
from ..errors import Conflict, DomainError, NotFound
from ..extensions import db
from ..formatting import local_datetime
from ..links import path_for
from ..models import ActionKind, Appeal, ModerationAction, User
from ..models.base import utcnow
from . import moderation

SALT = "suspension-appeal"
LINK_MAX_AGE = timedelta(days=30)


class LinkExpired(DomainError):
    """A genuine link past its age: the page says how to get a new one."""

    code = "not_found"
    status = 410


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def link_path(action: ModerationAction) -> str:
    """The site-relative link that appeals `action` (a suspension) without a login."""
    token = _serializer().dumps([action.id, action.subject_id])
    return path_for("moderation.appeal_by_link", token=token)


def notice_text(reason: str, until: datetime | None = None) -> str:
    """The suspension notice's text (in the current language and Stockholm time): when it
    ends, the reason, and what the link after it is for."""
    days = LINK_MAX_AGE.days
    if until is not None:
        reason = _("Until %(time)s: %(reason)s", time=local_datetime(until), reason=reason)
    return _(
        "%(reason)s\n\nYou cannot log in while the suspension lasts. At the link below you can "
        "read the decision and appeal it, once, without logging in. The link works for "
        "%(days)d days; after that, logging in with your password gives you a new one.",
        reason=reason,
        days=days,
    )


def current_suspension(user_id: int) -> ModerationAction | None:
    """The suspension of the person that is in force now (the newest, should there be two)."""
    now = utcnow()
    found = db.session.scalars(
        select(ModerationAction)
        .where(
            ModerationAction.kind == ActionKind.suspend,
            ModerationAction.subject_id == user_id,
            ModerationAction.reversed_at.is_(None),
        )
        .order_by(ModerationAction.id.desc())
    )
    return next((action for action in found if action.in_force(now)), None)


def decision_for(token: str) -> ModerationAction:
    """The suspension a link names; NotFound for a forged link or one naming anything else
    (another kind of decision, another person, an account closed since), LinkExpired for
    one past its age."""
    invalid = NotFound(_("This link does not work. Check that you copied all of it."))
    try:
        payload = _serializer().loads(token, max_age=int(LINK_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise LinkExpired(
            _(
                "This link has expired. Log in with your email address and password to get "
                "a new one."
            )
        ) from None
    except BadSignature:
        raise invalid from None
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) for part in payload)
    ):
        raise invalid
    action_id, subject_id = payload
    action = db.session.get(ModerationAction, action_id) if 0 < action_id < 2**63 else None
    if action is None or action.kind != ActionKind.suspend or action.subject_id != subject_id:
        raise invalid
    subject = db.session.get(User, subject_id)
    if subject is None or subject.is_closed:  # nothing is written in a closed account's name
        raise invalid
    return action


def appeal_of(action: ModerationAction) -> Appeal | None:
    return db.session.scalar(select(Appeal).where(Appeal.action_id == action.id))


def appeal_by_link(token: str, body: str | None) -> Appeal:
    """Appeal the suspension a link names, once, while it is in force."""
    action = decision_for(token)
    if not policy.can_appeal_by_link(action, utcnow()):
        raise Conflict(
            _("This suspension has ended. Log in to see the decision and appeal it there.")
        )
    person = db.session.get(User, action.subject_id)
    assert person is not None
    return moderation.appeal(person, action.id, body)
