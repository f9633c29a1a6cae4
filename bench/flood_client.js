// Load generator for the flood benchmark: the reference socket.io JavaScript client.
//
//   node bench/flood_client.js '{"mode": "measure", "url": "...", "threadId": 1,
//        "listeners": ["cookie", ...], "senders": ["cookie", ...], "messages": 40,
//        "intervalMs": 100}'
//   node bench/flood_client.js '{"mode": "flood", "url": "...", "threadId": 1,
//        "cookie": "...", "seconds": 10, "window": 200}'
//
// measure: the listeners join the thread; the senders take turns sending one message
// every `intervalMs` (several people, so none of them meets the message rate limit).
// Prints one JSON line: p50/p99 latency (send -> message:new at every listener), lost
// deliveries and error acks.
//
// flood: one person sends `typing` and `message:send` to the thread as fast as the
// server answers (`window` events unacknowledged at any time, never waiting for one),
// and reconnects at once whenever the server disconnects it. Runs `seconds`, then
// prints one JSON line: events sent, accepted, refused, and disconnects.
"use strict";
const socketClient = require("./socket_client");

const opts = JSON.parse(process.argv[2]);

const connect = (cookie) => socketClient.connect(opts.url, cookie, 30000);
const { percentile } = socketClient;

function join(socket) {
  return new Promise((resolve, reject) =>
    socket.timeout(30000).emit("join", { thread_id: opts.threadId }, (err, ack) =>
      err || !ack.ok ? reject(err || new Error(JSON.stringify(ack))) : resolve(),
    ),
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function measure() {
  const sentAt = new Map();
  const latencies = [];
  const listeners = await Promise.all(opts.listeners.map(connect));
  for (const socket of listeners) {
    socket.on("message:new", (payload) => {
      const started = sentAt.get(payload.message.client_id);
      if (started !== undefined) latencies.push(performance.now() - started);
    });
  }
  await Promise.all(listeners.map(join));
  const senders = await Promise.all(opts.senders.map(connect));
  await sleep(500); // the joins' presence traffic drains
  let errors = 0;
  const acks = [];
  const tag = `${process.pid}-${Date.now()}`;
  for (let i = 0; i < opts.messages; i++) {
    const clientId = `m-${tag}-${i}`;
    const sender = senders[i % senders.length];
    sentAt.set(clientId, performance.now());
    acks.push(
      new Promise((resolve) =>
        sender
          .timeout(30000)
          .emit(
            "message:send",
            { thread_id: opts.threadId, body: `mätning ${i}`, client_id: clientId },
            (err, ack) => {
              if (err || !ack.ok) errors += 1;
              resolve();
            },
          ),
      ),
    );
    await sleep(opts.intervalMs);
  }
  await Promise.all(acks);
  const expected = opts.listeners.length * opts.messages;
  const deadline = performance.now() + 10000;
  while (latencies.length < expected && performance.now() < deadline) await sleep(20);
  latencies.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      delivered: latencies.length,
      lost: expected - latencies.length,
      errors,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
    }),
  );
  for (const socket of [...listeners, ...senders]) socket.disconnect();
}

async function flood() {
  const stats = { sent: 0, accepted: 0, refused: 0, disconnects: 0, connects: 0 };
  process.on("SIGTERM", () => {
    // stopped by the benchmark once the measurement is done
    console.log(JSON.stringify(stats));
    process.exit(0);
  });
  const until = performance.now() + opts.seconds * 1000;
  let n = 0;
  while (performance.now() < until) {
    let socket;
    try {
      socket = await connect(opts.cookie);
    } catch {
      stats.refusedConnects = (stats.refusedConnects || 0) + 1;
      await sleep(0); // and straight back
      continue;
    }
    stats.connects += 1;
    let inFlight = 0;
    await new Promise((resolve) => {
      const done = () => {
        clearInterval(timer);
        resolve();
      };
      socket.on("disconnect", (reason) => {
        if (reason !== "io client disconnect") stats.disconnects += 1; // the server's doing
        done();
      });
      const pump = () => {
        while (socket.connected && inFlight < opts.window && performance.now() < until) {
          n += 1;
          inFlight += 1;
          stats.sent += 1;
          const [name, payload] =
            n % 2
              ? ["typing", { thread_id: opts.threadId }]
              : [
                  "message:send",
                  { thread_id: opts.threadId, body: `flod ${n}`, client_id: `f-${process.pid}-${n}` },
                ];
          socket.timeout(10000).emit(name, payload, (err, ack) => {
            inFlight -= 1;
            if (!err && ack.ok) stats.accepted += 1;
            else stats.refused += 1;
            setImmediate(pump);
          });
        }
        if (performance.now() >= until) {
          socket.disconnect();
          done();
        }
      };
      const timer = setInterval(pump, 100); // also ends the run when no ack comes back
      pump();
    });
  }
  console.log(JSON.stringify(stats));
}

setTimeout(() => {
  console.error("flood client timed out");
  process.exit(2);
}, opts.timeoutMs || 120000).unref();
(opts.mode === "flood" ? flood() : measure())
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(String(err && err.stack ? err.stack : err));
    process.exit(1);
  });
