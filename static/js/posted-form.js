// Forms that post and leave the page (no socket, no outbox), on the round, response,
// feedback and follow-up pages. Such a form sent while the browser is offline gives the
// browser's own error page, and Back does not bring the text back: Chromium puts the
// error page in the form page's place in the history. While the browser
// knows it is offline, such a submit stays on the page instead, the typed text in its
// boxes, and a note (role=alert, so it is read out) says that nothing was sent. When the
// connection is back the note goes and the same button sends the form. Forms opt in with
// data-offline="<the note's words>" (templates/_posted_form.html).
const notes = [];

for (const form of document.querySelectorAll("form[data-offline]")) {
  const note = document.createElement("p");
  note.className = "error offline-note";
  note.setAttribute("role", "alert");
  note.hidden = true;
  form.append(note);
  notes.push(note);
  form.addEventListener("submit", (event) => {
    if (fileTooLarge(form, event)) return;
    if (navigator.onLine) return;
    event.preventDefault();
    // beside the button pressed: one tied to the form from elsewhere on the page (form=,
    // the response page's upload and decline) has it by itself, not at the form's end
    const button = event.submitter;
    if (button && !form.contains(button)) button.after(note);
    else form.append(note);
    note.hidden = false;
    note.textContent = form.dataset.offline;
  });
}

// A file over the size limit (data-file-max-bytes, the server's FORUM_DOCUMENT_MAX_MB; the
// response page's upload) is refused before it is sent: sent, it met the server's bare "too
// large" page, and the answers not yet saved were lost with it. The server's words
// (data-file-too-large) go beside the file box, tied to it, and it takes the focus.
function fileTooLarge(form, event) {
  const max = Number(form.dataset.fileMaxBytes || 0);
  const button = event.submitter;
  const enctype = (button && button.getAttribute("formenctype")) || form.getAttribute("enctype");
  if (!max || enctype !== "multipart/form-data") return false; // no file goes with this button
  const input = Array.from(form.elements).find((el) => el.type === "file" && el.files && el.files.length);
  if (!input || input.files[0].size <= max) return false;
  event.preventDefault();
  const id = `${input.id}-too-large`;
  let error = document.getElementById(id);
  if (!error) {
    error = document.createElement("p");
    error.className = "error";
    error.id = id;
    input.after(error);
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    input.setAttribute("aria-describedby", [...described, id].join(" "));
    // another file chosen: the error goes until it is sent
    input.addEventListener("change", () => {
      error.remove();
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", described.join(" "));
    }, { once: true });
  }
  error.textContent = form.dataset.fileTooLarge;
  input.setAttribute("aria-invalid", "true");
  input.focus();
  return true;
}

window.addEventListener("online", () => {
  for (const note of notes) {
    note.hidden = true;
    note.textContent = "";
  }
});

// A refusal that names no box (a one-time form already used for something else) comes as
// the error message at the top of the page, not as an error summary: it takes focus as a
// summary does (header.js), so a screen reader reads it at once and Tab goes on from there.
const refusal = document.querySelector(".flashes .flash-error");
if (
  refusal &&
  !document.querySelector(".error-summary") &&
  (document.activeElement === document.body || !document.activeElement)
) {
  refusal.tabIndex = -1;
  refusal.focus();
}
