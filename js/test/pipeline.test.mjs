// Pipelining: N prepared statements go out in one write, counted as frames
// at keel-proxy (--stats), and come back matched to their requests in
// order; one failing statement does not fail the others.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Schema, connect, init, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

const N = 10;
const queries = Array.from({ length: N }, (_, i) => ({
  version: 1,
  raw: { sql: "SELECT $1::int4 * 2 AS doubled", params: [{ value: i, type: "int4" }], columns: ["doubled"] },
}));
let proxy;
after(async () => {
  await proxy?.stop();
});

/** Frames the client sent on one connection that ran `work`. */
async function framesFor(pg, work) {
  const before = proxy.stats.length;
  const transport = await webSocketTransport(proxy.url, { WebSocket });
  const client = await connect(transport, new Schema({ tables: [] }), { user: pg.user, password: pg.password, database: "music" });
  const result = await work(client);
  await client.close();
  for (let i = 0; i < 200 && proxy.stats.length === before; i++) await new Promise((r) => setTimeout(r, 10));
  return { frames: proxy.stats[before].frames_from_client, result };
}

test("N cached statements take one write; results in order; failures stay local", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  proxy = await startProxy({ target: `${pg.host}:${pg.port}` });
  // The same connection life twice, once with one extra pipeline of N.
  const warm = (client) => client.pipeline(queries);
  const base = await framesFor(pg, warm);
  const withPipeline = await framesFor(pg, async (client) => {
    await warm(client);
    return client.pipeline(queries);
  });
  assert.equal(withPipeline.frames - base.frames, 1, `a pipeline of ${N} cached statements is one frame`);
  assert.deepStrictEqual(
    withPipeline.result.map((r) => r.value),
    queries.map((_, i) => [{ doubled: i * 2 }]),
  );

  // For contrast: the same statements one by one cost one frame each.
  const sequential = await framesFor(pg, async (client) => {
    await warm(client);
    for (const q of queries) await client.query(q);
  });
  assert.equal(sequential.frames - base.frames, N);

  const { result } = await framesFor(pg, (client) =>
    client.pipeline([queries[1], { version: 1, raw: { sql: "SELECT 1/0 AS boom", columns: ["boom"] } }, queries[3]]),
  );
  assert.deepStrictEqual(result.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(result[1].reason.code, "22012");
  assert.deepStrictEqual(result[2].value, [{ doubled: 6 }]);
});
