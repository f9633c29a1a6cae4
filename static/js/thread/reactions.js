// Reactions on the live thread: the forms in the message partial post without JavaScript;
// here they go over the socket (reaction:add / reaction:remove, with an ack), and every page
// in the room redraws on reaction:updated. The page remembers which reactions are its
// person's, because a broadcast never says whose they are.
import { applyReactions } from "../message.js";
import { fallBack } from "./fallback.js";

export function wireReactions({ socket, list, say, live }) {
  const mine = new Set();
  list.querySelectorAll("form[data-reaction] button[aria-pressed='true']").forEach((button) => {
    const li = button.closest("li.message");
    mine.add(`${li.dataset.id}:${button.closest("form").dataset.reaction}`);
  });
  const mineOf = (id, emoji) => mine.has(`${id}:${emoji}`);

  list.addEventListener("submit", (event) => {
    const form = event.target;
    const emoji = form.dataset.reaction || form.dataset.reactionPick;
    if (!emoji) return;
    if (!live()) { // without a live socket the form posts the old way, if it can
      fallBack(event, () => form.submit(), say);
      return;
    }
    event.preventDefault();
    const li = form.closest("li.message");
    const messageId = Number(li.dataset.id);
    const remove = form.querySelector("input[name=action]").value === "remove";
    socket.emit(
      remove ? "reaction:remove" : "reaction:add",
      { message_id: messageId, emoji },
      (ack) => {
        if (!ack || !ack.ok) {
          say((ack && ack.error && ack.error.message) || "", { urgent: true });
          return;
        }
        if (remove) mine.delete(`${messageId}:${emoji}`);
        else mine.add(`${messageId}:${emoji}`);
        applyReactions(li, ack.reactions, mineOf);
        const picker = form.closest("details");
        if (picker) {
          picker.open = false;
          // focus lands on the reaction just made, where it can be taken back
          const made = li.querySelector(`form[data-reaction="${emoji}"] button`);
          if (made) made.focus();
        }
      },
    );
  });

  socket.on("reaction:updated", ({ message_id: id, reactions }) => {
    const li = list.querySelector(`li.message[data-id="${id}"]`);
    if (li) applyReactions(li, reactions, mineOf);
  });
  return mineOf;
}
