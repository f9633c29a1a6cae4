"""Exports under review: what an archive must leave out (a redacted original, a private
warning) and must keep (thread moderation, moved threads), archives built without holding
them in memory, "download my data" that survives a dying worker and a double click and
whose expired copies the embedded clock deletes, CSV cells no spreadsheet runs, the audit
log's "who" filter, and the archive command's ids."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from consultation_support import make_round, respond
from sqlalchemy import select, update
from support import at_once
from test_exports import check_manifest, open_zip

from forum import scheduler
from forum.config import parse_rate_limit
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.ids import MAX_ID
from forum.models import OutboxMail, PersonalExport, User
from forum.models.base import utcnow
from forum.services import consultations as consultation_service
from forum.services import documents, exports, moderation
from forum.services.storage import DiskStorage
from forum.web import exports as exports_web
from forum.web.exports import spreadsheet_safe

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def thread_archive(app, admin, thread_id: int) -> tuple[dict, str]:
    """(data.json's thread, index.html) of a thread's archive."""
    with app.test_request_context():
        _name, built = exports.build_archive(admin, "thread", thread_id)
    files = open_zip(built)
    return json.loads(files["data.json"])["thread"], files["index.html"].decode()


# --- what an archive holds ---------------------------------------------------------


def test_archive_leaves_out_a_redacted_original_but_keeps_the_redaction(app, make):
    admin, moderator, author = make.user("admin"), make.user("moderator"), make.user()
    thread = make.thread(author=author)
    message = make.message(thread, author, "Ring grannen Kalle på 070-1234567")
    with app.test_request_context():
        moderation.redact_message(moderator, message.id, "Ring grannen [borttaget]", "telefon")

    record, page = thread_archive(app, admin, thread.id)

    assert "070-1234567" not in json.dumps(record) and "070-1234567" not in page
    (entry,) = record["messages"]
    assert entry["revisions"] == []
    assert [a["kind"] for a in entry["moderation"]] == ["redact"]
    assert "[borttaget]" in entry["html"] and "telefon" in page


def test_archive_leaves_out_a_private_warning_but_keeps_a_hide(app, make):
    admin, moderator, author = make.user("admin"), make.user("moderator"), make.user()
    thread = make.thread(author=author)
    message = make.message(thread, author, "Ett vanligt inlägg")
    with app.test_request_context():
        moderation.warn_person(moderator, author.id, "Tredje varningen i år", message_id=message.id)
        moderation.hide_message(moderator, message.id, "other", "Utanför ämnet")

    record, page = thread_archive(app, admin, thread.id)

    assert "Tredje varningen" not in json.dumps(record) and "Tredje varningen" not in page
    (entry,) = record["messages"]
    assert [a["kind"] for a in entry["moderation"]] == ["hide"]


def test_thread_archive_holds_renames_locks_and_moves(app, make):
    """A rename is kept with its time and the new title only: renaming is how a moderator
    takes away a title that names someone, so the old title is nowhere in the archive."""
    admin, author = make.user("admin"), make.user()
    first, second = make.forum(title="Första forumet"), make.forum(title="Andra forumet")
    thread = make.thread(forum=first, author=author, title="Kalle i Bergsjön bråkar")
    make.message(thread, author, "Hej")
    with app.test_request_context():
        moderation.rename_thread(admin, thread.id, "Bråk → Bergsjön")
        moderation.lock_thread(admin, thread.id)
        moderation.move_thread(admin, thread.id, second.id)
        moderation.rename_thread(admin, thread.id, "Bråk i Bergsjön")
        _name, built = exports.build_archive(admin, "thread", thread.id)

    files = open_zip(built)
    record = json.loads(files["data.json"])["thread"]
    page = files["index.html"].decode()

    actions = [(a["action"], a["reason"], a.get("title")) for a in record["moderation"]]
    assert actions == [
        ("thread.renamed", "", "Bråk → Bergsjön"),
        ("thread.locked", "", None),
        ("thread.moved", "from Första forumet", None),
        ("thread.moved", "to Andra forumet", None),
        ("thread.renamed", "", "Bråk i Bergsjön"),
    ]
    assert all(a["created_at"] for a in record["moderation"])
    assert "Bråk → Bergsjön" in page and "thread.locked" in page and "to Andra forumet" in page
    for name, data in files.items():
        assert "Kalle i Bergsjön".encode() not in data, name


@pytest.mark.parametrize("visibility", ["invite", "members"])
def test_a_thread_archive_does_not_name_a_forum_its_readers_cannot_read(app, make, visibility):
    admin, author = make.user("admin"), make.user()
    public = make.forum(title="Öppet forum")
    closed = make.forum(title="Stödgrupp i Hisingen", visibility=visibility, members=[author])
    thread = make.thread(forum=closed, author=author, title="Allmän fråga")
    make.message(thread, author, "Hej")
    with app.test_request_context():
        moderation.move_thread(admin, thread.id, public.id)

    record, page = thread_archive(app, admin, thread.id)

    moves = [(a["reason"], a["forum_id"]) for a in record["moderation"]]
    assert moves == [("", closed.id), ("to Öppet forum", public.id)]
    assert "Stödgrupp" not in json.dumps(record, ensure_ascii=False) and "Stödgrupp" not in page
    assert f"forum #{closed.id}" in page


def test_forum_archive_lists_threads_moved_out_without_their_messages(app, make):
    admin, author = make.user("admin"), make.user()
    first, second = make.forum(title="Första forumet"), make.forum(title="Andra forumet")
    moved = make.thread(forum=first, author=author, title="Flyttad tråd")
    make.message(moved, author, "Meddelande i den flyttade tråden")
    came = make.thread(forum=second, author=author, title="Inflyttad tråd")
    stayed = make.thread(forum=first, author=author, title="Kvar")
    with app.test_request_context():
        moderation.move_thread(admin, moved.id, second.id)
        moderation.move_thread(admin, came.id, first.id)
        _name, built = exports.build_archive(admin, "forum", first.id)
    files = open_zip(built)
    record = json.loads(files["data.json"])["forum"]
    page = files["index.html"].decode()

    assert [t["id"] for t in record["threads"]] == [came.id, stayed.id]
    (out,) = record["moved_out"]
    assert (out["id"], out["title"], out["to_forum"]) == (
        moved.id,
        "Flyttad tråd",
        {"id": second.id, "title": "Andra forumet"},
    )
    assert out["moved_at"]
    assert "Flyttad tråd" in page and "Andra forumet" in page
    assert "Meddelande i den flyttade tråden" not in json.dumps(record) + page


def test_a_forum_archive_names_no_thread_moved_where_its_readers_cannot_follow(app, make):
    """Moved into an invite-only forum: the ids and the time, not the forum's or the
    thread's title. Between two invite-only forums too; into a public one, both named."""
    admin, author = make.user("admin"), make.user()
    public = make.forum(title="Öppet forum")
    secret = make.forum(
        title="Stödgrupp våld i nära relationer", visibility="invite", members=[author]
    )
    other_secret = make.forum(title="Styrelsens rum", visibility="invite")
    hidden = make.thread(forum=public, author=author, title="Anna på Hisingen")
    kept = make.thread(forum=secret, author=author, title="Till det öppna")
    between = make.thread(forum=secret, author=author, title="Mellan grupperna")
    with app.test_request_context():
        moderation.move_thread(admin, hidden.id, secret.id)
        moderation.move_thread(admin, kept.id, public.id)
        moderation.move_thread(admin, between.id, other_secret.id)
        archives = {
            forum.id: open_zip(exports.build_archive(admin, "forum", forum.id)[1])
            for forum in (public, secret)
        }

    out_of_public = json.loads(archives[public.id]["data.json"])["forum"]["moved_out"]
    out_of_secret = json.loads(archives[secret.id]["data.json"])["forum"]["moved_out"]

    assert [(t["id"], t["title"], t["to_forum"]) for t in out_of_public] == [
        (hidden.id, "", {"id": secret.id, "title": ""})
    ]
    assert out_of_public[0]["moved_at"]
    page = archives[public.id]["index.html"].decode()
    assert "Stödgrupp" not in page and "Anna på Hisingen" not in page
    assert [(t["title"], t["to_forum"]["title"]) for t in out_of_secret] == [
        ("Till det öppna", "Öppet forum"),
        ("", ""),
    ]
    assert "Styrelsens rum" not in archives[secret.id]["index.html"].decode()


# --- archives are written to a file, not held in memory ----------------------------


def test_round_archive_is_built_without_holding_its_documents_in_memory(
    app, make, client, auth, tmp_path
):
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")
    admin, official = make.user("admin"), make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official)
    size, count = 4 * 1024 * 1024, 5
    with app.test_request_context():
        for i in range(count):
            pdf = simple_pdf([f"Underlag {i}"]) + os.urandom(size) + b"\n%%EOF\n"
            documents.add_round_document(official, round_.id, f"Underlag {i}.pdf", pdf)

    tracemalloc.start()
    try:
        with app.test_request_context():
            _name, built = exports.build_archive(admin, "round", round_.id)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < count * size  # it was about 2.3 times the documents' total
    files = open_zip(built)
    check_manifest(files)
    assert sum(1 for name in files if name.startswith("documents/")) == count
    # the admin page sends that file as the download
    auth.login(admin)
    response = client.post("/admin/archive", data={"kind": "round", "object_id": str(round_.id)})
    assert response.status_code == 200
    check_manifest(open_zip(response.data))
    response.close()  # the archive's temporary file goes with it


