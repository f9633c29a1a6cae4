"""The real app plus a hello route and an empty page, served by `flask serve`'s own command.

    python -m flask --app bench.app_hello serve --port N

The pages benchmark compares pages with /bench/hello on this one server, and shows what
every logged-in page costs before its content: /bench/empty, base.html with nothing in it
(the session and its person, the header's facts, the CSRF token, the cached fragments).
"""

from flask import render_template

from forum import create_app

app = create_app()
EMPTY = app.jinja_env.from_string('{% extends "base.html" %}{% block content %}{% endblock %}')


@app.get("/bench/hello")
def hello() -> str:
    """The baseline: the same server, middleware and headers, no work."""
    return "hello"


@app.get("/bench/empty")
def empty() -> str:
    """The floor of every page: base.html around nothing."""
    return render_template(EMPTY)
