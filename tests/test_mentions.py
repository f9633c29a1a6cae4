"""Mention autocomplete: `mention:suggest` names only people who can read the thread."""

from __future__ import annotations

from datetime import timedelta

import pytest
from consultation_support import make_round

from forum.extensions import db as _db
from forum.models import Thread
from forum.models.base import utcnow
from forum.queries import mentions
from forum.services import privacy


def suggest(sock, thread, q="", **extra):
    return sock.emit("mention:suggest", {"thread_id": thread.id, "q": q, **extra}, callback=True)


def names(ack) -> list[str]:
    assert ack["ok"], ack
    return [p["display_name"] for p in ack["people"]]


def test_people_are_matched_by_handle_or_a_word_of_their_name(make, socket_for, db):
    asker = make.user(name="Asta Frågare")
    mira = make.user(name="Mira Medlem")
    make.user(name="Olle Miranda")  # a later word of the name
    make.user(name="Bo Annan")
    thread = make.thread(author=asker)
    sock = socket_for(asker)

    assert names(suggest(sock, thread, "mir")) == ["Mira Medlem", "Olle Miranda"]
    assert names(suggest(sock, thread, "MIRA.M")) == ["Mira Medlem"]  # the handle, any case
    ack = suggest(sock, thread, mira.handle)
    assert ack["people"] == [
        {"id": mira.id, "display_name": "Mira Medlem", "handle": mira.handle, "organisation": None}
    ]
    assert "Asta Frågare" not in names(suggest(sock, thread, "ast"))  # never the asker
    assert names(suggest(sock, thread, "zzz")) == []


def test_those_who_took_part_come_first_and_the_list_is_short(make, socket_for, db):
    asker = make.user(name="Asta Frågare")
    crowd = [make.user(name=f"Sam Person{n:02d}") for n in range(12)]
    thread = make.thread(author=asker)
    make.message(thread, crowd[11], "Hej")
    ack = suggest(socket_for(asker), thread, "sam")
    assert len(ack["people"]) == mentions.MAX_SUGGESTIONS
    assert names(ack)[0] == "Sam Person11"
    # `@` alone: the people in the conversation first, then everyone else by name
    everyone = names(suggest(socket_for(crowd[0]), thread, ""))
    assert everyone[:2] == ["Sam Person11", "Asta Frågare"]
    assert everyone[2:] == sorted(everyone[2:])


def test_an_invite_only_forum_suggests_only_those_who_can_read_it(make, socket_for, db):
    member, other_member = make.user(name="Vera Medlem"), make.user(name="Vilma Medlem")
    outsider = make.user(name="Viktor Utanför")
    forum_moderator = make.user(name="Vanja Forumvärd")
    site_moderator = make.user("moderator", name="Valter Moderator")
    private = make.forum(
        visibility="invite", members=[member, other_member], moderators=[forum_moderator]
    )
    thread = make.thread(forum=private, author=member)
    suggested = names(suggest(socket_for(member), thread, "v"))
    assert "Viktor Utanför" not in suggested
    assert {"Vilma Medlem", "Vanja Forumvärd", "Valter Moderator"} <= set(suggested)
    # the outsider cannot ask at all, nor can a visitor
    ack = suggest(socket_for(outsider), thread, "v")
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    ack = suggest(socket_for(None), thread, "v")
    assert ack["ok"] is False and ack["error"]["code"] == "auth_required"
    assert site_moderator.id in {p["id"] for p in suggest(socket_for(member), thread, "")["people"]}


def test_someone_removed_from_the_forum_is_no_longer_suggested(make, app, socket_for, db):
    from forum.services import forums

    owner = make.user("official", name="Olga Tjänsteperson")
    member, leaver = make.user(name="Lo Kvar"), make.user(name="Lina Lämnar")
    private = make.forum(owner=owner, visibility="invite", members=[member, leaver])
    thread = make.thread(forum=private, author=member)
    assert names(suggest(socket_for(member), thread, "l")) == ["Lina Lämnar"]
    with app.test_request_context():
        forums.change_forum_people(owner, private, leaver.email, "member", add=False)
    assert names(suggest(socket_for(member), thread, "l")) == []


