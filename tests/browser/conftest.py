"""Browser tests: Debian's Chromium driven by Playwright, axe-core for WCAG 2.1 A/AA.

A module-scoped real server runs on its own SQLite database, filled through
the services. Chromium missing (or Playwright unable to start it) skips the
tests outside CI and fails them under CI.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from browsing import TIMEOUT_MS
from serverproc import ServerProcess
from support import PASSWORD, app_settings, create_schema, service_missing

CHROMIUM = os.environ.get("FORUM_CHROMIUM", "/usr/bin/chromium")
LOCALES = {"sv": "sv-SE", "en": "en-GB"}
PHONE = {"width": 375, "height": 740}

pytestmark = pytest.mark.browser


@dataclass
class World:
    """The people and places the browser tests use."""

    server: ServerProcess
    admin_email: str
    official_email: str
    alice_email: str
    bob_email: str
    org_slug: str
    forum_slug: str
    thread_id: int
    message_id: int
    moderator_email: str = ""
    member_emails: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        service_missing(f"Chromium at {CHROMIUM}")
    from playwright.sync_api import Error, expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # expect()'s own default is 5 seconds

    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
        except Error as exc:
            service_missing(f"Chromium via Playwright ({exc})")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, request):
    """The module's server; settings of its own from the module's SERVER_ENV, if any."""
    path = tmp_path_factory.mktemp("browser") / "browser.sqlite3"
    url = f"sqlite:///{path}"
    from forum import create_app
    from forum.extensions import db
    from forum.models import (
        MemberRole,
        Membership,
        MembershipStatus,
        Organisation,
        OrganisationForm,
        OrganisationStatus,
    )
    from forum.services import accounts, agreement, forums

    app = create_app(app_settings(url))
    with app.app_context(), app.test_request_context():
        create_schema()
        agreement.seed_agreement()
        admin = accounts.create_user_with_role(
            "admin@browser.se", "Astrid Admin", PASSWORD, "admin"
        )
        official = accounts.create_user_with_role(
            "official@browser.se", "Otto Official", PASSWORD, "official", "Kulturnämnden"
        )
        alice = accounts.create_user_with_role(
            "alice@browser.se", "Alice Andersson", PASSWORD, "member"
        )
        bob = accounts.create_user_with_role("bob@browser.se", "Bob Berg", PASSWORD, "member")
        org = Organisation(
            slug="kulturforeningen",
            name="Kulturföreningen",
            form=OrganisationForm.forening,
            org_number="556677-8899",
            status=OrganisationStatus.verified,
            description="Kultur för alla.",
        )
        db.session.add(org)
        db.session.flush()
        db.session.add(
            Membership(
                organisation_id=org.id,
                user_id=alice.id,
                role=MemberRole.admin,
                status=MembershipStatus.approved,
            )
        )
        db.session.commit()
        forum = forums.create_forum(
            official, "Kultur i stadsdelarna", "Hur når kulturen **alla**?", "public", [3, 5]
        )
        thread = forums.start_thread(
            official, forum, "Lokaler för repetition", [3], "Vilka lokaler behövs?"
        )
        message, _ = forums.send_message(alice, thread.id, "Vi behöver *kvällstider*.", "seed-1")
        forums.edit_message(alice, message.id, "Vi behöver *kvällstider* och helger.")
        moderator = accounts.create_user_with_role(
            "mona@browser.se", "Mona Moderator", PASSWORD, "moderator"
        )
        members = tuple(
            accounts.create_user_with_role(f"{first.lower()}@browser.se", name, PASSWORD, "member")
            for first, name in [
                ("carl", "Carl Carlsson"),
                ("dora", "Dora Dahl"),
                ("erik", "Erik Ek"),
                ("sven", "Sven Svensson"),
            ]
        )
        names = (
            admin.email,
            official.email,
            alice.email,
            bob.email,
            org.slug,
            forum.slug,
            thread.id,
            message.id,
            moderator.email,
            tuple(m.email for m in members),
        )
        db.session.remove()
        db.engine.dispose()
    with tempfile.TemporaryDirectory():
        server = ServerProcess(url, **getattr(request.module, "SERVER_ENV", {})).start()
        try:
            yield World(server, *names)
        finally:
            server.stop()


@pytest.fixture
def new_page(browser):
    """new_page(lang='sv', phone=False) -> a page in a fresh context (its own cookies): a
    desktop window, or with `phone` a 375 x 740 touch screen."""
    contexts = []

    def make(lang: str = "sv", phone: bool = False):
        if phone:
            screen = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
        else:
            screen = {"viewport": {"width": 1100, "height": 900}}
        context = browser.new_context(locale=LOCALES[lang], **screen)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
