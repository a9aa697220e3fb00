// AbortSignal cancellation through keel-proxy on the test PostgreSQL: an
// aborted query rejects at once with the signal's reason, is cancelled on
// the server through a second connection, and the client stays usable; a
// query aborted before its turn never reaches the server.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Schema, connect, init, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

const raw = (sql, columns) => ({ version: 1, raw: { sql, ...(columns ? { columns } : {}) } });
let proxy;
after(async () => {
  await proxy?.stop();
});

test("AbortSignal cancels a running query and leaves the connection usable", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  proxy = await startProxy({ target: `${pg.host}:${pg.port}` });
  const open = () => webSocketTransport(proxy.url, { WebSocket });
  const client = await connect(await open(), new Schema({ tables: [] }), {
    user: pg.user,
    password: pg.password,
    database: "music",
    cancel: open,
  });
  try {
    const controller = new AbortController();
    const started = performance.now();
    const sleeping = client.query(raw("SELECT pg_sleep(20)"), { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(sleeping, (error) => error.name === "AbortError");
    assert.ok(performance.now() - started < 2000, "the abort rejected promptly");

    // The server cancelled the statement (57014), so the next query runs at
    // once instead of waiting out the 20-second sleep.
    const next = performance.now();
    assert.deepStrictEqual(await client.query(raw("SELECT 42 AS answer", ["answer"])), [{ answer: 42 }]);
    assert.ok(performance.now() - next < 2000, "the sleep was cancelled on the server");

    // Aborted before it starts: rejected without running.
    const already = new AbortController();
    already.abort(new Error("not needed any more"));
    await assert.rejects(client.query(raw("SELECT 1"), { signal: already.signal }), /not needed any more/);
  } finally {
    await client.close();
  }
});
