// Live unread counts on the forum list and a forum's page: watches the forums
// shown (socket event `watch`) and counts each `forum:activity` by someone else
// once. The numbers on the page are right without this script; it keeps them moving.
import { socket, format } from "./live.js";

const list = document.getElementById("watched-forums");
const heading = document.getElementById("threads-heading");
const S = document.getElementById("count-strings")?.dataset;
const me = Number(document.body.dataset.userId || 0);
const forumIds = list
  ? list.dataset.forumIds.split(",").filter(Boolean).map(Number)
  : heading ? [Number(heading.dataset.forumId)] : [];
const seen = new Set();

function bump(el, words) {
  if (!el) return;
  const n = Number(el.dataset.count || 0) + 1;
  el.dataset.count = String(n);
  el.textContent = words ? format(n === 1 ? S.one : S.many, { n }) : String(n);
  el.hidden = false;
  const zero = el.parentElement.querySelector("[data-zero]");
  if (zero) zero.remove();
}

if (forumIds.length && S) {
  const watch = () => socket.emit("watch", { forum_ids: forumIds }, (ack) => {
    if (ack && ack.ok) (list || heading).dataset.watching = "true";
  });
  socket.on("connect", watch);
  if (socket.connected) watch();
  socket.on("forum:activity", (a) => {
    if (!a || seen.has(a.message_id) || !forumIds.includes(a.forum_id)) return;
    seen.add(a.message_id);
    const total = document.querySelector(`[data-messages-thread="${a.thread_id}"]`);
    if (total) total.textContent = String(Number(total.textContent) + 1);
    if (!me || a.author_id === me) return;
    bump(document.querySelector(`[data-unread-forum="${a.forum_id}"]`), true);
    bump(document.querySelector(`[data-unread-thread="${a.thread_id}"]`), false);
  });
}