def test_a_draft_rounds_thread_suggests_only_those_who_manage_the_round(make, app, socket_for, db):
    official = make.user("official", name="Olga Tjänsteperson")
    colleague = make.user("official", name="Oskar Tjänsteperson")
    make.user("official", name="Ove Annanstans", department="Kulturnämnden")
    make.user(name="Oda Medborgare")
    round_ = make_round(app, make, official, state="draft")
    thread = _db.session.get(Thread, round_.thread_id)
    assert names(suggest(socket_for(official), thread, "o")) == ["Oskar Tjänsteperson"]
    ack = suggest(socket_for(colleague), thread, "o")
    assert names(ack) == ["Olga Tjänsteperson"]


def test_closed_and_suspended_accounts_are_not_suggested(make, app, socket_for, db):
    asker = make.user(name="Asta Frågare")
    gone = make.user(name="Greta Gått")
    away = make.user(name="Gustav Avstängd")
    make.user(name="Gun Kvar")
    thread = make.thread(author=asker)
    with app.test_request_context():
        privacy.close_account(make.user("admin"), gone.id)
    away.suspended_until = utcnow() + timedelta(days=3)
    _db.session.commit()
    assert names(suggest(socket_for(asker), thread, "g")) == ["Gun Kvar"]
    away.suspended_until = utcnow() - timedelta(days=1)  # served
    _db.session.commit()
    assert names(suggest(socket_for(asker), thread, "g")) == ["Gun Kvar", "Gustav Avstängd"]


def test_like_wildcards_in_the_prefix_match_only_themselves(make, socket_for, db):
    asker = make.user(name="Asta Frågare")
    make.user(name="Anna Berg")  # handle anna.berg
    thread = make.thread(author=asker)
    assert names(suggest(socket_for(asker), thread, "ann_")) == []
    assert names(suggest(socket_for(asker), thread, "anna.")) == ["Anna Berg"]


def test_names_come_back_as_text_for_the_page_to_escape(make, socket_for, db):
    asker = make.user(name="Asta Frågare")
    sly = make.user(name='Lisa <img src=x onerror="alert(1)">')
    thread = make.thread(author=asker)
    ack = suggest(socket_for(asker), thread, "lisa")
    assert [p["id"] for p in ack["people"]] == [sly.id]
    assert ack["people"][0]["display_name"] == sly.display_name  # plain text, not HTML


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"q": 7}, "invalid", "q"),
        ({"q": ["mi"]}, "invalid", "q"),
        ({"q": "mi ra"}, "invalid", "q"),
        ({"q": "<script>"}, "invalid", "q"),
        ({"q": "%"}, "invalid", "q"),
        ({"q": ".mira"}, "invalid", "q"),
        ({"q": "m" * 41}, "invalid", "q"),
        ({"q": "mi\x00"}, "invalid", "q"),
        ({"thread_id": "abc"}, "invalid", "thread_id"),
        ({"thread_id": None}, "invalid", "thread_id"),
        ({"thread_id": 2**63}, "invalid", None),
        ({"thread_id": 999999}, "not_found", None),
    ],
)
def test_bad_input_gets_an_error_ack(make, socket_for, db, payload, code, field):
    asker = make.user()
    thread = make.thread(author=asker)
    sock = socket_for(asker)
    ack = sock.emit("mention:suggest", {"thread_id": thread.id, **payload}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    if field:
        assert ack["error"]["field"] == field
    assert sock.emit("mention:suggest", "not an object", callback=True)["ok"] is False
    assert names(suggest(sock, thread, "m" * 40)) == []  # the longest handle is fine


def test_queries_do_not_grow_with_the_people_looked_at(make, socket_for, db, count_queries):
    asker = make.user(name="Asta Frågare")
    member = make.user(name="Kim Medlem")
    crowd = [make.user(name=f"Kim Person{n:02d}") for n in range(30)]
    private = make.forum(visibility="invite", members=[asker, member, *crowd[:3]])
    thread = make.thread(forum=private, author=asker)
    counts = []
    for q in ("kim.m", "kim"):
        sock = socket_for(asker)
        _db.session.expire_all()
        with count_queries() as counter:
            ack = suggest(sock, thread, q)
        counts.append(counter.count)
    assert names(ack) == ["Kim Medlem", "Kim Person00", "Kim Person01", "Kim Person02"]
    assert counts[1] <= counts[0] + 2, counts  # the forum's members load once, not per person
