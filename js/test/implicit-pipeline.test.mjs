// Implicit pipelining: queries issued on one client in the same tick go out
// together (frames counted at keel-proxy with --stats) and settle one by one:
// errors stay with their own query, issue order is kept, transactions batch
// their own queries, a queued query that is aborted is never sent, and
// explicit client.pipeline() calls interleave in order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import WebSocket from "ws";
import { Schema, connect, eq, init, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

const N = 10;
const doubled = (i) => ({
  version: 1,
  raw: { sql: "SELECT $1::int4 * 2 AS doubled", params: [{ value: i, type: "int4" }], columns: ["doubled"] },
});
const raw = (sql, columns) => ({ version: 1, raw: { sql, ...(columns ? { columns } : {}) } });
const boom = raw("SELECT 1/0 AS boom", ["boom"]);
let proxy;
let schema;

before(async () => {
  await init();
  const definition = JSON.parse(await readFile(new URL("../../examples/music/schema.json", import.meta.url), "utf8"));
  definition.tables.find((t) => t.name === "track").foreign_keys = [
    { columns: ["album_id"], references: "album", relation: "album", inverse: "tracks" },
  ];
  schema = new Schema(definition);
});

after(async () => {
  await proxy?.stop();
});

async function open(pg) {
  proxy ??= await startProxy({ target: `${pg.host}:${pg.port}` });
  const transport = () => webSocketTransport(proxy.url, { WebSocket });
  return connect(await transport(), schema, { user: pg.user, password: pg.password, database: "music", cancel: transport });
}

/** Frames the client sent on one connection that ran `work`. */
async function framesFor(pg, work) {
  const client = await open(pg);
  const before = proxy.stats.length;
  const result = await work(client);
  await client.close();
  for (let i = 0; i < 200 && proxy.stats.length === before; i++) await new Promise((r) => setTimeout(r, 10));
  return { frames: proxy.stats[before].frames_from_client, result };
}

const inOneTick = (client) => Promise.all(Array.from({ length: N }, (_, i) => client.query(doubled(i))));

test("N queries in one tick: one frame once the statement is known", async (t) => {
  const pg = server(t);
  if (!pg) return;
  // The same connection life with and without one extra tick of N queries.
  const base = await framesFor(pg, inOneTick);
  const withTick = await framesFor(pg, async (client) => {
    await inOneTick(client);
    return inOneTick(client);
  });
  assert.equal(withTick.frames - base.frames, 1, `${N} known statements issued in one tick are one frame`);
  assert.deepStrictEqual(withTick.result, Array.from({ length: N }, (_, i) => [{ doubled: i * 2 }]));

  // Describe-first: a statement never seen on the connection is described
  // before it is bound, so a first tick costs one more frame (and round trip)
  // than a warm one: the Parse/Describe, then everything else.
  const first = await framesFor(pg, async () => undefined);
  const cold = await framesFor(pg, inOneTick);
  t.diagnostic(`first tick of ${N} queries sharing one new statement: ${cold.frames - first.frames} frames`);
  assert.equal(cold.frames - first.frames, 2);
  // N different new statements: the engine describes them all at once, each
  // in a unit of its own, and binds each as its description comes back, so
  // the executions go out in as many frames as the server's answers arrive
  // in (one round trip; the exact frame sequence is pinned by the engine's
  // transcript tests). From then on the same tick is one frame.
  const distinct = (i) => raw(`SELECT ${i}::int4 AS v`, ["v"]);
  const distinctTick = (client) => Promise.all(Array.from({ length: N }, (_, i) => client.query(distinct(i))));
  const coldDistinct = await framesFor(pg, distinctTick);
  t.diagnostic(`first tick of ${N} distinct new statements: ${coldDistinct.frames - first.frames} frames`);
  assert.ok(coldDistinct.frames - first.frames <= N + 1);
  // Warm, measured against a deterministic prefix: each statement run alone
  // first (its describe, then its execution: two frames each).
  const oneByOne = async (client) => {
    for (let i = 0; i < N; i++) await client.query(distinct(i));
  };
  const primed = await framesFor(pg, oneByOne);
  assert.equal(primed.frames - first.frames, 2 * N);
  const warmDistinct = await framesFor(pg, async (client) => {
    await oneByOne(client);
    return distinctTick(client);
  });
  assert.equal(warmDistinct.frames - primed.frames, 1);
  assert.deepStrictEqual(warmDistinct.result, Array.from({ length: N }, (_, i) => [{ v: i }]));

  // Awaiting each query in turn is one frame per query.
  const sequential = await framesFor(pg, async (client) => {
    await inOneTick(client);
    for (let i = 0; i < N; i++) await client.query(doubled(i));
  });
  assert.equal(sequential.frames - base.frames, N);
});

test("an error rejects only its own query, with its own typed error", async (t) => {
  const pg = server(t);
  if (!pg) return;
  const client = await open(pg);
  try {
    const results = await Promise.allSettled([
      client.query(doubled(1)),
      client.query(boom),
      client.queryDetailed(doubled(3)),
      client.query({ version: 1, select: { from: "track", columns: ["nope"] } }),
      client.from("track").columns("track_id", "album_id").where(eq("track_id", 7)).with("album", (a) => a.columns("album_id", "title")).all(),
      client.from("track").columns("track_id").where(eq("track_id", 2)).first(),
      client.query(raw("SELECT 'after' AS later", ["later"])),
    ]);
    assert.deepStrictEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);

    // A parameter that cannot be encoded is refused before any I/O, alone.
    const unencodable = { version: 1, raw: { sql: "SELECT $1::int4 AS x", params: [{ value: "abc", type: "int4" }], columns: ["x"] } };
    const mixed = await Promise.allSettled([client.query(doubled(4)), client.query(unencodable), client.query(doubled(5))]);
    assert.deepStrictEqual(mixed.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    t.diagnostic(`an unencodable parameter: ${mixed[1].reason.name}: ${mixed[1].reason.message}`);
    assert.deepStrictEqual([mixed[0].value, mixed[2].value], [[{ doubled: 8 }], [{ doubled: 10 }]]);
    assert.deepStrictEqual(results[0].value, [{ doubled: 2 }]);
    assert.equal(results[1].reason.name, "KeelServerError");
    assert.equal(results[1].reason.code, "22012");
    assert.equal(results[2].value.sql, "SELECT $1::int4 * 2 AS doubled");
    assert.deepStrictEqual(results[2].value.rows, [{ doubled: 6 }]);
    assert.equal(results[3].reason.name, "KeelCompileError");
    assert.match(results[3].reason.message, /nope/);
    assert.deepStrictEqual(results[4].value, [{ track_id: 7, album_id: 3, album: { album_id: 3, title: "Analytical Engine" } }]);
    assert.deepStrictEqual(results[5].value, { track_id: 2 });
    assert.deepStrictEqual(results[6].value, [{ later: "after" }]);
  } finally {
    await client.close();
  }
});

test("issue order is send order, mixed with explicit pipelines and transactions", async (t) => {
  const pg = server(t);
  if (!pg) return;
  const client = await open(pg);
  try {
    await client.query(raw("CREATE TEMP SEQUENCE keel_order"));
    const next = raw("SELECT nextval('keel_order')::int4 AS n", ["n"]);
    const [a, b, piped, tx, c, d] = await Promise.all([
      client.query(next),
      client.query(next),
      client.pipeline([next, next]),
      client.transaction(async (tx) => Promise.all([tx.query(next), tx.query(next)])),
      client.query(next),
      client.queryDetailed(next),
    ]);
    const seen = [a, b, ...piped.map((r) => r.value), ...tx, c, d.rows].map((rows) => rows[0].n);
    assert.deepStrictEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
  } finally {
    await client.close();
  }
});

test("inside a transaction: one batch, and a failure aborts the statements after it", async (t) => {
  const pg = server(t);
  if (!pg) return;
  const client = await open(pg);
  try {
    await client.query(raw("CREATE TEMP TABLE keel_tx_batch (id int4 PRIMARY KEY)"));
    const insert = (id) => ({ version: 1, raw: { sql: "INSERT INTO keel_tx_batch VALUES ($1)", params: [{ value: id, type: "int4" }] } });
    const settled = await client
      .transaction(async (tx) => {
        const results = await Promise.allSettled([tx.query(insert(1)), tx.query(boom), tx.query(insert(2))]);
        throw Object.assign(new Error("roll back"), { results });
      })
      .catch((error) => error.results);
    assert.deepStrictEqual(settled.map((r) => r.status), ["fulfilled", "rejected", "rejected"]);
    assert.equal(settled[1].reason.code, "22012");
    // PostgreSQL refuses everything after the failure until the rollback.
    assert.equal(settled[2].reason.code, "25P02");

    const committed = await client.transaction((tx) => Promise.all([tx.query(insert(3)), tx.query(insert(4))]));
    assert.equal(committed.length, 2);
    const rows = await client.query(raw("SELECT id FROM keel_tx_batch ORDER BY id", ["id"]));
    assert.deepStrictEqual(rows, [{ id: 3 }, { id: 4 }]);
  } finally {
    await client.close();
  }

  // A warm transaction's statements issued in one tick are one frame.
  const body = (tx) => Promise.all(Array.from({ length: N }, (_, i) => tx.query(doubled(i))));
  const base = await framesFor(pg, (c) => c.transaction(body));
  const twice = await framesFor(pg, async (c) => {
    await c.transaction(body);
    return c.transaction(body);
  });
  // BEGIN, the batch, COMMIT.
  assert.equal(twice.frames - base.frames, 3);
});

test("an aborted queued query is dropped from its batch and never sent", async (t) => {
  const pg = server(t);
  if (!pg) return;
  const client = await open(pg);
  try {
    await client.query(raw("CREATE TEMP TABLE keel_abort_batch (id int4)"));
    const insert = (id) => ({ version: 1, raw: { sql: "INSERT INTO keel_abort_batch VALUES ($1)", params: [{ value: id, type: "int4" }] } });
    const controller = new AbortController();
    const pending = [client.query(insert(1)), client.query(insert(2), { signal: controller.signal }), client.query(insert(3))];
    controller.abort(new Error("changed my mind"));
    const results = await Promise.allSettled(pending);
    assert.deepStrictEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.match(results[1].reason.message, /changed my mind/);

    // Also when the batch waits behind a transaction.
    const later = new AbortController();
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    let entered;
    const inside = new Promise((resolve) => (entered = resolve));
    const tx = client.transaction(async (t) => {
      entered();
      await gate;
      await t.query(insert(4));
    });
    await inside;
    const queued = Promise.allSettled([client.query(insert(5), { signal: later.signal }), client.query(insert(6))]);
    later.abort();
    release();
    await tx;
    const queuedResults = await queued;
    assert.deepStrictEqual(queuedResults.map((r) => r.status), ["rejected", "fulfilled"]);
    assert.equal(queuedResults[0].reason.name, "AbortError");

    const rows = await client.query(raw("SELECT id FROM keel_abort_batch ORDER BY id", ["id"]));
    assert.deepStrictEqual(rows.map((r) => r.id), [1, 3, 4, 6]);
  } finally {
    await client.close();
  }
});

test("aborting a sent query rejects it at once without cancelling the neighbour the server is running", async (t) => {
  const pg = server(t);
  if (!pg) return;
  const client = await open(pg);
  try {
    const controller = new AbortController();
    const neighbour = client.query(raw("SELECT pg_sleep(0.5)::text AS slept", ["slept"]));
    const aborted = client.query(raw("SELECT 1 AS one", ["one"]), { signal: controller.signal });
    const rejected = aborted.then(() => "resolved", () => performance.now());
    await new Promise((resolve) => setTimeout(resolve, 150));
    const abortedAt = performance.now();
    controller.abort();
    const rejectedAt = await rejected;
    assert.notEqual(rejectedAt, "resolved");
    assert.ok(rejectedAt - abortedAt < 50, `rejected ${(rejectedAt - abortedAt).toFixed(0)} ms after the abort`);
    // A CancelRequest now would have stopped the neighbour's sleep (57014).
    assert.deepStrictEqual(await neighbour, [{ slept: "" }]);

    // Alone in flight, an aborted query is cancelled on the server as before.
    const alone = new AbortController();
    const sleeping = client.query(raw("SELECT pg_sleep(20)"), { signal: alone.signal });
    setTimeout(() => alone.abort(), 100);
    await assert.rejects(sleeping, (error) => error.name === "AbortError");
    const next = performance.now();
    assert.deepStrictEqual(await client.query(raw("SELECT 2 AS two", ["two"])), [{ two: 2 }]);
    assert.ok(performance.now() - next < 2000, "the sleep was cancelled on the server");
  } finally {
    await client.close();
  }
});
