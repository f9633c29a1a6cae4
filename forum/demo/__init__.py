"""The demo data (one account per role, forums, a live conversation, moderation, rounds, actions), built through services like any other caller: may import services, queries, models and base modules, never web code.

Its last step records "demo.completed" in the audit log: a demo whose accounts exist
without that entry stopped half-way (DemoIncomplete), and is never taken as present."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import (
    Action,
    AuditEntry,
    Commitment,
    Forum,
    MemberRole,
    Membership,
    MembershipStatus,
    Message,
    Notification,
    Organisation,
    OrganisationForm,
    OrganisationStatus,
    Thread,
    User,
)
from ..queries.start import LATEST_NOTIFICATIONS
from ..services import (
    accounts,
    api_tokens,
    audit,
    forums,
    moderation,
    notifications,
    organisations,
    reactions,
)
from .consultations import seed_demo_rounds
from .follow_up import seed_demo_actions

DEMO_DOMAIN = "demo.dialogforum.se"
# printed with the passwords: an access token of the organisation admin (read, respond)
API_TOKEN_LABEL = "API token"  # noqa: S105 - a label, not a secret


# the audit entry written as the demo's last step
COMPLETED = "demo.completed"
# the last message of demos made before the marker existed: they finished
_LEGACY_LAST_MESSAGE = "demo-news-ordforande"
# the last step of demos made before that message (29 November to 5 December): the
# official's proposed action. Demos made since make it too, before their last steps, so
# it counts only for a demo whose accounts were made before the message was added.
_LEGACY_LAST_ACTION = "Utvärdera lokalreglerna tillsammans med föreningarna"
_LEGACY_UNTIL = datetime(2026, 12, 5, 8, 31, tzinfo=UTC)


class DemoIncomplete(Exception):
    """The demo's accounts exist but its last step never ran: a seed stopped half-way."""

    def __init__(self) -> None:
        super().__init__(
            "The demo was started but never finished (an earlier `seed --demo` or `setup` "
            "stopped half-way), so it is incomplete and its passwords were not all shown. "
            "To start over, empty the database: stop the server, delete the SQLite file "
            "(instance/forum.sqlite3 by default) or drop and create the PostgreSQL "
            "database, then run `flask --app forum setup` (./scripts/run does). To keep it "
            "as it is, set a password with `flask --app forum users set-password HANDLE`."
        )


def demo_state() -> str:
    """ "absent", "complete" or "incomplete" (accounts made, last step never reached)."""
    if db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == COMPLETED)):
        return "complete"
    admin = db.session.scalar(select(User).where(User.email == f"admin@{DEMO_DOMAIN}"))
    if admin is None:
        return "absent"
    legacy = _made_by(
        "ordforande", Message.id, Message.author_id, Message.client_id == _LEGACY_LAST_MESSAGE
    )
    if legacy is None and admin.created_at < _LEGACY_UNTIL:
        legacy = _made_by(
            "tjansteperson", Action.id, Action.proposed_by_id, Action.title == _LEGACY_LAST_ACTION
        )
    return "complete" if legacy is not None else "incomplete"


def _made_by(account: str, row_id: Any, author_id: Any, *where: Any) -> int | None:
    """The id of a row the demo account `account` made that matches `where`, if any."""
    return db.session.scalar(
        select(row_id)
        .join(User, User.id == author_id)
        .where(User.email == f"{account}@{DEMO_DOMAIN}", *where)
    )


@dataclass
class DemoAccount:
    email: str
    role: str
    password: str


def _commitment(slug: str) -> Commitment:
    item = db.session.scalar(select(Commitment).where(Commitment.slug == slug))
    assert item is not None, "seed the agreement first"
    return item


