// Without a live socket the message controls (delete, edit, reactions) fall back to their
// plain form posts and links, which work over HTTP while the socket reconnects. With no
// network at all they would leave the page for the browser's error page and take the
// unsent messages off the screen with it, so then the page stays and says so.
const PROBE_TIMEOUT = 5000;

async function reachable() {
  if (!navigator.onLine) return false;
  try {
    const options = { method: "HEAD", cache: "no-store" };
    if (window.AbortSignal && AbortSignal.timeout) options.signal = AbortSignal.timeout(PROBE_TIMEOUT);
    const response = await fetch("/healthz/live", options);
    return response.ok;
  } catch (_e) {
    return false;
  }
}

// Take over the click or submit `event`; `go` is the plain post or link, done only when
// the server answers over HTTP, else `say` tells the person there is no connection.
export function fallBack(event, go, say) {
  event.preventDefault();
  reachable().then((ok) => {
    if (ok) go();
    else say(document.getElementById("strings").dataset.noConnection, { urgent: true });
  });
}
