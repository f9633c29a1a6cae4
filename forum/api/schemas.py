"""The shapes of the API's resources (marshmallow): the OpenAPI description is made from these."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..ids import MAX_ID
from ..services.consultations import MAX_ANSWER
from ..services.validation import normalise_line_breaks


def answer_length(value: str) -> None:
    """An answer's length as the service and the web form's box count it."""
    if len(normalise_line_breaks(value).strip()) > MAX_ANSWER:
        raise ValidationError(f"Longer than {MAX_ANSWER} characters.")


def no_nul(value: str) -> None:
    """Text that cannot be stored: a NUL character (PostgreSQL refuses it) or a lone
    surrogate (no UTF-8 encoding exists for it). A 422 naming the field, not a 500."""
    if "\x00" in value:
        raise ValidationError("The text contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("The text contains a character that is not valid Unicode.") from None


class Base(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


class ConflictingAnswer(Base):
    """An answer someone else changed after the client read it (and the client changed too)."""

    question_id = fields.Int(required=True)
    current = fields.Str(required=True, metadata={"description": "the stored text, to merge"})
    digest = fields.Str(
        required=True,
        metadata={"description": "its digest: the `base` to send with the merged text"},
    )


class ErrorBody(Base):
    code = fields.Str(required=True, metadata={"description": "machine-readable error code"})
    message = fields.Str(required=True, metadata={"description": "what went wrong, for people"})
    field = fields.Str(metadata={"description": "the input field at fault, when there is one"})
    conflicts = fields.List(
        fields.Nested(ConflictingAnswer),
        metadata={
            "description": "with code `conflict` when saving a response: the answers whose "
            "`base` is no longer the stored text (nothing of the request was saved)"
        },
    )


class Error(Base):
    """Every error: `{"error": {"code", "message", "field"?, "conflicts"?}}`."""

    error = fields.Nested(ErrorBody, required=True)


class PageArgs(Base):
    after = fields.Int(
        load_default=None,
        validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "return items whose id is greater than this (from `next`)"},
    )
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=100))


# A time a sync can mean: written with a year from the epoch to the dashboard's last (0001
# or 9999 is a typo, and one near either end with an offset would not even convert to UTC).
SYNC_YEARS = range(1970, 2101)
# RFC 3339 as Python's ISO reading takes it (no lowercase z, no leap second), as documented
# and checked (SyncTime): Python also reads week dates, basic formats and odd offsets
SYNC_TIME_PATTERN = (
    r"^(19[7-9][0-9]|20[0-9][0-9]|2100)-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}"
    r"(:[0-5][0-9](\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def sync_year(value: datetime) -> None:
    """The year as written, within SYNC_YEARS."""
    if value.year not in SYNC_YEARS:
        raise ValidationError(f"A year from {SYNC_YEARS[0]} to {SYNC_YEARS[-1]}.")


class SyncTime(fields.AwareDateTime):
    """An AwareDateTime written as the OpenAPI document's pattern says."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not re.fullmatch(SYNC_TIME_PATTERN, value):
            raise ValidationError(
                "A time as in RFC 3339, with its zone: for example 2026-12-07T08:00:00Z."
            )
        return super()._deserialize(value, attr, data, **kwargs)


def sync_time(description: str) -> fields.AwareDateTime:
    """An ISO 8601 date-time argument with its zone (a naive one is a 422, not a guess)."""
    return SyncTime(
        format="iso",
        load_default=None,
        validate=sync_year,
        metadata={"description": description, "pattern": SYNC_TIME_PATTERN},
    )


class ChangesPageArgs(PageArgs):
    """A page of a list that can be synchronised: by id, optionally only what changed."""

    changed_since = sync_time(
        "only the items whose public state changed at or after this time (their "
        "`changed_at`), still paged by id: follow `next`. ISO 8601 with a zone, between 1970 "
        "and 2100, e.g. 2026-12-07T08:00:00Z (a `+` offset is sent as %2B). Send the `as_of` "
        "of your last complete walk of the list: it catches every change since, some twice."
    )
    as_of = sync_time(
        "set by `next` links (you need not send it): the first page's `as_of`, carried so "
        "that every page of one walk answers the same one"
    )


