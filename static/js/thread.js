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
  });
  const typed = showPresence({ socket, threadId, S });
  composer = createComposer({ socket, threadId, S, outbox, feedApi, live, typed, say });
  ctx.mine = wireReactions({
    socket, list: document.getElementById("feed"), say, live, waiting: feedApi.reacted,
  });

  let composerClosed = false; // disabled (not hidden) by the thread closing: see applyThread
  function applyThread(thread) {
    const closed = Boolean(thread.locked || thread.archived);
    const wasClosed = !status.hidden;
    status.hidden = !closed;
    status.querySelector("strong").textContent = thread.archived ? S.archived : S.locked;
    if (composerSection) {
      // Closed while the person is writing (text in the box, or the focus in it): the box
      // stays, disabled, with its text to copy and the reason beside it, and the focus goes
      // to the notice that says why; hidden under them, the text and their place were lost.
      const box = document.getElementById("body");
      const inUse = Boolean(box && (box.value.trim() || composerSection.contains(document.activeElement)));
      if (closed && inUse && !composerSection.hidden) {
        composer.setEnabled(false, status.textContent.trim());
        composerClosed = true;
        status.tabIndex = -1;
        status.focus();
      } else {
        composerSection.hidden = closed;
        if (!closed && composerClosed) composer.setEnabled(true);
        composerClosed = closed && composerClosed;
      }
      // a box that is hidden, or kept only to copy its text from, is nowhere to skip to
      if (skipToBox) skipToBox.hidden = closed;
    }
    feedApi.setLocked(closed);
    if (slowMode) {
      const seconds = Number(thread.slow_mode_seconds || 0);
      slowMode.hidden = !seconds;
      slowMode.textContent = seconds ? format(S.slowMode, { n: seconds }) : "";
    }
    if (thread.title) document.getElementById("thread-title").textContent = thread.title;
    const forumLink = document.getElementById("thread-forum");
    if (thread.forum && forumLink && forumLink.textContent !== thread.forum.title) {
      forumLink.textContent = thread.forum.title;
      forumLink.href = `/forums/${encodeURIComponent(thread.forum.slug)}`;
      say(format(S.moved, { forum: thread.forum.title })); // a "$&" in a title stays as written
    }
    if (closed !== wasClosed) say(closed ? status.textContent.trim() : S.unlocked);
  }

  conn = connectThread({
    socket, threadId, viewerId, S, lastId: feedApi.lastId, cursorAtLoad: root.dataset.cursor,
    on: {
      joined(ack) {
        ack.messages.forEach((m) => { feedApi.receive(m); outbox.confirm(m); });
        // edited, deleted, hidden, restored, redacted or reacted to while away: the
        // current state of those this page shows (or keeps behind "Show n new"); and one
        // sent just before the page lost its connection whose broadcast never arrived
        // (below `since`)
        (ack.changed || []).forEach((m) => {
          if (feedApi.change(m)) outbox.confirm(m);
        });
        applyThread(ack.thread);
        if (!ack.has_more) outbox.resendAll(); // once caught up (more pages follow)
      },
      changed() {
        outbox.redrawAll();
      },
      thread: applyThread,
      revoked() {
        revokedBanner.hidden = false;
        composer.setEnabled(false);
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
