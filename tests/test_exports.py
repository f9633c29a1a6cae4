"""Exports: archives checked against the database, a person's data, closing an account,
the privacy notice, and CSV for Swedish Excel."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta
from typing import IO

import pytest
from consultation_support import make_round, respond
from sqlalchemy import inspect, select, text, update
from support import PASSWORD

from forum.config import parse_rate_limit
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.models import (
    AuditEntry,
    ConsultationAnswer,
    Document,
    Membership,
    Message,
    MessageRevision,
    Notification,
    OutboxMail,
    PersonalExport,
    RoundRevision,
    VersionAnswer,
)
from forum.models.base import utcnow
from forum.services import (
    accounts,
    api_tokens,
    documents,
    exports,
    follow_up,
    moderation,
    organisations,
    privacy,
)
from forum.services import consultations as consultation_service
from forum.services import forums as forum_service
from forum.services.reactions import react
from forum.services.storage import DiskStorage

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


def open_zip(data: bytes | IO[bytes]) -> dict[str, bytes]:
    """The files of a zip: a response's bytes, or the file an archive is built in (closed)."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with source, zipfile.ZipFile(source) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def check_manifest(files: dict[str, bytes]) -> dict:
    manifest = json.loads(files["manifest.json"])
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest
    return manifest


# --- archives ------------------------------------------------------------------------


def test_thread_archive_matches_the_database_and_keeps_hidden_messages(app, make, client, auth):
    admin, author = make.user("admin"), make.user()
    thread = make.thread(author=author, title="Arkivtråd")
    kept = make.message(thread, author, "Synligt inlägg")
    hidden = make.message(thread, author, "Dolt inlägg")
    edited = make.message(thread, author, "Första versionen")
    with app.test_request_context():
        moderation.hide_message(admin, hidden.id, "other", "Personuppgifter")
        forum_service.edit_message(author, edited.id, "Andra versionen")
    auth.login(admin)
    response = client.post("/admin/archive", data={"kind": "thread", "object_id": str(thread.id)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    files = open_zip(response.data)
    response.close()  # the archive's temporary file goes with it
    manifest = check_manifest(files)
    assert manifest["kind"] == "thread" and manifest["id"] == thread.id
    data = json.loads(files["data.json"])["thread"]
    rows = db.session.execute(
        text("SELECT id, state FROM messages WHERE thread_id = :t ORDER BY id"), {"t": thread.id}
    ).all()
    assert [(m["id"], m["state"]) for m in data["messages"]] == [(r.id, r.state) for r in rows]
    by_id = {m["id"]: m for m in data["messages"]}
    assert "Dolt inlägg" in by_id[hidden.id]["html"]
    assert by_id[hidden.id]["moderation"][0]["reason"]
    assert "Första versionen" in by_id[edited.id]["revisions"][0]["html"]
    page = files["index.html"].decode()
    assert (
        "HIDDEN BY MODERATION" in page and "Synligt inlägg" in page and f'id="m{kept.id}"' in page
    )
    assert "<script" not in page and "http" not in page.split("<body>")[1][:0]
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "archive.export"))


def test_a_message_hidden_by_flags_keeps_its_moderation_record_in_the_archive(app, make):
    """Flags hide a message with no moderator's action: the archive has the hiding, the
    dismissal and the flags' reasons (not who flagged, nor their notes)."""
    admin, moderator, author = make.user("admin"), make.user("moderator"), make.user()
    thread = make.thread(author=author)
    message = make.message(thread, author, "Något som flaggas")
    flaggers = [make.user() for _ in range(3)]
    with app.test_request_context():
        for flagger in flaggers:
            moderation.flag_message(flagger, message.id, "other", "Min granne Kalle")
        _name, hidden = exports.build_archive(admin, "thread", thread.id)
        moderation.dismiss_flags(moderator, message.id)
        _name, dismissed = exports.build_archive(admin, "thread", thread.id)
    files = open_zip(hidden)
    check_manifest(files)
    (record,) = json.loads(files["data.json"])["thread"]["messages"]
    assert record["state"] == "hidden"
    assert [(a["kind"], a["reason"]) for a in record["moderation"]] == [
        ("message.auto_hidden", "3 flags")
    ]
    assert [f["reason"] for f in record["flags"]] == ["other"] * 3
    assert "Min granne Kalle" not in files["data.json"].decode()
    page = files["index.html"].decode()
    assert "message.auto_hidden" in page
    assert page.count("Anmälan / flag: other") == 3  # the page a person opens says it too
    assert "Min granne Kalle" not in page
    (record,) = json.loads(open_zip(dismissed)["data.json"])["thread"]["messages"]
    assert [a["kind"] for a in record["moderation"]] == ["message.auto_hidden", "flags.dismissed"]
    assert record["moderation"][1]["actor_id"] == moderator.id
    assert {f["resolution"] for f in record["flags"]} == {"dismissed"}


