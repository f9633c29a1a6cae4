"""Who may do what: every role against every action of forum/policy.py, over HTTP and socket.

The rules live in forum/policy.py; the table EXPECTED below is their specification,
one row per action and one column per role. Every cell is a test: the role tries the
action through the HTTP form or page that offers it, and, where the Socket.IO
protocol has an event for it, through the socket too (`socketio.test_client` sharing
the logged-in HTTP client). A cell passes when the answer is right AND the change
happened (or, refused, did not). Domain-specific matrices with more detail:
test_moderation_matrix.py and test_consultations_permissions.py.

Roles: a visitor (not logged in); a member (an account, nothing more); an organisation
admin (of a verified organisation in every round's audience); the official of the
department that opened the forums, the rounds and owns an action; a forum moderator
(of the public, members-only and invite-only forums); a site moderator; an admin; a
suspended member whose old session cookie is still in the browser (treated as a
visitor); a member muted in the public forum (reads, does not post there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest
from consultation_support import make_round
from sqlalchemy import func, select

from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import (
    Action,
    ActionFollower,
    Appeal,
    ConsultationResponse,
    ConsultationRound,
    Flag,
    Forum,
    Membership,
    MembershipStatus,
    Message,
    ModerationAction,
    Organisation,
    OrganisationStatus,
    ResponseVersion,
    Thread,
    User,
)
from forum.models.base import utcnow
from forum.services import consultations, documents, follow_up, moderation, organisations
from forum.web.consultations import draft_fingerprint

ROLES = (
    "visitor",
    "member",
    "org_admin",
    "official",
    "forum_moderator",
    "moderator",
    "admin",
    "suspended",
    "muted",
)
EVERYONE = frozenset(ROLES)
ANONYMOUS = frozenset({"visitor", "suspended"})  # a suspended session counts as a visitor
LOGGED_IN = EVERYONE - ANONYMOUS
MODERATORS = frozenset({"forum_moderator", "moderator", "admin"})
POSTERS = LOGGED_IN - {"muted"}


class World:
    """The people, places and things every cell acts on (built through the services)."""

    people: dict[str, User]
    own: dict[str, int]  # role -> id of a message that role wrote in the public thread


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


@pytest.fixture
def world(app, make, request) -> World:
    """Only the parts of the world the cell's action needs (building all of it is slow)."""
    rule = EXPECTED[request.node.callspec.params["action"]]
    return build_world(app, make, rule.needs)