class YearArgs(Base):
    year = fields.Int(load_default=None, validate=validate.Range(min=2000, max=2100))


class Ref(Base):
    id = fields.Int(required=True)
    url = fields.Str(required=True, metadata={"description": "the resource in this API"})


class Commitment(Base):
    id = fields.Int(required=True)
    slug = fields.Str(required=True)
    position = fields.Int(required=True)
    title_sv = fields.Str(required=True)
    title_en = fields.Str(required=True)
    description_sv = fields.Str(required=True)
    description_en = fields.Str(required=True)
    url = fields.Str(required=True)
    html_url = fields.Str(required=True)


class Principle(Base):
    id = fields.Int(required=True)
    slug = fields.Str(required=True)
    position = fields.Int(required=True)
    name_sv = fields.Str(required=True)
    name_en = fields.Str(required=True)
    description_sv = fields.Str(required=True)
    description_en = fields.Str(required=True)


class CommitmentRef(Base):
    slug = fields.Str(required=True)
    url = fields.Str(required=True)


class Forum(Base):
    id = fields.Int(required=True)
    slug = fields.Str(required=True)
    title = fields.Str(required=True)
    description_html = fields.Str(required=True)
    visibility = fields.Str(required=True)
    created_at = fields.Str(required=True, metadata={"format": "date-time"})
    commitments = fields.List(fields.Nested(CommitmentRef), required=True)
    url = fields.Str(required=True)
    threads_url = fields.Str(required=True)
    html_url = fields.Str(required=True)


class Thread(Base):
    id = fields.Int(required=True)
    title = fields.Str(required=True)
    forum = fields.Nested(Ref, required=True)
    created_at = fields.Str(required=True, metadata={"format": "date-time"})
    locked = fields.Bool(required=True)
    archived = fields.Bool(required=True)
    message_count = fields.Int(required=True)
    commitments = fields.List(fields.Nested(CommitmentRef), required=True)
    url = fields.Str(required=True)
    messages_url = fields.Str(required=True)
    html_url = fields.Str(required=True)


class Author(Base):
    id = fields.Int(required=True)
    display_name = fields.Str(required=True)


class Message(Base):
    id = fields.Int(required=True)
    thread_id = fields.Int(required=True)
    author = fields.Nested(Author, required=True)
    state = fields.Str(required=True, metadata={"description": "visible, hidden or deleted"})
    html = fields.Str(
        required=True, metadata={"description": "sanitised HTML; empty unless visible"}
    )
    created_at = fields.Str(required=True, metadata={"format": "date-time"})
    edited_at = fields.Str(required=True, allow_none=True, metadata={"format": "date-time"})
    reply_to = fields.Int(required=True, allow_none=True)


class Question(Base):
    id = fields.Int(required=True)
    position = fields.Int(required=True)
    text = fields.Str(required=True)
    guidance = fields.Str(required=True)


class Document(Base):
    """A file on a round (its basis) or on a published response, as its page lists it."""

    id = fields.Int(required=True)
    filename = fields.Str(required=True, metadata={"description": "the name it downloads as"})
    content_type = fields.Str(
        required=True, metadata={"description": "the type its content was checked to be"}
    )
    size = fields.Int(required=True, metadata={"description": "bytes"})
    sha256 = fields.Str(
        required=True, allow_none=True, metadata={"description": "hex digest of the bytes"}
    )
    created_at = fields.Str(required=True, metadata={"format": "date-time"})
    url = fields.Str(required=True, metadata={"description": "the download (a web address)"})


