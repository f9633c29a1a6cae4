"""Forums, threads, messages (the no-JavaScript path), notifications and people."""

from __future__ import annotations

import uuid
from typing import cast
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from .. import policy
from ..errors import DomainError, Invalid, Muted, RateLimited
from ..formatting import iso_utc, page_language
from ..ids import whole_id
from ..models import Message, MessageState, User
from ..queries import agreement, payloads
from ..queries import forums as forum_queries
from ..services import forums as forum_service
from ..services import notifications as notification_service
from ..services import reactions as reaction_service
from .forms import ButtonForm, MultiCheckboxField, form_error
from .navigation import safe_next

bp = Blueprint("forums", __name__)


def viewer() -> User | None:
    return current_user if current_user.is_authenticated else None


def commitment_choices() -> list[SelectChoice]:
    lang = page_language()
    return [SelectChoice(str(c.id), c.title(lang)) for c in agreement.commitments()]


def _ids(values: list[str]) -> list[int]:
    ids = [whole_id(v) for v in values]  # a stale or altered form: a field error, not a 404
    if None in ids:
        raise Invalid(_("Unknown commitment."), field="commitments")
    return cast(list[int], ids)


VISIBILITY_CHOICES = [
    SelectChoice("public", _l("Everyone, also visitors who are not logged in")),
    SelectChoice("members", _l("Everyone who is logged in")),
    SelectChoice("invite", _l("Only invited members")),
]


class ForumForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired()])
    description = TextAreaField(_l("Description (markdown)"))
    visibility = RadioField(_l("Who can read it"), choices=VISIBILITY_CHOICES, default="public")
    commitments = MultiCheckboxField(_l("Commitments"))


class ThreadForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired()])
    commitments = MultiCheckboxField(_l("Commitments"))
    body = TextAreaField(_l("First message (markdown, optional)"))


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"))
    # The labels WTForms would make of the names (shown only in an error summary), given:
    # making them looks them up in WTForms' catalogue, which Flask-WTF reads from disk on
    # each request, and the thread page builds this form on every view.
    client_id = HiddenField("Client Id")
    reply_to = HiddenField("Reply To")
    # the newest message the page showed: a message posted without JavaScript moves the
    # poster's read marker past what others wrote while they typed, which they have not seen
    seen = HiddenField("Seen")


class EditForm(FlaskForm):
    body = TextAreaField(_l("Message"))


@bp.get("/forums")
def index():
    """All forums the visitor may read, with unread counts."""
    forums = forum_queries.visible_forums(viewer())
    unread = forum_queries.unread_by_forum(viewer(), [f.id for f in forums])
    return render_template("forums/index.html", forums=forums, unread=unread)


@bp.route("/forums/new", methods=["GET", "POST"])
@login_required
def new_forum():
    """Officials and admins open a forum."""
    policy.require(
        policy.can_create_forum(current_user), _("Only officials and admins can create forums.")
    )
    form = ForumForm()
    form.commitments.choices = commitment_choices()
    if form.validate_on_submit():
        try:
            forum = forum_service.create_forum(
                current_user,
                form.title.data,
                form.description.data,
                form.visibility.data,
                _ids(form.commitments.data or []),
            )
        except DomainError as err:
            form_error(form, err)
        else:
            flash(_("The forum is open."), "success")
            return redirect(url_for("forums.forum", slug=forum.slug))
    return render_template("forums/new_forum.html", form=form), 400 if form.errors else 200


def _forum_or_login(slug: str):
    """The forum, or None when a visitor must log in to read it."""
    try:
        return forum_queries.visible_forum(viewer(), slug)
    except DomainError as err:
        if err.code == "auth_required":
            return None
        raise


class PeopleForm(FlaskForm):
    email = StringField(_l("Email address"), validators=[InputRequired()])
    role = HiddenField(default="member")
    action = HiddenField(default="add")


