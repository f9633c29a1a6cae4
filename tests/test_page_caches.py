"""What the thread, forum and list pages remember between requests (issue 13): a second view
comes from the cache, another viewer or language gets their own, a change shows up."""

from __future__ import annotations

import re

import pytest
from support import csrf_tokens, without_csrf_tokens

from forum.config import parse_rate_limit


def text(response):
    return response.get_data(as_text=True)


def quote_of(page: str) -> str:
    """The texts of the page's quotes (the blank message <template>'s is empty)."""
    return " | ".join(
        re.findall(r'data-slot="quote-text" dir="auto"(?: lang="\w+")?>([^<]*)<', page)
    )


@pytest.mark.config(FORUM_MESSAGE_RATE_LIMIT=parse_rate_limit("off"))
def test_a_quoted_message_is_excerpted_once_and_an_edit_shows_in_the_quote(client, make, auth):
    from forum.text import _remembered_excerpt as excerpt

    alice, bob = make.user(), make.user()
    thread = make.thread(author=alice)
    quoted = make.message(thread, alice, "första **versionen** av citatet")
    make.message(thread, bob, "svar", reply_to=quoted.id)
    auth.login(bob)
    assert "första versionen av citatet" in quote_of(text(client.get(f"/threads/{thread.id}")))
    before = excerpt.cache_info()
    client.get(f"/threads/{thread.id}")
    after = excerpt.cache_info()
    assert after.hits > before.hits and after.misses == before.misses  # not parsed again
    auth.login(alice)
    assert client.post(f"/messages/{quoted.id}/edit", data={"body": "andra"}).status_code == 302
    auth.login(bob)
    quote = quote_of(text(client.get(f"/threads/{thread.id}")))
    assert "andra" in quote and "första" not in quote


def test_long_html_is_excerpted_without_being_remembered():
    from forum.text import EXCERPT_REMEMBERED_UP_TO, _remembered_excerpt, excerpt

    long_html = "<p>" + "ord " * EXCERPT_REMEMBERED_UP_TO + "</p>"
    before = _remembered_excerpt.cache_info()
    assert excerpt(long_html, 20) == "ord ord ord ord ord…"
    assert _remembered_excerpt.cache_info().currsize == before.currsize
    assert excerpt("<p>kort <b>text</b></p>") == "kort text"
    assert _remembered_excerpt.cache_info().currsize == before.currsize + 1


def test_remembered_html_is_bounded_by_entries_and_by_characters():
    from forum.web.remembered import Remembered

    store = Remembered(limit=3, max_chars=100)
    for n in range(5):
        store.put(n, "x" * 10)
    assert list(store.items) == [2, 3, 4] and store.chars == 30
    assert store.get(2) == "x" * 10  # used: now the newest
    store.put("big", "y" * 80)  # 110 characters: the least recently used go first
    assert list(store.items) == [4, 2, "big"] and store.chars == 100
    store.put("big", "z" * 5)  # replacing counts the new size only
    assert store.chars == 25 and store.get("big") == "z" * 5
    store.put("huge", "w" * 200)  # larger than the whole budget: not kept at all
    assert "huge" not in store.items and store.chars <= 100


def test_a_fill_name_the_slots_cannot_hold_is_refused(app):
    from forum.web.fragments import fragment

    with app.test_request_context(), pytest.raises(AssertionError):
        fragment("k", fill={"userName": "x"}, caller=lambda fill=None: "")


def _fragment_problems(block, keys: list, params: set[str], fill_names: set[str]) -> list[str]:
    """What a fragment's body reads besides `ALLOWED_NAMES`, its own names and the key."""
    from jinja2 import nodes

    from forum.web.fragments import ALLOWED_NAMES

    own = {n.name for n in block.find_all(nodes.Name) if n.ctx == "store"} - params
    problems: list[str] = []

    def visit(node, in_output: bool = False) -> None:
        if any(node == key for key in keys):
            return  # the very expression the key holds
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            if node.node.name in params:
                if not in_output or node.attr not in fill_names:
                    problems.append(f"{node.node.name}.{node.attr} outside {{{{ }}}} or unknown")
                return
        if isinstance(node, nodes.Name) and node.ctx == "load":
            if node.name not in ALLOWED_NAMES and node.name not in own:
                problems.append(node.name)
            return
        for child in node.iter_child_nodes():
            visit(child, isinstance(node, nodes.Output))

    for statement in block.body:
        visit(statement)
    return problems


