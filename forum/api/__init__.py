"""The open-data JSON API under /api/v1/ (flask-smorest, OpenAPI 3.1)."""

from __future__ import annotations

from flask import Flask


def init_api(app: Flask) -> None:
    """Attach the API blueprints, the spec and the rate limiter to `app`."""