def build_world(app, make, needs: frozenset[str]) -> World:
    w = World()
    official = make.user("official", name="Olga Official")
    forum_moderator = make.user(name="Fia Forummoderator")
    # makes the decisions that are appealed: nobody decides an appeal of their own decision
    deciding_moderator = make.user(name="Dag Beslutsfattare")
    author = make.user(name="Anders Author")
    w.author = author
    w.commitment = str(make.commitment_ids(1)[0])
    w.people = {
        "member": make.user(name="Maja Member"),
        "org_admin": make.user(name="Oskar Orgadmin"),
        "official": official,
        "forum_moderator": forum_moderator,
        "moderator": make.user("moderator", name="Sara Sitemoderator"),
        "admin": make.user("admin", name="Ada Admin"),
        "suspended": make.user(name="Sune Suspended"),
        "muted": make.user(name="Mats Muted"),
    }
    # the organisation admin's verified organisation
    w.org = make.organisation(admin=w.people["org_admin"], name="Föreningen Matris")

    if "organisations" in needs:  # one to join, one pending, one rejected, an applicant
        w.other_org = make.organisation(admin=make.user(), name="Andra föreningen")
        w.pending_org = make.organisation(admin=make.user(), verified=False, name="Väntande")
        w.rejected_org = make.organisation(admin=make.user(), verified=False, name="Avvisade")
        w.rejected_org.status = OrganisationStatus.rejected
        # the member had asked to join it: asking is no membership, so its page stays a
        # 404 to them ("see a rejected organisation")
        db.session.add(Membership(organisation_id=w.rejected_org.id, user_id=w.people["member"].id))
        applicant = make.user(name="Ansökande Person")
        with app.test_request_context():
            w.pending_membership = organisations.request_membership(applicant, w.org.id).id
        db.session.commit()

    if needs & {"forums", "moderation", "actions"}:
        # forums of each visibility opened by the official, each with a thread by the
        # author; a message by every role in the public thread; the muted person muted there
        w.forum, w.thread = {}, {}
        for visibility in ("public", "members", "invite"):
            w.forum[visibility] = make.forum(
                owner=official,
                visibility=visibility,
                moderators=[forum_moderator, deciding_moderator],
            )
            starter = forum_moderator if visibility == "invite" else author
            w.thread[visibility] = make.thread(forum=w.forum[visibility], author=starter)
        public = w.thread["public"]
        w.others = make.message(public, author, "författarens text").id
        w.own = {
            role: make.message(public, person, f"{role} skrev detta").id
            for role, person in w.people.items()
        }
        if "spare" in needs:
            w.spare = {
                role: make.message(public, person, f"{role} skrev också").id
                for role, person in w.people.items()
            }
        w.slow = make.thread(forum=w.forum["public"], author=author, title="Långsam tråd")
        with app.test_request_context():
            moderation.set_slow_mode(forum_moderator, w.slow.id, 60)
            w.mute = moderation.mute_person(
                forum_moderator, w.people["muted"].id, w.forum["public"].id, 60, "Upprepat"
            ).id

    if "moderation" in needs:  # a redacted message, an appeal waiting for a decision
        w.redacted = make.message(w.thread["public"], author, "personnummer 19121212-1212").id
        with app.test_request_context():
            moderation.redact_message(w.people["moderator"], w.redacted, "[borttaget]", "pnr")
            warning = moderation.warn_person(
                deciding_moderator, w.people["muted"].id, "Håll tonen", message_id=w.own["muted"]
            )
            w.appeal = moderation.appeal(w.people["muted"], warning.id, "Jag höll tonen").id

    if "rounds" in needs:  # of the official's department, asking every verified organisation
        w.draft_round = make_round(app, make, official, "draft", title="Utkast till runda")
        with app.test_request_context():
            w.draft_document = documents.add_round_document(
                official, w.draft_round.id, "Underlag.pdf", simple_pdf(["Underlag"])
            ).id
        w.open_round = make_round(app, make, official, "open", title="Öppen runda")
        if "draft" in needs:  # the organisation's saved draft, waiting to be submitted
            with app.test_request_context():
                consultations.save_response(
                    w.people["org_admin"],
                    w.open_round.id,
                    w.org.id,
                    {w.open_round.questions[0].id: "Vårt svar"},
                    submit=False,
                )

    if "actions" in needs:
        # proposed to the department, proposed to the organisation, accepted (the
        # official's own), and one from the invite-only thread
        invite_message = make.message(w.thread["invite"], forum_moderator, "för inbjudna").id

        def propose(user, owner, message_id=None):
            with app.test_request_context():
                return follow_up.propose_action(
                    user,
                    follow_up.ActionInput(
                        title="Kvällsöppet",
                        owner=owner,
                        due_date=(follow_up.today() + timedelta(days=30)).isoformat(),
                        commitment_ids=make.commitment_ids(1),
                        message_id=message_id,
                    ),
                ).id

        department = f"department:{official.department_id}"
        w.action_for_department = propose(author, department, w.others)
        w.action_for_org = propose(author, f"organisation:{w.org.id}", w.others)
        w.accepted_action = propose(official, department)
        w.hidden_action = propose(forum_moderator, department, invite_message)
        # one a moderator hid (from the public thread): only moderators still see it
        w.moderated_action = propose(author, department, w.others)
        with app.test_request_context():
            follow_up.hide_action(w.people["moderator"], w.moderated_action, "Spam")

    # last: the suspension (the suspended person's cookie stays in their browser)
    w.people["suspended"].suspended_until = utcnow() + timedelta(hours=1)
    db.session.commit()
    return w


# --- the actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One action: who may, how it is tried over HTTP (and the socket), what it changes."""

    allowed: frozenset[str]
    http: Callable[[World], tuple[str, str, dict | None]] | None  # None: socket only
    done: Callable[[World], bool]
    socket: Callable[[World], tuple[str, dict]] | None = None
    # how a logged-in role that may not is answered: "forbidden" (403) or "not_found" (404)
    refused: str = "forbidden"
    # per-role answers that differ (HTTP outcome and socket error code)
    http_refusals: dict[str, str] = field(default_factory=dict)
    socket_refusals: dict[str, str] = field(default_factory=dict)
    # the parts of the world it acts on: forums, organisations, moderation, rounds, actions
    needs: frozenset[str] = frozenset({"forums"})


