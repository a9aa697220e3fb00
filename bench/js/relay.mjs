// A TCP relay that adds a fixed one-way latency in each direction, standing in
// for the network between a client and a distant PostgreSQL.
//
// Every chunk is forwarded `delayMs` after it arrived, independently of the
// chunks before it: that is latency, not a bandwidth cap, so a client that
// sends ten small writes back to back pays the delay once, as it would on a
// real link. (keel-proxy's own --delay-ms sleeps before each frame in turn, so
// N frames cost N delays; using this relay for every contender keeps the
// injected latency identical for all of them.) Byte order is preserved: a
// direction's chunks leave in the order they arrived, since all share the
// same delay and are released by one queue.
import net from "node:net";

/** Forwards `from` to `to`, each chunk `delayMs` later than it arrived. */
function delayedPipe(from, to, delayMs) {
  const queue = [];
  let timer = null;
  let ended = false;
  const drain = () => {
    timer = null;
    // Timers and performance.now() can disagree by a fraction of a millisecond;
    // without the slack a chunk due now would wait for another whole timer tick.
    const now = performance.now() + 0.5;
    while (queue.length > 0 && queue[0].due <= now) to.write(queue.shift().chunk);
    if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0].due - now));
    else if (ended) to.end();
  };
  from.on("data", (chunk) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    timer ??= setTimeout(drain, delayMs);
  });
  from.on("end", () => {
    ended = true;
    timer ??= setTimeout(drain, 0);
  });
}

/**
 * Listens on 127.0.0.1 (a free port) and relays every connection to
 * `target` ({host, port}). Resolves to { host, port, close }.
 */
export async function startRelay(target, delayMs) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(target.port, target.host);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      // One side failing ends the session; the other side sees its socket close.
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    delayedPipe(client, upstream, delayMs);
    delayedPipe(upstream, client, delayMs);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    host: "127.0.0.1",
    port: server.address().port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
