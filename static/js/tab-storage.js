// What a tab keeps for its person in sessionStorage (drafts, unsent messages): one key per
// kind, person and thread, "dialogforum:<kind>:<viewerId>:<threadId>", so that on a shared
// computer the next person in the tab is never shown the last one's text.
const PREFIX = "dialogforum:";

export function keptKey(kind, viewerId, threadId) {
  return `${PREFIX}${kind}:${viewerId}:${threadId}`;
}

function keptKeys() {
  try {
    return Object.keys(window.sessionStorage).filter((key) => key.startsWith(PREFIX));
  } catch (_e) {
    return []; // storage blocked: nothing was kept
  }
}

// The session ended (log out, log out everywhere, ended from another device): forget it all.
export function forgetAll() {
  keptKeys().forEach((key) => window.sessionStorage.removeItem(key));
}

// A page for one person forgets what anyone else left in the tab (a session that ended
// while the tab was asleep or offline, and older keys that named no person).
export function forgetOthers(viewerId) {
  keptKeys()
    .filter((key) => key.split(":")[2] !== String(viewerId) || key.split(":").length !== 4)
    .forEach((key) => window.sessionStorage.removeItem(key));
}
