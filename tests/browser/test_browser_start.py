"""The start page in real browsers: a member's own overview and the public page, axe in
Swedish and English at desktop and phone widths, no sideways scrolling at 320 px, and the
unread link landing on the first unread message. Takes the README's start-page pictures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from browsing import assert_accessible, login, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LOCALES = {"sv": "sv-SE", "en": "en-GB"}
WIDTHS = {"desktop": (1280, 800), "phone": (375, 740), "narrow": (320, 640)}


@pytest.fixture(scope="module")
def filled(world):
    """What Alice has not seen: new messages and a mention, open rounds her organisation is
    asked in, published feedback, an action her organisation owns and one she follows."""
    from sqlalchemy import select
    from support import app_settings

    from forum import create_app
    from forum.extensions import db
    from forum.models import Forum, Organisation, User
    from forum.services import consultations, follow_up, forums

    def local(delta: timedelta) -> str:
        return consultations.local_input(datetime.now(UTC) + delta)

    def a_round(official, title: str, days: int, audience: str, invited: list[int]):
        return consultations.create_round(
            official,
            consultations.RoundInput(
                title=title,
                problem="Hur når kulturen **alla** stadsdelar?",
                stage="problem",
                audience=audience,
                invited_ids=invited,
                commitment_ids=[3],
                opens_at=local(-timedelta(hours=2)),
                closes_at=local(timedelta(days=days)),
                questions=[("Vad saknas i dag?", "")],
            ),
        )

    app = create_app(app_settings(world.server.env["FORUM_DATABASE_URL"]))
    with app.app_context(), app.test_request_context():
        people = {u.email: u for u in db.session.scalars(select(User))}
        official, alice = people[world.official_email], people[world.alice_email]
        org = db.session.scalar(select(Organisation).where(Organisation.slug == world.org_slug))
        forums.send_message(
            official, world.thread_id, "Vi har hittat en lokal. @alice.andersson, passar den?", "s1"
        )
        forums.send_message(official, world.thread_id, "Den har kök och scen.", "s2")
        forum = db.session.scalar(select(Forum).where(Forum.slug == world.forum_slug))
        other = forums.start_thread(official, forum, "Sommarprogrammet", [3], "")
        forums.send_message(alice, other.id, "Vi vill vara med i sommar.", "s3")
        forums.send_message(official, other.id, "Välkomna, anmäl er senast i maj.", "s4")
        soon = a_round(official, "Kulturlokaler på kvällstid", 1, "invited", [org.id])
        later = a_round(official, "Bibliotekens öppettider", 9, "all_verified", [])
        done = a_round(official, "Stöd till nya föreningar", 2, "all_verified", [])
        for item in (soon, later, done):
            consultations.open_round(official, item.id)
        consultations.save_response(
            alice, done.id, org.id, {done.questions[0].id: "Enklare ansökan."}, submit=True
        )
        consultations.close_round(official, done.id)
        consultations.save_feedback(
            official,
            done.id,
            {
                done.questions[0].id: consultations.FeedbackInput(
                    heard="Ansökan är för krånglig.", action="Vi gör en kortare blankett."
                )
            },
            publish=True,
        )
        due = (follow_up.today() + timedelta(days=40)).isoformat()
        follow_up.propose_action(
            official,
            follow_up.ActionInput(
                title="Öppen scen en fredag i månaden",
                description="",
                owner=f"organisation:{org.id}",
                due_date=due,
                commitment_ids=[3],
            ),
        )
        city = follow_up.propose_action(
            official,
            follow_up.ActionInput(
                title="Gemensam lokalbokning för kulturföreningar",
                description="",
                owner=f"department:{official.department_id}",
                due_date=due,
                commitment_ids=[3],
            ),
        )
        follow_up.set_following(alice, city.id, True)
        follow_up.post_update(official, city.id, "Bokningssystemet är upphandlat.")
        db.session.remove()
        db.engine.dispose()
    return world


def no_sideways_scroll(page, label: str) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{label}: {scroll} > {width}"


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_start_pages_pass_axe_and_reflow_at_every_width(filled, browser, lang):
    world = filled
    for name, (width, height) in WIDTHS.items():
        phone = name != "desktop"
        visitor = browser.new_context(
            locale=LOCALES[lang],
            viewport={"width": width, "height": height},
            is_mobile=phone,
            has_touch=phone,
        )
        member = browser.new_context(
            locale=LOCALES[lang],
            viewport={"width": width, "height": height},
            is_mobile=phone,
            has_touch=phone,
        )
        try:
            page = visitor.new_page()
            page.goto(world.url + "/")
            expect(page.locator("#open-rounds")).to_contain_text("Bibliotekens öppettider")
            expect(page.locator("#latest-feedback a").first).to_have_attribute(
                "href", re.compile(r"^/consultations/\d+#feedback$")
            )
            no_sideways_scroll(page, f"/ ({lang}, visitor, {name})")
            if name != "narrow":
                assert_accessible(page, f"/ ({lang}, visitor, {name})")
            mine = member.new_page()
            login(mine, world, world.alice_email)
            mine.goto(world.url + "/")
            expect(mine.locator("#start-unread li")).to_have_count(2)
            expect(mine.locator("#start-rounds")).to_contain_text(
                "1 dag kvar" if lang == "sv" else "1 day left"
            )
            expect(mine.locator("#start-actions li")).to_have_count(2)
            expect(mine.locator("#start-notifications li.unread").first).to_be_visible()
            no_sideways_scroll(mine, f"/ ({lang}, member, {name})")
            if name != "narrow":
                assert_accessible(mine, f"/ ({lang}, member, {name})")
            if lang == "sv" and name == "desktop":
                screenshot(mine, "start")
            if lang == "sv" and name == "phone":
                screenshot(mine, "start-phone")
        finally:
            visitor.close()
            member.close()


def test_the_unread_link_opens_the_thread_at_the_first_unread_message(filled, new_page):
    page = new_page("sv")
    login(page, filled, filled.alice_email)
    page.goto(filled.url + "/")
    page.locator("#start-unread a", has_text="Lokaler för repetition").click()
    expect(page.locator("#first-unread")).to_be_visible()
    expect(page.locator("#first-unread + li")).to_contain_text("Vi har hittat en lokal")
    page.goto(filled.url + "/")
    expect(page.locator("#start-unread li")).to_have_count(1)