def test_every_fragment_reads_only_what_its_key_holds(app):
    """A remembered fragment must not read anything its key does not cover: only the
    translation and link helpers, `lang` (the language is in every key), its own loop and
    set names, the exact expressions passed as its key, and `{{ fill.x }}` slots."""
    from jinja2 import nodes

    env = app.jinja_env
    checked = []
    for name in env.list_templates(filter_func=lambda n: n.endswith(".html")):
        source = env.loader.get_source(env, name)[0]
        if "fragment(" not in source:
            continue
        for block in env.parse(source).find_all(nodes.CallBlock):
            call = block.call
            if not (isinstance(call.node, nodes.Name) and call.node.name == "fragment"):
                continue
            fill = next((k.value for k in call.kwargs if k.key == "fill"), None)
            fill_names = {item.key.value for item in fill.items} if fill is not None else set()
            params = {a.name for a in block.args}
            assert bool(params) == (fill is not None), (
                f"{name}:{block.lineno}: call(fill) and fill="
            )
            problems = _fragment_problems(block, list(call.args), params, fill_names)
            assert not problems, f"{name}:{block.lineno} reads {problems}"
            checked.append(f"{name}:{block.lineno}")
    assert len(checked) >= 3, checked  # base.html's head, header and footer at least


def header_of(page: str) -> str:
    return page[page.index('<header class="site-header">') : page.index("</header>")]


def test_the_header_is_rendered_once_per_language_and_kind_of_viewer(app, make, db):
    """base.html's fragments (forum/web/fragments.py): a second page renders nothing new;
    another language, a visitor, an admin each get their own; each viewer's name, count,
    CSRF token, search words and path are their own."""
    from support import Auth

    from forum.services import notifications
    from forum.web.fragments import remembered

    alice, bob, admin = make.user(name="Alice Ö"), make.user(name="Bob <b>"), make.user("admin")
    clients = {}
    for who in (alice, bob, admin):
        clients[who] = app.test_client()
        Auth(clients[who]).login(who)
    visitor = app.test_client()

    alice_page = text(clients[alice].get("/forums"))
    with app.app_context():
        renders = remembered().renders
    again = text(clients[alice].get("/forums"))
    assert without_csrf_tokens(again) == without_csrf_tokens(alice_page)
    # the token stays the session's (its signed timestamp moves with the second)
    assert {t.split(".")[0] for t in csrf_tokens(again)} == {
        t.split(".")[0] for t in csrf_tokens(alice_page)
    }
    bob_page = text(clients[bob].get("/forums"))
    with app.app_context():
        assert remembered().renders == renders  # Bob: the same kind of viewer, nothing rendered
    assert ">Alice Ö</a>" in header_of(alice_page) and "Bob" not in alice_page
    assert ">Bob &lt;b&gt;</a>" in header_of(bob_page)  # filled in, escaped
    assert csrf_tokens(alice_page) and csrf_tokens(alice_page).isdisjoint(csrf_tokens(bob_page))
    assert "\x00" not in bob_page
    assert '/admin"' not in header_of(bob_page)
    assert '/admin"' in header_of(text(clients[admin].get("/forums")))
    assert '/admin"' not in header_of(text(clients[bob].get("/forums")))  # after the admin's

    english = text(clients[alice].get("/forums", headers={"Accept-Language": "en"}))
    assert ">Forum</a>" in header_of(alice_page) and ">Logga ut<" in header_of(alice_page)
    assert ">Forums</a>" in header_of(english) and ">Log out<" in header_of(english)
    assert ">Dialogue forums<" in english and ">Alice Ö</a>" in header_of(english)

    anonymous = text(visitor.get("/search?q=%22r%C3%A5d%22", headers={"Accept-Language": "sv"}))
    assert 'value="&#34;råd&#34;"' in header_of(anonymous)
    assert "/login?next=/search" in header_of(anonymous) and "Alice" not in anonymous
    assert 'name="next" value="/search?q=%22r%C3%A5d%22"' in header_of(anonymous)
    other = text(visitor.get("/forums"))
    assert 'value=""' in header_of(other) and 'name="next" value="/forums"' in other

    # a change shows: a new notification's count, a new name
    with app.test_request_context():
        notifications.deliver([bob], "mention", "Hej!", "/forums")
    assert '<span class="count" data-notification-count>1</span>' in text(
        clients[bob].get("/forums")
    )
    settings = {"display_name": "Robert", "locale": "en", "save_settings": "1"}
    assert clients[bob].post("/settings", data=settings).status_code == 303
    renamed = header_of(text(clients[bob].get("/forums")))
    assert ">Robert</a>" in renamed and ">Log out<" in renamed


