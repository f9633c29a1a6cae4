"""A page that was offline catches up completely: every missed message, however many, and
the current state of those it already showed (edited, hidden)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from browsing import assert_accessible, login
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
# This module's server answers a catch-up join with at most this many messages, so "more
# than one answer's worth" is 110 messages to write and show, not 1,010 (the default).
CATCH_UP_LIMIT = 100
SERVER_ENV = {"FORUM_CATCH_UP_LIMIT": str(CATCH_UP_LIMIT)}


def _write_while_away(world, work) -> None:
    """Run `work(users_by_email)` against the world's database, as another process would."""
    from sqlalchemy import select
    from support import app_settings

    from forum import create_app
    from forum.config import parse_rate_limit
    from forum.extensions import db
    from forum.models import User

    app = create_app(
        app_settings(
            world.server.env["FORUM_DATABASE_URL"],
            FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"),
        )
    )
    with app.app_context(), app.test_request_context():
        users = {u.email: u for u in db.session.scalars(select(User))}
        work(users)
        db.session.remove()
        db.engine.dispose()


def test_a_long_absence_comes_back_whole_and_current(world, new_page):
    from forum.services import forums, moderation

    bob = new_page("sv")
    login(bob, world, world.bob_email)
    bob.goto(f"{world.url}/threads/{world.thread_id}")
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    seeded = bob.locator(f"#m{world.message_id}")
    expect(seeded).to_contain_text("kvällstider")
    bob.context.set_offline(True)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "reconnecting")

    written: list[int] = []

    def away(users):
        alice = users[world.alice_email]
        forums.edit_message(alice, world.message_id, "Ändrat medan Bob var borta")
        for i in range(CATCH_UP_LIMIT + 10):
            message, _ = forums.send_message(alice, world.thread_id, f"Missat {i}", f"gap-{i}")
            written.append(message.id)
        moderation.hide_message(
            users[world.moderator_email], written[0], moderation.OTHER, "Inte här"
        )

    _write_while_away(world, away)
    bob.context.set_offline(False)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    # more than one join's worth: the page joins again while the ack says has_more
    expect(bob.locator(f"#m{written[-1]}")).to_be_visible(timeout=30_000)
    shown = set(
        bob.locator("li.message[data-id]").evaluate_all("els => els.map(e => Number(e.dataset.id))")
    )
    assert not [i for i in written if i not in shown]
    expect(seeded).to_contain_text("Ändrat medan Bob var borta")
    hidden = bob.locator(f"#m{written[0]}")
    expect(hidden).to_have_attribute("data-state", "hidden")
    expect(hidden).not_to_contain_text("Missat 0")


def _open_round(world) -> dict[str, int]:
    """An open consultation round (with its discussion thread): {"round": id, "thread": id}."""
    from datetime import UTC, datetime, timedelta

    from forum.extensions import db
    from forum.models import ConsultationRound
    from forum.services import consultations as service

    made: dict[str, int] = {}

    def open_round(users):
        official = users[world.official_email]
        now = datetime.now(UTC)
        created = service.create_round(
            official,
            service.RoundInput(
                title="Mötesplatser",
                problem="Hur?",
                background="Bakgrund",
                stage="problem",
                decision_date=(now + timedelta(days=90)).date().isoformat(),
                audience="all_verified",
                commitment_ids=[1, 2],
                opens_at=service.local_input(now - timedelta(hours=1)),
                closes_at=service.local_input(now + timedelta(days=10)),
                questions=[("Vad saknas?", "")],
            ),
        )
        service.open_round(official, created.id)
        made["round"] = created.id
        made["thread"] = db.session.get(ConsultationRound, created.id).thread_id

    _write_while_away(world, open_round)
    return made


def _round_page(world, new_page, made):
    """Bob's round page, its socket in the round's thread; returns (page, the list)."""
    bob = new_page("sv")
    login(bob, world, world.bob_email)
    bob.goto(f"{world.url}/consultations/{made['round']}")
    expect(bob.locator("#consultation")).to_have_attribute("data-live", "joined")
    return bob, bob.locator("#recent-messages")


def _go_offline(page) -> None:
    page.context.set_offline(True)
    expect(page.locator("#consultation")).to_have_attribute("data-live", "offline")


@pytest.fixture
def alice_socket(world):
    from test_delivery import Client

    alice = Client(world.server, SimpleNamespace(email=world.alice_email))
    yield alice
    alice.close()


def _send(client, thread_id: int, body: str) -> int:
    client_id = uuid.uuid4().hex  # the world (and its client ids) outlive each test
    sent = client.call(
        "message:send", {"thread_id": thread_id, "body": body, "client_id": client_id}
    )
    assert sent["ok"], sent
    return sent["message"]["id"]