def test_round_archive_has_responses_and_feedback(app, make):
    admin, official, org_admin = make.user("admin"), make.user("official"), make.user()
    org = make.organisation(admin=org_admin, name="Arkivföreningen")
    round_ = make_round(app, make, official)
    respond(app, org_admin, round_, org, text="Vårt arkiverade svar")
    with app.test_request_context():
        consultation_service.close_round(official, round_.id)
        consultation_service.save_feedback(
            official,
            round_.id,
            {round_.questions[0].id: consultation_service.FeedbackInput(heard="Vi hörde er")},
            publish=True,
        )
        _name, data = exports.build_archive(admin, "round", round_.id)
    files = open_zip(data)
    check_manifest(files)
    record = json.loads(files["data.json"])["round"]
    assert record["responses"][0]["organisation"] == "Arkivföreningen"
    assert "Vårt arkiverade svar" in json.dumps(record["responses"], ensure_ascii=False)
    assert "Vi hörde er" in record["feedback"][0]["heard_html"]
    assert "Arkivföreningen" in files["index.html"].decode()


def test_round_archive_holds_its_documents_with_checksums_and_links(app, make, tmp_path):
    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")
    admin, official, org_admin = make.user("admin"), make.user("official"), make.user()
    org = make.organisation(admin=org_admin, name="Dokumentföreningen")
    round_ = make_round(app, make, official)
    basis, letter = simple_pdf(["Underlag"]), simple_pdf(["Vårt brev"])
    with app.test_request_context():
        documents.add_round_document(official, round_.id, "Underlag 2027.pdf", basis)
        removed = documents.add_round_document(official, round_.id, "Gammalt.pdf", basis + b" ")
        documents.remove_document(official, removed.id)
        documents.add_response_document(org_admin, round_.id, org.id, "Brev.pdf", letter)
    respond(app, org_admin, round_, org)
    with app.test_request_context():
        _name, data = exports.build_archive(admin, "round", round_.id)
    files = open_zip(data)
    manifest = check_manifest(files)
    record = json.loads(files["data.json"])["round"]
    listed = [*record["documents"], *record["responses"][0]["documents"]]
    assert [d["filename"] for d in listed] == ["Underlag 2027.pdf", "Brev.pdf"]
    assert [files[d["path"]] for d in listed] == [basis, letter]
    for d in listed:
        stored = db.session.get(Document, d["id"])
        # the checksum taken at upload, the manifest's and the bytes' own agree
        assert d["sha256"] == stored.sha256 == manifest["files"][d["path"]]
    page = files["index.html"].decode()
    for d in listed:
        href = d["path"].replace(" ", "%20")
        assert f'href="{href}"' in page and d["sha256"] in page
    assert not any("Gammalt" in name for name in files)


def test_archive_is_for_admins_and_checks_its_input(app, make, client, auth):
    auth.login(make.user())
    assert client.get("/admin/archive").status_code == 403
    auth.login(make.user("admin"))
    assert client.get("/admin/archive").status_code == 200
    bad_kind = client.post("/admin/archive", data={"kind": "users", "object_id": "1"})
    assert bad_kind.status_code == 400 and 'id="archive-kind-error"' in bad_kind.get_data(True)
    bad_id = client.post("/admin/archive", data={"kind": "thread", "object_id": "x"})
    assert bad_id.status_code == 400 and 'id="archive-id-error"' in bad_id.get_data(True)
    missing = client.post("/admin/archive", data={"kind": "forum", "object_id": "999999"})
    assert missing.status_code == 400


def test_archive_command(app, make, tmp_path):
    admin = make.user("admin")
    thread = make.thread()
    make.message(thread, make.user(), "Från kommandoraden")
    out = tmp_path / "arkiv.zip"
    result = app.test_cli_runner().invoke(
        args=[
            "export",
            "archive",
            "thread",
            str(thread.id),
            "--out",
            str(out),
            "--admin",
            admin.email,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Från kommandoraden" in open_zip(out.read_bytes())["data.json"].decode()
    refused = app.test_cli_runner().invoke(
        args=["export", "archive", "thread", str(thread.id), "--admin", "nobody@example.se"]
    )
    assert refused.exit_code != 0


# --- a person's own data ----------------------------------------------------------------


def test_download_my_data_is_prepared_mailed_and_expires(app, make, client, auth):
    user = make.user(name="Petra Dataägare")
    thread = make.thread()
    message = make.message(thread, user, "Mitt första inlägg")
    with app.test_request_context():
        forum_service.edit_message(user, message.id, "Mitt ändrade inlägg")
    auth.login(user)
    assert client.post("/integritet/export").status_code == 303
    export = db.session.scalar(select(PersonalExport).where(PersonalExport.user_id == user.id))
    assert export.status == "pending"
    with app.test_request_context():
        assert exports.run_pending_exports() == 1
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == user.email))
    link = re.search(r"http://localhost(/integritet/export/\S+)", mail.body).group(1)
    response = client.get(link)
    assert response.status_code == 200
    files = open_zip(response.data)
    response.close()
    check_manifest(files)
    data = json.loads(files["data.json"])
    assert data["account"]["email"] == user.email
    (mine,) = data["messages"]
    assert mine["body"] == "Mitt ändrade inlägg"
    assert mine["revisions"][0]["body"] == "Mitt första inlägg"
    assert "Petra Dataägare" in files["index.html"].decode()
    auth.login(make.user())
    assert client.get(link).status_code == 404
    auth.login(user)
    db.session.refresh(export)
    export.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(link).status_code == 404
    assert client.get("/integritet/export/not-a-token").status_code == 404