def page(url: str):
    return lambda w: ("GET", url.format(w=w), None)


def post(url: str, **data):
    return lambda w: ("POST", url.format(w=w), {k: v.format(w=w) for k, v in data.items()})


def messages_in(thread_key: str):
    """A message this transport posted is in the thread."""
    return lambda w: (
        count(
            Message,
            Message.thread_id == w.thread[thread_key].id,
            Message.body == f"nytt inlägg {w.transport}",
        )
        > 0
    )


def own_target(w: World) -> int:
    """The acting role's own message (a spare one for HTTP, so both transports can delete)."""
    mine = w.own if w.transport == "socket" else getattr(w, "spare", w.own)
    return mine.get(w.role, w.others)


def own_edited(w: World) -> bool:
    return fresh(Message, own_target(w)).body == f"ändrad {w.transport}"


def own_deleted(w: World) -> bool:
    return fresh(Message, own_target(w)).state == "deleted"


def others_changed(w: World) -> bool:
    message = fresh(Message, w.others)
    return message.body != "författarens text" or message.state != "visible"


READ_THREAD = {
    # the invite-only forum is for its invited members, the official who opened it and
    # its moderators (site moderators and admins moderate every forum)
    "public": EVERYONE,
    "members": LOGGED_IN,
    "invite": MODERATORS | {"official"},
}


def join(key: str):
    return lambda w: ("join", {"thread_id": w.thread[key].id})


def history(key: str):
    return lambda w: ("history", {"thread_id": w.thread[key].id, "before": 10**9})


def seen(w: World) -> bool:
    return w.last_ok


STRANGERS_NOT_FOUND = {"visitor": "not_found", "suspended": "not_found"}

