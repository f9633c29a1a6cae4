"""The real app plus a hello route, served by the same `flask ... serve` command.

    python -m flask --app bench.app_hello serve --port N

The pages benchmark compares pages with /bench/hello on this one server.
"""

from forum import create_app

app = create_app()


@app.get("/bench/hello")
def hello() -> str:
    """The baseline: the same server, middleware and headers, no work."""
    return "hello"
