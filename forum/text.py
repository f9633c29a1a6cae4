"""User text to HTML: markdown -> HTML -> Bleach. The one sanitiser chokepoint.

Nothing user-written becomes HTML anywhere else. The markdown parser runs with
raw HTML disabled and without images; Bleach then enforces an explicit
allow-list, so even a parser bug cannot let a tag or attribute through.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from html import unescape

import bleach
from bleach.linkifier import LinkifyFilter
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import Markup

ALLOWED_TAGS = frozenset(
    {"p", "br", "em", "strong", "a", "ul", "ol", "li", "blockquote", "code", "pre", "hr", "del"}
)
ALLOWED_ATTRIBUTES: Mapping[str, list[str]] = {
    "a": ["href", "rel", "class", "title"],
    "ol": ["start"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener ugc"
MENTION_RE = re.compile(r"@([A-Za-z0-9ÅÄÖåäöÉéÜü][A-Za-z0-9ÅÄÖåäöÉéÜü._-]{0,39})")
HANDLE_CHARS = re.compile(r"[A-Za-z0-9ÅÄÖåäöÉéÜü._-]")

MentionResolver = Callable[[set[str]], Mapping[str, tuple[int, str]]]
"""Given candidate handles, returns {handle_lower: (user_id, url)} for those that exist."""


@dataclass
class Rendered:
    """The result of rendering: sanitised HTML and the ids of the people mentioned."""

    html: str
    mentioned_user_ids: set[int] = field(default_factory=set)


# Characters before an "@" that make it part of a web address, not a mention.
_IN_URL = frozenset("/:=?&#%+~")


def _mention_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: `@handle` becomes a mention link when the handle is known."""
    pos = state.pos
    if state.src[pos] != "@":
        return False
    if state.linkLevel > 0:
        return False  # inside a link's text: a link in a link is none (axe: no name)
    if pos > 0 and (HANDLE_CHARS.match(state.src[pos - 1]) or state.src[pos - 1] in _IN_URL):
        return False  # part of an email address, a word or a web address (youtube.com/@x)
    match = MENTION_RE.match(state.src, pos)
    if not match:
        return False
    handle = match.group(1).rstrip("._-")
    known = state.env.get("mentions", {})
    target = known.get(handle.lower())
    if target is None:
        return False
    if not silent:
        user_id, url = target
        token = state.push("link_open", "a", 1)
        token.attrs = {"href": url, "class": "mention"}
        state.env.setdefault("mentioned", set()).add(user_id)
        text = state.push("text", "", 0)
        text.content = "@" + handle
        state.push("link_close", "a", -1)
    state.pos += 1 + len(handle)
    return True


def _build_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    md.disable(["image", "html_inline", "html_block", "heading", "lheading"])
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    return md


_parser = _build_parser()


def _set_link_attributes(attrs: dict, new: bool = False) -> dict | None:
    """Every link gets rel=nofollow noopener ugc; mentions keep their class."""
    href = attrs.get((None, "href"), "")
    if not href:
        return None
    attrs[(None, "rel")] = LINK_REL
    return attrs


_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(LinkifyFilter, callbacks=[_set_link_attributes], skip_tags={"pre", "code"})],
)


def candidate_handles(source: str) -> set[str]:
    """The handles that `source` might mention (lower-cased), to resolve in one query."""
    return {m.group(1).rstrip("._-").lower() for m in MENTION_RE.finditer(source)}


def render_markdown(source: str, resolve_mentions: MentionResolver | None = None) -> Rendered:
    """Render user markdown to sanitised HTML, resolving @mentions if a resolver is given."""
    known: Mapping[str, tuple[int, str]] = {}
    if resolve_mentions is not None:
        handles = candidate_handles(source)
        if handles:
            known = resolve_mentions(handles)
    env: dict = {"mentions": known}
    raw = _parser.render(source, env)
    html = _cleaner.clean(raw).strip()
    return Rendered(html=html, mentioned_user_ids=set(env.get("mentioned", set())))


