// Live round page: joins the round's discussion thread room and shows phase changes,
// submissions, reminders, feedback and new discussion messages as they happen.
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

  // The newest message this page has: a rejoin (reconnect, or `resync` after the
  // server's Redis came back) asks for those after it and shows them.
  let lastId = Math.max(0, ...Array.from(
    recent ? recent.querySelectorAll("li.message[data-id]") : [], (li) => Number(li.dataset.id),
  ));
  function join() {
    const payload = { thread_id: threadId };
    if (lastId) payload.since = lastId;
    socket.emit("join", payload, (ack) => {
      if (!ack || !ack.ok) return;
      // without `since` the ack is the latest page: its newest are the ones to show
      ack.messages.slice(-5).forEach(show);
    });
  }
  socket.on("connect", join);
  if (socket.connected) join();
  socket.on("resync", () => window.setTimeout(join, Math.random() * 2000));

  function show(message) {
    if (!recent || !template || message.thread_id !== threadId) return false;
    lastId = Math.max(lastId, message.id);
    if (document.getElementById(`m${message.id}`)) return false;
    recent.appendChild(renderMessage(template, message, ctx));
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