def test_the_round_page_shows_what_was_written_while_it_was_offline(world, new_page, alice_socket):
    made = _open_round(world)
    bob, recent = _round_page(world, new_page, made)
    _send(alice_socket, made["thread"], "Första live")
    expect(recent).to_contain_text("Första live")
    _go_offline(bob)
    _send(alice_socket, made["thread"], "Skrivet medan Bob var offline")
    bob.context.set_offline(False)
    expect(recent).to_contain_text("Skrivet medan Bob var offline", timeout=20_000)
    expect(recent.locator("li.message")).to_have_count(2)


def test_the_round_page_shows_edits_and_deletions_made_while_it_was_offline(
    world, new_page, alice_socket
):
    """Its catch-up used to bring only new messages: one deleted (or edited) meanwhile
    kept its old text in the list."""
    from forum.services import forums

    made = _open_round(world)
    bob, recent = _round_page(world, new_page, made)
    deleted = _send(alice_socket, made["thread"], "Mitt telefonnummer 0701234567")
    edited = _send(alice_socket, made["thread"], "Andra meddelandet")
    expect(recent).to_contain_text("0701234567")
    _go_offline(bob)

    def away(users):
        alice = users[world.alice_email]
        forums.delete_message(alice, deleted)
        forums.edit_message(alice, edited, "Andra meddelandet rättat")

    _write_while_away(world, away)
    _send(alice_socket, made["thread"], "Skrivet medan Bob var offline")
    bob.context.set_offline(False)
    expect(recent).to_contain_text("Skrivet medan Bob var offline", timeout=20_000)
    expect(recent).to_contain_text("Andra meddelandet rättat")
    expect(recent).not_to_contain_text("0701234567")
    expect(recent.locator(f"#m{deleted}")).to_have_attribute("data-state", "deleted")


def test_the_round_page_shows_the_newest_after_a_long_absence(world, new_page):
    """More than one catch-up page missed: it used to show the first page's last five."""
    from forum.services import forums

    made = _open_round(world)
    _write_while_away(
        world,
        lambda users: forums.send_message(users[world.alice_email], made["thread"], "Första", "f"),
    )
    bob, recent = _round_page(world, new_page, made)
    expect(recent).to_contain_text("Första")
    _go_offline(bob)

    def away(users):
        for i in range(CATCH_UP_LIMIT + 10):
            forums.send_message(users[world.alice_email], made["thread"], f"Missat {i}.", f"g{i}")

    _write_while_away(world, away)
    bob.context.set_offline(False)
    expect(recent).to_contain_text(f"Missat {CATCH_UP_LIMIT + 9}.", timeout=20_000)
    expect(recent.locator("li.message")).to_have_count(5)
    expect(recent).not_to_contain_text("Första")


# --- what a reconnect brings is told, and the connection's loss and return -----------

# Every line the page ever puts in a live region, with the page's time (before its scripts).
SAID = """
window.__said = [];
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) {
    const region = n.parentElement && n.parentElement.closest("[aria-live]");
    if (region && region.id === "announcer") window.__said.push([Date.now(), n.textContent]);
  }
}).observe(document, { childList: true, subtree: true });
"""


def said(page, since: float = 0) -> list[str]:
    return page.evaluate("(t) => window.__said.filter((s) => s[0] >= t).map((s) => s[1])", since)


def _thread_with(world, title: str, n: int) -> int:
    """A new thread in the world's forum with `n` messages of Alice's; returns its id."""
    from sqlalchemy import select

    from forum.extensions import db
    from forum.models import Forum
    from forum.services import forums

    made: dict[str, int] = {}

    def start(users):
        forum = db.session.scalar(select(Forum).where(Forum.slug == world.forum_slug))
        thread = forums.start_thread(users[world.official_email], forum, title, [3], "Början")
        for i in range(n):
            text = f"Rad {i} " + "ord " * 20
            forums.send_message(users[world.alice_email], thread.id, text, f"{title}-{i}")
        made["thread"] = thread.id

    _write_while_away(world, start)
    return made["thread"]


def _write(world, thread_id: int, texts: list[str]) -> list[int]:
    """Alice's messages, written while the page is away (no broadcast reaches it)."""
    from forum.services import forums

    ids: list[int] = []

    def away(users):
        for text in texts:
            message, _ = forums.send_message(
                users[world.alice_email], thread_id, text, uuid.uuid4().hex
            )
            ids.append(message.id)

    _write_while_away(world, away)
    return ids


def _bob_listening(world, new_page, lang: str, thread_id: int, clock: bool = False):
    """Bob logged in, on the thread's page, live, what the page says recorded (SAID); with
    `clock`, the page's timers on Playwright's clock."""
    bob = new_page(lang)
    bob.add_init_script(SAID)
    if clock:
        bob.clock.install()
    login(bob, world, world.bob_email)
    bob.goto(f"{world.url}/threads/{thread_id}")
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    return bob


def away_while_reading_above(world, page, thread_id: int, texts: list[str]) -> list[int]:
    """The reader scrolls to the top of the feed and loses the connection; Alice writes
    `texts` meanwhile; the page is back online and connected. Returns their ids."""
    page.locator("#feed").evaluate("(f) => { f.scrollTop = 0; }")
    page.context.set_offline(True)
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    ids = _write(world, thread_id, texts)
    page.context.set_offline(False)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    return ids


