// One Socket.IO connection per page, shared by the thread view and the bell.
import { io } from "../vendor/socket.io.esm.min.js";

export const socket = io({ transports: ["websocket", "polling"] });

// The network is back: connect now, not when socket.io's backoff next tries (up to 5 s
// later). While its reconnection timer is pending connect() alone waits for that timer,
// so the wait is ended first (disconnect() drops the timer; nothing was connected, so no
// "disconnect" is told). A socket the server ended (inactive) stays ended.
window.addEventListener("online", () => {
  if (socket.active && !socket.connected) socket.disconnect().connect();
});

// Ids for idempotent sends: crypto.randomUUID needs a secure context; fall back.
export function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Fill "{name}"-style placeholders in a translated string taken from the page.
export function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_m, key) => (key in values ? String(values[key]) : ""));
}

// The nodes of format(template, values) with each value isolated in a <bdi>: people's names
// in a sentence ("Här nu: أحمد علي, Mira"), so a name in Arabic letters reads right to left
// without taking the sentence's words and commas with it. An array is its items, each
// isolated, joined by ", ".
export function formatIsolated(template, values) {
  const nodes = [];
  template.split(/(\{\w+\})/).forEach((piece) => {
    const key = /^\{(\w+)\}$/.exec(piece)?.[1];
    if (!key) {
      if (piece) nodes.push(piece);
      return;
    }
    [].concat(key in values ? values[key] : []).forEach((value, i) => {
      if (i) nodes.push(", ");
      const bdi = document.createElement("bdi");
      bdi.textContent = String(value); // text, never HTML
      nodes.push(bdi);
    });
  });
  return nodes;
}
