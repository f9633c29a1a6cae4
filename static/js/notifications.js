// The bell: a live unread count over the user's own Socket.IO room.
import { socket } from "./live.js";

const counters = document.querySelectorAll("[data-notification-count]");
const announcer = document.getElementById("notify-announcer");

function setCount(n) {
  counters.forEach((el) => { el.textContent = String(n); });
}

// The thread open on this page, if any: its own live region reads its new messages.
const threadRoot = document.getElementById("thread");
const openThread = threadRoot && threadRoot.dataset.live === "true" ? Number(threadRoot.dataset.threadId) : 0;

socket.on("notification", (payload) => {
  setCount(payload.unread);
  const note = payload.notification;
  // A mention or reply in the open thread is read once, as a new message, not twice.
  const seenHere = Boolean(note && openThread && note.thread_id === openThread);
  if (announcer && note && !seenHere) {
    announcer.textContent = "";
    window.setTimeout(() => {
      // what it is ("Alice mentioned you in …", in the language of the person's notices,
      // marked when the page is in the other one), then what it quotes
      const said = document.createElement("span");
      said.textContent = note.summary || note.actor;
      if (note.lang && note.lang !== document.documentElement.lang) said.lang = note.lang;
      announcer.replaceChildren(`${announcer.dataset.prefix || ""}: `, said, note.excerpt ? `: ${note.excerpt}` : "");
    }, 50);
  }
});

socket.on("notification:count", (payload) => setCount(payload.unread));

// Moderators: flags and appeals waiting in their forums, counted live in the header.
const waiting = document.querySelectorAll("[data-moderation-count]");
socket.on("moderation:count", (payload) => {
  waiting.forEach((el) => {
    const number = el.querySelector("[data-moderation-number]");
    if (number) number.textContent = String(payload.count);
    el.hidden = !payload.count; // the number and its "waiting" come and go together
  });
});

// Logging out forgets what this tab kept for the person (unsent messages, drafts), so
// the next person to use the browser neither sees nor sends it: the header's Log out,
// Log out everywhere in the settings, and a session the server ended (from another device).
// Imported dynamically: module scripts run in page order, and a static
// import here would hold back header.js, which folds the phone menu.
const kept = import("./tab-storage.js");
let forget = null;
kept.then((m) => { forget = m.forgetAll; }, () => {});
document.querySelectorAll('form[action$="/logout"], form[action$="/logout-everywhere"]').forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (forget) { forget(); return; }
    event.preventDefault(); // not loaded yet: forget first, then log out
    kept.then((m) => m.forgetAll()).finally(() => form.submit());
  });
});
socket.on("session:ended", () => { kept.then((m) => m.forgetAll()); });