def my_data(app, client, auth, user) -> dict:
    """The data.json of a "download my data" copy, asked for and fetched as `user`."""
    return json.loads(my_copy(app, client, auth, user)["data.json"])


def my_copy(app, client, auth, user) -> dict[str, bytes]:
    """The files of a "download my data" copy, asked for and fetched as `user`."""
    auth.login(user)
    assert client.post("/integritet/export").status_code == 303
    with app.test_request_context():
        exports.run_pending_exports()
    mails = db.session.scalars(
        select(OutboxMail.body).where(OutboxMail.to_address == user.email).order_by(OutboxMail.id)
    )
    # the newest mail with the link: the person may have other mail (no order without ORDER BY)
    links = re.findall(r"http://localhost(/integritet/export/\S+)", "\n".join(mails))
    link = links[-1]
    response = client.get(link)
    assert response.status_code == 200
    files = open_zip(response.data)
    response.close()
    return files


def test_my_data_has_my_threads_reactions_followed_actions_and_response_texts(
    app, make, client, auth
):
    """Each part of the person's own doings is in the copy, in data.json and on the readable
    page under a Swedish and English heading; another person's doings are not."""
    user, other, official = make.user(name="Pia Personsson"), make.user(), make.user("official")
    org, other_org = make.organisation(admin=user), make.organisation(admin=other)
    mine = make.thread(author=user, title="Pias unika trådtitel")
    theirs = make.thread(author=other, title="Någon annans tråd")
    message = make.message(theirs, other, "Hej")
    round_ = make_round(app, make, official)
    respond(app, user, round_, org, submit=True, text="Pias inskickade text")
    respond(app, user, round_, org, submit=False, text="Pias utkasttext")
    respond(app, other, round_, other_org, submit=True, text="Annans svarstext")
    with app.test_request_context():
        react(user, message.id, "👍", True)
        react(other, message.id, "❤️", True)
        followed, not_followed = (
            follow_up.propose_action(
                official,
                follow_up.ActionInput(
                    title=title,
                    owner=f"department:{official.department_id}",
                    due_date="2027-01-01",
                    commitment_ids=make.commitment_ids(1),
                ),
            )
            for title in ("Pias åtgärd", "Annans åtgärd")
        )
        follow_up.set_following(user, followed.id, True)
        follow_up.set_following(other, not_followed.id, True)
    files = my_copy(app, client, auth, user)
    data = json.loads(files["data.json"])
    (started,) = data["threads_started"]
    assert started["title"] == "Pias unika trådtitel" and started["forum_id"] == mine.forum_id
    assert started["forum"] == mine.forum.title and started["created_at"]
    (reaction,) = data["reactions"]
    assert reaction["message_id"] == message.id and reaction["emoji"] == "👍"
    assert [a["action_id"] for a in data["actions_followed"]] == [followed.id]
    (edited,) = data["responses_edited"]
    assert [a["answer"] for a in edited["answers"]] == ["Pias utkasttext 1", "Pias utkasttext 2"]
    assert edited["answers"][0]["question"] == round_.questions[0].text
    (version,) = data["response_versions_submitted"]
    assert version["version"] == 1 and version["round_id"] == round_.id
    assert [a["answer"] for a in version["answers"]][0] == "Pias inskickade text 1"
    blob = json.dumps(data, ensure_ascii=False)
    for others in ("Någon annans tråd", "❤️", "Annans åtgärd", "Annans svarstext"):
        assert others not in blob
    page = files["index.html"].decode()
    for heading in (
        "Trådar du startat",
        "Threads you started",
        "Dina reaktioner",
        "Your reactions",
    ):
        assert heading in page
    for heading in ("Åtgärder du följer", "Actions you follow", "Response versions you submitted"):
        assert heading in page
    assert "Pias unika trådtitel" in page and "Pias utkasttext 1" in page
    for section in data:  # every section has a heading of its own, not just its key
        assert f'<h2 id="{section}">{section} /' not in page


def test_my_data_holds_a_working_copy_only_while_i_may_still_write_it(app, make):
    """The working copy is the organisation's, colleagues' unsubmitted text included: who
    saved it last and then left the organisation gets the response listed without text.
    Of the submitted versions only those the person submitted carry text."""
    official, admin, co_admin, bert = (
        make.user("official"),
        make.user(),
        make.user(),
        make.user(name="Bert Berg"),
    )
    org = make.organisation(admin=admin, members=[bert, co_admin])
    membership = db.session.scalar(select(Membership).where(Membership.user_id == co_admin.id))
    with app.test_request_context():
        organisations.set_member_role(admin, org.id, membership.id, "admin")
    round_ = make_round(app, make, official)
    respond(app, admin, round_, org, submit=True, text="Första versionen")
    respond(app, co_admin, round_, org, submit=True, text="Kollegans version")
    respond(app, bert, round_, org, submit=False, text="Annas utkast: kassören Lisa har skulder")
    with app.test_request_context():
        mine = privacy.personal_data(admin)["response_versions_submitted"]
        assert [(v["version"], v["answers"][0]["answer"]) for v in mine] == [
            (1, "Första versionen 1")
        ]
        assert privacy.personal_data(bert)["responses_edited"][0]["answers"]  # still a member
        organisations.leave_organisation(bert, org.id)
        data = privacy.personal_data(bert)
    (edited,) = data["responses_edited"]
    assert "answers" not in edited
    assert edited["round_id"] == round_.id and edited["status"] and edited["updated_at"]
    assert "Lisa har skulder" not in json.dumps(data, ensure_ascii=False)


