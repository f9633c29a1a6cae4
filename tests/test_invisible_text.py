"""Invisible characters in names and titles.

A display name or organisation name may not carry a character that shows nothing
(Unicode's Default_Ignorable_Code_Point: Hangul fillers, variation selectors, the
combining grapheme joiner, tag characters, ...; and the blank braille pattern): an
official's name with one appended looked the same and passed the imitation check, and a
name made only of them was a name nobody sees. A single-line title (thread, forum, round,
action) may not carry a bidi control: it reorders the title on the pages, in <title> and
in mail subjects.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.errors import Invalid
from forum.models import Forum, Thread, User

# Each shows nothing, and none is a control or format character (categories Cc/Cf),
# which were the only ones refused before.
INVISIBLE = [
    "\u3164",  # HANGUL FILLER (Lo)
    "\u115f",  # HANGUL CHOSEONG FILLER (Lo)
    "\u1160",  # HANGUL JUNGSEONG FILLER (Lo)
    "\uffa0",  # HALFWIDTH HANGUL FILLER (Lo)
    "\u2800",  # BRAILLE PATTERN BLANK (So)
    "\u034f",  # COMBINING GRAPHEME JOINER (Mn)
    "\ufe0f",  # VARIATION SELECTOR-16 (Mn)
    "\ufe00",  # VARIATION SELECTOR-1 (Mn)
    "\U000e0100",  # VARIATION SELECTOR-17 (Mn)
    "\u17b4",  # KHMER VOWEL INHERENT AQ (Mn)
    "\u180b",  # MONGOLIAN FREE VARIATION SELECTOR ONE (Mn)
    "\U000e0041",  # TAG LATIN CAPITAL LETTER A (Cf)
]
IDS = [f"U+{ord(c):04X}" for c in INVISIBLE]

BIDI = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings, overrides, pop
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f", "\u061c",  # LRM, RLM, ALM
]  # fmt: skip
BIDI_IDS = [f"U+{ord(c):04X}" for c in BIDI]


@pytest.fixture(autouse=True)
def english(client):
    """English pages (Swedish is the default), so the assertions read the English text."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def stored_name(db, user_id: int) -> str:
    db.session.expire_all()
    return db.session.get(User, user_id).display_name


# ---------------------------------------------------------------- display names


@pytest.mark.parametrize("char", INVISIBLE, ids=IDS)
def test_an_officials_name_with_an_invisible_character_is_refused(client, make, auth, db, char):
    make.user("official", name="Tina Tjänsteperson")
    member = make.user(name="Mallory Member")
    auth.login(member)
    response = client.post(
        "/settings", data={"display_name": "Tina Tjänsteperson" + char, "locale": "en"}
    )
    assert response.status_code == 400
    page = text(response)
    assert 'id="display_name-error"' in page
    assert f"invisible or control character (U+{ord(char):04X})" in page
    assert stored_name(db, member.id) == "Mallory Member"


@pytest.mark.parametrize("char", INVISIBLE, ids=IDS)
def test_a_name_of_invisible_characters_only_is_refused(client, make, auth, db, char):
    member = make.user(name="Mallory Member")
    auth.login(member)
    response = client.post("/settings", data={"display_name": char * 3, "locale": "en"})
    assert response.status_code == 400
    assert 'id="display_name-error"' in text(response)
    assert stored_name(db, member.id) == "Mallory Member"


@pytest.mark.parametrize(
    "name",
    ["\u0301\u0301", " \u0308 "],  # combining marks with nothing to sit on
)
def test_a_name_without_any_visible_character_is_refused(client, make, auth, db, name):
    member = make.user(name="Mallory Member")
    auth.login(member)
    response = client.post("/settings", data={"display_name": name, "locale": "en"})
    assert response.status_code == 400
    page = text(response)
    assert 'id="display_name-error"' in page
    assert "The name has no visible character." in page
    assert stored_name(db, member.id) == "Mallory Member"


def test_registration_refuses_an_invisible_name(client, db):
    response = client.post(
        "/register",
        data={
            "email": "ny@example.se",
            "display_name": "\u3164\u3164",
            "password": "ett långt lösenord 42",
            "accept": "y",
        },
    )
    assert response.status_code == 400
    assert 'id="display_name-error"' in text(response)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize(
    ("name", "saved"),
    [
        ("Åsa Öberg-Ängström", "Åsa Öberg-Ängström"),
        ("Rene\u0301e Le\u0301vy", "Rene\u0301e Le\u0301vy"),  # accents as combining marks
        ("Ярослав Ковальчук", "Ярослав Ковальчук"),
        ("김민준", "김민준"),
        ("Anna \u2764\ufe0f", "Anna \u2764\ufe0f"),  # a phone keyboard's red heart
        ("Kalle \U0001f600", "Kalle \U0001f600"),
    ],
)
def test_real_names_are_still_accepted(client, make, auth, db, name, saved):
    member = make.user(name="Mallory Member")
    auth.login(member)
    response = client.post("/settings", data={"display_name": name, "locale": "en"})
    assert response.status_code == 303
    assert stored_name(db, member.id) == saved


