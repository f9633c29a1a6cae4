"""The read side of consultation rounds: lists, overviews, published responses, exports.

Every function issues a fixed number of queries, whatever the number of
responses, organisations or questions (tests count them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import joinedload, selectinload

from .. import policy
from ..errors import NotFound
from ..extensions import db
from ..models import (
    Audience,
    Commitment,
    ConsultationFeedback,
    ConsultationResponse,
    ConsultationRound,
    Document,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationStatus,
    Phase,
    ResponseStatus,
    ResponseVersion,
    RoundNotice,
    RoundRevision,
    RoundState,
    User,
)
from ..models.base import utcnow
from ..text import plain_text

CLOSING_SOON = timedelta(days=7)
FILTERS = ("open", "closing", "awaiting", "published")


def _round_query():
    return select(ConsultationRound).options(
        joinedload(ConsultationRound.department),
        selectinload(ConsultationRound.questions),
        selectinload(ConsultationRound.commitments),
        selectinload(ConsultationRound.invited),
    )


def get_round(user: User | None, round_id: int) -> ConsultationRound:
    """The round, if the user may see it (a draft only for its officials), else NotFound."""
    round_ = db.session.scalar(_round_query().where(ConsultationRound.id == round_id))
    if round_ is None or not policy.can_view_round(user, round_):
        raise NotFound(_("No such consultation round."))
    return round_


def _visible_filter(user: User | None):
    """Drafts only for the officials of their department (and admins)."""
    if policy.is_admin(user):
        return true()
    if user is not None and policy.is_official(user):
        return or_(
            ConsultationRound.state != RoundState.draft,
            ConsultationRound.department_id == user.department_id,
        )
    return ConsultationRound.state != RoundState.draft


def _still_open(now: datetime):
    """Open and taking responses at `now`."""
    return and_(
        ConsultationRound.state == RoundState.open,
        ConsultationRound.opens_at <= now,
        ConsultationRound.closes_at > now,
    )


def list_rounds(
    user: User | None,
    phase: str | None = None,
    department_id: int | None = None,
    commitment_slug: str | None = None,
    now: datetime | None = None,
    for_me: bool = False,
) -> list[ConsultationRound]:
    """Rounds the user may see, filtered by phase, department, commitment and, with
    `for_me`, to those that concern a logged-in user (`asked_of`); newest first."""
    now = now or utcnow()
    query = (
        select(ConsultationRound)
        .options(
            joinedload(ConsultationRound.department),
            selectinload(ConsultationRound.commitments),
        )
        .where(_visible_filter(user))
    )
    still_open = _still_open(now)
    if phase == "open":
        query = query.where(still_open)
    elif phase == "closing":
        query = query.where(still_open, ConsultationRound.closes_at <= now + CLOSING_SOON)
    elif phase == "awaiting":
        query = query.where(
            or_(
                ConsultationRound.state == RoundState.closed,
                and_(
                    ConsultationRound.state == RoundState.open,
                    ConsultationRound.closes_at <= now,
                ),
            )
        )
    elif phase == "published":
        query = query.where(ConsultationRound.state == RoundState.published)
    if department_id:
        query = query.where(ConsultationRound.department_id == department_id)
    if commitment_slug:
        query = query.where(ConsultationRound.commitments.any(Commitment.slug == commitment_slug))
    if for_me and user is not None and user.is_authenticated:
        query = query.where(asked_of(user))
    order = (ConsultationRound.closes_at.desc(), ConsultationRound.id.desc())
    return list(db.session.scalars(query.order_by(*order)))


def asked_of(user: User) -> Any:
    """The rounds that concern the person: those that ask one of their verified
    organisations, and those their department runs (the start page's "for you")."""
    own_orgs = (
        select(Membership.organisation_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Membership.user_id == user.id,
            Membership.status == MembershipStatus.approved,
            Organisation.status == OrganisationStatus.verified,
        )
    )
    asked = or_(
        and_(ConsultationRound.audience == Audience.all_verified, own_orgs.exists()),
        ConsultationRound.invited.any(Organisation.id.in_(own_orgs)),
    )
    if user.department_id is not None:
        asked = or_(asked, ConsultationRound.department_id == user.department_id)
    return asked


def open_rounds_for(
    user: User, now: datetime, limit: int = 8
) -> tuple[list[ConsultationRound], int]:
    """Open rounds that ask one of the person's verified organisations (or that their
    department runs), closing soonest first, and how many there are in all (the start page
    says how many more there are); one query whatever the number of rounds."""
    asked = asked_of(user)
    # the count of them all comes with each row (a window over the rows before the limit)
    rows = db.session.execute(
        select(ConsultationRound, func.count().over())
        .options(joinedload(ConsultationRound.department))
        .where(_still_open(now), asked)
        .order_by(ConsultationRound.closes_at, ConsultationRound.id)
        .limit(limit)
    ).all()
    return [round_ for round_, _total in rows], rows[0][1] if rows else 0


def open_rounds(now: datetime, limit: int = 5) -> list[ConsultationRound]:
    """Rounds taking responses now, closing soonest first (open rounds are public)."""
    return list(
        db.session.scalars(
            select(ConsultationRound)
            .options(joinedload(ConsultationRound.department))
            .where(_still_open(now))
            .order_by(ConsultationRound.closes_at, ConsultationRound.id)
            .limit(limit)
        )
    )


def latest_feedback(limit: int = 3) -> list[ConsultationRound]:
    """Rounds whose feedback the city published, newest publication first."""
    return list(
        db.session.scalars(
            select(ConsultationRound)
            .options(joinedload(ConsultationRound.department))
            .where(
                ConsultationRound.state == RoundState.published,
                ConsultationRound.feedback_published_at.is_not(None),
            )
            .order_by(ConsultationRound.feedback_published_at.desc(), ConsultationRound.id.desc())
            .limit(limit)
        )
    )


def response_counts(round_ids: list[int]) -> dict[int, int]:
    """Submitted responses per round, in one query."""
    if not round_ids:
        return {}
    rows = db.session.execute(
        select(ConsultationResponse.round_id, func.count())
        .where(
            ConsultationResponse.round_id.in_(round_ids),
            ConsultationResponse.version_count > 0,
        )
        .group_by(ConsultationResponse.round_id)
    ).all()
    return {round_id: count for round_id, count in rows}


@dataclass
class AudienceRow:
    """One organisation of the audience, for the official's overview."""

    organisation: Organisation
    response: ConsultationResponse | None
    reminded_at: datetime | None

    @property
    def responded(self) -> bool:
        return self.response is not None and self.response.version_count > 0


def audience_orgs(round_: ConsultationRound) -> list[Organisation]:
    """The organisations the round asks (verified ones), by name."""
    if round_.audience == Audience.invited:
        return [o for o in round_.invited if o.is_verified]
    return list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.status == OrganisationStatus.verified)
            .order_by(func.lower(Organisation.name))
        )
    )


