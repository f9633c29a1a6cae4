// The composer and the per-message controls: sending goes through the outbox
// (never a form post while the script runs), the typed text is kept as a draft
// per person and thread across navigation and reload, and reply, inline edit and delete
// work from the keyboard without losing focus.
import { format, newClientId } from "../live.js";
import { slot } from "../message.js";
import { forgetOthers, keptKey } from "../tab-storage.js";
import { fallBack } from "./fallback.js";
import { wireMentions } from "./mentions.js";

// A double click on Send submits twice: the second, on the box the first just emptied,
// is not a mistake to point out.
const REPEAT_SUBMIT_MS = 1000;

// Enter sends: requestSubmit where there is one; Safari before 16 (iPhones that stay on
// iOS 15) has none, and its submit event is what the form's own handler listens for.
function submit(form) {
  if (form.requestSubmit) form.requestSubmit();
  else form.dispatchEvent(new Event("submit", { cancelable: true }));
}

export function createComposer({ socket, threadId, S, outbox, feedApi, live, typed, say }) {
  // Per person, like the outbox: on a shared computer whoever logs in next in this tab
  // never finds the last person's draft, even when that session ended without the Log out
  // button, and what another person left here is forgotten.
  const viewerId = Number(document.getElementById("thread").dataset.viewerId || 0);
  const draftKey = keptKey("draft", viewerId, threadId);
  forgetOthers(viewerId);
  const form = document.getElementById("composer-form");
  const body = document.getElementById("body");
  const replyInput = document.getElementById("reply_to");
  const replying = document.getElementById("replying");
  const replyingText = document.getElementById("replying-text");
  const sendError = document.getElementById("send-error");
  const feed = feedApi.feed;
  let replyName = "";
  let sentAt = 0; // when the last message went to the outbox, until the box is typed in again
  let ended = false; // the session ended: nothing more is kept for it

  // The send error is tied to the box while it shows (aria-describedby); one about what was
  // typed (`invalid`: nothing to send) also marks the box invalid. A refusal the server
  // wrote beside the box (#body-error) stays its own.
  let markedInvalid = false;
  function showError(text, { invalid = false } = {}) {
    if (!sendError) return;
    sendError.textContent = text;
    sendError.hidden = !text;
    const described = (body.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== sendError.id);
    if (text) described.push(sendError.id);
    body.setAttribute("aria-describedby", described.join(" "));
    if (text && invalid) {
      if (!body.hasAttribute("aria-invalid")) markedInvalid = true; // else the server's
      body.setAttribute("aria-invalid", "true");
    } else if (markedInvalid) {
      markedInvalid = false;
      body.removeAttribute("aria-invalid");
    }
  }
  function setReply(id, name) {
    replyInput.value = id ? String(id) : "";
    replyName = id ? name : "";
    replying.hidden = !id;
    replyingText.textContent = id ? format(S.replying, { name }) : "";
    saveDraft();
  }

  function saveDraft() {
    if (!body || ended) return;
    try {
      if (body.value || replyInput.value) {
        window.sessionStorage.setItem(draftKey, JSON.stringify({
          body: body.value, reply_to: replyInput.value, reply_name: replyName,
        }));
      } else {
        window.sessionStorage.removeItem(draftKey);
      }
    } catch (_e) { /* storage blocked: the text stays in the box */ }
  }
  // On a phone the box grows once it holds text, never on focus alone: growing on focus
  // shrank it again when a tap elsewhere took the focus, moving the page under the
  // finger, and the tap missed what it was meant for (an Edit or Reply link).
  function fit() {
    body.classList.toggle("filled", body.value !== "");
  }
  function restoreDraft() {
    let draft = null;
    try {
      draft = JSON.parse(window.sessionStorage.getItem(draftKey) || "null");
    } catch (_e) {
      draft = null;
    }
    if (!draft) return;
    if (typeof draft.body === "string" && draft.body && !body.value.includes(draft.body)) {
      // Typed in before this script ran (a slow phone), or put back by the browser: both
      // stay, the saved draft first, and the person is told, or the next key press would
      // have saved over the draft without a word.
      const hadText = body.value.trim() !== "";
      prepend(draft.body);
      if (hadText) showDraftNote(true);
    }
    if (!replyInput.value && draft.reply_to && /^\d+$/.test(draft.reply_to)) {
      setReply(Number(draft.reply_to), draft.reply_name || "");
    }
    saveDraft();
  }
  // The note under the box that says its saved draft was put above what was typed there.
  function showDraftNote(shown) {
    const note = document.getElementById("draft-note");
    if (!note || note.hidden === !shown) return;
    note.hidden = !shown;
    const described = (body.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== note.id);
    if (shown) described.push(note.id);
    body.setAttribute("aria-describedby", described.join(" "));
    if (shown) say(note.textContent.trim());
  }
  // `text` above what the box holds, a blank line between
  function prepend(text) {
    body.value = body.value.trim() ? `${text}\n\n${body.value}` : text;
    fit();
  }

  // Put text back into the composer (a refused message the person edits).
  function takeBack(item) {
    if (item) {
      prepend(item.body);
      if (item.reply_to && !replyInput.value) setReply(item.reply_to, item.reply_name);
      saveDraft();
    }
    body.focus();
  }

  // On a phone the composer sticks to the bottom of the screen: what takes the focus is
  // scrolled clear of it by its height (site.css, scroll-padding-bottom), which changes
  // with the text, an error, a reply, the screen's width, and is 0 while it is hidden.
  const section = document.getElementById("composer");
  if (section && window.ResizeObserver) {
    new ResizeObserver(() => {
      document.documentElement.style.setProperty("--composer-height", `${section.offsetHeight}px`);
    }).observe(section);
  }

  if (form) {
    restoreDraft();
    fit(); // also text the browser itself put back into the box
    // before the Enter handler below: a suggestion taken with Enter is not a send
    wireMentions({ socket, threadId, body, S, live });
    form.addEventListener("submit", (event) => {
      event.preventDefault(); // the plain form post is for pages without this script
      if (body.disabled) return;
      const text = body.value;
      if (!text.trim()) {
        if (Date.now() - sentAt < REPEAT_SUBMIT_MS) {
          body.focus(); // the second tap of a double tap took it to the button
          return;
        }
        showError(S.empty, { invalid: true });
        body.focus();
        return;
      }
      showError("");
      const replyTo = replyInput.value ? Number(replyInput.value) : null;
      outbox.add({
        body: text,
        reply_to: replyTo,
        reply_name: replyTo ? replyName : "",
        reply_label: replyTo ? format(S.replying, { name: replyName }) : "",
        client_id: newClientId(),
      });
      body.value = "";
      sentAt = Date.now();
      fit();
      showDraftNote(false);
      setReply(null);
      saveDraft();
      body.focus();
    });
    body.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.defaultPrevented) {
        event.preventDefault();
        submit(form);
      }
    });
    body.addEventListener("input", () => {
      sentAt = 0;
      fit();
      saveDraft();
      if (body.value) showError("");
      typed();
    });
    document.getElementById("cancel-reply").addEventListener("click", (event) => {
      event.preventDefault();
      setReply(null);
      body.focus();
    });
  }

  // Reply, edit and delete without leaving the page (links still work without the script).
  feed.addEventListener("click", (event) => {
    const action = event.target.closest("[data-action]");
    if (!action) return;
    const li = action.closest("li.message");
    const id = Number(li.dataset.id);
    if (action.dataset.action === "reply" && form && !body.disabled) {
      event.preventDefault();
      setReply(id, slot(li, "author").textContent);
      body.focus();
    } else if (action.dataset.action === "edit") {
      if (li.dataset.body === undefined) {
        // Its markdown is not on the page: the edit page (the link) has it. Editing the
        // text as shown would save it without its formatting.
        return;
      }
      if (live()) {
        event.preventDefault();
        startEdit(li, id);
      } else {
        fallBack(event, () => window.location.assign(action.href), say);
      }
    } else if (action.dataset.action === "delete") {
      event.preventDefault(); // asked first, however the deletion then goes
      if (!window.confirm(S.confirmDelete)) return;
      if (!live()) {
        fallBack(event, () => action.form.submit(), say);
      } else {
        socket.emit("message:delete", { message_id: id }, (ack) => {
          if (ack && ack.ok) {
            feedApi.upsert(ack.message);
            li.focus();
            say(S.deleted);
          } else if (ack) {
            say(ack.error.message, { urgent: true });
          }
        });
      }
    }
  });

  // Inline edit: Enter saves, Shift+Enter is a new line, Escape cancels; the old
  // text is hidden while the box is open and the box is named by what it edits.
  function startEdit(li, id) {
    const existing = li.querySelector("form.edit-form textarea");
    if (existing) { existing.focus(); return; }
    const bodyEl = slot(li, "body");
    const editor = document.createElement("form");
    editor.className = "edit-form";
    const label = document.createElement("label");
    label.htmlFor = `edit-${id}`;
    label.textContent = format(S.editLabel, { time: slot(li, "time").textContent });
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.id = `edit-${id}-hint`;
    hint.textContent = S.editHint;
    const area = document.createElement("textarea");
    area.id = `edit-${id}`;
    area.value = li.dataset.body;
    area.setAttribute("aria-describedby", hint.id);
    const error = document.createElement("p");
    error.className = "error";
    error.id = `edit-${id}-error`;
    error.setAttribute("role", "alert");
    const row = document.createElement("div");
    row.className = "composer-row";
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "button small";
    save.textContent = S.save;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button secondary small";
    cancel.textContent = S.cancelEdit;
    row.append(save, cancel);
    // @-suggestions as in the composer: copies of its list and status with their own ids
    const mentionList = document.getElementById("mention-list")?.cloneNode(false);
    const mentionStatus = document.getElementById("mention-status")?.cloneNode(false);
    if (mentionList && mentionStatus) {
      mentionList.id = `edit-${id}-mentions`;
      mentionStatus.id = `edit-${id}-mention-status`;
      editor.append(label, hint, area, mentionList, mentionStatus, error, row);
    } else {
      editor.append(label, hint, area, error, row);
    }
    bodyEl.hidden = true;
    bodyEl.after(editor);
    // before the box's own keydown, which leaves the keys a suggestion took
    const mentions = wireMentions({
      socket, threadId, body: area, S, live, list: mentionList, status: mentionStatus, below: true,
    });
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);

    const close = () => {
      mentions.close();
      editor.remove();
      bodyEl.hidden = li.dataset.state !== "visible";
      const back = li.querySelector("[data-action=edit]");
      if (back && !back.hidden) back.focus();
      else li.focus();
    };
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", (event) => {
      if (event.defaultPrevented) return; // a suggestion was chosen or its list closed
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit(editor);
      }
    });
    editor.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!live()) { error.textContent = S.reconnecting; return; }
      socket.emit("message:edit", { message_id: id, body: area.value }, (ack) => {
        if (ack && ack.ok) {
          feedApi.upsert(ack.message);
          close();
        } else {
          error.textContent = ack ? ack.error.message : S.failed;
          area.setAttribute("aria-invalid", "true");
          area.setAttribute("aria-describedby", `${hint.id} ${error.id}`);
          area.focus();
        }
      });
    });
  }

  // Locked or access ended: the composer stays visible but cannot send; text is kept.
  // `notice`, what says why: it takes the focus from the box or its buttons, which would
  // otherwise drop it to the top of the page as they are disabled.
  function setEnabled(enabled, reason, notice) {
    if (!form || (enabled && ended)) return; // an ended session's box stays closed
    if (!enabled && notice && section && section.contains(document.activeElement)) {
      notice.tabIndex = -1;
      notice.focus();
    }
    body.disabled = !enabled;
    form.querySelectorAll("button").forEach((b) => { b.disabled = !enabled; });
    if (!enabled && reason) showError(reason);
    if (enabled) showError("");
  }

  // The session ended (logged out everywhere, from another device): the socket never comes
  // back, so nothing written now could be sent. The text stays in the box to be copied.
  document.addEventListener("thread:ended", () => {
    ended = true;
    setEnabled(false, S.ended, document.getElementById("connection")); // it says so now
  });

  return { takeBack, setEnabled, body };
}