class Round(Base):
    id = fields.Int(required=True)
    title = fields.Str(required=True)
    department = fields.Str(required=True)
    phase = fields.Str(required=True)
    stage = fields.Str(required=True)
    problem_html = fields.Str(required=True)
    background_html = fields.Str(required=True)
    opens_at = fields.Str(required=True, metadata={"format": "date-time"})
    closes_at = fields.Str(required=True, metadata={"format": "date-time"})
    decision_date = fields.Str(required=True, allow_none=True, metadata={"format": "date"})
    changed_at = fields.Str(
        required=True,
        metadata={
            "format": "date-time",
            "description": "when what is public of the round last changed: opened, closed, "
            "its deadline reached or moved, its text, questions or documents changed, "
            "feedback published or changed (what `changed_since` compares)",
        },
    )
    questions = fields.List(fields.Nested(Question), required=True)
    documents = fields.List(fields.Nested(Document), required=True)
    commitments = fields.List(fields.Nested(CommitmentRef), required=True)
    url = fields.Str(required=True)
    responses_url = fields.Str(required=True)
    feedback_url = fields.Str(required=True)
    html_url = fields.Str(required=True)


class Answer(Base):
    question_id = fields.Int(required=True)
    html = fields.Str(required=True)


class PublishedResponse(Base):
    id = fields.Int(required=True)
    organisation = fields.Nested(Ref, required=True)
    version = fields.Int(required=True)
    submitted_at = fields.Str(required=True, metadata={"format": "date-time"})
    answers = fields.List(fields.Nested(Answer), required=True)
    documents = fields.List(fields.Nested(Document), required=True)


class Feedback(Base):
    id = fields.Int(required=True)
    question_id = fields.Int(required=True)
    heard_html = fields.Str(required=True)
    action_html = fields.Str(required=True)
    updated_at = fields.Str(required=True, metadata={"format": "date-time"})
    source_response_ids = fields.List(fields.Int(), required=True)


class Organisation(Base):
    id = fields.Int(required=True)
    slug = fields.Str(required=True)
    name = fields.Str(required=True)
    form = fields.Str(required=True)
    org_number = fields.Str(required=True)
    description = fields.Str(required=True)
    website = fields.Str(required=True, allow_none=True)
    verified = fields.Bool(required=True)
    url = fields.Str(required=True)
    html_url = fields.Str(required=True)


class Action(Base):
    id = fields.Int(required=True)
    title = fields.Str(required=True)
    description_html = fields.Str(required=True)
    status = fields.Str(required=True)
    accepted = fields.Bool(required=True)
    declined = fields.Bool(required=True)
    decline_reason = fields.Str(required=True, allow_none=True)
    progress = fields.Int(required=True)
    due_date = fields.Str(required=True, metadata={"format": "date"})
    owner_department = fields.Str(required=True, allow_none=True)
    owner_organisation = fields.Nested(Ref, required=True, allow_none=True)
    source_thread = fields.Nested(Ref, required=True, allow_none=True)
    commitments = fields.List(fields.Nested(CommitmentRef), required=True)
    created_at = fields.Str(required=True, metadata={"format": "date-time"})
    changed_at = fields.Str(
        required=True,
        metadata={
            "format": "date-time",
            "description": "when what is public of the action last changed: proposed, "
            "accepted or declined, its status, progress or due date, an update, its title, "
            "shown again after a moderator hid it (what `changed_since` compares)",
        },
    )
    url = fields.Str(required=True)
    html_url = fields.Str(required=True)


class IndicatorFigures(Base):
    dialogues = fields.Int(required=True)
    messages = fields.Int(required=True)
    organisations = fields.Int(required=True)
    rounds = fields.Int(required=True)
    closed_rounds = fields.Int(required=True)
    feedback_published = fields.Int(required=True)
    feedback_share = fields.Float(required=True, allow_none=True)
    median_feedback_days = fields.Float(required=True, allow_none=True)
    median_decision_weeks = fields.Float(required=True, allow_none=True)
    actions = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True)
    overdue = fields.Int(required=True)


