// One Socket.IO connection per page, shared by the thread view and the bell.
import { io } from "../vendor/socket.io.esm.min.js";

export const socket = io({ transports: ["websocket", "polling"] });

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