def test_a_variation_selector_only_follows_a_symbol(app):
    """VS-16 asks for the emoji form of the symbol before it; after a letter it shows
    nothing, and a name with it would look like the name without it."""
    from forum.services.names import check_visible

    with app.test_request_context():
        check_visible("Anna \u2764\ufe0f")
        check_visible("\u263a\ufe0e")
        for name in ("Anna\ufe0f", "Anna \ufe0f", "\ufe0f", "\u2764\ufe0f\ufe0f"):
            with pytest.raises(Invalid) as err:
                check_visible(name)
            assert err.value.field == "display_name"


ENGLISH = {"Accept-Language": "en"}

# Emoji as phone keyboards type them: the symbol, then U+FE0F. The symbol before it is
# not always a So character: "‼" is Po, "ℹ" is Ll, "↔" is Sm, and a keycap is
# a digit (or # or *), U+FE0F and U+20E3.
EMOJI_NAMES = [
    "Anna \u203c\ufe0f",  # ‼️
    "Info \u2139\ufe0f",  # ℹ️
    "Team 1\ufe0f\u20e3",  # 1️⃣
    "Kim \u2194\ufe0f",  # ↔️
    "Åter \u21a9\ufe0f",  # ↩️
    "Sara \u2764\ufe0f",  # ❤️
    "Lisa \u2714\ufe0f",  # ✔️
    "Kalle \U0001f44d\U0001f3fd",  # 👍🏽
    "#\ufe0f\u20e3 Gruppen",  # #️⃣
    "Ola \u2600\ufe0e",  # ☀ in text form
]


@pytest.mark.parametrize("name", EMOJI_NAMES)
def test_names_with_emoji_as_phones_type_them_are_accepted(client, make, auth, db, name):
    member = make.user(name="Mallory Member")
    auth.login(member)
    response = client.post("/settings", data={"display_name": name, "locale": "en"})
    assert response.status_code == 303, text(response)
    assert stored_name(db, member.id) == name


@pytest.mark.parametrize(
    "name",
    [
        "Anna\ufe0f",  # after a letter
        "Anna1\ufe0f",  # after a digit that is no keycap
        "Team 1\ufe0f",
        "Team 1\ufe0f\u20e3\ufe0f",  # after the keycap's mark
        "Anna \ufe0e",  # after a space
        "\u2764\ufe0f\ufe0f",  # after another selector
        "\ufe0fAnna",
    ],
)
def test_a_presentation_selector_that_chooses_nothing_is_refused(app, name):
    from forum.services.names import check_visible

    with app.test_request_context(headers=ENGLISH), pytest.raises(Invalid) as err:
        check_visible(name)
    assert "invisible or control character (U+FE0" in err.value.message


def test_a_keycap_mark_alone_is_no_visible_name(app):
    from forum.services.names import check_visible

    with app.test_request_context(headers=ENGLISH):
        check_visible("1\u20e3")  # a keycap without the selector still shows
        with pytest.raises(Invalid, match="no visible character"):
            check_visible("\u20e3")


def test_an_emoji_selector_after_an_officials_name_is_still_the_officials_name(app, make):
    from forum.services.names import check_not_imitating

    make.user("official", name="Tina Tjänsteperson")
    with app.test_request_context(), pytest.raises(Invalid) as err:
        check_not_imitating("Tina Tjänsteperson\ufe0f")
    assert err.value.field == "display_name"


def test_skeleton_ignores_default_ignorable_characters():
    from forum.services.names import skeleton

    for char in INVISIBLE:
        assert skeleton("Tina" + char + " Tjänsteperson") == skeleton("Tina Tjänsteperson"), char
    assert skeleton("Anna \u2764\ufe0f") == skeleton("Anna \u2764")


def test_an_existing_name_with_a_hidden_character_still_counts_as_the_officials(app, make, db):
    """A name saved before this check (or by an admin) with a filler in it is still
    compared as it looks: a member cannot take the name without the filler."""
    from forum.services.names import check_not_imitating

    official = make.user("official", name="Tina Tjänsteperson")
    db.session.get(User, official.id).display_name = "Tina\u3164 Tjänsteperson"
    db.session.commit()
    with app.test_request_context(), pytest.raises(Invalid):
        check_not_imitating("Tina Tjänsteperson")


@pytest.mark.parametrize("char", INVISIBLE, ids=IDS)
def test_an_organisation_named_with_invisible_characters_is_refused(client, make, auth, db, char):
    from forum.models import Organisation

    auth.login(make.user())
    response = client.post(
        "/organisations/new",
        data={
            "name": char * 2,
            "legal_form": "forening",
            "org_number": "802000-0108",
            "description": "",
            "website": "",
        },
    )
    assert response.status_code == 400
    assert 'id="name-error"' in text(response)
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0


# ---------------------------------------------------------------- titles


