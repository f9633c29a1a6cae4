"""Who may do what: the one place for permission rules.

Every rule is a pure-ish predicate `can_<action>(user, obj) -> bool`. `user` is
None for a visitor. Services call `require(...)` which raises the right domain
error; views and templates call the predicates to decide what to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import func, select

from .errors import AuthRequired, Forbidden, Locked, NotFound
from .extensions import db

if TYPE_CHECKING:
    from datetime import datetime

    from .models import (
        Action,
        ApiToken,
        ConsultationResponse,
        ConsultationRound,
        Document,
        Forum,
        Message,
        ModerationAction,
        Organisation,
        Thread,
        User,
    )


def _logged_in(user: User | None) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def is_admin(user: User | None) -> bool:
    return _logged_in(user) and bool(user.is_admin)  # type: ignore[union-attr]


def is_site_moderator(user: User | None) -> bool:
    return _logged_in(user) and bool(user.is_moderator or user.is_admin)  # type: ignore[union-attr]


def is_official(user: User | None) -> bool:
    return _logged_in(user) and user.department_id is not None  # type: ignore[union-attr]


# --- administration ----------------------------------------------------------


def can_administer(user: User | None) -> bool:
    """Appoint roles, verify organisations, see the admin page."""
    return is_admin(user)


def can_change_roles(actor: User | None, target: User) -> bool:
    """Appoint or remove official, moderator and admin roles; never one's own."""
    return can_administer(actor) and actor.id != target.id  # type: ignore[union-attr]


def can_review_organisation(user: User | None, org: Organisation) -> bool:
    """Verify or reject an organisation's registration."""
    return can_administer(user)


# --- organisations -----------------------------------------------------------


def organisation_role(user: User | None, org: Organisation) -> str | None:
    """'admin' or 'member' for an approved membership, 'pending', or None."""
    if user is None or not _logged_in(user):
        return None
    from .models import Membership, MembershipStatus

    membership = db.session.scalar(
        select(Membership).where(
            Membership.organisation_id == org.id, Membership.user_id == user.id
        )
    )
    if membership is None:
        return None
    if membership.status != MembershipStatus.approved:
        return "pending"
    return membership.role.value


def can_register_organisation(user: User | None) -> bool:
    return _logged_in(user)


def can_join_organisation(user: User | None, org: Organisation) -> bool:
    return _logged_in(user) and organisation_role(user, org) is None


def can_manage_organisation(user: User | None, org: Organisation) -> bool:
    """Approve and remove members, edit the organisation's page."""
    return is_admin(user) or organisation_role(user, org) == "admin"


def can_act_for_organisation(user: User | None, org: Organisation) -> bool:
    """Speak for the organisation (needs a verified organisation and approved membership)."""
    return org.is_verified and organisation_role(user, org) in {"member", "admin"}


def can_view_organisation(user: User | None, org: Organisation) -> bool:
    """Verified and pending organisations are public; a rejected one only to its approved
    members and site admins (asking to join is no membership: it shows neither the page nor
    the rejection's reason)."""
    from .models import OrganisationStatus

    if org.status != OrganisationStatus.rejected:
        return True
    return is_admin(user) or organisation_role(user, org) in {"member", "admin"}


def can_request_membership(user: User | None, org: Organisation) -> bool:
    """Ask to join: logged in, not yet related, and the organisation not rejected."""
    from .models import OrganisationStatus

    return org.status != OrganisationStatus.rejected and can_join_organisation(user, org)


def can_see_members(user: User | None, org: Organisation) -> bool:
    """The member list is for the organisation's approved members and site admins."""
    return is_admin(user) or organisation_role(user, org) in {"member", "admin"}


# --- forums and threads ------------------------------------------------------


def can_create_forum(user: User | None) -> bool:
    return is_admin(user) or is_official(user)


def _forum_role(user: User, forum: Forum, role: int) -> bool:
    """Whether `user` has `role` in `forum`: from the roles a query preloaded for this user
    (the send path), otherwise from the forum's moderators or members."""
    from sqlalchemy import inspect

    from .models.forums import ROLE_MODERATOR

    loaded = inspect(forum).dict
    if loaded.get("viewer_id") == user.id and loaded.get("viewer_roles") is not None:
        return bool(loaded["viewer_roles"] & role)
    people = forum.moderators if role == ROLE_MODERATOR else forum.members
    return any(p.id == user.id for p in people)