@bp.route("/forums/<slug>/people", methods=["GET", "POST"])
@login_required
def forum_people(slug: str):
    """Invite members to and appoint moderators of a forum."""
    item = _forum_or_login(slug)
    policy.require(
        policy.can_manage_forum(current_user, item),
        _("Only admins and the forum's owner manage its people."),
    )
    form = PeopleForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                person = forum_service.change_forum_people(
                    current_user,
                    item,
                    form.email.data,
                    form.role.data,
                    form.action.data != "remove",
                )
            except DomainError as err:
                if err.status in (401, 403):
                    raise
                form_error(form, err)
            else:
                flash(_("Saved for %(name)s.", name=person.display_name), "success")
                return redirect(url_for("forums.forum_people", slug=item.slug))
        status = 400
    return render_template("forums/people.html", forum=item, form=form), status


class VisibilityForm(FlaskForm):
    # unknown values reach the service, which names the field in its error
    visibility = RadioField(
        _l("Who can read it"), choices=VISIBILITY_CHOICES, validate_choice=False
    )
    confirmed = HiddenField()


@bp.route("/forums/<slug>/visibility", methods=["GET", "POST"])
@login_required
def forum_visibility(slug: str):
    """Make a forum public, members-only or invite-only; taking reading away asks first,
    and whoever has its threads open and may no longer read them is cut off at once."""
    item = _forum_or_login(slug)
    policy.require(
        policy.can_set_forum_visibility(current_user, item),
        _("Only admins and the forum's owner change who can read it."),
    )
    if request.method == "GET":
        form = VisibilityForm(visibility=item.visibility.value)
        return render_template("forums/visibility.html", forum=item, form=form)
    form = VisibilityForm()
    if form.validate_on_submit():
        choice = form.visibility.data
        try:
            if form.confirmed.data != "1" and forum_service.narrows_visibility(item, choice):
                label = dict((c.value, c.label) for c in VISIBILITY_CHOICES)[choice]
                return render_template(
                    "forums/confirm_visibility.html", forum=item, form=form, label=label
                )
            forum_service.set_forum_visibility(current_user, item, choice)
        except DomainError as err:
            if err.status in (401, 403):
                raise
            form_error(form, err)
        else:
            flash(_("Saved: who can read the forum has changed."), "success")
            return redirect(url_for("forums.forum_visibility", slug=item.slug))
    return render_template("forums/visibility.html", forum=item, form=form), 400


@bp.route("/forums/<slug>", methods=["GET", "POST"])
def forum(slug: str):
    """A forum: description, commitments, moderators, threads, and a form to start one."""
    item = _forum_or_login(slug)
    if item is None:
        if request.method == "POST":  # written while the login ended: the text comes back
            policy.require_login(None)
        return redirect(url_for("auth.login", next=request.path))
    form = ThreadForm()
    form.commitments.choices = commitment_choices()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                thread = forum_service.start_thread(
                    viewer(),
                    item,
                    form.title.data,
                    _ids(form.commitments.data or []),
                    form.body.data,
                )
            except DomainError as err:
                # muted since the page was shown: the form again, with the reason and the text
                if err.status in (401, 403) and not isinstance(err, Muted):
                    raise
                form_error(form, err)
                status = err.status
            else:
                return redirect(url_for("forums.thread", thread_id=thread.id))
    threads = forum_queries.forum_threads(item)
    unread = forum_queries.unread_by_thread(viewer(), [t.id for t in threads])
    return render_template(
        "forums/forum.html", forum=item, threads=threads, unread=unread, form=form
    ), status


def _thread_or_login(thread_id: int):
    """The thread, or None when a visitor must log in to read it."""
    try:
        return forum_queries.visible_page_thread(viewer(), thread_id)
    except DomainError as err:
        if err.code == "auth_required":
            return None
        raise