def test_every_reference_to_a_person_is_in_my_data_or_said_why_not():
    """A table that points at users is either exported or deliberately left out, with the
    reason written next to `personal_data`."""
    import inspect as python_inspect

    listed = python_inspect.getsource(privacy).split("def personal_data")[0]
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "users" for fk in column.foreign_keys):
                assert table.name in listed, f"{table.name}.{column.name} is not accounted for"


def test_my_data_leaves_out_what_a_moderator_redacted(app, make, client, auth):
    """The original of a redacted message is for admins only (as on the thread page)."""
    user, moderator = make.user(name="Rut Redigerad"), make.user("moderator")
    message = make.message(make.thread(), user, "Ring grannen Kalle på 070-1234567")
    with app.test_request_context():
        forum_service.edit_message(user, message.id, "Ring grannen Kalle på 070-1234567 i dag")
        moderation.redact_message(moderator, message.id, "Ring grannen [borttaget]", "nummer")
    data = my_data(app, client, auth, user)
    assert "070-1234567" not in json.dumps(data)
    (mine,) = data["messages"]
    assert mine["body"] == "Ring grannen [borttaget]" and mine["revisions"] == []


def test_my_data_has_my_appeals(app, make, client, auth):
    user, moderator = make.user(name="Alva Överklagar"), make.user("moderator")
    message = make.message(make.thread(), user, "Ett inlägg")
    with app.test_request_context():
        action = moderation.warn_person(moderator, user.id, "Håll tonen", message_id=message.id)
        moderation.appeal(user, action.id, "Jag håller inte med om varningen")
    (appeal,) = my_data(app, client, auth, user)["appeals"]
    assert appeal["body"] == "Jag håller inte med om varningen" and appeal["outcome"] is None


def test_my_data_has_what_i_did_to_others_but_not_who_they_are(app, make, client, auth):
    """An organisation admin's copy says they approved a member, not the member's name; the
    member's copy has the entries about them."""
    admin = make.user(name="Ordf Person")
    other = make.user(name="Utomstående Främling", email="framling@example.se")
    org = make.organisation(admin=admin)
    with app.test_request_context():
        membership = organisations.request_membership(other, org.id)
        organisations.approve_member(admin, org.id, membership.id)
    data = my_data(app, client, auth, admin)
    assert "Främling" not in json.dumps(data, ensure_ascii=False)
    assert {"action": "membership.approved", "target_type": "organisation"}.items() <= (
        data["audit_entries_by_me"][-1].items()
    )
    about = my_data(app, client, auth, other)["audit_entries_about_me"]
    actions = [e["action"] for e in about if e["action"].startswith("membership.")]
    assert actions == ["membership.requested", "membership.approved"]
    assert about[-1]["reason"] == f"Utomstående Främling (user {other.id})"


def test_asking_twice_prepares_one_copy_and_one_worker_builds_it(app, make, client, auth):
    """Double clicks and racing background workers make one file and send one mail."""
    user = make.user()
    auth.login(user)
    for _ in range(3):
        assert client.post("/integritet/export").status_code == 303
    before = set(exports.exports_dir().iterdir())
    (export,) = db.session.scalars(
        select(PersonalExport).where(PersonalExport.user_id == user.id)
    ).all()
    with app.test_request_context():
        assert exports._claim(export.id) is True
        assert exports._claim(export.id) is False  # the second worker finds it taken
        assert exports.prepare_personal_export(export.id) is None
        db.session.execute(
            update(PersonalExport).where(PersonalExport.id == export.id).values(status="pending")
        )
        db.session.commit()
        assert exports.prepare_personal_export(export.id)
        assert exports.prepare_personal_export(export.id) is None
    mails = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == user.email))
    assert len(mails.all()) == 1
    db.session.refresh(export)
    assert export.status == "ready"
    made = set(exports.exports_dir().iterdir()) - before
    assert made == {exports.exports_dir() / export.file_name}


# --- closing an account --------------------------------------------------------------


def text_columns() -> list[tuple[str, str]]:
    inspector = inspect(db.engine)
    out = []
    for table in inspector.get_table_names():
        if table.startswith("search_fts") or table == "alembic_version":
            continue
        for column in inspector.get_columns(table):
            if "CHAR" in str(column["type"]).upper() or "TEXT" in str(column["type"]).upper():
                out.append((table, column["name"]))
    return out


