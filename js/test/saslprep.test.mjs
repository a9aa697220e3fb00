// SCRAM with non-ASCII passwords through keel-proxy to the test PostgreSQL.
// The server SASLpreps a password when it stores the verifier (or keeps it
// raw when SASLprep fails); the wasm module has no Unicode tables of its own
// and normalises with the JS engine's String.prototype.normalize, so these
// logins only succeed if that path prepares exactly as the server does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Schema, connect, init, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

// NBSP maps to a space and a composed é equals e + U+0301 under NFKC.
const STORED = "pa\u00a0ss caf\u00e9";
const SAME_AFTER_SASLPREP = "pa ss cafe\u0301";
// U+0007 is prohibited output: SASLprep fails and the raw bytes count.
const STORED_RAW = "bell\u0007 cafe\u0301";
const RAW_RECOMPOSED = "bell\u0007 caf\u00e9";

const schema = () => new Schema({ tables: [] });
const raw = (sql, columns = []) => ({ version: 1, raw: { sql, columns } });
const literal = (s) => `'${s.replaceAll("'", "''")}'`;

let proxy;
before(async () => {
  await init();
});
after(async () => {
  await proxy?.stop();
});

async function login(pg, user, password) {
  proxy ??= await startProxy({ target: `${pg.host}:${pg.port}` });
  const transport = await webSocketTransport(proxy.url, { WebSocket });
  return connect(transport, schema(), { user, password, database: "music" });
}

async function withRole(pg, password, body) {
  const role = `keel_saslprep_js_${process.pid}_${Date.now()}`;
  const admin = await login(pg, pg.user, pg.password);
  try {
    await admin.query(raw(`CREATE ROLE ${role} LOGIN PASSWORD ${literal(password)}`));
    await body(role);
  } finally {
    await admin.query(raw(`DROP ROLE IF EXISTS ${role}`));
    await admin.close();
  }
}

async function currentUser(pg, role, password) {
  const client = await login(pg, role, password);
  try {
    const [row] = await client.query(raw("SELECT current_user AS u", ["u"]));
    return row.u;
  } finally {
    await client.close();
  }
}

const rejected = (error) => error.name === "KeelAuthError" && /28P01|password authentication failed/.test(error.message);

test("a non-ASCII password logs in under every spelling SASLprep maps to it", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await withRole(pg, STORED, async (role) => {
    assert.equal(await currentUser(pg, role, STORED), role);
    assert.equal(await currentUser(pg, role, SAME_AFTER_SASLPREP), role);
    await assert.rejects(currentUser(pg, role, "pa ss cafe"), rejected);
  });
});

test("a password SASLprep refuses is used raw, as libpq and the server do", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await withRole(pg, STORED_RAW, async (role) => {
    assert.equal(await currentUser(pg, role, STORED_RAW), role);
    await assert.rejects(currentUser(pg, role, RAW_RECOMPOSED), rejected);
  });
});
