// Who is here and who is typing, from the room's `presence` and `typing` events;
// and this person's own typing signal, sent at most every 2.5 seconds.
import { format } from "../live.js";

export function showPresence({ socket, threadId, S }) {
  const presenceEl = document.getElementById("presence");
  const typingEl = document.getElementById("typing");
  const typingPeople = new Map(); // display name -> timer

  socket.on("disconnect", () => { presenceEl.hidden = true; });
  socket.on("presence", (p) => {
    if (p.thread_id !== threadId) return;
    const names = p.users.map((u) => u.display_name).join(", ");
    let text = names ? format(S.here, { names }) : "";
    if (p.visitors) text += ` ${format(p.visitors === 1 ? S.visitorsOne : S.visitors, { n: p.visitors })}`;
    presenceEl.textContent = text.trim();
    presenceEl.hidden = !text.trim();
  });

  function showTyping() {
    typingEl.textContent = Array.from(typingPeople.keys())
      .map((name) => format(S.typing, { name })).join(" ");
  }
  socket.on("typing", ({ thread_id: tid, user }) => {
    if (tid !== threadId || !user) return;
    window.clearTimeout(typingPeople.get(user.display_name));
    typingPeople.set(user.display_name, window.setTimeout(() => {
      typingPeople.delete(user.display_name);
      showTyping();
    }, 4000));
    showTyping();
  });

  let sentAt = 0;
  return function typed() {
    const now = Date.now();
    if (socket.connected && now - sentAt > 2500) {
      sentAt = now;
      socket.emit("typing", { thread_id: threadId }, () => {});
    }
  };
}
