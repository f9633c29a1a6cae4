"""The demo data (one account per role, forums, a live conversation, moderation, rounds, actions), built through services like any other caller: may import services, queries, models and base modules, never web code."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import (
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
from ..services import accounts, api_tokens, forums, moderation, notifications, reactions
from .consultations import seed_demo_rounds
from .follow_up import seed_demo_actions

DEMO_DOMAIN = "demo.dialogforum.se"
# printed with the passwords: an access token of the organisation admin (read, respond)
API_TOKEN_LABEL = "API token"  # noqa: S105 - a label, not a secret


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
    """Create the demo (one account per role, an organisation, forums, a conversation) once."""
    if db.session.scalar(select(User.id).where(User.email == f"admin@{DEMO_DOMAIN}")) is not None:
        return []
    people = [
        ("admin", "Alva Admin", "admin", None),
        ("tjansteperson", "Omar Official", "official", "Social resursnämnd"),
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
        description="En ideell förening i Hisingen som driver läxhjälp, språkcafé och mötesplatser.",
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
        ("ordforande", "Kvällsöppet! Många av våra ungdomar jobbar eller pluggar på dagen.", None),
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
    _seed_moderation(users, thread)
    seed_demo_rounds(users, org)
    seed_demo_actions(users, org, made)
    _seed_news_for_the_member(users, thread, forum_iop)
    return accounts_made


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
    moderation.hide_message(
        users["moderator"], advert.id, "dialog", "Reklam hör inte hemma i samtalet."
    )
    moderation.pin_thread(users["moderator"], thread.id, True)