def _thread_page(thread, form: MessageForm, status: int = 200):
    user = viewer()
    # taken before the page is read: the script's first join asks what changed since
    cursor = forum_queries.change_cursor()
    before = request.args.get("before", type=int)
    if before is not None and before < 1:  # nothing is older than the first message
        before = None
    marker = forum_queries.read_marker(user, thread.id)
    # back from posting without JavaScript: what came after the page the post was written
    # on is new, though sending moved the marker past it (post_message); once, so a reload
    # is the plain page
    seen = _landing(thread.id)
    shown_from = min(marker, seen) if seen is not None and before is None else marker
    if before is not None:
        page = forum_queries.messages_before(thread.id, before)
    else:
        page = forum_queries.latest_page(thread.id)
        first_shown = page.messages[0].id if page.messages else 0
        # from where the reader left off; a first visit (nothing read) starts at the latest
        # page, but a landing from a post written on an empty page at the first message
        resumed = bool(shown_from) or seen is not None
        if user is not None and resumed and page.messages and shown_from < first_shown - 1:
            catch_up = forum_queries.messages_after(thread.id, shown_from, limit=200)
            if not catch_up.has_more:
                older = forum_queries.messages_before(thread.id, shown_from + 1, limit=5)
                page = forum_queries.MessagePage(older.messages + catch_up.messages, older.has_more)
    messages = payloads.messages_dicts(page.messages, user.id if user is not None else None)
    first_unread = (
        next(
            (
                m["id"]
                for m in messages
                if m["id"] > shown_from and (user is None or m["author"]["id"] != user.id)
            ),
            None,
        )
        if user is not None
        else None
    )
    reply_to = None
    reply_id = request.args.get("reply_to", type=int) or (whole_id(form.reply_to.data))
    if reply_id:
        reply_to = forum_queries.reply_target(thread.id, reply_id)
    if not form.client_id.data or status == 200:
        form.client_id.data = uuid.uuid4().hex
    form.reply_to.data = str(reply_to.id) if reply_to else ""
    # what this page shows is read once it is shown (below), a failed post's page too
    form.seen.data = str(messages[-1]["id"] if messages and before is None else marker)
    # Decided before marking read: its commit expires the forum with the viewer's roles.
    muted = policy.muted_here(thread.forum)
    allowed = {
        "can_send": policy.can_send_message(user, thread) and not muted,
        # A member of a locked thread, or muted in its forum, gets the composer hidden, so
        # an unlock or the mute's end can show it live (thread.js).
        "can_take_part": policy.can_post_in_forum(user, thread.forum),
        "muted_until": thread.forum.viewer_muted_until,
        "can_moderate": policy.is_forum_moderator(user, thread.forum),
        "move_targets": _move_targets(user, thread),
    }
    newest_id = messages[-1]["id"] if messages else 0
    if user is not None and before is None and newest_id > marker:
        forum_service.mark_read(user, thread.id, newest_id)
    return render_template(
        "forums/thread.html",
        thread=thread,
        messages=messages,
        has_more=page.has_more,
        before=before,
        first_unread=first_unread,
        form=form,
        reply_to=reply_to,
        blank=blank_message(),
        cursor=iso_utc(cursor),
        **allowed,
    ), status


def _move_targets(user, thread) -> list:
    """Forums a moderator could move this thread to (none for everyone else)."""
    if not policy.can_moderate_thread(user, thread):
        return []
    from ..queries.moderation import moderated_forums

    return [f for f in moderated_forums(user) if f.id != thread.forum_id]


def blank_message() -> dict:
    """The empty message the page's <template> is rendered from (filled in by the script)."""
    return {
        "id": 0,
        "thread_id": 0,
        "author": {"id": 0, "display_name": "", "handle": "", "organisation": None},
        "html": "",
        "created_at": None,
        "edited_at": None,
        "reply_to": None,
        "reply_quote": None,
        "client_id": "",
        "state": "visible",
        "hidden_reason": None,
        "hidden_reasons": None,
    }


@bp.get("/threads/<int:thread_id>")
def thread(thread_id: int):
    """The chat page; works without JavaScript (latest page, link to older ones)."""
    item = _thread_or_login(thread_id)
    if item is None:
        return redirect(url_for("auth.login", next=request.full_path))
    return _thread_page(item, MessageForm())


