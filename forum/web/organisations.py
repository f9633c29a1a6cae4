"""Organisations: register, join, approve members. (Being built.)"""

from flask import Blueprint

bp = Blueprint("organisations", __name__)


@bp.get("/organisations")
def index():
    return "organisations"