def database_mentions(needle: str) -> list[str]:
    found = []
    for table, column in text_columns():
        count = db.session.execute(
            text(f'SELECT count(*) FROM "{table}" WHERE "{column}" LIKE :n'),  # noqa: S608
            {"n": f"%{needle}%"},
        ).scalar()
        if count:
            found.append(f"{table}.{column}")
    return found


def test_closing_an_account_keeps_posts_under_a_pseudonym_and_nothing_personal(
    app, make, client, auth
):
    email, name = "greta.exempel@example.se", "Greta Exempelsson"
    user = make.user(name=name, email=email)
    other = make.user()
    org = make.organisation(admin=other, members=[user])
    thread = make.thread(author=user, title="Min tråd")
    make.message(thread, user, "Ett inlägg som är en allmän handling")
    make.message(thread, other, "Ett svar till dig")
    with app.test_request_context():
        api_tokens.create_token(user, "min nyckel", ["read"], org.id)
        # the audit log names the person: it stays, under the pseudonym
        invite_only = make.forum(visibility="invite")
        forum_service.change_forum_people(make.user("admin"), invite_only, email, "member", True)
        accounts.request_password_reset(email)
        exports.request_personal_export(user)
    assert database_mentions(email) and database_mentions(name)
    auth.login(user)
    wrong = client.post("/settings/close", data={"password": "fel lösenord"})
    assert wrong.status_code == 400
    closed = client.post("/settings/close", data={"password": PASSWORD})
    assert closed.status_code == 303
    assert database_mentions(email) == []
    assert database_mentions(name) == []
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert f"Före detta användare {user.id}" in page
    assert "Ett inlägg som är en allmän handling" in page
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code != 303
    assert db.session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.action == "account.close", AuditEntry.target_id == user.id
        )
    )


def test_closing_an_account_deletes_its_copies_of_download_my_data(app, make, client, auth):
    """The zip holds everything the account held: it goes with the account, and a copy whose
    row is gone (an older closing, a crash) goes with the next sweep of expired ones."""
    user = make.user(name="Filip Kvarfil", email="filip.kvarfil@example.se")
    auth.login(user)
    assert client.post("/integritet/export").status_code == 303
    with app.test_request_context():
        assert exports.run_pending_exports() == 1
    export = db.session.scalar(select(PersonalExport).where(PersonalExport.user_id == user.id))
    copy = exports.exports_dir() / export.file_name
    assert b"filip.kvarfil@example.se" in open_zip(copy.read_bytes())["data.json"]
    assert client.post("/settings/close", data={"password": PASSWORD}).status_code == 303
    assert not copy.exists()
    stray = exports.exports_dir() / "personal-999999-0123abcd.zip"
    stray.write_bytes(b"left behind")
    kept = make.user()
    with app.test_request_context():
        exports.request_personal_export(kept)
        exports.run_pending_exports()
    assert not stray.exists()
    (current,) = db.session.scalars(
        select(PersonalExport.file_name).where(PersonalExport.user_id == kept.id)
    )
    assert (exports.exports_dir() / current).exists()


def test_the_last_admin_of_an_organisation_appoints_another_before_closing(app, make, client, auth):
    admin, member = make.user(name="Ensam Admin"), make.user()
    org = make.organisation(admin=admin, members=[member], name="Föreningen Kvar")
    auth.login(admin)
    refused = client.post("/settings/close", data={"password": PASSWORD})
    assert refused.status_code == 400
    assert "Föreningen Kvar" in refused.get_data(as_text=True)
    assert database_mentions("Ensam Admin")  # nothing was deleted
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == member.id, Membership.organisation_id == org.id
        )
    )
    with app.test_request_context():
        organisations.set_member_role(admin, org.id, membership.id, "admin")
    assert client.post("/settings/close", data={"password": PASSWORD}).status_code == 303
    assert database_mentions("Ensam Admin") == []


@pytest.mark.config(FORUM_LOGIN_MAX_FAILURES=3)
def test_closing_an_account_throttles_password_guesses(app, make, client, auth):
    """A borrowed session cannot be used to guess the password (and destroy the account)."""
    user = make.user(name="Gissad Person")
    auth.login(user)
    for _ in range(3):
        assert client.post("/settings/close", data={"password": "gissning"}).status_code == 400
    throttled = client.post("/settings/close", data={"password": PASSWORD})
    assert throttled.status_code == 400
    assert database_mentions("Gissad Person")  # the right password after the limit is refused