def asked_orgs(
    round_: ConsultationRound, responses: dict[int, ConsultationResponse]
) -> list[Organisation]:
    """The organisations the round asked, by name: those stored when it opened (and invited
    since), and any that has a response to it; a draft's are those it would ask today."""
    if round_.state == RoundState.draft:
        return audience_orgs(round_)
    orgs = {o.id: o for o in round_.asked}
    missing = [org_id for org_id in responses if org_id not in orgs]
    if missing:
        orgs.update(
            (o.id, o)
            for o in db.session.scalars(select(Organisation).where(Organisation.id.in_(missing)))
        )
    return sorted(orgs.values(), key=lambda o: o.name.lower())


def overview(round_: ConsultationRound) -> list[AudienceRow]:
    """Invited / responded / not yet responded, with reminders, in four queries."""
    responses = {
        r.organisation_id: r
        for r in db.session.scalars(
            select(ConsultationResponse).where(ConsultationResponse.round_id == round_.id)
        )
    }
    orgs = asked_orgs(round_, responses)
    reminders = dict(
        db.session.execute(
            select(RoundNotice.scope, RoundNotice.sent_at).where(
                RoundNotice.round_id == round_.id, RoundNotice.kind == RoundNotice.REMINDED
            )
        ).all()
    )
    return [AudienceRow(o, responses.get(o.id), reminders.get(o.id)) for o in orgs]


@dataclass
class PublishedResponse:
    """An organisation's latest submitted version, with its answers by question id."""

    response: ConsultationResponse
    version: ResponseVersion
    answers: dict[int, str] = field(default_factory=dict)
    bodies: dict[int, str] = field(default_factory=dict)

    @property
    def organisation(self) -> Organisation:
        return self.response.organisation


