"""Parts of pages that are the same for everyone who reads them in one language, rendered once.

base.html's header and footer and the thread page's `<template id="strings">` translate about
60 strings and build 20 links on every request: a third of a thread page's time, for text that
only changes with the language. In a template:

    {% call fragment(current_user.is_authenticated) %} ... {% endcall %}

renders the body the first time and remembers its HTML by the call site (the compiled
template's code for this block), the arguments, and what every body may depend on without
naming it: the language, the time zone and where the app is mounted (`request.script_root`,
which `url_for` puts in front of every path), and, where static files are watched (`flask run
--debug`), how often one changed (its address's `?v=`, forum/web/static_files.py). A body reads nothing else: only `_`,
`gettext`, `ngettext`, `url_for`, `lang` and exactly the expressions passed as arguments
(tests/test_page_caches.py checks every template). Never a CSRF token, the user or the request:
those stay outside, between fragments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable

from flask import request
from markupsafe import Markup, escape

from ..formatting import locale_zone
from .remembered import Remembered, app_store
from .static_files import fragment_generation

# What a fragment's body may read besides its arguments (the test holds templates to it).
ALLOWED_NAMES = frozenset({"_", "gettext", "ngettext", "url_for", "lang"})
_LIMIT = 1024


def remembered() -> Remembered:
    """This app's fragments."""
    return app_store("forum_fragments", _LIMIT)


# A fill-in's place in a remembered fragment: NUL never comes from a translation or a link.
_FILL = re.compile("\x00([a-z_]+)\x00")
_FILL_NAME = re.compile("[a-z_]+")


def fragment(
    *key: Hashable, fill: dict[str, object] | None = None, caller: Callable[..., str]
) -> Markup:
    """The body of `{% call fragment(*key) %}`, rendered once per key, language, time zone and
    mount point, and per call site.

    With `{% call(fill) fragment(*key, fill={...}) %}` the body writes `{{ fill.name }}` where
    a value of this request goes (a count, a name, a token); it is rendered with a marker
    there, and each request's values are escaped into the remembered HTML in one pass."""
    assert fill is None or all(_FILL_NAME.fullmatch(name) for name in fill), fill
    site = caller._func.__code__  # type: ignore[attr-defined]  # one per block and template
    full = (site, key, *locale_zone(), request.script_root, fragment_generation())
    cache = remembered()
    html = cache.get(full)
    if html is None:
        if fill is None:
            html = str(caller())
        else:
            html = str(caller({name: Markup(f"\x00{name}\x00") for name in fill}))  # noqa: S704
        cache.put(full, html)
    if fill is None:
        return Markup(html)  # noqa: S704 — the body's own output, escaped when it was rendered
    values = {name: str(escape(value)) for name, value in fill.items()}
    return Markup(_FILL.sub(lambda m: values[m.group(1)], html))  # noqa: S704 — values escaped
