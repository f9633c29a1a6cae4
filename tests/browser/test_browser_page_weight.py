"""The thread page asks for all its script's modules at once: the <link rel=modulepreload>
list in its head is exactly js/thread.js and everything it imports, read from the files
themselves, so that a module added or dropped cannot leave the list behind. Without it a
phone on a slow link found each module only in the one before, socket.io last, three
round trips down."""

from __future__ import annotations

import re

import pytest
from browsing import ROOT, assert_accessible, login, open_thread
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


def preloaded(page) -> list[str]:
    return page.locator("link[rel=modulepreload]").evaluate_all(
        "(links) => links.map((l) => new URL(l.href).pathname)"
    )


def fetched_scripts(page) -> list[str]:
    return page.evaluate(
        """() => performance.getEntriesByType("resource")
            .map((e) => new URL(e.name).pathname).filter((p) => p.endsWith(".js"))"""
    )


@pytest.mark.parametrize("who", ["visitor", "member"])
def test_the_thread_page_preloads_exactly_its_scripts_modules(world, new_page, who):
    page = new_page("sv", phone=True)
    if who == "member":
        login(page, world, world.alice_email)
    open_thread(page, world)
    graph = {f"/static/{path}" for path in module_graph("js/thread.js")}
    links = preloaded(page)
    assert sorted(links) == sorted(graph)
    assert len(links) == len(set(links))
    # the browser used them: each fetched once, and no module of the page left out
    fetched = fetched_scripts(page)
    assert len(fetched) == len(set(fetched)), fetched
    entries = page.locator("script[type=module][src]").evaluate_all(
        "(scripts) => scripts.map((s) => new URL(s.src).pathname)"
    )
    others = set()
    for entry in entries:
        others |= {f"/static/{p}" for p in module_graph(entry.removeprefix("/static/"))}
    assert set(fetched) == graph | others, set(fetched) ^ (graph | others)
    assert_accessible(page, f"thread page with its modules preloaded ({who})")


def test_other_pages_preload_nothing(world, new_page):
    page = new_page("sv")
    login(page, world, world.alice_email)
    for path in ["/", "/forums", f"/forums/{world.forum_slug}", "/notifications"]:
        page.goto(world.url + path)
        expect(page.locator("link[rel=modulepreload]")).to_have_count(0)
