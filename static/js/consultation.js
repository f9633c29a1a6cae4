// Live round page: joins the round's discussion thread room and shows phase changes,
// submissions, reminders, feedback and new discussion messages as they happen.
// The page is complete without this script; it only adds updates on top.
import { socket, format } from "./live.js";

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

  function say(text) {
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50);
  }

  function join() {
    socket.emit("join", { thread_id: threadId }, () => {});
  }
  socket.on("connect", join);
  if (socket.connected) join();

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
    if (!recent || message.thread_id !== threadId) return;
    const li = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = message.author.display_name;
    const body = document.createElement("span");
    body.className = "prose";
    // message.html was sanitised once, on the server, by forum/text.py.
    body.innerHTML = message.html;
    li.append(who, ": ", body);
    recent.appendChild(li);
    while (recent.childElementCount > 5) recent.firstElementChild.remove();
    const empty = document.getElementById("no-messages");
    if (empty) empty.remove();
    say(format(S.newMessage, { name: message.author.display_name }));
  });
}
