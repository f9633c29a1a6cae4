"""The API's browsable reference: a page made from the OpenAPI document, and Swagger UI.

Swagger UI's files come from the installed `swagger-ui-bundle` package (no CDN);
the page that starts it loads a script from static/, so the CSP stays strict.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, send_from_directory

bp = Blueprint("api_reference", __name__, url_prefix="/api/v1/reference")

METHODS = ("get", "post", "put", "patch", "delete")


def _swagger_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


@bp.get("/")
def index():
    """Every operation of the API, from the generated OpenAPI document."""
    spec = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                op = item[method]
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": op.get("summary", ""),
                        "parameters": [p["name"] for p in op.get("parameters", [])],
                        "secured": bool(op.get("security")),
                    }
                )
    return render_template("api/reference.html", spec=spec, operations=operations)


@bp.get("/explorer")
def explorer():
    """Swagger UI, to try the API in the browser."""
    return render_template("api/explorer.html")


@bp.get("/assets/<path:filename>")
def assets(filename: str):
    """Swagger UI's files, from the installed package."""
    return send_from_directory(_swagger_dir(), filename, max_age=86400)
