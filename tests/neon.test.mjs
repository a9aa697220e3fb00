// A client nobody here wrote, Neon's @neondatabase/serverless, runs queries
// against the test PostgreSQL through keel-proxy, using Neon's own wsproxy
// framing (the target in ?address=). The proxy refuses targets outside its
// allow-list, so it is never an open relay.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Client, neonConfig } from "@neondatabase/serverless";
import { server, startProxy } from "./support.mjs";

let proxy;
after(async () => {
  await proxy?.stop();
});

function neonClient(proxyPort, connectionString) {
  const client = new Client(connectionString);
  client.neonConfig.webSocketConstructor = WebSocket;
  client.neonConfig.wsProxy = (host, port) => `127.0.0.1:${proxyPort}/v2?address=${host}:${port}`;
  client.neonConfig.useSecureWebSocket = false;
  // The test server only accepts SCRAM, so the login cannot be pipelined.
  client.neonConfig.pipelineConnect = false;
  client.neonConfig.forceDisablePgSSL = true;
  return client;
}

test("@neondatabase/serverless queries PostgreSQL through keel-proxy", async (t) => {
  const pg = server(t);
  if (!pg) return;
  proxy = await startProxy({ args: ["--allow", `${pg.host}:${pg.port}`] });
  const client = neonClient(proxy.port, `${pg.url}/music`);
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT track_id, name, unit_price::text AS price FROM track WHERE album_id = $1 ORDER BY track_id",
      [1],
    );
    assert.deepStrictEqual(
      rows.map((r) => [r.track_id, r.name, r.price]),
      [
        [1, "Cast Off", "0.99"],
        [2, "Low Tide", "0.99"],
        [3, "Bilge Pump Blues", "1.29"],
        [4, "Keel Over", "12345678.90"],
        [5, `Anchor's "Aweigh"`, "0.00"],
      ],
    );
  } finally {
    await client.end();
  }
});

test("keel-proxy refuses a target outside its allow-list", async (t) => {
  const pg = server(t);
  if (!pg) return;
  proxy ??= await startProxy({ args: ["--allow", `${pg.host}:${pg.port}`] });
  // The same server under another name: reachable, so only the allow-list
  // stands between the client and it.
  const client = neonClient(proxy.port, `postgres://${pg.user}:${pg.password}@localhost:${pg.port}/music`);
  client.on("error", () => {}); // the refusal is asserted below, not left unhandled
  // ws reports the refused upgrade as an ErrorEvent, not an Error.
  await assert.rejects(client.connect(), (event) => {
    assert.match(event.message, /Unexpected server response: 403/);
    return true;
  });
  assert.ok(
    proxy.stats.every((s) => s.target === `${pg.host}:${pg.port}`),
    "no connection to a refused target was ever relayed",
  );
});
