"""Early consultation rounds: the write path (create, open, respond, close, feedback, remind)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import policy
from ..errors import Conflict, Invalid, NotFound
from ..events import emit_after_commit, recheck_access_after_commit, thread_room
from ..extensions import db
from ..formatting import STOCKHOLM, iso_utc, local_datetime
from ..links import path_for
from ..models import (
    Audience,
    Commitment,
    ConsultationAnswer,
    ConsultationFeedback,
    ConsultationQuestion,
    ConsultationResponse,
    ConsultationRound,
    Department,
    Document,
    Forum,
    MemberRole,
    Membership,
    MembershipStatus,
    Notification,
    Organisation,
    OrganisationStatus,
    Phase,
    ResponseStatus,
    ResponseVersion,
    RoundNotice,
    RoundRevision,
    RoundState,
    Stage,
    Thread,
    User,
    VersionAnswer,
    Visibility,
)
from ..models.base import utcnow
from ..queries.consultations import audience_orgs, get_round, response_documents
from ..queries.organisations import get_organisation
from . import audit
from .forums import REPEAT_WINDOW
from .names import shows_something
from .notifications import deliver
from .rendering import render_body
from .transaction import lock_for_check, lock_name, lock_person, lock_row
from .validation import (
    check_characters,
    check_no_bidi_controls,
    check_plausible_date,
    chosen_commitments,
    clean_text,
    normalise_line_breaks,
    refuse_invisible,
    stockholm_today,
)

MAX_TITLE = 200
MAX_TEXT = 20_000
MAX_QUESTION = 2_000
MAX_QUESTIONS = 30
MAX_ANSWER = 8_000
MAX_FEEDBACK = 10_000
FORUM_SLUG = policy.CONSULTATION_FORUM_SLUG
FORUM_COMMITMENT = "forstarkt-samspel-och-tidigt-samrad"


# --- time --------------------------------------------------------------------


def parse_local(value: str | None, name: str) -> datetime:
    """A wall-clock time in Europe/Stockholm (as a datetime-local input sends it) -> UTC.

    A time that does not exist (the hour skipped when summer time starts) is refused;
    an ambiguous one (the hour repeated in October) means its first occurrence.
    """
    text = (value or "").strip().replace(" ", "T")
    if not text:
        raise Invalid(_("Enter a date and time."), field=name)
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(_("Write the time as YYYY-MM-DD HH:MM."), field=name) from None
    if naive.tzinfo is not None:
        raise Invalid(_("Write the time as YYYY-MM-DD HH:MM."), field=name)
    if not 2000 <= naive.year <= 2999:  # year 1 in Stockholm is year 0 in UTC: no datetime
        raise Invalid(_("Choose a time between the years 2000 and 2999."), field=name)
    local = naive.replace(tzinfo=STOCKHOLM, second=0, microsecond=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(STOCKHOLM).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise Invalid(
            _("That time does not exist in Stockholm (the clocks skip it). Choose another."),
            field=name,
        )
    return instant


def local_input(value: datetime | None) -> str:
    """A stored UTC time as the value of a datetime-local input in Europe/Stockholm."""
    if value is None:
        return ""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M")


def _parse_date(value: str | None) -> date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(_("Write the date as YYYY-MM-DD."), field="decision_date") from None


# --- input -------------------------------------------------------------------


@dataclass
class RoundInput:
    """What an official fills in for a round (all strings as the form sends them)."""

    title: str = ""
    problem: str = ""
    background: str = ""
    stage: str = Stage.problem.value
    decision_date: str = ""
    audience: str = Audience.all_verified.value
    invited_ids: list[int] = field(default_factory=list)
    commitment_ids: list[int] = field(default_factory=list)
    opens_at: str = ""
    closes_at: str = ""
    questions: list[tuple[str, str]] = field(default_factory=list)
    department_id: int | None = None


def _department(user: User, department_id: int | None) -> Department:
    """Officials open rounds for their own department; admins choose one."""
    if policy.is_official(user) and not policy.is_admin(user):
        return user.department  # type: ignore[return-value]
    wanted = department_id or user.department_id
    dept = db.session.get(Department, wanted) if wanted else None
    if dept is None:
        raise Invalid(_("Choose the department."), field="department_id")
    return dept


def _invited(ids: Iterable[int]) -> list[Organisation]:
    wanted = set(ids)
    if not wanted:
        return []
    found = list(
        db.session.scalars(
            select(Organisation).where(
                Organisation.id.in_(wanted), Organisation.status == OrganisationStatus.verified
            )
        )
    )
    if len(found) != len(wanted):
        raise Invalid(_("Only verified organisations can be invited."), field="invited")
    return found


def _question_text(value: str | None, n: int, *, bidi: bool, field: str = "questions") -> str:
    """A question's text or guidance, trimmed with LF line breaks; NUL, lone surrogates and
    (in the question itself, shown inline in headings, labels and lists) bidi controls
    refused on `field` (the round form's `questions`, a correction's `text`), naming the
    question. Lengths are for the caller to check, on the text as returned."""
    value = normalise_line_breaks(value or "").strip()
    name = _("Question %(n)s", n=n)
    try:
        check_characters(value, field, label=name)
        if bidi:
            check_no_bidi_controls(value, name)
    except Invalid as err:
        raise Invalid(err.message, field=field) from None
    return value


def _require_visible(text: str, n: int, field: str) -> None:
    """A question must show something: one of only invisible characters (U+200B, ...) would
    be a blank heading and label on every page that asks it."""
    if not shows_something(text):
        raise Invalid(_("Question %(n)d has no visible text.", n=n), field=field)


def _questions(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    cleaned = []
    for n, (text, guidance) in enumerate(items, start=1):
        text = _question_text(text, n, bidi=True)
        guidance = _question_text(guidance, n, bidi=False)
        if not text and not guidance:
            continue
        if not text:
            raise Invalid(_("Question %(n)d has guidance but no question.", n=n), field="questions")
        _require_visible(text, n, "questions")
        if len(text) > MAX_QUESTION or len(guidance) > MAX_QUESTION:
            raise Invalid(_("At most %(n)d characters.", n=MAX_QUESTION), field="questions")
        cleaned.append((text, guidance))
    if not cleaned:
        raise Invalid(_("Ask at least one question."), field="questions")
    if len(cleaned) > MAX_QUESTIONS:
        raise Invalid(_("At most %(n)d questions.", n=MAX_QUESTIONS), field="questions")
    return cleaned


def _apply(round_: ConsultationRound, user: User, data: RoundInput) -> None:
    """Validate `data` and write it onto the round (all or nothing: errors come first)."""
    title = clean_text(data.title, "title", max_length=MAX_TITLE, single_line=True)
    problem = clean_text(data.problem, "problem", max_length=MAX_TEXT)
    background = clean_text(data.background, "background", max_length=MAX_TEXT, required=False)
    try:
        stage = Stage(data.stage)
    except ValueError:
        raise Invalid(_("Choose the stage of the city's process."), field="stage") from None
    decision_date = _parse_date(data.decision_date)
    if decision_date is not None and decision_date != round_.decision_date:
        # a typo (0206 for 2026) would show on the round and skew the public dashboard's
        # weeks to decision; one stored earlier may stay as it is
        check_plausible_date(decision_date, stockholm_today(), "decision_date")
    try:
        audience = Audience(data.audience)
    except ValueError:
        raise Invalid(_("Choose who is asked."), field="audience") from None
    invited = _invited(data.invited_ids) if audience == Audience.invited else []
    commitments = chosen_commitments(data.commitment_ids)
    opens_at = parse_local(data.opens_at, "opens_at")
    closes_at = parse_local(data.closes_at, "closes_at")
    if closes_at <= opens_at:
        raise Invalid(_("The round must close after it opens."), field="closes_at")
    questions = _questions(data.questions)
    department = _department(user, data.department_id)

    round_.title = title
    round_.problem = problem
    round_.problem_html = render_body(problem).html
    round_.background = background
    round_.background_html = render_body(background).html if background else ""
    round_.stage = stage
    round_.decision_date = decision_date
    round_.audience = audience
    round_.invited = invited
    round_.commitments = commitments
    round_.opens_at = opens_at
    round_.closes_at = closes_at
    round_.department_id = department.id
    round_.department = department
    existing = list(round_.questions)
    for position, (text, guidance) in enumerate(questions, start=1):
        if position <= len(existing):
            question = existing[position - 1]
            question.text, question.guidance, question.position = text, guidance, position
        else:
            round_.questions.append(
                ConsultationQuestion(position=position, text=text, guidance=guidance)
            )
    for question in existing[len(questions) :]:
        round_.questions.remove(question)
    mark_changed(round_)  # a draft: seen by its officials only, until it opens


def mark_changed(round_: ConsultationRound, now: datetime | None = None) -> None:
    """What a reader of the round can see changed (its text, questions, documents, deadline,
    phase, feedback, record of changes): stamped, so that the open-data API's
    `changed_since` finds it again. Every such write calls this, in its transaction; the
    changes that come with time alone are ConsultationRound.public_changed_at's."""
    round_.changed_at = now or utcnow()


