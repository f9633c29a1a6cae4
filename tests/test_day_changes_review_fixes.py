"""What a read-through of the day's changes found in them: setting punctuation aside let a
symbol that passes for a letter ("|nga Lund" beside the official "Inga Lund") through the
check against imitating names; live notices to several people carried the last one's
language; and the page giving back a form written as the login ended could be cached."""

from __future__ import annotations

import pytest
from test_login_ended_forms import idle_overnight

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    "imitation",
    [
        "|nga Lund",  # U+007C VERTICAL LINE (Sm) for I: confusable, folded before d977dc5
        "\u2223nga Lund",  # U+2223 DIVIDES (Sm)
        "\u05c0nga Lund",  # U+05C0 HEBREW PUNCTUATION PASEQ (Po)
    ],
)
def test_symbol_lookalike_of_an_officials_name_is_still_refused(app, make, imitation):
    """A symbol the confusables table folds to a letter (| -> l/I/1) is kept and folded,
    not set aside with the punctuation."""
    from forum.errors import Invalid
    from forum.services import accounts

    make.user("official", name="Inga Lund")
    with app.test_request_context(), pytest.raises(Invalid):
        accounts.register_user("imitator@example.se", imitation, PASSWORD)


def test_live_notice_lang_is_each_readers_language(app, make, db, socket_for):
    """Each reader's summary comes marked with that reader's language (it carried the last
    recipient's: a Swedish summary marked lang="en" is read with an English voice)."""
    from forum.services import notifications

    swede = make.user()
    english = make.user()
    swede.locale = "sv"
    english.locale = "en"
    db.session.commit()
    sv_sock = socket_for(swede)
    en_sock = socket_for(english)
    sv_sock.get_received()
    en_sock.get_received()
    thread = make.thread(author=make.user())
    actor = make.user()
    with app.test_request_context():
        notifications.deliver(
            [swede, english], "mention", "Hej", f"/threads/{thread.id}", actor=actor, thread=thread
        )
        db.session.commit()

    def payload(sock):
        got = [e["args"][0] for e in sock.get_received() if e["name"] == "notification"]
        assert got, "no live notification"
        return got[0]["notification"]

    sv_note, en_note = payload(sv_sock), payload(en_sock)
    assert en_note["lang"] == "en"
    assert sv_note["lang"] == "sv", (sv_note["summary"], sv_note["lang"])


LONG = "Vi vill föreslå kvällsöppet på mötesplatsen, minst två kvällar i veckan."


def test_logged_out_page_with_the_typed_text_is_kept_out_of_caches(client, make, db):
    """The page that gives back what was written (here to a members-only thread) after the
    login ended is `private, no-store`, as every page showing a person's writing is (the
    login that marks them so has just ended)."""
    from support import form_login

    member = make.user()
    forum = make.forum(visibility="members")
    thread = make.thread(forum=forum, author=member)
    form_login(client, member)
    path = f"/threads/{thread.id}"
    assert client.get(path).headers.get("Cache-Control") == "private, no-store"
    idle_overnight(db, member)
    response = client.post(
        f"{path}/messages",
        data={"body": LONG, "client_id": "c1"},
        headers={"Referer": f"http://localhost{path}"},
    )
    assert response.status_code == 401 and LONG in response.get_data(as_text=True)
    assert "no-store" in (response.headers.get("Cache-Control") or ""), dict(response.headers)
