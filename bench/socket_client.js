// Shared by the Node load generators (fanout_client.js, flood_client.js): one socket.io
// connection per call (websocket only, no automatic reconnection), and percentiles.
"use strict";
const { io } = require("socket.io-client");

function connect(url, cookie, timeout = 60000) {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      timeout,
      extraHeaders: cookie ? { Cookie: cookie } : {},
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

module.exports = { connect, percentile };
