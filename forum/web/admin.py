"""Admin: verify organisations, appoint roles. (Being built.)"""

from flask import Blueprint

bp = Blueprint("admin", __name__)


@bp.get("/admin")
def index():
    return "admin"