EXPECTED: dict[str, Rule] = {
    # forums and threads
    **{
        f"read the {key} thread": Rule(
            READ_THREAD[key],
            page(f"/threads/{{w.thread[{key}].id}}"),
            seen,
            join(key),
            refused="not_found",
            # an invite-only thread is not there for a stranger, as an id that does not exist
            http_refusals=STRANGERS_NOT_FOUND if key == "invite" else {},
            socket_refusals={"__default__": "not_found"}
            | (STRANGERS_NOT_FOUND if key == "invite" else {}),
        )
        for key in ("public", "members", "invite")
    },
    **{
        f"page back in the {key} thread": Rule(
            READ_THREAD[key],
            page(f"/threads/{{w.thread[{key}].id}}?before=1000000000"),
            seen,
            history(key),
            refused="not_found",
            http_refusals=STRANGERS_NOT_FOUND if key == "invite" else {},
            socket_refusals={"__default__": "not_found"}
            | (STRANGERS_NOT_FOUND if key == "invite" else {}),
        )
        for key in ("public", "invite")
    },
    "post in the public thread": Rule(
        POSTERS,
        post("/threads/{w.thread[public].id}/messages", body="nytt inlägg http", client_id="c"),
        messages_in("public"),
        lambda w: (
            "message:send",
            {"thread_id": w.thread["public"].id, "body": "nytt inlägg socket", "client_id": "s"},
        ),
        http_refusals={"muted": "forbidden"},
        socket_refusals={"muted": "muted"},
    ),
    "post in the invite-only thread": Rule(
        READ_THREAD["invite"],
        post("/threads/{w.thread[invite].id}/messages", body="nytt inlägg http", client_id="c"),
        messages_in("invite"),
        lambda w: (
            "message:send",
            {"thread_id": w.thread["invite"].id, "body": "nytt inlägg socket", "client_id": "s"},
        ),
        refused="not_found",
        socket_refusals={"__default__": "not_found"},
    ),
    "say who is typing": Rule(
        POSTERS,
        None,
        seen,
        lambda w: ("typing", {"thread_id": w.thread["public"].id}),
        socket_refusals={"muted": "muted"},
    ),
    "move one's read marker": Rule(
        LOGGED_IN,
        None,
        seen,
        lambda w: ("read", {"thread_id": w.thread["public"].id, "message_id": w.others}),
    ),
    "edit one's own message": Rule(
        POSTERS,
        lambda w: ("POST", f"/messages/{own_target(w)}/edit", {"body": "ändrad http"}),
        own_edited,
        lambda w: ("message:edit", {"message_id": own_target(w), "body": "ändrad socket"}),
        socket_refusals={"muted": "muted"},
    ),
    "delete one's own message": Rule(
        POSTERS,
        lambda w: ("POST", f"/messages/{own_target(w)}/delete", {}),
        own_deleted,
        lambda w: ("message:delete", {"message_id": own_target(w)}),
        socket_refusals={"muted": "muted"},
    ),
    "edit someone else's message": Rule(
        frozenset(),
        post("/messages/{w.others}/edit", body="kapad"),
        others_changed,
        lambda w: ("message:edit", {"message_id": w.others, "body": "kapad"}),
    ),
    "delete someone else's message": Rule(
        frozenset(),
        post("/messages/{w.others}/delete"),
        others_changed,
        lambda w: ("message:delete", {"message_id": w.others}),
    ),
    "see earlier versions of someone else's message": Rule(
        MODERATORS,
        page("/messages/{w.others}/revisions"),
        seen,
    ),
    "open a forum": Rule(
        frozenset({"official", "admin"}),
        post("/forums/new", title="Nytt forum", visibility="public", commitments="{w.commitment}"),
        lambda w: count(Forum, Forum.title == "Nytt forum") == 1,
    ),
    "invite people to a forum": Rule(
        frozenset({"official", "admin"}),
        post("/forums/{w.forum[members].slug}/people", email="{w.author.email}", role="moderator"),
        lambda w: any(m.id == w.author.id for m in fresh(Forum, w.forum["members"].id).moderators),
    ),
    "change who can read a forum": Rule(
        frozenset({"official", "admin"}),
        post("/forums/{w.forum[members].slug}/visibility", visibility="public"),
        lambda w: fresh(Forum, w.forum["members"].id).visibility == "public",
    ),
    "start a thread in the public forum": Rule(
        POSTERS,
        post("/forums/{w.forum[public].slug}", title="Ny tråd", commitments="{w.commitment}"),
        lambda w: count(Thread, Thread.title == "Ny tråd") == 1,
        # the forum page is public, so its form answers a visitor 401 instead of a redirect
        http_refusals={"visitor": "auth_required", "suspended": "auth_required"},
    ),
    # organisations
    "register an organisation": Rule(
        LOGGED_IN,
        post(
            "/organisations/new",
            name="Ny förening",
            legal_form="forening",
            org_number="556036-0793",
        ),
        lambda w: count(Organisation, Organisation.name == "Ny förening") == 1,
    ),
    "ask to join an organisation": Rule(
        LOGGED_IN,
        post("/organisations/{w.other_org.slug}/join"),
        lambda w: count(Membership, Membership.organisation_id == w.other_org.id) == 2,
    ),
    "approve a member of an organisation": Rule(
        frozenset({"org_admin", "admin"}),
        post("/organisations/{w.org.slug}/members/{w.pending_membership}/approve"),
        lambda w: fresh(Membership, w.pending_membership).status == MembershipStatus.approved,
    ),
    "see an organisation's members": Rule(
        frozenset({"org_admin", "admin"}),
        page("/organisations/{w.org.slug}"),
        lambda w: "Ansökande Person" in w.last_page,
        refused="ok",  # the page is public; the member list is not on it
        http_refusals={"visitor": "ok", "suspended": "ok"},
    ),
    "see a rejected organisation": Rule(
        frozenset({"admin"}),
        page("/organisations/{w.rejected_org.slug}"),
        seen,
        refused="not_found",
        http_refusals={"visitor": "not_found", "suspended": "not_found"},
    ),
    "verify an organisation": Rule(
        frozenset({"admin"}),
        post("/admin/organisations/{w.pending_org.id}/verify"),
        lambda w: fresh(Organisation, w.pending_org.id).status == OrganisationStatus.verified,
    ),
    # administration
    "open the admin page": Rule(frozenset({"admin"}), page("/admin"), seen),
    "appoint a site moderator": Rule(
        frozenset({"admin"}),
        post("/admin/users/{w.author.id}/roles/grant", role="moderator"),
        lambda w: bool(fresh(User, w.author.id).is_moderator),
    ),
    # consultations
    "draft a consultation round": Rule(
        frozenset({"official", "admin"}),
        page("/consultations/new"),
        seen,
    ),
    "see a draft round": Rule(
        frozenset({"official", "admin"}),
        page("/consultations/{w.draft_round.id}"),
        seen,
        refused="not_found",
        http_refusals={"visitor": "not_found", "suspended": "not_found"},
    ),
    "download a round's document": Rule(
        frozenset({"official", "admin"}),  # the round is a draft: its officials only
        page("/documents/{w.draft_document}/Underlag.pdf"),
        lambda w: w.last_ok and w.last_page.startswith("%PDF"),
        refused="not_found",
        http_refusals=STRANGERS_NOT_FOUND,
    ),
    "open a round": Rule(
        frozenset({"official", "admin"}),
        post("/consultations/{w.draft_round.id}/open"),
        lambda w: fresh(ConsultationRound, w.draft_round.id).state.value != "draft",
        refused="not_found",
    ),
    "draft the organisation's response": Rule(
        frozenset({"org_admin"}),
        lambda w: (
            "POST",
            f"/consultations/{w.open_round.id}/response?organisation={w.org.id}",
            {f"answer-{w.open_round.questions[0].id}": "Vårt svar", "action": "save"},
        ),
        lambda w: count(ConsultationResponse) == 1,
    ),
    "submit the organisation's response": Rule(
        frozenset({"org_admin"}),
        # the confirmation step's POST, for the draft the world saved (and the page showed)
        lambda w: (
            "POST",
            f"/consultations/{w.open_round.id}/response/submit?organisation={w.org.id}",
            {"fingerprint": draft_fingerprint({w.open_round.questions[0].id: "Vårt svar"})},
        ),
        lambda w: count(ResponseVersion) == 1,
    ),
    # follow-up
    "see an action from the invite-only thread": Rule(
        READ_THREAD["invite"],
        page("/actions/{w.hidden_action}"),
        seen,
        refused="not_found",
        http_refusals={"visitor": "not_found", "suspended": "not_found"},
    ),
    "propose an action from a message": Rule(
        POSTERS,
        lambda w: (
            "POST",
            f"/actions/new?message={w.others}",
            {
                "title": "Föreslagen",
                "owner": f"department:{w.people['official'].department_id}",
                "due_date": (follow_up.today() + timedelta(days=9)).isoformat(),
                "commitments": w.commitment,
            },
        ),
        lambda w: count(Action, Action.title == "Föreslagen") == 1,
    ),
    "accept an action for the department": Rule(
        frozenset({"official", "admin"}),
        post("/actions/{w.action_for_department}/accept"),
        lambda w: fresh(Action, w.action_for_department).accepted,
    ),
    "accept an action for the organisation": Rule(
        frozenset({"org_admin", "admin"}),
        post("/actions/{w.action_for_org}/accept"),
        lambda w: fresh(Action, w.action_for_org).accepted,
    ),
    "decline an action for the department": Rule(
        frozenset({"official", "admin"}),
        post("/actions/{w.action_for_department}/decline", reason="Ingen budget"),
        lambda w: fresh(Action, w.action_for_department).declined,
    ),
    "decline an action for the organisation": Rule(
        frozenset({"org_admin", "admin"}),
        post("/actions/{w.action_for_org}/decline", reason="Inte vår fråga"),
        lambda w: fresh(Action, w.action_for_org).declined,
    ),
    "hide an action": Rule(
        MODERATORS,
        post("/actions/{w.action_for_department}/hide", reason="Spam"),
        lambda w: fresh(Action, w.action_for_department).hidden,
    ),
    "see a hidden action": Rule(
        MODERATORS,
        page("/actions/{w.moderated_action}"),
        seen,
        refused="not_found",
        http_refusals={"visitor": "not_found", "suspended": "not_found"},
    ),
    "redact an action's title": Rule(
        MODERATORS,
        post("/actions/{w.action_for_department}/redact", replacement="Utan namn"),
        lambda w: fresh(Action, w.action_for_department).title == "Utan namn",
    ),
    "change an accepted action": Rule(
        frozenset({"official", "admin"}),
        lambda w: (
            "POST",
            f"/actions/{w.accepted_action}/change",
            {
                "status": "in_progress",
                "progress": "40",
                "due_date": (follow_up.today() + timedelta(days=30)).isoformat(),
            },
        ),
        lambda w: fresh(Action, w.accepted_action).progress == 40,
    ),
    "follow an action": Rule(
        LOGGED_IN,
        post("/actions/{w.action_for_department}/follow", follow="1"),
        # the proposer follows it already; the role is the second follower
        lambda w: count(ActionFollower, ActionFollower.action_id == w.action_for_department) == 2,
    ),
    # moderation
    "open the review queue": Rule(MODERATORS, page("/moderation"), seen),
    "read the audit log": Rule(MODERATORS, page("/moderation/audit"), seen),
    "flag a message": Rule(
        LOGGED_IN,
        post("/messages/{w.others}/flag", reason="spam"),
        lambda w: count(Flag) == 1,
    ),
    "lock a thread": Rule(
        MODERATORS,
        post("/threads/{w.thread[public].id}/moderate", action="lock"),
        lambda w: fresh(Thread, w.thread["public"].id).locked,
    ),
    "hide a message": Rule(
        MODERATORS,
        post("/moderation/messages/{w.others}/hide", reason="other", note="nej"),
        lambda w: fresh(Message, w.others).state == "hidden",
    ),
    "see a redacted message's original text": Rule(
        frozenset({"admin"}),
        page("/moderation/messages/{w.redacted}"),
        lambda w: "19121212-1212" in w.last_page,
        refused="ok",
        http_refusals={r: "forbidden" for r in ("member", "org_admin", "official", "muted")},
    ),
    "mute someone in the forum": Rule(
        MODERATORS,
        post(
            "/moderation/people/mute",
            person="{w.author.handle}",
            forum_id="{w.forum[public].id}",
            minutes="60",
            reason="x",
        ),
        lambda w: count(ModerationAction, ModerationAction.subject_id == w.author.id) == 1,
    ),
    "lift a mute": Rule(
        MODERATORS,  # the forum moderator who made it, and anyone who may mute the person
        post("/moderation/actions/{w.mute}/lift"),
        lambda w: fresh(ModerationAction, w.mute).reversed_at is not None,
    ),
    "suspend an account": Rule(
        frozenset({"moderator", "admin"}),
        post(
            "/moderation/people/suspend",
            person="{w.author.handle}",
            minutes="60",
            reason="x",
            confirmed="1",  # the confirmation step's answer
        ),
        lambda w: fresh(User, w.author.id).suspended_until is not None,
    ),
    "appeal a decision": Rule(
        frozenset({"muted"}),  # the person it concerns, and nobody else
        post("/moderation/actions/{w.mute}/appeal", body="ångra"),
        lambda w: count(Appeal, Appeal.action_id == w.mute) == 1,
    ),
    "decide an appeal": Rule(
        MODERATORS,
        post("/moderation/appeals/{w.appeal}/decide", outcome="upheld"),
        lambda w: fresh(Appeal, w.appeal).decided_at is not None,
    ),
    "post twice in slow mode": Rule(
        MODERATORS,  # exempt; everyone else who may post is told to wait
        None,
        seen,
        lambda w: ("slow", {"thread_id": w.slow.id}),
        socket_refusals={"__default__": "rate_limited", "muted": "muted"},
    ),
}