# --- the system forum and the discussion thread ------------------------------


def discussion_forum() -> Forum:
    """The public forum that holds every round's discussion thread (made on first use)."""
    forum = db.session.scalar(select(Forum).where(Forum.slug == FORUM_SLUG))
    if forum is not None:
        return forum
    description = (
        "Diskussioner om stadens samrådsomgångar. Varje samrådsomgång har en egen tråd. "
        "Svaren lämnas på samrådsomgångens sida."
    )
    forum = Forum(
        slug=FORUM_SLUG,
        title="Tidigt samråd",
        description=description,
        description_html=render_body(description).html,
        visibility=Visibility.public,
    )
    commitment = db.session.scalar(select(Commitment).where(Commitment.slug == FORUM_COMMITMENT))
    if commitment is not None:
        forum.commitments = [commitment]
    try:
        # added inside the savepoint, so that its rollback also takes the forum back out of
        # the session (added before it, the look-up below flushed the same INSERT again)
        with db.session.begin_nested():
            db.session.add(forum)
            db.session.flush()
    except IntegrityError:  # another official's first round made it a moment ago
        found = db.session.scalar(select(Forum).where(Forum.slug == FORUM_SLUG))
        assert found is not None
        return found
    return forum


# --- officials: create, edit, open, close -----------------------------------


def _managed(user: User | None, round_id: int) -> ConsultationRound:
    policy.require_login(user)
    # locked and read afresh: a page that read the round before (the confirmation of
    # publishing) must not decide on its copy; of two requests the second sees the first's
    round_ = lock_row(ConsultationRound, round_id)
    if round_ is None or not policy.can_view_round(user, round_):
        raise NotFound(_("No such consultation round."))
    policy.require(
        policy.can_manage_round(user, round_),
        _("Only officials of the round's department can do that."),
    )
    return round_


def create_round(user: User | None, data: RoundInput) -> ConsultationRound:
    """An official drafts a round for their department; nobody else sees it until it opens."""
    policy.require_login(user)
    policy.require(
        policy.can_create_round(user), _("Only officials and admins open consultation rounds.")
    )
    assert user is not None
    round_ = ConsultationRound(created_by_id=user.id, state=RoundState.draft)
    _apply(round_, user, data)
    lock_person(user.id)  # the same form sent twice at once waits here
    again = _round_just_drafted(user, round_)
    if again is not None:  # a double tap, or the form sent again after its answer was lost
        db.session.commit()
        return again
    forum = discussion_forum()
    thread = Thread(forum_id=forum.id, title=round_.title, author_id=user.id, archived=True)
    thread.forum = forum
    db.session.add_all([round_, thread])
    db.session.flush()
    round_.thread_id = thread.id
    audit.record(user, "consultation.created", "consultation", round_.id, round_.title)
    db.session.commit()
    return round_


def _round_just_drafted(user: User, round_: ConsultationRound) -> ConsultationRound | None:
    """The draft `user` made within REPEAT_WINDOW with everything the form sets the same as
    `round_` (not yet added), if there is one: a form sent twice makes one draft, as a
    thread does. Sent again with anything changed (who is asked, a question), it is a
    second draft: the first is not silently kept for it."""
    r = ConsultationRound
    candidates = db.session.scalars(
        select(r)
        .where(
            r.created_by_id == user.id,
            r.state == RoundState.draft,
            r.title == round_.title,
            r.created_at > utcnow() - REPEAT_WINDOW,
        )
        .order_by(r.id.desc())
    )
    wanted = _drafted(round_)
    return next((found for found in candidates if _drafted(found) == wanted), None)


def _drafted(round_: ConsultationRound) -> tuple:
    """Everything the round's form sets (services.consultations._apply), comparable."""
    return (
        round_.title,
        round_.problem,
        round_.background,
        round_.stage,
        round_.decision_date,
        round_.audience,
        sorted(o.id for o in round_.invited),
        sorted(c.id for c in round_.commitments),
        [(q.text, q.guidance) for q in sorted(round_.questions, key=lambda q: q.position)],
        round_.opens_at,
        round_.closes_at,
        round_.department_id,
    )


QUESTION_SLOTS = ("question-", "guidance-")


def _ids_text(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(set(ids)))


def round_texts(round_: ConsultationRound) -> dict[str, str]:
    """Each field of a draft round's edit form as text, by field name (question-<n> and
    guidance-<n> by slot): what the form's `loaded-<field>` digests are of."""
    texts = {
        "title": round_.title,
        "problem": round_.problem,
        "background": round_.background,
        "stage": round_.stage.value,
        "decision_date": round_.decision_date.isoformat() if round_.decision_date else "",
        "audience": round_.audience.value,
        "invited": _ids_text(o.id for o in round_.invited),
        "commitments": _ids_text(c.id for c in round_.commitments),
        "opens_at": local_input(round_.opens_at),
        "closes_at": local_input(round_.closes_at),
        "department_id": str(round_.department_id or ""),
    }
    for n, question in enumerate(round_.questions, start=1):
        texts[f"question-{n}"] = question.text
        texts[f"guidance-{n}"] = question.guidance
    return texts


def _input_texts(data: RoundInput) -> dict[str, str]:
    texts = {
        "title": data.title,
        "problem": data.problem,
        "background": data.background,
        "stage": data.stage,
        "decision_date": data.decision_date,
        "audience": data.audience,
        "invited": _ids_text(data.invited_ids),
        "commitments": _ids_text(data.commitment_ids),
        "opens_at": data.opens_at,
        "closes_at": data.closes_at,
        "department_id": str(data.department_id or ""),
    }
    for n, (text, guidance) in enumerate(data.questions, start=1):
        texts[f"question-{n}"] = text
        texts[f"guidance-{n}"] = guidance
    return texts