def test_the_cache_keys_language_follows_force_locale(app):
    """formatting.locale_zone() is remembered next to Flask-Babel's locale object: a mail
    rendered in its recipient's language inside a Swedish request keys its own HTML."""
    from flask_babel import force_locale

    from forum.formatting import locale_zone

    with app.test_request_context(headers={"Accept-Language": "sv"}):
        assert locale_zone() == ("sv", "Europe/Stockholm")
        assert locale_zone() == ("sv", "Europe/Stockholm")  # the remembered one
        with force_locale("en"):
            assert locale_zone() == ("en", "Europe/Stockholm")
        assert locale_zone() == ("sv", "Europe/Stockholm")


def test_a_checkbox_list_is_rendered_once_and_keeps_what_was_checked(
    app, make, auth, client, monkeypatch
):
    """forms.MultiCheckboxField remembers a blank list by everything it shows: a second blank
    form renders no list; a form sent back with an error keeps the boxes that were checked;
    the other language gets its own labels; other attributes their own list."""
    from wtforms.widgets import ListWidget

    from forum.web.forms import MultiCheckboxField

    lists = []
    render = ListWidget.__call__
    monkeypatch.setattr(
        ListWidget,
        "__call__",
        lambda self, field, **kw: lists.append(1) or render(self, field, **kw),
    )
    member = make.user()
    forum = make.forum()
    first, second = (str(i) for i in make.commitment_ids(2))
    auth.login(member)
    blank = text(client.get(f"/forums/{forum.slug}"))
    assert len(lists) == 1
    again = text(client.get(f"/forums/{forum.slug}"))
    assert len(lists) == 1  # from the store
    assert without_csrf_tokens(again) == without_csrf_tokens(blank)
    assert blank.count('type="checkbox"') == 13 and " checked" not in blank

    sent = client.post(
        f"/forums/{forum.slug}", data={"title": "", "commitments": [first, second], "body": "x"}
    )
    assert sent.status_code == 400
    checked = re.findall(r'<input checked[^>]*value="(\d+)"', text(sent))
    assert sorted(checked) == sorted([first, second])
    again = client.post(f"/forums/{forum.slug}", data={"title": "", "commitments": [second]})
    assert re.findall(r'<input checked[^>]*value="(\d+)"', text(again)) == [second]
    assert " checked" not in text(client.get(f"/forums/{forum.slug}"))  # blank again

    rendered = len(lists)
    english = text(client.get(f"/forums/{forum.slug}", headers={"Accept-Language": "en"}))
    assert len(lists) == rendered + 1  # its own list
    swedish_labels = re.findall(r'<label for="commitments-\d+">([^<]*)<', blank)
    english_labels = re.findall(r'<label for="commitments-\d+">([^<]*)<', english)
    assert len(english_labels) == 13 and english_labels != swedish_labels

    from wtforms import Form, SelectChoice

    class Choosing(Form):  # the same name, id and choices, called with and without a class
        field = MultiCheckboxField(
            "C", choices=[SelectChoice("1", "Ett"), SelectChoice("2", "Två")]
        )

    with app.test_request_context():
        form = Choosing()
        plain, styled = str(form.field()), str(form.field(class_="checkbox-list"))
        assert plain != styled and 'class="checkbox-list"' in styled
        assert str(form.field()) == plain and str(form.field(class_="checkbox-list")) == styled