# the parts of the world each action needs, where it is not just the forums
NEEDS = {
    "register an organisation": set(),
    "ask to join an organisation": {"organisations"},
    "approve a member of an organisation": {"organisations"},
    "see an organisation's members": {"organisations"},
    "see a rejected organisation": {"organisations"},
    "verify an organisation": {"organisations"},
    "open the admin page": set(),
    "appoint a site moderator": set(),
    "draft a consultation round": set(),
    "see a draft round": {"rounds"},
    "download a round's document": {"rounds"},
    "open a round": {"rounds"},
    "draft the organisation's response": {"rounds"},
    "submit the organisation's response": {"rounds", "draft"},
    "see an action from the invite-only thread": {"actions"},
    "accept an action for the department": {"actions"},
    "accept an action for the organisation": {"actions"},
    "change an accepted action": {"actions"},
    "decline an action for the department": {"actions"},
    "decline an action for the organisation": {"actions"},
    "hide an action": {"actions"},
    "see a hidden action": {"actions"},
    "redact an action's title": {"actions"},
    "follow an action": {"actions"},
    "see a redacted message's original text": {"moderation"},
    "decide an appeal": {"moderation"},
    "delete one's own message": {"forums", "spare"},
}
EXPECTED = {
    name: replace(rule, needs=frozenset(NEEDS.get(name, rule.needs)))
    for name, rule in EXPECTED.items()
}


