"""The daily summary quotes each notice as the notifications page does: a notice about an
action a moderator hid says so (it quoted nothing), and an excerpt the app wrote in the
language the person had then is marked with that language when the mail is in another.
Every excerpt carries its direction, explicit where it is known (a mail client may not
know dir="auto"): a person's words in Arabic read right to left."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import select

from forum.extensions import db
from forum.models import Notification, OutboxMail, User
from forum.services import notifications


def _digest(app, reader, deliveries) -> User:
    with app.test_request_context():
        notifications.save_preferences(reader, {"action_update": "digest"})
        for excerpt in deliveries:
            notifications.deliver([reader], "action_update", excerpt, "/actions/1")
        db.session.commit()
    return reader


def _send(app, reader) -> OutboxMail:
    with app.test_request_context():
        assert notifications.send_digests() == 1
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == reader.email))
    assert mail is not None and mail.html_body
    return mail


def _mail_of_its_own(app, reader, excerpt: str) -> OutboxMail:
    """The mail `reader` gets at once for a notice quoting `excerpt`."""
    with app.test_request_context():
        notifications.deliver([reader], "action_update", excerpt, "/actions/1")
        db.session.commit()
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == reader.email))
    assert mail is not None and mail.html_body
    return mail


def _items(mail: OutboxMail) -> list[str]:
    return re.findall(r"<li>(.*?)</li>", mail.html_body, re.S)


def test_an_excerpt_in_the_language_the_person_had_is_marked_with_it(app, make):
    reader = make.user()
    reader.locale = "sv"
    db.session.commit()
    # written by the app in the reader's language at the time: Swedish
    _digest(app, reader, [lambda: _("Log in"), "Användarens egna ord"])
    note = db.session.scalars(select(Notification).where(Notification.user_id == reader.id))
    assert sorted(n.excerpt_lang or "" for n in note) == ["", "sv"]
    reader.locale = "en"  # changed before the summary went out
    db.session.commit()
    mail = _send(app, reader)
    assert re.search(r'<html lang="([^"]*)"', mail.html_body).group(1) == "en"
    items = _items(mail)
    assert any('<span dir="auto" lang="sv">Logga in</span>' in item for item in items), items
    # a person's own words, too few for the app to tell their language: none is claimed
    assert any('<span dir="auto">Användarens egna ord</span>' in item for item in items), items


def test_an_excerpt_in_the_mails_language_is_not_marked(app, make):
    reader = make.user()
    reader.locale = "en"
    db.session.commit()
    _digest(app, reader, [lambda: _("Log in"), "Second"])
    mail = _send(app, reader)
    assert '<span dir="auto">Log in</span>' in mail.html_body
    assert 'lang="sv"' not in mail.html_body


def test_a_notice_about_a_hidden_action_says_so_in_the_summary(app, make):
    reader = make.user()
    reader.locale = "en"
    db.session.commit()
    _digest(app, reader, ["Åtgärdens titel", "Another"])
    note = db.session.scalars(
        select(Notification).where(
            Notification.user_id == reader.id, Notification.excerpt == "Åtgärdens titel"
        )
    ).one()
    note.excerpt = ""  # what hiding the action does to its notices (follow_up._requote)
    db.session.commit()
    mail = _send(app, reader)
    assert "Åtgärdens titel" not in mail.body + mail.html_body
    assert "[Action hidden by a moderator]" in mail.body
    assert "[Action hidden by a moderator]" in mail.html_body


ARABIC = "OK، نحتاج إلى قاعة للتدريب"  # a Latin word first: dir="auto" would read it left to right


def test_a_persons_words_in_arabic_read_right_to_left_in_the_summary(app, make):
    reader = make.user()
    reader.locale = "sv"
    db.session.commit()
    _digest(app, reader, [ARABIC, "Andra ord"])
    items = _items(_send(app, reader))
    assert any(f'<span dir="rtl" lang="ar">{ARABIC}</span>' in item for item in items), items


def test_a_persons_words_in_arabic_read_right_to_left_in_a_mail_of_their_own(app, make):
    reader = make.user()
    reader.locale = "sv"
    db.session.commit()
    mail = _mail_of_its_own(app, reader, ARABIC)
    assert f'<p dir="rtl" lang="ar">{ARABIC}</p>' in mail.html_body, mail.html_body
    assert re.search(r'<html lang="([^"]*)"', mail.html_body).group(1) == "sv"


def test_markup_in_a_persons_words_stays_text_in_the_mail_and_its_attributes(app, make):
    """What decides an excerpt's attributes reads the words but writes only constants: a
    person's markup is text in a mail of its own and in the summary."""
    written = '"><script>alert(1)</script> <b dir="ltr">fet</b>'
    reader = make.user()
    reader.locale = "sv"
    db.session.commit()
    own = _mail_of_its_own(app, reader, written)
    for html in (own.html_body, _send(app, _digest(app, make.user(), [written, "x"])).html_body):
        assert "<script>" not in html and "<b " not in html, html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, html
        assert re.search(r'<(p|span) dir="auto">&#34;&gt;&lt;script&gt;', html), html
