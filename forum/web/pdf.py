"""Pages as PDF for the city's records, with WeasyPrint when it (and Pango) are installed.

WeasyPrint may fetch only the app's own static files: every other URL (an image
in a user's markdown, another host) is refused, so rendering a PDF never makes a
request on anyone's behalf.
"""

from __future__ import annotations

import mimetypes
import warnings
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request


@cache
def _weasyprint() -> Any:
    """WeasyPrint, or None; looked up once per process (every consultation page asks)."""
    try:
        with warnings.catch_warnings():
            # Without the system's HarfBuzz-Subset it warns at import and works: a notice to
            # the machine's packager, not a reason to fail a page where warnings are errors.
            warnings.filterwarnings(
                "ignore", message=".*HarfBuzz-Subset", category=DeprecationWarning
            )
            import weasyprint
    except (ImportError, OSError):  # not installed, or the Pango libraries are missing
        return None
    return weasyprint


def available() -> bool:
    return _weasyprint() is not None


def _static_only(url: str) -> dict[str, Any]:
    path = urlsplit(url).path
    prefix = (current_app.static_url_path or "/static").rstrip("/") + "/"
    if not path.startswith(prefix):
        raise ValueError(f"not fetched for a PDF: {url}")
    root = Path(current_app.static_folder or "static").resolve()
    target = (root / path.removeprefix(prefix)).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise ValueError(f"not fetched for a PDF: {url}")
    return {
        "string": target.read_bytes(),
        "mime_type": mimetypes.guess_type(target.name)[0] or "application/octet-stream",
    }


def render_pdf(html: str) -> bytes | None:
    """The page as PDF bytes, or None where WeasyPrint cannot run."""
    weasyprint = _weasyprint()
    if weasyprint is None:
        return None
    urls = weasyprint.urls
    if hasattr(urls, "URLFetcherResponse"):  # WeasyPrint 68 and later: a fetcher object

        class StaticOnly(urls.URLFetcher):  # type: ignore[name-defined,misc]
            def fetch(self, url: str, headers: Any = None) -> Any:
                found = _static_only(url)
                return urls.URLFetcherResponse(
                    url, found["string"], {"Content-Type": found["mime_type"]}
                )

        fetcher: Any = StaticOnly()
    else:
        fetcher = _static_only
    document = weasyprint.HTML(string=html, base_url=request.host_url, url_fetcher=fetcher)
    return bytes(document.write_pdf())