def test_closing_leaves_others_audit_entries_and_unlinks_mentions_in_responses(app, make, client):
    """Only the person's own name form in the audit log changes ("Anna" stays in "Annamaria"),
    and a consultation response that mentioned them no longer links to them."""
    anna, annika, admin = (
        make.user(name="Anna"),
        make.user(name="Annamaria Berg"),
        make.user("admin"),
    )
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin, members=[anna, annika])
    round_ = make_round(app, make, official)
    respond(app, org_admin, round_, org, text=f"Fråga @{anna.handle} om siffrorna")
    from forum.services import audit

    for person in (anna, annika):  # as the organisation's membership events write them
        audit.record(
            org_admin,
            "membership.approved",
            "organisation",
            org.id,
            f"{person.display_name} (user {person.id})",
        )
    db.session.commit()
    with app.test_request_context():
        notifications = [
            n for n in db.session.scalars(select(Notification)) if anna.handle in n.excerpt
        ]
        privacy.close_account(admin, anna.id)
    db.session.expire_all()
    reasons = list(db.session.scalars(select(AuditEntry.reason)))
    assert f"Annamaria Berg (user {annika.id})" in reasons
    assert not any(f"Anna (user {anna.id})" in r for r in reasons)
    answers = db.session.scalars(select(VersionAnswer)).all()
    assert answers and all(f"/people/{anna.handle}" not in a.html for a in answers)
    assert all(f"@{anna.handle}" not in a.body for a in answers)
    assert f"Före detta användare {anna.id}" in answers[0].html
    for note in notifications:
        assert f"@{anna.handle}" not in db.session.get(Notification, note.id).excerpt


def test_closing_unmentions_a_working_copy_and_the_rounds_changes_after_opening(app, make, client):
    """A response's unsent working copy and the round's public "changes after opening" name the
    pseudonym too: resubmitting the working copy cannot link whoever takes the handle next."""
    anna, admin = make.user(name="Anna Stängd"), make.user("admin")
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin, members=[anna])
    handle = anna.handle
    round_ = make_round(app, make, official, problem=f"Fråga @{handle} om mötesplatserna")
    respond(app, org_admin, round_, org, text=f"Fråga @{handle} om siffrorna")
    with app.test_request_context():
        consultation_service.revise_text(
            official, round_.id, "problem", "Hur ska mötesplatserna utvecklas?", "Rättelse"
        )
        privacy.close_account(admin, anna.id)
    newcomer = make.user(name="Anna Ny")
    newcomer.handle = handle
    db.session.commit()
    db.session.expire_all()
    name = privacy.pseudonym(anna.id)
    working = db.session.scalars(select(ConsultationAnswer)).all()
    assert working and all(f"@{handle}" not in a.body and name in a.body for a in working)
    with app.test_request_context():
        consultation_service.save_response(
            org_admin, round_.id, org.id, {a.question_id: a.body for a in working}, submit=True
        )
    latest = db.session.scalars(select(VersionAnswer).order_by(VersionAnswer.id.desc())).first()
    assert name in latest.html and f"/people/{handle}" not in latest.html
    (revision,) = db.session.scalars(select(RoundRevision)).all()
    assert f"@{handle}" not in revision.before and name in revision.before
    page = client.get(f"/consultations/{round_.id}").get_data(as_text=True)
    assert f"@{handle}" not in page and f"/people/{handle}" not in page


def test_closing_after_a_rename_pseudonymises_every_name_the_audit_log_wrote(
    app, make, client, auth
):
    """The log wrote "Name (user 12)" with the name of the day: a name used before a rename
    becomes the pseudonym as well, and others' entries stay as written."""
    user, other = make.user(name="Vendela Gammalnamn"), make.user(name="Vendela Annan")
    org = make.organisation(admin=make.user())
    with app.test_request_context():
        organisations.request_membership(user, org.id)
        organisations.request_membership(other, org.id)
        accounts.update_settings(user, "Vendela Nyttnamn", None, True)
        organisations.leave_organisation(user, org.id)
    reasons = set(db.session.scalars(select(AuditEntry.reason)))
    assert {f"Vendela Gammalnamn (user {user.id})", f"Vendela Nyttnamn (user {user.id})"} <= reasons
    auth.login(user)
    assert client.post("/settings/close", data={"password": PASSWORD}).status_code == 303
    db.session.expire_all()
    reasons = list(db.session.scalars(select(AuditEntry.reason)))
    assert not any("Gammalnamn" in r or "Nyttnamn" in r for r in reasons)
    # asked to join and renamed under the old name, left under the new one
    assert reasons.count(f"{privacy.pseudonym(user.id)} (user {user.id})") == 3
    assert f"Vendela Annan (user {other.id})" in reasons


def test_a_name_used_only_before_a_rename_leaves_with_the_account(app, make, client, auth):
    """A rename is logged with the name it replaces, so closing finds every name the person
    went by, also one that no membership or forum event wrote down (a mail named it)."""
    user = make.user(name="Olle Förstanamn")
    reader = make.user()
    thread = make.thread(author=reader, title="Tråd före namnbytet")
    make.message(thread, user, f"Hej @{reader.handle}")
    with app.test_request_context():
        accounts.update_settings(user, "Olle Andranamn", None, True)
        accounts.update_settings(user, "Olle Andranamn", "en", True)  # no rename: not logged
    renamed = db.session.scalars(
        select(AuditEntry.reason).where(AuditEntry.action == "account.renamed")
    ).all()
    assert renamed == [f"Olle Förstanamn (user {user.id})"]
    assert database_mentions("Förstanamn")
    auth.login(user)
    assert client.post("/settings/close", data={"password": PASSWORD}).status_code == 303
    db.session.expire_all()
    assert database_mentions("Förstanamn") == []
    assert database_mentions("Andranamn") == []


