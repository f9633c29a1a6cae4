"""What a review of languages and error messages found: a refused moderation form whose error
was a loose flash ("This field is required.") tied to no field, a skip link to a message box
that a locked thread hides, notification mails always marked Swedish, audit events shown as
"Other event" and reasons shown as raw English codes, English link text marked Swedish, and
a follow-up form's commitments error that no screen reader heard."""

from __future__ import annotations

import ast
import html
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from forum.extensions import db
from forum.labels import AUDIT_EVENTS
from forum.models import AppealOutcome, OutboxMail
from forum.services import moderation as moderation_service
from forum.services import notifications, privacy

FORUM = Path(__file__).resolve().parents[1] / "forum"


def page_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def tag(page: str, element: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    found = re.search(rf'<{element} [^>]*id="{re.escape(element_id)}"[^>]*>', page)
    assert found, f"no <{element} id={element_id}>"
    return found.group(0)


# --- 1. a refused moderation form tells its error beside the field ----------------------


@pytest.fixture
def flagged(make):
    """A site moderator and a message by someone else."""
    author = make.user()
    message = make.message(make.thread(author=author), author, "Ring mig på 070-123 45 67")
    return make.user("moderator"), message


REFUSALS = [
    # (op, what was sent, the field's id without the message id, words in the error)
    ("warn", {"note": "  "}, "warn-note", "Write the warning to the person."),
    ("mute", {"minutes": "60", "note": ""}, "mute-note", "Write the reason for the mute."),
    ("hide", {"reason": "other", "note": ""}, "hide-note", "Write the reason."),
    ("hide", {"reason": "nonsense", "note": "Kept"}, "hide-reason", "Choose a principle"),
    ("redact", {"replacement": "Hej", "note": "x" * 1001}, "redact-note", "At most 1000"),
]


@pytest.mark.parametrize("page", ["queue", "message"])
@pytest.mark.parametrize(("op", "sent", "field", "words"), REFUSALS)
def test_a_refused_moderation_form_names_its_field_beside_it(
    client, auth, flagged, page, op, sent, field, words
):
    """A moderator who sent a warning (or mute, hide, redaction) without its text got
    "This field is required." at the top of the page, tied to nothing: the textarea had
    no aria-invalid and no aria-describedby, and focus stayed at the top (header.js moves
    it to an [aria-invalid] field). The error is now beside the field, names what is
    missing, and the field keeps what was typed."""
    moderator, message = flagged
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    auth.login(moderator)
    sid = message.id
    response = client.post(
        f"/moderation/messages/{sid}/{op}", data={"from": page, "next": "/moderation", **sent}
    )
    text = page_of(response)
    assert response.status_code == 400
    element = "select" if field.endswith("reason") else "textarea"
    box = tag(text, element, f"{field}-{sid}")
    assert 'aria-invalid="true"' in box
    described = re.search(r'aria-describedby="([^"]*)"', box)
    assert described and f"{field}-{sid}-error" in described.group(1).split()
    error = re.search(rf'<p class="error" id="{field}-{sid}-error">([^<]*)</p>', text)
    assert error and words in error.group(1), error
    assert "This field is required." not in text
    assert "flash-error" not in text  # said once, beside the field
    assert text.count('aria-invalid="true"') == 1  # the one field focus goes to
    if element == "textarea" and sent.get("note", "").strip():
        assert f">{sent['note']}</textarea>" in text
    assert re.search(r'<details class="review-form" open>\s*<summary>[^<]*', text)


def test_a_refused_redaction_keeps_the_hint_beside_the_error(client, auth, flagged):
    """The redaction box already pointed at its hint; the error is added to it."""
    moderator, message = flagged
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    auth.login(moderator)
    sid = message.id
    response = client.post(
        f"/moderation/messages/{sid}/redact",
        data={"from": "message", "replacement": "x" * 10_001, "note": ""},
    )
    assert response.status_code == 400
    box = tag(page_of(response), "textarea", f"redact-text-{sid}")
    assert f'aria-describedby="redact-hint-{sid} redact-text-{sid}-error"' in box
    assert 'aria-invalid="true"' in box


def test_a_refused_appeal_decision_tells_its_note_beside_it(client, auth, flagged, make):
    """The appeal's explanation, too long: beside the explanation, not a loose flash."""
    _moderator, message = flagged
    decision = moderation_service.hide_message(make.user("moderator"), message.id, "other", "Nej")
    appeal = moderation_service.appeal(message.author, decision.id, "Det var inget fel")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    auth.login(make.user("moderator"))
    response = client.post(
        f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "upheld", "note": "x" * 1001}
    )
    text = page_of(response)
    assert response.status_code == 400
    box = tag(text, "textarea", f"appeal-note-{appeal.id}")
    assert f'aria-describedby="appeal-note-{appeal.id}-error" aria-invalid="true"' in box
    assert f'<p class="error" id="appeal-note-{appeal.id}-error">At most 1000' in text
    assert "flash-error" not in text


