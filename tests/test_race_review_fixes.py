"""Two requests at the same moment, as two server processes make them (PostgreSQL: SQLite
has one writer at a time). Each test fixes the one interleaving that did harm, every time
(support.one_inside_the_other), or releases two identical requests together."""

from __future__ import annotations

import pytest
from consultation_support import consultation_people, make_round, round_input
from sqlalchemy import select
from support import one_inside_the_other, steps_at_once, stored_count

from forum.errors import Conflict, DomainError
from forum.models import AuditEntry, ConsultationRound, Notification, User
from forum.queries import forums as forum_queries
from forum.queries.consultations import get_round
from forum.services import consultations, forums, moderation, organisations

pytestmark = pytest.mark.usefixtures("row_locks")


def test_a_message_hidden_while_the_reader_marks_the_thread_read_keeps_unread_right(app, make, db):
    """The reader's marker took the thread's count before the hide committed and stored it
    after: it counted the hidden message, and every unread badge was one too low after."""
    mod, author, reader = make.user(), make.user(), make.user()
    thread = make.thread(forum=make.forum(moderators=[mod]), author=author)
    sent = [make.message(thread, author, f"Inlägg {i}") for i in range(3)]
    # ids as numbers: an object of this session read in another thread would be reloaded
    # there, and the pause would come at that reload, before mark_read begins
    thread_id, hidden_id, last_id = thread.id, sent[1].id, sent[2].id
    outcomes = one_inside_the_other(
        app,
        lambda u: forums.mark_read(u, thread_id, last_id),
        lambda u: moderation.hide_message(u, hidden_id, "other", "Personangrepp"),
        [reader.id, mod.id],
        after=r"FROM threads",
    )
    assert outcomes == ["ok", "ok"], outcomes
    make.message(thread, author, "Nytt inlägg")
    db.session.expire_all()
    with app.test_request_context():
        reader = db.session.get(User, reader.id)
        assert forum_queries.unread_by_thread(reader, [thread_id]) == {thread_id: 1}


def test_an_organisation_verified_while_a_round_opens_is_asked(app, make, db):
    """The round took its list of verified organisations before the verification committed,
    and the verification looked for open rounds while the round was a draft: on no list,
    never told, never reminded."""
    official, *_ = consultation_people(make)
    admin, late_admin = make.user("admin"), make.user()
    late = make.organisation(admin=late_admin, verified=False, name="Kooperativet Sent")
    round_id, late_id = make_round(app, make, official, state="draft").id, late.id
    outcomes = one_inside_the_other(
        app,
        lambda u: consultations.open_round(u, round_id),
        lambda u: organisations.verify_organisation(u, late_id),
        [official.id, admin.id],
        after=r"ORDER BY lower\(organisations.name\)",
    )
    assert outcomes == ["ok", "ok"], outcomes
    db.session.expire_all()
    assert late_id in [o.id for o in db.session.get(ConsultationRound, round_id).asked]
    assert (
        stored_count(
            Notification.user_id == late_admin.id, Notification.kind == "consultation_opened"
        )
        == 1
    )


def test_a_first_draft_saved_while_a_question_is_removed_is_refused_not_a_500(app, make, db):
    """The answers were checked against the questions read before the removal committed,
    and the answer to the removed one broke a foreign key: a 500 page. Here the request has
    read the round and its questions (as a view does) when the removal commits."""
    official, _chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official)
    first, second = [q.id for q in round_.questions]
    round_id, org_id = round_.id, org.id

    def save(u):
        assert len(get_round(u, round_id).questions) == 2  # read before the removal
        consultations.save_response(u, round_id, org_id, {first: "Kvällar", second: "Föreningarna"})

    outcomes = one_inside_the_other(
        app,
        save,
        lambda u: consultations.remove_question(u, round_id, second, "Överlappar fråga 1"),
        [member.id, official.id],
        after=r"FROM consultation_questions",
    )
    assert outcomes[1] == "ok", outcomes
    assert isinstance(outcomes[0], DomainError) and str(outcomes[0]) == "Okänd fråga."
    db.session.expire_all()
    assert [q.id for q in db.session.get(ConsultationRound, round_id).questions] == [first]


def test_a_first_draft_saved_before_a_question_is_removed_keeps_the_question(app, make, db):
    """The other order: the save holds the round, the removal waits and finds a response."""
    official, _chair, member, org = consultation_people(make)
    round_ = make_round(app, make, official)
    first, second = [q.id for q in round_.questions]
    round_id, org_id = round_.id, org.id
    outcomes = one_inside_the_other(
        app,
        lambda u: consultations.save_response(
            u, round_id, org_id, {first: "Kvällar", second: "Föreningarna"}
        ),
        lambda u: consultations.remove_question(u, round_id, second, "Överlappar fråga 1"),
        [member.id, official.id],
        after=r"FROM consultation_responses",
        patience=1,  # the removal waits for this save's lock: nothing to wait for
    )
    assert outcomes[0] == "ok", outcomes
    assert isinstance(outcomes[1], Conflict), outcomes
    db.session.expire_all()
    assert len(db.session.get(ConsultationRound, round_id).questions) == 2


def test_the_first_two_rounds_of_a_site_drafted_at_once_are_both_saved(app, make, db):
    """Both made the consultation forum; the loser's recovery flushed it again: a 500."""
    one, other = make.user("official"), make.user("official")
    drafts = [round_input(make, title="Första rundan"), round_input(make, title="Andra rundan")]
    outcomes = steps_at_once(
        app,
        [
            lambda u: consultations.create_round(u, drafts[0]),
            lambda u: consultations.create_round(u, drafts[1]),
        ],
        [one.id, other.id],
    )
    assert outcomes == ["ok", "ok"], outcomes
    assert stored_count(ConsultationRound.id.is_not(None)) == 2
    threads = db.session.scalars(select(ConsultationRound.thread_id)).all()
    assert len(set(threads)) == 2


def test_a_new_round_form_sent_twice_at_once_makes_one_draft(app, make, db):
    """A double tap on a slow phone made two drafts, each with its own thread (a draft
    cannot be deleted); a thread, a forum or an organisation sent twice is made once."""
    official = make.user("official")
    with app.test_request_context():  # the consultation forum exists: an earlier round
        consultations.create_round(official, round_input(make, title="En tidigare runda"))
    data = round_input(make, title="Ungas mötesplatser")
    outcomes = steps_at_once(
        app, [lambda u: consultations.create_round(u, data)] * 2, [official.id] * 2
    )
    assert outcomes == ["ok", "ok"], outcomes
    assert stored_count(ConsultationRound.title == "Ungas mötesplatser") == 1


def test_a_thread_locked_by_two_moderators_at_once_is_locked_and_logged_once(app, make, db):
    """Both passed the "already locked?" check: two "thread.locked" on the public
    transparency page's counts for one lock."""
    mod, other_mod, author = make.user(), make.user(), make.user()
    thread_id = make.thread(forum=make.forum(moderators=[mod, other_mod]), author=author).id
    outcomes = steps_at_once(
        app, [lambda u: moderation.lock_thread(u, thread_id)] * 2, [mod.id, other_mod.id]
    )
    assert outcomes.count("ok") == 1, outcomes
    assert any(isinstance(o, Conflict) for o in outcomes), outcomes
    locked = stored_count(AuditEntry.action == "thread.locked", AuditEntry.target_id == thread_id)
    assert locked == 1