def latest_versions(round_id: int, organisation_id: int | None = None) -> list[PublishedResponse]:
    """The latest submitted version of each response (or one organisation's), by name."""
    newest = (
        select(ResponseVersion.response_id, func.max(ResponseVersion.number).label("number"))
        .join(ConsultationResponse, ConsultationResponse.id == ResponseVersion.response_id)
        .where(ConsultationResponse.round_id == round_id)
        .group_by(ResponseVersion.response_id)
        .subquery()
    )
    query = (
        select(ResponseVersion)
        .join(
            newest,
            and_(
                newest.c.response_id == ResponseVersion.response_id,
                newest.c.number == ResponseVersion.number,
            ),
        )
        .options(selectinload(ResponseVersion.answers), selectinload(ResponseVersion.documents))
    )
    versions = list(db.session.scalars(query))
    if not versions:
        return []
    response_query = (
        select(ConsultationResponse)
        .options(joinedload(ConsultationResponse.organisation))
        .where(ConsultationResponse.id.in_([v.response_id for v in versions]))
    )
    if organisation_id is not None:
        response_query = response_query.where(
            ConsultationResponse.organisation_id == organisation_id
        )
    responses = {r.id: r for r in db.session.scalars(response_query)}
    out = [
        PublishedResponse(
            responses[v.response_id],
            v,
            {a.question_id: a.html for a in v.answers},
            {a.question_id: a.body for a in v.answers},
        )
        for v in versions
        if v.response_id in responses
    ]
    out.sort(key=lambda p: p.organisation.name.lower())
    return out


def feedback_by_question(round_id: int) -> dict[int, ConsultationFeedback]:
    """The city's feedback per question, with the responses it links to, in two queries."""
    rows = db.session.scalars(
        select(ConsultationFeedback)
        .options(
            selectinload(ConsultationFeedback.sources).joinedload(ConsultationResponse.organisation)
        )
        .where(ConsultationFeedback.round_id == round_id)
    )
    return {f.question_id: f for f in rows}


def responders_of(user: User | None, round_: ConsultationRound) -> list[tuple[Organisation, str]]:
    """The user's organisations that may respond to the round, with the user's role there."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    rows = db.session.execute(
        select(Organisation, Membership.role)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(
            Membership.user_id == user.id,
            Membership.status == MembershipStatus.approved,
            Organisation.status == OrganisationStatus.verified,
        )
        .order_by(func.lower(Organisation.name))
    ).all()
    return [(org, role.value) for org, role in rows if policy.in_round_audience(round_, org)]


def own_response(round_id: int, organisation_id: int) -> ConsultationResponse | None:
    return db.session.scalar(
        select(ConsultationResponse)
        .options(selectinload(ConsultationResponse.answers))
        .where(
            ConsultationResponse.round_id == round_id,
            ConsultationResponse.organisation_id == organisation_id,
        )
    )


def versions_of(response_id: int) -> list[ResponseVersion]:
    return list(
        db.session.scalars(
            select(ResponseVersion)
            .options(
                joinedload(ResponseVersion.submitted_by),
                selectinload(ResponseVersion.documents),
                selectinload(ResponseVersion.answers),  # what each version said (the page shows it)
            )
            .where(ResponseVersion.response_id == response_id)
            .order_by(ResponseVersion.number.desc())
        )
    )


@dataclass
class InputOutcome:
    """For an organisation's page: a round it answered and what came of it."""

    round: ConsultationRound
    response: ConsultationResponse
    feedback: list[ConsultationFeedback]
    still_open: bool = False  # taking responses: listed for the organisation's members only


def outcomes_for(organisation: Organisation, user: User | None = None) -> list[InputOutcome]:
    """Every round the organisation submitted a response to, with the feedback (fixed queries).

    Who has responded to a round is public once it closes (as the round's page, the remiss
    list, the exports and the API have it); a round still open is listed only for the
    organisation's own members (`user`)."""
    responses = list(
        db.session.scalars(
            select(ConsultationResponse)
            .join(ConsultationRound, ConsultationRound.id == ConsultationResponse.round_id)
            .where(
                ConsultationResponse.organisation_id == organisation.id,
                ConsultationResponse.version_count > 0,
                ConsultationRound.state != RoundState.draft,
            )
        )
    )
    if not responses:
        return []
    rounds = {
        r.id: r
        for r in db.session.scalars(
            _round_query().where(ConsultationRound.id.in_([r.round_id for r in responses]))
        )
    }
    published = [rid for rid, r in rounds.items() if r.state == RoundState.published]
    feedback: dict[int, list[ConsultationFeedback]] = {rid: [] for rid in rounds}
    if published:
        for item in db.session.scalars(
            select(ConsultationFeedback)
            .options(selectinload(ConsultationFeedback.sources))
            .where(ConsultationFeedback.round_id.in_(published))
        ):
            feedback[item.round_id].append(item)
    members = policy.organisation_role(user, organisation) in {"member", "admin"}
    now = utcnow()
    public = (Phase.closed, Phase.published)
    out = [
        InputOutcome(
            rounds[r.round_id],
            r,
            feedback[r.round_id],
            still_open=rounds[r.round_id].phase(now) not in public,
        )
        for r in responses
        if members or rounds[r.round_id].phase(now) in public
    ]
    out.sort(key=lambda o: o.round.closes_at, reverse=True)
    return out