def test_a_refusal_about_no_field_is_still_flashed(client, auth, flagged, make):
    """Another moderator hid the message a moment earlier: that is about the message, not
    a field, and stays a flash (the note is kept)."""
    moderator, message = flagged
    moderation_service.hide_message(make.user("moderator"), message.id, "other", "Först")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    auth.login(moderator)
    response = client.post(
        f"/moderation/messages/{message.id}/hide",
        data={"from": "message", "reason": "other", "note": "Mitt skäl"},
    )
    text = page_of(response)
    assert response.status_code == 409
    assert '<p class="flash flash-error">This message is already hidden.</p>' in text
    assert 'aria-invalid="true"' not in text
    assert ">Mitt skäl</textarea>" in text


def test_a_refused_suspension_without_reason_says_which_reason(client, auth, make):
    """The people page's forms tied the error to the field already; its words were still
    the generic "This field is required."."""
    person = make.user()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    auth.login(make.user("admin"))
    response = client.post(
        "/moderation/people/suspend",
        data={"person": person.email, "minutes": "60", "reason": ""},
    )
    assert response.status_code == 400
    assert (
        '<p class="error" id="suspend-reason-error">Write the reason for the suspension.</p>'
        in (page_of(response))
    )


# --- 2. the skip link to the message box only when the box is there ---------------------


def _skip_link(page: str) -> str | None:
    found = re.search(r'<a class="skip-link" href="#body"[^>]*>', page)
    return found.group(0) if found else None


@pytest.mark.parametrize("how", ["lock", "archive"])
def test_no_skip_link_to_the_message_box_of_a_closed_thread(app, client, auth, make, how):
    """On a locked or archived thread a member still got "Skip to the message box", whose
    target is inside the hidden composer: the link led nowhere. It is there (for the live
    page to show when the thread opens again) but hidden, as the composer is."""
    moderator, member = make.user(), make.user()
    thread = make.thread(forum=make.forum(moderators=[moderator]), author=member)
    auth.login(member)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    link = _skip_link(page_of(client.get(f"/threads/{thread.id}")))
    assert link and 'id="skip-to-box"' in link and " hidden" not in link
    with app.test_request_context():
        if how == "lock":
            moderation_service.lock_thread(moderator, thread.id, True)
        else:
            moderation_service.archive_thread(moderator, thread.id, True)
    text = page_of(client.get(f"/threads/{thread.id}"))
    assert 'id="composer" hidden' in text
    link = _skip_link(text)
    assert link is None or " hidden" in link, link


def test_no_skip_link_to_a_message_box_the_reader_never_gets(client, auth, make):
    """A visitor has no message box at all: no link to one."""
    thread = make.thread()
    text = page_of(client.get(f"/threads/{thread.id}"))
    assert _skip_link(text) is None and 'id="composer"' not in text


# --- 3. mails in the recipient's language say so -----------------------------------------


