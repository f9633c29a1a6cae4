// One message on a page: fills a clone of the server-rendered <template> (the
// templates/forums/_message.html partial) from the message dict the socket
// protocol carries. The thread page and the consultation page both use it, so
// there is no second renderer of message markup in JavaScript.

export function slot(li, name) {
  return li.querySelector(`[data-slot="${name}"]`);
}

// A message's `changed_at` (ISO 8601 UTC to the microsecond, as forum/formatting.py's
// iso_utc writes it) in microseconds since 1970; null when missing or unreadable.
function version(changedAt) {
  if (!changedAt) return null;
  const [whole, fraction = ""] = String(changedAt).replace(/Z$/, "").split(".");
  const ms = Date.parse(`${whole}Z`);
  const micro = Number(fraction.padEnd(6, "0").slice(0, 6));
  return Number.isFinite(ms) && Number.isFinite(micro) ? ms * 1000 + micro : null;
}

// Whether the state `m` is older than the one of `changedAt` (what a page shows or keeps):
// an acknowledgement built from rows read before a change that reached the page live.
export function olderThan(m, changedAt) {
  const a = version(m.changed_at);
  const b = version(changedAt);
  return a !== null && b !== null && a < b;
}

// Run `change`, which may hide what has the focus under `root` (a message's controls when
// it is hidden or deleted, the replies when the thread is locked): the focus then goes to
// the message it was in (li.message has tabindex=-1), not to <body>, from where the next
// Tab starts again at the top of the page. Returns whether the focus was in `root`.
export function keepFocus(root, change) {
  const focused = document.activeElement;
  const inside = Boolean(focused && focused !== document.body && root.contains(focused));
  change();
  if (inside && !(focused.isConnected && focused.getClientRects().length)) {
    const li = focused.closest("li.message");
    if (li && li.isConnected) li.focus();
  }
  return inside;
}

// ctx: {viewerId, canModerate, notShown, timeFormat}
export function fillMessage(li, m, ctx) {
  return keepFocus(li, () => fill(li, m, ctx));
}

function fill(li, m, ctx) {
  const mine = ctx.viewerId !== 0 && m.author.id === ctx.viewerId;
  li.id = `m${m.id}`;
  li.dataset.id = String(m.id);
  li.dataset.authorId = String(m.author.id);
  li.dataset.state = m.state;
  li.dataset.changedAt = m.changed_at || "";
  li.dataset.body = m.body || "";
  if (mine && m.client_id) li.dataset.clientId = m.client_id;
  const author = slot(li, "author");
  author.textContent = m.author.display_name;
  author.href = `/people/${encodeURIComponent(m.author.handle || "")}`;
  slot(li, "organisation").textContent = m.author.organisation || "";
  slot(li, "permalink").href = `#m${m.id}`;
  const time = slot(li, "time");
  time.dateTime = m.created_at;
  time.textContent = ctx.timeFormat.format(new Date(m.created_at));
  slot(li, "edited").hidden = !m.edited_at;
  const quote = slot(li, "quote");
  quote.hidden = !m.reply_quote;
  if (m.reply_quote) {
    slot(li, "quote-link").href = `#m${m.reply_quote.id}`;
    slot(li, "quote-author").textContent = m.reply_quote.author_name;
    const quoteTextEl = slot(li, "quote-text");
    quoteTextEl.textContent = m.reply_quote.excerpt ?? ctx.notShown;
    setLang(quoteTextEl, m.reply_quote.excerpt == null ? null : m.reply_quote.lang);
  }
  const bodyEl = slot(li, "body");
  // m.html was sanitised once, on the server, by forum/text.py.
  bodyEl.innerHTML = m.html;
  setLang(bodyEl, m.lang);
  bodyEl.hidden = m.state !== "visible";
  slot(li, "deleted").hidden = m.state !== "deleted";
  slot(li, "hidden").hidden = m.state !== "hidden";
  // a broadcast carries the reason in every language; the page shows its own
  const reasons = m.hidden_reasons || {};
  slot(li, "hidden-reason").textContent =
    reasons[document.documentElement.lang] || m.hidden_reason || "";
  const set = (name, fn) => { const el = slot(li, name); if (el) fn(el); };
  set("actions", (el) => { el.hidden = m.state !== "visible"; });
  set("reply-link", (el) => { el.href = `?reply_to=${m.id}#composer`; });
  set("action-link", (el) => { el.href = `/actions/new?message=${m.id}`; });
  set("edit-link", (el) => { el.href = `/messages/${m.id}/edit`; el.hidden = !mine; });
  set("delete-form", (el) => { el.action = `/messages/${m.id}/delete`; el.hidden = !mine; });
  set("flag-link", (el) => { el.href = `/messages/${m.id}/flag`; el.hidden = mine; });
  set("moderate-link", (el) => { el.href = `/moderation/messages/${m.id}`; });
  set("reactions", (el) => {
    el.hidden = m.state !== "visible";
    el.action = `/messages/${m.id}/reactions`;
    if (m.reactions) applyReactions(li, m.reactions, ctx.mine);
  });
  set("history-link", (el) => {
    el.href = `/messages/${m.id}/revisions`;
    el.hidden = !(m.edited_at && (mine || ctx.canModerate));
  });
}