def _merged_input(
    round_: ConsultationRound, data: RoundInput, loaded: Mapping[str, str | None]
) -> RoundInput:
    """What to write of a form loaded earlier: the fields it changed, the stored round for the
    rest (a colleague's save in between stays); a field both changed is an EditConflict."""
    posted = _input_texts(data)
    stored = round_texts(round_)
    checked = {name: text for name, text in posted.items() if name in loaded}
    write, conflicts = changed_fields(checked, stored, loaded)
    if conflicts:
        digests = {name: text_digest(text) for name, text in conflicts.items()}
        raise EditConflict(_conflict_message(), conflicts, digests)
    # the posted value where this form changed it, or where it is a field the form did not
    # load (one without a digest: an older client); the stored one for the rest, questions a
    # colleague added beyond this form's slots included
    take = {
        name: posted[name]
        if name in write or (name in posted and name not in loaded)
        else stored.get(name, "")
        for name in {*posted, *stored}
    }
    slots = max([0, *(int(n.split("-")[1]) for n in take if n.startswith(QUESTION_SLOTS))])
    department = take["department_id"]
    return RoundInput(
        title=take["title"],
        problem=take["problem"],
        background=take["background"],
        stage=take["stage"],
        decision_date=take["decision_date"],
        audience=take["audience"],
        invited_ids=[int(i) for i in take["invited"].split(",") if i],
        commitment_ids=[int(i) for i in take["commitments"].split(",") if i],
        opens_at=take["opens_at"],
        closes_at=take["closes_at"],
        questions=[
            (take.get(f"question-{n}", ""), take.get(f"guidance-{n}", ""))
            for n in range(1, slots + 1)
        ],
        department_id=int(department) if department else None,
    )


def update_round(
    user: User | None,
    round_id: int,
    data: RoundInput,
    loaded: Mapping[str, str | None] | None = None,
) -> ConsultationRound:
    """Change a draft round (once open, its questions and audience are fixed).

    With `loaded` (the digest of each field as the form showed it, by field name as in
    round_texts) only the fields the official changed are written, and one another official
    changed meanwhile is an EditConflict: nothing is saved. A field without a digest is
    written as given.
    """
    round_ = _managed(user, round_id)
    if round_.state != RoundState.draft:
        raise Conflict(_("Only a draft can be changed."))
    if loaded is not None:
        data = _merged_input(round_, data, loaded)
    _apply(round_, user, data)  # type: ignore[arg-type]
    thread = db.session.get(Thread, round_.thread_id) if round_.thread_id else None
    if thread is not None:
        thread.title = round_.title
        recheck_access_after_commit(thread_ids=[thread.id])
    db.session.commit()
    return round_


def audience_members(round_: ConsultationRound) -> list[tuple[User, int]]:
    """(user, organisation id) for every approved member of the round's audience."""
    query = (
        select(User, Membership.organisation_id)
        .join(Membership, Membership.user_id == User.id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Membership.status == MembershipStatus.approved,
            Organisation.status == OrganisationStatus.verified,
        )
        .order_by(User.id)
    )
    if round_.audience == Audience.invited:
        query = query.where(Organisation.id.in_([o.id for o in round_.invited]))
    return [(user, org_id) for user, org_id in db.session.execute(query)]


def _audience_size(round_: ConsultationRound) -> int:
    if round_.audience == Audience.invited:
        return sum(1 for o in round_.invited if o.is_verified)
    return len(
        db.session.scalars(
            select(Organisation.id).where(Organisation.status == OrganisationStatus.verified)
        ).all()
    )


AUDIENCE_LOCK = "consultation-audience"


def open_round(user: User | None, round_id: int) -> ConsultationRound:
    """Open a draft: it becomes public and every member of the audience is told."""
    round_ = _managed(user, round_id)
    if round_.state != RoundState.draft:
        raise Conflict(_("The round is already open."))
    # an organisation verified at this moment is either in the list read below or finds this
    # round open (ask_newly_verified takes the same lock), never neither
    lock_name(AUDIENCE_LOCK)
    now = utcnow()
    if not round_.questions:
        raise Invalid(_("Ask at least one question."), field="questions")
    if round_.closes_at <= now:
        raise Invalid(_("The closing time has already passed."), field="closes_at")
    if _audience_size(round_) == 0:
        raise Invalid(
            _("Nobody would be asked: invite at least one verified organisation."),
            field="audience",
        )
    round_.state = RoundState.open
    round_.opened_at = now
    mark_changed(round_, now)
    round_.asked = audience_orgs(round_)  # the remiss list: who was asked, as of today
    thread = db.session.get(Thread, round_.thread_id) if round_.thread_id else None
    if thread is not None:
        thread.archived = False
        thread.commitments = list(round_.commitments)
    _notify(
        round_, audience_members(round_), "consultation_opened", user, _opened_text(round_, now)
    )
    audit.record(user, "consultation.opened", "consultation", round_.id, round_.title)
    _announce(round_, "opened", now)
    db.session.commit()
    return round_


def close_round(user: User | None, round_id: int) -> ConsultationRound:
    """Close the round now (or confirm a deadline that has passed): responses become public."""
    round_ = _managed(user, round_id)
    now = utcnow()
    phase = round_.phase(now)
    if phase not in (Phase.open, Phase.scheduled, Phase.closed) or round_.state != RoundState.open:
        raise Conflict(_("Only an open round can be closed."))
    if phase == Phase.scheduled:  # it would close before it opened
        raise Conflict(
            _(
                "The round has not opened yet (it opens %(date)s), so it cannot be closed. "
                "Change its deadline or its text instead.",
                date=local_datetime(round_.opens_at),
            )
        )
    round_.state = RoundState.closed
    round_.closed_at = now
    mark_changed(round_, now)
    if round_.closes_at > now:
        round_.closes_at = now
    audit.record(user, "consultation.closed", "consultation", round_.id, round_.title)
    _announce(round_, "closed", now)
    db.session.commit()
    return round_


# --- organisations: respond --------------------------------------------------


def _require_open(round_: ConsultationRound, now: datetime) -> None:
    """The deadline, enforced at the moment of the request (whenever the form was loaded)."""
    phase = round_.phase(now)
    if phase == Phase.scheduled:
        raise Conflict(
            _(
                "The round opens %(date)s. Responses are accepted from then.",
                date=local_datetime(round_.opens_at),
            )
        )
    if phase != Phase.open:
        raise Conflict(
            _(
                "The round closed %(date)s. Responses can no longer be changed.",
                date=local_datetime(round_.closes_at),
            )
        )


def _clean_answers(round_: ConsultationRound, answers: Mapping[int, str]) -> dict[int, str]:
    known = {q.id for q in round_.questions}
    cleaned: dict[int, str] = {}
    for question_id, body in answers.items():
        if question_id not in known:
            raise Invalid(_("Unknown question."), field="answers")
        # the line breaks as LF before the length is counted: a browser's textarea counts a
        # line break as one character against its maxlength and sends it as CR LF (two)
        text = normalise_line_breaks(body or "").strip()
        refuse_invisible(text, f"answer-{question_id}")  # not one nobody can see, counted given
        if len(text) > MAX_ANSWER:
            raise Invalid(
                _("An answer can be at most %(n)d characters.", n=MAX_ANSWER),
                field=f"answer-{question_id}",
            )
        cleaned[question_id] = text
    return cleaned


def text_digest(text: str | None) -> str:
    """The digest a form carries of a text as it was loaded (line ends as a browser sends them
    and the outer whitespace that saving strips do not count)."""
    normal = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return hashlib.sha256(normal.encode()).hexdigest()[:32]


class EditConflict(Conflict):
    """Someone else changed a text after this form was loaded, and this form changed it too.

    Nothing is saved; `current` holds the other person's text per field name (to merge),
    `digests` the digest of what is stored in each (the base of a form that shows it)."""

    def __init__(self, message: str, current: dict[str, str], digests: dict[str, str]):
        super().__init__(message)
        self.current = current
        self.digests = digests


