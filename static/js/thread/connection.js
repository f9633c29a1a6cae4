// The thread's connection: joins the room (catching up by id and change cursor
// after a reconnect), shows the connection state, and reports the server's thread
// events (updated, revoked) to whoever listens.

// A connection down this long is said in the live region (and its return then too); a
// shorter loss only shows, so that a flapping link does not keep talking.
const LOSS_SAID_AFTER_MS = 4000;

export function connectThread({ socket, threadId, viewerId, S, say, lastId, cursorAtLoad, on }) {
  const el = document.getElementById("connection");
  let ended = false;
  let revoked = false;
  let joined = false;
  let caughtUp = false; // the first join's catch-up is done: later ones bring what was missed
  let lossTimer = 0;
  let lossSaid = false;

  function show(state) {
    el.hidden = false;
    el.dataset.state = state;
    el.textContent = state === "connected" ? S.connected
      : state === "ended" ? S.ended
      : state === "revoked" ? S.revoked
      : S.reconnecting;
    if (state === "reconnecting") {
      // only a page that was live loses its connection; one still opening has none yet
      if (!lossTimer && !lossSaid && caughtUp) {
        lossTimer = window.setTimeout(() => {
          lossTimer = 0;
          lossSaid = true;
          say(S.reconnecting);
        }, LOSS_SAID_AFTER_MS);
      }
      return;
    }
    window.clearTimeout(lossTimer);
    lossTimer = 0;
    if (state === "connected" && lossSaid) say(S.connectionBack);
    lossSaid = false; // ended and revoked say so themselves
  }

  // Catch-up: the messages above the newest this page has, and (from `cursor`, the
  // server's time of the page or of the last join) the current state of those it has
  // that changed meanwhile. A long absence comes in pages: join again until has_more is
  // false, each time above the last message received.
  let cursor = cursorAtLoad || null;
  // A live message moves the cursor up to its time less the server's margin
  // (CHANGE_MARGIN, a minute): what the page got live needs no asking again.
  socket.on("message:new", ({ message }) => {
    if (!message || message.thread_id !== threadId || !message.created_at) return;
    const at = Date.parse(message.created_at) - 60_000;
    if (Number.isFinite(at) && (!cursor || at > Date.parse(cursor))) {
      cursor = new Date(at).toISOString();
    }
  });
  function join(since = lastId()) {
    if (revoked) return;
    const payload = { thread_id: threadId, since };
    if (cursor) payload.changed_since = cursor;
    socket.emit("join", payload, (ack) => {
      if (!ack) return;
      if (!ack.ok) {
        const code = ack.error && ack.error.code;
        if (code === "forbidden" || code === "not_found") {
          revoke();
        } else if (code === "auth_required") {
          end(); // the session expired (a phone asleep past it): reloading logs in again
          on.changed();
        } else {
          // The socket is still connected, so no new "connect" comes to join again: the
          // database was away, or too many joins at once. Try again, later each time.
          show("reconnecting");
          joinLater(ack.error && ack.error.retry_after);
        }
        return;
      }
      retryDelay = 0;
      joined = true;
      show(ended ? "ended" : "connected"); // a visitor's socket now: it reads, never sends
      if (ack.cursor) cursor = ack.cursor;
      on.joined(ack, { rejoin: caughtUp });
      if (!ack.has_more) caughtUp = true;
      if (ack.has_more && socket.connected) {
        const got = ack.messages.length ? ack.messages[ack.messages.length - 1].id : since;
        join(Math.max(got, since));
      }
    });
  }

  let retryTimer = 0;
  let retryDelay = 0; // ms; doubles from 2 s to 30 s while joins are refused
  function joinLater(seconds) {
    window.clearTimeout(retryTimer);
    retryDelay = seconds > 0 ? seconds * 1000 : Math.min(30_000, retryDelay ? retryDelay * 2 : 2000);
    retryTimer = window.setTimeout(() => {
      retryTimer = 0;
      if (socket.connected && !joined && !ended && !revoked) join();
    }, retryDelay);
  }

  function revoke() {
    if (revoked) return;
    revoked = true;
    joined = false;
    show("revoked");
    on.revoked();
  }

  socket.on("connect", () => { window.clearTimeout(retryTimer); retryTimer = 0; join(); });
  if (socket.connected) join();
  socket.on("disconnect", (reason) => {
    joined = false;
    if (revoked) return;
    if (reason === "io server disconnect" || ended) {
      end();
    } else {
      show("reconnecting");
    }
    on.changed();
  });
  // The server ended the session (or this socket): it does not come back, so the composer
  // and the outbox stop offering to send (they listen for "thread:ended").
  function end() {
    const first = !ended;
    ended = true;
    show("ended");
    if (first) document.dispatchEvent(new CustomEvent("thread:ended"));
  }
  // Also told on connecting with the cookie of a session that ended while this page was
  // away (asleep, offline); a page drawn for a visitor, whose cookie may still name that
  // session, has no session to end and reads on.
  socket.on("session:ended", () => {
    if (!viewerId) return;
    end();
    on.changed();
  });
  socket.io.on("reconnect_attempt", () => { if (!ended && !revoked) show("reconnecting"); });
  socket.on("thread:revoked", (event) => {
    if (event && Number(event.thread_id) === threadId) revoke();
  });
  socket.on("thread:updated", ({ thread }) => {
    if (thread && thread.id === threadId) on.thread(thread);
  });
  // The server's Redis came back: what went through it meanwhile never reached this
  // socket, so catch up as after a reconnect (spread out: every page gets it at once).
  socket.on("resync", () => {
    window.setTimeout(() => { if (joined && socket.connected) join(); }, Math.random() * 2000);
  });

  return {
    // Sending makes sense only in the room, on a live socket, with access.
    live: () => joined && socket.connected && !ended && !revoked,
    // ask again what the page was told at its join (the thread moved to another forum)
    rejoin: () => { if (joined && socket.connected && !ended && !revoked) join(); },
    joined: () => joined,
    revoked: () => revoked,
    // The link is dead though nothing closed it (sends go unanswered): close it, so that
    // the page shows it and socket.io connects again (the outbox resends after the join).
    drop: () => { if (socket.connected && socket.io.engine) socket.io.engine.close(); },
  };
}