def is_forum_moderator(user: User | None, forum: Forum) -> bool:
    from .models.forums import ROLE_MODERATOR

    if not _logged_in(user):
        return False
    if is_site_moderator(user):
        return True
    return _forum_role(user, forum, ROLE_MODERATOR)  # type: ignore[arg-type]


def can_manage_forum(user: User | None, forum: Forum) -> bool:
    """Invite members and appoint forum moderators: admins and the official who opened it."""
    if not _logged_in(user):
        return False
    return is_admin(user) or (forum.created_by_id == user.id and is_official(user))  # type: ignore[union-attr]


def can_set_forum_visibility(user: User | None, forum: Forum) -> bool:
    """Make a forum public, members-only or invite-only: whoever manages the forum."""
    return can_manage_forum(user, forum)


def can_view_forum(user: User | None, forum: Forum) -> bool:
    from .models import Visibility

    if forum.visibility == Visibility.public:
        return True
    if not _logged_in(user):
        return False
    if forum.visibility == Visibility.members:
        return True
    from .models.forums import ROLE_MEMBER

    return is_forum_moderator(user, forum) or _forum_role(user, forum, ROLE_MEMBER)  # type: ignore[arg-type]


def can_post_in_forum(user: User | None, forum: Forum) -> bool:
    return _logged_in(user) and can_view_forum(user, forum)


def can_start_thread(user: User | None, forum: Forum) -> bool:
    return can_post_in_forum(user, forum) and forum.slug != CONSULTATION_FORUM_SLUG


def muted_here(forum: Forum) -> bool:
    """Whether the viewer the forum was loaded for is muted in it now (the pages' queries
    load `Forum.viewer_muted_until`; elsewhere it is None). The pages then offer no way to
    speak there: no composer, reply, reaction, edit, proposal or new thread. The services
    refuse each of those themselves while a mute lasts (services.moderation.check_not_muted)."""
    return forum.viewer_muted_until is not None


def can_view_thread(
    user: User | None, thread: Thread, rounds: dict[int, ConsultationRound] | None = None
) -> bool:
    """`rounds` (thread id -> its round), when given, saves a query per round thread."""
    if thread.forum.slug == CONSULTATION_FORUM_SLUG and not _can_view_round_thread(
        user, thread, rounds
    ):
        return False
    return can_view_forum(user, thread.forum)


def can_send_message(user: User | None, thread: Thread) -> bool:
    return thread.is_open and can_post_in_forum(user, thread.forum)


def can_edit_message(user: User | None, message: Message) -> bool:
    from .models import MessageState

    return (
        _logged_in(user)
        and message.author_id == user.id  # type: ignore[union-attr]
        and message.state == MessageState.visible
        and message.thread.is_open
        and can_view_thread(user, message.thread)
    )


can_delete_message = can_edit_message


def can_view_revisions(user: User | None, message: Message) -> bool:
    if not _logged_in(user):
        return False
    return message.author_id == user.id or is_forum_moderator(user, message.thread.forum)  # type: ignore[union-attr]


# --- consultation rounds -----------------------------------------------------

CONSULTATION_FORUM_SLUG = "tidigt-samrad"


def can_create_round(user: User | None) -> bool:
    """Officials (for their own department) and admins open consultation rounds."""
    return is_admin(user) or is_official(user)


def can_manage_round(user: User | None, round_: ConsultationRound) -> bool:
    """Edit, open, close, see the overview and publish feedback: its department's officials."""
    if is_admin(user):
        return True
    return is_official(user) and user.department_id == round_.department_id  # type: ignore[union-attr]


def can_view_round(user: User | None, round_: ConsultationRound) -> bool:
    """A draft is seen only by those who manage it; everything else is public."""
    from .models import RoundState

    return round_.state != RoundState.draft or can_manage_round(user, round_)


def in_round_audience(round_: ConsultationRound, org: Organisation) -> bool:
    """A verified organisation that the round asks (all verified, or invited)."""
    from .models import Audience

    if not org.is_verified:
        return False
    return round_.audience == Audience.all_verified or any(o.id == org.id for o in round_.invited)


def can_draft_response(user: User | None, round_: ConsultationRound, org: Organisation) -> bool:
    """Approved members of an organisation in the audience write its response."""
    return in_round_audience(round_, org) and can_act_for_organisation(user, org)