def test_closing_an_account_unnames_it_in_others_mail_sent_or_waiting(app, make, client, auth):
    """Mail to others that named the person keeps its news under the pseudonym: a waiting
    mail still goes out, saying what the site now says; a sent one's copy forgets the name."""
    user = make.user(name="Ture Brevsson", email="ture.brev@example.se")
    reader, namesake = make.user(), make.user(name="Ture Brevssonsdotter")
    thread = make.thread(author=reader, title="Tråd om brev")
    make.message(thread, user, f"Hej @{reader.handle}, fråga @{user.handle} igen")
    sent = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == reader.email))
    sent.sent_at = utcnow()
    db.session.commit()
    make.message(thread, user, f"Och @{reader.handle} igen")
    make.message(thread, namesake, f"Hej @{reader.handle}")
    ids = db.session.scalars(
        select(OutboxMail.id).where(OutboxMail.to_address == reader.email).order_by(OutboxMail.id)
    ).all()
    assert len(ids) == 3 and database_mentions("Brevsson ")
    auth.login(user)
    assert client.post("/settings/close", data={"password": PASSWORD}).status_code == 303
    db.session.expire_all()
    name = privacy.pseudonym(user.id)
    first, second, third = (db.session.get(OutboxMail, i) for i in ids)
    for mail in (first, second):
        assert mail.subject.startswith(name)
        for part in (mail.subject, mail.body, mail.html_body):
            assert "Ture Brevsson " not in part and "ture.brev" not in part and name in part
    assert f"@{user.handle}" not in first.body and f"fråga {name} igen" in first.body
    assert second.sent_at is None  # still goes out
    assert third.subject.startswith("Ture Brevssonsdotter")  # another person, kept
    assert database_mentions("Ture Brevsson ") == []