@bp.post("/threads/<int:thread_id>/messages")
@login_required
def post_message(thread_id: int):
    """Post a message with a plain form (no JavaScript)."""
    item = _thread_or_login(thread_id)
    form = MessageForm()
    if not form.validate_on_submit():
        return _thread_page(item, form, 400)
    reply_to = whole_id(form.reply_to.data)
    try:
        message, _created = forum_service.send_message(
            current_user, thread_id, form.body.data or "", form.client_id.data or "", reply_to
        )
    except DomainError as err:
        # muted since the page was shown: the page again, with the reason and the text
        if err.status in (401, 403, 404) and not isinstance(err, Muted):
            raise
        if err.field is None and isinstance(err, RateLimited):
            err.field = "body"  # slow mode or the message rate: said beside the box
        form_error(form, err)
        return _thread_page(item, form, err.status)
    seen = _seen(form.seen.data)
    if seen is not None and forum_queries.others_wrote_between(
        thread_id, current_user.id, seen, message.id
    ):
        # others wrote while this was typed: the page marks their messages new and opens
        # at the first of them (the new message follows them). Kept in the session for the
        # thread's next page, not in its address: a reload, a bookmark or a shared link of
        # it would mark the same messages new again.
        session[_landing_key(thread_id)] = seen
        return redirect(url_for("forums.thread", thread_id=thread_id, _anchor="first-unread"))
    return redirect(url_for("forums.thread", thread_id=thread_id, _anchor=f"m{message.id}"))


def _seen(raw: str | None) -> int | None:
    """The newest message id a page showed, as its form sends it (0: none yet)."""
    return 0 if raw == "0" else whole_id(raw)


def _landing_key(thread_id: int) -> str:
    return f"seen:{thread_id}"


def _landing(thread_id: int) -> int | None:
    """The newest message id the page a post was written on showed, if that post's landing
    is still to come on this thread (post_message), taken out of the session: it counts
    once. An address's old ?seen= is ignored for the same reason."""
    key = _landing_key(thread_id)
    if key not in session:  # a plain view: the session is neither read further nor written
        return None
    seen = session.pop(key)
    return seen if type(seen) is int and seen >= 0 else None


def _message_or_404(message_id: int) -> Message:
    return forum_queries.visible_message(viewer(), message_id)


@bp.route("/messages/<int:message_id>/edit", methods=["GET", "POST"])
@login_required
def edit_message(message_id: int):
    """Edit one's own message without JavaScript."""
    message = _message_or_404(message_id)
    if request.method == "GET" or message.author_id != current_user.id:
        policy.require(
            policy.can_edit_message(current_user, message),
            _("You can only change your own messages."),
        )
    form = EditForm()
    status = 200
    if request.method == "GET":
        form.body.data = message.body
    elif form.validate_on_submit():
        try:
            forum_service.edit_message(current_user, message_id, form.body.data or "")
        except DomainError as err:
            # muted, hidden, deleted or locked since the page was shown: the form again,
            # with the reason and the text (the service says which)
            if err.status == 401:
                raise
            form_error(form, err)
            status = err.status
        else:
            return redirect(_back_to_message(message))
    if form.errors:
        status = max(status, 400)
    return render_template("forums/edit_message.html", form=form, message=message), status


@bp.post("/messages/<int:message_id>/delete")
@login_required
def delete_message(message_id: int):
    """Withdraw one's own message; a placeholder stays."""
    message = _message_or_404(message_id)
    deleted_before = message.state == MessageState.deleted and message.author_id == current_user.id
    if not deleted_before:  # a second tap (no confirmation without JavaScript) finds it done
        forum_service.delete_message(current_user, message_id)
    flash(_("Your message was deleted."), "success")
    return redirect(_back_to_message(message))


@bp.post("/messages/<int:message_id>/reactions")
@login_required
def react(message_id: int):
    """Add or take back a reaction (the path without JavaScript; the page uses the socket).

    The message's reaction bar is one form: the button pressed is `add=<emoji>` or
    `remove=<emoji>`. `emoji` with `action=add|remove` is what pages before that sent (a tab
    left open over an upgrade), and is still understood."""
    message = _message_or_404(message_id)
    if not ButtonForm().validate_on_submit():
        flash(_("The form had expired or was not sent from this site. Try again."), "error")
    else:
        form = request.form
        if "emoji" in form:  # a page from before the one-form bar
            emoji, remove = form.get("emoji"), form.get("action") == "remove"
        else:
            remove = "remove" in form
            emoji = form.get("remove" if remove else "add")
        try:
            reaction_service.react(current_user, message_id, emoji, add=not remove)
        except DomainError as err:
            # hidden or deleted since the page was drawn (a page without JavaScript is not
            # told): back to the thread, saying so, not to a "no such message" page
            if err.status in (401, 403) and not isinstance(err, Muted):
                raise
            flash(err.message, "error")
    return redirect(_back_to_message(message))