# --- running a cell ---------------------------------------------------------------------


def login_as(auth, world: World, role: str) -> None:
    if role == "visitor":
        auth.logout()
    else:
        auth.login(world.people[role])


def outcome(response) -> str:
    status = response.status_code
    if status in (301, 302, 303):
        return "login" if "/login" in response.headers["Location"] else "ok"
    return {
        200: "ok",
        400: "invalid",
        401: "auth_required",
        403: "forbidden",
        404: "not_found",
    }.get(status, str(status))


def expected_refusal(rule: Rule, role: str) -> str:
    if role in rule.http_refusals:
        return rule.http_refusals[role]
    if role in ANONYMOUS:
        return "login"
    return rule.refused


CELLS = [(name, role) for name in EXPECTED for role in ROLES]


def try_over_http(rule: Rule, world: World, client, auth, role: str) -> None:
    assert rule.http is not None
    world.transport = "http"
    login_as(auth, world, role)
    method, url, data = rule.http(world)
    response = client.get(url) if method == "GET" else client.post(url, data=data)
    # pages as text; a download (a document) as the bytes it is, decoded leniently
    world.last_page = response.get_data().decode("utf-8", "replace")
    got = outcome(response)
    world.last_ok = got == "ok"
    if role in rule.allowed:
        assert got == "ok", ("http", response.status_code, response.headers.get("Location"))
    else:
        expected = expected_refusal(rule, role)
        if expected == "login" and role == "suspended" and got == "auth_required":
            # a form with something written in it, sent after the login ended: refused on
            # a page that gives the text back with a link to log in (forum.logged_out_page)
            assert method == "POST" and "/login?next=" in world.last_page
            expected = got
        assert got == expected, ("http", response.status_code)
    assert rule.done(world) is (role in rule.allowed), "http: the change (not) made"


