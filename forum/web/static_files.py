"""Static files' addresses carry their content's version, so a browser may keep them a year.

`url_for('static', filename='js/thread.js')` gives `/static/js/thread.js?v=<12 hex>`, the start
of the SHA-256 of the file's bytes (app.url_defaults: every template gets it unchanged). The
static route answers `public, max-age=31536000, immutable` only when `v` is the file's current
version; a plain address, or a `v` of another release (a page from before an upgrade), stays
`no-cache`, so no one keeps new content under an old version, nor runs the last release's
scripts against a new server.

ES modules import each other by relative paths (`./live.js`), which carry no version: the
import map that base.html writes first in its head maps every module of static/js and
static/vendor to its versioned address, and the CSP allows that one inline script by its hash.

A version is computed once per file and process, on first use. Where templates reload
(FLASK_DEBUG, TEMPLATES_AUTO_RELOAD) a file's size and mtime are checked on every use, so an
edit under `flask run` gets a new version at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request, url_for
from markupsafe import Markup
from werkzeug.security import safe_join

VERSION_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
# The folders under static/ whose .js files are ES modules the import map names.
MODULE_FOLDERS = ("js", "vendor")
# Import maps kept, one per mount point (request.script_root): one in any installation.
MOUNT_POINTS = 8


class StaticVersions:
    """The versions of one static folder's files, and its import map."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        # path -> ((mtime_ns, size), version), of files that exist; and the plain name of
        # each (js/live.js) -> its path, which url_for's many calls find without a join
        self.known: dict[str, tuple[tuple[int, int], str]] = {}
        self.named: dict[str, str] = {}
        self.lock = threading.Lock()
        self.generation = 0  # how often a known file changed (only where files are watched)
        self.maps: dict[str, tuple[str, str]] = {}  # script root -> (map text, CSP source)

    def version(self, filename: str, watch: bool = False) -> str | None:
        """The file's version, or None when there is no such file under the folder."""
        path = self.named.get(filename) or safe_join(self.folder, filename)
        if path is None:
            return None
        found = self.known.get(path)
        if found is not None and not watch:
            return found[1]
        try:
            stat = os.stat(path)
        except OSError:
            return None
        mark = (stat.st_mtime_ns, stat.st_size)
        if found is not None and found[0] == mark:
            return found[1]
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as file:
            version = hashlib.sha256(file.read()).hexdigest()[:VERSION_LENGTH]
        with self.lock:
            if found is not None and found[1] != version:
                self.generation += 1
            self.known[path] = (mark, version)
            if path == os.path.join(self.folder, filename):  # not js/./live.js: bounded
                self.named[filename] = path
        return version

    def modules(self) -> list[str]:
        """Every .js file under the module folders, as paths under the static folder."""
        found = []
        for top in MODULE_FOLDERS:
            for root, dirs, files in os.walk(os.path.join(self.folder, top)):
                dirs.sort()
                relative = os.path.relpath(root, self.folder).replace(os.sep, "/")
                found += [f"{relative}/{name}" for name in sorted(files) if name.endswith(".js")]
        return found

    def watched_generation(self) -> int:
        """Where files are watched: every file checked once per request (a change bumps the
        generation, which remembered fragments are keyed by)."""
        if "static_generation" not in g:
            for root, _dirs, files in os.walk(self.folder):
                for name in files:
                    path = os.path.join(root, name)
                    if path in self.known:
                        self.version(os.path.relpath(path, self.folder), watch=True)
            g.static_generation = self.generation
        return int(g.static_generation)

    def import_map(self, watch: bool) -> tuple[str, str]:
        """(the import map's JSON text, its CSP source 'sha256-…'): built once per mount
        point, the same on every page of a process; where files are watched, once a request."""
        if watch:
            if "static_import_map" not in g:
                g.static_import_map = self.build_import_map()
            return g.static_import_map
        found = self.maps.get(request.script_root)
        if found is None:
            found = self.build_import_map()
            if len(self.maps) < MOUNT_POINTS:
                found = self.maps.setdefault(request.script_root, found)
        return found

    def build_import_map(self) -> tuple[str, str]:
        imports = {
            url_for("static", filename=path, v=None): url_for("static", filename=path)
            for path in self.modules()
        }
        text = json.dumps({"imports": imports}, separators=(",", ":"), sort_keys=True)
        # JSON inside a <script>: nothing in it may end the element or open a comment
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        return text, f"'sha256-{digest}'"


def _watching(app: Flask) -> bool:
    """Whether files may change under a running process: templates reload there too."""
    reload = app.config.get("TEMPLATES_AUTO_RELOAD")
    return bool(app.debug if reload is None else reload)


def versions() -> StaticVersions:
    return current_app.extensions["forum_static_versions"]


def import_map_element() -> Markup:
    """`<script type="importmap">` for base.html's head (before any module script)."""
    text, _source = versions().import_map(_watching(current_app))
    return Markup(f'<script type="importmap">{text}</script>')  # noqa: S704 — escaped JSON


def script_source() -> str | None:
    """The import map's CSP source for this request ('sha256-…'), or None outside one."""
    if not has_request_context() or "forum_static_versions" not in current_app.extensions:
        return None
    return versions().import_map(_watching(current_app))[1]


def fragment_generation() -> int:
    """What remembered fragments (their static addresses) depend on: 0 unless files are
    watched, then how often one changed."""
    app = current_app
    if "forum_static_versions" not in app.extensions or not _watching(app):
        return 0
    return versions().watched_generation()


def register(app: Flask) -> None:
    """`?v=` on url_for('static', …), and the year-long caching of a current version."""
    if not app.static_folder:
        return
    app.extensions["forum_static_versions"] = StaticVersions(app.static_folder)

    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint != "static" or "filename" not in values:
            return
        if "v" in values:  # v=None: the plain address (the import map's keys)
            if values["v"] is None:
                del values["v"]
            return
        version = versions().version(values["filename"], _watching(current_app))
        if version is not None:
            values["v"] = version

    def static(filename: str) -> Response:
        """The file; a year in any cache when asked for by its current version."""
        response = current_app.send_static_file(filename)
        asked = request.args.get("v")
        if asked and asked == versions().version(filename, _watching(current_app)):
            response.headers["Cache-Control"] = IMMUTABLE
        return response

    # (current_app, not `app`, in both: no reference cycle through the app's own tables)
    app.view_functions["static"] = static
