"""The thread page asks for all its script's modules at once: the <link rel=modulepreload>
list in its head is exactly js/thread.js and everything it imports, read from the files
themselves, so that a module added or dropped cannot leave the list behind. Without it a
phone on a slow link found each module only in the one before, socket.io last, three
round trips down.

And each is asked for by its versioned address (`?v=`, forum/web/static_files.py), which a
browser keeps a year without asking again: the preloads, and the relative imports through
the page's import map, so no module is fetched twice (once plain, once versioned)."""

from __future__ import annotations

import hashlib
import re

import pytest
from browsing import ROOT, assert_accessible, login, message, open_thread, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

STATIC = ROOT / "static"
# import ... from "./x.js", import "./x.js", export ... from "./x.js", import("./x.js")
IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bexport\s*[\w*{}\s,$]+\s*from\s*|\bimport\s*\(\s*)["']([^"']+)["']"""
)


def module_graph(entry: str) -> set[str]:
    """The static files (paths under static/) that the module `entry` loads, itself too."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        source = (STATIC / path).read_text(encoding="utf-8")
        for spec in IMPORT.findall(source):
            assert spec.startswith("."), f"{path} imports {spec!r}: not a file of static/"
            resolved = (STATIC / path).parent.joinpath(spec).resolve()
            todo.append(resolved.relative_to(STATIC.resolve()).as_posix())
    return seen


def test_the_import_reader_finds_the_imports():
    graph = module_graph("js/thread.js")
    assert {"js/live.js", "vendor/socket.io.esm.min.js", "js/thread/mentions.js"} <= graph
    assert len(graph) > 10


def versioned(path: str) -> str:
    """The address url_for gives the static file `path`: its content's version in `v`."""
    return f"/static/{path}?v={hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:12]}"


def preloaded(page) -> list[str]:
    return page.locator("link[rel=modulepreload]").evaluate_all(
        "(links) => links.map((l) => new URL(l.href).pathname + new URL(l.href).search)"
    )


def fetched(page, *endings: str) -> list[str]:
    """The addresses (path and query) of the resources the page fetched, by path ending."""
    return page.evaluate(
        """(endings) => performance.getEntriesByType("resource")
            .map((e) => new URL(e.name)).filter((u) => endings.some((x) => u.pathname.endsWith(x)))
            .map((u) => u.pathname + u.search)""",
        list(endings),
    )


@pytest.mark.parametrize("who", ["visitor", "member"])
def test_the_thread_page_preloads_exactly_its_scripts_modules(world, new_page, who):
    page = new_page("sv", phone=True)
    if who == "member":
        login(page, world, world.alice_email)
    open_thread(page, world)
    graph = {versioned(path) for path in module_graph("js/thread.js")}
    links = preloaded(page)
    assert sorted(links) == sorted(graph)
    assert len(links) == len(set(links))
    # the browser used them: each fetched once, and no module of the page left out
    scripts = fetched(page, ".js")
    assert len(scripts) == len(set(scripts)), scripts
    entries = page.locator("script[type=module][src]").evaluate_all(
        "(scripts) => scripts.map((s) => new URL(s.src).pathname)"
    )
    others = set()
    for entry in entries:
        others |= {versioned(p) for p in module_graph(entry.removeprefix("/static/"))}
    assert set(scripts) == graph | others, set(scripts) ^ (graph | others)
    assert_accessible(page, f"thread page with its modules preloaded ({who})")


def test_other_pages_preload_nothing(world, new_page):
    page = new_page("sv")
    login(page, world, world.alice_email)
    for path in ["/", "/forums", f"/forums/{world.forum_slug}", "/notifications"]:
        page.goto(world.url + path)
        expect(page.locator("link[rel=modulepreload]")).to_have_count(0)


# Before any page script runs: what the CSP refused, and the page's errors.
WATCH_CSP = """
window.refused = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.refused.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_the_thread_page_loads_every_script_and_style_by_version_once(world, new_page):
    """Every script and stylesheet by its versioned address (which the browser may keep a
    year), none twice, nothing refused by the CSP (the import map is allowed by its hash),
    and the live thread works with the modules that came through the map."""
    page = new_page("sv", phone=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(WATCH_CSP)
    login(page, world, world.alice_email)
    open_thread(page, world)
    send(page, "Versionerade moduler når fram")
    expect(message(page, "Versionerade moduler når fram", stored=True)).to_have_count(1)
    # the tests' own import("/static/js/live.js") goes through the map: the page's module
    assert page.evaluate("() => import('/static/js/live.js').then((m) => m.socket.connected)")
    loaded = fetched(page, ".js", ".css")
    assert any(a.startswith("/static/css/site.css?v=") for a in loaded)
    assert any(a.startswith("/static/vendor/socket.io.esm.min.js?v=") for a in loaded)
    for address in loaded:
        path = address.removeprefix("/static/").split("?")[0]
        assert address == versioned(path), address
    assert len(loaded) == len(set(loaded)), loaded
    assert page.evaluate("window.refused") == []
    assert errors == []
