"""Helpers shared by the test packages (importable as `support`)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery"


def service_missing(what: str) -> None:
    """Skip a test whose service is missing; under CI that is a failure instead."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI but is not available")
    pytest.skip(f"{what} not available")


def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("FORUM_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def app_settings(url: str, **extra: object) -> dict[str, object]:
    config: dict[str, object] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
        "WTF_CSRF_ENABLED": False,
        "FORUM_PASSWORD_HASH": "pbkdf2:sha256:1000",
        "FORUM_DEMO": False,
        "FORUM_REDIS_URL": None,
        "SERVER_NAME": "localhost",
        "FORUM_BASE_URL": "http://localhost",
    }
    if url.startswith("sqlite"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"timeout": 30, "check_same_thread": False}
        }
    else:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    config.update(extra)
    return config


class Auth:
    """Log a test client in (through the session, like a real login) and out."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, user) -> None:
        """A server-side session row, and the signed cookie naming it (like a real login)."""
        from forum.services.accounts import open_session

        with self.client.application.test_request_context():
            row, _token = open_session(user, "pytest", remember=False)
            key = row.key
        with self.client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session["nonce"] = key

    def logout(self) -> None:
        with self.client.session_transaction() as session:
            session.clear()


CSRF_TOKEN = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")([^"]*)"')


def csrf_tokens(page: str) -> set[str]:
    """The CSRF tokens a page carries, in its forms and its meta tag."""
    return {token for _, token in CSRF_TOKEN.findall(page)}


def at_once(app, work: Callable[[int], Any], n: int, timeout: float = 30) -> list[Any]:
    """Run `work(0)` … `work(n - 1)` in n threads, each in a request context of its own (so a
    session of its own, removed after); each one's result, or the exception it raised."""
    from forum.extensions import db

    def run(i: int) -> Any:
        with app.test_request_context():
            try:
                return work(i)
            except BaseException as err:  # noqa: BLE001 — returned for the test to report
                return err
            finally:
                db.session.remove()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n), timeout=timeout))


def form_login(client, user) -> None:
    """Log in through the login form with its CSRF token (tests with WTF_CSRF_ENABLED)."""
    page = client.get("/login").get_data(as_text=True)
    token = sorted(csrf_tokens(page))[0]
    done = client.post(
        "/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD}
    )
    assert done.status_code in (302, 303)


def without_csrf_tokens(page: str) -> str:
    """The page with its CSRF tokens blanked. Flask-WTF signs each token with the second it
    was made, so two renderings of the same page differ across a second boundary."""
    return CSRF_TOKEN.sub(r'\1"', page)
