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

// Who reacted, beside a count button while it has the focus or the pointer: one tooltip for
// the page that describes the button (aria-describedby), stays while the pointer moves onto
// it, and goes with Escape (WCAG 1.4.13). The names come in the button's title, which a page
// without this script shows; here it would be a second tooltip, so they move to data-people.
function wirePeople(list) {
  const tip = document.createElement("span");
  tip.id = "reaction-people";
  tip.className = "reaction-tip";
  tip.setAttribute("role", "tooltip");
  tip.dir = "auto"; // names in Arabic letters read right to left
  tip.hidden = true;
  let owner = null;
  let leaving = 0;
  function hide() {
    window.clearTimeout(leaving);
    tip.hidden = true;
    if (owner) owner.removeAttribute("aria-describedby");
    owner = null;
  }
  function show(button) {
    window.clearTimeout(leaving);
    if (button.hasAttribute("title")) {
      button.dataset.people = button.title;
      button.removeAttribute("title");
    }
    if (!button.dataset.people || !button.form) { hide(); return; }
    if (owner && owner !== button) owner.removeAttribute("aria-describedby");
    owner = button;
    tip.textContent = button.dataset.people;
    button.form.appendChild(tip); // the bar is its offset parent
    tip.hidden = false;
    const room = button.form.clientWidth - tip.offsetWidth;
    tip.style.left = `${Math.max(0, Math.min(button.offsetLeft, room))}px`;
    tip.style.top = `${button.offsetTop + button.offsetHeight + 2}px`;
    button.setAttribute("aria-describedby", tip.id);
  }
  const countButton = (el) => (el && el.closest ? el.closest("button[data-reaction]") : null);
  const onIt = (el) => Boolean(el && owner && (owner.contains(el) || tip.contains(el)));
  list.addEventListener("focusin", (event) => {
    const button = countButton(event.target);
    if (button) show(button);
  });
  list.addEventListener("focusout", (event) => { if (event.target === owner) hide(); });
  list.addEventListener("mouseover", (event) => {
    const button = countButton(event.target);
    if (button) show(button);
    else if (onIt(event.target)) window.clearTimeout(leaving);
  });
  list.addEventListener("mouseout", (event) => {
    if (onIt(event.target) && !onIt(event.relatedTarget) && document.activeElement !== owner) {
      window.clearTimeout(leaving);
      leaving = window.setTimeout(hide, 300); // time to reach the tooltip
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && owner) hide();
  });
  // A count its person may not press (a visitor's, a muted person's: aria-disabled, so it
  // still takes the focus) shows its names when pressed, a tap included: a tap on a phone
  // neither focuses a button nor hovers it.
  list.addEventListener("click", (event) => {
    const button = countButton(event.target);
    if (!button || button.getAttribute("aria-disabled") !== "true") return;
    event.preventDefault(); // no form is sent
    show(button);
  });
  // A touch anywhere else takes the tooltip away (a phone has no pointer leaving, no Escape).
  document.addEventListener("pointerdown", (event) => {
    if (owner && !onIt(event.target) && document.activeElement !== owner) hide();
  });
  // The names on `li` changed: the tooltip shown follows, and `pressed` (the button just
  // pressed, which changed them) shows its own, with or without the focus (a tap does not
  // focus) and even after an Escape.
  return (li, pressed = null) => {
    const button = owner || (pressed && pressed.isConnected ? pressed : null);
    if (button && li.contains(button)) show(button);
  };
}

export function wireReactions({ socket, list, say, live, waiting = null }) {
  const refreshPeople = wirePeople(list);
  // Escape in the picker closes it, back to its summary (a <details> has no key of its own)
  list.addEventListener("keydown", (event) => {
    const picker = event.key === "Escape" && event.target.closest("details.reaction-picker[open]");
    if (!picker) return;
    event.preventDefault();
    picker.open = false;
    picker.querySelector("summary").focus();
  });
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
        refreshPeople(li, button);
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
    if (li) {
      applyReactions(li, reactions, mineOf);
      refreshPeople(li);
    } else if (waiting) waiting(Number(id), reactions); // behind "Show n new"
  });
  return mineOf;
}