def changed_fields(
    posted: Mapping[str, str], stored: Mapping[str, str], loaded: Mapping[str, str | None]
) -> tuple[set[str], dict[str, str]]:
    """Which posted texts to write, and which conflict (field name -> the stored text).

    A text the person did not change (its digest is the one loaded) is not written, so it
    cannot overwrite someone else's; one they changed is written if the stored text is still
    what they loaded, and is a conflict if that too has changed. Without a digest the form
    is taken to have loaded an empty text.
    """
    write: set[str] = set()
    conflicts: dict[str, str] = {}
    for name, text in posted.items():
        current = stored.get(name, "")
        mine = text_digest(text)
        if mine == text_digest(current):
            continue  # the same text (or the same change made twice)
        base = loaded.get(name) or text_digest("")
        if mine == base:
            continue  # not changed here: whatever is stored now stays
        if base != text_digest(current):
            conflicts[name] = current
        else:
            write.add(name)
    return write, conflicts


def _conflict_message() -> str:
    return _(
        "Someone else changed this after you opened the form, so nothing was saved. "
        "Their text is shown below yours: merge what you need and save again."
    )


def draft_fingerprint(answers: Mapping[int, str], document_ids: Iterable[int] = ()) -> str:
    """What a confirmation showed of a draft (answers and documents): submitting refuses a
    draft changed since then."""
    text = "\x1f".join(f"{qid}\x1e{body}" for qid, body in sorted(answers.items()))
    text += "\x1d" + ",".join(str(i) for i in sorted(document_ids))
    return hashlib.sha256(text.encode()).hexdigest()


class DraftChanged(Conflict):
    """The draft is not the one the person confirmed (someone saved or attached meanwhile):
    nothing is submitted; they are to read it again."""

    code = "draft_changed"


def _lock_round_for_answers(round_id: int) -> None:
    """Share-lock the round's row until commit and forget its questions as loaded before."""
    query = select(ConsultationRound).where(ConsultationRound.id == round_id)
    locked = db.session.scalar(lock_for_check(query, shared=True))
    if locked is not None:
        db.session.expire(locked, ["questions"])


def _response_row(round_: ConsultationRound, org: Organisation) -> ConsultationResponse:
    """The organisation's one response to the round, made on first save (a unique pair)."""
    query = (
        select(ConsultationResponse)
        .where(
            ConsultationResponse.round_id == round_.id,
            ConsultationResponse.organisation_id == org.id,
        )
        .options(selectinload(ConsultationResponse.answers))
    )
    # what the lock waited for: another request's version, not what this one read earlier;
    # the caller's checks (a conflicting answer, the same file twice) come after it
    response = db.session.scalar(lock_for_check(query))
    if response is not None:
        return response
    response = ConsultationResponse(round_id=round_.id, organisation_id=org.id)
    try:
        with db.session.begin_nested():
            db.session.add(response)
            db.session.flush()
    except IntegrityError:
        # Two members saved the first draft at once: the constraint kept one row.
        response = db.session.scalar(lock_for_check(query))
        assert response is not None
    return response


def _current_documents(response: ConsultationResponse) -> list[Document]:
    return response_documents(response.id)


def stored_fingerprint(response: ConsultationResponse | None) -> str:
    """The draft_fingerprint of a response's draft as it is stored (None: no draft yet)."""
    if response is None:
        return draft_fingerprint({})
    answers = {a.question_id: a.body for a in response.answers}
    return draft_fingerprint(answers, [d.id for d in _current_documents(response)])


def _same_as_latest_version(
    round_: ConsultationRound,
    response: ConsultationResponse,
    drafted: Mapping[int, str] | None = None,
) -> bool:
    """The draft (answers and documents) is what the latest submitted version holds;
    `drafted`: the answers as they would be filed (the stored ones by default)."""
    return _latest_version_if_same(round_, response, drafted) is not None


def _latest_version_if_same(
    round_: ConsultationRound,
    response: ConsultationResponse,
    drafted: Mapping[int, str] | None = None,
) -> ResponseVersion | None:
    """The latest submitted version, if the draft is what it holds (_same_as_latest_version)."""
    if response.version_count == 0 or response.status != ResponseStatus.submitted:
        return None
    latest = db.session.scalar(
        select(ResponseVersion)
        .where(
            ResponseVersion.response_id == response.id,
            ResponseVersion.number == response.version_count,
        )
        .options(selectinload(ResponseVersion.answers), selectinload(ResponseVersion.documents))
    )
    if latest is None:
        return None
    if drafted is None:
        drafted = {a.question_id: a.body for a in response.answers}
    submitted = {a.question_id: a.body for a in latest.answers}
    same_answers = all(drafted.get(q.id, "") == submitted.get(q.id, "") for q in round_.questions)
    same_documents = [d.id for d in latest.documents] == [
        d.id for d in _current_documents(response)
    ]
    return latest if same_answers and same_documents else None


