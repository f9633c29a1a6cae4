// Who is here and who is typing, from the room's `presence` and `typing` events;
// and this person's own typing signal, sent at most every 2.5 seconds.
import { format, formatIsolated } from "../live.js";

export function showPresence({ socket, threadId, S }) {
  const presenceEl = document.getElementById("presence");
  const typingEl = document.getElementById("typing");
  const typingPeople = new Map(); // display name -> timer

  socket.on("disconnect", () => { presenceEl.hidden = true; });
  socket.on("presence", (p) => {
    if (p.thread_id !== threadId) return;
    const names = p.users.map((u) => u.display_name);
    const nodes = names.length ? formatIsolated(S.here, { names }) : [];
    if (p.visitors) {
      const visitors = format(p.visitors === 1 ? S.visitorsOne : S.visitors, { n: p.visitors });
      nodes.push(nodes.length ? ` ${visitors}` : visitors);
    }
    presenceEl.replaceChildren(...nodes);
    presenceEl.hidden = nodes.length === 0;
  });

  function showTyping() {
    typingEl.replaceChildren(
      ...Array.from(typingPeople.keys()).flatMap((name, i) => [
        ...(i ? [" "] : []),
        ...formatIsolated(S.typing, { name }),
      ]),
    );
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