# --- "download my data" ------------------------------------------------------------


def test_a_copy_whose_worker_died_is_prepared_again(app, make):
    owner = make.user()
    first = exports.request_personal_export(owner)
    assert exports._claim(first.id)  # a worker takes it, and is killed while building it
    assert not exports._claim(first.id)  # held: a second worker leaves it alone
    with app.test_request_context():
        assert exports.run_pending_exports() == 0

    db.session.execute(
        update(PersonalExport).values(claimed_until=utcnow() - timedelta(seconds=1))
    )  # the claim has run out
    db.session.commit()
    again = exports.request_personal_export(owner)
    assert again.id == first.id and again.status == "pending"
    with app.test_request_context():
        assert exports.run_pending_exports() == 1
    db.session.refresh(again)
    assert again.status == "ready" and again.claimed_until is None
    assert (exports.exports_dir() / again.file_name).exists()


def test_a_running_copy_from_before_claims_is_taken_up(app, make):
    owner = make.user()
    export = exports.request_personal_export(owner)
    db.session.execute(update(PersonalExport).values(status="running", claimed_until=None))
    db.session.commit()
    with app.test_request_context():
        assert exports.run_pending_exports() == 1
    db.session.refresh(export)
    assert export.status == "ready"


def test_requests_at_once_make_one_copy_and_one_mail(app, make):
    owner = make.user()
    owner_id, address = owner.id, owner.email

    def ask(_i: int) -> int:
        person = db.session.get(User, owner_id)
        return exports.request_personal_export(person).id

    results = at_once(app, ask, 6)

    rows = db.session.scalars(
        select(PersonalExport).where(PersonalExport.user_id == owner_id)
    ).all()
    assert len(rows) == 1
    assert results == [rows[0].id] * 6, results
    with app.test_request_context():
        exports.run_pending_exports()
    mails = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == address)).all()
    assert len(mails) == 1
    # once it is ready, asking again within the hour gets that copy; after it, a new one
    assert exports.request_personal_export(db.session.get(User, owner_id)).id == rows[0].id
    db.session.execute(update(PersonalExport).values(ready_at=utcnow() - exports.KEEP_READY))
    db.session.commit()
    assert exports.request_personal_export(db.session.get(User, owner_id)).id != rows[0].id


