"""Accounts: register, log in and out, password reset, settings. (Being built.)"""

from flask import Blueprint

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    return "login"


@bp.route("/register", methods=["GET", "POST"])
def register():
    return "register"


@bp.post("/logout")
def logout():
    return "logout"


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    return "settings"


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    return "reset"