def can_submit_response(user: User | None, round_: ConsultationRound, org: Organisation) -> bool:
    """Only the organisation's admins submit its response."""
    return in_round_audience(round_, org) and organisation_role(user, org) == "admin"


def document_withdrawn(document: Document, round_: ConsultationRound, in_versions: bool) -> bool:
    """A removed document that nobody outside the uploader's side ever saw: a round's basis
    removed before the round opened, or a response's letter removed before any submitted
    version held it (`in_versions`). Its file is deleted (services.documents) and nobody
    reads it any more: a member list attached by mistake is not left for later members."""
    if document.removed_at is None:
        return False
    if document.response_id is None:
        return round_.opened_at is None or document.removed_at < round_.opened_at
    return not in_versions


def can_read_document(
    user: User | None,
    round_: ConsultationRound,
    response: ConsultationResponse | None,
    document: Document,
) -> bool:
    """A round's documents: whoever sees the round (removed ones: its officials only).

    A response's documents: the organisation's members always; once part of a
    submitted version, the round's officials; and, when the round has closed, everyone,
    but only while the document is part of the response's latest submitted version (what
    the round's pages, exports and the API publish): one the organisation took out
    before submitting again stays with its members and the round's officials.
    """
    from .models import Phase, ResponseVersion, version_documents
    from .models.base import utcnow

    if not can_view_round(user, round_):
        return False
    if response is None:
        if document_withdrawn(document, round_, False):
            return False
        return document.removed_at is None or can_manage_round(user, round_)
    in_versions = set(
        db.session.scalars(
            select(ResponseVersion.number)
            .join(version_documents, version_documents.c.version_id == ResponseVersion.id)
            .where(
                ResponseVersion.response_id == response.id,
                version_documents.c.document_id == document.id,
            )
        )
    )
    if document_withdrawn(document, round_, bool(in_versions)):
        return False
    if can_act_for_organisation(user, response.organisation):
        return True
    if not in_versions:
        return False
    if can_manage_round(user, round_):
        return True
    if round_.phase(utcnow()) not in (Phase.closed, Phase.published):
        return False
    latest = db.session.scalar(
        select(func.max(ResponseVersion.number)).where(ResponseVersion.response_id == response.id)
    )
    return latest in in_versions


def can_read_latest_version_documents(
    user: User | None, round_: ConsultationRound, response: ConsultationResponse
) -> bool:
    """can_read_document for every document of the response's latest submitted version at
    once, with no query per document (what the round's pages, exports and the API list).

    Such a document is in a submitted version (so never withdrawn) and in the latest one,
    so the rule comes down to: whoever sees the round, if they manage it, if it has closed,
    or if they act for the organisation (asked last: the only check that reads the
    database, and one per response at most).
    """
    from .models import Phase
    from .models.base import utcnow

    if not can_view_round(user, round_):
        return False
    if can_manage_round(user, round_) or round_.phase(utcnow()) in (Phase.closed, Phase.published):
        return True
    return can_act_for_organisation(user, response.organisation)


def _can_view_round_thread(
    user: User | None, thread: Thread, rounds: dict[int, ConsultationRound] | None = None
) -> bool:
    from .models import ConsultationRound

    if rounds is not None:
        round_ = rounds.get(thread.id)
    else:
        round_ = db.session.scalar(
            select(ConsultationRound).where(ConsultationRound.thread_id == thread.id)
        )
    return round_ is None or can_view_round(user, round_)


# --- follow-up actions -------------------------------------------------------


def _action_thread(action: Action) -> Thread | None:
    from .models import Thread

    if action.source_thread_id is None:
        return None
    return db.session.get(Thread, action.source_thread_id)


def can_view_action(
    user: User | None, action: Action, rounds: dict[int, ConsultationRound] | None = None
) -> bool:
    """Public, unless it came from a thread the user may not read; a hidden one only to
    those who may hide it (they see it marked hidden). `rounds` as for can_view_thread."""
    if action.source_thread_id is not None:
        thread = _action_thread(action)
        if thread is None or not can_view_thread(user, thread, rounds):
            return False
    return action.hidden_at is None or can_hide_action(user, action)


def can_propose_action(user: User | None, thread: Thread | None) -> bool:
    """From a message: anyone who may post in its thread; without one: officials and admins."""
    if thread is None:
        return is_admin(user) or is_official(user)
    return can_send_message(user, thread)


