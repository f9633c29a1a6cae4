"""Pages as PDF for the city's records, with WeasyPrint when it (and Pango) are installed.

WeasyPrint may fetch only the app's own static files: every other URL (an image
in a user's markdown, another host) is refused, so rendering a PDF never makes a
request on anyone's behalf.

A render is seconds of CPU in the request, and production runs one gevent worker per
process: every other request and socket of that process waits. So a PDF is rendered once
per distinct page (its bytes kept by the digest of the exact HTML rendered, which is
also its ETag: the same HTML gives the same PDF, so a kept one is never stale), and each
address may have only FORUM_PDF_RATE_LIMIT renders (a kept PDF or a 304 costs none).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request
from flask_babel import gettext as _

from ..config import RateLimit
from ..errors import NotFound, RateLimited
from ..services import throttle
from ..services.accounts import address_key
from .remembered import Remembered

# How many rendered PDFs a process keeps, and how many bytes at most (a round with 40
# long responses is ~200 KB; the least recently asked for go first).
CACHED_PDFS = 64
CACHED_PDF_BYTES = 32 * 1024 * 1024


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


# A run of this many characters without a space gets a zero-width space after each such
# stretch in the PDF: WeasyPrint lays out one long word (a pasted blob, a key held down)
# under `hyphens: auto` and `overflow-wrap` in time that grows with its cube (2,000
# characters: 15 s, more than a worker may take), and with places to break, in a moment.
LONGEST_UNBROKEN = 24
_TAG = re.compile(r"(<[^>]*>)")
_RUN = re.compile(r"[^\s<>&\u200b]{" + str(LONGEST_UNBROKEN + 1) + ",}")
_RAW = re.compile(r"<(/?)(script|style)\b", re.IGNORECASE)


def breakable(html: str) -> str:
    """`html` with a zero-width space in every LONGEST_UNBROKEN characters of a run without
    a space, in its text only (not in tags, nor in a style or script element's content)."""
    out, raw = [], False
    for part in _TAG.split(html):
        if part.startswith("<"):
            found = _RAW.match(part)
            if found is not None:
                raw = not found[1]
        elif not raw:
            part = _RUN.sub(_break_run, part)
        out.append(part)
    return "".join(out)


def _break_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return "\u200b".join(
        run[i : i + LONGEST_UNBROKEN] for i in range(0, len(run), LONGEST_UNBROKEN)
    )


def render_pdf(html: str) -> bytes | None:
    """The page as PDF bytes, or None where WeasyPrint cannot run."""
    weasyprint = _weasyprint()
    if weasyprint is None:
        return None
    html = breakable(html)
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


def cached_pdfs() -> Remembered:
    """This app's rendered PDFs (each app its own: tests build many apps in one process)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found: Remembered | None = app.extensions.get("forum_pdfs")
    if found is None:
        found = app.extensions.setdefault(
            "forum_pdfs", Remembered(CACHED_PDFS, max_chars=CACHED_PDF_BYTES)
        )
    return found


def recall_pdf(digest: str) -> bytes | None:
    found = cached_pdfs().get(digest)
    return found if isinstance(found, bytes) else None


def remember_pdf(digest: str, body: bytes) -> None:
    cached_pdfs().put(digest, body)


def page_digest(html: str) -> str:
    """The SHA-256 of what a render reads: the HTML and the address its links resolve
    against (the static files it may fetch change only with a deploy, a new process)."""
    return hashlib.sha256(f"{request.host_url}\0{html}".encode()).hexdigest()


def _local_limiter() -> Any:
    """This app's moving-window limiter in this process's memory, for when there is no
    Redis (each app its own: tests build many apps in one process, on one address)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("forum_pdf_limiter")
    if found is None:
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        found = app.extensions.setdefault(
            "forum_pdf_limiter", MovingWindowRateLimiter(MemoryStorage())
        )
    return found


def _take_render() -> None:
    """One render from this address's budget, or RateLimited (429): Redis's moving window
    (the throttle's) when there is one, else this process's (whose CPU it protects)."""
    limit: RateLimit = current_app.config["FORUM_PDF_RATE_LIMIT"]
    if not limit.enabled:
        return
    key = address_key(request.remote_addr)  # an IPv6 address by its /64, as logins are
    allowed = throttle.redis_hit("pdf", key, limit.count, limit.seconds)
    if allowed is None:
        from limits import RateLimitItemPerSecond

        item = RateLimitItemPerSecond(limit.count, limit.seconds)
        allowed = _local_limiter().hit(item, "pdf", key)
    if not allowed:
        raise RateLimited(
            _(
                "Too many PDFs were made for you in a short time. Try again in a few "
                "minutes, or print the page instead."
            ),
            retry_after=limit.seconds,
        )


def _unavailable() -> NotFound:
    return NotFound(_("PDF is not available on this server; print the page instead."))


def pdf_response(html: str, filename: str) -> Response:
    """`html` as a PDF download, rendered only when no PDF of this exact page is kept.

    The digest is the ETag, and an If-None-Match naming it is a 304 without rendering.
    Caching headers are left to the app (a logged-in person's `private, no-store`).
    """
    digest = page_digest(html)
    if digest in request.if_none_match:
        response = Response(status=304)
        response.set_etag(digest)
        return response
    body = recall_pdf(digest)
    if body is None:
        if not available():  # before the budget: a server without WeasyPrint costs no one
            raise _unavailable()
        _take_render()
        body = render_pdf(html)
        if body is None:
            raise _unavailable()
        remember_pdf(digest, body)
    response = Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    response.set_etag(digest)
    return response
