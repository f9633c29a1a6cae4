"""FORUM_ALLOWED_ORIGINS and FORUM_BASE_URL as the sockets' origin check sees them.

python-engineio compares a socket's Origin header with the allowed origins as exact
strings, and a browser sends scheme://host[:port] (host in lower case, no default port,
no slash). A value spelled otherwise refused every socket while pages worked; it is now
written as the browser spells it when the configuration is loaded, and a value that is
no origin at all (a path, a query, no http(s) scheme) refuses to start, naming it.
"""

from __future__ import annotations

import re

import pytest
from support import app_settings

from forum import create_app
from forum.config import ConfigError, load_config
from forum.extensions import db, socketio

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


@pytest.mark.parametrize(
    "value, origins",
    [
        ("https://partner.example/", ["https://partner.example"]),
        ("https://Partner.Example", ["https://partner.example"]),
        ("HTTPS://partner.example:443", ["https://partner.example"]),
        ("http://partner.example:80/", ["http://partner.example"]),
        ("http://Partner.Example:8080/", ["http://partner.example:8080"]),
        ("https://[0:0::1]:8443/", ["https://[::1]:8443"]),
        ("https://Åre.example", ["https://xn--re-xia.example"]),
        ("https://straße.example", ["https://xn--strae-oqa.example"]),  # IDNA 2008
        (
            " https://a.example/ , https://A.example:443,https://b.example ",
            ["https://a.example", "https://b.example"],
        ),
    ],
)
def test_allowed_origins_are_written_as_a_browser_sends_them(tmp_path, value, origins):
    config = load_config(tmp_path, {"FORUM_ALLOWED_ORIGINS": value})
    assert config["FORUM_ALLOWED_ORIGINS"] == origins


@pytest.mark.parametrize(
    "value",
    [
        "https://partner.example/app",
        "https://partner.example/?a=1",
        "https://partner.example?",
        "https://partner.example/#top",
        "partner.example",
        "//partner.example",
        "ftp://partner.example",
        "*",
        "null",
        "https://",
        "https://user@partner.example",
        "https://partner.example:99999",
    ],
)
def test_a_value_that_is_no_origin_refuses_to_start(tmp_path, value):
    env = {"FORUM_ALLOWED_ORIGINS": f"https://ok.example, {value}"}
    with pytest.raises(ConfigError, match=f"FORUM_ALLOWED_ORIGINS.*{re.escape(repr(value))}"):
        load_config(tmp_path, env)


@pytest.mark.parametrize("base_url", ["forum.example.se", "ftp://forum.example.se"])
def test_a_base_url_that_gives_no_origin_refuses_to_start(tmp_path, base_url):
    env = {"FORUM_ALLOWED_ORIGINS": "https://partner.example", "FORUM_BASE_URL": base_url}
    with pytest.raises(ConfigError, match=f"FORUM_BASE_URL.*{re.escape(repr(base_url))}"):
        load_config(tmp_path, env)


def _app(db_url, monkeypatch, origins: str, base_url: str):
    monkeypatch.setenv("FORUM_ALLOWED_ORIGINS", origins)
    monkeypatch.setenv("FORUM_BASE_URL", base_url)
    settings = app_settings(db_url)
    del settings["FORUM_BASE_URL"]  # the environment's, as a deployment sets it
    return create_app(settings)


def _accepted(app, origin: str) -> bool:
    response = app.test_client().get(HANDSHAKE, headers={"Origin": origin})
    assert response.status_code in {200, 400}, response.data
    return response.status_code == 200


def test_sockets_from_the_normalised_origins_are_accepted(db_url, monkeypatch):
    # each spelled as an operator might; a browser sends them lower case, without the slash
    # or the default port; the base URL's path is its site prefix, not part of its origin
    app = _app(
        db_url,
        monkeypatch,
        "https://Partner.Example/, https://b.example:443, http://c.example:8080/",
        "https://Forum.Example.se:443/forum/",
    )
    try:
        assert socketio.server is not None
        assert socketio.server.eio.cors_allowed_origins == [
            "https://forum.example.se",
            "https://partner.example",
            "https://b.example",
            "http://c.example:8080",
        ]
        for origin in (
            "https://forum.example.se",
            "https://partner.example",
            "https://b.example",
            "http://c.example:8080",
        ):
            assert _accepted(app, origin), origin
        for origin in ("https://elsewhere.example", "http://c.example", "http://partner.example"):
            assert not _accepted(app, origin), origin
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize(
    "origins, base_url, name, value",
    [
        (
            "https://partner.example/app",
            "https://forum.example.se",
            "FORUM_ALLOWED_ORIGINS",
            "https://partner.example/app",
        ),
        ("partner.example", "https://forum.example.se", "FORUM_ALLOWED_ORIGINS", "partner.example"),
        ("https://partner.example", "forum.example.se", "FORUM_BASE_URL", "forum.example.se"),
    ],
)
def test_the_app_refuses_to_start_with_a_value_that_is_no_origin(
    db_url, monkeypatch, origins, base_url, name, value
):
    with pytest.raises(ConfigError, match=f"{name}.*{re.escape(repr(value))}"):
        _app(db_url, monkeypatch, origins, base_url)