def _back_to_message(message: Message) -> str:
    """The thread page that shows the message, at the message: the page the form was sent
    from (an older page, `?before=`, keeps its place), else the newest page when the message
    is on it, else the older page that ends with it (an edit, sent from its own page)."""
    path = f"/threads/{message.thread_id}"
    came_from = urlsplit(request.referrer or "")
    before = None
    if came_from.netloc == request.host and came_from.path == path:
        before = whole_id(parse_qs(came_from.query).get("before", [""])[0])
        if before is not None and before <= message.id:
            before = None  # not a page that shows it
    if before is None and not forum_queries.on_latest_page(message):
        before = message.id + 1
    return url_for(
        "forums.thread", thread_id=message.thread_id, before=before, _anchor=f"m{message.id}"
    )


@bp.get("/messages/<int:message_id>/revisions")
@login_required
def revisions(message_id: int):
    """Earlier versions of a message: for its author and the forum's moderators."""
    message = _message_or_404(message_id)
    policy.require(
        policy.can_view_revisions(current_user, message),
        _("Only the author and moderators see earlier versions."),
    )
    items = forum_queries.revisions(message, policy.can_see_redacted_original(current_user))
    return render_template("forums/revisions.html", message=message, revisions=items)


@bp.get("/notifications")
@login_required
def notifications():
    """The notification centre: newest first, a page at a time (`before` an id), all of
    them or only the unread ones (`show=unread`), so every one the header counts is
    reachable."""
    raw = request.args.get("before")
    before = whole_id(raw)
    if raw and before is None:
        abort(400)
    unread_only = request.args.get("show") == "unread"
    page = forum_queries.notification_list(current_user, before, unread_only)
    return render_template(
        "forums/notifications.html",
        page=page,
        unread_only=unread_only,
        first_page=not raw,
        shown_excerpt=notification_service.shown_excerpt,
    )


@bp.post("/notifications/read")
@login_required
def notifications_read():
    """Mark one notification (or all) read."""
    raw = request.form.get("id")
    ids = None
    if raw:
        one = whole_id(raw)
        if one is None:
            abort(400)
        ids = [one]
    # "Mark all": up to the newest unread the page knew of (a form from before has none)
    raw_upto = request.form.get("upto")
    upto = whole_id(raw_upto) if raw_upto else None
    if raw_upto and upto is None:
        abort(400)
    notification_service.mark_read(current_user, ids, upto=upto)
    # back to the page the button was on (whatever is not a page is the first page)
    show = "unread" if request.form.get("show") == "unread" else None
    before = whole_id(request.form.get("before"))
    # at the notice the reader goes on with (the next one), not at the top of the page
    then = whole_id(request.form.get("then"))
    anchor = f"note-{then}" if then is not None else None
    return redirect(url_for("forums.notifications", show=show, before=before, _anchor=anchor))


@bp.get("/notifications/<int:notification_id>/open")
@login_required
def notification_open(notification_id: int):
    """Follow a notification's link and mark it read, so the bell and the list agree."""
    note = forum_queries.own_notification(current_user, notification_id)
    if note.read_at is None:
        notification_service.mark_read(current_user, [note.id])
    return redirect(safe_next(note.url) or url_for("forums.notifications"))


@bp.get("/people/<handle>")
def person(handle: str):
    """A person's public page: name and organisations."""
    user = forum_queries.person_by_handle(handle)
    organisations = payloads.author_organisations({user.id})
    return render_template(
        "forums/person.html", person=user, organisation=organisations.get(user.id)
    )
