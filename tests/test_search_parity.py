"""SQLite and PostgreSQL find the same things: the same corpus, indexed on each, the same
queries, the same hits.

Both databases index the terms forum/stemming.py makes and match its prefixes; before,
PostgreSQL stemmed with its own configuration and parser and they disagreed on stop words,
on words with å/ä/ö, on "mira.medlem" and on queries whose stem was a stop word. Each
database here is a fresh one (a temporary SQLite file and a scratch PostgreSQL database
on the test server, as tests/test_migrations.py makes them), built from the models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from support import app_settings
from test_migrations import postgres_url, sqlite_url  # noqa: F401 (fixtures)

from forum import create_app, stemming
from forum.extensions import db
from forum.models import Forum, Message, MessageState, Thread, User, Visibility
from forum.queries.search import SearchParams, search

CORPUS = [
    # Swedish forms
    "Samråd om bussarna",
    "Samrådet hölls i går",
    "Inför samråden i vår",
    "Ett område med parker",
    "Området kring torget",
    "Områdena norr om älven",
    "Nya områden byggs",
    "En förening för unga",
    "Föreningen har årsmöte",
    "Föreningarna söker lokaler",
    "Mötesplatserna behöver öppet på kvällen",
    "En mötesplats i Angered",
    "Kulturhuset öppnar",
    # stop words and the queries PostgreSQL answered differently
    "Det är bra att vi ses",
    "Förra året gick det bra",
    "Tack för i dag",
    "Till våren öppnar vi igen",
    "Säg till när ni kan",
    "Vi fikar efteråt",
    "Tack @mira.medlem för hjälpen",
    # what PostgreSQL's parser reads as hosts, addresses, versions, paths, numbers
    "Läs mer på www.goteborg.se/samrad eller https://example.se/a-b?c=d",
    "Mejla anna.berg@example.se om version 1.2.3",
    "Filen ligger i /var/lib/forum/export.csv",
    "Cirka 12,5 timmar och 1.5 liter, ½ kilo, 1e5 gånger",
    "Självservice, e-tjänst och co-op, 3D-skrivare, covid19",
    "snake_case_ord och ÖVERSÄTTNING av Ångström",
    "Straße, naïve café, İstanbul",
    "Αθήνα och Москва och 北京",
    "𝐏𝐚𝐫𝐤en är fin",
]

# Beside every word of the corpus (as written, folded and in capitals).
EXTRA_QUERIES = [
    "samråd",
    "samradet",
    "samraden",
    "omradena",
    "områdena",
    "foreningarna",
    "föreningen",
    "år",
    "före",
    "nå",
    "våren efteråt",
    "mira.medlem",
    "goteborg.se",
    "example",
    "1.2.3",
    "export.csv",
    "12,5",
    "e-tjänst",
    "park",
    "lokal förening",
    "och för att",
]


def queries() -> list[str]:
    words = sorted({w for text in CORPUS for w in stemming.WORD.findall(text)})
    out = []
    for word in words:
        out += [word.lower(), stemming.fold(word), word.upper()]
    return sorted(set(out)) + EXTRA_QUERIES


@contextmanager
def indexed(url: str) -> Iterator[Flask]:
    """An app on a fresh database holding the corpus, one message per text, in a public
    thread; the app context is pushed."""
    app = create_app(app_settings(url))
    with app.app_context():
        db.create_all()
        try:
            user = User(email="p@example.se", handle="paritet", display_name="P", password_hash="x")
            forum = Forum(slug="paritet", title="Paritet", visibility=Visibility.public)
            db.session.add_all([user, forum])
            db.session.flush()
            thread = Thread(forum_id=forum.id, author_id=user.id, title="Jämförelse")
            db.session.add(thread)
            db.session.flush()
            for n, body in enumerate(CORPUS):
                db.session.add(
                    Message(
                        thread_id=thread.id,
                        author_id=user.id,
                        body=body,
                        html=f"<p>{body}</p>".replace("&", "&amp;"),
                        client_id=f"p{n}",
                        state=MessageState.visible,
                    )
                )
            db.session.commit()
            yield app
        finally:
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def answers() -> dict[tuple[str, str], list[str]]:
    """(order, query) -> the texts found (the thread's title aside), sorted."""
    bodies = {row.id: row.body for row in db.session.execute(db.select(Message.id, Message.body))}
    out = {}
    for order in ("newest", "relevance"):
        for q in queries():
            hits = search(None, SearchParams(q=q, order=order, limit=100)).hits
            out[order, q] = sorted(bodies[h.object_id] for h in hits if h.kind == "message")
    return out


@pytest.mark.postgres
def test_sqlite_and_postgres_find_the_same_messages(sqlite_url, postgres_url):  # noqa: F811
    with indexed(sqlite_url) as app:
        with app.test_request_context():
            on_sqlite = answers()
    with indexed(postgres_url) as app:
        with app.test_request_context():
            on_postgres = answers()
    differ = {
        key: (on_sqlite[key], on_postgres[key])
        for key in on_sqlite
        if on_sqlite[key] != on_postgres[key]
    }
    assert differ == {}
    # and the corpus is found at all: the forms, the stop words, the dotted name
    assert on_sqlite["newest", "områdena"] == sorted(CORPUS[3:7])
    assert on_sqlite["newest", "samradet"] == sorted(CORPUS[0:3])
    assert "Förra året gick det bra" in on_sqlite["newest", "år"]
    assert "Det är bra att vi ses" not in on_sqlite["newest", "år"]  # "är" is a stop word
    assert on_sqlite["newest", "medlem"] == ["Tack @mira.medlem för hjälpen"]
    assert on_sqlite["newest", "och för att"] == []