def save_response(
    user: User | None,
    round_id: int,
    organisation_id: int,
    answers: Mapping[int, str],
    submit: bool = False,
    loaded: Mapping[int, str | None] | None = None,
    confirmed: str | None = None,
) -> ConsultationResponse:
    """Save the organisation's draft answers; with `submit`, an admin files them as a version.

    With `confirmed` (the draft_fingerprint of the draft a confirmation showed) the draft is
    compared under the response's lock: one changed since (a colleague's save or document
    that came after the page was read) is a DraftChanged and nothing is written.

    With `loaded` (the digest of each answer as the form showed it, see text_digest) only the
    answers the person changed are written, and an answer someone else changed meanwhile is
    an EditConflict (fields named answer-<question id>): nothing of the post is saved.
    Without it every answer given is written (the demo's own saves); with it, an answer whose
    question is not a key of `loaded` is written too (the web form and the API give a key for
    each, None for an answer read empty).
    """
    policy.require_login(user)
    assert user is not None
    # the round's row share-locked, its questions read after: a question the official
    # removes at this moment is either gone from what is checked below ("Unknown question")
    # or still there, and then remove_question waits and finds this response (refused)
    _lock_round_for_answers(round_id)
    round_ = get_round(user, round_id)
    org = get_organisation(organisation_id)
    policy.require(
        policy.can_draft_response(user, round_, org),
        _("Only members of a verified organisation that the round asks can respond for it."),
    )
    if submit:
        policy.require(
            policy.can_submit_response(user, round_, org),
            _("Only the organisation's admins can submit its response."),
        )
    now = utcnow()
    _require_open(round_, now)
    cleaned = _clean_answers(round_, answers)
    response = _response_row(round_, org)
    current = {a.question_id: a for a in response.answers}
    if loaded is not None:
        write, conflicts = changed_fields(
            {f"answer-{q}": t for q, t in cleaned.items() if q in loaded},
            {f"answer-{q}": a.body for q, a in current.items()},
            {f"answer-{q}": d for q, d in loaded.items()},
        )
        if submit:
            # what is filed is what the sender has read: an answer someone else changed
            # since (which the sender left as it was) would otherwise go out unseen
            for q, text in cleaned.items():
                stored_text = current[q].body if q in current else ""
                unseen = text_digest(stored_text) != (loaded.get(q) or text_digest(""))
                if q in loaded and unseen and text_digest(text) != text_digest(stored_text):
                    conflicts.setdefault(f"answer-{q}", stored_text)
        if conflicts:
            digests = {name: text_digest(text) for name, text in conflicts.items()}
            raise EditConflict(_conflict_message(), conflicts, digests)
        cleaned = {q: t for q, t in cleaned.items() if q not in loaded or f"answer-{q}" in write}
        if not cleaned and not submit:  # saved again unchanged: nothing to tell anyone
            db.session.commit()
            return response
    # the draft as it would be filed: the answers saved earlier, with this request's
    merged = {**{q: a.body for q, a in current.items()}, **cleaned}
    # Sent twice (a double click, a resent form or API call whose answer was lost): the
    # first made the version and told the officials; this one files nothing new. Its
    # `confirmed` draft is the one before its own first submit, which the version keeps;
    # or it read the draft as filed. Another's stale one, from before a colleague changed
    # the draft and filed it, is not told that what it never read was filed for it.
    latest = _latest_version_if_same(round_, response, merged) if submit else None
    again = latest is not None
    # after the answers' own conflicts, which name what to merge: the draft as a whole
    # (answers not sent, documents) is what the sender read before it is filed
    if (
        confirmed is not None
        and (latest is None or confirmed != latest.confirmed_fingerprint)
        and confirmed != stored_fingerprint(response)
    ):
        raise DraftChanged(_("The draft changed after you were asked. Check it and confirm again."))
    if submit and not again and not any(merged.values()):  # saved answers count, blanked not
        raise Invalid(_("Answer at least one question before you submit."), field="answers")
    for question_id, text in cleaned.items():
        if question_id in current:
            current[question_id].body = text
        else:
            response.answers.append(ConsultationAnswer(question_id=question_id, body=text))
    if again:
        db.session.commit()
        return response
    response.updated_at = now
    response.updated_by_id = user.id
    if submit:
        bodies = {a.question_id: a.body for a in response.answers}
        response.version_count += 1
        version = ResponseVersion(
            response_id=response.id,
            number=response.version_count,
            submitted_at=now,
            submitted_by_id=user.id,
            confirmed_fingerprint=confirmed,
        )
        for question in round_.questions:
            body = bodies.get(question.id, "")
            version.answers.append(
                VersionAnswer(
                    question_id=question.id,
                    body=body,
                    html=render_body(body).html if body else "",
                )
            )
        version.documents = _current_documents(response)
        db.session.add(version)
        response.status = ResponseStatus.submitted
        response.submitted_at = now
        response.declined_at = None
        response.decline_reason = ""
        audit.record(
            user,
            "consultation.response.submitted",
            "consultation",
            round_.id,
            f"{org.name}, version {response.version_count}",
        )
        _announce(round_, "submitted", now)
        deliver(
            officials_of(round_),
            "consultation_response_submitted",
            _version_text(org.name, response.version_count),
            path_for("consultations.show", round_id=round_.id),
            actor=user,
            actor_name=org.name,
            thread=_thread(round_),
        )
    else:
        tell_drafted(
            round_,
            org,
            user,
            lambda: _(
                "%(name)s saved a draft. Read it and submit it before the deadline.",
                name=user.display_name,
            ),
        )
    db.session.commit()
    return response


def tell_drafted(round_: ConsultationRound, org: Organisation, user: User, excerpt) -> None:  # noqa: ANN001
    """Tell the organisation's admins (who submit) that its draft changed, unless they still
    have an unread notice about it."""
    url = path_for("consultations.respond", round_id=round_.id, organisation=org.id)
    deliver(
        _unless_unread(org_admins([org.id]), "consultation_response_drafted", url),
        "consultation_response_drafted",
        excerpt,
        url,
        actor=user,
        thread=_thread(round_),
    )


# --- feedback ------------------------------------------------------------------


@dataclass
class FeedbackInput:
    """The official's feedback on one question."""

    heard: str = ""
    action: str = ""
    source_ids: list[int] = field(default_factory=list)


def sources_text(ids: Iterable[int]) -> str:
    """The responses a feedback item draws on, as the text whose digest the form carries."""
    return ",".join(str(i) for i in sorted(set(ids)))


def publish_feedback(user: User | None, round_id: int) -> bool:
    """Publish the saved feedback and tell the organisations: True when this call published
    it, False when it already was (two officials confirming at once: the second waits for
    the round's lock, then finds it published and tells nobody again)."""
    if _managed(user, round_id).state == RoundState.published:
        db.session.rollback()  # the lock goes with the transaction
        return False
    save_feedback(user, round_id, {}, publish=True)
    return True


def save_feedback(
    user: User | None,
    round_id: int,
    items: Mapping[int, FeedbackInput],
    publish: bool = False,
    loaded: Mapping[str, str | None] | None = None,
) -> ConsultationRound:
    """Write (and with `publish`, publish) the city's feedback per question; after closing only.

    With `loaded` (the digest of each field as the form showed it, by field name:
    heard-<id>, action-<id>, sources-<id>) only the fields the official changed are written,
    and a field another official changed meanwhile is an EditConflict: nothing is saved.
    """
    round_ = _managed(user, round_id)  # the round's row lock: one feedback save at a time
    now = utcnow()
    if round_.phase(now) not in (Phase.closed, Phase.published):
        raise Conflict(_("Feedback can be written once the round has closed."))
    questions = {q.id for q in round_.questions}
    submitted = {
        r.id: r
        for r in db.session.scalars(
            select(ConsultationResponse).where(
                ConsultationResponse.round_id == round_.id,
                ConsultationResponse.version_count > 0,
            )
        )
    }
    existing = {
        f.question_id: f
        for f in db.session.scalars(
            select(ConsultationFeedback)
            .where(ConsultationFeedback.round_id == round_.id)
            .options(selectinload(ConsultationFeedback.sources))
            .execution_options(populate_existing=True)
        )
    }
    posted: dict[str, str] = {}
    for question_id, item in items.items():
        if question_id not in questions:
            raise Invalid(_("Unknown question."), field="feedback")
        posted[f"heard-{question_id}"] = clean_text(
            item.heard, f"heard-{question_id}", max_length=MAX_FEEDBACK, required=False
        )
        posted[f"action-{question_id}"] = clean_text(
            item.action, f"action-{question_id}", max_length=MAX_FEEDBACK, required=False
        )
        if any(sid not in submitted for sid in item.source_ids):
            raise Invalid(
                _("Link only to responses submitted to this round."), field=f"sources-{question_id}"
            )
        posted[f"sources-{question_id}"] = sources_text(item.source_ids)
    write = set(posted)
    if loaded is not None:
        stored: dict[str, str] = {}
        for question_id, kept in existing.items():
            stored[f"heard-{question_id}"] = kept.heard
            stored[f"action-{question_id}"] = kept.action
            stored[f"sources-{question_id}"] = sources_text(r.id for r in kept.sources)
        write, conflicts = changed_fields(posted, stored, loaded)
        if conflicts:
            digests = {name: text_digest(text) for name, text in conflicts.items()}
            names = {r.id: r.organisation.name for r in submitted.values()}
            for name, text in conflicts.items():
                if name.startswith("sources-"):
                    ids = [int(i) for i in text.split(",") if i]
                    conflicts[name] = ", ".join(names.get(i, "?") for i in ids)
            raise EditConflict(_conflict_message(), conflicts, digests)
    if round_.state == RoundState.published:
        _record_feedback_changes(round_, user, items, posted, existing, write, submitted)
    for question_id, item in items.items():
        fields = {f"{part}-{question_id}" for part in ("heard", "action", "sources")}
        if not fields & write:
            continue
        feedback = existing.get(question_id)
        if feedback is None:
            feedback = ConsultationFeedback(round_id=round_.id, question_id=question_id)
            db.session.add(feedback)
            existing[question_id] = feedback
        if f"heard-{question_id}" in write:
            heard = posted[f"heard-{question_id}"]
            feedback.heard, feedback.heard_html = heard, render_body(heard).html if heard else ""
        if f"action-{question_id}" in write:
            action = posted[f"action-{question_id}"]
            feedback.action = action
            feedback.action_html = render_body(action).html if action else ""
        if f"sources-{question_id}" in write:
            feedback.sources = [submitted[sid] for sid in dict.fromkeys(item.source_ids)]
        feedback.updated_at = now
        feedback.updated_by_id = user.id  # type: ignore[union-attr]
        if round_.state == RoundState.published:  # published feedback, changed where it shows
            mark_changed(round_, now)
    if publish and round_.state != RoundState.published:
        if not any(f.heard or f.action for f in existing.values()):
            raise Invalid(_("Write feedback on at least one question first."), field="feedback")
        round_.state = RoundState.published
        round_.feedback_published_at = now
        mark_changed(round_, now)
        responders = {r.organisation_id for r in submitted.values()}
        people = [(u, org_id) for u, org_id in audience_members(round_) if org_id in responders]
        _notify(
            round_,
            people,
            "consultation_feedback",
            user,
            lambda: _("See what was heard and what the city will do."),
        )
        audit.record(user, "consultation.feedback.published", "consultation", round_.id, "")
        _announce(round_, "feedback", now)
    db.session.commit()
    return round_


