// Live thread page: wires the small modules in static/js/thread/ together.
//   connection.js  joining the room, catch-up by id, connection state, revoked access
//   outbox.js      messages waiting for the server's acknowledgement (resend queue)
//   feed.js        the message list filled from the server-rendered <template>
//   composer.js    sending, drafts, reply, inline edit and delete
//   mentions.js    the composer's @ autocomplete (an ARIA combobox), wired by composer.js
//   presence.js    who is here and who is typing
// The page works without any of this (form posts, links, reloads).
import { format, socket } from "./live.js";
import { announcer, timeFormatter } from "./message.js";
import { connectThread } from "./thread/connection.js";
import { createFeed } from "./thread/feed.js";
import { createOutbox } from "./thread/outbox.js";
import { createComposer } from "./thread/composer.js";
import { showPresence } from "./thread/presence.js";
import { wireReactions } from "./thread/reactions.js";

const root = document.getElementById("thread");
if (root && root.dataset.live === "true") {
  start(root);
}

function start(root) {
  const threadId = Number(root.dataset.threadId);
  const viewerId = Number(root.dataset.viewerId || 0);
  const S = document.getElementById("strings").dataset;
  const ctx = {
    viewerId,
    canModerate: root.dataset.canModerate === "true",
    notShown: S.notShown,
    timeFormat: timeFormatter(),
  };
  const say = announcer(document.getElementById("announcer"), document.getElementById("body"), {
    // a burst of new messages is one line: how many, and the latest one
    burst: (messages) => {
      const last = messages[messages.length - 1];
      return `${format(S.newMessages, { n: messages.length, name: last.name })}: ${last.text}`;
    },
  });
  const status = document.getElementById("thread-status");
  const slowMode = document.getElementById("slow-mode");
  const revokedBanner = document.getElementById("thread-revoked");
  const composerSection = document.getElementById("composer");
  const skipToBox = document.getElementById("skip-to-box"); // shown while the box can be used

  let conn = null;
  const live = () => Boolean(conn && conn.live());
  const feedApi = createFeed({ socket, threadId, viewerId, ctx, S, say, isJoined: live });
  let composer = null;
  const outbox = createOutbox({
    socket, threadId, viewerId, feedApi, S, say, canSend: live,
    onEdit: (item) => composer && composer.takeBack(item),
    onMuted: (until) => applyMute(until),
    onDead: () => conn && conn.drop(),
  });
  const typed = showPresence({ socket, threadId, S });
  composer = createComposer({ socket, threadId, S, outbox, feedApi, live, typed, say });
  ctx.mine = wireReactions({
    socket, list: document.getElementById("feed"), say, live, waiting: feedApi.reacted,
  });

  // The box, the replies and the own messages' controls follow whether the person may
  // write here: the thread open (not locked or archived) and no mute in its forum.
  const mutedNotice = document.getElementById("muted-notice");
  let threadClosed = !status.hidden; // as the page was drawn
  let mutedUntil = null; // a Date while muted here
  let muteTimer = 0;
  let forumId = Number(root.dataset.forumId || 0);
  let composerClosed = false; // disabled (not hidden) by closing while in use: see applyAccess
  let stopped = false; // the session ended or access to the thread did: nothing reopens the box
  document.addEventListener("thread:ended", () => { stopped = true; window.clearTimeout(muteTimer); });

  function applyAccess() {
    const closed = threadClosed || Boolean(mutedUntil);
    const notice = threadClosed ? status : mutedNotice; // what says why, while it is closed
    if (composerSection && closed && composerClosed) {
      // still closed, perhaps for the other reason now: the kept box says which
      composer.setEnabled(false, notice.textContent.trim());
    } else if (composerSection) {
      // Closed while the person is writing (text in the box, or the focus in it): the box
      // stays, disabled, with its text to copy and the reason beside it, and the focus goes
      // to the notice that says why; hidden under them, the text and their place were lost.
      const box = document.getElementById("body");
      const inUse = Boolean(box && (box.value.trim() || composerSection.contains(document.activeElement)));
      if (closed && inUse && !composerSection.hidden) {
        composer.setEnabled(false, notice.textContent.trim());
        composerClosed = true;
        notice.tabIndex = -1;
        notice.focus();
      } else {
        composerSection.hidden = closed;
        if (!closed && composerClosed) composer.setEnabled(true);
        composerClosed = false;
      }
      // a box that is hidden, or kept only to copy its text from, is nowhere to skip to
      if (skipToBox) skipToBox.hidden = closed;
    }
    feedApi.setLocked(closed);
  }

  function applyThread(thread) {
    const closed = Boolean(thread.locked || thread.archived);
    const wasClosed = threadClosed;
    threadClosed = closed;
    status.hidden = !closed;
    status.querySelector("strong").textContent = thread.archived ? S.archived : S.locked;
    if (thread.forum && thread.forum.id && thread.forum.id !== forumId) {
      // moved: whether the person is muted there comes with a join's answer
      if (forumId && conn) conn.rejoin();
      forumId = thread.forum.id;
    }
    applyAccess();
    if (slowMode) {
      const seconds = Number(thread.slow_mode_seconds || 0);
      slowMode.hidden = !seconds;
      slowMode.textContent = seconds ? format(S.slowMode, { n: seconds }) : "";
    }
    if (thread.title) {
      const title = document.getElementById("thread-title");
      title.textContent = thread.title;
      title.removeAttribute("lang"); // the page's language: the new title's is not known here
    }
    const forumLink = document.getElementById("thread-forum");
    if (thread.forum && forumLink && forumLink.textContent !== thread.forum.title) {
      forumLink.textContent = thread.forum.title;
      forumLink.href = `/forums/${encodeURIComponent(thread.forum.slug)}`;
      say(format(S.moved, { forum: thread.forum.title })); // a "$&" in a title stays as written
    }
    // open again, but still muted: nothing to write with yet, so no "you can write"
    if (closed !== wasClosed && (closed || !mutedUntil)) say(closed ? status.textContent.trim() : S.unlocked);
  }

  // A mute in this forum (`until`, ISO 8601; null when there is none): imposed or lifted
  // while the page is open (`mute:changed`), found at a join, or given as a send's refusal.
  // It ends by itself at its time; a send the server still refuses says so again.
  function applyMute(until, { quiet = false } = {}) {
    if (stopped) return; // a visitor's join now, or none: it says nothing of the mute
    const at = until ? Date.parse(until) : NaN;
    const next = Number.isFinite(at) && at > Date.now() ? new Date(at) : null;
    const was = mutedUntil;
    if ((was && was.getTime()) === (next && next.getTime())) return;
    mutedUntil = next;
    window.clearTimeout(muteTimer);
    const wait = next ? next.getTime() - Date.now() : 0;
    if (next && wait < 2 ** 31 - 1000) muteTimer = window.setTimeout(() => applyMute(null), wait + 500);
    if (!mutedNotice) return;
    mutedNotice.hidden = !next;
    if (next) mutedNotice.querySelector("strong").textContent = format(S.muted, { time: ctx.timeFormat.format(next) });
    applyAccess();
    // lifted, but the thread is locked: nothing to write with yet, so no "you can write"
    if (!quiet && Boolean(next) !== Boolean(was) && (next || !threadClosed)) {
      say(next ? mutedNotice.textContent.trim() : S.unmuted, { urgent: Boolean(next) });
    }
  }
  applyMute(root.dataset.mutedUntil || null, { quiet: true });
  socket.on("mute:changed", (event) => {
    if (event && Number(event.forum_id) === forumId) applyMute(event.until);
  });

  conn = connectThread({
    socket, threadId, viewerId, S, say, lastId: feedApi.lastId, cursorAtLoad: root.dataset.cursor,
    on: {
      joined(ack, { rejoin }) {
        // What came while the page was away is news as a live message is: read out (a burst
        // as one line), and behind "Show n new" for a reader who is not at the bottom. The
        // first join only fills the moment between the page's drawing and its socket.
        ack.messages.forEach((m) => {
          feedApi.receive(m, { announce: rejoin, hold: rejoin });
          outbox.confirm(m);
        });
        // edited, deleted, hidden, restored, redacted or reacted to while away: the
        // current state of those this page shows (or keeps behind "Show n new"); and one
        // sent just before the page lost its connection whose broadcast never arrived
        // (below `since`)
        (ack.changed || []).forEach((m) => {
          if (feedApi.change(m)) outbox.confirm(m);
        });
        applyThread(ack.thread);
        applyMute(ack.muted_until);
        if (!ack.has_more) outbox.resendAll(); // once caught up (more pages follow)
      },
      changed() {
        outbox.redrawAll();
      },
      thread: applyThread,
      revoked() {
        stopped = true;
        window.clearTimeout(muteTimer);
        revokedBanner.hidden = false;
        composer.setEnabled(false, "", revokedBanner);
        if (skipToBox) skipToBox.hidden = true;
        outbox.failAll(S.revoked);
        feedApi.setLocked(true);
        say(S.revoked, { urgent: true });
      },
    },
  });

  socket.on("message:new", ({ message }) => {
    outbox.confirm(message);
    feedApi.receive(message, { announce: true });
  });
  // as a catch-up's `changed`: never past a pause, never above the oldest message loaded
  ["message:edited", "message:deleted", "message:hidden", "message:restored"].forEach((name) => {
    socket.on(name, (payload) => {
      if (payload && payload.message) feedApi.change(payload.message);
    });
  });

  feedApi.openAtStart();
}