def test_the_embedded_clock_deletes_expired_copies(app, make, monkeypatch):
    owner = make.user()
    export = exports.request_personal_export(owner)
    with app.test_request_context():
        exports.prepare_personal_export(export.id)
    db.session.refresh(export)
    path = exports.exports_dir() / export.file_name
    assert path.exists()
    waiting_id = exports.request_personal_export(make.user()).id  # and one left waiting
    export_id = export.id
    db.session.execute(
        update(PersonalExport)
        .where(PersonalExport.id == export_id)
        .values(expires_at=utcnow() - timedelta(days=1))
    )
    db.session.commit()
    monkeypatch.setattr("forum.services.mail.deliver_pending", lambda *a, **k: 0)

    scheduler.run_due_jobs(app, None, datetime.now(UTC))

    assert not path.exists()
    db.session.expire_all()
    assert db.session.get(PersonalExport, export_id) is None
    assert db.session.get(PersonalExport, waiting_id).status == "ready"


def test_the_test_apps_instance_folder_is_the_tests_own(app, tmp_path):
    assert exports.exports_dir().is_relative_to(tmp_path)
    assert Path(app.instance_path).is_relative_to(tmp_path)


# --- CSV ---------------------------------------------------------------------------


ORDINARY = [
    "Vi föreslår:\n- fler bänkar\n+ längre öppettider",
    "500,-/år",
    "Mellan -3,-5 grader",
    "a;b",
    'Hon sa "ja"; vi, nej',
]
FORMULAS = ["Vi håller med;=2+3;", "a,@SUM(1)", "rad ett\r\n-2+3", "=1"]


