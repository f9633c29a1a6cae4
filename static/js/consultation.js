// Live round page: joins the round's discussion thread room and shows phase changes,
// submissions, reminders, feedback, changes to the round and new discussion messages as
// they happen.
// Messages are filled into the same server-rendered <template> as on the thread
// page (templates/forums/_message.html), so the author's organisation and every
// other part of a message look the same in both places.
// The page is complete without this script; it only adds updates on top.
import { socket, format } from "./live.js";
import { fillMessage, renderMessage, timeFormatter } from "./message.js";

const root = document.getElementById("consultation");
if (root && root.dataset.threadId) {
  start(root);
}

function start(root) {
  const roundId = Number(root.dataset.roundId);
  const threadId = Number(root.dataset.threadId);
  const S = document.getElementById("consultation-strings").dataset;
  const phaseEl = document.getElementById("round-phase");
  const countEl = document.getElementById("responded-count");
  const changed = document.getElementById("round-changed");
  const changedText = document.getElementById("round-changed-text");
  const live = document.getElementById("round-live");
  const recent = document.getElementById("recent-messages");
  const template = document.getElementById("message-template");
  const ctx = { viewerId: 0, canModerate: false, notShown: S.notShown, timeFormat: timeFormatter() };

  function say(text) {
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50);
  }

  // Catch-up as on the thread page (thread/connection.js): a rejoin (reconnect, or
  // `resync` after the server's Redis came back) asks for the messages after the newest
  // this page has and, from `cursor` (the server's time of the page or of the last join),
  // the current state of those it has that changed meanwhile (edited, deleted, hidden).
  // A long absence comes in pages: join again above the last one until has_more is false.
  let lastId = Math.max(0, ...Array.from(
    recent ? recent.querySelectorAll("li.message[data-id]") : [], (li) => Number(li.dataset.id),
  ));
  let cursor = root.dataset.cursor || null;
  function join(since = lastId) {
    const payload = { thread_id: threadId };
    if (since) {
      payload.since = since;
      if (cursor) payload.changed_since = cursor;
    }
    socket.emit("join", payload, (ack) => {
      if (!ack || !ack.ok) return;
      root.dataset.live = "joined"; // in the thread's room: live from here on
      if (ack.cursor) cursor = ack.cursor;
      // the list keeps the newest five: older ones of a page would go at once
      ack.messages.slice(-5).forEach(show);
      (ack.changed || []).forEach(show);
      if (ack.has_more && socket.connected) {
        const got = ack.messages.length ? ack.messages[ack.messages.length - 1].id : since;
        join(Math.max(got, since));
      }
    });
  }
  socket.on("connect", () => join());
  socket.on("disconnect", () => { root.dataset.live = "offline"; });
  if (socket.connected) join();
  socket.on("resync", () => window.setTimeout(() => join(), Math.random() * 2000));

  // Puts `message` in the list in id order (its current state, if the list has it);
  // true when it is new here.
  function show(message) {
    if (!recent || !template || message.thread_id !== threadId) return false;
    const shown = document.getElementById(`m${message.id}`);
    if (shown) {
      fillMessage(shown, message, ctx);
      return false;
    }
    const items = Array.from(recent.querySelectorAll("li.message[data-id]"));
    if (items.length >= 5 && message.id < Number(items[0].dataset.id)) return false;
    lastId = Math.max(lastId, message.id);
    const after = items.find((li) => Number(li.dataset.id) > message.id);
    recent.insertBefore(renderMessage(template, message, ctx), after || null);
    while (recent.childElementCount > 5) recent.firstElementChild.remove();
    const empty = document.getElementById("no-messages");
    if (empty) empty.remove();
    return true;
  }

  socket.on("consultation:updated", (event) => {
    if (event.round_id !== roundId) return;
    const label = S[`phase${event.phase.charAt(0).toUpperCase()}${event.phase.slice(1)}`];
    if (label && phaseEl) {
      phaseEl.textContent = label;
      phaseEl.className = `tag phase phase-${event.phase}`;
    }
    root.dataset.phase = event.phase;
    if (countEl && typeof event.responded === "number") countEl.textContent = String(event.responded);
    // words per event (opened, closed, submitted, reminder, feedback, changed) in
    // #consultation-strings, shown with the reload link and said in the live region
    const text = S[event.event] || "";
    if (text) {
      changedText.textContent = text;
      changed.hidden = false;
      say(text);
    }
  });

  socket.on("message:new", ({ message }) => {
    if (show(message)) say(format(S.newMessage, { name: message.author.display_name }));
  });
  ["message:edited", "message:deleted", "message:hidden", "message:restored"].forEach((name) => {
    socket.on(name, (payload) => {
      const m = payload && payload.message;
      const li = m && recent && document.getElementById(`m${m.id}`);
      if (li) fillMessage(li, m, ctx);
    });
  });
}
