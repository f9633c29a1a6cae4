"""Every page of the demo, as every demo person, in Swedish and in English: the
visible text has no untranslated interface strings, no raw enum values and no
dotted event codes (and the English pages have no Swedish interface strings)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from support import Auth

from forum import models

CATALOG = Path(__file__).resolve().parent.parent / "forum/translations/sv/LC_MESSAGES/messages.po"
MAX_PAGES = 160
SKIP = re.compile(r"(\.csv$|/logout|/language|/static/|/export|/favicon|/manifest|/socket\.io)")
# Event codes are dotted lower-case words (thread.slow_mode, appeal.reversed)...
DOTTED = re.compile(r"(?<![\w@/.-])([a-z]+(?:_[a-z]+)*\.[a-z]+(?:_[a-z]+)*)(?![\w@/.-])")
# ...but not the file names, addresses and units that really are dotted.
NOT_CODES = re.compile(
    r"\.(se|org|com|net|nu|csv|pdf|html|txt|png|svg|md|js|json|css|zip)$|^(t\.ex|bl\.a|m\.m|s\.k|d\.v\.s|e\.g|i\.e|etc\.)"
)
# Words an enum value may share with ordinary Swedish or English text.
COMMON = {"admin", "member", "open", "closed", "draft", "public", "other", "visible", "hidden"}
# Organisation forms are Swedish words already.
COMMON |= {"kooperativ", "annan", "stiftelse", "forening"}


def visible_text(page: str, lang: str) -> str:
    # Text stored at write time in its reader's chosen language (notification excerpts)
    page = re.sub(r"<(\w+)[^>]*data-stored-text[^>]*>.*?</\1>", " ", page, flags=re.S)
    # Parts marked as another language (WCAG 3.1.2), such as the API's English summaries
    body = page.find("<body")
    page = re.sub(
        rf'<(\w+)\b[^>]*\blang="(?!{lang}\b)[a-z-]+"[^>]*>.*?</\1>',
        " ",
        page[body:] if body >= 0 else page,
        flags=re.S,
    )
    for tag in ("script", "style", "template", "head"):
        page = re.sub(rf"<{tag}\b.*?</{tag}>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(page))


def catalog():
    with CATALOG.open("rb") as f:
        entries = [m for m in read_po(f) if m.id and m.string]
    pairs = []
    for m in entries:
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        pairs.extend(zip(ids, strings, strict=False))
    return pairs


def phrases(texts):
    """Whole interface sentences worth looking for: placeholders cut, long enough to be unique."""
    out = set()
    for text in texts:
        for part in re.split(r"%\(\w+\)[sd]|\{\w+\}|\n", text):
            part = part.strip(" :·,.–-()")
            if len(part) >= 18 and " " in part:
                out.add(part)
    return out


def enum_values():
    values = set()
    for name in dir(models):
        item = getattr(models, name)
        if isinstance(item, type) and issubclass(item, str) and hasattr(item, "__members__"):
            values |= {v.value for v in item}  # type: ignore[attr-defined]
    return {v for v in values if v not in COMMON and re.fullmatch(r"[a-z_]+", v)}


@pytest.fixture
def demo(app, db):
    from forum.demo import seed_demo
    from forum.services.agreement import seed_agreement

    with app.test_request_context():
        seed_agreement()
        seed_demo()
    return db.session.scalars(select(models.User).order_by(models.User.id)).all()


def crawl(client, lang):
    headers = {"Accept-Language": lang}
    start = [
        "/",
        "/forums",
        "/consultations",
        "/overenskommelsen",
        "/organisations",
        "/uppfoljning",
        "/uppfoljning/rapport",
        "/actions",
        "/notifications",
        "/settings",
        "/moderation",
        "/moderation/audit",
        "/moderation/people",
        "/moderation/transparency",
        "/admin",
        "/tillganglighet",
    ]
    seen, queue, pages = set(), list(start), {}
    while queue and len(pages) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen or SKIP.search(path):
            continue
        seen.add(path)
        response = client.get(path, headers=headers)
        response.close()  # file responses (the API explorer's assets) hold a file open
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        body = response.get_data(as_text=True)
        pages[path] = body
        for href in re.findall(r'href="([^"#]+)', body):
            parts = urlsplit(html.unescape(href))
            if parts.netloc or not parts.path.startswith("/"):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in seen:
                queue.append(link)
    return pages


DECIMAL_POINT = re.compile(r"(?<![\d.:/])(?<!WCAG )(?<!WCAG\) )(?<!OpenAPI )\d+\.\d+(?![\d.:/])")


def find_problems(
    pages, forbidden_phrases, enum_words, dotted=True, decimal_point=False, lang="sv"
):
    problems = {}
    enum_re = re.compile(r"(?<![\w-])(" + "|".join(sorted(enum_words)) + r")(?![\w-])")
    for path, body in pages.items():
        text = visible_text(body, lang)
        found = set()
        if dotted:
            found |= {m for m in DOTTED.findall(text) if not NOT_CODES.search(m)}
        if enum_words:
            found |= set(enum_re.findall(text))
        found |= {p for p in forbidden_phrases if p in text}
        if decimal_point:  # Swedish writes 0,5 not 0.5
            found |= set(DECIMAL_POINT.findall(text))
        if found:
            problems[path] = sorted(found)[:6]
    return problems


@pytest.mark.ci_sqlite  # the words on the pages: CI reads them once, where they cost less
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_demo_page_speaks_one_language(app, client, demo, lang):
    pairs = catalog()
    english = {i for i, s in pairs if i != s}
    swedish = {s for i, s in pairs if i != s}
    forbidden = (
        phrases(english) - phrases(swedish) if lang == "sv" else phrases(swedish) - phrases(english)
    )
    enum_words = enum_values() if lang == "sv" else {v for v in enum_values() if "_" in v}
    problems = {}
    for person in demo:
        Auth(client).login(person)
        pages = crawl(client, lang)
        assert len(pages) > 20
        for path, found in find_problems(
            pages, forbidden, enum_words, decimal_point=lang == "sv", lang=lang
        ).items():
            problems.setdefault(path, found)
    assert not problems, f"{len(problems)} pages: " + "\n".join(
        f"{path}: {found}" for path, found in sorted(problems.items())
    )


def test_the_checker_catches_what_it_looks_for():
    page = "<p>Beslut: hide</p><td>thread.slow_mode</td><p>Visa 1 nya meddelanden</p>"
    assert find_problems({"/x": page}, {"Visa 1 nya meddelanden"}, {"hide"}) == {
        "/x": ["Visa 1 nya meddelanden", "hide", "thread.slow_mode"]
    }
    clean = "<p>Skriv till info@stad.se eller ladda ned rapport.csv, t.ex. i dag. WCAG 2.1, 8,6</p>"
    assert find_problems({"/y": clean}, set(), {"hide"}, decimal_point=True) == {}
    assert find_problems({"/z": "<td>8.6</td>"}, set(), set(), decimal_point=True) == {
        "/z": ["8.6"]
    }


@pytest.mark.parametrize(
    ("lang", "wanted"),
    [("sv", "Logga in för att se den här sidan."), ("en", "Please log in to see this page.")],
)
def test_the_login_prompt_speaks_the_visitors_language(client, lang, wanted):
    page = client.get("/settings", headers={"Accept-Language": lang}, follow_redirects=True)
    assert page.request.path == "/login"
    assert wanted in page.get_data(as_text=True)


def test_english_figures_and_moderation_pages_name_commitments_and_principles_in_english(
    app, client, auth, make, db
):
    english = {"Accept-Language": "en"}
    commitments = db.session.scalars(select(models.Commitment)).all()
    principles = db.session.scalars(select(models.Principle)).all()
    titles = [(c.title("en"), c.title("sv")) for c in commitments]
    for path in ("/uppfoljning", "/uppfoljning/rapport"):
        page = html.unescape(client.get(path, headers=english).get_data(as_text=True))
        for en, sv in titles:
            assert en in page and f">{sv}<" not in page, (path, sv)
    moderator = make.user("moderator")
    author = make.user()
    message = make.message(make.thread(author=author), author, "Hej")
    auth.login(make.user())
    client.post(f"/messages/{message.id}/flag", data={"reason": "spam", "note": ""})
    auth.login(moderator)
    for path in ("/moderation", f"/moderation/messages/{message.id}"):
        page = html.unescape(client.get(path, headers=english).get_data(as_text=True))
        assert all(f">{p.name('en')}<" in page for p in principles), path
        assert not any(f">{p.name('sv')}<" in page for p in principles), path


def macro_files_imported_without_context(root: Path) -> dict[str, set[str]]:
    """Each template file whose macros some template imports without context, and the
    names imported from it (`{% from "x" import a, b %}`)."""
    found: dict[str, set[str]] = {}
    pattern = re.compile(r'{%-?\s*from\s+"([^"]+)"\s+import\s+(.*?)\s*-?%}', re.S)
    for path in root.rglob("*.html"):
        for source, names in pattern.findall(path.read_text()):
            if "with context" not in names:
                found.setdefault(source, set()).update(
                    n.strip().split(" as ")[0] for n in names.split(",")
                )
    return found


def test_no_macro_imported_without_context_reads_the_pages_variables(app):
    """A macro imported without context sees only its arguments and the globals: `lang`
    was undefined in two of them, so English pages listed commitments and principles in
    Swedish. Every name such a file reads must be an argument, a global or set in it."""
    from jinja2 import nodes

    env = app.jinja_env
    root = Path(app.root_path).parent / "templates"
    wrong = {}
    for source in macro_files_imported_without_context(root):
        tree = env.parse((root / source).read_text())
        read = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
        own = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
        own |= {m.name for m in tree.find_all(nodes.Macro)}
        for imported in tree.find_all(nodes.FromImport):
            own |= {n[1] if isinstance(n, tuple) else n for n in imported.names}
        context_only = read - own - set(env.globals) - {"caller", "varargs", "kwargs", "loop"}
        if context_only:
            wrong[source] = sorted(context_only)
    assert not wrong, wrong


@pytest.mark.parametrize(
    ("lang", "wanted"),
    [
        ("sv", "Sekunder mellan meddelanden måste vara ett heltal."),
        ("en", "Seconds between messages must be a whole number."),
    ],
)
def test_a_refused_slow_mode_is_told_beside_its_field_in_words(client, auth, make, lang, wanted):
    """It was a flash naming the form's key: "seconds must be a whole number"."""
    moderator = make.user()
    thread = make.thread(forum=make.forum(moderators=[moderator]))
    auth.login(moderator)
    response = client.post(
        f"/threads/{thread.id}/moderate",
        data={"action": "slow_mode", "seconds": "1e3"},
        headers={"Accept-Language": lang},
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert re.search(
        r'<input type="number" id="slow-seconds"[^>]* aria-invalid="true" '
        r'aria-describedby="slow-seconds-error">',
        page,
    )
    assert f'<p class="error" id="slow-seconds-error">{wanted}</p>' in page
    assert 'class="thread-controls" id="thread-controls" open' in page
    assert "seconds must" not in page and "flash-error" not in page


@pytest.mark.parametrize(
    ("lang", "words", "until"),
    [("sv", "Medlem (kommandoraden)", "(till "), ("en", "Member (command line)", "(until ")],
)
@pytest.mark.parametrize("path", ["/moderation/audit", "/admin"])
def test_the_audit_log_shows_the_apps_words_and_times_in_the_readers_language(
    app, client, auth, make, lang, words, until, path
):
    """It showed "(until 2026-12-05T23:58:36.924176Z)" and "(command line)" on Swedish pages,
    on the moderation audit page and on the admin page's latest entries."""
    from forum.services import moderation as moderation_service

    admin, person = make.user("admin"), make.user()
    with app.test_request_context():
        moderation_service.suspend_person(admin, person.id, 60, "Upprepade personangrepp.")
    auth.login(admin)
    page = html.unescape(client.get(path, headers={"Accept-Language": lang}).get_data(as_text=True))
    assert f"<td>{words}</td>" in page
    shown = re.search(r"<td>Upprepade personangrepp\. (\([^)]*\))</td>", page)
    assert shown and shown.group(1).startswith(until), shown
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", shown.group(1))
