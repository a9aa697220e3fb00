// keel inside workerd, the real Cloudflare Workers runtime (driven by
// miniflare): the wasm is imported as a module, and the same JSON definition
// runs over cloudflare:sockets straight to PostgreSQL (plain, and with TLS
// through startTls) and over a WebSocket through keel-proxy, giving the
// native driver's SQL and rows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { root, run, selfSignedCertificate, server, startProxy, startTcpRelay, startWorker } from "./support.mjs";

const music = path.join(root, "examples", "music");
const workerScript = path.join(root, "tests", "workerd", "worker.mjs");
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
    scriptPath: workerScript,
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

async function get(pathname, worker = mf) {
  const response = await worker.dispatchFetch(`http://worker${pathname}`);
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

test("in workerd over cloudflare:sockets with TLS: same SQL and rows; a refused, untrusted or misnamed server fails clearly", async (t) => {
  const pg = server(t);
  if (!pg) return;
  const certificate = await selfSignedCertificate();
  if (certificate === null) {
    t.diagnostic("openssl is not installed: skipped the TLS cases");
    return;
  }
  // Answers the SSLRequest with S and terminates TLS itself, with a
  // self-signed certificate for DNS:localhost only.
  const relay = await startTcpRelay({ target: `${pg.host}:${pg.port}`, tls: certificate });
  const trusting = await startWorker({
    scriptPath: workerScript,
    modulesRoot: root,
    bindings: { PG_USER: pg.user, PG_PASSWORD: pg.password, SCHEMA: await readFile(schemaPath, "utf8"), QUERY: await readFile(queryPath, "utf8") },
    trustedCertificates: [certificate.cert],
  });
  const tls = (params, worker = trusting) => get(`/query?transport=tls&${new URLSearchParams(params)}`, worker);
  const failsWith = async (params, pattern, worker) => {
    const { status, body } = await tls(params, worker);
    assert.equal(status, 500, JSON.stringify(body));
    assert.equal(body.error.name, "KeelTransportError", JSON.stringify(body));
    assert.match(body.error.message, pattern);
  };
  try {
    const port = String(relay.port);
    for (const params of [{ hostname: "localhost", port }, { hostname: "127.0.0.1", port, name: "localhost" }]) {
      const { status, body } = await tls(params);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.sql, native.sql);
      assert.deepStrictEqual(body.params, native.params);
      assert.deepStrictEqual(body.rows, native.rows);
    }
    const relayed = relay.connections;
    assert.ok(relayed >= 2, "both queries went through the TLS relay");

    // The certificate does not name 127.0.0.1.
    await failsWith({ hostname: "127.0.0.1", port }, /TLS handshake failed/);
    // A worker without the test CA does not trust the certificate.
    await failsWith({ hostname: "localhost", port }, /TLS handshake failed/, mf);
    // A socket opened without secureTransport "starttls" cannot be upgraded.
    await failsWith({ hostname: "localhost", port, plain: "1" }, /secureTransport: "starttls"/);
    // The test server itself speaks no TLS: it answers the SSLRequest with N.
    await failsWith({ hostname: pg.host, port: String(pg.port) }, /does not accept TLS/);
    assert.equal(relay.connections, relayed + 3);
  } finally {
    await trusting.dispose();
    await relay.stop();
  }
});
