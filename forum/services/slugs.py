"""Slugs for pages addressed by name (/organisations/<slug>, /forums/<slug>): unique, and
never a word the site's own routes use there ("new" is the registration form's)."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect


def reaches_its_page(endpoint: str, slug: str) -> bool:
    """Whether a GET of the page `endpoint` built with `slug` is answered by `endpoint`.

    Read from the URL map, so a fixed route added later next to the page ("/organisations/new",
    "/forums/new") is avoided without a list to keep in step.
    """
    adapter = current_app.url_map.bind("localhost")
    path = adapter.build(endpoint, {"slug": slug})
    try:
        found, _values = adapter.match(path, method="GET")
    except (HTTPException, RequestRedirect):
        return False
    return found == endpoint


def free_slug(base: str, endpoint: str, taken: Callable[[str], bool]) -> str:
    """`base`, else `base-2`, `base-3`, ...: the first no row has (`taken`) whose page
    `endpoint` answers."""
    slug, n = base, 2
    while taken(slug) or not reaches_its_page(endpoint, slug):
        slug, n = f"{base}-{n}", n + 1
    return slug
