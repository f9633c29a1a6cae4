"""Personal access tokens asked for at the same moment (two tabs of the settings page, a
form sent twice): the cap on active tokens holds.

Each request waits at a barrier (bounded by a timeout) so they really overlap. SQLite has
one writer at a time and no row locks, so this runs on PostgreSQL only (set
FORUM_TEST_DATABASE_URL), as the other race tests do.
"""

from __future__ import annotations

import pytest
from support import steps_at_once, stored_count

from forum.errors import Invalid
from forum.models import ApiToken
from forum.services import api_tokens

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("row_locks")]


def test_tokens_made_at_once_stay_within_the_cap(app, make):
    """With one place left, each request counted the active tokens (19), found room and
    made one: four at once made 23. Now the person's lock makes them count one after the
    other: one is made and the others hear that a token must be revoked first."""
    user = make.user()
    for n in range(api_tokens.MAX_ACTIVE - 1):
        with app.test_request_context():
            api_tokens.create_token(user, f"token {n}", ["read"])
    steps = [
        lambda person, n=n: api_tokens.create_token(person, f"at once {n}", ["read"])
        for n in range(4)
    ]
    # the others come while the first has counted (its SELECT of the active tokens' ids)
    # and not yet committed its insert
    outcomes = steps_at_once(
        app, steps, people=[user.id] * len(steps), pause_after=r"SELECT api_tokens\.id"
    )
    assert outcomes.count("ok") == 1, outcomes
    assert [type(o) for o in outcomes if o != "ok"] == [Invalid] * (len(steps) - 1), outcomes
    active = stored_count(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    assert active == api_tokens.MAX_ACTIVE
