// keel inside workerd, the real Cloudflare Workers runtime (driven by
// miniflare): the wasm is imported as a module, and the same JSON definition
// runs over cloudflare:sockets straight to PostgreSQL and over a WebSocket
// through keel-proxy, giving the native driver's SQL and rows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { root, run, server, startProxy, startWorker } from "./support.mjs";

const music = path.join(root, "examples", "music");
const schemaPath = path.join(music, "schema.json");
const queryPath = path.join(music, "queries", "tracks_of_album.json");

let mf;
let proxy;
let native;

before(async () => {
  const pg = server({ skip() {} });
  if (!pg) return;
  proxy = await startProxy({ target: `${pg.host}:${pg.port}` });
  native = JSON.parse(
    await run("keel", ["query", "--detailed", "--schema", schemaPath, `${pg.url}/music`, queryPath]),
  );
  mf = await startWorker({
    scriptPath: path.join(root, "tests", "workerd", "worker.mjs"),
    modulesRoot: root,
    bindings: {
      PG_HOST: pg.host,
      PG_PORT: String(pg.port),
      PG_USER: pg.user,
      PG_PASSWORD: pg.password,
      PROXY_URL: proxy.url,
      SCHEMA: await readFile(schemaPath, "utf8"),
      QUERY: await readFile(queryPath, "utf8"),
    },
  });
});

after(async () => {
  await mf?.dispose();
  await proxy?.stop();
});

async function get(pathname) {
  const response = await mf.dispatchFetch(`http://worker${pathname}`);
  return { status: response.status, body: await response.json() };
}

for (const transport of ["socket", "websocket"]) {
  test(`in workerd over ${transport === "socket" ? "cloudflare:sockets" : "a WebSocket to keel-proxy"}: same SQL and rows as native`, async (t) => {
    if (!server(t)) return;
    const { status, body } = await get(`/query?transport=${transport}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.sql, native.sql);
    assert.deepStrictEqual(body.params, native.params);
    assert.deepStrictEqual(body.rows, native.rows);
    assert.equal(body.rows.length, 5);
  });
}

test("in workerd an invalid definition is a typed error naming model and column", async (t) => {
  if (!server(t)) return;
  const { status, body } = await get("/invalid");
  assert.equal(status, 500);
  assert.equal(body.error.name, "KeelCompileError");
  assert.equal(body.error.message, 'track: unknown column "nope"');
});

test("in workerd a client kept from another request fails clearly and promptly", async (t) => {
  if (!server(t)) return;
  assert.deepStrictEqual((await get("/keep")).body, { kept: true });
  const started = performance.now();
  const { status, body } = await get("/reuse");
  const elapsed = performance.now() - started;
  assert.equal(status, 500);
  assert.equal(body.error.kind, "transport");
  assert.match(body.error.message, /different request|I\/O/i);
  assert.ok(elapsed < 2000, `reuse took ${elapsed.toFixed(0)} ms`);
});
