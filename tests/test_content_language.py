"""People's texts carry the language they are written in (WCAG 3.1.2, language of parts).

With the interface in English, a Swedish message, round or forum description was read by a
screen reader with English pronunciation: nothing said it was Swedish. `forum.text
.content_language` tells Swedish, English and Finnish apart when the words plainly say so,
and the text's container gets `lang`; the socket payload carries it for the script.
"""

from __future__ import annotations

import re

import pytest
from consultation_support import consultation_people, english, make_round, respond
from test_realtime import received, send

from forum.text import EXCERPT_REMEMBERED_UP_TO, content_language

SWEDISH = "Vi borde göra något åt lokalerna innan hösten, tycker jag."
ENGLISH = "We should do something about the premises before the autumn, I think."


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        (SWEDISH, "sv"),
        ("Bra idé, jag håller med!", "sv"),
        ("Mötet är på torsdag kl 18 i Hammarkullen", "sv"),
        ("Styrelsemötet flyttas till nästa vecka", "sv"),
        (ENGLISH, "en"),
        ("I think the idea is good but we need more time", "en"),
        ("Hyvää huomenta kaikille, kiitos kokouksesta", "fi"),
        ("Lisää tietoa löytyy sivulta", "fi"),
        # too short, or no word that tells
        ("Hej!", None),
        ("OK", None),
        ("👍👍", None),
        ("https://goteborg.se/wps/portal", None),
        ("", None),
        # mixed: neither three times the other
        ("Vi kan ta det på mötet, the agenda is attached and we will discuss", None),
        # Somali, in Latin letters
        ("Waxaan rabnaa in aan ka hadalno xarunta dhalinyarada iyo waxa ay u baahan yihiin", "so"),
        ("Mahadsanid, waa fikrad wanaagsan", "so"),
        # Arabic letters: Arabic, and the languages that add letters of their own to them
        ("نحتاج إلى مكان للقاء الشباب في المساء", "ar"),
        ("ما به یک مکان برای دیدار جوانان در شب نیاز داریم", "fa"),
        ("ئێمە پێویستمان بە شوێنێک هەیە بۆ گەنجان", "ckb"),
        ("ہمیں نوجوانوں کے لیے ایک جگہ کی ضرورت ہے", "ur"),
        ("سلام", None),  # too short to tell which
        ("Mötet i Angered: نحتاج إلى مكان للقاء الشباب", None),  # mixed
        ("نحتاج إلى مكان – OK", "ar"),
    ],
)
def test_the_language_is_told_only_when_the_words_plainly_say_it(text, lang):
    assert content_language(text) == lang


def test_tags_and_addresses_in_html_are_not_words():
    linked = '<p><a href="https://the.example/and/of/the/is/are">Läs mer här</a> om det.</p>'
    assert content_language(linked, html=True) == "sv"
    assert content_language("<p>&lt;the&gt; <em>and</em> of</p>", html=True) == "en"


def test_a_long_text_is_told_by_its_beginning():
    long = (SWEDISH + " ") * (EXCERPT_REMEMBERED_UP_TO // len(SWEDISH) + 5)
    assert len(long) > EXCERPT_REMEMBERED_UP_TO
    assert content_language(long) == "sv"


def body_of(page: str, message_id: int) -> str:
    """The opening tag of message `message_id`'s body on a thread page."""
    item = page[page.index(f'id="m{message_id}"') :]
    return re.search(r'<div class="message-body[^>]*>', item).group(0)


def test_a_thread_page_marks_each_message_in_its_language(make, client, auth):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    swedish = make.message(thread, alice, SWEDISH)
    english_ = make.message(thread, bob, ENGLISH)
    short = make.message(thread, bob, "Ok!")
    reply = make.message(thread, alice, "Håller med dig helt.", reply_to=english_.id)
    english(client)
    auth.login(bob)

    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)

    assert '<html lang="en"' in page
    assert 'lang="sv"' in body_of(page, swedish.id)
    assert 'lang="en"' in body_of(page, english_.id)
    assert "lang=" not in body_of(page, short.id)  # read in the page's language
    item = page[page.index(f'id="m{reply.id}"') :]
    assert re.search(r'<span data-slot="quote-text" dir="auto" lang="en">', item)