def _record_feedback_changes(
    round_: ConsultationRound,
    user: User | None,
    items: Mapping[int, FeedbackInput],
    posted: Mapping[str, str],
    existing: Mapping[int, ConsultationFeedback],
    write: set[str],
    submitted: Mapping[int, ConsultationResponse],
) -> None:
    """Published feedback changed: each changed part goes on the round's record (part
    `heard-<question>`, `action-<question>` or `sources-<question>`, before and after), as a
    change to an open round does, so what the city said it would do is not rewritten
    without a trace. It is shown at once and nobody is told again (the form says so)."""

    def names(ids: Iterable[int]) -> str:
        return ", ".join(submitted[i].organisation.name for i in sorted(set(ids)) if i in submitted)

    for question_id, item in items.items():
        kept = existing.get(question_id)
        before = {
            "heard": kept.heard if kept else "",
            "action": kept.action if kept else "",
            "sources": names(r.id for r in kept.sources) if kept else "",
        }
        after = {
            "heard": posted[f"heard-{question_id}"],
            "action": posted[f"action-{question_id}"],
            "sources": names(item.source_ids),
        }
        for part in ("heard", "action", "sources"):
            name = f"{part}-{question_id}"
            if name in write and before[part] != after[part]:
                _revision(round_, user, name, before[part], after[part], "")  # type: ignore[arg-type]


# --- reminders ---------------------------------------------------------------


def remind(days: int, now: datetime | None = None) -> int:
    """Remind the organisations that have not answered rounds closing within `days`.

    The same reminder steps as the scheduled notices, claimed alike, so running both never
    tells anyone twice. Returns how many organisations were reminded.
    """
    if days < 0:
        raise Invalid(_("The number of days cannot be negative."), field="days")
    now = now or utcnow()
    rounds = db.session.scalars(
        select(ConsultationRound)
        .where(
            ConsultationRound.state == RoundState.open,
            ConsultationRound.opens_at <= now,
            ConsultationRound.closes_at > now,
            ConsultationRound.closes_at <= now + timedelta(days=days),
        )
        .order_by(ConsultationRound.id)
    ).all()
    reminded = 0
    for round_ in rounds:
        reminded += len(_remind_pending(round_, now))
        db.session.commit()
    return reminded


# --- telling people ----------------------------------------------------------


def _notify(round_, people, kind, actor, compose_excerpt) -> None:  # noqa: ANN001
    """One notification per person (live, stored, mailed per preference), in their language."""
    deliver(
        [user for user, _org_id in people],
        kind,
        compose_excerpt,
        path_for("consultations.show", round_id=round_.id),
        actor=actor,
        actor_name=round_.department.name,
        thread=_thread(round_),
        title=round_.title,
    )


def _thread(round_: ConsultationRound) -> Thread | None:
    return db.session.get(Thread, round_.thread_id) if round_.thread_id else None


def _announce(round_: ConsultationRound, event: str, now: datetime) -> None:
    """Tell the people who have the round open (its discussion thread's room), after commit."""
    if round_.thread_id is None:
        return
    responded = len(
        db.session.scalars(
            select(ConsultationResponse.id).where(
                ConsultationResponse.round_id == round_.id,
                ConsultationResponse.version_count > 0,
            )
        ).all()
    )
    emit_after_commit(
        "consultation:updated",
        {
            "round_id": round_.id,
            "event": event,
            "phase": round_.phase(now).value,
            "responded": responded,
        },
        thread_room(round_.thread_id),
    )


# --- who must act --------------------------------------------------------------


def officials_of(round_: ConsultationRound) -> list[User]:
    """The officials of the round's department (they manage it)."""
    return list(
        db.session.scalars(
            select(User).where(User.department_id == round_.department_id).order_by(User.id)
        )
    )


def org_admins(org_ids: Iterable[int]) -> list[User]:
    """The approved admins of these organisations (who submit their responses)."""
    wanted = list(set(org_ids))
    if not wanted:
        return []
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organisation_id.in_(wanted),
                Membership.status == MembershipStatus.approved,
                Membership.role == MemberRole.admin,
            )
            .order_by(User.id)
            .distinct()
        )
    )


def _unless_unread(users: list[User], kind: str, url: str) -> list[User]:
    """Those who have not still got an unread notice of this kind about the same page."""
    if not users:
        return []
    waiting = set(
        db.session.scalars(
            select(Notification.user_id).where(
                Notification.user_id.in_([u.id for u in users]),
                Notification.kind == kind,
                Notification.url == url,
                Notification.read_at.is_(None),
            )
        )
    )
    return [u for u in users if u.id not in waiting]


def _opened_text(round_: ConsultationRound, now: datetime):  # noqa: ANN202
    """The excerpt of the "asked for its view" notice: says so when the round opens later."""

    def text() -> str:
        if round_.opens_at > now:
            return _(
                "Opens %(opens)s. Answer by %(date)s.",
                opens=local_datetime(round_.opens_at),
                date=local_datetime(round_.closes_at),
            )
        return _("Answer by %(date)s.", date=local_datetime(round_.closes_at))

    return text


def _version_text(name: str, number: int):  # noqa: ANN202
    return lambda: _("%(name)s, version %(n)d", name=name, n=number)


def _responded_or_declined(round_: ConsultationRound) -> set[int]:
    return set(
        db.session.scalars(
            select(ConsultationResponse.organisation_id).where(
                ConsultationResponse.round_id == round_.id,
                (ConsultationResponse.version_count > 0)
                | (ConsultationResponse.status == ResponseStatus.declined),
            )
        )
    )


def _pending_orgs(round_: ConsultationRound) -> list[int]:
    """The organisations asked that have neither responded nor declined: those on the remiss
    list (the overview's), less any that can no longer answer (no longer verified)."""
    done = _responded_or_declined(round_)
    asked = audience_orgs(round_) if round_.state == RoundState.draft else round_.asked
    return sorted(o.id for o in asked if o.id not in done and policy.in_round_audience(round_, o))


def _has_responses(round_: ConsultationRound) -> bool:
    return (
        db.session.scalar(
            select(ConsultationResponse.id)
            .where(ConsultationResponse.round_id == round_.id)
            .limit(1)
        )
        is not None
    )


