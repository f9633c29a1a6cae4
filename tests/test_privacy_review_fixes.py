"""Closing an account, as a review of personal data found it: a mention written in
capitals, a notice as long as its column, a suspension's appeal link, and a namesake's mail."""

from datetime import timedelta

from sqlalchemy import select

from forum.extensions import db as _db
from forum.models import Appeal, Department, Notification, OutboxMail
from forum.services import appeal_links, privacy
from forum.services import follow_up as follow_up_service
from forum.services import moderation as mod


def _notes_of(user) -> list[Notification]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


# --- 1. a mention typed with capitals survives closing in others' notices and mail (PostgreSQL)


def test_a_mention_typed_with_capitals_leaves_others_notices_and_mail_on_close(app, make):
    """Mira's handle is mira.medlem; Ture writes "@Mira.Medlem" (the mention links, rendering
    is case-insensitive) in a reply to Olle. After Mira closes her account, Olle's reply
    notice and the mail about it must not keep "@Mira.Medlem"."""
    mira = make.user(name="Mira Medlem")
    olle, ture, admin = make.user(), make.user(), make.user("admin")
    thread = make.thread(author=olle)
    first = make.message(thread, olle, "Vem ordnar fikat?")
    reply = make.message(thread, ture, "Fråga @Mira.Medlem, hon vet.", reply_to=first.id)
    assert 'class="mention"' in reply.html  # precondition: it is a real mention
    note = [n for n in _notes_of(olle) if n.kind == "reply"][0]
    assert "@Mira.Medlem" in note.excerpt  # precondition
    with app.test_request_context():
        privacy.close_account(admin, mira.id)
    _db.session.expire_all()
    mails = list(_db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == olle.email)))
    assert mails  # Olle was mailed about the reply
    kept = [
        part
        for mail in mails
        for part in (mail.subject, mail.body, mail.html_body or "")
        if "Mira.Medlem" in part
    ]
    excerpts = [n.excerpt for n in _notes_of(olle) if "Mira.Medlem" in n.excerpt]
    assert not excerpts and not kept, (excerpts, kept)


# --- 2. closing fails (PostgreSQL: value too long) where a notice quoted them at full length


def test_closing_an_account_mentioned_in_a_long_action_update_notice(app, make):
    """An action with a long title (titles take 200 characters) gets an update that mentions
    @bo.ek; its follower's notice quotes "title: update", cut at 300 characters. Closing
    Bo's account puts the longer pseudonym in that notice: past the column's 300
    characters (a 500 on PostgreSQL; on SQLite a notice longer than the column)."""
    official = make.user("official")
    member, admin = make.user(), make.user("admin")
    bo = make.user(name="Bo Ek")
    assert bo.handle == "bo.ek"
    forum = make.forum(owner=official)
    thread = make.thread(forum=forum, author=official)
    message = make.message(thread, member, "Kan vi ha kvällsöppet?")
    dept = _db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    title = ("Kvällsöppen mötesplats i stadsdelen med läxhjälp, språkcafé och fika " * 3)[:200]
    with app.test_request_context():
        action = follow_up_service.propose_action(
            member,
            follow_up_service.ActionInput(
                title=title,
                description="Prova ett halvår.",
                owner=f"department:{dept.id}",
                due_date=(follow_up_service.today() + timedelta(days=60)).isoformat(),
                commitment_ids=[thread.commitments[0].id],
                message_id=message.id,
            ),
        )
        follow_up_service.accept_action(official, action.id)
        follow_up_service.post_update(
            official,
            action.id,
            (
                "@bo.ek har bokat lokalen för hela hösten. Nästa steg är att hitta volontärer "
                "till läxhjälpen och språkcaféet, och att berätta om kvällsöppet i skolorna."
            ),
        )
    notice = [n for n in _notes_of(member) if n.kind == "action_update"][0]
    assert "@bo.ek" in notice.excerpt and len(notice.excerpt) == 300  # precondition
    with app.test_request_context():
        privacy.close_account(admin, bo.id)  # PostgreSQL: StringDataRightTruncation
    notice = [n for n in _notes_of(member) if n.kind == "action_update"][0]
    assert "@bo.ek" not in notice.excerpt
    assert len(notice.excerpt) <= 300, len(notice.excerpt)


# --- 3. the suspension's signed appeal link still acts for a closed account ----------------


def test_a_closed_accounts_suspension_link_no_longer_appeals_in_its_name(app, make):
    """A suspended person cannot log in, so they ask an admin to close their account. The
    signed link of the suspension mail (valid 30 days) must not still show the decision
    and take an appeal in the closed account's name into the moderators' queue."""
    moderator, admin = make.user("moderator"), make.user("admin")
    person = make.user(name="Stina Stängd")
    with app.test_request_context():
        action = mod.suspend_person(moderator, person.id, 60 * 24 * 7, "Hot mot andra.")
        token = appeal_links.link_path(action).rsplit("/", 1)[-1]
    with app.test_request_context():
        privacy.close_account(admin, person.id)
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = c.get(f"/moderation/appeal/{token}")
    posted = c.post(f"/moderation/appeal/{token}", data={"body": "Jag överklagar."})
    _db.session.expire_all()
    made = list(_db.session.scalars(select(Appeal)))
    assert made == [], (
        f"an appeal by the closed account (GET {page.status_code}, POST {posted.status_code})"
    )
    assert page.status_code in (404, 410)


# --- 4. closing one "Anna Berg" rewrites mail about another person of the same name -------


def test_closing_an_account_leaves_a_namesakes_mail_alone(app, make):
    """Display names are not unique: two members are called Anna Berg. The second mentions
    Olle, who is mailed "Anna Berg nämnde dig …". When the first Anna closes her account,
    that mail (about the other Anna, who is still here) must keep her name, not say the
    closed account mentioned Olle."""
    closing = make.user(name="Anna Berg")
    namesake = make.user(name="Anna Berg")
    olle, admin = make.user(), make.user("admin")
    assert closing.handle != namesake.handle
    thread = make.thread(author=olle)
    make.message(thread, namesake, f"Hej @{olle.handle}, jag tar med fika.")
    mail = _db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == olle.email))
    assert mail.subject.startswith("Anna Berg")  # precondition: it names the namesake
    note = [n for n in _notes_of(olle) if n.kind == "mention"][0]
    assert note.actor_id == namesake.id
    with app.test_request_context():
        privacy.close_account(admin, closing.id)
    _db.session.expire_all()
    mail = _db.session.get(OutboxMail, mail.id)
    assert mail.sent_at is None  # still goes out
    assert mail.subject.startswith("Anna Berg"), mail.subject
    assert privacy.pseudonym(closing.id) not in mail.body, mail.body
