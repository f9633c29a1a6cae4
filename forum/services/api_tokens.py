"""Personal access tokens: made and revoked on the settings page, checked by the API."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import policy
from ..errors import AuthRequired, Invalid, NotFound
from ..extensions import db
from ..models import ApiToken, Organisation, User, UserSession
from ..models.api_tokens import SCOPES
from ..models.base import utcnow
from .audit import record as audit
from .transaction import lock_person

TOKEN_PREFIX = "dfp_"  # noqa: S105 - marks our tokens, not a secret
MAX_ACTIVE = 20


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    user: User | None,
    name: str,
    scopes: Iterable[str],
    organisation_id: int | None = None,
    session_key: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user`; the secret is returned once and only its hash is kept.

    `session_key`: the login asking, which must still be live under the person's lock: a
    new password or "log out everywhere" kept while this request waited revoked every token
    and session there was, and must not be followed by a token made with the old login."""
    user = policy.require_login(user)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise Invalid(_("Give the token a name of at most 80 characters."), field="name")
    chosen = sorted(set(scopes))
    if not chosen or any(s not in SCOPES for s in chosen):
        raise Invalid(_("Choose at least one permission."), field="scopes")
    organisation = None
    if organisation_id:
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None or not policy.can_act_for_organisation(user, organisation):
            raise Invalid(_("You cannot act for that organisation."), field="organisation")
    if "respond" in chosen and organisation is None:
        raise Invalid(
            _("A token that answers consultations needs an organisation."), field="organisation"
        )
    # The person's lock before counting: two requests at once would both count 19 and
    # both insert (a 21st active token); the second now waits and counts the first's.
    lock_person(user.id)
    if session_key is not None and not _session_live(user, session_key):
        raise AuthRequired(_("Your login ended before this was sent: log in again."))
    active = db.session.scalars(
        select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    if len(active) >= MAX_ACTIVE:
        raise Invalid(_("Revoke a token before you make another."), field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        organisation_id=organisation.id if organisation else None,
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[:12],
        scopes=" ".join(chosen),
    )
    db.session.add(token)
    db.session.flush()
    audit(user, "api_token.create", "api_token", token.id, name)
    db.session.commit()
    return token, raw


def revoke_token(user: User | None, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (idempotent)."""
    user = policy.require_login(user)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit(user, "api_token.revoke", "api_token", token.id, token.name)
        db.session.commit()
    return token


def _session_live(user: User, key: str) -> bool:
    """Whether the person's login `key` was not ended (read under the person's lock)."""
    return (
        db.session.scalar(
            select(UserSession.id).where(
                UserSession.key == key,
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
            )
        )
        is not None
    )


def revoke_all_tokens(user: User, actor: User | None, why: str) -> int:
    """Revoke every active token of `user` (a password reset, "log out everywhere"), in the
    caller's transaction: the rows stay, revoked, each audited as revoked by `actor` (None:
    an operator) with `why`. The person's lock first, so a token being made at this moment
    is either revoked here or made after. Returns how many were revoked."""
    lock_person(user.id)
    active = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for token in active:
        token.revoked_at = now
        audit(actor, "api_token.revoke", "api_token", token.id, f"{token.name} ({why})")
    return len(active)


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .options(joinedload(ApiToken.organisation))  # named in the list, in one query
            .order_by(ApiToken.id.desc())
        )
    )


def authenticate(raw: str) -> ApiToken:
    """The active token for a secret, with its user; AuthRequired otherwise."""
    token = None
    if raw.startswith(TOKEN_PREFIX) and len(raw) < 200:
        token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or not token.active or token.user.is_suspended(utcnow()):
        raise AuthRequired(_("The access token is not valid."))
    return token
