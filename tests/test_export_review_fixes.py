"""Exports after review: a compilation PDF rendered once per version of its page (an ETag,
304s, a bounded cache, a rate limit on renders), one ready "download my data" copy a
person (no rebuilding within the hour, a missing file answered as an expired link), copies
that fail to build without holding up everyone else's, and archives whose documents'
bytes are missing from storage."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta

import pytest
from consultation_support import english, make_round
from sqlalchemy import func, select, update
from test_exports import check_manifest, open_zip

from forum.config import parse_rate_limit
from forum.demo.pdf import simple_pdf
from forum.extensions import db
from forum.formatting import local_datetime
from forum.models import AuditEntry, ConsultationRound, Document, OutboxMail, PersonalExport
from forum.models.base import utcnow
from forum.services import documents, exports, privacy
from forum.services.storage import DiskStorage
from forum.web import pdf

pytestmark = pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))


@pytest.fixture(autouse=True)
def _english(client):
    english(client)


# --- the compilation as PDF ----------------------------------------------------------


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """WeasyPrint stood in for: the HTML of every render, each giving bytes of its own."""
    done: list[str] = []

    def render(html: str) -> bytes:
        done.append(html)
        return b"%PDF-1.7 " + hashlib.sha256(html.encode()).hexdigest().encode()

    monkeypatch.setattr(pdf, "available", lambda: True)
    monkeypatch.setattr(pdf, "render_pdf", render)
    return done


def closed_round(app, make, **overrides) -> ConsultationRound:
    make.organisation(admin=make.user())  # someone to ask
    return make_round(app, make, make.user("official"), state="closed", **overrides)


def pdf_url(round_: ConsultationRound) -> str:
    return f"/consultations/{round_.id}/compilation.pdf"


def test_an_unchanged_compilation_pdf_is_rendered_once_and_revalidated(app, make, client, renders):
    round_ = closed_round(app, make)
    first = client.get(pdf_url(round_))
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{64}"', etag), etag
    assert "no-store" not in (first.headers.get("Cache-Control") or "")  # public, as before
    # another visitor (another session, another CSRF token) gets the same bytes, not a render
    other = english(app.test_client()).get(pdf_url(round_))
    assert (other.data, other.headers["ETag"]) == (first.data, etag)
    assert len(renders) == 1

    unchanged = client.get(pdf_url(round_), headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag
    stale = client.get(pdf_url(round_), headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200 and stale.data == first.data
    assert len(renders) == 1

    # the page changes: a new PDF, a new ETag, and the old one no longer answers 304
    db.session.execute(
        update(ConsultationRound)
        .where(ConsultationRound.id == round_.id)
        .values(title="Mötesplatser för unga, andra versionen")
    )
    db.session.commit()
    changed = client.get(pdf_url(round_), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.data != first.data and len(renders) == 2
    assert "andra versionen" in renders[-1]


def test_the_pdfs_page_holds_nothing_of_its_viewer(app, make, client, auth, renders):
    """The PDF's HTML is the compilation only: no CSRF token, name or flashed message of the
    person asking, so everyone allowed to read it shares one render (and its ETag)."""
    round_ = closed_round(app, make)
    reader = make.user(name="Vera Läsarsson")
    auth.login(reader)
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Ett meddelande som väntar")]
    mine = client.get(pdf_url(round_))
    assert mine.status_code == 200
    assert mine.headers["Cache-Control"] == "private, no-store"  # a logged-in person's, as before
    (html,) = renders
    assert "csrf" not in html and "Vera Läsarsson" not in html and "väntar" not in html
    assert "Ett meddelande som väntar" in client.get("/settings").get_data(True)  # not used up
    visitor = english(app.test_client()).get(pdf_url(round_))
    assert visitor.headers["ETag"] == mine.headers["ETag"] and len(renders) == 1


def test_pdfs_that_cannot_be_shown_are_never_rendered(app, make, client, renders):
    make.organisation(admin=make.user())
    open_round = make_round(app, make, make.user("official"))  # responses not yet public
    assert client.get(pdf_url(open_round)).status_code == 404
    assert client.get("/consultations/999999/compilation.pdf").status_code == 404
    assert client.get("/consultations/99999999999999999999/compilation.pdf").status_code == 404
    assert renders == []


def test_without_weasyprint_the_pdf_is_not_found(app, make, client, monkeypatch):
    monkeypatch.setattr(pdf, "render_pdf", lambda html: None)
    response = client.get(pdf_url(closed_round(app, make)))
    assert response.status_code == 404
    assert "print the page instead" in response.get_data(True)


def test_the_pdf_cache_is_bounded_by_count_and_by_bytes(app, monkeypatch):
    monkeypatch.setattr(pdf, "CACHED_PDFS", 3)
    monkeypatch.setattr(pdf, "CACHED_PDF_BYTES", 1000)
    with app.test_request_context():
        for n in range(4):
            pdf.remember_pdf(f"key{n}", bytes(100))
        kept = pdf.cached_pdfs()
        assert [pdf.recall_pdf(f"key{n}") is not None for n in range(4)] == [
            False,
            True,
            True,
            True,
        ]
        pdf.recall_pdf("key1")  # used: key2 is now the least recently used
        pdf.remember_pdf("big", bytes(800))
        assert pdf.recall_pdf("key2") is None and pdf.recall_pdf("key1") is not None
        assert kept.chars <= 1000 and len(kept.items) <= 3
        pdf.remember_pdf("huge", bytes(5000))  # larger than the whole cache: not kept
        assert pdf.recall_pdf("huge") is None and kept.chars <= 1000


def test_the_pdf_cache_is_each_apps_own(app, make):
    from support import app_settings

    from forum import create_app

    other = create_app(app_settings(app.config["SQLALCHEMY_DATABASE_URI"]))
    with app.test_request_context():
        pdf.remember_pdf("shared-key", b"%PDF this app")
    with other.test_request_context():
        assert pdf.recall_pdf("shared-key") is None


@pytest.mark.config(
    FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"),
    FORUM_PDF_RATE_LIMIT=parse_rate_limit("2/600s"),
)
def test_renders_are_rate_limited_per_address_but_a_rendered_pdf_is_still_served(
    app, make, client, renders
):
    official = make.user("official")
    make.organisation(admin=make.user())
    rounds = [make_round(app, make, official, state="closed", title=f"Runda {n}") for n in range(3)]
    assert [client.get(pdf_url(r)).status_code for r in rounds[:2]] == [200, 200]
    refused = client.get(pdf_url(rounds[2]))
    assert refused.status_code == 429
    assert refused.mimetype == "text/html" and "Try again in a few minutes" in refused.get_data(
        True
    )
    assert int(refused.headers["Retry-After"]) > 0
    assert len(renders) == 2
    assert client.get(pdf_url(rounds[0])).status_code == 200  # already rendered: no render
    elsewhere = client.get(pdf_url(rounds[2]), environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert elsewhere.status_code == 200 and len(renders) == 3


@pytest.mark.config(
    FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"),
    FORUM_PDF_RATE_LIMIT=parse_rate_limit("off"),
)
def test_the_render_limit_can_be_turned_off(app, make, client, renders):
    official = make.user("official")
    make.organisation(admin=make.user())
    rounds = [
        make_round(app, make, official, state="closed", title=f"Runda {n}") for n in range(12)
    ]
    assert {client.get(pdf_url(r)).status_code for r in rounds} == {200}


# --- download my data -----------------------------------------------------------------


def links(user) -> list[str]:
    bodies = db.session.scalars(
        select(OutboxMail.body).where(OutboxMail.to_address == user.email).order_by(OutboxMail.id)
    )
    return re.findall(r"http://localhost(/integritet/export/\S+)", "\n".join(bodies))


def copies(user) -> list[PersonalExport]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(PersonalExport)
            .where(PersonalExport.user_id == user.id)
            .order_by(PersonalExport.id)
        )
    )


def ask_and_run(app, client) -> str:
    """Ask for a copy, run the background job; the settings page it leads to."""
    response = client.post("/integritet/export", follow_redirects=True)
    assert response.status_code == 200
    with app.test_request_context():
        exports.run_pending_exports()
    return response.get_data(True)


def fetch(client, link: str) -> int:
    """The status of a download (its file closed again)."""
    response = client.get(link)
    response.close()
    return response.status_code


def files_on_disk(app) -> list:
    with app.test_request_context():
        return sorted(exports.exports_dir().glob("personal-*.zip"))


def test_asking_again_within_the_hour_shows_the_ready_copy_and_builds_nothing(
    app, make, client, auth
):
    user = make.user()
    auth.login(user)
    ask_and_run(app, client)
    (ready,) = copies(user)
    assert ready.status == "ready" and len(links(user)) == 1
    with app.test_request_context(headers={"Accept-Language": "en"}):
        until = local_datetime(ready.expires_at)
    page = client.get("/settings").get_data(True)
    assert "Your copy is ready" in page and until in page

    for _ in range(3):
        again = ask_and_run(app, client)
        assert "made less than an hour ago" in again and until in again

    assert [c.id for c in copies(user)] == [ready.id]
    assert len(links(user)) == 1 and len(files_on_disk(app)) == 1
    assert fetch(client, links(user)[0]) == 200


def test_asking_after_the_hour_replaces_the_ready_copy(app, make, client, auth):
    user = make.user()
    auth.login(user)
    ask_and_run(app, client)
    (old,) = copies(user)
    old_file = files_on_disk(app)
    db.session.execute(
        update(PersonalExport)
        .where(PersonalExport.id == old.id)
        .values(ready_at=utcnow() - timedelta(minutes=61))
    )
    db.session.commit()

    page = ask_and_run(app, client)

    assert "We are preparing your data" in page  # the message
    # and the page: the new copy being prepared, not the old one (still working till then)
    assert "We are preparing your copy" in page and "Your copy is ready" not in page
    first_link, second_link = links(user)
    ready = [c for c in copies(user) if c.status == "ready" and c.expires_at > utcnow()]
    assert [c.id for c in ready] != [old.id] and len(ready) == 1
    assert len(files_on_disk(app)) == 1 and files_on_disk(app) != old_file
    assert fetch(client, first_link) == 404
    assert fetch(client, second_link) == 200
    # the old copy's row is gone with the expired copies
    with app.test_request_context():
        exports.remove_expired_exports()
    assert [c.id for c in copies(user)] == [ready[0].id]


def test_a_person_never_holds_two_ready_copies_even_if_both_were_waiting(app, make):
    """Two copies prepared back to back (e.g. one whose worker died and was taken up again
    next to a new one): the later one ready replaces the earlier."""
    user = make.user()
    first = exports.request_personal_export(user)
    with app.test_request_context():
        exports.prepare_personal_export(first.id)
    db.session.execute(
        update(PersonalExport).values(ready_at=utcnow() - timedelta(hours=2))
    )  # past the hour
    db.session.commit()
    second = exports.request_personal_export(user)
    assert second.id != first.id
    with app.test_request_context():
        exports.prepare_personal_export(second.id)
    ready = [c for c in copies(user) if c.status == "ready" and c.expires_at > utcnow()]
    assert [c.id for c in ready] == [second.id]
    assert len(files_on_disk(app)) == 1


def test_a_ready_copy_whose_file_is_missing_answers_like_an_expired_link(app, make, client, auth):
    user = make.user()
    auth.login(user)
    ask_and_run(app, client)
    (link,) = links(user)
    (export,) = copies(user)
    with app.test_request_context():
        (exports.exports_dir() / export.file_name).unlink()

    response = client.get(link)

    assert response.status_code == 404
    assert "Ask for a new copy" in response.get_data(True)
    (export,) = copies(user)
    assert export.expires_at <= utcnow()  # marked: not offered again
    assert "Your copy is ready" not in client.get("/settings").get_data(True)
    # within the hour, yet a new copy is made, since the old one is gone
    ask_and_run(app, client)
    assert len(links(user)) == 2 and fetch(client, links(user)[-1]) == 200
    assert fetch(client, link) == 404


def test_links_that_name_no_copy_of_mine_stay_not_found(app, make, client, auth):
    owner, other = make.user(), make.user()
    auth.login(owner)
    ask_and_run(app, client)
    (link,) = links(owner)
    auth.login(other)
    assert fetch(client, link) == 404
    for bad in ("/integritet/export/not-a-token", "/integritet/export/" + "x" * 500):
        assert client.get(bad).status_code == 404
    auth.login(owner)
    assert fetch(client, link) == 200  # the others' tries changed nothing of it


def test_a_copy_that_fails_to_build_does_not_stop_the_others(
    app, make, client, auth, monkeypatch, caplog
):
    first, second = make.user(), make.user()
    for person in (first, second):
        auth.login(person)
        client.post("/integritet/export")
    real = privacy.personal_data
    asked: list[int] = []

    def data(user):
        asked.append(user.id)
        if user.id == first.id:
            raise RuntimeError("cannot build this one")
        return real(user)

    monkeypatch.setattr(privacy, "personal_data", data)
    with caplog.at_level(logging.ERROR), app.test_request_context():
        assert exports.run_pending_exports() == 1
    assert asked == [first.id, second.id]  # in the order they were asked for
    assert "cannot build this one" in caplog.text
    assert len(links(second)) == 1 and links(first) == []
    (failing,) = copies(first)
    assert failing.status == "pending" and failing.attempts == 1


def test_a_copy_that_failed_three_times_is_given_up_and_the_page_says_so(
    app, make, client, auth, monkeypatch
):
    user = make.user()
    auth.login(user)
    client.post("/integritet/export")
    real = privacy.personal_data
    broken = {"yes": True}

    def data(person):
        if broken["yes"]:
            raise RuntimeError("broken")
        return real(person)

    monkeypatch.setattr(privacy, "personal_data", data)
    for _run in range(exports.MAX_BUILD_ATTEMPTS + 2):
        with app.test_request_context():
            exports.run_pending_exports()
    (failed,) = copies(user)
    assert failed.status == "failed" and failed.attempts == exports.MAX_BUILD_ATTEMPTS
    assert failed.file_name is None and links(user) == []
    assert "could not be prepared" in client.get("/settings").get_data(True)

    broken["yes"] = False  # mended: asking again makes a new copy, and it is built
    page = ask_and_run(app, client)
    assert "We are preparing your data" in page
    assert [c.status for c in copies(user)] == ["ready"]  # the failed one's row went
    assert fetch(client, links(user)[0]) == 200
    assert "could not be prepared" not in client.get("/settings").get_data(True)


def test_a_worker_killed_while_building_is_not_the_copys_failure(app, make, monkeypatch):
    user = make.user()
    export = exports.request_personal_export(user)

    def killed(_user):
        raise SystemExit(1)

    monkeypatch.setattr(privacy, "personal_data", killed)
    with app.test_request_context(), pytest.raises(SystemExit):
        exports.run_pending_exports()
    (export,) = copies(user)
    assert export.status == "pending" and export.attempts == 0


# --- archives ---------------------------------------------------------------------


def archive_entries() -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "archive.export")
    )


def test_an_archive_lists_a_document_missing_from_storage_instead_of_failing(
    app, make, client, auth, tmp_path, caplog
):
    store = DiskStorage(tmp_path / "documents")
    app.extensions["forum_storage"] = store
    admin, official = make.user("admin"), make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official)
    kept_pdf, lost_pdf = simple_pdf(["Finns kvar"]), simple_pdf(["Borta"])
    with app.test_request_context():
        documents.add_round_document(official, round_.id, "Kvar.pdf", kept_pdf)
        lost = documents.add_round_document(official, round_.id, "Borta.pdf", lost_pdf)
    store.delete(db.session.get(Document, lost.id).storage_key)

    auth.login(admin)
    response = client.post("/admin/archive", data={"kind": "round", "object_id": str(round_.id)})

    assert response.status_code == 200
    files = open_zip(response.data)
    response.close()
    manifest = check_manifest(files)
    listed = json.loads(files["data.json"])["round"]["documents"]
    by_name = {d["filename"]: d for d in listed}
    assert files[by_name["Kvar.pdf"]["path"]] == kept_pdf
    assert by_name["Kvar.pdf"].get("missing") is not True
    assert by_name["Borta.pdf"]["missing"] is True
    assert by_name["Borta.pdf"]["path"] not in files
    assert manifest["missing"] == [by_name["Borta.pdf"]["path"]]
    page = files["index.html"].decode()
    assert "Borta.pdf" in page and "missing from storage" in page
    assert f'href="{by_name["Borta.pdf"]["path"]}"' not in page
    assert archive_entries() == 1
    # one warning for the one missing file, naming the document and its key
    warned = [r.getMessage() for r in caplog.records if "missing from storage" in r.getMessage()]
    assert len(warned) == 1, warned
    assert str(lost.id) in warned[0] and lost.storage_key in warned[0]


def test_an_archive_that_cannot_be_built_is_not_logged_as_exported(app, make, monkeypatch):
    admin = make.user("admin")
    thread = make.thread()

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exports, "_write_zip", full_disk)
    with app.test_request_context(), pytest.raises(OSError):
        exports.build_archive(admin, "thread", thread.id)
    db.session.rollback()
    assert archive_entries() == 0
    monkeypatch.undo()
    with app.test_request_context():
        _name, built = exports.build_archive(admin, "thread", thread.id)
    built.close()
    assert archive_entries() == 1


def test_an_unreadable_storage_is_still_an_error_not_a_missing_document(app, make, tmp_path):
    """Only bytes that are not there become a note; a storage that fails (down, refused)
    fails the export, so an archive never calls present documents missing."""

    class Failing(DiskStorage):
        def get(self, key: str) -> bytes:
            raise ConnectionError("storage is down")

    app.extensions["forum_storage"] = DiskStorage(tmp_path / "documents")
    admin, official = make.user("admin"), make.user("official")
    make.organisation(admin=make.user())
    round_ = make_round(app, make, official)
    with app.test_request_context():
        documents.add_round_document(official, round_.id, "Underlag.pdf", simple_pdf(["x"]))
    app.extensions["forum_storage"] = Failing(tmp_path / "documents")
    with app.test_request_context(), pytest.raises(ConnectionError):
        exports.build_archive(admin, "round", round_.id)
    db.session.rollback()
    assert archive_entries() == 0