@pytest.mark.parametrize("char", BIDI, ids=BIDI_IDS)
def test_a_thread_title_with_a_bidi_control_is_refused(client, make, auth, db, char):
    forum = make.forum()
    auth.login(make.user())
    cid = str(make.commitment_ids(1)[0])
    response = client.post(
        f"/forums/{forum.slug}",
        data={"title": f"Möte {char}TXT.exe", "commitments": [cid], "body": "Hej"},
    )
    assert response.status_code == 400
    page = text(response)
    assert 'id="title-error"' in page
    assert f"Contains an invisible or control character (U+{ord(char):04X})." in page
    assert db.session.scalar(select(func.count()).select_from(Thread)) == 0


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u200f"], ids=["RLO", "RLI", "RLM"])
def test_a_forum_title_with_a_bidi_control_is_refused(client, make, auth, db, char):
    auth.login(make.user("official"))
    cid = str(make.commitment_ids(1)[0])
    response = client.post(
        "/forums/new",
        data={"title": f"Budget 2027{char}", "visibility": "public", "commitments": [cid]},
    )
    assert response.status_code == 400
    page = text(response)
    assert 'id="title-error"' in page
    assert "invisible or control character" in page
    assert db.session.scalar(select(func.count()).select_from(Forum)) == 0


def test_renaming_a_thread_to_a_bidi_title_is_refused(client, make, auth, db):
    moderator = make.user("moderator")
    thread = make.thread(title="Budget 2027")
    auth.login(moderator)
    response = client.post(
        f"/threads/{thread.id}/moderate",
        data={"action": "rename", "title": "Budget \u202eyrammus"},
    )
    assert response.status_code == 400
    assert "invisible or control character (U+202E)" in text(response)
    db.session.expire_all()
    assert db.session.get(Thread, thread.id).title == "Budget 2027"


@pytest.mark.parametrize("char", BIDI, ids=BIDI_IDS)
def test_single_line_text_refuses_bidi_controls(app, char):
    """Every single-line title (threads, forums, rounds, actions, organisations) goes
    through clean_text(single_line=True)."""
    from forum.services.validation import clean_text

    with app.test_request_context(), pytest.raises(Invalid) as err:
        clean_text(f"Budget {char}2027", "title", max_length=200, single_line=True)
    assert err.value.field == "title"


def test_single_line_text_keeps_emoji_sequences_and_multi_line_text_is_unchanged(app):
    from forum.services.validation import clean_text

    with app.test_request_context():
        family = "Familjedag \U0001f468\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f"
        assert clean_text(family, "title", max_length=200, single_line=True) == family
        body = "Hebreiska: \u200fשלום\u200f"
        assert clean_text(body, "body", max_length=200) == body


@pytest.mark.parametrize("value", [*INVISIBLE, "\u200b", "\u202e", "\u200b \u2800\n\u3164"])
def test_a_required_text_of_nothing_visible_is_refused(app, value):
    """A required text (a reason for declining or dropping an action, hiding a message, a
    title, a message) made only of characters drawn as nothing was stored, and the action
    was declined with a reason nobody can read."""
    from forum.services.validation import clean_text

    with app.test_request_context(), pytest.raises(Invalid) as err:
        clean_text(value, "reason", max_length=200)
    assert err.value.field == "reason"
    with app.test_request_context():  # optional: stored as given, whatever it is
        assert clean_text(value, "reason", max_length=200, required=False) == value.strip()
        assert clean_text("\u2764\ufe0f", "reason", max_length=200) == "\u2764\ufe0f"  # ❤️


def test_declining_an_action_with_an_invisible_reason_is_a_field_error(client, make, auth, db):
    """Over HTTP, where the reviewer found it: the decline kept the action proposed."""
    from test_follow_up import World, propose  # noqa: PLC0415

    from forum.models import Action, Department  # noqa: PLC0415

    w = World()
    w.official, w.member = make.user("official"), make.user()
    w.forum = make.forum(owner=w.official)
    w.thread = make.thread(forum=w.forum, author=w.official)
    w.message = make.message(w.thread, w.member, "Vi kan ordna kvällsöppet.")
    w.dept = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    action = propose(client.application, w.member, w)
    before = (action.status, action.declined_at, action.decline_reason)
    auth.login(w.official)
    response = client.post(f"/actions/{action.id}/decline", data={"reason": "\u200b"})
    assert response.status_code == 400
    assert "Contains an invisible or control character (U+200B)." in text(response)
    db.session.expire_all()
    stored = db.session.get(Action, action.id)
    assert (stored.status, stored.declined_at, stored.decline_reason) == before


def test_the_title_error_is_in_swedish_on_a_swedish_page(client, make, auth, db):
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)  # a Swedish browser
    forum = make.forum()
    auth.login(make.user())
    cid = str(make.commitment_ids(1)[0])
    response = client.post(
        f"/forums/{forum.slug}", data={"title": "Möte \u202eTXT.exe", "commitments": [cid]}
    )
    assert response.status_code == 400
    assert "Innehåller ett osynligt tecken eller ett styrtecken (U+202E)." in text(response)