def test_closing_an_account_drops_its_stems_from_the_search_terms_unless_still_written(app, make):
    """SQLite keeps every indexed stem for prefix lookups: the closed person's handle, name
    and address go with the last text that held them; a stem a public record still holds
    stays findable."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("search_terms is SQLite's")
    from forum import stemming

    closing = make.user(name="Greta Sällsyntsson", email="greta.sallsynt@example.se")
    other, admin = make.user(), make.user("admin")
    closing.handle = "gretaovanlig"
    db.session.commit()
    thread = make.thread(author=other, title="Om lokalerna")
    with app.test_request_context():
        forum_service.send_message(other, thread.id, "Tack @gretaovanlig och Greta!", "c1")
        forum_service.send_message(other, thread.id, "Skriv till greta.sallsynt@example.se", "c2")

    def terms() -> set[str]:
        return set(db.session.scalars(text("SELECT term FROM search_terms")))

    handle, greta = stemming.stem("gretaovanlig"), stemming.stem("Greta")
    assert {handle, greta, stemming.stem("sallsynt")} <= terms()
    with app.test_request_context():
        privacy.close_account(admin, closing.id)
    assert handle not in terms()  # the mention now names the pseudonym
    # still written in public records (not mentions, kept as written): still findable
    assert {greta, stemming.stem("sallsynt")} <= terms()


def test_mentions_of_a_closed_account_show_the_pseudonym_and_link_nowhere(app, make, client, auth):
    closing, other, admin = make.user(name="Greta Nämnd"), make.user(), make.user("admin")
    handle = closing.handle
    thread = make.thread(author=other, title="Om lokalerna")
    with app.test_request_context():
        mention, _created = forum_service.send_message(
            other,
            thread.id,
            f"Tack @{handle}! Och @{handle}s idé, @{handle}.x, mejla {handle}@example.se",
            "c1",
        )
        edited, _created = forum_service.send_message(other, thread.id, f"Fråga @{handle}", "c2")
        forum_service.edit_message(other, edited.id, f"Fråga @{handle} igen")
        neighbour = make.user()
        neighbour.handle = f"{handle}x"
        db.session.commit()
        untouched, _created = forum_service.send_message(
            other, thread.id, f"Hej @{neighbour.handle}", "c3"
        )
    assert f'href="/people/{handle}"' in mention.html
    with app.test_request_context():
        privacy.close_account(admin, closing.id)
    name = f"Före detta användare {closing.id}"
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    # the words stay (a public record); the mention names the pseudonym and links nowhere
    assert f'<span class="mention mention-closed">@{name}</span>' in page
    assert f'/people/{handle}"' not in page and f"@{handle}!" not in page
    assert f"/people/fd-{closing.id}" not in page
    db.session.expire_all()
    stored = db.session.get(Message, mention.id)
    # not mentions of the person (another handle, an email address): kept as written
    assert stored.body.startswith(f"Tack {name}! Och @{handle}s idé, @{handle}.x, mejla")
    assert f"{handle}@example.se" in stored.body
    revision = db.session.scalar(
        select(MessageRevision).where(MessageRevision.message_id == edited.id)
    )
    assert handle not in revision.html and name in revision.html
    assert f"@{handle}" not in revision.body
    assert f'href="/people/{neighbour.handle}"' in db.session.get(Message, untouched.id).html
    # a new message cannot mention the closed account either
    with app.test_request_context():
        later, _created = forum_service.send_message(other, thread.id, f"@fd-{closing.id}", "c4")
    assert "href=" not in later.html
    # the search index follows the rewritten text
    found = client.get("/search", query_string={"q": "Tack"}).get_data(as_text=True)
    assert name in found and f"@{handle}!" not in found


def test_admins_close_accounts_on_request_and_others_cannot(app, make, client, auth):
    user, admin = make.user(name="Olle Begäran"), make.user("admin")
    auth.login(make.user())
    assert client.post(f"/admin/users/{user.id}/close", data={"confirmed": "1"}).status_code == 403
    assert database_mentions("Olle Begäran")
    auth.login(admin)
    done = client.post(f"/admin/users/{user.id}/close", data={"confirmed": "1"})
    assert done.status_code == 303
    assert database_mentions("Olle Begäran") == []
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "account.close"))
    assert entry.actor_id == admin.id and entry.reason == "admin"
    with app.test_request_context(), pytest.raises(Exception):  # noqa: B017
        privacy.close_account(admin, user.id)


# --- the notice and CSV ----------------------------------------------------------------


def test_privacy_notice_says_what_is_kept_and_how(client):
    page = client.get("/integritet", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for words in ("public record", "arkivlagen", "Download my data", "Före detta användare"):
        assert words in page
    assert "no longer links to a profile" in page  # mentions of a closed account
    page = client.get("/integritet", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert "länkar inte längre till någon profil" in page
    assert 'href="/integritet"' in client.get("/").get_data(as_text=True)


def test_excel_csv_has_bom_semicolons_local_times_and_decimal_commas():
    source = "Namn,Tid (UTC),Andel\r\nFörening; AB,2026-01-15T12:00:00Z,0.75\r\n"
    data = exports.excel_csv(source)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[1] == ["Förening; AB", "2026-01-15 13:00", "0,75"]
    assert '"Förening; AB";2026-01-15 13:00;0,75\r\n' in data.decode("utf-8-sig")
    assert "UTC" not in rows[0][1]


def test_consultation_csv_is_offered_for_excel(app, make, client):
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin)
    round_ = make_round(app, make, official)
    respond(app, org_admin, round_, org)
    with app.test_request_context():
        consultation_service.close_round(official, round_.id)
    plain = client.get(f"/consultations/{round_.id}/export.csv")
    excel = client.get(f"/consultations/{round_.id}/export.csv?format=excel")
    assert plain.data.decode("utf-8-sig").splitlines()[0].count(";") == 0
    assert excel.data.startswith("\ufeff".encode()) and not excel.data.startswith(
        b"\xef\xbb\xbf\xef"
    )
    assert "excel" in excel.headers["Content-Disposition"]
    header = excel.data.decode("utf-8-sig").splitlines()[0]
    assert header.count(";") >= 5


@pytest.mark.parametrize("value", ["12,5", "100,50", "1,000", "12;5", '12"5', "1\n2"])
@pytest.mark.parametrize("dialect", ["comma", "excel"])
def test_a_cell_holding_the_delimiter_a_quote_or_a_line_break_stays_one_cell(value, dialect):
    """A number-like answer with a decimal or thousands comma ("12,5") was written bare and
    split into two cells, shifting the rest of its row, in both files."""
    from forum.web.exports import csv_text

    with create_app_context():
        text_ = csv_text(["round", "answer", "version"], [[7, value, 1], [7, "0.75", 2]])
        if dialect == "excel":
            text_ = exports.excel_csv(text_).decode("utf-8-sig")
    delimiter = ";" if dialect == "excel" else ","
    rows = list(csv.reader(io.StringIO(text_.lstrip("\ufeff"), newline=""), delimiter=delimiter))
    assert [len(row) for row in rows] == [3, 3, 3]
    assert rows[1][1] == value
    assert rows[2][1] == ("0,75" if dialect == "excel" else "0.75")


def create_app_context():
    """A request context of a throwaway app (csv_text translates nothing, but excel_csv's
    header does)."""
    from support import app_settings

    from forum import create_app

    return create_app(app_settings("sqlite://")).test_request_context("/")


def test_an_answer_with_a_decimal_comma_keeps_its_row_in_both_exports(app, make, client, auth):
    official, org_admin = make.user("official"), make.user()
    org = make.organisation(admin=org_admin)
    round_ = make_round(app, make, official)
    answers = ["12,5", "1,000"]
    with app.test_request_context():
        consultation_service.save_response(
            org_admin,
            round_.id,
            org.id,
            {q.id: answers[n % 2] for n, q in enumerate(round_.questions)},
            submit=True,
        )
        consultation_service.close_round(official, round_.id)
    auth.login(official)
    for suffix, delimiter in (("", ","), ("?format=excel", ";")):
        response = client.get(f"/consultations/{round_.id}/export.csv{suffix}")
        assert response.status_code == 200
        text_ = response.data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text_, newline=""), delimiter=delimiter))
        assert all(len(row) == len(rows[0]) for row in rows), rows
        cells = {cell for row in rows[1:] for cell in row}
        assert {"12,5", "1,000"} <= cells
