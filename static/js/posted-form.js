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
