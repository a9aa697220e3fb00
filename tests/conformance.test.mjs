// Cross-runtime conformance: one JSON query definition through the native
// driver, the wasm driver on PGlite, and the wasm driver over a WebSocket
// through keel-proxy to the same PostgreSQL. SQL and rows must be identical.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import WebSocket from "ws";
import { Schema, connect, init, pgliteTransport, webSocketTransport } from "keel-orm";
import { root, run, server, startProxy } from "./support.mjs";

const music = path.join(root, "examples", "music");
const schemaPath = path.join(music, "schema.json");
const queryPath = path.join(music, "queries", "tracks_of_album.json");
const exact = { int8: "string", timestamptz: "string" };

let schema;
let query;
let proxy;

before(async () => {
  await init();
  schema = new Schema(await readFile(schemaPath, "utf8"));
  query = await readFile(queryPath, "utf8");
});

after(async () => {
  await proxy?.stop();
});

async function viaPglite() {
  const pg = new PGlite();
  await pg.exec(await readFile(path.join(music, "seed.sql"), "utf8"));
  const client = await connect(pgliteTransport(pg), schema, { user: "postgres", database: "postgres", ...exact });
  try {
    return await client.queryDetailed(query);
  } finally {
    await client.close();
    await pg.close();
  }
}

async function viaWebSocket(pgServer, password = pgServer.password) {
  proxy ??= await startProxy({ target: `${pgServer.host}:${pgServer.port}` });
  const transport = await webSocketTransport(proxy.url, { WebSocket });
  const client = await connect(transport, schema, { user: pgServer.user, password, database: "music", ...exact });
  try {
    return await client.queryDetailed(query);
  } finally {
    await client.close();
  }
}

test("one definition: native, wasm on PGlite and wasm over WebSocket agree", async (t) => {
  const pgServer = server(t);
  if (!pgServer) return;
  const native = JSON.parse(
    await run("keel", ["query", "--detailed", "--schema", schemaPath, `${pgServer.url}/music`, queryPath]),
  );
  const pglite = await viaPglite();
  const websocket = await viaWebSocket(pgServer);

  assert.equal(native.rows.length, 5, "album 1 has five tracks in the fixture");
  const columns = JSON.parse(query).select.columns;
  for (const [name, other] of [
    ["wasm on PGlite", pglite],
    ["wasm over WebSocket", websocket],
  ]) {
    assert.equal(other.sql, native.sql, `${name}: SQL differs`);
    assert.deepStrictEqual(other.params, native.params, `${name}: parameters differ`);
    assert.deepStrictEqual(other.rows, native.rows, `${name}: rows differ`);
    assert.deepStrictEqual(Object.keys(other.rows[0]), columns, `${name}: column order differs`);
  }
  assert.deepStrictEqual(Object.keys(native.rows[0]), columns, "native: column order differs");
  // Spot-check values that are easy to get subtly wrong.
  const bilge = native.rows.find((r) => r.track_id === 3);
  assert.equal(bilge.milliseconds, "9007199254740993", "int8 above 2^53 stays exact");
  assert.equal(bilge.released_at, "1999-12-31T23:59:59.999999Z", "microseconds survive");
  assert.equal(bilge.bytes, null);
  assert.equal(native.rows.find((r) => r.track_id === 4).unit_price, "12345678.90", "numeric is exact");
});

test("SCRAM-SHA-256 login from wasm over the proxy; a wrong password fails fast and clearly", async (t) => {
  const pgServer = server(t);
  if (!pgServer) return;
  const good = await viaWebSocket(pgServer);
  assert.equal(good.rows.length, 5);

  const started = performance.now();
  await assert.rejects(viaWebSocket(pgServer, "not-the-password"), (error) => {
    assert.equal(error.name, "KeelAuthError");
    assert.equal(error.kind, "auth");
    assert.equal(error.code, "28P01");
    assert.match(error.message, /password authentication failed for user "postgres"/);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1000, `authentication error took ${elapsed.toFixed(0)} ms`);
});
