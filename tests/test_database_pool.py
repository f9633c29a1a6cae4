"""Every database connection of a process in use (slow queries, a database that stopped
answering while its machine still does): a request waited the pool's timeout and then got
a 500 "something went wrong", logged as an error with a traceback. It is the database being
busy, not a bug: the page, the API and the socket answer 503 / `unavailable` "busy, try
again", with Retry-After, and the log says what ran out."""

from __future__ import annotations

import logging

import pytest
from support import app_settings

from forum import create_app
from forum.extensions import db, socketio


@pytest.fixture
def crowded(db_url):
    """An app whose pool has one connection, held by someone else; a request waits 0.2 s."""
    base = app_settings(db_url)
    options = {
        **base["SQLALCHEMY_ENGINE_OPTIONS"],
        "pool_size": 1,
        "max_overflow": 0,
        "pool_timeout": 0.2,
    }
    app = create_app(app_settings(db_url, SQLALCHEMY_ENGINE_OPTIONS=options))
    with app.app_context():
        holder = db.engine.connect()
        try:
            yield app
        finally:
            holder.close()
            db.session.remove()
            db.engine.dispose()


def test_a_page_waiting_for_a_connection_is_503_busy(crowded, caplog):
    client = crowded.test_client()
    with caplog.at_level(logging.WARNING):
        page = client.get("/forums", headers={"Accept-Language": "en"})
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "10"
    assert "The site is busy right now" in page.get_data(as_text=True)
    assert "every database connection is in use" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_api_waiting_for_a_connection_is_503_busy_in_json(crowded):
    answer = crowded.test_client().get("/api/v1/forums", headers={"Accept-Language": "en"})
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "unavailable"
    assert "busy" in answer.get_json()["error"]["message"]


def test_a_socket_event_waiting_for_a_connection_is_answered_unavailable(crowded):
    sock = socketio.test_client(crowded, flask_test_client=crowded.test_client())
    try:
        ack = sock.emit("join", {"thread_id": 1}, callback=True)
    finally:
        if sock.is_connected():
            sock.disconnect()
    assert ack["ok"] is False
    assert ack["error"]["code"] == "unavailable"