def test_what_a_reconnect_brings_is_read_out_and_waits_for_a_reader_above(world, new_page):
    """The messages a rejoin caught up came in silently: not read out, and for a reader
    scrolled up, below them with nothing saying so."""
    thread_id = _thread_with(world, "Ikapp", 30)
    bob = _bob_listening(world, new_page, "sv", thread_id)
    feed = bob.locator("#feed")
    first, _, last = away_while_reading_above(world, bob, thread_id, ["Ett", "Två", "Tre"])

    # One line for the three, and they wait behind "Show 3 new" instead of coming unseen
    show_new = bob.locator("#show-new")
    expect(show_new).to_have_text("Visa 3 nya meddelanden")
    expect(bob.locator("#announcer")).to_contain_text(
        "3 nya meddelanden; det senaste från Alice Andersson: Tre"
    )
    expect(bob.locator(f"#m{first}")).to_have_count(0)
    assert feed.evaluate("(f) => f.scrollTop") == 0  # nothing moved under the reader
    assert_accessible(bob, "thread with caught-up messages waiting (sv)")
    show_new.click()
    expect(bob.locator(f"#m{first}")).to_be_focused()
    expect(bob.locator(f"#m{last}")).to_be_visible()
    expect(show_new).to_be_hidden()

    # At the bottom they come straight in, read out as a live one is
    bob.context.set_offline(True)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    (alone,) = _write(world, thread_id, ["Fyra"])
    bob.context.set_offline(False)
    expect(bob.locator(f"#m{alone}")).to_be_visible()
    expect(bob.locator("#announcer")).to_contain_text("Nytt meddelande från Alice Andersson: Fyra")
    expect(show_new).to_be_hidden()
    lines = said(bob)
    assert sum("Fyra" in line for line in lines) == 1, lines


def test_what_came_while_the_tab_was_hidden_is_one_line_on_coming_back(
    world, new_page, alice_socket
):
    """Read out while the tab was hidden, new messages reached no one."""
    thread_id = _thread_with(world, "Dold flik", 0)
    bob = _bob_listening(world, new_page, "en", thread_id)
    visibility = """(hidden) => {
      Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
      Object.defineProperty(document, "visibilityState", {
        value: hidden ? "hidden" : "visible", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    }"""
    bob.evaluate(visibility, True)
    first = _send(alice_socket, thread_id, "Medan fliken var dold")
    last = _send(alice_socket, thread_id, "Och en till")
    expect(bob.locator(f"#m{first}")).to_be_attached()
    expect(bob.locator(f"#m{last}")).to_be_attached()
    bob.wait_for_timeout(1500)  # past the announcer's second of quiet
    assert said(bob) == []
    back = bob.evaluate("Date.now()")
    bob.evaluate(visibility, False)
    expect(bob.locator("#announcer p")).to_have_text(
        "2 new messages; the latest from Alice Andersson: Och en till"
    )
    assert said(bob, back) == ["2 new messages; the latest from Alice Andersson: Och en till"]


def test_a_lost_connection_is_read_out_and_so_is_its_return_but_not_a_blip(world, new_page):
    """The connection state only changed its text: a screen reader heard nothing of it."""
    # the 4 seconds before a loss is said pass at the test's word
    bob = _bob_listening(world, new_page, "sv", world.thread_id, clock=True)
    lost, back = "Anslutningen bröts, ansluter igen …", "Anslutningen är tillbaka."

    # A blip: closed and back at once (the browser says it is online again) is not said
    start = bob.evaluate("Date.now()")
    bob.evaluate(
        """() => import("/static/js/live.js").then(({ socket }) => {
          socket.io.engine.close();
          window.dispatchEvent(new Event("online"));
        })"""
    )
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    bob.clock.fast_forward(10_000)
    bob.clock.fast_forward(2_000)  # and the announcer's second
    assert said(bob, start) == []

    # Down for longer: said after a while, and its return too
    bob.context.set_offline(True)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    assert said(bob, start) == []
    bob.clock.fast_forward(5_000)
    expect(bob.locator("#announcer")).to_contain_text(lost)
    bob.context.set_offline(False)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(bob.locator("#announcer")).to_contain_text(back)
    assert said(bob, start) == [lost, back]


def test_the_network_back_connects_at_once(world, new_page):
    """socket.io waits out its backoff (up to 5 s) before it tries again; the browser's
    `online` is the moment to try."""
    bob = new_page("sv")
    bob.clock.install()
    login(bob, world, world.bob_email)
    bob.goto(f"{world.url}/threads/{world.thread_id}")
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected")
    bob.context.set_offline(True)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    # time stands still in the page: socket.io's next try never comes by itself
    bob.clock.pause_at(bob.evaluate("Date.now()") + 1000)
    bob.context.set_offline(False)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "connected", timeout=10_000)
    bob.clock.resume()
