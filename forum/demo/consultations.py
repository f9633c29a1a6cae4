"""Demo consultation rounds, one in each phase: a draft, a scheduled one, an open one with a
draft response and a moved deadline, a closed one awaiting feedback (one organisation
declined, with a reason) and one with published feedback."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import (
    Commitment,
    ConsultationResponse,
    MemberRole,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationForm,
    OrganisationStatus,
    User,
)
from ..models.base import utcnow
from ..services import accounts, consultations, documents
from .pdf import simple_pdf

DEMO_DOMAIN = "demo.dialogforum.se"


def _ids(*slugs: str) -> list[int]:
    return list(db.session.scalars(select(Commitment.id).where(Commitment.slug.in_(slugs))))


def _second_organisation() -> tuple[Organisation, User]:
    """A verified cooperative whose admin has no demo login (it only answers the closed round)."""
    admin = accounts.create_user_with_role(
        f"kooperativet@{DEMO_DOMAIN}", "Karin Kooperativ", secrets.token_urlsafe(12), "member"
    )
    org = Organisation(
        slug="kooperativet-gront",
        name="Kooperativet Grönt",
        form=OrganisationForm.kooperativ,
        org_number="802479-1231",
        description="Ett arbetskooperativ som driver stadsodling och en kafeteria i Angered.",
        status=OrganisationStatus.verified,
        created_by_id=admin.id,
    )
    db.session.add(org)
    db.session.flush()
    db.session.add(
        Membership(
            organisation_id=org.id,
            user_id=admin.id,
            role=MemberRole.admin,
            status=MembershipStatus.approved,
        )
    )
    db.session.commit()
    return org, admin


def _local(delta: timedelta) -> str:
    return consultations.local_input(utcnow() + delta)


def seed_demo_rounds(users: dict[str, User], org: Organisation) -> None:
    """Show the whole loop: a round answered, closed and fed back on; one open for input."""
    official = users["tjansteperson"]
    coop, coop_admin = _second_organisation()

    done = consultations.create_round(
        official,
        consultations.RoundInput(
            title="Föreningslokaler i stadsdelarna",
            problem="Många föreningar saknar lokaler på kvällarna, samtidigt som stadens "
            "lokaler står tomma. **Hur kan vi dela dem bättre?**",
            background="Social resursnämnd ska föreslå nya regler för lokalbokning under våren.",
            stage="options",
            decision_date=(utcnow() + timedelta(days=60)).date().isoformat(),
            audience="all_verified",
            commitment_ids=_ids(
                "forstarkt-samspel-och-tidigt-samrad", "starka-sociala-ekonomins-forutsattningar"
            ),
            opens_at=_local(-timedelta(days=30)),
            closes_at=_local(timedelta(days=1)),
            questions=[
                ("Vilka lokaler behöver er förening, och när?", "Ange gärna veckodagar och tider."),
                ("Vad skulle göra det lättare att dela lokaler med andra?", ""),
            ],
        ),
    )
    documents.add_round_document(
        official,
        done.id,
        "Underlag lokalbokning.pdf",
        simple_pdf(
            [
                "Underlag: Föreningslokaler i stadsdelarna",
                "Social resursnämnd",
                "",
                "Stadens lokaler används i dag mest dagtid.",
                "Förslaget: boka skolornas lokaler kvällstid genom föreningsbokningen.",
            ]
        ),
    )
    consultations.open_round(official, done.id)
    first, second = (q.id for q in done.questions)
    documents.add_response_document(
        users["ordforande"],
        done.id,
        org.id,
        "Remissvar Föreningen.pdf",
        simple_pdf(
            [
                f"Remissvar från {org.name}",
                "",
                "Vi välkomnar förslaget och bifogar våra önskemål om tider.",
                "Undertecknat av ordföranden.",
            ]
        ),
    )
    consultations.save_response(
        users["ordforande"],
        done.id,
        org.id,
        {
            first: "Läxhjälpen behöver ett klassrum **måndag–torsdag 17–20**.",
            second: "En gemensam bokningskalender och nycklar som går att låna ut.",
        },
        submit=True,
    )
    coop_response = consultations.save_response(
        coop_admin,
        done.id,
        coop.id,
        {
            first: "Ett kök med plats för 20 personer, helst på helger.",
            second: "Tydliga regler för städning, så att ingen behöver vara orolig.",
        },
        submit=True,
    )
    consultations.close_round(official, done.id)
    gemenskap = db.session.scalar(
        select(ConsultationResponse.id).where(
            ConsultationResponse.round_id == done.id,
            ConsultationResponse.organisation_id == org.id,
        )
    )
    assert gemenskap is not None
    consultations.save_feedback(
        official,
        done.id,
        {
            first: consultations.FeedbackInput(
                heard="Behovet är störst på vardagskvällar och helger, och kök efterfrågas.",
                action="Från mars bokas skolornas lokaler kvällstid genom föreningsbokningen.",
                source_ids=[gemenskap, coop_response.id],
            ),
            second: consultations.FeedbackInput(
                heard="En gemensam kalender och enkla regler för nycklar och städning.",
                action="Vi tar fram en gemensam bokningskalender tillsammans med två föreningar.",
                source_ids=[gemenskap],
            ),
        },
        publish=True,
    )
    # a correction after publishing: shown at once and kept on the round's record
    consultations.save_feedback(
        official,
        done.id,
        {
            first: consultations.FeedbackInput(
                heard="Behovet är störst på vardagskvällar och helger, och kök efterfrågas.",
                action="Från april bokas skolornas lokaler kvällstid genom föreningsbokningen "
                "(mars hann skolorna inte förbereda).",
                source_ids=[gemenskap, coop_response.id],
            ),
        },
    )

    current = consultations.create_round(
        official,
        consultations.RoundInput(
            title="Mötesplatser för unga på kvällstid",
            problem="Staden vill veta vad unga saknar på kvällarna **innan** vi skriver "
            "ett förslag. Inget är bestämt ännu.",
            stage="problem",
            audience="all_verified",
            commitment_ids=_ids("forstarkt-samspel-och-tidigt-samrad", "delaktighet"),
            opens_at=_local(-timedelta(days=2)),
            closes_at=_local(timedelta(days=12)),
            questions=[
                ("Vad saknar unga i era verksamheter på kvällarna?", ""),
                ("Vilka platser fungerar redan bra, och varför?", "Exempel är välkomna."),
                ("Hur vill ni vara med när förslaget tas fram?", ""),
            ],
        ),
    )
    consultations.open_round(official, current.id)
    consultations.save_response(
        users["medlem"],
        current.id,
        org.id,
        {current.questions[0].id: "Ett kök där man kan laga mat tillsammans. (utkast)"},
    )
    # a later deadline, with the reason (a round revision the organisations are told of)
    consultations.change_deadline(
        official,
        current.id,
        _local(timedelta(days=19)),
        "Flera föreningar bad om en vecka till, eftersom deras styrelser inte hinner "
        "träffas före sista dagen.",
    )
    _seed_awaiting_feedback(users, org, coop, coop_admin)
    _seed_draft_and_scheduled(official)


def _seed_awaiting_feedback(
    users: dict[str, User], org: Organisation, coop: Organisation, coop_admin: User
) -> None:
    """A closed round the official has not yet fed back on: one response, one declined."""
    official = users["tjansteperson"]
    summer = consultations.create_round(
        official,
        consultations.RoundInput(
            title="Sommarlovsaktiviteter för barn och unga",
            problem="Hur kan föreningarnas sommarlovsaktiviteter nå fler barn, särskilt de "
            "som inte reser bort?",
            background="Nämnden fördelar bidragen till sommarlovsaktiviteter på nytt i vår.",
            stage="options",
            audience="all_verified",
            commitment_ids=_ids("delaktighet", "starka-sociala-ekonomins-forutsattningar"),
            opens_at=_local(-timedelta(days=40)),
            closes_at=_local(timedelta(days=1)),
            questions=[
                ("Vilka barn når era sommaraktiviteter i dag, och vilka saknas?", ""),
                ("Vad skulle göra det lättare att söka bidrag för sommaren?", ""),
            ],
        ),
    )
    consultations.open_round(official, summer.id)
    first, second = (q.id for q in summer.questions)
    consultations.save_response(
        coop_admin,
        summer.id,
        coop.id,
        {
            first: "Vi når barnen i närområdet, men sällan dem som bor längre bort i Angered.",
            second: "En enklare ansökan och besked före påsk, så att vi hinner planera.",
        },
        submit=True,
    )
    consultations.decline(
        users["ordforande"],
        summer.id,
        org.id,
        "Vi har ingen verksamhet på sommaren och kan därför inte svara på frågorna.",
    )
    consultations.close_round(official, summer.id)


def _seed_draft_and_scheduled(official: User) -> None:
    """A round still being written (only the department sees it) and one that opens later."""
    consultations.create_round(
        official,
        consultations.RoundInput(
            title="Föreningslivet i den nya stadsdelsparken",
            problem="Parken byggs om nästa år. Hur vill föreningarna använda den?",
            stage="problem",
            audience="all_verified",
            commitment_ids=_ids("forstarkt-samspel-och-tidigt-samrad"),
            opens_at=_local(timedelta(days=20)),
            closes_at=_local(timedelta(days=50)),
            questions=[("Vilka aktiviteter skulle er förening vilja ha i parken?", "")],
        ),
    )
    scheduled = consultations.create_round(
        official,
        consultations.RoundInput(
            title="Feriejobb hos föreningar",
            problem="Staden vill att fler feriejobb finns hos föreningar. Vad behövs för att "
            "ni ska kunna ta emot ungdomar?",
            stage="problem",
            audience="all_verified",
            commitment_ids=_ids("starka-sociala-ekonomins-forutsattningar", "delaktighet"),
            opens_at=_local(timedelta(days=5)),
            closes_at=_local(timedelta(days=35)),
            questions=[
                ("Hur många ungdomar skulle ni kunna ta emot, och under vilka veckor?", ""),
                ("Vilket stöd behöver ni för att handleda dem?", ""),
            ],
        ),
    )
    consultations.open_round(official, scheduled.id)  # opens by itself on the day
