"""Where a view sends the browser next: the one guard for a `next` parameter."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None.

    Only a same-origin relative path counts: it starts with one "/" (not "//"), has no
    backslash, no control character (a tab or newline that a browser drops would turn
    "/\\t/evil.example" into "//evil.example") and no scheme or host.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
