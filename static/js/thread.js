// Live thread: joins the thread's room, fills server-rendered message templates,
// catches up by id after a reconnect, and retries unacknowledged sends with the
// same client_id (the server answers a retry with the stored message).
import { socket, newClientId, format } from "./live.js";

const root = document.getElementById("thread");
if (root && root.dataset.live === "true") {
  start(root);
}

function start(root) {
  const threadId = Number(root.dataset.threadId);
  const viewerId = Number(root.dataset.viewerId || 0);
  const canModerate = root.dataset.canModerate === "true";
  const feed = document.getElementById("feed");
  const template = document.getElementById("message-template");
  const S = document.getElementById("strings").dataset;
  const connection = document.getElementById("connection");
  const presenceEl = document.getElementById("presence");
  const typingEl = document.getElementById("typing");
  const announcer = document.getElementById("announcer");
  const liveControls = document.getElementById("live-controls");
  const pauseButton = document.getElementById("pause");
  const showNew = document.getElementById("show-new");
  const form = document.getElementById("composer-form");
  const body = document.getElementById("body");
  const replyInput = document.getElementById("reply_to");
  const replying = document.getElementById("replying");
  const replyingText = document.getElementById("replying-text");
  const sendError = document.getElementById("send-error");
  const olderWrap = document.getElementById("older-wrap");
  const lang = document.documentElement.lang === "en" ? "en-GB" : "sv-SE";
  const timeFormat = new Intl.DateTimeFormat(lang, {
    dateStyle: "medium", timeStyle: "short", timeZone: "Europe/Stockholm",
  });

  let paused = false;
  let queued = [];
  let ended = false;
  let joined = false;
  let hasOlder = Boolean(olderWrap);
  let loadingOlder = false;
  const pending = new Map(); // client_id -> payload, until acknowledged
  const typingPeople = new Map();
  let readTimer = null;
  let typingSentAt = 0;

  liveControls.hidden = false;

  // ---- messages ----------------------------------------------------------
  function ids() {
    return Array.from(feed.querySelectorAll("li.message"), (li) => Number(li.dataset.id));
  }
  function lastId() {
    const all = ids();
    return all.length ? Math.max(...all) : 0;
  }
  function firstId() {
    const all = ids();
    return all.length ? Math.min(...all) : 0;
  }
  function slot(li, name) {
    return li.querySelector(`[data-slot="${name}"]`);
  }

  function fill(li, m) {
    const mine = viewerId !== 0 && m.author.id === viewerId;
    li.id = `m${m.id}`;
    li.dataset.id = String(m.id);
    li.dataset.authorId = String(m.author.id);
    li.dataset.state = m.state;
    li.dataset.body = m.body || "";
    const author = slot(li, "author");
    author.textContent = m.author.display_name;
    author.href = `/people/${encodeURIComponent(m.author.handle || "")}`;
    slot(li, "organisation").textContent = m.author.organisation || "";
    slot(li, "permalink").href = `#m${m.id}`;
    const time = slot(li, "time");
    time.dateTime = m.created_at;
    time.textContent = timeFormat.format(new Date(m.created_at));
    slot(li, "edited").hidden = !m.edited_at;
    const quote = slot(li, "quote");
    quote.hidden = !m.reply_quote;
    if (m.reply_quote) {
      slot(li, "quote-link").href = `#m${m.reply_quote.id}`;
      slot(li, "quote-author").textContent = m.reply_quote.author_name;
      slot(li, "quote-text").textContent = m.reply_quote.excerpt ?? S.notShown;
    }
    const bodyEl = slot(li, "body");
    // m.html was sanitised once, on the server, by forum/text.py.
    bodyEl.innerHTML = m.html;
    bodyEl.hidden = m.state !== "visible";
    slot(li, "deleted").hidden = m.state !== "deleted";
    slot(li, "hidden").hidden = m.state !== "hidden";
    slot(li, "hidden-reason").textContent = m.hidden_reason || "";
    const actions = slot(li, "actions");
    if (actions) actions.hidden = m.state !== "visible";
    const replyLink = slot(li, "reply-link");
    if (replyLink) replyLink.href = `?reply_to=${m.id}#composer`;
    const actionLink = slot(li, "action-link");
    if (actionLink) actionLink.href = `/actions/new?message=${m.id}`;
    const edit = slot(li, "edit-link");
    if (edit) { edit.href = `/messages/${m.id}/edit`; edit.hidden = !mine; }
    const del = slot(li, "delete-form");
    if (del) { del.action = `/messages/${m.id}/delete`; del.hidden = !mine; }
    const flagLink = slot(li, "flag-link");
    if (flagLink) { flagLink.href = `/messages/${m.id}/flag`; flagLink.hidden = mine; }
    const moderateLink = slot(li, "moderate-link");
    if (moderateLink) moderateLink.href = `/moderation/messages/${m.id}`;
    const history = slot(li, "history-link");
    if (history) {
      history.href = `/messages/${m.id}/revisions`;
      history.hidden = !(m.edited_at && (mine || canModerate));
    }
  }

  function render(m) {
    const li = template.content.firstElementChild.cloneNode(true);
    fill(li, m);
    return li;
  }

  function nearBottom() {
    return feed.scrollHeight - feed.scrollTop - feed.clientHeight < 80;
  }

  // Insert or update; returns true when the message was new to this page.
  function upsert(m, { announce = false } = {}) {
    if (m.thread_id !== threadId) return false;
    const existing = document.getElementById(`m${m.id}`);
    if (existing) {
      fill(existing, m);
      return false;
    }
    const stick = nearBottom();
    const li = render(m);
    const after = ids().filter((id) => id > m.id);
    if (after.length) {
      feed.insertBefore(li, document.getElementById(`m${Math.min(...after)}`));
    } else {
      feed.appendChild(li);
    }
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
    if (stick || m.author.id === viewerId) feed.scrollTop = feed.scrollHeight;
    if (announce && m.author.id !== viewerId) {
      say(`${format(S.newMessage, { name: m.author.display_name })}: ${li.querySelector("[data-slot=body]").textContent.trim().slice(0, 140)}`);
    }
    scheduleRead();
    return true;
  }

  function say(text) {
    const p = document.createElement("p");
    p.textContent = text;
    announcer.appendChild(p);
    while (announcer.childElementCount > 3) announcer.firstElementChild.remove();
  }

  // ---- pause -------------------------------------------------------------
  function updateShowNew() {
    showNew.hidden = queued.length === 0;
    showNew.textContent = format(S.showNew, { n: queued.length });
  }
  function flush() {
    const batch = queued;
    queued = [];
    batch.forEach((m) => upsert(m));
    updateShowNew();
  }
  pauseButton.addEventListener("click", () => {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", String(paused));
    pauseButton.textContent = paused ? S.resume : S.pause;
    if (!paused) flush();
  });
  showNew.addEventListener("click", () => { flush(); feed.scrollTop = feed.scrollHeight; });

  // ---- read marker -------------------------------------------------------
  function scheduleRead() {
    if (!viewerId || readTimer || document.hidden) return;
    readTimer = window.setTimeout(() => {
      readTimer = null;
      const id = lastId();
      if (id) socket.emit("read", { thread_id: threadId, message_id: id }, () => {});
    }, 1000);
  }
  document.addEventListener("visibilitychange", scheduleRead);

  // ---- connection --------------------------------------------------------
  function setConnection(state) {
    connection.hidden = false;
    connection.dataset.state = state;
    connection.textContent = state === "connected" ? S.connected : state === "ended" ? S.ended : S.reconnecting;
    if (form) form.querySelector("button[type=submit]").disabled = state === "ended";
  }

  function join() {
    socket.emit("join", { thread_id: threadId, since: lastId() }, (ack) => {
      if (!ack || !ack.ok) return;
      joined = true;
      setConnection("connected");
      ack.messages.forEach((m) => (paused ? queued.push(m) : upsert(m)));
      updateShowNew();
      setLocked(ack.thread.locked || ack.thread.archived);
      pending.forEach((payload) => send(payload));
    });
  }

  socket.on("connect", join);
  socket.on("disconnect", (reason) => {
    joined = false;
    presenceEl.hidden = true;
    if (reason === "io server disconnect" || ended) {
      ended = true;
      setConnection("ended");
    } else {
      setConnection("reconnecting");
    }
  });
  socket.on("session:ended", () => { ended = true; setConnection("ended"); });
  socket.io.on("reconnect_attempt", () => { if (!ended) setConnection("reconnecting"); });

  socket.on("message:new", ({ message }) => {
    if (paused && message.author.id !== viewerId) {
      if (!document.getElementById(`m${message.id}`) && !queued.some((m) => m.id === message.id)) {
        queued.push(message);
        updateShowNew();
      }
      return;
    }
    upsert(message, { announce: true });
  });
  ["message:edited", "message:deleted", "message:hidden", "message:restored"].forEach((name) => {
    socket.on(name, (payload) => {
      if (payload.message) upsert(payload.message);
    });
  });
  socket.on("thread:updated", ({ thread }) => {
    if (thread && thread.id === threadId) {
      setLocked(thread.locked || thread.archived);
      if (thread.title) document.getElementById("thread-title").textContent = thread.title;
    }
  });
  socket.on("presence", (p) => {
    if (p.thread_id !== threadId) return;
    const names = p.users.map((u) => u.display_name).join(", ");
    let text = names ? format(S.here, { names }) : "";
    if (p.visitors) text += ` ${format(S.visitors, { n: p.visitors })}`;
    presenceEl.textContent = text.trim();
    presenceEl.hidden = !text.trim();
  });
  socket.on("typing", ({ thread_id: tid, user }) => {
    if (tid !== threadId || !user) return;
    window.clearTimeout(typingPeople.get(user.display_name));
    typingPeople.set(user.display_name, window.setTimeout(() => {
      typingPeople.delete(user.display_name);
      showTyping();
    }, 4000));
    showTyping();
  });
  function showTyping() {
    typingEl.textContent = Array.from(typingPeople.keys())
      .map((name) => format(S.typing, { name })).join(" ");
  }

  function setLocked(locked) {
    const status = document.getElementById("thread-status");
    status.hidden = !locked;
    const composer = document.getElementById("composer");
    if (composer) composer.hidden = locked;
    feed.querySelectorAll("[data-own-only]").forEach((el) => {
      if (locked) el.hidden = true;
    });
  }

  // ---- older messages ----------------------------------------------------
  function loadOlder() {
    if (!hasOlder || loadingOlder || !joined) return;
    loadingOlder = true;
    socket.emit("history", { thread_id: threadId, before: firstId(), limit: 50 }, (ack) => {
      loadingOlder = false;
      if (!ack || !ack.ok) return;
      const height = feed.scrollHeight;
      const first = feed.firstElementChild;
      ack.messages.forEach((m) => {
        if (!document.getElementById(`m${m.id}`)) feed.insertBefore(render(m), first);
      });
      feed.scrollTop += feed.scrollHeight - height;
      hasOlder = ack.has_more;
      if (!hasOlder && olderWrap) olderWrap.remove();
    });
  }
  const older = document.getElementById("older");
  if (older) older.addEventListener("click", (event) => { event.preventDefault(); loadOlder(); });
  feed.addEventListener("scroll", () => { if (feed.scrollTop < 40) loadOlder(); });

  // ---- composer ----------------------------------------------------------
  function send(payload) {
    pending.set(payload.client_id, payload);
    socket.timeout(10000).emit("message:send", payload, (err, ack) => {
      if (err) return; // no answer: kept in `pending`, resent after reconnect
      pending.delete(payload.client_id);
      if (ack.ok) {
        upsert(ack.message);
      } else {
        showError(ack.error.message);
        if (body && !body.value) body.value = payload.body;
      }
    });
  }
  function showError(text) {
    if (!sendError) return;
    sendError.textContent = text;
    sendError.hidden = !text;
  }
  function setReply(id, name) {
    replyInput.value = id ? String(id) : "";
    replying.hidden = !id;
    replyingText.textContent = id ? format(S.replying, { name }) : "";
  }

  if (form) {
    form.addEventListener("submit", (event) => {
      if (!socket.connected || ended) return; // plain form post still works
      event.preventDefault();
      const text = body.value;
      if (!text.trim()) { showError(""); body.focus(); return; }
      showError("");
      const payload = { thread_id: threadId, body: text, client_id: newClientId() };
      if (replyInput.value) payload.reply_to = Number(replyInput.value);
      send(payload);
      body.value = "";
      setReply(null);
      body.focus();
    });
    body.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    body.addEventListener("input", () => {
      const now = Date.now();
      if (socket.connected && now - typingSentAt > 2500) {
        typingSentAt = now;
        socket.emit("typing", { thread_id: threadId }, () => {});
      }
    });
    document.getElementById("cancel-reply").addEventListener("click", (event) => {
      event.preventDefault();
      setReply(null);
      body.focus();
    });
  }

  // Reply, edit and delete without leaving the page.
  feed.addEventListener("click", (event) => {
    const action = event.target.closest("[data-action]");
    if (!action || !socket.connected) return;
    const li = action.closest("li.message");
    const id = Number(li.dataset.id);
    if (action.dataset.action === "reply" && form) {
      event.preventDefault();
      setReply(id, slot(li, "author").textContent);
      body.focus();
    } else if (action.dataset.action === "edit") {
      event.preventDefault();
      startEdit(li, id);
    } else if (action.dataset.action === "delete") {
      event.preventDefault();
      if (window.confirm(S.confirmDelete)) {
        socket.emit("message:delete", { message_id: id }, (ack) => {
          if (ack.ok) upsert(ack.message);
        });
      }
    }
  });

  function startEdit(li, id) {
    if (li.querySelector("form.edit-form")) return;
    const editor = document.createElement("form");
    editor.className = "edit-form";
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = `edit-${id}`;
    label.textContent = S.save;
    const area = document.createElement("textarea");
    area.id = `edit-${id}`;
    area.value = li.dataset.body || slot(li, "body").textContent;
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "button small";
    save.textContent = S.save;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button secondary small";
    cancel.textContent = S.cancelEdit;
    editor.append(label, area, error, save, cancel);
    slot(li, "body").after(editor);
    area.focus();
    const close = () => { editor.remove(); li.querySelector("[data-action=edit]").focus(); };
    cancel.addEventListener("click", close);
    editor.addEventListener("submit", (event) => {
      event.preventDefault();
      socket.emit("message:edit", { message_id: id, body: area.value }, (ack) => {
        if (ack.ok) { upsert(ack.message); close(); } else { error.textContent = ack.error.message; }
      });
    });
  }

  // Open at the first unread message, else at the newest.
  const divider = document.getElementById("first-unread");
  if (divider) {
    feed.scrollTop = divider.offsetTop - feed.offsetTop - 20;
  } else {
    feed.scrollTop = feed.scrollHeight;
  }
}
