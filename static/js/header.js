// The site header on a phone: the menu (links, search, account) folds behind a
// disclosure button so the page's own content, a thread's composer above all,
// keeps the screen. Without this script the button stays hidden and the menu is
// a plain list of links; on a wide screen the CSS shows everything and hides the
// button whatever its state.
const header = document.querySelector(".site-header");
const button = document.getElementById("menu-button");
const menu = document.getElementById("site-menu");

if (header && button && menu) {
  const setOpen = (open) => {
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  };
  setOpen(false);
  button.hidden = false;
  header.classList.add("menu-ready");
  button.addEventListener("click", () => {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  // Escape from inside the open menu closes it and gives focus back to the button.
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.classList.contains("open") && button.offsetParent) {
      setOpen(false);
      button.focus();
    }
  });
}

// After a refused submit the page comes back with an error summary: move focus to it,
// so a screen reader reads the problems and the keyboard starts from their links. A form
// with one field and no summary (a thread control) gets focus on the refused field, which
// names its error through aria-describedby. Not when the reader has moved focus already.
const refused =
  document.querySelector(".error-summary[tabindex='-1']") ||
  document.querySelector("main [aria-invalid='true']");
if (refused && (document.activeElement === document.body || !document.activeElement)) {
  refused.focus();
}

// After a form is sent and accepted the next page opens with its confirmation at the top
// ("Your settings are saved."): the region says it (role=status), but a screen reader does
// not read out what a page opens with, and the keyboard started from the top of the page
// with no word said. The confirmation takes focus, as a refusal does (above and in
// posted-form.js), so it is read and Tab goes on from there. A confirmation is flashed only
// by a form's own post (a notice from a page that was merely opened is "info" and left as
// it is). When the page opens at what was acted on (…#m12, the message flagged), the focus
// stays there and the region says the words again instead, which a screen reader reads out.
const confirmed = document.querySelector(".flashes .flash-success");
if (
  confirmed &&
  !refused &&
  !document.querySelector(".flashes .flash-error") &&
  (document.activeElement === document.body || !document.activeElement)
) {
  const region = confirmed.parentElement;
  const target = location.hash.length > 1 && document.getElementById(location.hash.slice(1));
  if (target) {
    const said = [...region.childNodes];
    region.replaceChildren();
    setTimeout(() => region.append(...said), 150);
  } else {
    region.tabIndex = -1;
    region.focus();
  }
}