def seed_demo() -> list[DemoAccount]:
    """Create the demo (one account per role, an organisation, forums, a conversation) once;
    [] when it is there, DemoIncomplete when an earlier seed stopped half-way."""
    state = demo_state()
    if state == "complete":
        return []
    if state == "incomplete":
        raise DemoIncomplete()
    people = [
        ("admin", "Alva Admin", "admin", None),
        ("tjansteperson", "Tove Tjänsteperson", "official", "Social resursnämnd"),
        ("moderator", "Maja Moderator", "moderator", None),
        ("ordforande", "Olle Ordförande", "member", None),
        ("medlem", "Mira Medlem", "member", None),
    ]
    accounts_made: list[DemoAccount] = []
    users: dict[str, User] = {}
    for local, name, role, department in people:
        password = secrets.token_urlsafe(12)
        email = f"{local}@{DEMO_DOMAIN}"
        users[local] = accounts.create_user_with_role(email, name, password, role, department)
        label = {"ordforande": "organisation admin"}.get(local, role)
        accounts_made.append(DemoAccount(email, label, password))

    org = Organisation(
        slug="foreningen-gemenskap",
        name="Föreningen Gemenskap",
        form=OrganisationForm.forening,
        org_number="802456-1238",
        description="En ideell förening på Hisingen som driver läxhjälp, språkcafé och mötesplatser.",
        website="https://example.org/gemenskap",
        status=OrganisationStatus.verified,
        created_by_id=users["ordforande"].id,
    )
    db.session.add(org)
    db.session.flush()
    db.session.add_all(
        [
            Membership(
                organisation_id=org.id,
                user_id=users["ordforande"].id,
                role=MemberRole.admin,
                status=MembershipStatus.approved,
            ),
            Membership(
                organisation_id=org.id,
                user_id=users["medlem"].id,
                role=MemberRole.member,
                status=MembershipStatus.approved,
            ),
        ]
    )
    db.session.commit()

    official = users["tjansteperson"]
    forum = forums.create_forum(
        official,
        "Tidigt samråd om mötesplatser",
        "Hur ska stadens mötesplatser för unga utvecklas? Vi vill höra föreningarna **innan** "
        "problemet är formulerat.",
        "public",
        [
            _commitment("forstarkt-samspel-och-tidigt-samrad").id,
            _commitment("dialogforum-och-dialogformer").id,
        ],
        moderator_ids=[users["moderator"].id],
    )
    forums.create_forum(
        official,
        "Finansiering och IOP",
        "Idéburet offentligt partnerskap: erfarenheter, frågor och nästa steg. För inloggade.",
        "members",
        [_commitment("finansieringsformer-for-den-sociala-ekonomin").id],
    )
    thread = forums.start_thread(
        official,
        forum,
        "Vad saknas på mötesplatserna i dag?",
        [_commitment("forstarkt-samspel-och-tidigt-samrad").id, _commitment("delaktighet").id],
        "Välkomna! Berätta vad unga i era verksamheter saknar. Inget är bestämt ännu.",
    )
    conversation = [
        (
            "ordforande",
            "Kvällsöppet! Många av våra ungdomar jobbar eller pluggar på dagarna.",
            None,
        ),
        (
            "medlem",
            "Håller med @olle.ordforande. Och en plats där man kan *laga mat* tillsammans.",
            0,
        ),
        (
            "tjansteperson",
            "Tack, det tar vi med. Finns det lokaler ni redan använder som kunde delas?",
            1,
        ),
    ]
    made: list[Message] = []
    for local, body, reply_index in conversation:
        reply_id = made[reply_index].id if reply_index is not None else None
        message, _created = forums.send_message(
            users[local], thread.id, body, f"demo-{len(made)}", reply_id
        )
        made.append(message)
    # reactions, as people would leave them (forum/services/reactions.py)
    for local, index, emoji in [
        ("medlem", 0, "👍"),
        ("tjansteperson", 0, "👍"),
        ("ordforande", 2, "❤️"),
    ]:
        reactions.react(users[local], made[index].id, emoji, add=True)
    # Swedish compounds for the README's search example: "mötesplatserna" finds
    # "mötesplatsträff", "föreningar" finds "föreningsledare".
    forums.send_message(
        users["ordforande"],
        thread.id,
        "Vi bjuder in till en mötesplatsträff för föreningsledare i stadsdelen i mars.",
        "demo-compounds",
    )
    # a member writes in Arabic (the association runs a language café): the message reads
    # right to left, in an Arabic voice, on the Swedish page (forum.text.text_attributes)
    forums.send_message(
        users["medlem"],
        thread.id,
        "نقدم أيضًا مقهى لغة مساء كل خميس، والجميع مرحب بهم. يمكن أن يكون مكانًا للشباب أيضًا.",
        "demo-arabic",
    )
    # the organisation's system reads and answers through the API with this token
    _token, raw_token = api_tokens.create_token(
        users["ordforande"], "Föreningens ärendesystem (demo)", ["read", "respond"], org.id
    )
    accounts_made.append(DemoAccount(f"ordforande@{DEMO_DOMAIN}", API_TOKEN_LABEL, raw_token))
    forum_iop = db.session.scalar(select(Forum).where(Forum.slug == "finansiering-och-iop"))
    if forum_iop is not None:
        forums.start_thread(
            users["ordforande"],
            forum_iop,
            "Erfarenheter av IOP i stadsdelarna",
            [_commitment("finansieringsformer-for-den-sociala-ekonomin").id],
            "Vi har drivit ett IOP i två år. Fråga gärna!",
        )
    # an edited message (its earlier version is kept as a revision)
    forums.edit_message(
        users["medlem"],
        made[1].id,
        "Håller med @olle.ordforande. Och en plats där man kan *laga mat* tillsammans, "
        "gärna med ett rum bredvid för läxhjälp.",
    )
    _seed_working_group(users)
    _seed_moderation(users, thread)
    seed_demo_rounds(users, org)
    seed_demo_actions(users, org, made)
    _seed_mute(users, thread)
    _seed_news_for_the_member(users, thread, forum_iop)
    _seed_join_request(org)
    # the last step: from now on the demo is complete
    audit.record(None, COMPLETED, "demo", None, DEMO_DOMAIN)
    db.session.commit()
    return accounts_made


