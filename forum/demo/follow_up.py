"""Demo follow-up: actions in different states (one declined, with its reason), with updates,
from the demo dialogue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import Commitment, Message, Organisation, User
from ..services import follow_up


def _ids(*slugs: str) -> list[int]:
    return list(db.session.scalars(select(Commitment.id).where(Commitment.slug.in_(slugs))))


def seed_demo_actions(users: dict[str, User], org: Organisation, messages: list[Message]) -> None:
    """Proposed, declined, in progress, done, dropped and overdue actions, owned by either
    side."""
    official = users["tjansteperson"]
    department = f"department:{official.department_id}"
    today = follow_up.today()

    def propose(user: User, title: str, owner: str, days: int, slugs, message=None, text=""):  # noqa: ANN001
        return follow_up.propose_action(
            user,
            follow_up.ActionInput(
                title=title,
                description=text,
                owner=owner,
                due_date=(today + timedelta(days=days)).isoformat(),
                commitment_ids=_ids(*slugs),
                message_id=message.id if message else None,
            ),
        )

    evenings = propose(
        users["ordforande"],
        "Kvällsöppet på mötesplatsen två dagar i veckan",
        department,
        90,
        ["forstarkt-samspel-och-tidigt-samrad", "delaktighet"],
        messages[0] if messages else None,
        "Prova kvällsöppet tisdagar och torsdagar under en termin och utvärdera med de unga.",
    )
    follow_up.accept_action(official, evenings.id)
    follow_up.set_following(users["medlem"], evenings.id, True)  # the member's start page
    follow_up.change_action(official, evenings.id, "in_progress", 40)
    follow_up.post_update(
        official,
        evenings.id,
        "Personal är rekryterad. Vi öppnar **tisdagar 17–21** från nästa månad.",
    )
    propose(
        users["medlem"],
        "Matlagningskvällar tillsammans med unga",
        f"organisation:{org.id}",
        120,
        ["delaktighet"],
        messages[1] if len(messages) > 1 else None,
        "Föreningen ordnar en matlagningskväll i månaden.",
    )
    calendar = propose(
        official,
        "Gemensam bokningskalender för föreningslokaler",
        department,
        -10,
        ["starka-sociala-ekonomins-forutsattningar"],
        text="En kalender där stadens och föreningarnas lokaler syns och kan bokas.",
    )
    follow_up.change_action(official, calendar.id, "done", 100)
    follow_up.post_update(official, calendar.id, "Kalendern är i drift på stadens webbplats.")
    guide = propose(
        official,
        "Tryckt guide om överenskommelsen till alla föreningar",
        department,
        30,
        ["spridning-av-overenskommelsen"],
    )
    follow_up.change_action(
        official, guide.id, "dropped", 0, "Ersätts av den här webbplatsen, som alla kan läsa."
    )
    # declined, with the reason the department gives: a newcomer sees a "no" is answered
    parking = propose(
        users["medlem"],
        "Gratis parkering för alla föreningsaktiva vid mötesplatsen",
        department,
        60,
        ["starka-sociala-ekonomins-forutsattningar"],
        messages[1] if len(messages) > 1 else None,
        "Föreningarnas volontärer ska kunna parkera gratis när de har aktiviteter.",
    )
    follow_up.decline_action(
        official,
        parking.id,
        "Parkeringen sköts av trafiknämnden, inte av oss. Vi tar gärna upp frågan med dem "
        "på nästa dialogmöte.",
    )
    # an advert posing as a proposal, hidden by the moderator: moderators see it marked,
    # its proposer is told, and "Moderation in the open" counts it
    advert = propose(
        users["medlem"],
        "Köp våra konferenspaket till rabatterat pris",
        department,
        20,
        ["starka-sociala-ekonomins-forutsattningar"],
        messages[0] if messages else None,
    )
    follow_up.hide_action(
        users["moderator"], advert.id, "Reklam för ett företag, inte en åtgärd för samarbetet."
    )
    propose(
        official,
        "Utvärdera lokalreglerna tillsammans med föreningarna",
        department,
        -5,
        ["uppfoljning-och-utvardering-av-overenskommelsen"],
    )