class CommitmentIndicators(Base):
    commitment = fields.Nested(CommitmentRef, required=True)
    figures = fields.Nested(IndicatorFigures, required=True)


class Indicators(Base):
    year = fields.Int(required=True)
    commitments = fields.List(fields.Nested(CommitmentIndicators), required=True)
    total = fields.Nested(IndicatorFigures, required=True)


def page_of(
    item: type[Schema], name: str, *, synced: bool = False, removals: bool = False
) -> type[Schema]:
    """A keyset page: `items` and the `next` page's URL (null on the last page); `synced`,
    a list that takes `changed_since`, and its answers say `as_of`; `removals`, one whose
    items can leave a reader's view, and its answers say which did (`removed`)."""
    shape: dict[str, fields.Field] = {
        "items": fields.List(fields.Nested(item), required=True),
        "next": fields.Str(required=True, allow_none=True),
    }
    if synced:
        shape["as_of"] = fields.Str(
            required=True,
            metadata={
                "format": "date-time",
                "description": "the `changed_since` to send next time, once you have "
                "followed `next` to the last page: a few minutes before this answer (a "
                "change still being saved now is not missed), in whole minutes; every page "
                "of one walk has the first page's. Changes of those minutes come again: "
                "take an item you have as its new state, by id.",
            },
        )
    if removals:
        shape["removed"] = fields.List(
            fields.Int(),
            required=True,
            metadata={
                "description": "with `changed_since`: the ids, in this page's range, of "
                "items you could read and no longer can since then (hidden by a moderator, "
                "or their thread moved or its forum closed to you): delete them from your "
                "copy. Without `changed_since`, empty: a whole walk lists what there is. "
                "Access you lose yourself (leaving a forum) is not listed: walk the whole "
                "list again after such a change."
            },
        )
    return type(name, (Base,), shape)


ForumPage = page_of(Forum, "ForumPage")
ThreadPage = page_of(Thread, "ThreadPage")
MessagePage = page_of(Message, "MessagePage")
RoundPage = page_of(Round, "RoundPage", synced=True)
OrganisationPage = page_of(Organisation, "OrganisationPage")
ActionPage = page_of(Action, "ActionPage", synced=True, removals=True)


class Commitments(Base):
    items = fields.List(fields.Nested(Commitment), required=True)


class Principles(Base):
    items = fields.List(fields.Nested(Principle), required=True)


class Responses(Base):
    items = fields.List(fields.Nested(PublishedResponse), required=True)


class FeedbackList(Base):
    items = fields.List(fields.Nested(Feedback), required=True)


# No NUL (the services refuse it; PostgreSQL cannot store it). Lone surrogates are refused
# too, but a pattern cannot say so portably (Rust's regex, which schemathesis validates
# with, has no surrogate escapes), so the 422 for them is documented in words.
TEXT_PATTERN = r"^[^\u0000]*$"


DIGEST_PATTERN = r"^[0-9a-f]{32}$"
DRAFT_PATTERN = r"^[0-9a-f]{64}$"


class FullMatch(validate.Regexp):
    """A Regexp that must match the whole value: Python's `$` also matches before a final
    line break, which JSON Schema's does not. The OpenAPI document shows the pattern as is."""

    def __init__(self, regex: str) -> None:
        super().__init__(regex)
        self.whole = re.compile(regex)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.whole.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def draft_field() -> fields.Str:
    return fields.Str(
        required=True,
        metadata={
            "description": "the digest of the whole draft (every answer and document): send "
            "it as `draft` with `submit`"
        },
    )