@pytest.mark.parametrize(("locale", "lang"), [("en", "en"), ("sv", "sv"), (None, "sv")])
@pytest.mark.parametrize("request_lang", ["sv", "en"])
def test_a_notification_mail_is_marked_in_its_readers_language(
    app, make, locale, lang, request_lang
):
    """Every HTML mail said <html lang="sv"> (the template asked for a get_locale that is
    not defined there), also an English reader's: a mail reader's speech read English
    text with Swedish pronunciation. The mail's language is the reader's, not that of the
    request that caused it."""
    reader = make.user()
    reader.locale = locale
    db.session.commit()
    with app.test_request_context(headers={"Accept-Language": request_lang}):
        _body, mail, _stop = notifications._mail_parts(
            reader, "mention", "Anna", "Hej", "/threads/1"
        )
    assert re.search(r'<html lang="([^"]*)"', mail).group(1) == lang
    assert ("Stop these mails" in mail) == (lang == "en")


def test_a_digest_is_marked_in_its_readers_language(app, make):
    """The daily summary is rendered by the same template: the same mark."""
    reader, other = make.user(), make.user()
    reader.locale = "en"
    db.session.commit()
    with app.test_request_context(headers={"Accept-Language": "sv"}):
        notifications.save_preferences(reader, {"action_update": "digest"})
        notifications.deliver([reader], "action_update", "Uppdatering", "/actions/1", actor=other)
        db.session.commit()
        assert notifications.send_digests() == 1
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == reader.email))
    assert mail is not None and mail.html_body
    assert re.search(r'<html lang="([^"]*)"', mail.html_body).group(1) == "en"
    assert "daily summary" in mail.subject


# --- 4. the audit log has words for every event the app records -------------------------


def _audit_rows(page: str) -> list[list[str]]:
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)
    ]


@pytest.mark.parametrize(
    ("lang", "other", "visibility", "closed"),
    [
        ("en", "Other event", "Public → Invite only", "by an admin"),
        ("sv", "Annan händelse", "Öppet för alla → Bara inbjudna", None),
    ],
)
def test_the_audit_log_names_events_and_reasons_the_app_records(
    app, client, auth, make, lang, other, visibility, closed
):
    """A forum's change of readers read "Other event" with the reason "public → invite",
    a closed account "Other event" with "admin" or "self", on Swedish pages too. The
    stored reasons stay as they are (old rows show the same words)."""
    from forum.services import forums as forum_service

    admin, owner, leaver = make.user("admin"), make.user("official"), make.user()
    forum = make.forum(owner=owner)
    with app.test_request_context():
        forum_service.set_forum_visibility(owner, forum, "invite")
        privacy.close_account(admin, leaver.id, None, "127.0.0.1")
    auth.login(admin)
    text = page_of(client.get("/moderation/audit", headers={"Accept-Language": lang}))
    shown = {(r[2], r[5]) for r in _audit_rows(text) if len(r) >= 6}
    assert not [row for row in shown if row[0] == other], shown
    assert any(why == visibility for _what, why in shown), shown
    if closed:  # the new words are not translated yet in Swedish
        assert any(why == closed for _what, why in shown), shown
    assert not [
        why
        for _what, why in shown
        if why in ("self", "admin") or re.search(r"\b(public|invite|members)\b", why)
    ]


