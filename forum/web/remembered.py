"""A bounded, least-recently-used store of rendered HTML, shared by the page caches.

Bounded twice: by the number of entries and by the characters they hold, so that large
messages cannot make a process grow without limit (a message renders to at most ~120 KB).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from flask import current_app

# HTML, or HTML in pieces (to be joined by something that differs per page), or a PDF
Rendered = str | bytes | tuple[str, ...]


def _chars(html: Rendered) -> int:
    return len(html) if isinstance(html, str | bytes) else sum(map(len, html))


class Remembered:
    """Rendered HTML by key (least recently used out first)."""

    def __init__(self, limit: int, max_chars: int = 16 * 1024 * 1024) -> None:
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.limit = limit
        self.max_chars = max_chars
        self.chars = 0
        self.lock = threading.Lock()
        self.renders = 0  # how many were stored (tests)

    def get(self, key: Hashable) -> Any:
        with self.lock:
            html = self.items.get(key)
            if html is not None:
                self.items.move_to_end(key)
            return html

    def put(self, key: Hashable, html: Rendered) -> None:
        with self.lock:
            self.renders += 1
            old = self.items.pop(key, None)
            self.chars += _chars(html) - (_chars(old) if old is not None else 0)
            self.items[key] = html
            while self.items and (len(self.items) > self.limit or self.chars > self.max_chars):
                _key, dropped = self.items.popitem(last=False)
                self.chars -= _chars(dropped)


def app_store(name: str, limit: int) -> Remembered:
    """The app's store called `name` (each app its own: tests build many apps in one
    process), made on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found: Remembered | None = app.extensions.get(name)
    if found is None:
        found = app.extensions.setdefault(name, Remembered(limit))
    return found
