"""Links to the app's pages, built from `FORUM_BASE_URL` with or without a request.

Services store site-relative paths (notification links, mention links in stored
HTML) and put absolute links in mail; neither may depend on a request context,
because the same services run from the command line and from socket handlers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def path_for(endpoint: str, _anchor: str | None = None, **values: Any) -> str:
    """The site-relative path of `endpoint` (with the base URL's path prefix)."""
    base = urlsplit(current_app.config["FORUM_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc or "localhost", script_name=base.path or "/")
    path = adapter.build(endpoint, values)
    return f"{path}#{_anchor}" if _anchor else path


def absolute(path: str) -> str:
    """An absolute link for mail: the base URL's scheme and host before a site-relative path."""
    base = urlsplit(current_app.config["FORUM_BASE_URL"])
    return f"{base.scheme}://{base.netloc}{path}"


def url_for_mail(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint`, for mail and other text read outside the site."""
    return absolute(path_for(endpoint, **values))