@pytest.mark.parametrize(("lang", "words"), [("sv", "efter överklagande"), ("en", "on appeal")])
def test_a_restore_on_appeal_says_so_in_the_readers_language(
    app, client, auth, make, db, lang, words
):
    """The audit log's "Message restored" row gave its reason as the code word "appeal",
    in English on Swedish pages too."""
    from forum.models import Appeal

    hider, decider = make.user(name="Maja Moderator"), make.user(name="Alva Admin")
    forum = make.forum(moderators=[hider, decider])
    author = make.user(name="Mira Medlem")
    message = make.message(make.thread(forum=forum, author=author), author, "070-123 45 67")
    with app.test_request_context():
        action = moderation_service.hide_message(hider, message.id, "other", "Personuppgifter")
        moderation_service.appeal(author, action.id, "Det var föreningens nummer")
        appeal = db.session.scalar(select(Appeal))
        moderation_service.decide_appeal(decider, appeal.id, "reversed", "Du har rätt.")
    auth.login(decider)
    text = page_of(client.get("/moderation/audit", headers={"Accept-Language": lang}))
    rows = [r for r in _audit_rows(text) if len(r) >= 6]
    restored = [r for r in rows if r[2] in ("Meddelande återställt", "Message restored")]
    assert restored and restored[0][5] == words, rows
    assert not [r for r in rows if r[5] == "appeal"]


# Codes built at run time (an f-string), with every code they can make. A new f-string code
# fails the test below until it is listed here, with a label for each code it makes.
BUILT_CODES = {
    "f'appeal.{result.value}'": {f"appeal.{o.value}" for o in AppealOutcome} - {"appeal.lapsed"},
    "f\"forum.{role}.{('added' if add else 'removed')}\"": {
        f"forum.{role}.{change}"
        for role in ("member", "moderator")
        for change in ("added", "removed")
    },
}


def _recorded_codes() -> tuple[set[str], set[str]]:
    """Every audit code in forum/ passed to audit.record (also imported under another name),
    or to a function that hands one of its parameters on to it (moderation's
    _thread_changed): (the codes, the f-strings not listed in BUILT_CODES)."""
    codes: set[str] = set()
    unknown: set[str] = set()
    trees = {path: ast.parse(path.read_text()) for path in FORUM.rglob("*.py")}

    def constants(node: ast.AST, scopes: list[ast.AST]) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            codes.add(node.value)
        elif isinstance(node, ast.IfExp):
            constants(node.body, scopes)
            constants(node.orelse, scopes)
        elif isinstance(node, ast.JoinedStr):
            source = ast.unparse(node)
            if source in BUILT_CODES:
                codes.update(BUILT_CODES[source])
            else:
                unknown.add(source)
        elif isinstance(node, ast.Name):  # a name given a code in the function, or the module
            function, module = scopes
            for statements in (list(ast.walk(function)), module.body):
                values = [
                    assign.value
                    for assign in statements
                    if isinstance(assign, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == node.id for t in assign.targets)
                ]
                if values:
                    for value in values:
                        constants(value, scopes)
                    return
            unknown.add(node.id)
        else:
            unknown.add(ast.unparse(node))

    # recorder name -> the position of its code argument; "audit.record" is the service
    recorders: dict[str, int] = {"audit.record": 1}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("audit"):
                for alias in node.names:
                    if alias.name == "record":
                        recorders[alias.asname or alias.name] = 1
    changed = True
    while changed:  # a function passing its own parameter on as the code is a recorder too
        changed = False
        for tree in trees.values():
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef):
                    continue
                params = [a.arg for a in function.args.args]
                for call in ast.walk(function):
                    at = _recorder_position(call, recorders)
                    if at is None or len(call.args) <= at:
                        continue
                    arg = call.args[at]
                    if isinstance(arg, ast.Name) and arg.id in params:
                        if recorders.get(function.name) != params.index(arg.id):
                            recorders[function.name] = params.index(arg.id)
                            changed = True
    for tree in trees.values():
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            params = [a.arg for a in function.args.args]
            for call in ast.walk(function):
                at = _recorder_position(call, recorders)
                if at is None:
                    continue
                arg = call.args[at] if len(call.args) > at else None
                arg = arg or next((k.value for k in call.keywords if k.arg == "action"), None)
                if arg is None or (isinstance(arg, ast.Name) and arg.id in params):
                    continue  # the recorder itself, handing its parameter on
                constants(arg, [function, tree])
    return codes, unknown


