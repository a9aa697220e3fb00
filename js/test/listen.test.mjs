// LISTEN/NOTIFY as events: a dedicated listener connection through
// keel-proxy receives NOTIFYs sent from another connection, in order, with
// channel names quoted; closing the listener ends the iteration. A listener
// opened with a transport factory reconnects after its backend is
// terminated and listens again on every channel.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Schema, connect, init, listen, tcpTransport, webSocketTransport } from "keel-orm";
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

const notify = (channel, payload) => ({
  version: 1,
  raw: { sql: "SELECT pg_notify($1, $2)::text AS sent", params: [{ value: channel, type: "text" }, { value: payload, type: "text" }], columns: ["sent"] },
});

for (const [name, factory] of [
  ["a WebSocket", (pg) => () => webSocketTransport(proxy.url, { WebSocket })],
  ["TCP", (pg) => () => tcpTransport({ host: pg.host, port: Number(pg.port) })],
]) {
  test(`over ${name}, a listener whose backend is terminated reconnects and listens again`, async (t) => {
    const pg = server(t);
    if (!pg) return;
    await init();
    proxy ??= await startProxy({ target: `${pg.host}:${pg.port}` });
    const applicationName = `keel-listener-${process.pid}-${name.replace(/\W/g, "")}`;
    const options = { user: pg.user, password: pg.password, database: "music" };
    const channels = [`keel a ${process.pid}`, `keel b ${process.pid}`];
    // The first two reconnection attempts fail: the listener backs off and tries again.
    let opened = 0;
    const open = factory(pg);
    const flaky = () => (++opened === 2 || opened === 3 ? Promise.reject(new Error("not yet")) : open());
    const listener = await listen(flaky, channels, { ...options, applicationName, reconnect: { initialDelayMs: 20 } });
    const sender = await connect(await tcpTransport({ host: pg.host, port: Number(pg.port) }), new Schema({ tables: [] }), options);
    const events = [];
    let reconnected;
    const reconnect = new Promise((resolve) => (reconnected = resolve));
    listener.addEventListener("disconnect", (event) => events.push(["disconnect", event.error?.name]));
    listener.addEventListener("reconnect", () => {
      events.push(["reconnect"]);
      reconnected();
    });

    const received = [];
    let wanted;
    let arrived;
    const reading = (async () => {
      for await (const notification of listener) {
        received.push([notification.channel, notification.payload]);
        if (received.length === wanted) arrived();
      }
      return "ended";
    })();
    const expect = (count) => new Promise((resolve) => ((wanted = count), (arrived = resolve)));
    try {
      let got = expect(1);
      await sender.query(notify(channels[0], "before"));
      await got;

      const pids = await sender.query({
        version: 1,
        raw: {
          sql: "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1",
          params: [{ value: applicationName, type: "text" }],
          columns: ["killed"],
        },
      });
      assert.deepStrictEqual(pids, [{ killed: true }]);
      await reconnect;
      const [{ n }] = await sender.query({
        version: 1,
        raw: {
          sql: "SELECT count(*)::int4 AS n FROM pg_stat_activity WHERE application_name = $1",
          params: [{ value: applicationName, type: "text" }],
          columns: ["n"],
        },
      });
      assert.equal(n, 1, "one new backend listens");
      assert.equal(opened, 4, "two failed attempts, then the one that worked");

      got = expect(3);
      await sender.query(notify(channels[0], "after"));
      await sender.query(notify(channels[1], "on the other channel"));
      await got;
      assert.deepStrictEqual(received, [
        [channels[0], "before"],
        [channels[0], "after"],
        [channels[1], "on the other channel"],
      ]);
      t.diagnostic(`disconnect reported as ${events[0]?.[1]}`);
      assert.equal(events.length, 2);
      assert.equal(events[0][0], "disconnect");
      assert.match(events[0][1], /^Keel(Server|Closed|Transport)Error$/);
      assert.deepStrictEqual(events[1], ["reconnect"]);
    } finally {
      await listener.close();
      await sender.close();
    }
    assert.equal(await reading, "ended");
  });
}

test("a listener opened on a transport object ends its iteration with the error instead", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  const applicationName = `keel-listener-${process.pid}-once`;
  const options = { user: pg.user, password: pg.password, database: "music" };
  const listener = await listen(await tcpTransport({ host: pg.host, port: Number(pg.port) }), ["keel once"], { ...options, applicationName });
  const sender = await connect(await tcpTransport({ host: pg.host, port: Number(pg.port) }), new Schema({ tables: [] }), options);
  try {
    // Handled from the start: the loss may be noticed before the terminating query returns.
    const reading = (async () => {
      for await (const n of listener) void n;
    })().then(
      () => assert.fail("the iteration ended without an error"),
      (error) => error,
    );
    await sender.query({
      version: 1,
      raw: {
        sql: "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1",
        params: [{ value: applicationName, type: "text" }],
        columns: ["killed"],
      },
    });
    const error = await reading;
    assert.ok(["server", "closed", "transport"].includes(error.kind), `the iteration ends with the connection's error: ${error}`);
  } finally {
    await listener.close();
    await sender.close();
  }
});
