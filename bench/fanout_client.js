// Load generator for the fan-out benchmark: the reference socket.io JavaScript client.
//
//   node bench/fanout_client.js '{"url": "...", "threadId": 1, "subscribers": 200,
//        "messages": 100, "inFlight": 8, "senderCookie": "...", "cookies": ["...", ...]}'
//
// Connects `subscribers` sockets (each with its own cookie when given), joins them to
// the thread, then one sender emits `messages` message:send events with at most
// `inFlight` unacknowledged. Prints one JSON line: deliveries, lost, deliveries per
// second, p50/p99 latency (send -> message:new at a subscriber) and error acks.
"use strict";
const socketClient = require("./socket_client");

const opts = JSON.parse(process.argv[2]);
const timeoutMs = opts.timeoutMs || 120000;

// Several processes (over Redis): `urls` spreads the subscribers over them round-robin;
// the sender uses the first.
const urls = opts.urls || [opts.url];
const connect = (cookie, url = urls[0]) => socketClient.connect(url, cookie);
const { percentile } = socketClient;

async function main() {
  const sentAt = new Map();
  const latencies = [];
  let lastArrival = 0;
  const subscribers = [];
  // Connect in batches so the server's accept queue is not the thing being measured.
  for (let i = 0; i < opts.subscribers; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(opts.subscribers, i + 20); j++) {
      batch.push(
        connect(opts.cookies ? opts.cookies[j % opts.cookies.length] : null, urls[j % urls.length]),
      );
    }
    subscribers.push(...(await Promise.all(batch)));
  }
  await Promise.all(
    subscribers.map(
      (socket) =>
        new Promise((resolve, reject) => {
          socket.on("message:new", (payload) => {
            const started = sentAt.get(payload.message.client_id);
            if (started !== undefined) {
              const now = performance.now();
              latencies.push(now - started);
              lastArrival = now;
            }
          });
          socket.timeout(60000).emit("join", { thread_id: opts.threadId }, (err, ack) =>
            err || !ack.ok ? reject(err || new Error(JSON.stringify(ack))) : resolve(),
          );
        }),
    ),
  );
  // Let the joins' presence broadcasts (N joins x N sockets) drain before measuring.
  let lastPresence = performance.now();
  for (const socket of subscribers) socket.on("presence", () => (lastPresence = performance.now()));
  const settleUntil = performance.now() + 15000;
  while (performance.now() - lastPresence < 500 && performance.now() < settleUntil) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const sender = await connect(opts.senderCookie);
  const expected = opts.subscribers * opts.messages;
  let errors = 0;
  const errorSamples = []; // the first few refusals, to tell what went wrong
  let acked = 0;
  const started = performance.now();
  await new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    const pump = () => {
      while (inFlight < opts.inFlight && next < opts.messages) {
        const clientId = `js-${next}-${started}`;
        next += 1;
        inFlight += 1;
        sentAt.set(clientId, performance.now());
        sender
          .timeout(60000)
          .emit(
            "message:send",
            { thread_id: opts.threadId, body: `mätning ${next}`, client_id: clientId },
            (err, ack) => {
              inFlight -= 1;
              acked += 1;
              if (err || !ack.ok) {
                errors += 1;
                if (errorSamples.length < 3) errorSamples.push(err ? String(err) : ack.error);
              }
              if (acked === opts.messages) resolve();
              else pump();
            },
          );
      }
    };
    pump();
  });
  const deadline = performance.now() + Math.min(30000, timeoutMs);
  while (latencies.length < expected && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  latencies.sort((a, b) => a - b);
  const elapsed = (lastArrival - started) / 1000;
  console.log(
    JSON.stringify({
      delivered: latencies.length,
      lost: expected - latencies.length,
      errors,
      error_samples: errorSamples,
      per_second: elapsed > 0 ? latencies.length / elapsed : 0,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
    }),
  );
  for (const socket of [...subscribers, sender]) socket.disconnect();
  process.exit(0);
}

setTimeout(() => {
  console.error("fan-out client timed out");
  process.exit(2);
}, timeoutMs).unref();
main().catch((err) => {
  console.error(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