def try_over_the_socket(rule: Rule, world: World, socket_for, role: str) -> None:
    assert rule.socket is not None
    world.transport = "socket"
    sock = socket_for(None if role == "visitor" else world.people[role])
    event, payload = rule.socket(world)
    if event == "slow":  # two messages in a row in the slow-mode thread
        ack = sock.emit("message:send", {**payload, "body": "ett", "client_id": "1"}, callback=True)
        if ack["ok"]:
            ack = sock.emit(
                "message:send", {**payload, "body": "två", "client_id": "2"}, callback=True
            )
    else:
        ack = sock.emit(event, payload, callback=True)
    world.last_ok, world.last_page = bool(ack["ok"]), ""
    if role in rule.allowed:
        assert ack["ok"] is True, ("socket", ack)
    else:
        default = (
            "auth_required"
            if role in ANONYMOUS
            else rule.socket_refusals.get("__default__", "forbidden")
        )
        assert ack["ok"] is False and ack["error"]["code"] == rule.socket_refusals.get(
            role, default
        ), ("socket", ack)
    assert rule.done(world) is (role in rule.allowed), "socket: the change (not) made"


# Every cell runs on both databases outside CI; CI runs each once, on SQLite and on
# PostgreSQL in turn (each action and each role meet both): building a cell's world takes
# most of its time: the whole matrix took 2¼ minutes on SQLite and 4 on PostgreSQL on a
# quiet machine, and about twice that in CI, beside the other stage.
@pytest.mark.ci_alternate
@pytest.mark.parametrize(("action", "role"), CELLS)
def test_role_against_action(world, client, auth, socket_for, action, role):
    """One cell of the table: over HTTP where a page or form offers it, then the socket."""
    rule = EXPECTED[action]
    world.role = role
    if rule.http is not None:
        try_over_http(rule, world, client, auth, role)
    if rule.socket is not None:
        try_over_the_socket(rule, world, socket_for, role)


