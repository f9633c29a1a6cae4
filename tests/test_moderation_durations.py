"""How long a mute or a suspension lasts, as the moderator chose it on Stockholm's clock:
a week given at 14:00 ends at 14:00 a week later, also across a change to or from summer
time; an hour is sixty minutes whatever the clock does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from forum.services import moderation

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DAY = 24 * 60


def _local(*when: int) -> datetime:
    return datetime(*when, tzinfo=STOCKHOLM)


def _at(monkeypatch, local: datetime) -> None:
    now = local.astimezone(UTC)
    monkeypatch.setattr(moderation, "utcnow", lambda: now)


@pytest.mark.parametrize(
    "given, minutes, ends",
    [
        # a week across the change to summer time (29 March 2026) and back (25 October)
        (_local(2026, 3, 25, 14, 0), 7 * DAY, _local(2026, 4, 1, 14, 0)),
        (_local(2026, 10, 21, 14, 0), 7 * DAY, _local(2026, 10, 28, 14, 0)),
        (_local(2026, 3, 28, 9, 30), DAY, _local(2026, 3, 29, 9, 30)),
        (_local(2026, 10, 10, 8, 0), 30 * DAY, _local(2026, 11, 9, 8, 0)),
        (_local(2026, 3, 1, 12, 0), 365 * DAY, _local(2027, 3, 1, 12, 0)),
    ],
)
def test_whole_days_end_at_the_same_time_of_day_in_stockholm(
    app, make, monkeypatch, given, minutes, ends
):
    moderator = make.user(name="Fia Forummoderator")
    forum = make.forum(moderators=[moderator])
    person = make.user(name="Arne Author")
    _at(monkeypatch, given)
    with app.test_request_context():
        action = moderation.mute_person(moderator, person.id, forum.id, minutes, "Tonen")
    assert action.until.astimezone(STOCKHOLM) == ends
    assert action.until.astimezone(STOCKHOLM).hour == given.hour
    # what is enforced is what was recorded
    assert moderation.active_mute(person.id, forum.id).until == action.until


def test_a_suspension_of_a_week_ends_at_the_same_time_of_day(app, make, monkeypatch):
    admin = make.user("admin")
    person = make.user(name="Arne Author")
    given = _local(2026, 10, 21, 14, 0)
    _at(monkeypatch, given)
    with app.test_request_context():
        action = moderation.suspend_person(admin, person.id, 7 * DAY, "Hot")
    until = _local(2026, 10, 28, 14, 0)
    assert action.until == until
    assert person.suspended_until == until
    # by the clock of UTC one hour more than 7 × 24 h: the hour the clocks went back
    assert action.until - given.astimezone(UTC) == timedelta(days=7, hours=1)


def test_hours_and_minutes_are_counted_as_they_pass(app, make, monkeypatch):
    """An hour's mute given at 02:30 the night the clocks go back ends 60 minutes later,
    not at the clock's next 03:30."""
    moderator = make.user(name="Fia Forummoderator")
    forum = make.forum(moderators=[moderator])
    person = make.user(name="Arne Author")
    now = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time, before the change
    monkeypatch.setattr(moderation, "utcnow", lambda: now)
    with app.test_request_context():
        action = moderation.mute_person(moderator, person.id, forum.id, 60, "Tonen")
    assert action.until == now + timedelta(hours=1)