// What a reply's quote shows of `m`: its words (as forum/text.py's excerpt(html, 160):
// no tags, spaces collapsed, cut at 160 characters with "…"), or null when it is not
// shown (hidden, deleted).
const QUOTE_LENGTH = 160;

export function quoteText(m) {
  if (m.state !== "visible") return null;
  const parsed = document.createElement("template"); // inert: nothing in it runs or loads
  parsed.innerHTML = m.html;
  const words = parsed.content.textContent.split(/\s+/).filter(Boolean).join(" ");
  const chars = Array.from(words);
  if (chars.length <= QUOTE_LENGTH) return words;
  return `${chars.slice(0, QUOTE_LENGTH - 1).join("").trimEnd()}…`;
}

// Every quote of `m` under `root` shows `m` as it is now: a hidden, redacted, edited or
// deleted message keeps its old words in no reply on the page. The server also sends the
// replies themselves (up to a bound), whose quotes it writes; this covers the rest.
export function refreshQuotes(root, m, ctx) {
  const text = quoteText(m);
  root.querySelectorAll(`a[data-slot="quote-link"][href="#m${m.id}"]`).forEach((link) => {
    const quote = link.closest('[data-slot="quote"]');
    const el = quote && quote.querySelector('[data-slot="quote-text"]');
    if (!el) return;
    el.textContent = text ?? ctx.notShown;
    setLang(el, text == null ? null : m.lang);
  });
}

// The languages written right to left that forum/text.py tells (RIGHT_TO_LEFT).
const RIGHT_TO_LEFT = new Set(["ckb", "ur", "fa", "ar"]);

// The language a person's text is written in (the payload's `lang`: "sv", "en", "ar"...,
// forum/text.py), on its element, so a screen reader reads it in that language (none: the
// page's), and its direction: right to left for those languages, else its first letter's
// ("auto"), as the filter lang_attrs gives it on a page the server writes.
function setLang(el, lang) {
  if (lang) el.lang = lang;
  else el.removeAttribute("lang");
  el.dir = RIGHT_TO_LEFT.has(lang) ? "rtl" : "auto";
}

// The words for one person and for two (the script puts in n) with `emoji`: on the page's
// blank message, the <template> every page with messages has, not on every message.
function reactionLabels(emoji) {
  const template = document.getElementById("message-template");
  const source = template && template.content.querySelector(
    `button[data-reaction="${emoji}"], [data-reaction-count-of="${emoji}"]`,
  );
  return source ? source.dataset : {};
}