def plain_text(html: str) -> str:
    """The words of sanitised HTML, without tags (for excerpts, quotes and mail)."""
    return unescape(bleach.clean(html, tags=set(), strip=True))


# Excerpts of HTML up to this long are remembered (2,048 of them: at most ~16 MB).
EXCERPT_REMEMBERED_UP_TO = 8192


def excerpt(html: str, length: int = 140) -> str:
    """A plain-text excerpt of rendered HTML (escaped again by whoever shows it).

    Remembered by its arguments (it depends on nothing else) unless the HTML is long: a
    thread page quotes the messages replied to on every view, and each quote ran Bleach's
    parser (a tenth of the page); a long message kept as a key would hold its whole HTML.
    """
    if len(html) > EXCERPT_REMEMBERED_UP_TO:
        return _excerpt(html, length)
    return _remembered_excerpt(html, length)


def _excerpt(html: str, length: int) -> str:
    text = " ".join(plain_text(html).split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


_remembered_excerpt = lru_cache(maxsize=2048)(_excerpt)


# Words common in running Swedish, English or Finnish (a national minority language here)
# text and rare in the others (so not "i", "in", "on", "men", "under", "at", "no"...), for
# telling which of them a person wrote in.
_COMMON_WORDS = {
    "sv": frozenset(
        """och att det som för med inte vi ett av till har kan om jag du så från eller
        också vara ska skulle alla när hur vad här där mycket bara nu oss vår våra sig sin
        sina efter utan mot hos än dem ni han hon detta dessa denna vill blir får göra
        finns eftersom medan men då sedan tack bra just många några ingen inga något
        någon""".split()
    ),
    "en": frozenset(
        """the and to of is are was were that it for with as this be we you they not have
        has by from or but an which will would can could should there their what when how
        our about all if been do does my your more also these those than then into out up
        who its it's we're don't thanks thank very just many some any""".split()
    ),
    "fi": frozenset(
        """ja ei että se ovat oli mutta tai kun niin myös joka tämä hän me te he olen ole
        kanssa kiitos hyvä hyvää voi jos nyt vain mitä kuin sitä siitä meidän teidän
        olemme ovat""".split()
    ),
}
# Somali, written in Latin letters by many of the city's associations: its common words
# are none of the others'.
_COMMON_WORDS["so"] = frozenset(
    """iyo waa waxaa ayaa oo ku ka ee waxay ugu laga lagu sida haddii hadii kale inay
    wuxuu ayuu soo noo kuwa dadka waxaan ayaan uu ay aad mahadsanid""".split()
)
# Swedish words with å, ä or ö; Finnish has ä and ö too, with long vowels written twice
_SWEDISH_LETTERS = re.compile(r"[åäö]")
_FINNISH_VOWELS = re.compile(r"ää|öö|aa|uu|yy|ii|oo|ee")
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_LETTERS = re.compile(r"[^\W\d_]")
_ARABIC_LETTERS = re.compile("[\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06ff\u0750-\u077f]")
# Letters Arabic has not, each language's own (in this order: Kurdish and Urdu write
# Persian's letters too).
_ARABIC_SCRIPT_LANGUAGES = (
    ("ckb", re.compile("[\u0695\u06b5\u06c6\u06ce\u06d5]")),  # ڕ ڵ ۆ ێ ە
    ("ur", re.compile("[\u0679\u0688\u0691\u06ba\u06be\u06d2]")),  # ٹ ڈ ڑ ں ھ ے
    ("fa", re.compile("[\u067e\u0686\u0698\u06af\u06a9\u06cc]")),  # پ چ ژ گ ک ی
)
_TAGS = re.compile(r"<[^>]*>")


def content_language(text: str, html: bool = False) -> str | None:
    """The language a person wrote in when the text plainly is one, else None (too short
    to tell, mixed, another language): the `lang` its container gets, so a screen reader
    reads Swedish words as Swedish on an English page, and Arabic in an Arabic voice (WCAG
    3.1.2). Swedish, English, Finnish and Somali by common words, and letters: at least two
    such words, three times as many as of any other. A text in Arabic letters by the
    letters each language adds: Sorani Kurdish, Urdu, Persian (Dari too), else Arabic.
    `html`: the text is sanitised HTML (its tags are not words)."""
    if len(text) > EXCERPT_REMEMBERED_UP_TO:
        return _content_language(text[:EXCERPT_REMEMBERED_UP_TO], html)
    return _remembered_language(text, html)


def _content_language(text: str, html: bool) -> str | None:
    if html:
        text = unescape(_TAGS.sub(" ", text))
    arabic = len(_ARABIC_LETTERS.findall(text))
    if arabic:  # at least two words, three times as many of its letters as of others
        others = len(_LETTERS.findall(text)) - arabic
        written = sum(1 for word in _WORDS.findall(text) if _ARABIC_LETTERS.match(word))
        if written < 2 or arabic < 3 * others:
            return None
        for lang, letters in _ARABIC_SCRIPT_LANGUAGES:
            if letters.search(text):
                return lang
        return "ar"
    counts = dict.fromkeys(_COMMON_WORDS, 0)
    for word in _WORDS.findall(text.lower()):
        for lang, words in _COMMON_WORDS.items():
            if word in words:
                counts[lang] += 1
                break
        else:
            if _SWEDISH_LETTERS.search(word):
                counts["fi" if _FINNISH_VOWELS.search(word) else "sv"] += 1
    lang, most = max(counts.items(), key=lambda item: item[1])
    others = max(n for other, n in counts.items() if other != lang)
    return lang if most >= 2 and most >= 3 * others else None


_remembered_language = lru_cache(maxsize=4096)(_content_language)


def text_attributes(text: str | None) -> Markup:
    """The template filter `text_attrs`, for the container of a person's text (sanitised
    HTML or plain): its direction, so a text in Arabic, Persian, Kurdish or Urdu reads right
    to left on a Swedish page, and ` lang="sv"` (or another language content_language can
    tell; none: it reads in the page's language). The direction is `rtl` for a text in
    those languages (WeasyPrint's PDFs know no `auto`), else `auto` (its first letter
    decides: a short Arabic text too)."""
    lang = content_language(text, html=True) if text else None
    return _TEXT_ATTRIBUTES[lang]


def language_attributes(lang: str | None) -> Markup:
    """The template filter `lang_attrs`: what `text_attrs` gives a text content_language
    found to be in `lang`, for a text whose language was stored with it (a message's
    payload, a notification's excerpt), so its direction follows the same rule. The thread
    page's JavaScript gives a live message the same (static/js/message.js, setLang)."""
    # a language content_language does not tell: the direction alone
    return _TEXT_ATTRIBUTES.get(lang, _TEXT_ATTRIBUTES[None])


RIGHT_TO_LEFT = (*(lang for lang, _ in _ARABIC_SCRIPT_LANGUAGES), "ar")
LANGUAGES = (*_COMMON_WORDS, *RIGHT_TO_LEFT)
# the only markup text_attrs gives: constants, nothing of the text in them
_TEXT_ATTRIBUTES = {None: Markup(' dir="auto"')} | {
    lang: Markup(' dir="%s" lang="%s"') % ("rtl" if lang in RIGHT_TO_LEFT else "auto", lang)
    for lang in LANGUAGES
}


def slugify(text: str, fallback: str, separator: str = "-", max_length: int = 80) -> str:
    """ASCII lower-case words joined by `separator` ("Förening Ö" -> "forening-o"), at most
    `max_length` characters; `fallback` when nothing is left. For slugs and handles."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", separator, ascii_text.lower()).strip(separator)
    return slug[:max_length] or fallback