@pytest.mark.parametrize(
    ("text", "safe"), [("=1", "'=1"), ("@A1", "'@A1"), ("-3,-5 grader", "'-3,-5 grader")]
)
def test_a_formula_at_a_cells_start_is_quoted(text, safe):
    assert spreadsheet_safe(text) == safe


@pytest.mark.parametrize("text", [*ORDINARY, "rad ett\n=2"])
def test_only_a_cells_start_is_changed(text):
    assert spreadsheet_safe(text) == text
    assert spreadsheet_safe(-3) == "-3" and spreadsheet_safe(0.5) == "0.5"


@pytest.mark.parametrize(("suffix", "separator"), [("", ","), ("?format=excel", ";")])
@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_comes_back_unchanged(app, make, client, suffix, separator, text):
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin)
    round_ = make_round(app, make, official)
    respond(app, org_admin, round_, org, text=text)
    with app.test_request_context():
        consultation_service.close_round(official, round_.id)

    response = client.get(f"/consultations/{round_.id}/export.csv{suffix}")

    body = response.get_data(as_text=True).lstrip("\ufeff")
    cells = [c for row in csv.reader(io.StringIO(body), delimiter=separator) for c in row]
    assert f"{text} 1" in cells


@pytest.mark.parametrize(("excel", "separator"), [(False, ";"), (True, ",")])
def test_a_cell_with_the_other_separator_is_quoted_so_it_stays_whole(app, excel, separator):
    """Swedish Excel opens the comma file at ";" (and a "," reader the Excel file): a cell
    holding either separator, a quote or a line break begins with a quote in both files,
    so that reading keeps it whole instead of starting a cell with "=" inside it."""
    rows = [[text, 2] for text in ORDINARY + FORMULAS]
    text = exports_web.csv_text(["Svar", "Antal"], rows)
    if excel:
        with app.test_request_context():
            text = exports.excel_csv(text).decode("utf-8-sig")

    cells = [
        c
        for row in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=separator)
        for c in row
    ]

    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    for typed in ORDINARY + FORMULAS[:-1]:
        assert any(typed in cell for cell in cells), typed


# --- the audit log's "who" filter ----------------------------------------------------


def test_only_admins_find_people_in_the_audit_log_by_email(app, make, client, auth):
    reader = make.user(name="Mona Moderator")
    other = make.user(name="Nils Moderator", email="nils.privat@example.se")
    forum = make.forum(moderators=[reader, other])
    author = make.user()
    message = make.message(make.thread(forum=forum, author=author), author, "Hej")
    with app.test_request_context():
        moderation.hide_message(other, message.id, "other", "Skräp")

    auth.login(reader)
    by_email = client.get("/moderation/audit?actor=nils.privat@example.se").get_data(True)
    by_handle = client.get(f"/moderation/audit?actor=@{other.handle}").get_data(True)
    assert "Nils Moderator" not in by_email
    assert "Nils Moderator" in by_handle

    auth.login(make.user("admin"))
    assert "Nils Moderator" in client.get(
        "/moderation/audit?actor=nils.privat@example.se"
    ).get_data(True)


# --- the archive command -------------------------------------------------------------