def _recorder_position(node: ast.AST, recorders: dict[str, int]) -> int | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return recorders.get(f"{func.value.id}.{func.attr}")
    if isinstance(func, ast.Name):
        return recorders.get(func.id)
    return None


def test_every_audit_code_the_app_records_has_a_label():
    """A code without a label is shown as "Other event": forum.visibility, account.close,
    the API tokens and most of a consultation round's changes were. This finds every code
    passed to the audit log in forum/, so a new one without a label fails here."""
    codes, unknown = _recorded_codes()
    assert not unknown, f"codes the test cannot read; list them in BUILT_CODES: {unknown}"
    # the scan finds what it should: a literal, an aliased import, a recorder's caller,
    # a module constant and an f-string
    assert {"forum.visibility", "api_token.create", "thread.locked", "demo.completed"} <= codes
    assert {"appeal.upheld", "forum.member.added", "user.unmuted"} <= codes
    assert sorted(codes - set(AUDIT_EVENTS)) == []


# --- 5. the accessibility statement's link to Digg -----------------------------------------


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_the_link_to_digg_says_where_it_leads_not_that_its_text_is_swedish(client, lang):
    """The English statement marked its English link text "Report to Digg (digg.se)" as
    Swedish (lang="sv"), so a screen reader read it with Swedish pronunciation. The
    target's language is hreflang; the text is in the page's language."""
    text = page_of(client.get("/tillganglighet", headers={"Accept-Language": lang}))
    link = re.search(r'<a href="https://www\.digg\.se/[^"]*"[^>]*>', text).group(0)
    assert 'hreflang="sv"' in link
    assert " lang=" not in link


# --- 6. the follow-up form's commitments error is tied to its fieldset --------------------


def test_a_proposed_action_without_commitments_says_so_to_the_fieldset(client, auth, make):
    """ "Choose at least one commitment." was printed under the checkboxes without an id,
    and nothing referred to it: moving through the checkboxes, a screen reader user never
    heard it. The forum form ties the same error to its fieldset."""
    official = make.user("official")
    auth.login(official)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post(
        "/actions/new",
        data={
            "title": "Öppna lokalerna på kvällen",
            "owner": f"department:{official.department_id}",
            "due_date": f"{datetime.now(UTC).year + 1}-06-01",
            "description": "",
        },
    )
    text = page_of(response)
    assert response.status_code == 400
    fieldset = re.search(r'<fieldset[^>]*id="commitments-set"[^>]*>.*?</fieldset>', text, re.S)
    assert fieldset
    opening = fieldset.group(0).split(">", 1)[0]
    assert 'aria-describedby="commitments-error"' in opening
    error = re.search(r'<p class="error" id="commitments-error">([^<]*)</p>', fieldset.group(0))
    assert error and "commitment" in error.group(1)
    # read before the boxes, as on the forum form
    assert fieldset.group(0).index('id="commitments-error"') < fieldset.group(0).index("checkbox")


@pytest.mark.parametrize(("field", "sent"), [("stage", {"stage": ""}), ("audience", {})])
def test_a_round_forms_choice_errors_are_tied_to_their_fieldsets(client, auth, make, field, sent):
    """The same on the consultation round form: the stage's and the audience's errors had
    no id and their fieldsets referred to nothing."""
    auth.login(make.user("official"))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    data = {
        "title": "Lokaler",
        "problem": "Hur delar vi lokaler?",
        "stage": "options",
        "audience": "nonsense",
        "commitments": [str(make.commitment_ids(1)[0])],
        "opens_at": "2030-10-01T09:00",
        "closes_at": "2030-10-20T09:00",
        "question-1": "Vilka lokaler använder ni?",
        **sent,
    }
    response = client.post("/consultations/new", data=data)
    text = page_of(response)
    assert response.status_code == 400
    error = re.search(rf'<p class="error" id="{field}-error">[^<]+</p>', text)
    assert error, text[text.find("error-summary") - 50 :][:800]
    assert f'<fieldset aria-describedby="{field}-error">' in text
