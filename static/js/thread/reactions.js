// Reactions on the live thread: each message's reaction bar is one form that posts without
// JavaScript (the button pressed is add=<emoji> or remove=<emoji>); here it goes over the
// socket (reaction:add / reaction:remove, with an ack), and every page in the room redraws on
// reaction:updated. The page remembers which reactions are its person's, because a broadcast
// never says whose they are.
import { applyReactions } from "../message.js";
import { fallBack } from "./fallback.js";

// Post `form` the plain way as if `button` had sent it: form.submit() leaves out the
// button's name and value, and requestSubmit() would come back through the handler below.
function postWith(form, button) {
  const chosen = document.createElement("input");
  chosen.type = "hidden";
  chosen.name = button.name;
  chosen.value = button.value;
  form.appendChild(chosen);
  form.submit(); // the form's data is taken now: the input can go (a page restored later
  chosen.remove(); // by Back would otherwise post it again beside the next button)
}

export function wireReactions({ socket, list, say, live, waiting = null }) {
  const mine = new Set();
  list.querySelectorAll("button[data-reaction][aria-pressed='true']").forEach((button) => {
    mine.add(`${button.closest("li.message").dataset.id}:${button.dataset.reaction}`);
  });
  const mineOf = (id, emoji) => mine.has(`${id}:${emoji}`);

  // The button that sent a form: event.submitter, or in browsers without it (Safari before
  // 15.4, still on older phones) the submit button last clicked; a key press on one clicks it.
  let clicked = null;
  list.addEventListener("click", (event) => {
    clicked = event.target.closest ? event.target.closest("button[type=submit]") : null;
  }, true);

  list.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.slot !== "reactions") return;
    const button = event.submitter || clicked;
    if (!button || !form.contains(button) || !button.value) return;
    if (!live()) { // without a live socket the form posts the old way, if it can
      fallBack(event, () => postWith(form, button), say);
      return;
    }
    event.preventDefault();
    const emoji = button.value;
    const li = form.closest("li.message");
    const messageId = Number(li.dataset.id);
    const remove = button.name === "remove";
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
        const picker = button.closest("details");
        if (picker) {
          picker.open = false;
          // focus lands on the reaction just made, where it can be taken back
          const made = form.querySelector(`button[data-reaction="${emoji}"]`);
          if (made) made.focus();
        }
      },
    );
  });

  socket.on("reaction:updated", ({ message_id: id, reactions }) => {
    const li = list.querySelector(`li.message[data-id="${id}"]`);
    if (li) applyReactions(li, reactions, mineOf);
    else if (waiting) waiting(Number(id), reactions); // behind "Show n new"
  });
  return mineOf;
}
