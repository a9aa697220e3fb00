// Streaming as an async iterator: 100,000 rows of about 1 KB each (100 MB
// in all) through a portal, on PGlite and on PostgreSQL through keel-proxy,
// with memory bounded by one batch; leaving the loop early closes the
// portal and the connection goes on working.
import { test, after } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import WebSocket from "ws";
import { Schema, connect, init, pgliteTransport, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

// Measure live memory, not garbage awaiting collection.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

const ROWS = 100_000;
const big = {
  version: 1,
  raw: { sql: `SELECT g AS n, repeat('x', 1000) AS pad FROM generate_series(1, ${ROWS}) AS g ORDER BY g`, columns: ["n", "pad"] },
};
let proxy;
let pglite;
after(async () => {
  await proxy?.stop();
  await pglite?.close();
});

async function clients(t) {
  await init();
  pglite = new PGlite();
  const out = [["PGlite", await connect(pgliteTransport(pglite), new Schema({ tables: [] }), { user: "postgres" })]];
  const pg = server(t);
  if (pg) {
    proxy ??= await startProxy({ target: `${pg.host}:${pg.port}` });
    const transport = await webSocketTransport(proxy.url, { WebSocket });
    out.push(["PostgreSQL via proxy", await connect(transport, new Schema({ tables: [] }), { user: pg.user, password: pg.password, database: "music" })]);
  }
  return out;
}

test("100,000 rows stream in order with bounded memory", async (t) => {
  for (const [name, client] of await clients(t)) {
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peak = 0;
    let count = 0;
    let expected = 1;
    for await (const row of client.stream(big, { batchSize: 500 })) {
      assert.equal(row.n, expected++);
      count += 1;
      if (count % 10_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
      }
    }
    assert.equal(count, ROWS, name);
    const mib = peak / (1 << 20);
    t.diagnostic(`${name}: peak live JS heap growth while streaming ${ROWS} rows (~100 MB): ${mib.toFixed(1)} MiB`);
    // Holding every row would take over 100 MB; a batch of 500 rows is ~0.5 MB.
    // PGlite itself keeps about 1 KB per row read through execProtocolRaw:
    // replaying keel's exact messages into a fresh PGlite, replies dropped,
    // grows the live heap by the same ~110 MiB. So the bound is asserted
    // where keel alone holds the rows: over the WebSocket.
    if (name !== "PGlite") assert.ok(mib < 16, `${name}: heap grew ${mib.toFixed(1)} MiB`);
    await client.close();
  }
});

test("leaving the loop early closes the portal; the connection stays usable", async (t) => {
  for (const [name, client] of await clients(t)) {
    let seen = 0;
    for await (const row of client.stream(big, { batchSize: 100 })) {
      seen = row.n;
      if (seen === 250) break;
    }
    assert.equal(seen, 250, name);
    const after = await client.query({ version: 1, raw: { sql: "SELECT 7 AS seven", columns: ["seven"] } });
    assert.deepStrictEqual(after, [{ seven: 7 }], name);
    await assert.rejects(
      (async () => {
        for await (const row of client.stream(big, { batchSize: 0 })) void row;
      })(),
      /batchSize must be a positive integer/,
    );
    await client.close();
  }
});
