// LISTEN/NOTIFY as events: a dedicated listener connection through
// keel-proxy receives NOTIFYs sent from another connection, in order, with
// channel names quoted; closing the listener ends the iteration.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Schema, connect, init, listen, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

let proxy;
after(async () => {
  await proxy?.stop();
});

test("notifications arrive as an async iterator on a listener", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  proxy = await startProxy({ target: `${pg.host}:${pg.port}` });
  const options = { user: pg.user, password: pg.password, database: "music" };
  const channel = `keel events ${process.pid}`; // a space: needs quoting
  const listener = await listen(await webSocketTransport(proxy.url, { WebSocket }), [channel], options);
  const sender = await connect(await webSocketTransport(proxy.url, { WebSocket }), new Schema({ tables: [] }), options);

  const received = [];
  const reading = (async () => {
    for await (const notification of listener) {
      received.push(notification);
      if (received.length === 3) break;
    }
  })();
  for (const payload of ["one", "two", "three"]) {
    await sender.query({
      version: 1,
      raw: { sql: "SELECT pg_notify($1, $2)::text AS sent", params: [{ value: channel, type: "text" }, { value: payload, type: "text" }], columns: ["sent"] },
    });
  }
  await reading;
  assert.deepStrictEqual(received.map((n) => [n.channel, n.payload]), [
    [channel, "one"],
    [channel, "two"],
    [channel, "three"],
  ]);
  assert.ok(received.every((n) => Number.isInteger(n.processId) && n.processId > 0));

  // Closing ends a pending iteration instead of leaving it hanging.
  const pending = (async () => {
    for await (const n of listener) void n;
    return "ended";
  })();
  await new Promise((resolve) => setTimeout(resolve, 50));
  await listener.close();
  assert.equal(await pending, "ended");
  await sender.close();
});