def rounds_for_commitment(user: User | None, commitment: Commitment) -> list[ConsultationRound]:
    return list_rounds(user, commitment_slug=commitment.slug)


# --- export ------------------------------------------------------------------


def export_rows(round_: ConsultationRound) -> list[list[object]]:
    """One row per organisation and question: round, title, organisation, its number, question
    number, question, answer, version, submitted (UTC), what we heard, what the city will do,
    and whether the feedback draws on this response. Plain values; web.exports writes the CSV."""
    from ..formatting import iso_utc

    rows: list[list[object]] = []
    feedback = feedback_by_question(round_.id)
    show_feedback = round_.state == RoundState.published
    for item in latest_versions(round_.id):
        for question in round_.questions:
            note = feedback.get(question.id) if show_feedback else None
            linked = note is not None and any(s.id == item.response.id for s in note.sources)
            rows.append(
                [
                    round_.id,
                    round_.title,
                    item.organisation.name,
                    item.organisation.org_number,
                    question.position,
                    question.text,
                    item.bodies.get(question.id, ""),
                    item.version.number,
                    iso_utc(item.version.submitted_at),
                    plain_text(note.heard_html) if note else "",
                    plain_text(note.action_html) if note else "",
                    "x" if linked else "",
                ]
            )
    return rows


# --- documents, changes, the remiss list ---------------------------------------------


def round_documents(round_id: int) -> list[Document]:
    """The round's own documents (its basis), oldest first, removed ones left out."""
    return list(
        db.session.scalars(
            select(Document)
            .where(
                Document.round_id == round_id,
                Document.response_id.is_(None),
                Document.removed_at.is_(None),
            )
            .order_by(Document.id)
        )
    )


def response_documents(response_id: int) -> list[Document]:
    """The documents attached to an organisation's working response."""
    return list(
        db.session.scalars(
            select(Document)
            .where(Document.response_id == response_id, Document.removed_at.is_(None))
            .order_by(Document.id)
        )
    )


def revisions_of(round_id: int) -> list[RoundRevision]:
    """Every change made to the round after it opened, newest first, with who made it."""
    return list(
        db.session.scalars(
            select(RoundRevision)
            .options(joinedload(RoundRevision.changed_by))
            .where(RoundRevision.round_id == round_id)
            .order_by(RoundRevision.id.desc())
        )
    )


@dataclass
class RemissRow:
    """One organisation asked: answered, declined (with the reason) or not answered."""

    organisation: Organisation
    status: str
    response: ConsultationResponse | None


def remiss_list(round_: ConsultationRound) -> list[RemissRow]:
    """Every organisation the round asked, with what it did, in three queries."""
    responses = {
        r.organisation_id: r
        for r in db.session.scalars(
            select(ConsultationResponse).where(ConsultationResponse.round_id == round_.id)
        )
    }
    orgs = asked_orgs(round_, responses)
    rows = []
    for org in orgs:
        response = responses.get(org.id)
        if response is not None and response.version_count > 0:
            status = "answered"
        elif response is not None and response.status == ResponseStatus.declined:
            status = "declined"
        else:
            status = "not_answered"
        rows.append(RemissRow(org, status, response))
    return rows


def not_yet_invited(round_: ConsultationRound) -> list[Organisation]:
    """Verified organisations the round does not ask yet (to invite more), by name."""
    invited = {o.id for o in round_.invited}
    return [
        o
        for o in db.session.scalars(
            select(Organisation)
            .where(Organisation.status == OrganisationStatus.verified)
            .order_by(func.lower(Organisation.name))
        )
        if o.id not in invited
    ]
