// Idle connections: open N socket.io connections (websocket), print {"connected": N}
// and hold them until stdin closes.
//   node bench/idle_client.js '{"url": "...", "connections": 300}'
"use strict";
const { io } = require("socket.io-client");

const opts = JSON.parse(process.argv[2]);
const sockets = [];

function connect() {
  return new Promise((resolve) => {
    const socket = io(opts.url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      timeout: 60000,
    });
    socket.once("connect", () => resolve(true));
    socket.once("connect_error", () => resolve(false));
    sockets.push(socket);
  });
}

async function main() {
  let connected = 0;
  for (let i = 0; i < opts.connections; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(opts.connections, i + 50); j++) batch.push(connect());
    connected += (await Promise.all(batch)).filter(Boolean).length;
  }
  console.log(JSON.stringify({ connected }));
  process.stdin.resume();
  process.stdin.on("end", () => {
    for (const socket of sockets) socket.disconnect();
    process.exit(0);
  });
}

main();
