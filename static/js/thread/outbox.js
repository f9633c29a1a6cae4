// The outbox: every message the person sends waits here, visible in the feed
// as "sending", until the server acknowledges it. It is kept in sessionStorage
// so a reload does not lose it, and it is resent with the same client_id when
// the socket is back (the server answers a repeat with the stored message, so
// nothing is doubled). A refused message shows why and can be edited, retried
// or discarded.
import { slot } from "../message.js";
import { keptKey } from "../tab-storage.js";

const SEND_TIMEOUT = 10000;
// Sends gone unanswered one after the other on a connection that says it is up: the link
// is dead though nothing closed it (a phone in a tunnel), and would say "live" until
// socket.io's own ping gives up (45 s). One alone may be a slow link; two close it.
const DEAD_AFTER_TIMEOUTS = 2;

// Per person and thread: on a shared computer the next person to log in in this tab
// never sees, let alone sends, what the previous one left unsent (logout also clears it).
function storageKey(viewerId, threadId) {
  return keptKey("outbox", viewerId, threadId);
}

export function createOutbox({ socket, threadId, viewerId, feedApi, S, say, canSend, onEdit, onMuted, onDead }) {
  const feed = feedApi.feed;
  const template = document.getElementById("outgoing-template");
  const items = new Map(); // client_id -> {client_id, body, reply_to, reply_name, state, error}
  const attempts = new Map(); // client_id -> attempt number, so a late answer is ignored
  let inFlight = null; // the client_id being sent now
  let ended = false; // the session ended: nothing is sent or kept any more
  let closed = ""; // why nothing can be sent here any more (access ended), once it is so
  let waitTimer = 0; // slow mode or the message rate said wait: the next try is then
  let unanswered = 0; // sends timed out in a row on this connection
  let queuedSaid = false; // "waiting for the connection" is said once while it is down

  function save() {
    if (ended) return;
    try {
      const list = Array.from(items.values());
      if (list.length) window.sessionStorage.setItem(storageKey(viewerId, threadId), JSON.stringify(list));
      else window.sessionStorage.removeItem(storageKey(viewerId, threadId));
    } catch (_e) { /* storage full or blocked: the page still has them */ }
  }
  function load() {
    try {
      const list = JSON.parse(window.sessionStorage.getItem(storageKey(viewerId, threadId)) || "[]");
      return Array.isArray(list) ? list.filter((i) => i && i.client_id && typeof i.body === "string") : [];
    } catch (_e) {
      return [];
    }
  }

  function row(clientId) {
    return feed.querySelector(`li.outgoing[data-client-id="${CSS.escape(clientId)}"]`);
  }
  function draw(item) {
    let li = row(item.client_id);
    if (!li) {
      li = template.content.firstElementChild.cloneNode(true);
      li.dataset.clientId = item.client_id;
      feed.appendChild(li);
      const empty = document.getElementById("empty");
      if (empty) empty.remove();
    }
    li.dataset.state = item.state;
    slot(li, "body").textContent = item.body;
    const quote = slot(li, "quote");
    quote.hidden = !item.reply_name;
    quote.textContent = item.reply_name ? item.reply_label : "";
    const offline = item.state === "sending" && !canSend();
    slot(li, "status").textContent = item.state === "failed" ? S.failed
      : offline ? (ended ? S.endedUnsent : S.queued) : item.waiting || S.sending;
    const error = slot(li, "error");
    error.textContent = item.error || "";
    error.hidden = !item.error;
    slot(li, "failed-actions").hidden = item.state !== "failed";
    return li;
  }
  function drop(clientId) {
    if (inFlight === clientId) inFlight = null;
    items.delete(clientId);
    attempts.delete(clientId);
    const li = row(clientId);
    if (li) li.remove();
    save();
  }
  // Sent: the row gives way to the stored message. Focus that was in the row (on its
  // status after "Try again") moves to the message, not to the top of the page.
  function settle(clientId, message) {
    const li = row(clientId);
    const hadFocus = Boolean(li && li.contains(document.activeElement));
    drop(clientId);
    if (message) feedApi.upsert(message);
    if (hadFocus) {
      const shown = message && document.getElementById(`m${message.id}`);
      (shown || document.getElementById("body") || feed).focus();
    }
  }

  function payload(item) {
    const p = { thread_id: threadId, body: item.body, client_id: item.client_id };
    if (item.reply_to) p.reply_to = item.reply_to;
    return p;
  }

  // One message in flight at a time, oldest first, so they arrive in the order written.
  function pump() {
    if (inFlight || waitTimer || !canSend()) return;
    const item = Array.from(items.values()).find((i) => i.state === "sending");
    if (!item) return;
    const n = (attempts.get(item.client_id) || 0) + 1;
    attempts.set(item.client_id, n);
    inFlight = item.client_id;
    socket.timeout(SEND_TIMEOUT).emit("message:send", payload(item), (err, ack) => {
      if (ack) unanswered = 0; // the link carries answers
      if (attempts.get(item.client_id) !== n) return; // dropped, or a newer attempt owns it
      inFlight = null;
      if (err || !ack) {
        // No answer: stays "sending" and is tried again (now if connected, else on reconnect).
        if (err && socket.connected && ++unanswered >= DEAD_AFTER_TIMEOUTS && onDead) {
          unanswered = 0;
          onDead(); // the page shows it is not live, connects again and resends after the join
          return;
        }
        pump();
        return;
      }
      const error = ack.error || {};
      if (ack.ok) {
        settle(item.client_id, ack.message);
      } else if (error.code === "rate_limited" && error.retry_after > 0 && items.has(item.client_id)) {
        // Slow mode or the message rate (a queue sent at once after a reconnect): it waits
        // its turn and goes then, saying so; no "Try again" to press for each.
        item.waiting = error.message || S.sending;
        draw(item);
        waitTimer = window.setTimeout(() => { waitTimer = 0; pump(); }, error.retry_after * 1000);
        return;
      } else if (items.has(item.client_id)) {
        // muted since the page learnt otherwise (its `mute:changed` missed): the box closes too
        if (error.code === "muted" && onMuted) onMuted(error.until);
        item.state = "failed";
        item.error = error.message || S.failed;
        item.waiting = "";
        save();
        draw(item);
        say(`${S.failed}: ${item.error}`, { urgent: true });
      }
      pump();
    });
  }

  function add({ body, reply_to, reply_name, reply_label, client_id }) {
    const item = { client_id, body, reply_to: reply_to || null, reply_name: reply_name || "",
      reply_label: reply_label || "", state: "sending", error: "" };
    items.set(client_id, item);
    save();
    draw(item);
    feedApi.toBottom();
    if (!canSend() && !queuedSaid) {
      queuedSaid = true; // each row says it too
      say(S.queued);
    }
    pump();
  }

  // The server's broadcast of our own message can arrive before our ack.
  function confirm(message) {
    if (message.client_id && items.has(message.client_id)) {
      settle(message.client_id, message);
      pump();
    }
  }

  // After a (re)join: whatever was in flight on the old connection is sent again.
  function resendAll() {
    inFlight = null;
    unanswered = 0;
    queuedSaid = false;
    items.forEach((item) => { attempts.delete(item.client_id); draw(item); });
    pump();
  }
  function redrawAll() {
    items.forEach(draw);
  }
  // Access ended: nothing more can be sent; keep the text where the person can see it.
  function failAll(reason) {
    closed = reason;
    items.forEach((item) => {
      item.state = "failed";
      item.error = reason;
      draw(item);
    });
    save();
  }

  feed.addEventListener("click", (event) => {
    const button = event.target.closest("[data-outbox]");
    if (!button) return;
    const li = button.closest("li.outgoing");
    const item = items.get(li.dataset.clientId);
    if (!item) return;
    const action = button.dataset.outbox;
    if (action === "retry") {
      if (closed) { say(closed, { urgent: true }); return; } // it would wait for ever
      item.state = "sending";
      item.error = "";
      save();
      draw(item);
      slot(li, "status").focus();
      pump();
    } else if (action === "edit") {
      drop(item.client_id);
      onEdit(item);
    } else if (action === "discard") {
      drop(item.client_id);
      say(S.discarded);
      onEdit(null);
    }
  });

  // No connection comes back after the session ended: "sent when the connection is back"
  // would never come true.
  document.addEventListener("thread:ended", () => {
    ended = true;
    redrawAll();
  });

  load().forEach((item) => {
    // Already on the page (stored before the reload, ack lost): nothing to resend.
    if (feed.querySelector(`li.message[data-client-id="${CSS.escape(item.client_id)}"]`)) return;
    items.set(item.client_id, item);
    draw(item);
  });
  save();

  return { add, confirm, resendAll, redrawAll, failAll, size: () => items.size };
}