class AnswerInput(Base):
    # strict: 1.9 is not an id (a lenient Int would truncate it to another question's)
    question_id = fields.Int(strict=True, required=True, validate=validate.Range(min=1, max=MAX_ID))
    text = fields.Str(
        required=True,
        # the service's own limit, counted as the service counts it (a CR LF line break is
        # one character, the outer whitespace is trimmed), so the document promises what is
        # accepted; the raw text can be at most twice that (every character a CR LF)
        validate=[
            validate.Length(max=2 * MAX_ANSWER),
            answer_length,
            validate.Regexp(TEXT_PATTERN),
            no_nul,
        ],
        metadata={
            "description": f"markdown, at most {MAX_ANSWER} characters, a line break counted "
            "as one and the outer whitespace not at all; no NUL characters and no lone "
            "surrogates",
            "maxLength": MAX_ANSWER,  # what to aim for (a CR LF text may be longer raw)
        },
    )
    base = fields.Str(
        validate=FullMatch(DIGEST_PATTERN),
        metadata={
            "description": (
                "the `digest` of this answer as the client read it (GET .../responses/own, "
                "or the last save's answer). With it the answer is saved as the web form "
                "saves: unchanged from its base it is not written (a colleague's newer text "
                "stays); changed, it is written if the stored text is still its base, and "
                "if someone else changed it meanwhile the request is a 409 `conflict` that "
                "lists the stored text and nothing is saved. Without a base the answer is "
                "taken as written on an empty one: it fills an unanswered question, and "
                "where a colleague has written something it is a 409 too."
            )
        },
    )


def one_answer_per_question(answers: list[dict]) -> None:
    """Two answers to one question would leave only the last: refuse rather than lose one."""
    if len({a["question_id"] for a in answers}) != len(answers):
        raise ValidationError("Each question may be answered once.")


class ResponseInput(Base):
    answers = fields.List(
        fields.Nested(AnswerInput),
        required=True,
        validate=[validate.Length(min=1, max=50), one_answer_per_question],
    )
    submit = fields.Bool(
        load_default=False,
        metadata={
            "description": "file the draft as the organisation's response (admins): the "
            "answers sent here and every other answer and document of the draft; needs `draft`"
        },
    )
    draft = fields.Str(
        validate=FullMatch(DRAFT_PATTERN),
        metadata={
            "description": (
                "with `submit`, required: the `draft` of GET .../responses/own (or of the "
                "last save) that the client has read. Submitting files the whole draft, "
                "answers and documents it did not send included; if any of them changed "
                "since (a colleague's save or document), the request is a 409 "
                "`draft_changed` and nothing is saved: read it again"
            )
        },
    )

    @validates_schema
    def _draft_with_submit(self, data: dict, **_kwargs: object) -> None:
        """What is filed is what the sender has read, as the web form's confirmation checks."""
        if data.get("submit") and not data.get("draft"):
            raise ValidationError(
                "Send the draft's digest (`draft` from GET .../responses/own) to submit.",
                field_name="draft",
            )


class OwnAnswer(Base):
    """One answer of the organisation's working response (every question of the round)."""

    question_id = fields.Int(required=True)
    text = fields.Str(required=True, metadata={"description": "markdown; empty if unanswered"})
    digest = fields.Str(
        required=True, metadata={"description": "send it back as the answer's `base`"}
    )


class ResponseSaved(Base):
    id = fields.Int(required=True)
    round_id = fields.Int(required=True)
    organisation = fields.Nested(Ref, required=True)
    status = fields.Str(required=True)
    version_count = fields.Int(required=True)
    answers = fields.List(
        fields.Nested(OwnAnswer),
        required=True,
        metadata={"description": "every answer as now stored, with the digest to send next"},
    )
    draft = draft_field()


class OwnResponse(Base):
    """The token's organisation's working response (its draft): what the next save changes."""

    id = fields.Int(required=True, allow_none=True, metadata={"description": "null: none yet"})
    round_id = fields.Int(required=True)
    organisation = fields.Nested(Ref, required=True)
    status = fields.Str(
        required=True, allow_none=True, metadata={"description": "draft, submitted or declined"}
    )
    version_count = fields.Int(required=True)
    updated_at = fields.Str(required=True, allow_none=True, metadata={"format": "date-time"})
    answers = fields.List(fields.Nested(OwnAnswer), required=True)
    draft = draft_field()
