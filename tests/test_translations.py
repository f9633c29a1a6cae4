"""Every interface string has a Swedish translation (Swedish is the default language)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "forum" / "translations" / "sv" / "LC_MESSAGES" / "messages.po"


def test_every_extracted_string_is_translated_to_swedish(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",  # a global option: it goes before the subcommand
            "extract",
            "-F",
            "babel.cfg",
            # the names the code gives gettext's lazy form (flask_babel's own name too, as
            # forum/__init__.py uses it: without it login_message went out untranslated)
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    translated = {
        m.id
        for m in catalog
        if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string)) and not m.fuzzy
    }
    missing = sorted(str(m) for m in wanted - translated)
    assert not missing, f"{len(missing)} strings lack a Swedish translation, e.g. {missing[:10]}"


def test_pages_render_in_swedish_by_default_and_english_on_request(client):
    swedish = client.get("/forums").get_data(as_text=True)
    english = client.get("/forums", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="sv">' in swedish and "Dialogforum" in swedish
    assert '<html lang="en">' in english
    assert "Logga in" in swedish and "Log in" in english
