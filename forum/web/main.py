"""Home, the agreement, commitments, people and the language choice (health: web/health.py)."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from ..agreement_content import VISION_EN, VISION_SV
from ..formatting import days_until, long_date, page_language
from ..models.base import utcnow
from ..queries import agreement as agreement_queries
from ..queries import forums as forum_queries
from ..queries import start as start_queries
from ..services.follow_up import today
from .navigation import safe_next

bp = Blueprint("main", __name__)
bp.add_app_template_global(days_until, "days_until")


@bp.get("/")
def home():
    """The start page: a logged-in person's own overview; for everyone else the vision,
    active forums, the consultation rounds open now and the latest feedback."""
    user = _current_user()
    now = utcnow()
    if user is not None:
        return render_template(
            "start.html", start=start_queries.personal(user, now), now=now, today=today()
        )
    return render_template(
        "home.html",
        forums=forum_queries.visible_forums(None)[:6],
        start=start_queries.public(now),
        now=now,
        vision=VISION_EN if page_language() == "en" else VISION_SV,
    )


def _current_user():
    from flask_login import current_user

    return current_user if current_user.is_authenticated else None


@bp.get("/overenskommelsen")
def agreement():
    """The agreement: vision, six principles, thirteen commitments."""
    principles = agreement_queries.principles()
    commitments = agreement_queries.commitments()
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
    item = agreement_queries.commitment_by_slug(slug)
    visible = forum_queries.visible_forums(_current_user())
    forums = [f for f in visible if any(c.id == item.id for c in f.commitments)]
    threads = forum_queries.commitment_threads(item, {f.id for f in visible})
    return render_template("commitment.html", commitment=item, forums=forums, threads=threads)


# The date the accessibility statement was last reviewed (update it with the text).
STATEMENT_REVIEWED = date(2026, 12, 5)


@bp.get("/tillganglighet")
def accessibility():
    """The accessibility statement the law on digital public services (DOS-lagen) requires."""
    return render_template(
        "accessibility.html",
        reviewed=long_date(STATEMENT_REVIEWED),
        contact=current_app.config.get("FORUM_ACCESSIBILITY_CONTACT")
        or current_app.config["FORUM_MAIL_FROM"],
    )


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: the site can be added to a phone's home screen."""
    icon = lambda size: {  # noqa: E731
        "src": url_for("static", filename=f"icons/icon-{size}.png"),
        "sizes": f"{size}x{size}",
        "type": "image/png",
    }
    body = {
        "name": "Dialogforum",
        "short_name": "Dialogforum",
        "description": _("Dialogue and early consultation between the city and civil society."),
        "lang": page_language(),
        "start_url": url_for("main.home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#00507a",
        "icons": [
            icon(192),
            icon(512),
            {
                "src": url_for("static", filename="icons/icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            },
        ],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says; answer with the icon."""
    return current_app.send_static_file("icons/icon-32.png")


@bp.post("/language")
def set_language():
    """A visitor's language choice (a logged-in user's setting is on the settings page)."""
    choice = request.form.get("lang", "")
    if choice in ("sv", "en"):
        session["lang"] = choice
    return redirect(safe_next(request.form.get("next")) or url_for("main.home"))
