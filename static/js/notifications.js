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
      announcer.textContent = `${announcer.dataset.prefix || ""} ${payload.notification.actor}: ${payload.notification.excerpt}`;
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
// the next person to use the browser neither sees nor sends it.
document.querySelectorAll('form[action$="/logout"]').forEach((form) => {
  form.addEventListener("submit", () => {
    try {
      Object.keys(window.sessionStorage)
        .filter((key) => key.startsWith("dialogforum:"))
        .forEach((key) => window.sessionStorage.removeItem(key));
    } catch (_e) { /* storage blocked: nothing was kept */ }
  });
});
