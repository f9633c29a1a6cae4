"""Ids sent by forms and query strings: only plain ASCII digits within the id columns' range
name a row. "²" and "١٢" are digits to `str.isdigit()` but not to `int()` (or are read as
another number), and used to end some requests in a 500."""

from __future__ import annotations

import pytest

from forum.config import ConfigError, load_config
from forum.ids import MAX_ID, whole_id

NOT_IDS = ["²", "١٢", "12²", "+1", " 1", "-1", "0", "1.0", "", str(MAX_ID + 1), "9" * 40]


@pytest.mark.parametrize("raw", NOT_IDS)
def test_only_plain_digits_in_range_are_an_id(raw):
    assert whole_id(raw) is None


def test_plain_digits_are_the_id():
    assert whole_id("1") == 1
    assert whole_id("0042") == 42
    assert whole_id(str(MAX_ID)) == MAX_ID
    assert whole_id(None) is None


@pytest.mark.parametrize("raw", ["²", "١٢"])
def test_odd_digits_in_forms_and_query_strings_are_refused_not_a_500(app, make, client, auth, raw):
    thread = make.thread()
    member = make.user()
    auth.login(member)
    # a notification id: 400, as for any other id that is not one
    assert client.post("/notifications/read", data={"id": raw}).status_code == 400
    # a reply to an id that is no id is an ordinary message
    response = client.post(
        f"/threads/{thread.id}/messages",
        data={"body": "Hej", "reply_to": raw, "client_id": f"odd-{raw}"},
    )
    assert response.status_code in (302, 303)
    # a search filter that is no id filters nothing
    assert client.get(f"/search?q=hej&forum={raw}&department={raw}").status_code == 200
    # follow-up: an owner that is no id is the field's error
    auth.login(make.user("official"))
    response = client.post(
        "/actions/new",
        data={"title": "Kvällsöppet", "owner": f"department:{raw}", "due_date": "2027-01-01"},
    )
    assert response.status_code == 400
    assert 'id="owner-error"' in response.get_data(as_text=True)

    auth.login(make.user("admin"))
    response = client.post("/admin/archive", data={"kind": "thread", "object_id": raw})
    assert response.status_code == 400
    person = make.user()
    response = client.post(
        f"/admin/users/{person.id}/roles/grant", data={"role": "official", "department_id": raw}
    )
    assert response.status_code == 400


def test_a_count_in_the_environment_is_plain_digits(tmp_path):
    with pytest.raises(ConfigError, match="whole number"):
        load_config(tmp_path, {"FORUM_PROXY_COUNT": "²"})


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/organisations/%00", 404),
        ("post", "/organisations/a%00b/join", 404),
        ("get", "/forums/%00", 404),
        ("get", "/people/%00", 404),
        ("get", "/api/v1/forums/a%00", 404),
        ("get", "/admin?q=%00", 400),
        ("get", "/search?q=a%00b", 400),
        ("get", "/api/v1/forums?after=%00", 400),
        # every value of a repeated name, and the names: only each name's first value was
        # checked, so a NUL after it (or in a name) went on to the view
        ("get", "/search?q=ok&q=a%00b", 400),
        ("get", "/admin?q=ok&%00=1", 400),
        ("get", "/api/v1/forums?limit=5&limit=%00", 400),
    ],
)
def test_a_nul_in_a_path_or_query_never_reaches_the_database(
    make, client, auth, method, path, status
):
    """PostgreSQL can neither hold nor compare a NUL: such a lookup was a 500 there."""
    make.organisation(admin=make.user())
    auth.login(make.user("admin"))
    assert getattr(client, method)(path).status_code == status
