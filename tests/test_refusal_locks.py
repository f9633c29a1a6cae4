"""A refused request lets go of its locks before it builds the page that says why.

Services lock the row a decision is about (a message, an organisation, a person) before they
check it; a refusal found under the lock used to stay in the session while the view rendered
the refusal page: on SQLite that held the database's one write lock (every write on the site
waited), on PostgreSQL the row (a reply to the message waited, and the thread's sends behind
it). Each test asks, from a connection of its own while the refusal page renders, whether
the row can be taken.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from flask import before_render_template
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from forum.services import moderation


def probe(db_url: str, table: str, row_id: int) -> Callable[[], str]:
    """Whether another transaction could write the row now: "free" or "locked"."""
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")

        def attempt() -> str:
            other = sqlite3.connect(path, timeout=0.2)
            try:
                other.execute("BEGIN IMMEDIATE")  # SQLite's write lock
                other.rollback()
                return "free"
            except sqlite3.OperationalError:
                return "locked"
            finally:
                other.close()

        return attempt
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def attempt_row() -> str:
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '200ms'"))
            try:
                other.execute(
                    text(f"SELECT id FROM {table} WHERE id = :id FOR NO KEY UPDATE"),  # noqa: S608
                    {"id": row_id},
                )
                return "free"
            except OperationalError:
                return "locked"
            finally:
                other.rollback()

    return attempt_row


def during_render(app, template: str, attempt: Callable[[], str]) -> list[str]:
    """What `attempt` says while `template` is being rendered (once)."""
    seen: list[str] = []

    def rendering(_sender, template: object, context: object, **_extra: object) -> None:
        if getattr(template, "name", None) == name and not seen:
            seen.append(attempt())

    name = template
    before_render_template.connect(rendering, app, weak=False)
    return seen


@pytest.fixture
def posted(make):
    author, moderator = make.user(name="Anna Author"), make.user(name="Mona Mod")
    thread = make.thread(forum=make.forum(moderators=[moderator]), author=author)
    return author, moderator, make.message(thread, author, "Ett inlägg")


def test_a_second_hide_answers_with_the_queue_and_leaves_the_message_free(
    app, client, auth, db_url, posted
):
    _author, moderator, message = posted
    moderation.hide_message(moderator, message.id, "other", "Först")
    seen = during_render(app, "moderation/queue.html", probe(db_url, "messages", message.id))
    auth.login(moderator)
    refused = client.post(
        f"/moderation/messages/{message.id}/hide", data={"reason": "other", "note": "Igen"}
    )
    assert refused.status_code == 409
    assert seen == ["free"]


def test_an_empty_edit_answers_with_the_form_and_leaves_the_message_free(
    app, client, auth, db_url, posted
):
    """Only spaces: the service refuses the text after it has locked the message."""
    author, _moderator, message = posted
    seen = during_render(app, "forums/edit_message.html", probe(db_url, "messages", message.id))
    auth.login(author)
    refused = client.post(f"/messages/{message.id}/edit", data={"body": "   "})
    assert refused.status_code == 400
    assert seen == ["free"]


def test_verifying_twice_answers_with_the_admin_page_and_leaves_the_organisation_free(
    app, client, auth, db_url, make
):
    admin = make.user("admin")
    organisation = make.organisation(admin=make.user(), verified=True)
    seen = during_render(app, "admin/index.html", probe(db_url, "organisations", organisation.id))
    auth.login(admin)
    refused = client.post(f"/admin/organisations/{organisation.id}/verify")
    assert refused.status_code == 409
    assert seen == ["free"]


def test_a_thread_form_refused_leaves_the_person_free(app, client, auth, db_url, make):
    """No commitment chosen: refused before the person's lock, and the page built after."""
    author, forum = make.user(), make.forum()
    seen = during_render(app, "forums/forum.html", probe(db_url, "users", author.id))
    auth.login(author)
    refused = client.post(f"/forums/{forum.slug}", data={"title": "Fråga", "body": "Hej"})
    assert refused.status_code == 400
    assert seen == ["free"]
