"""Yes/no settings: a typo is refused with the variable's name, not taken for "yes".

`FORUM_ALLOW_SQLITE=nope` allowed SQLite in production and `FORUM_HTTPS=flase` kept
secure cookies on: any value that was not one of four words for "no" meant "yes". And
FLASK_DEBUG was read with other words than Flask's own: `FLASK_DEBUG=off` turns Flask's
debug mode on, but the production check took it for "off" and let it start.
"""

from __future__ import annotations

import pytest
from test_config_review_fixes import PRODUCTION

from forum.config import FLAGS, ConfigError, load_config


@pytest.mark.parametrize("name", FLAGS)
@pytest.mark.parametrize("value", ["nope", "flase", "2", "y es", "enabled"])
def test_a_yes_no_setting_that_is_neither_is_refused_with_its_name(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, {name: value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        (" Yes ", True),
        ("ON", True),
        ("0", False),
        ("False", False),
        ("no", False),
        (" off", False),
        ("", None),  # unset: the default
    ],
)
def test_the_words_for_yes_and_no(tmp_path, value, expected):
    config = load_config(tmp_path, {"FORUM_SMTP_STARTTLS": value, "FORUM_DEMO": value})
    default_starttls, default_demo = True, True
    assert config["FORUM_SMTP_STARTTLS"] is (default_starttls if expected is None else expected)
    assert config["FORUM_DEMO"] is (default_demo if expected is None else expected)


def test_sqlite_in_production_needs_a_real_yes(tmp_path):
    env = {**PRODUCTION, "FORUM_DATABASE_URL": f"sqlite:///{tmp_path}/f.sqlite3"}
    with pytest.raises(ConfigError, match="FORUM_ALLOW_SQLITE"):
        load_config(tmp_path, {**env, "FORUM_ALLOW_SQLITE": "nope"})
    with pytest.raises(ConfigError, match="SQLite"):
        load_config(tmp_path, {**env, "FORUM_ALLOW_SQLITE": "no"})
    assert load_config(tmp_path, {**env, "FORUM_ALLOW_SQLITE": "yes"})["SQLALCHEMY_DATABASE_URI"]


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "off", " 0", "True "])
def test_production_refuses_every_flask_debug_value_flask_takes_for_on(tmp_path, value):
    """Flask turns debug on for any FLASK_DEBUG but '0', 'false' and 'no' (any case)."""
    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        load_config(tmp_path, {**PRODUCTION, "FLASK_DEBUG": value})


@pytest.mark.parametrize("value", ["", "0", "false", "No"])
def test_production_starts_with_flask_debug_off(tmp_path, value):
    assert load_config(tmp_path, {**PRODUCTION, "FLASK_DEBUG": value})["FORUM_ENV"]
