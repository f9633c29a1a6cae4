// Mention autocomplete in the composer, as the WAI-ARIA combobox pattern describes:
// typing `@` and letters asks the server (`mention:suggest`) for people who can read
// the thread; the textarea is the combobox, the list a listbox it controls. Arrow keys
// move the active option (aria-activedescendant, focus stays in the text), Enter or Tab
// inserts `@handle `, Escape closes, and a polite status says how many there are.
// Pointer and touch pick an option too. Without the socket nothing is suggested.
// The composer's box uses the page's #mention-list and #mention-status and opens the list
// above the box (the composer sits at the bottom of a phone's screen); an inline edit passes
// its own pair (copies of those, with their own ids) and opens it below, inside the feed
// that scrolls, where nothing above the feed's top edge could be reached.
import { format } from "../live.js";

// What follows an `@` at the caret: the characters a handle may have (forum/text.py).
const TRIGGER = /(?:^|[^\p{L}\p{N}._@-])@([A-Za-z0-9ÅÄÖåäöÉéÜü._-]{0,40})$/u;
const DELAY_MS = 120;

export function wireMentions({
  socket, threadId, body, S, live,
  list = document.getElementById("mention-list"),
  status = document.getElementById("mention-status"),
  below = false,
}) {
  if (!body || !list || !status) return { open: () => false, close: () => {} };

  body.setAttribute("role", "combobox");
  body.setAttribute("aria-autocomplete", "list");
  body.setAttribute("aria-controls", list.id);
  body.setAttribute("aria-expanded", "false");

  let people = [];
  let active = -1;
  let start = -1; // where the `@` is in the text
  let asked = 0; // the newest request; older answers are dropped
  let timer = null;
  let lastQuery = null;

  const isOpen = () => !list.hidden;

  function close() {
    window.clearTimeout(timer);
    asked += 1;
    lastQuery = null;
    people = [];
    active = -1;
    list.hidden = true;
    list.replaceChildren();
    body.setAttribute("aria-expanded", "false");
    body.removeAttribute("aria-activedescendant");
  }

  function setActive(index) {
    active = index;
    list.querySelectorAll("[role=option]").forEach((option, i) => {
      option.setAttribute("aria-selected", String(i === index));
    });
    const option = list.children[index];
    if (option) {
      body.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      body.removeAttribute("aria-activedescendant");
    }
  }

  function show(found) {
    people = found;
    list.replaceChildren(
      ...found.map((person, i) => {
        const option = document.createElement("li");
        option.id = `${list.id}-option-${person.id}`;
        option.setAttribute("role", "option");
        option.dataset.index = String(i);
        const name = document.createElement("span");
        name.className = "mention-name";
        name.textContent = person.display_name; // text, never HTML
        name.dir = "auto"; // a name in Arabic letters reads right to left
        const handle = document.createElement("span");
        handle.className = "mention-handle";
        handle.textContent = `@${person.handle}`;
        option.append(name, " ", handle);
        return option;
      }),
    );
    list.hidden = false;
    if (below) {
      list.style.top = `${body.offsetTop + body.offsetHeight + 4}px`;
    } else {
      list.style.bottom = `${list.offsetParent ? list.offsetParent.offsetHeight - body.offsetTop + 4 : 0}px`;
    }
    body.setAttribute("aria-expanded", "true");
    setActive(0);
    const n = found.length;
    status.textContent = format(n === 1 ? S.mentionCountOne : S.mentionCount, { n });
  }

  function lookUp() {
    const before = body.value.slice(0, body.selectionStart);
    const match = body.selectionStart === body.selectionEnd ? TRIGGER.exec(before) : null;
    if (!match || !live()) {
      if (isOpen() || lastQuery !== null) close();
      return;
    }
    const q = match[1];
    start = before.length - q.length - 1;
    if (q === lastQuery) return;
    lastQuery = q;
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      const mine = ++asked;
      socket.emit("mention:suggest", { thread_id: threadId, q }, (ack) => {
        if (mine !== asked) return; // a newer question is on its way
        if (!ack || !ack.ok || !ack.people.length) {
          const hadList = isOpen();
          people = [];
          list.hidden = true;
          list.replaceChildren();
          body.setAttribute("aria-expanded", "false");
          body.removeAttribute("aria-activedescendant");
          if (hadList && ack && ack.ok) status.textContent = S.mentionNone;
          return;
        }
        show(ack.people);
      });
    }, DELAY_MS);
  }

  function choose(index) {
    const person = people[index];
    if (!person) return;
    const end = body.selectionStart;
    const insert = `@${person.handle} `;
    body.value = body.value.slice(0, start) + insert + body.value.slice(end);
    const caret = start + insert.length;
    body.setSelectionRange(caret, caret);
    close();
    status.textContent = "";
    body.focus();
    body.dispatchEvent(new Event("input", { bubbles: true })); // the draft keeps it
  }

  // Registered before the composer's own keydown (Enter sends), which skips handled keys.
  body.addEventListener("keydown", (event) => {
    if (!isOpen() || event.isComposing) return;
    const n = people.length;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive((active + 1) % n);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((active - 1 + n) % n);
    } else if ((event.key === "Enter" && !event.shiftKey) || (event.key === "Tab" && !event.shiftKey)) {
      if (active < 0) return;
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
      status.textContent = "";
    }
  });
  body.addEventListener("input", lookUp);
  body.addEventListener("click", lookUp);
  body.addEventListener("keyup", (event) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) lookUp();
  });
  body.addEventListener("blur", () => { if (isOpen()) close(); });
  // pointerdown keeps focus in the text box, so the click below can insert
  list.addEventListener("pointerdown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) choose(Number(option.dataset.index));
  });

  return { open: isOpen, close };
}