def _seed_working_group(users: dict[str, User]) -> None:
    """An invite-only forum: the official's working group with the organisation."""
    official = users["tjansteperson"]
    group = forums.create_forum(
        official,
        "Arbetsgrupp: kvällsöppen mötesplats",
        "En sluten arbetsgrupp där staden och Föreningen Gemenskap planerar försöket med "
        "kvällsöppet: vilka kvällar, vem som är på plats och hur vi frågar de unga efteråt.",
        "invite",
        [_commitment("forstarkt-samspel-och-tidigt-samrad").id],
    )
    for local in ("ordforande", "medlem"):
        forums.change_forum_people(official, group, users[local].email, "member", add=True)
    meeting = forums.start_thread(
        official,
        group,
        "Planering inför första kvällen",
        [_commitment("forstarkt-samspel-och-tidigt-samrad").id],
        "Vilka kvällar passar er bäst, och vem kan ta emot ungdomarna första gången?",
    )
    forums.send_message(
        users["ordforande"],
        meeting.id,
        "Tisdagar passar oss. Mira och jag kan vara där från klockan fem.",
        "demo-group-1",
    )


def _seed_join_request(org: Organisation) -> None:
    """Someone new asks to join the organisation: its admin (Olle) is told, and answers on
    the organisation's page. Sam has no password to log in with; the demo shows the admin's
    side."""
    newcomer = accounts.create_user_with_role(
        f"sam.sokande@{DEMO_DOMAIN}", "Sam Sökande", secrets.token_urlsafe(24), "member", None
    )
    organisations.request_membership(newcomer, org.id)


