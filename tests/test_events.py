"""Events queued on the session go out after the outermost commit, and a rolled-back
savepoint takes only its own events with it."""

from __future__ import annotations

import pytest

from forum import events


@pytest.fixture
def sent(app, monkeypatch):
    out: list[tuple[str, str]] = []

    def emit(name, payload, to=None, **kwargs):  # noqa: ANN001, ANN202 — socketio.emit's shape
        out.append((name, to))

    monkeypatch.setattr(events.socketio, "emit", emit)
    return out


def queue(name: str) -> None:
    events.emit_after_commit(name, {"name": name}, f"room:{name}")


def test_a_rolled_back_savepoint_keeps_the_outer_transactions_events(db, sent):
    queue("before")
    try:
        with db.session.begin_nested():
            queue("inside")
            raise RuntimeError("the savepoint fails, the transaction goes on")
    except RuntimeError:
        pass
    queue("after")
    assert sent == []  # nothing before the commit
    db.session.commit()
    assert sent == [("before", "room:before"), ("after", "room:after")]


def test_a_released_savepoint_sends_its_events_with_the_outer_commit(db, sent):
    queue("before")
    with db.session.begin_nested():
        queue("inside")
    assert sent == []  # releasing a savepoint is not the commit
    db.session.commit()
    assert [name for name, _room in sent] == ["before", "inside"]


def test_rolling_back_a_savepoint_drops_the_savepoints_within_it(db, sent):
    queue("outer")
    middle = db.session.begin_nested()
    queue("middle")
    with db.session.begin_nested():
        queue("innermost")
    middle.rollback()
    db.session.commit()
    assert [name for name, _room in sent] == ["outer"]


def test_rolling_back_the_transaction_drops_every_event(db, sent):
    queue("outer")
    with db.session.begin_nested():
        queue("inside")
    db.session.rollback()
    db.session.commit()
    assert sent == []
    queue("next transaction")
    db.session.commit()
    assert [name for name, _room in sent] == ["next transaction"]
