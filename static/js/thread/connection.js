// The thread's connection: joins the room (catching up by id after a
// reconnect), shows the connection state, and reports the server's thread
// events (updated, revoked) to whoever listens.
export function connectThread({ socket, threadId, S, lastId, on }) {
  const el = document.getElementById("connection");
  let ended = false;
  let revoked = false;
  let joined = false;

  function show(state) {
    el.hidden = false;
    el.dataset.state = state;
    el.textContent = state === "connected" ? S.connected
      : state === "ended" ? S.ended
      : state === "revoked" ? S.revoked
      : S.reconnecting;
  }

  function join() {
    if (revoked) return;
    socket.emit("join", { thread_id: threadId, since: lastId() }, (ack) => {
      if (!ack) return;
      if (!ack.ok) {
        if (ack.error && (ack.error.code === "forbidden" || ack.error.code === "not_found")) {
          revoke();
        }
        return;
      }
      joined = true;
      show("connected");
      on.joined(ack);
    });
  }

  function revoke() {
    if (revoked) return;
    revoked = true;
    joined = false;
    show("revoked");
    on.revoked();
  }

  socket.on("connect", join);
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
  socket.on("session:ended", () => { end(); on.changed(); });
  socket.io.on("reconnect_attempt", () => { if (!ended && !revoked) show("reconnecting"); });
  socket.on("thread:revoked", (event) => {
    if (event && Number(event.thread_id) === threadId) revoke();
  });
  socket.on("thread:updated", ({ thread }) => {
    if (thread && thread.id === threadId) on.thread(thread);
  });

  return {
    // Sending makes sense only in the room, on a live socket, with access.
    live: () => joined && socket.connected && !ended && !revoked,
    joined: () => joined,
    revoked: () => revoked,
  };
}
