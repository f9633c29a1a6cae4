"""Serving documents: only to those who may read the round or response, always as a download."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, redirect, url_for
from flask_login import current_user

from ..errors import NotFound
from ..services import documents as service

bp = Blueprint("documents", __name__)

# A document is never run or framed as a page of this site, whatever its bytes.
DOCUMENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _viewer():
    return current_user if current_user.is_authenticated else None


def _disposition(kind: str, filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@bp.get("/documents/<int:document_id>/<path:filename>")
def download(document_id: int, filename: str):
    """The document's bytes as an attachment, with the type its content was checked to be."""
    document = service.readable(_viewer(), document_id)
    if filename != document.filename:
        return redirect(
            url_for("documents.download", document_id=document.id, filename=document.filename)
        )
    data = service.content(document)
    response = Response(data, mimetype=document.content_type)
    response.headers["Content-Disposition"] = _disposition("attachment", document.filename)
    response.headers.update(DOCUMENT_HEADERS)
    return response


@bp.get("/documents/<int:document_id>/preview/first-page.png")
def preview(document_id: int):
    """The first page of a PDF as an image (made at upload when poppler-utils are present)."""
    document = service.readable(_viewer(), document_id)
    if document.preview_key is None:
        raise NotFound()
    response = Response(service.content(document, preview=True), mimetype="image/png")
    response.headers["Content-Disposition"] = "inline"
    response.headers.update(DOCUMENT_HEADERS)
    return response
