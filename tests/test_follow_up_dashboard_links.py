"""A dashboard row's link to the action list lists exactly the actions its figures count:
accepted ones proposed in the row's year (with its department and commitment), not the
proposals still waiting, the declined ones or another year's; and the list's new year and
status filters take any value without a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from support import propose_from_message

from forum.config import parse_rate_limit
from forum.models import Department
from forum.services import follow_up as service


def row_link(page: str, slug: str) -> tuple[str, int]:
    """A figures row's link to the list, and the sum of its status figures."""
    row = page.split(f'id="row-{slug}"', 1)[1].split("</tr>", 1)[0]
    href = re.search(r'href="([^"]+)"', row)[1].replace("&amp;", "&")
    counted = sum(int(n) for n in re.findall(r'data-status="(?!overdue)[a-z_]+">(\d+)<', row))
    return href, counted


def listed(page: str) -> set[int]:
    if '<ul class="action-list">' not in page:
        return set()
    items = page.split('<ul class="action-list">', 1)[1].split("</ul>", 1)[0]
    return {int(i) for i in re.findall(r'href="/actions/(\d+)"', items)}


@pytest.mark.config(FORUM_ACTION_RATE_LIMIT=parse_rate_limit("off"))
def test_a_rows_link_lists_exactly_the_actions_its_figures_count(app, make, db, client, auth):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    official, member = make.user("official"), make.user()
    thread = make.thread(forum=make.forum(owner=official), author=official)
    message = make.message(thread, member, "Förslag")
    commitment = thread.commitments[0]
    social = db.session.scalar(select(Department).where(Department.name == "Social resursnämnd"))
    this_year = service.today().year

    counted = propose_from_message(
        app, official, social, message, "Godkänd i år"
    )  # accepted at once
    waiting = propose_from_message(app, member, social, message, "Väntar på ägaren")
    declined = propose_from_message(app, member, social, message, "Avböjd")
    earlier = propose_from_message(app, official, social, message, "Godkänd i fjol")
    with app.test_request_context():
        service.decline_action(official, declined.id, "Inte vår sak.")
    earlier = db.session.merge(earlier)
    earlier.created_at = datetime(this_year - 1, 6, 1, 12, tzinfo=UTC)
    db.session.commit()
    assert counted.accepted and not waiting.accepted

    for year, expected in ((this_year, {counted.id}), (this_year - 1, {earlier.id})):
        board = client.get(f"/uppfoljning?year={year}&department={social.id}")
        href, figures = row_link(board.get_data(as_text=True), commitment.slug)
        page = client.get(href)
        assert page.status_code == 200, href
        text = page.get_data(as_text=True)
        assert listed(text) == expected, (href, year)
        assert figures == len(expected), (href, year)
        # the list says which filters it shows, with a way back to every action
        assert "Filters in use:" in text and f"Year proposed: {year}" in text
        assert 'href="/actions">Show all actions</a>' in text

    # a moderator's list, which shows hidden actions marked, leaves one out of the row's too
    hidden = propose_from_message(app, official, social, message, "Dold av en moderator")
    moderator = make.user("moderator")
    with app.test_request_context():
        service.hide_action(moderator, hidden.id, "Personuppgifter.")
    auth.login(moderator)
    board = client.get(f"/uppfoljning?department={social.id}").get_data(as_text=True)
    href, figures = row_link(board, commitment.slug)
    assert listed(client.get(href).get_data(as_text=True)) == {counted.id} and figures == 1
    assert hidden.id in listed(client.get("/actions").get_data(as_text=True))
    auth.logout()

    everything = listed(client.get("/actions").get_data(as_text=True))
    assert {counted.id, waiting.id, declined.id, earlier.id} <= everything
    assert "Filters in use:" not in client.get("/actions").get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "year=abc",
        "year=1999",
        "year=99999",
        "year=-2026",
        "year=%D9%A2%D9%A0%D9%A2%D9%A6",  # Arabic-Indic digits
        "year=" + "9" * 5000,
        "year=2026.5",
        "status=bogus&year=abc",
    ],
)
def test_bad_list_filters_give_the_page(app, client, query):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.get(f"/actions?{query}")
    assert response.status_code == 200, query
    text = response.get_data(as_text=True)
    assert "There are no figures for that year" in text
    # the error is the year box's: in it, and said with it
    assert 'aria-describedby="filter-year-error"' in text and 'id="filter-year-error"' in text