def is_action_owner_side(user: User | None, action: Action) -> bool:
    """Officials of the owning department, admins of the owning organisation while it is
    verified (a rejected one speaks for nothing, as in can_act_for_organisation), site
    admins."""
    if is_admin(user):
        return True
    if action.owner_department_id is not None:
        return is_official(user) and user.department_id == action.owner_department_id  # type: ignore[union-attr]
    org = action.owner_organisation
    if org is not None:
        return org.is_verified and organisation_role(user, org) == "admin"
    return False


def can_accept_action(user: User | None, action: Action) -> bool:
    """Take a proposal on: the owner's side, while it is neither declined nor hidden."""
    return action.awaiting and action.hidden_at is None and is_action_owner_side(user, action)


def can_decline_action(user: User | None, action: Action) -> bool:
    """Say no to a proposal, with a reason: whoever may accept it (and only while they may)."""
    return can_accept_action(user, action)


def can_change_action(user: User | None, action: Action) -> bool:
    """Change status and progress, post updates: the owner's side, once accepted (not while
    a moderator has it hidden)."""
    return action.accepted and action.hidden_at is None and is_action_owner_side(user, action)


def can_follow_action(user: User | None, action: Action) -> bool:
    return _logged_in(user) and can_view_action(user, action)


def can_hide_action(user: User | None, action: Action) -> bool:
    """Hide, show again or redact the title of an action, in any state: site moderators and
    admins, and the moderators of the forum it came from."""
    if is_site_moderator(user):
        return True
    thread = _action_thread(action)
    return thread is not None and is_forum_moderator(user, thread.forum)


def can_show_action(user: User | None, action: Action, hidden_about: int | None) -> bool:
    """Show a hidden action again: who may hide it, except the person its hiding is a
    standing decision about (`hidden_about`): they appeal it, as nobody moderates their own
    messages, and nobody lifts a decision about themselves."""
    if not can_hide_action(user, action):
        return False
    return hidden_about is None or user.id != hidden_about  # type: ignore[union-attr]


# --- moderation --------------------------------------------------------------


def moderated_forum_ids(user: User | None) -> set[int] | None:
    """The forums `user` moderates; None means all of them (site moderators, admins)."""
    if not _logged_in(user):
        return set()
    if is_site_moderator(user):
        return None
    from .models.forums import forum_moderators

    return set(
        db.session.scalars(
            select(forum_moderators.c.forum_id).where(forum_moderators.c.user_id == user.id)  # type: ignore[union-attr,arg-type]
        )
    )


def can_use_moderation(user: User | None, moderates_a_forum: bool | None = None) -> bool:
    """See the review queue and the audit log: site moderators, admins, forum moderators.

    `moderates_a_forum`, when the caller loaded it for this user with other things (the
    page header), saves the query for their forums."""
    if moderates_a_forum is not None and _logged_in(user) and not is_site_moderator(user):
        return moderates_a_forum
    ids = moderated_forum_ids(user)
    return ids is None or bool(ids)


def can_flag_message(user: User | None, message: Message) -> bool:
    """Anyone logged in who can read the message, except its author."""
    return (
        _logged_in(user)
        and message.author_id != user.id  # type: ignore[union-attr]
        and can_view_thread(user, message.thread)
    )


def can_moderate_thread(user: User | None, thread: Thread) -> bool:
    """Lock, pin, rename, move, archive, slow mode: the forum's moderators."""
    return is_forum_moderator(user, thread.forum)


def can_moderate_message(user: User | None, message: Message) -> bool:
    """Hide, restore, redact, dismiss flags: the forum's moderators, never on their own text."""
    return is_forum_moderator(user, message.thread.forum) and message.author_id != user.id  # type: ignore[union-attr]


def _outranks(person: User, actor: User | None) -> bool:
    """Admins are moderated only by admins."""
    return bool(person.is_admin) and not is_admin(actor)


def can_moderate_person(actor: User | None, person: User, forum: Forum | None) -> bool:
    """Warn or mute `person` in `forum` (forum moderators), or site-wide (site moderators)."""
    if not _logged_in(actor) or actor.id == person.id or _outranks(person, actor):  # type: ignore[union-attr]
        return False
    if forum is None:
        return is_site_moderator(actor)
    if is_forum_moderator(person, forum) and not is_site_moderator(actor):
        return False
    return is_forum_moderator(actor, forum)


def can_suspend(actor: User | None, person: User) -> bool:
    """Suspend an account or lift a suspension: site moderators and admins, never themselves."""
    return can_moderate_person(actor, person, None)


