"""Static addresses carry their content's version (`?v=`) and a current one is cached a year
(forum/web/static_files.py); the import map brings the modules' relative imports along, and
the CSP allows it by its hash."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from flask import url_for

from forum.web.static_files import IMMUTABLE, StaticVersions

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)


def version_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def text(response) -> str:
    return response.get_data(as_text=True)


def script_src(response) -> list[str]:
    for part in response.headers["Content-Security-Policy"].split(";"):
        words = part.split()
        if words and words[0] == "script-src":
            return words[1:]
    raise AssertionError("no script-src")


def test_url_for_static_carries_the_files_content_version(app):
    with app.test_request_context():
        for name in ("js/thread.js", "css/site.css", "icons/icon.svg"):
            assert (
                url_for("static", filename=name) == f"/static/{name}?v={version_of(STATIC / name)}"
            )
        # no such file, or none of the folder's: the plain address, no error
        assert url_for("static", filename="js/no-such.js") == "/static/js/no-such.js"
        assert url_for("static", filename="js") == "/static/js"
        assert url_for("static", filename="../forum/config.py") == "/static/../forum/config.py"


def test_a_version_is_computed_once_unless_files_are_watched(tmp_path):
    script = tmp_path / "js" / "a.js"
    script.parent.mkdir()
    script.write_text("export const release = 1;\n")
    first = version_of(script)
    kept, watched = StaticVersions(str(tmp_path)), StaticVersions(str(tmp_path))
    assert kept.version("js/a.js") == watched.version("js/a.js", watch=True) == first
    script.write_text("export const release = 22;\n")  # another size: seen whatever the mtime
    assert kept.version("js/a.js") == first  # the process's first reading
    assert watched.version("js/a.js", watch=True) == version_of(script) != first
    assert watched.generation == 1 and kept.generation == 0
    script.unlink()
    assert watched.version("js/a.js", watch=True) is None
    # nothing is kept of a name that is no file, nor of another spelling of one (a request's
    # path: anyone may send many): what is kept is bounded by the files
    assert kept.version("js/missing.js") is None and kept.version("js/./a.js") == first
    assert list(kept.named) == ["js/a.js"] and len(kept.known) == 1


@pytest.mark.parametrize(
    ("query", "cached"),
    [("current", True), ("", False), ("?v=", False), ("?v=0123456789ab", False), ("other", False)],
)
def test_only_the_current_version_is_cached_for_a_year(client, query, cached):
    current = version_of(STATIC / "js" / "live.js")
    query = {"current": f"?v={current}", "other": f"?v={current[:-1]}x"}.get(query, query)
    response = client.get(f"/static/js/live.js{query}")
    assert response.status_code == 200
    assert response.data == (STATIC / "js" / "live.js").read_bytes()
    expected = IMMUTABLE if cached else "no-cache"
    assert response.headers["Cache-Control"] == expected
    # revalidated (a 304) under the same rule
    again = client.get(
        f"/static/js/live.js{query}", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304 and again.headers["Cache-Control"] == expected
    response.close()
    again.close()


def test_a_missing_static_file_with_a_version_is_still_a_404(client):
    assert client.get("/static/js/no-such.js?v=0123456789ab").status_code == 404


def modules_under_static() -> set[str]:
    return {
        path.relative_to(STATIC).as_posix()
        for folder in ("js", "vendor")
        for path in (STATIC / folder).rglob("*.js")
    }


@pytest.mark.parametrize("path", ["/", "/forums", "/no-such-page"])
def test_the_import_map_maps_every_module_to_its_versioned_address(app, client, path):
    response = client.get(path)
    page = text(response)
    maps = IMPORT_MAP.findall(page)
    assert len(maps) == 1
    # first: a browser ignores a map that comes after a module script or preload
    first = page.index('<script type="importmap">')
    preload = page.find("modulepreload")
    assert first == page.index("<script") and (preload == -1 or first < preload)
    imports = json.loads(maps[0])["imports"]
    modules = modules_under_static()
    assert "vendor/socket.io.esm.min.js" in modules and "js/thread/feed.js" in modules
    assert set(imports) == {f"/static/{name}" for name in modules}
    with app.test_request_context():
        for name in modules:
            assert imports[f"/static/{name}"] == url_for("static", filename=name)
            assert "?v=" in imports[f"/static/{name}"]
    digest = base64.b64encode(hashlib.sha256(maps[0].encode()).digest()).decode()
    assert script_src(response) == ["'self'", f"'sha256-{digest}'"]


def test_the_import_map_follows_where_the_app_is_mounted(client):
    response = client.get("/forums", environ_overrides={"SCRIPT_NAME": "/forum"})
    found = IMPORT_MAP.search(text(response))
    assert found is not None
    imports = json.loads(found.group(1))["imports"]
    assert imports["/forum/static/js/live.js"].startswith("/forum/static/js/live.js?v=")
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in script_src(response)
    plain = client.get("/forums")
    assert script_src(plain) != script_src(response)  # each mount point its own map


def test_the_thread_page_preloads_and_loads_its_modules_by_version(client, make):
    thread = make.thread(author=make.user())
    page = text(client.get(f"/threads/{thread.id}"))
    preloads = re.findall(r'<link rel="modulepreload" href="([^"]+)"', page)
    assert page.index('<script type="importmap">') < page.index("modulepreload")
    assert len(preloads) > 10
    scripts = re.findall(r'<script type="module" src="([^"]+)"', page)
    for address in preloads + scripts:
        name = address.removeprefix("/static/").split("?")[0]
        assert address == f"/static/{name}?v={version_of(STATIC / name)}"


@pytest.mark.config(TEMPLATES_AUTO_RELOAD=True)
def test_under_flask_run_an_edited_file_gets_its_new_version_on_the_next_page(
    app, client, tmp_path
):
    """Where templates reload, files are watched: the new version shows at once, also in the
    remembered fragments of base.html (its stylesheet) and in the import map."""
    (tmp_path / "css").mkdir()
    (tmp_path / "js").mkdir()
    sheet, script = tmp_path / "css" / "site.css", tmp_path / "js" / "header.js"
    sheet.write_text("body { color: black; }\n")
    script.write_text("export {};\n")
    app.static_folder = str(tmp_path)
    app.extensions["forum_static_versions"] = StaticVersions(str(tmp_path))

    def seen() -> tuple[str, str, list[str]]:
        response = client.get("/forums")
        page = text(response)
        css = re.search(r'href="/static/css/site.css\?v=(\w+)"', page)
        imports = json.loads(IMPORT_MAP.search(page).group(1))["imports"]
        return css.group(1), imports["/static/js/header.js"], script_src(response)

    before = seen()
    assert before[0] == version_of(sheet) and before[1].endswith(version_of(script))
    sheet.write_text("body { color: navy; }\n")
    script.write_text("export const edited = true;\n")
    after = seen()
    assert after[0] == version_of(sheet) != before[0]
    assert after[1].endswith(version_of(script)) and after[1] != before[1]
    assert after[2] != before[2]  # the CSP allows the new map
    old = client.get(f"/static/css/site.css?v={before[0]}")
    assert old.headers["Cache-Control"] == "no-cache" and b"navy" in old.data
    new = client.get(f"/static/css/site.css?v={after[0]}")
    assert new.headers["Cache-Control"] == IMMUTABLE
    old.close()
    new.close()