def test_the_table_covers_every_role_and_every_policy_rule():
    """A new rule in forum/policy.py needs a row here (or a reason it has none)."""
    import inspect

    from forum import policy

    rules = {
        name
        for name, fn in inspect.getmembers(policy, inspect.isfunction)
        if name.startswith(("can_", "is_", "exempt_")) and fn.__module__ == policy.__name__
    }
    covered_by = {
        "can_administer": "open the admin page",
        "can_change_roles": "appoint a site moderator",
        "can_review_organisation": "verify an organisation",
        "can_register_organisation": "register an organisation",
        "can_join_organisation": "ask to join an organisation",
        "can_request_membership": "ask to join an organisation",
        "can_manage_organisation": "approve a member of an organisation",
        "can_act_for_organisation": "draft the organisation's response",
        "can_view_organisation": "see a rejected organisation",
        "can_see_members": "see an organisation's members",
        "can_create_forum": "open a forum",
        "is_forum_moderator": "lock a thread",
        "can_manage_forum": "invite people to a forum",
        "can_set_forum_visibility": "change who can read a forum",
        "can_view_forum": "read the members thread",
        "can_post_in_forum": "post in the invite-only thread",
        "can_start_thread": "start a thread in the public forum",
        "can_view_thread": "read the invite thread",
        "can_send_message": "post in the public thread",
        "can_edit_message": "edit someone else's message",
        "can_delete_message": "delete someone else's message",
        "can_view_revisions": "see earlier versions of someone else's message",
        "can_create_round": "draft a consultation round",
        "can_manage_round": "open a round",
        "can_view_round": "see a draft round",
        "can_draft_response": "draft the organisation's response",
        "can_submit_response": "submit the organisation's response",
        "can_view_action": "see an action from the invite-only thread",
        "can_propose_action": "propose an action from a message",
        "is_action_owner_side": "accept an action for the organisation",
        "can_accept_action": "accept an action for the department",
        "can_change_action": "change an accepted action",
        "can_decline_action": "decline an action for the department",
        "can_hide_action": "hide an action",
        "can_follow_action": "follow an action",
        "can_use_moderation": "open the review queue",
        "can_flag_message": "flag a message",
        "can_moderate_thread": "lock a thread",
        "can_moderate_message": "hide a message",
        "can_moderate_person": "mute someone in the forum",
        "can_suspend": "suspend an account",
        "can_lift": "lift a mute",
        "can_appeal": "appeal a decision",
        "can_decide_appeal": "decide an appeal",
        "can_see_redacted_original": "see a redacted message's original text",
        "can_read_document": "download a round's document",
        "exempt_from_slow_mode": "post twice in slow mode",
        # role predicates, exercised by every row through the roles
        "is_admin": "open the admin page",
        "is_site_moderator": "suspend an account",
        "is_official": "open a forum",
    }
    # rules of another dimension than the roles, with their own tests
    tested_in = {
        "can_read_with_token": "test_api.py::test_a_token_without_the_read_scope_reads_as_a_visitor",
        "can_respond_with_token": "test_api.py::test_scopes_and_policy_limit_what_a_token_may_answer",
        "can_appeal_by_link": "test_appeal_link.py::test_the_policy",
        # can_read_document for a whole latest version at once: the two agree for every
        # reader and every phase of the round
        "can_read_latest_version_documents": (
            "test_api_response_documents.py::"
            "test_the_batch_rule_is_the_per_document_rule_for_the_latest_version"
        ),
        # who the hiding is a decision about, beyond the roles of "hide an action"
        "can_show_action": (
            "test_follow_up_decline.py::test_the_person_a_hiding_is_about_cannot_show_it_again"
        ),
    }
    for where in tested_in.values():
        module, test = where.split("::")
        assert f"def {test}(" in (Path(__file__).parent / module).read_text(encoding="utf-8")
    rules -= set(tested_in)
    assert rules <= set(covered_by), f"rules without a row: {sorted(rules - set(covered_by))}"
    assert set(covered_by.values()) <= set(EXPECTED)
