"""Registrations per address are limited, and the throttle's records do not outlive it.

One client could register any number of accounts, each mailing a welcome, from the city's
own mail server, to an address the client chose and greeting it with a "display name" the
client wrote ("Your account is locked, call ..."): a spam and phishing relay, and an scrypt
hash per request. Now an address (an IPv6 address by its /64) registers at most
FORUM_REGISTER_RATE_LIMIT accounts (10 an hour by default: a workshop signing up together
from one network still fits), whether or not the addresses asked for are registered, so
the refusal tells nobody who is. The counts live in Redis when there is one, else in the
throttle's table, whose rows are forgotten once no window looks at them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select
from support import at_once, service_missing

from forum.config import ConfigError, load_config, parse_rate_limit
from forum.extensions import db
from forum.models import LoginAttempt, OutboxMail, User
from forum.models.base import utcnow
from forum.services import accounts

PASSWORD = "a long enough passphrase 42"
REAL_REDIS = "redis://127.0.0.1:6379/0"


def register(client, n: int, address: str = "203.0.113.9", email: str | None = None):
    return client.post(
        "/register",
        data={
            "email": email or f"person{n}@example.org",
            "display_name": f"Person {n}",
            "password": PASSWORD,
        },
        environ_base={"REMOTE_ADDR": address},
    )


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(User)) or 0,
        db.session.scalar(select(func.count()).select_from(OutboxMail)) or 0,
    )


@pytest.fixture
def english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.config(FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("3/3600s"))
def test_an_address_registers_at_most_the_limit_then_hears_why(app, english, make):
    client = english
    assert [register(client, n).status_code for n in range(3)] == [303, 303, 303]
    assert counts() == (3, 3)
    refused = register(client, 3)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Too many accounts were registered from your network" in page
    assert 'value="person3@example.org"' in page  # what was typed stays (not the password)
    assert PASSWORD not in page
    assert counts() == (3, 3)  # no account, no mail
    # an address that has an account gets the same answer: the refusal tells nothing
    make.user(email="taken@example.org")
    assert register(client, 4, email="taken@example.org").status_code == 429
    assert counts() == (4, 3)
    # another address is not held back
    assert register(client, 5, address="198.51.100.7").status_code == 303


@pytest.mark.config(FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("2/3600s"))
def test_an_ipv6_network_counts_as_one_address(english):
    client = english
    assert register(client, 0, "2001:db8:1:2::1").status_code == 303
    assert register(client, 1, "2001:db8:1:2:ffff::9").status_code == 303
    assert register(client, 2, "2001:db8:1:2::abcd").status_code == 429
    assert register(client, 3, "2001:db8:1:3::1").status_code == 303


@pytest.mark.config(FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("2/3600s"))
def test_a_refused_or_invalid_registration_does_not_use_up_the_budget(english):
    client = english
    bad = client.post(
        "/register",
        data={"email": "not an address", "display_name": "X", "password": "short"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert bad.status_code == 400
    assert [register(client, n).status_code for n in range(3)] == [303, 303, 429]
    assert register(client, 9).status_code == 429  # refusals are not counted either
    assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 2


@pytest.mark.config(FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("3/3600s"))
def test_parallel_registrations_from_one_address_pass_at_most_the_limit(app):
    def work(i: int):
        return accounts.register_member(
            f"parallel{i}@example.org", f"Parallel {i}", PASSWORD, address="203.0.113.50"
        )

    results = at_once(app, work, 8)
    passed = [r for r in results if isinstance(r, User)]
    refused = [r for r in results if isinstance(r, accounts.RateLimited)]
    assert len(passed) == 3 and len(refused) == 5, results


@pytest.mark.config(FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("off"))
def test_the_limit_can_be_turned_off(english):
    assert {register(english, n).status_code for n in range(12)} == {303}


def test_the_default_is_ten_an_hour_and_a_bad_value_is_refused_by_name(tmp_path):
    assert load_config(tmp_path, {})["FORUM_REGISTER_RATE_LIMIT"] == parse_rate_limit("10/3600s")
    assert load_config(tmp_path, {"FORUM_REGISTER_RATE_LIMIT": "off"})[
        "FORUM_REGISTER_RATE_LIMIT"
    ] == parse_rate_limit("off")
    with pytest.raises(ConfigError, match="FORUM_REGISTER_RATE_LIMIT"):
        load_config(tmp_path, {"FORUM_REGISTER_RATE_LIMIT": "ten an hour"})


@pytest.mark.redis
def test_with_redis_the_count_is_shared_there_and_nothing_is_stored(app, english):
    try:
        redis.Redis.from_url(REAL_REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing("Redis")
    app.config.update(
        FORUM_REDIS_URL=REAL_REDIS,
        FORUM_REDIS_PREFIX=f"test-{uuid.uuid4().hex}",
        FORUM_REGISTER_RATE_LIMIT=parse_rate_limit("2/3600s"),
    )
    statuses = [register(english, n).status_code for n in range(3)]
    assert statuses == [303, 303, 429]
    assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_throttle_records_are_forgotten_once_no_window_looks_at_them(app):
    now = utcnow()
    longest = max(
        timedelta(minutes=app.config["FORUM_LOGIN_WINDOW_MINUTES"]),
        timedelta(seconds=app.config["FORUM_REGISTER_RATE_LIMIT"].seconds),
    )
    old = LoginAttempt(email="old@example.org", address="203.0.113.1", at=now - longest * 2)
    recent = LoginAttempt(email="new@example.org", address="203.0.113.2", at=now)
    db.session.add_all([old, recent])
    db.session.commit()
    assert accounts.forget_old_attempts(now) == 1
    assert db.session.scalars(select(LoginAttempt.email)).all() == ["new@example.org"]
