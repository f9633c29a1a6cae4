// The thread's message list: inserts and updates messages from the server
// (filled from the page's <template>), keeps outgoing ones at the end, loads
// older pages when scrolled to the top without moving what is on screen,
// pauses live updates on request and moves the reader's unread marker.
import { fillMessage, keepFocus, olderThan, refreshQuotes, renderMessage } from "../message.js";
import { format } from "../live.js";

// How long "Show older messages" waits for the server's answer before it may be asked again.
const HISTORY_TIMEOUT = 10000;

export function createFeed({ socket, threadId, viewerId, ctx, S, say, isJoined }) {
  const feed = document.getElementById("feed");
  const takesPart = feed.hasAttribute("data-takes-part"); // may write here, if not now
  const SPEAKING = "[data-action=reply], [data-slot=reaction-picker], [data-slot=action-link]";
  const template = document.getElementById("message-template");
  const showNew = document.getElementById("show-new");
  const pauseButton = document.getElementById("pause");
  const olderWrap = document.getElementById("older-wrap");
  const newestLink = document.getElementById("skip-newest");
  let paused = false;
  let queued = [];
  let hasOlder = Boolean(olderWrap);
  let loadingOlder = false;
  let readTimer = null;

  document.getElementById("live-controls").hidden = false;

  function ids() {
    return Array.from(feed.querySelectorAll("li.message[data-id]"), (li) => Number(li.dataset.id));
  }
  function lastId() {
    const all = ids();
    return all.length ? Math.max(...all) : 0;
  }
  function firstId() {
    const all = ids().filter((id) => id > 0);
    return all.length ? Math.min(...all) : 0;
  }
  // The feed scrolls inside itself on wide screens and with the page on narrow ones.
  function scroller() {
    return feed.scrollHeight > feed.clientHeight + 1 && getComputedStyle(feed).overflowY !== "visible"
      ? feed : document.scrollingElement;
  }
  function nearBottom() {
    const s = scroller();
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }
  function toBottom() {
    const s = scroller();
    s.scrollTop = s.scrollHeight;
  }
  function updateNewestLink() {
    if (!newestLink) return;
    const id = lastId();
    newestLink.href = id ? `#m${id}` : "#feed";
  }

  // Insert or update; returns true when the message was new to this page.
  function upsert(m, { announce = false } = {}) {
    if (m.thread_id !== threadId) return false;
    const existing = document.getElementById(`m${m.id}`);
    if (existing) {
      if (olderThan(m, existing.dataset.changedAt)) return false; // a newer one is shown
      const was = existing.dataset.state;
      // the focus in it stays on it (message.js); the person is told why its controls went
      // (a deletion of one's own is told by composer.js, which made it)
      const told = m.state === "hidden" || m.author.id !== viewerId;
      if (fillMessage(existing, m, ctx) && was === "visible" && m.state !== "visible" && told) {
        say(m.state === "hidden" ? S.messageHidden : S.messageDeleted);
      }
      refreshQuotes(feed, m, ctx);
      return false;
    }
    const stick = nearBottom();
    const li = renderMessage(template, m, ctx);
    markClosed(li);
    const after = ids().filter((id) => id > m.id);
    if (after.length) {
      feed.insertBefore(li, document.getElementById(`m${Math.min(...after)}`));
    } else {
      feed.insertBefore(li, feed.querySelector("li.outgoing"));
    }
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
    if (stick || m.author.id === viewerId) toBottom();
    if (announce) tell(m, li);
    updateNewestLink();
    scheduleRead();
    return true;
  }

  // Read out a new message of someone else's (`li`, its rendering): one still to be read,
  // not one hidden or deleted before it reached the page.
  function tell(m, li) {
    if (m.author.id === viewerId || m.state !== "visible") return;
    const text = li.querySelector("[data-slot=body]").textContent.trim().slice(0, 140);
    const name = m.author.display_name;
    say.message({ name, text, line: `${format(S.newMessage, { name })}: ${text}` });
  }

  // A message from the server while paused waits behind the "Show n new" button; a newer
  // state of one waiting there (edited, hidden, deleted) replaces the waiting copy, so that
  // "Show n new" shows it as it is now, not as it was sent. With `hold` (what a reconnect
  // caught up) it waits there too when the reader is not at the bottom, where it would
  // come unseen, below them; and while any wait, the next ones wait behind them, in order.
  function receive(m, { announce = false, hold = false } = {}) {
    if (m.thread_id !== threadId) return;
    const waiting = queued.findIndex((q) => q.id === m.id);
    if (waiting >= 0) {
      if (!olderThan(m, queued[waiting].changed_at)) queued[waiting] = m;
      return;
    }
    const wait = paused || queued.length > 0 || (hold && !nearBottom());
    if (wait && m.author.id !== viewerId && !document.getElementById(`m${m.id}`)) {
      queued.push(m);
      updateShowNew();
      if (announce && !paused) tell(m, renderMessage(template, m, ctx));
      return;
    }
    upsert(m, { announce });
  }

  // A change to a message (edited, deleted, hidden, restored; live or in a catch-up's
  // `changed`): the copy on the page or waiting behind "Show n new" takes it, and one newer
  // than the page comes in as a new one would. One older than the oldest loaded is left to
  // "Show older messages": put at the top, it would become the page's first and the older
  // pages would be asked for from it, skipping those between. Returns whether it was taken.
  function change(m) {
    if (m.thread_id !== threadId) return false;
    const oldest = firstId();
    const known = document.getElementById(`m${m.id}`) || queued.some((q) => q.id === m.id);
    if (!known && oldest && m.id < oldest) return false;
    receive(m);
    return true;
  }

  // New reaction counts for a message waiting behind "Show n new": its copy takes them, so
  // it shows them when shown (a broadcast's counts say nothing of whose they are: `mine`
  // is the page's own memory, as for the messages on the page).
  function reacted(id, reactions) {
    const waiting = queued.find((q) => q.id === id);
    if (waiting) waiting.reactions = reactions;
  }

  function updateShowNew() {
    showNew.hidden = queued.length === 0;
    const n = queued.length;
    showNew.textContent = format(n === 1 ? S.showNewOne : S.showNew, { n });
  }
  // Show what waited. The button goes with it: had it the focus (what waited came in as
  // the reader scrolled to the end, or on resuming), the first of them takes it.
  function flush() {
    const batch = queued;
    const focused = document.activeElement === showNew;
    queued = [];
    batch.forEach((m) => upsert(m));
    updateShowNew();
    const first = focused && batch.length && document.getElementById(`m${batch[0].id}`);
    if (first) first.focus();
  }
  // A toggle: its label stays, aria-pressed says whether it is on (and the style shows it).
  // A label that changed as well was read as "Resume live updates, pressed".
  pauseButton.addEventListener("click", () => {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", String(paused));
    if (!paused) flush();
  });
  showNew.addEventListener("click", () => {
    const first = queued.length ? queued[0].id : 0;
    flush();
    toBottom();
    const target = first && document.getElementById(`m${first}`);
    if (target) target.focus({ preventScroll: true });
    else pauseButton.focus();
  });

  function scheduleRead() {
    if (!viewerId || readTimer || document.hidden) return;
    readTimer = window.setTimeout(() => {
      readTimer = null;
      const id = lastId();
      if (id && socket.connected) socket.emit("read", { thread_id: threadId, message_id: id }, () => {});
    }, 1000);
  }
  document.addEventListener("visibilitychange", scheduleRead);

  // Older messages: prepend, then scroll by the added height so nothing jumps. The answer
  // is awaited with a timeout: socket.io forgets a plain acknowledgement when the connection
  // drops, and "Show older messages" would then wait for it until the page was reloaded.
  // Returns whether it asked (not in the room: the link's own ?before= page is there).
  function loadOlder() {
    if (!hasOlder || !isJoined()) return false;
    if (loadingOlder) return true;
    loadingOlder = true;
    socket.timeout(HISTORY_TIMEOUT).emit("history", { thread_id: threadId, before: firstId(), limit: 50 }, (err, ack) => {
      loadingOlder = false;
      if (err || !ack || !ack.ok) return;
      const s = scroller();
      const height = s.scrollHeight;
      const top = s.scrollTop;
      const first = feed.querySelector("li.message[data-id]") || feed.firstElementChild;
      let oldest = null;
      ack.messages.forEach((m) => {
        if (document.getElementById(`m${m.id}`)) return;
        const li = renderMessage(template, m, ctx);
        markClosed(li);
        feed.insertBefore(li, first);
        if (!oldest) oldest = li;
      });
      s.scrollTop = top + (s.scrollHeight - height);
      hasOlder = ack.has_more;
      if (!hasOlder && olderWrap) {
        // the link had the focus (pressed from the keyboard): it goes to the oldest message,
        // where the link was in the reading order, not to the top of the page
        const focused = olderWrap.contains(document.activeElement);
        olderWrap.remove();
        if (focused) (oldest || feed.querySelector("li.message[data-id]") || feed).focus();
      }
    });
    return true;
  }
  const older = document.getElementById("older");
  if (older) older.addEventListener("click", (event) => { if (loadOlder()) event.preventDefault(); });
  const nearTop = () => {
    const s = scroller();
    if (s === feed) return feed.scrollTop < 40;
    return feed.getBoundingClientRect().top > -40;
  };
  // Not paused, the reader who scrolls down to the end finds there what waited for them.
  const showAtBottom = () => { if (!paused && queued.length && nearBottom()) flush(); };
  feed.addEventListener("scroll", () => {
    if (nearTop()) loadOlder();
    showAtBottom();
  });
  window.addEventListener("scroll", () => {
    if (scroller() !== feed && nearTop()) loadOlder();
    showAtBottom();
  }, { passive: true });

  // Open at the first unread message, else at the newest.
  function openAtStart() {
    const divider = document.getElementById("first-unread");
    const s = scroller();
    if (divider) {
      if (s === feed) feed.scrollTop = divider.offsetTop - feed.offsetTop - 20;
      else divider.scrollIntoView({ block: "start" });
    } else {
      toBottom();
    }
  }

  // The ways to speak on a message (Reply, React, "Make this an action") are there while the
  // thread is open to this person, and a count is pressed to react only then; otherwise it
  // says it is unavailable (aria-disabled), and still takes the focus and shows who reacted
  // (reactions.js). `root`: the feed, or a message just drawn from the page's <template>,
  // which was drawn as things stood when the page loaded.
  function markClosed(root) {
    const closed = feed.hasAttribute("data-closed");
    root.querySelectorAll(SPEAKING).forEach((el) => { el.hidden = closed; });
    root.querySelectorAll("button[data-reaction]").forEach((button) => {
      if (closed || !takesPart) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    });
  }

  // A control in focus that goes (Reply, Edit, React) leaves the focus on its message.
  function setLocked(locked) {
    keepFocus(feed, () => {
      feed.toggleAttribute("data-closed", locked); // also hides them on messages still to come
      markClosed(feed);
      feed.querySelectorAll("[data-own-only]").forEach((el) => {
        const li = el.closest("li.message");
        el.hidden = locked || !li || Number(li.dataset.authorId) !== viewerId;
      });
    });
  }

  updateNewestLink();
  return { feed, upsert, receive, change, reacted, lastId, openAtStart, setLocked, toBottom, updateNewestLink };
}