def _revision(
    round_: ConsultationRound, user: User, part: str, before: str, after: str, reason: str
) -> RoundRevision:
    revision = RoundRevision(
        round_id=round_.id,
        part=part,
        before=before,
        after=after,
        reason=reason,
        changed_by_id=user.id,
        changed_at=utcnow(),
    )
    db.session.add(revision)
    round_.revised_at = revision.changed_at
    mark_changed(round_, revision.changed_at)  # the change itself, and the public record of it
    return revision


def _changeable(user: User | None, round_id: int) -> ConsultationRound:
    round_ = _managed(user, round_id)
    if round_.state != RoundState.open or round_.phase(utcnow()) not in (
        Phase.open,
        Phase.scheduled,
    ):
        raise Conflict(_("Only an open round can be changed this way."))
    return round_


def _reason(reason: str) -> str:
    return clean_text(reason, "reason", max_length=1_000)


# --- changing an open round, on the record ----------------------------------------


def change_deadline(user: User | None, round_id: int, closes_at: str, reason: str) -> None:
    """Move the deadline of an open round; organisations that have not responded are told.

    Shortening it is refused once any organisation has started or sent a response.
    """
    round_ = _changeable(user, round_id)
    assert user is not None
    why = _reason(reason)
    new = parse_local(closes_at, "closes_at")
    old = round_.closes_at
    if new == old:
        raise Invalid(_("That is the deadline already."), field="closes_at")
    if new < old and _has_responses(round_):
        raise Conflict(
            _(
                "The deadline cannot be brought forward: organisations have already "
                "started or sent their responses, counting on the deadline they were given."
            )
        )
    if new <= max(utcnow(), round_.opens_at):
        raise Invalid(_("The round must close after it opens."), field="closes_at")
    round_.closes_at = new
    # ISO times, shown in each reader's language and zone (labels.change_value)
    _revision(round_, user, "closes_at", iso_utc(old) or "", iso_utc(new) or "", why)
    # the reminders count from the new deadline
    db.session.execute(
        delete(RoundNotice).where(
            RoundNotice.round_id == round_.id, RoundNotice.kind.in_(REMINDER_KINDS)
        )
    )
    audit.record(user, "consultation.deadline.changed", "consultation", round_.id, why)
    _tell_changed(
        round_,
        user,
        _pending_orgs(round_),
        lambda: _("New deadline: %(date)s. %(reason)s", date=local_datetime(new), reason=why),
        anchor=None,
    )
    db.session.commit()


def _tell_changed(
    round_: ConsultationRound,
    user: User,
    org_ids: Iterable[int],
    text: Callable[[], str],
    anchor: str | None = "changes",
) -> None:
    """The admins of these organisations are told that the round changed (`text`, in each
    reader's language), and its open pages hear it (the caller commits)."""
    deliver(
        org_admins(org_ids),
        "consultation_changed",
        text,
        path_for("consultations.show", round_id=round_.id, _anchor=anchor),
        actor=user,
        actor_name=round_.department.name,
        thread=_thread(round_),
        title=round_.title,
    )
    _announce(round_, "changed", utcnow())


TEXT_PARTS = ("title", "problem", "background")


def revise_text(user: User | None, round_id: int, part: str, text: str, reason: str) -> None:
    """Correct the text of an open round (title, problem, background, a question or its note).

    Each change is kept as a revision (before, after, who, when, why) and the page
    shows the round as changed, with the history.
    """
    round_ = _changeable(user, round_id)
    assert user is not None
    why = _reason(reason)
    question = None
    if part not in TEXT_PARTS:
        kind, _sep, raw = part.partition("-")
        question = next((q for q in round_.questions if str(q.id) == raw), None)
        if kind not in ("question", "guidance") or question is None:
            raise Invalid(_("Choose what to correct."), field="part")
    if part == "title":
        new = clean_text(text, "text", max_length=MAX_TITLE, single_line=True)
    elif part in ("problem", "background"):
        new = clean_text(text, "text", max_length=MAX_TEXT, required=part == "problem")
    else:
        # as when the round was made: line breaks as LF before the length is counted, and
        # the question itself without bidi controls and with something to show
        assert question is not None
        asked = part.startswith("question")
        new = _question_text(text, question.position, bidi=asked, field="text")
        if len(new) > MAX_QUESTION:
            raise Invalid(_("At most %(n)d characters.", n=MAX_QUESTION), field="text")
        if asked and not new:
            raise Invalid(_("A question cannot be empty."), field="text")
        if asked:
            _require_visible(new, question.position, "text")
    if question is not None:
        attribute = "text" if part.startswith("question") else "guidance"
        old = getattr(question, attribute)
        setattr(question, attribute, new)
    else:
        old = getattr(round_, part)
        setattr(round_, part, new)
        if part in ("problem", "background"):
            setattr(round_, f"{part}_html", render_body(new).html if new else "")
        else:
            thread = _thread(round_)
            if thread is not None:
                thread.title = new
    if old == new:
        raise Invalid(_("Nothing was changed."), field="text")
    _revision(round_, user, part, old, new, why)
    audit.record(user, "consultation.revised", "consultation", round_.id, f"{part}: {why}")
    _tell_changed(
        round_,
        user,
        {org_id for _u, org_id in audience_members(round_)},
        lambda: _("The text was corrected. %(reason)s", reason=why),
    )
    db.session.commit()


def record_document_change(
    round_: ConsultationRound, user: User, filename: str, added: bool
) -> None:
    """A basis document added to or removed from an opened round: on the record as a revision,
    and the organisations asked are told, as for a corrected text (the caller commits)."""
    if round_.state == RoundState.draft:
        mark_changed(round_)  # for its officials, the only ones who see it
        return
    part = "document-added" if added else "document-removed"
    _revision(round_, user, part, "" if added else filename, filename if added else "", "")
    _tell_changed(
        round_,
        user,
        {org_id for _u, org_id in audience_members(round_)},
        (lambda: _("A document was added: %(file)s", file=filename))
        if added
        else (lambda: _("A document was removed: %(file)s", file=filename)),
    )


def remove_question(user: User | None, round_id: int, question_id: int, reason: str) -> None:
    """Take a question off an open round: refused once any response exists."""
    round_ = _changeable(user, round_id)
    assert user is not None
    why = _reason(reason)
    question = next((q for q in round_.questions if q.id == question_id), None)
    if question is None:
        raise NotFound(_("No such question."))
    if _has_responses(round_):
        raise Conflict(
            _(
                "The question cannot be removed: organisations have already started or "
                "sent responses to it. Correct its text instead and say why."
            )
        )
    if len(round_.questions) == 1:
        raise Invalid(_("Ask at least one question."), field="questions")
    round_.questions.remove(question)
    for position, item in enumerate(round_.questions, start=1):
        item.position = position
    _revision(round_, user, "question-removed", question.text, "", why)
    audit.record(user, "consultation.question.removed", "consultation", round_.id, why)
    _announce(round_, "changed", utcnow())
    db.session.commit()


def invite_more(user: User | None, round_id: int, organisation_ids: list[int], reason: str) -> int:
    """Invite more organisations to an open round; their members are told. Returns how many."""
    round_ = _changeable(user, round_id)
    assert user is not None
    why = _reason(reason) if reason.strip() else ""
    if round_.audience != Audience.invited:
        raise Conflict(_("Every verified organisation is already asked."))
    already = {o.id for o in round_.invited}
    new = [o for o in _invited(organisation_ids) if o.id not in already]
    if not new:
        raise Invalid(
            _("Choose at least one organisation that is not yet invited."), field="invited"
        )
    round_.invited = [*round_.invited, *new]
    asked = {o.id for o in round_.asked}
    round_.asked = [*round_.asked, *(o for o in new if o.id not in asked)]
    names = ", ".join(o.name for o in new)
    _revision(round_, user, "invited", "", names, why)
    audit.record(user, "consultation.invited", "consultation", round_.id, names)
    db.session.flush()
    new_ids = {o.id for o in new}
    people = [(u, org_id) for u, org_id in audience_members(round_) if org_id in new_ids]
    _notify(round_, people, "consultation_opened", user, _opened_text(round_, utcnow()))
    db.session.commit()
    return len(new)