def can_lift(actor: User | None, action: ModerationAction) -> bool:
    """End a mute or a suspension before its time: whoever may impose it (a suspension, site
    moderators and admins; a mute, also the forum's moderators, not on a fellow moderator)."""
    if action.kind.value == "suspend":
        return can_suspend(actor, action.subject)
    return can_moderate_person(actor, action.subject, action.forum)


def can_appeal(user: User | None, subject_id: int) -> bool:
    """Only the person a decision concerns appeals it."""
    return _logged_in(user) and user.id == subject_id  # type: ignore[union-attr]


def can_appeal_by_link(action: ModerationAction, now: datetime) -> bool:
    """A signed link from the mail (or the login page) appeals a suspension while it is in
    force: the one decision whose person cannot log in to appeal it. Once it has ended or
    been lifted, the person logs in and appeals on the decision's page."""
    return action.kind.value == "suspend" and action.in_force(now)


# The decisions about a person (not about a message or an action): who may make one, or
# reverse it on appeal, is ranked (can_moderate_person).
DECISIONS_ABOUT_PERSONS = frozenset({"warn", "mute", "suspend"})


def can_decide_appeal(user: User | None, action: ModerationAction, forum: Forum | None) -> bool:
    """A moderator who could have made the decision `action` in `forum` (the forum its thread
    is in now, None for a site-wide one), who is neither the person appealing nor the one
    who made it (admins are site moderators: they decide when no other can). A warning,
    mute or suspension is reversed only by whom may impose and lift it: a forum moderator
    decides no appeal about a fellow moderator, a site moderator none about an admin."""
    if not _logged_in(user) or user.id in (action.subject_id, action.actor_id):  # type: ignore[union-attr]
        return False
    if action.kind.value in DECISIONS_ABOUT_PERSONS:
        return can_moderate_person(user, action.subject, forum)
    return is_forum_moderator(user, forum) if forum is not None else is_site_moderator(user)


def can_see_redacted_original(user: User | None) -> bool:
    """The text a redaction replaced is kept for admins only."""
    return is_admin(user)


def exempt_from_slow_mode(user: User | None, thread: Thread) -> bool:
    return is_forum_moderator(user, thread.forum)


# --- personal access tokens (the API) ------------------------------------------


def can_read_with_token(token: ApiToken | None) -> bool:
    """A token reads as its owner only with the `read` scope (else as a visitor)."""
    return token is not None and "read" in token.scope_set and _logged_in(token.user)


def can_respond_with_token(token: ApiToken | None) -> bool:
    """A token answers consultations for its organisation only with the `respond` scope."""
    return (
        token is not None
        and "respond" in token.scope_set
        and token.organisation is not None
        and _logged_in(token.user)
    )


# --- enforcement -------------------------------------------------------------


def require_login(user: User | None) -> User:
    """Raise AuthRequired for a visitor."""
    if not _logged_in(user):
        raise AuthRequired(_("You need to log in first."))
    return user  # type: ignore[return-value]


def require_thread_visible(user: User | None, thread: Thread | None) -> Thread:
    """A thread the user may not see is reported as missing, not as forbidden.

    Only a members-only forum's thread asks a visitor to log in (any member may
    read it); an invite-only forum's or a draft round's thread is `not_found`
    for a visitor too, exactly like an id that does not exist.
    """
    if thread is None or not can_view_thread(user, thread):
        if thread is not None and not _logged_in(user) and _login_would_do(thread):
            raise AuthRequired(_("You need to log in to read this thread."))
        raise NotFound(_("No such thread."))
    return thread


def _login_would_do(thread: Thread) -> bool:
    from .models import Visibility

    if thread.forum.visibility != Visibility.members:
        return False
    return thread.forum.slug != CONSULTATION_FORUM_SLUG or _can_view_round_thread(None, thread)


def require_can_send(user: User | None, thread: Thread) -> None:
    """Raise the precise reason why `user` cannot post in `thread`."""
    require_login(user)
    require_thread_visible(user, thread)
    if not thread.is_open:
        raise Locked(_("This thread is locked."))
    if not can_post_in_forum(user, thread.forum):
        raise Forbidden(_("You may not post here."))


def require(allowed: bool, message: str | None = None) -> None:
    """Raise Forbidden unless `allowed`."""
    if not allowed:
        raise Forbidden(message or _("You may not do that."))