def _seed_mute(users: dict[str, User], thread) -> None:
    """A person muted in the public forum for a week, with the reason they are told, and
    her appeal, not yet decided."""
    karin = db.session.scalar(select(User).where(User.email == f"kooperativet@{DEMO_DOMAIN}"))
    if karin is None:
        return
    for n in range(3):
        forums.send_message(
            karin,
            thread.id,
            "Kom till vårt kafé i Angered på lördag – alla bjuds på fika!",
            f"demo-cafe-{n}",
        )
    mute = moderation.mute_person(
        users["moderator"],
        karin.id,
        thread.forum_id,
        7 * 24 * 60,
        "Samma inbjudan tre gånger i rad hör inte hemma i samtalet. Du kan läsa som vanligt "
        "och är välkommen att skriva igen om en vecka.",
    )
    # she appeals; it waits in the queue of a moderator who did not mute her (the admin)
    moderation.appeal(
        karin,
        mute.id,
        "Mobilen skickade samma rad tre gånger när nätet hackade. Jag menade bara en gång.",
    )


def _seed_news_for_the_member(users: dict[str, User], thread, forum_iop: Forum | None) -> None:
    """What the member has not seen yet (their start page): new messages in the threads
    they took part in, a mention, a reply, and one notification already read."""
    member = users["medlem"]
    if forum_iop is not None:
        iop = db.session.scalar(select(Thread).where(Thread.forum_id == forum_iop.id))
        if iop is not None:
            question, _created = forums.send_message(
                member, iop.id, "Hur lång tid tog det att komma igång med ert IOP?", "demo-iop-1"
            )
            forums.send_message(
                users["ordforande"],
                iop.id,
                "Ungefär ett halvår, mest för att enas om vad som skulle mätas.",
                "demo-iop-2",
                question.id,
            )
    for local, body in [
        ("tjansteperson", "Vi har hittat en lokal med kök. @mira.medlem, vill ni testa den?"),
        ("ordforande", "Gärna! Vi kan ta med läxhjälpsgruppen en tisdag."),
    ]:
        forums.send_message(users[local], thread.id, body, f"demo-news-{local}")
    shown = db.session.scalars(
        select(Notification.id)
        .where(Notification.user_id == member.id)
        .order_by(Notification.id.desc())
        .limit(LATEST_NOTIFICATIONS)
    ).all()
    if shown:  # the oldest the start page shows was already read
        notifications.mark_read(member, [shown[-1]])


def _seed_moderation(users: dict[str, User], thread) -> None:
    """Demo moderation: flags waiting in the queue, a hidden message, an audit trail."""
    personal, _created = forums.send_message(
        users["medlem"],
        thread.id,
        "Ring mig gärna om lokalerna: 070-123 45 67, jag bor på Exempelgatan 4.",
        "demo-personal-data",
    )
    advert, _created = forums.send_message(
        users["ordforande"],
        thread.id,
        "Köp billiga solglasögon på https://example.com/rea — bara i dag!",
        "demo-advert",
    )
    moderation.flag_message(users["ordforande"], personal.id, "personal_data")
    moderation.flag_message(users["tjansteperson"], personal.id, "personal_data")
    moderation.flag_message(users["medlem"], advert.id, "spam")
    hide = moderation.hide_message(
        users["moderator"], advert.id, "dialog", "Reklam hör inte hemma i samtalet."
    )
    # the author appeals; an admin, not the moderator who hid it, decides
    appeal = moderation.appeal(
        users["ordforande"],
        hide.id,
        "Det var inte jag som skrev det. Någon använde min inloggning på föreningens dator, "
        "och jag har bytt lösenord nu.",
    )
    moderation.decide_appeal(
        users["admin"],
        appeal.id,
        "upheld",
        "Meddelandet förblir dolt eftersom det är reklam, men det räknas inte mot dig. "
        "Bra att du bytte lösenord.",
    )
    moderation.pin_thread(users["moderator"], thread.id, True)
