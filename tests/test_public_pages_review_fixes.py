"""What a review of the public pages found: the transparency page did not count a message
flags hid and a moderator showed again (flags dismissed, or the personal data redacted) as
restored; its Swedish heading for messages hidden by a moderator was in the singular, the
word shared with the mark on a hidden action (Dold); and a moderator's start page counted
their open actions without the hidden ones its link's list shows them."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta

from forum.models.base import utcnow
from forum.services import moderation


def text(response):
    return response.get_data(as_text=True)


def this_month() -> str:
    return utcnow().astimezone(zoneinfo.ZoneInfo("Europe/Stockholm")).strftime("%Y-%m")


def per_month_row(page, month):
    """The cells of the per-month table's row for `month`, by column heading."""
    table = page.split('id="per-month"', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r'<th scope="col">(.*?)</th>', table)
    row = re.search(r'<tr><th scope="row">' + month + r"</th>(.*?)</tr>", table).group(1)
    cells = re.findall(r"<td>(\d+)</td>", row)
    return dict(zip(heads[1:], map(int, cells), strict=True))


# --- transparency --------------------------------------------------------------------------


def _flag_until_hidden(app, make, message, n=3):
    for _ in range(n):
        with app.test_request_context():
            moderation.flag_message(make.user(), message.id, "offensive", "")


def test_transparency_counts_a_message_shown_again_after_flags_as_restored(app, make, client, db):
    """A message hidden by flags that a moderator finds fine is shown again: the page's
    'Restored' column must say so, or the month reads as if it were still hidden."""
    moderator = make.user("moderator")
    thread = make.thread()
    message = make.message(thread, make.user(), "Helt okej")
    _flag_until_hidden(app, make, message)
    db.session.refresh(message)
    assert message.state == "hidden"
    with app.test_request_context():
        moderation.dismiss_flags(moderator, message.id)
    db.session.refresh(message)
    assert message.state == "visible"  # shown again

    page = text(client.get("/moderation/transparency", headers={"Accept-Language": "en"}))
    row = per_month_row(page, this_month())
    assert row["Hidden after flags"] == 1
    assert row["Restored"] == 1, row


def test_transparency_column_headings_agree_in_swedish(make, client):
    """The per-month columns count messages: 'Dolda efter flaggningar', 'Återställda' …;
    the first column reads 'Dolt av en moderator' (singular neuter), the msgid shared with
    the mark on a hidden action (en åtgärd: 'Dold')."""
    page = text(client.get("/moderation/transparency", headers={"Accept-Language": "sv"}))
    moderator = make.user("moderator")
    thread = make.thread()
    message = make.message(thread, make.user(), "x")
    moderation.hide_message(moderator, message.id, "other", "skäl")
    page = text(client.get("/moderation/transparency", headers={"Accept-Language": "sv"}))
    heads = re.findall(
        r'<th scope="col">(.*?)</th>', page.split('id="per-month"', 1)[1].split("</thead>")[0]
    )
    assert "Dolt av en moderator" not in heads, heads


def test_transparency_counts_a_flag_hidden_message_shown_again_by_redaction_as_restored(
    app, make, client, db
):
    """Redacting a message that flags hid shows it again (services/moderation.py
    redact_message): it is not counted as restored either."""
    moderator = make.user("moderator")
    thread = make.thread()
    message = make.message(thread, make.user(), "Ring 070-1234567")
    _flag_until_hidden(app, make, message)
    with app.test_request_context():
        moderation.redact_message(moderator, message.id, "Ring [borttaget]", "")
    db.session.refresh(message)
    assert message.state == "visible"
    page = text(client.get("/moderation/transparency", headers={"Accept-Language": "en"}))
    row = per_month_row(page, this_month())
    assert row["Hidden after flags"] == 1 and row["Personal data redacted"] == 1
    assert row["Restored"] == 1, row


def test_start_page_count_of_more_actions_agrees_with_the_list_it_links_to(
    app, make, client, auth, db
):
    """A site moderator following 9 open actions, one of them hidden: the start page lists 8
    and says nothing more; the list it links to ('mine', 'open') has 9."""
    from forum.services import follow_up

    official = make.user("official")
    moderator = make.user("moderator")
    ids = []
    with app.test_request_context():
        for i in range(9):
            a = follow_up.propose_action(
                official,
                follow_up.ActionInput(
                    title=f"Åtgärd nr {i}",
                    owner=f"department:{official.department_id}",
                    due_date=(follow_up.today() + timedelta(days=30 + i)).isoformat(),
                    commitment_ids=make.commitment_ids(1),
                ),
            )
            follow_up.set_following(moderator, a.id, True)
            ids.append(a.id)
        follow_up.hide_action(make.user("moderator"), ids[0], "skäl")
    auth.login(moderator)
    start = text(client.get("/", headers={"Accept-Language": "en"}))
    shown = start.count("Åtgärd nr ")
    more = re.search(r"(\d+) more actions? you own or follow", start)
    on_start = shown + (int(more.group(1)) if more else 0)
    listing = text(client.get("/actions?mine=1&status=open", headers={"Accept-Language": "en"}))
    in_list = listing.count("Åtgärd nr ")
    assert on_start == in_list, (shown, more and more.group(0), in_list)