// Show a message's reactions: [{emoji, count, people, mine?}]. `mine` comes only in this
// person's own acks and page; a broadcast has none, so `mineOf(messageId, emoji)` (the page's
// memory of its own reactions) decides then. A page that offers no reacting (a round's
// latest messages) has each count as text ([data-reaction-count-of]), not a button.
export function applyReactions(li, reactions, mineOf) {
  const bar = slot(li, "reactions");
  if (!bar) return;
  const id = Number(li.dataset.id);
  const byEmoji = new Map(reactions.map((r) => [r.emoji, r]));
  bar.querySelectorAll("button[data-reaction], [data-reaction-count-of]").forEach((button) => {
    const emoji = button.dataset.reaction || button.dataset.reactionCountOf;
    const r = byEmoji.get(emoji);
    const n = r ? r.count : 0;
    button.hidden = n === 0 && document.activeElement !== button;
    if (button.tagName === "BUTTON") {
      const mine = r ? (r.mine ?? (mineOf ? mineOf(id, emoji) : false)) : false;
      button.name = mine ? "remove" : "add"; // what posting it does, with the emoji as value
      button.setAttribute("aria-pressed", mine ? "true" : "false");
    }
    const { labelOne, labelTwo } = reactionLabels(emoji);
    if (labelOne && labelTwo) {
      button.setAttribute("aria-label", n === 1 ? labelOne : labelTwo.replace("2", String(n)));
    }
    button.title = r ? r.people.join(", ") : "";
    button.querySelector("[data-reaction-count]").textContent = String(n);
  });
}

export function renderMessage(template, m, ctx) {
  const li = template.content.firstElementChild.cloneNode(true);
  fillMessage(li, m, ctx);
  return li;
}

// A time as the server writes it (forum/formatting.py, "medium"): the medium date, a
// space, the short time, in Stockholm; English is British (day month, 24-hour clock).
export function timeFormatter() {
  const lang = document.documentElement.lang === "en" ? "en-GB" : "sv-SE";
  const zone = "Europe/Stockholm";
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: zone });
  const time = new Intl.DateTimeFormat(lang, { timeStyle: "short", timeZone: zone });
  return { format: (date) => `${day.format(date)} ${time.format(date)}` };
}

// A polite live region. Announcements wait a second, and longer while the person is
// typing in `busyEl`, so they neither talk over the keystrokes nor queue one line per
// message: the new messages of a burst become one line, `burst(messages)` (each message
// {name, text, line}; one alone is read as its own `line`). Urgent ones go at once.
// Read out in a hidden tab, new messages would be heard by no one: they wait, and the
// person hears them on coming back, as one line.
const QUIET_MS = 1000;

export function announcer(region, busyEl, { burst } = {}) {
  let lastKey = 0;
  let waiting = [];
  let messages = [];
  let timer = null;
  if (busyEl) busyEl.addEventListener("keydown", () => { lastKey = Date.now(); });
  const typing = () => busyEl && document.activeElement === busyEl && Date.now() - lastKey < 2000;
  function put(text) {
    const p = document.createElement("p");
    p.textContent = text;
    region.appendChild(p);
    while (region.childElementCount > 3) region.firstElementChild.remove();
  }
  function drain() {
    timer = null;
    if (typing()) { timer = window.setTimeout(drain, QUIET_MS); return; }
    const lines = waiting.slice(-2);
    if (messages.length && !document.hidden) {
      lines.push(messages.length > 1 && burst ? burst(messages) : messages[messages.length - 1].line);
      messages = [];
    }
    waiting = [];
    lines.forEach(put);
  }
  const later = () => { if (!timer) timer = window.setTimeout(drain, QUIET_MS); };
  document.addEventListener("visibilitychange", () => { if (!document.hidden && messages.length) later(); });
  function say(text, { urgent = false } = {}) {
    if (urgent) { put(text); return; }
    waiting.push(text);
    later();
  }
  // A new message from someone else: {name, text, line}, read with the rest of its burst.
  say.message = (message) => { messages.push(message); later(); };
  return say;
}
