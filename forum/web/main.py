"""Home, the agreement, commitments, people and the language choice."""

from __future__ import annotations

from flask import (
    Blueprint,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..agreement_content import VISION_EN, VISION_SV
from ..errors import NotFound
from ..extensions import db
from ..models import Commitment, Principle, Thread
from ..queries import forums as forum_queries

bp = Blueprint("main", __name__)


def locale() -> str:
    return str(get_locale() or "sv")


@bp.get("/")
def home():
    """The start page: the vision, active forums and a way in."""
    forums = forum_queries.visible_forums(_current_user())[:6]
    return render_template(
        "home.html", forums=forums, vision=VISION_EN if locale() == "en" else VISION_SV
    )


def _current_user():
    from flask_login import current_user

    return current_user if current_user.is_authenticated else None


@bp.get("/overenskommelsen")
def agreement():
    """The agreement: vision, six principles, thirteen commitments."""
    principles = db.session.scalars(select(Principle).order_by(Principle.position)).all()
    commitments = db.session.scalars(select(Commitment).order_by(Commitment.position)).all()
    return render_template(
        "agreement.html",
        vision_sv=VISION_SV,
        vision_en=VISION_EN,
        principles=principles,
        commitments=commitments,
    )


@bp.get("/commitments/<slug>")
def commitment(slug: str):
    """One commitment and what hangs on it: forums and threads (later: rounds, actions)."""
    item = db.session.scalar(select(Commitment).where(Commitment.slug == slug))
    if item is None:
        raise NotFound(_("No such commitment."))
    user = _current_user()
    forums = [
        f for f in forum_queries.visible_forums(user) if any(c.id == item.id for c in f.commitments)
    ]
    visible_forum_ids = {f.id for f in forum_queries.visible_forums(user)}
    threads = [
        t
        for t in db.session.scalars(
            select(Thread)
            .where(Thread.commitments.any(Commitment.id == item.id))
            .order_by(Thread.id.desc())
        )
        if t.forum_id in visible_forum_ids
    ]
    return render_template("commitment.html", commitment=item, forums=forums, threads=threads)


@bp.post("/language")
def set_language():
    """A visitor's language choice (a logged-in user's setting is on the settings page)."""
    choice = request.form.get("lang", "")
    if choice in ("sv", "en"):
        session["lang"] = choice
    target = request.form.get("next") or url_for("main.home")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("main.home")
    return redirect(target)