@pytest.mark.parametrize("raw", ["99999999999999999999999", str(MAX_ID + 1), "0", "-3"])
def test_archive_command_refuses_an_impossible_id_with_a_usage_error(app, make, tmp_path, raw):
    admin = make.user("admin")
    out = tmp_path / "arkiv.zip"
    result = app.test_cli_runner().invoke(
        args=["export", "archive", "--out", str(out), "--admin", admin.email, "--", "thread", raw]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
    assert not out.exists()


def test_a_hide_under_a_principle_names_it_in_the_archive_and_on_the_moderators_pages(
    app, make, client, auth
):
    """The principle is kept apart from the note (e26hidden): the archive, the message's
    decisions and the appeals queue name it, also with no note and after the hide is lifted."""
    from sqlalchemy import select

    from forum.extensions import db
    from forum.models import ModerationAction, Principle

    admin, moderator, author = make.user("admin"), make.user("moderator"), make.user()
    thread = make.thread(author=author)
    message = make.message(thread, author, "Ett inlägg")
    principle = db.session.scalar(select(Principle).order_by(Principle.position))
    with app.test_request_context():
        action = moderation.hide_message(moderator, message.id, principle.slug, "")
        moderation.appeal(author, action.id, "Jag bröt inte mot något.")
    both = f"{principle.name_sv} ({principle.name_en})"

    auth.login(admin)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "sv"
    queue = client.get("/moderation").get_data(as_text=True)
    assert f"{principle.name_sv}</p>" in queue  # "Reason given: <principle>"
    decisions = client.get(f"/moderation/messages/{message.id}").get_data(as_text=True)
    assert f"— {principle.name_sv}" in decisions

    with app.test_request_context():
        moderation.restore_message(moderator, message.id)
    assert db.session.get(ModerationAction, action.id).reversed_at is not None
    record, _page = thread_archive(app, admin, thread.id)
    (entry,) = record["messages"]
    assert [(a["kind"], a["reason"]) for a in entry["moderation"]][0] == ("hide", both)


# --- a copy's file that cannot be deleted (a permission refused) ---------------------------


def ready_copy(app, owner) -> PersonalExport:
    export = exports.request_personal_export(owner)
    with app.test_request_context():
        exports.prepare_personal_export(export.id)
    db.session.refresh(export)
    return export


def refuse_unlink(monkeypatch, name: str) -> None:
    """Deleting the file called `name` is refused, as a wrong owner or mode would."""
    unlink = Path.unlink

    def refusing(path: Path, missing_ok: bool = False) -> None:
        if path.name == name:
            raise PermissionError(13, "Permission denied", str(path))
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refusing)


def test_an_expired_copy_whose_file_cannot_be_deleted_holds_up_no_other(app, make, monkeypatch):
    """One expired copy's file could not be deleted: the error ended the run before its
    commit, so every run since removed no expired copy and prepared no waiting one. Now it
    is logged and kept for the next run, and the others go on."""
    stuck, gone = ready_copy(app, make.user()), ready_copy(app, make.user())
    stuck_path = exports.exports_dir() / stuck.file_name
    gone_path = exports.exports_dir() / gone.file_name
    stuck_id, gone_id = stuck.id, gone.id
    db.session.execute(update(PersonalExport).values(expires_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    waiting_id = exports.request_personal_export(make.user()).id
    refuse_unlink(monkeypatch, stuck_path.name)

    with app.test_request_context():
        assert exports.run_pending_exports() == 1
    db.session.expire_all()
    assert db.session.get(PersonalExport, waiting_id).status == "ready"
    assert db.session.get(PersonalExport, gone_id) is None and not gone_path.exists()
    assert db.session.get(PersonalExport, stuck_id) is not None and stuck_path.exists()

    monkeypatch.undo()
    with app.test_request_context():
        exports.run_pending_exports()
    db.session.expire_all()
    assert db.session.get(PersonalExport, stuck_id) is None and not stuck_path.exists()


def test_closing_an_account_whose_copy_cannot_be_deleted_closes_it_and_a_later_run_deletes_it(
    app, make, monkeypatch
):
    """The copy's file is deleted after the closing's commit: a failure there was an error
    (a 500 for a closed account, its sockets left open). The closing stands, and the next
    run of the exports deletes the file, whose row is gone."""
    from forum.services import privacy

    admin, person = make.user("admin"), make.user()
    path = exports.exports_dir() / ready_copy(app, person).file_name
    refuse_unlink(monkeypatch, path.name)
    with app.test_request_context():
        privacy.close_account(admin, person.id)
    db.session.expire_all()
    assert db.session.get(User, person.id).is_closed
    assert path.exists()

    monkeypatch.undo()
    with app.test_request_context():
        exports.run_pending_exports()
    assert not path.exists()