def test_a_hidden_message_has_no_language_and_its_quotes_none(make, client, auth, app):
    from forum.services import moderation

    alice, moderator = make.user(), make.user("moderator")
    thread = make.thread(author=alice)
    hidden = make.message(thread, alice, SWEDISH)
    reply = make.message(thread, moderator, "Detta är inte okej.", reply_to=hidden.id)
    with app.test_request_context():
        moderation.hide_message(moderator, hidden.id, "other", "Fel tråd")
    english(client)
    auth.login(alice)

    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)

    assert "lang=" not in body_of(page, hidden.id)
    item = page[page.index(f'id="m{reply.id}"') :]
    assert re.search(r'<span data-slot="quote-text" dir="auto">', item)


def test_the_socket_payload_carries_the_language(make, socket_for):
    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    first = make.message(thread, bob, ENGLISH)
    a, b = socket_for(alice), socket_for(bob)
    for sock in (a, b):
        assert sock.emit("join", {"thread_id": thread.id}, callback=True)["ok"]
    b.get_received()

    ack = send(a, thread, SWEDISH, "sv-1", reply_to=first.id)

    assert ack["ok"] is True, ack
    assert ack["message"]["lang"] == "sv"
    assert ack["message"]["reply_quote"]["lang"] == "en"
    [broadcast] = received(b, "message:new")
    assert broadcast["message"]["lang"] == "sv"
    assert broadcast["message"]["reply_quote"]["lang"] == "en"
    short = send(a, thread, "Ok!", "short-1")
    assert short["ok"] is True and short["message"]["lang"] is None


def test_a_round_page_marks_its_texts_and_questions(app, make, client):
    official, *_ = consultation_people(make)
    round_ = make_round(
        app,
        make,
        official,
        title="Mötesplatser för unga i stadsdelen",
        problem="How should **the meeting places** be developed, and who will run them?",
        questions=[("Vad saknas i dag för de unga?", ""), ("Vem kan driva?", "")],
    )
    english(client)

    page = client.get(f"/consultations/{round_.id}").get_data(as_text=True)

    assert re.search(r'<h1 dir="auto" lang="sv">Mötesplatser för unga i stadsdelen</h1>', page)
    assert re.search(r'<div class="prose" dir="auto" lang="en"><p>How should', page)
    assert re.search(
        r'<p class="question-text" dir="auto" lang="sv">Vad saknas i dag för de unga\?</p>', page
    )
    # too short to tell: the page's language
    assert '<p class="question-text" dir="auto">Vem kan driva?</p>' in page


def test_a_forum_description_is_marked(app, make, client):
    from forum.services import forums

    with app.test_request_context():
        forum = forums.create_forum(
            make.user("official"),
            "Finansiering",
            "Här pratar vi om finansiering och om hur vi söker bidrag.",
            "public",
            make.commitment_ids(2),
        )
    english(client)
    listing = client.get("/forums").get_data(as_text=True)
    own = client.get(f"/forums/{forum.slug}").get_data(as_text=True)
    for page in (listing, own):
        assert re.search(r'<div class="prose" dir="auto" lang="sv"><p>Här pratar vi', page)