def ask_newly_verified(org: Organisation) -> int:
    """An organisation just verified may answer the open rounds whose audience it is now in
    (every verified organisation, or it was invited): it is added to their remiss lists, so
    the list, who may answer and who is reminded agree, and its members are told, as invited
    ones are. Not a round whose deadline has passed. The caller commits; returns how many."""
    lock_name(AUDIENCE_LOCK)  # a round opening at this moment: see open_round
    now = utcnow()
    rounds = db.session.scalars(
        select(ConsultationRound)
        .where(ConsultationRound.state == RoundState.open, ConsultationRound.closes_at > now)
        .order_by(ConsultationRound.id)
    ).all()
    members = [
        (user, org.id)
        for user in db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organisation_id == org.id,
                Membership.status == MembershipStatus.approved,
            )
            .order_by(User.id)
        )
    ]
    asked = 0
    for round_ in rounds:
        if not policy.in_round_audience(round_, org) or any(o.id == org.id for o in round_.asked):
            continue
        round_.asked = [*round_.asked, org]
        _notify(round_, members, "consultation_opened", None, _opened_text(round_, now))
        asked += 1
    return asked


def decline(user: User | None, round_id: int, organisation_id: int, reason: str) -> None:
    """An organisation's admin declines to answer, with a reason (shown on the remiss list)."""
    policy.require_login(user)
    assert user is not None
    round_ = get_round(user, round_id)
    org = get_organisation(organisation_id)
    policy.require(
        policy.can_submit_response(user, round_, org),
        _("Only the organisation's admins can submit its response."),
    )
    now = utcnow()
    _require_open(round_, now)
    why = clean_text(
        reason,
        "decline_reason",
        max_length=1_000,
        missing=_("Write why the organisation declines to respond."),
    )
    response = _response_row(round_, org)
    if response.version_count > 0:
        raise Conflict(_("Your organisation has already responded; revise the response instead."))
    response.status = ResponseStatus.declined
    response.declined_at = now
    response.decline_reason = why
    response.updated_by_id = user.id
    audit.record(user, "consultation.response.declined", "consultation", round_.id, org.name)
    db.session.commit()


# --- reminders the official sends, and the scheduled notices ----------------------

# the reminder steps, claimed per organisation (and cleared when the deadline moves)
REMINDER_KINDS = ("reminder_early", "reminder_3d", "reminder_1d")
MANUAL_REMINDER_GAP = timedelta(days=1)


def send_reminder(user: User | None, round_id: int) -> int:
    """The official reminds the organisations that have not answered: at most once a day."""
    round_ = _managed(user, round_id)
    now = utcnow()
    if round_.phase(now) != Phase.open:
        raise Conflict(_("Reminders can be sent while the round is open."))
    last = round_.manual_reminder_at
    if last is not None and now - last < MANUAL_REMINDER_GAP:
        raise Conflict(
            _(
                "A reminder was sent %(date)s. The next one can be sent from %(next)s.",
                date=local_datetime(last),
                next=local_datetime(last + MANUAL_REMINDER_GAP),
            )
        )
    pending = _pending_orgs(round_)
    if not pending:
        raise Conflict(_("Every organisation asked has responded or declined."))
    round_.manual_reminder_at = now
    _tell_reminded(round_, pending, user, now)
    audit.record(user, "consultation.reminded", "consultation", round_.id, str(len(pending)))
    db.session.commit()
    return len(pending)


def _reminder_kind(round_: ConsultationRound, now: datetime) -> str:
    left = round_.closes_at - now
    if left <= timedelta(days=1):
        return "reminder_1d"
    if left <= timedelta(days=3):
        return "reminder_3d"
    return "reminder_early"


def _remind_pending(round_: ConsultationRound, now: datetime) -> list[int]:
    """Remind the organisations that have neither answered nor declined, once per step.

    The step is the time left (more than 3 days, 3 days, 1 day); each organisation's claim
    of it is a round notice, shared by the scheduled notices and the `remind` command.
    """
    kind = _reminder_kind(round_, now)
    due = [o for o in _pending_orgs(round_) if _claim(round_.id, kind, o)]
    if kind == "reminder_1d":  # the 3-day step, had it not been sent, is not sent after this
        for org_id in due:
            _claim(round_.id, "reminder_3d", org_id)
    if due:
        _tell_reminded(round_, due, None, now)
    return due


def _tell_reminded(
    round_: ConsultationRound, org_ids: list[int], actor: User | None, now: datetime
) -> None:
    """Tell the admins of these organisations (they submit) and note when each was reminded."""
    _note_reminded(round_.id, org_ids, now)
    _notify(
        round_,
        [(u, 0) for u in org_admins(org_ids)],
        "consultation_reminder",
        actor,
        lambda: _("Answer by %(date)s.", date=local_datetime(round_.closes_at)),
    )
    _announce(round_, "reminder", now)


def _note_reminded(round_id: int, org_ids: list[int], now: datetime) -> None:
    """The official's overview shows each organisation's last reminder, whoever sent it."""
    last = RoundNotice.REMINDED
    query = select(RoundNotice).where(RoundNotice.round_id == round_id, RoundNotice.kind == last)
    noted = {n.scope: n for n in db.session.scalars(query.where(RoundNotice.scope.in_(org_ids)))}
    for org_id in org_ids:
        if org_id not in noted:
            try:
                with db.session.begin_nested():
                    db.session.add(
                        RoundNotice(round_id=round_id, kind=last, scope=org_id, sent_at=now)
                    )
                    db.session.flush()
                continue
            except IntegrityError:  # another reminder noted it just now
                noted[org_id] = db.session.scalars(query.where(RoundNotice.scope == org_id)).one()
        noted[org_id].sent_at = now


def _claim(round_id: int, kind: str, scope: int) -> bool:
    """Record that a notice went out; False if it already had (also under a race)."""
    try:
        with db.session.begin_nested():
            db.session.add(RoundNotice(round_id=round_id, kind=kind, scope=scope))
            db.session.flush()
    except IntegrityError:
        return False
    return True


def send_due_notices(now: datetime | None = None) -> int:
    """The scheduled job: 3 and 1 days before the deadline, and when it passes. Once each."""
    now = now or utcnow()
    told = (
        select(RoundNotice.id)
        .where(RoundNotice.round_id == ConsultationRound.id, RoundNotice.kind == "deadline_passed")
        .exists()
    )
    rounds = db.session.scalars(
        select(ConsultationRound)
        .where(
            ConsultationRound.state == RoundState.open,
            ConsultationRound.closes_at <= now + timedelta(days=3),
            ~told,
        )
        .order_by(ConsultationRound.id)
    ).all()
    sent = 0
    for round_ in rounds:
        if round_.closes_at <= now:
            if _claim(round_.id, "deadline_passed", 0):
                deliver(
                    officials_of(round_),
                    "consultation_deadline_passed",
                    lambda: _("Close the round and write the feedback."),
                    path_for("consultations.show", round_id=round_.id),
                    actor_name=round_.department.name,
                    thread=_thread(round_),
                    title=round_.title,
                )
                sent += 1
            db.session.commit()
            continue
        if round_.opens_at > now:
            continue
        sent += len(_remind_pending(round_, now))
        db.session.commit()
    return sent