def test_every_container_of_a_persons_text_takes_its_direction_from_it(make, client, auth):
    """An Arabic message on a Swedish page was laid out left to right: its full stop at
    the wrong end and a reply's words out of order. What shows a person's text (the
    message, its author, a quote, a title) has dir="auto", so its first letter decides, or
    dir="rtl" when the letters tell a language written right to left."""
    alice, bob = make.user(name="أحمد علي"), make.user()
    thread = make.thread(author=alice, title="مكان للقاء الشباب")
    arabic = make.message(thread, alice, "نحتاج إلى مكان للقاء الشباب في المساء.")
    reply = make.message(thread, bob, "Håller med dig helt.", reply_to=arabic.id)
    auth.login(bob)

    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)

    assert re.search(r'<div class="message-body prose" data-slot="body" dir="rtl" lang="ar"', page)
    assert re.search(r'data-slot="author" dir="auto">أحمد علي</a>', page)
    assert re.search(r'<h1 id="thread-title" dir="rtl" lang="ar">', page)
    # a message on its way (the outbox's) takes its direction from its first letter too
    assert re.search(r'<div class="message-body outgoing-body" data-slot="body" dir="auto">', page)
    item = page[page.index(f'id="m{reply.id}"') :]
    assert re.search(r'<span data-slot="quote-text" dir="rtl" lang="ar">', item)
    listing = client.get(f"/forums/{thread.forum.slug}").get_data(as_text=True)
    assert re.search(r'<a href="/threads/\d+" dir="auto">مكان للقاء الشباب</a>', listing)


def test_a_compilation_gives_an_arabic_answer_its_direction_for_the_pdf(app, make, client, auth):
    """The compilation is also the city's PDF, and WeasyPrint ignores dir="auto" (an Arabic
    answer came out left to right, its full stop first): a text the letters tell is in a
    right-to-left language says so outright."""
    from forum.services import consultations
    from forum.text import text_attributes

    assert text_attributes("نحتاج إلى مكان للقاء الشباب") == ' dir="rtl" lang="ar"'
    assert text_attributes("ما به یک مکان برای دیدار نیاز داریم") == ' dir="rtl" lang="fa"'
    assert text_attributes(SWEDISH) == ' dir="auto" lang="sv"'
    assert text_attributes("سلام") == ' dir="auto"'  # too short to tell: its letters decide
    official, chair, _member, org = consultation_people(make)
    round_ = make_round(app, make, official, "open")
    respond(app, chair, round_, org, text="نحتاج إلى مكان للقاء الشباب في المساء")
    with app.test_request_context():
        consultations.close_round(official, round_.id)
    auth.login(official)
    page = client.get(f"/consultations/{round_.id}/compilation").get_data(as_text=True)
    assert '<div class="prose" dir="rtl" lang="ar"><p>نحتاج إلى مكان' in page


def test_a_stored_language_gives_the_direction_the_text_would():
    """A message's body and quote take their direction from the language that came with
    them: lang_attrs on a page the server writes, setLang in the thread's script
    (static/js/message.js) from the payload. They had a fixed dir="auto", so an Arabic
    message that begins with a Latin word ("OK، ...") read left to right there, and right
    to left everywhere text_attrs decides."""
    from pathlib import Path

    from forum.text import LANGUAGES, RIGHT_TO_LEFT, language_attributes, text_attributes

    starts_latin = "OK، نحتاج إلى مكان للقاء الشباب في المساء."
    assert content_language(starts_latin) == "ar"
    assert language_attributes("ar") == text_attributes(starts_latin) == ' dir="rtl" lang="ar"'
    for lang in LANGUAGES:
        direction = "rtl" if lang in RIGHT_TO_LEFT else "auto"
        assert language_attributes(lang) == f' dir="{direction}" lang="{lang}"'
    assert language_attributes(None) == ' dir="auto"'
    assert language_attributes('x" onclick="') == ' dir="auto"'  # nothing of it on the page
    script = (Path(__file__).parents[1] / "static/js/message.js").read_text()
    [listed] = re.findall(r"const RIGHT_TO_LEFT = new Set\(\[([^\]]*)\]\)", script)
    assert set(re.findall(r'"([a-z]+)"', listed)) == set(RIGHT_TO_LEFT)
