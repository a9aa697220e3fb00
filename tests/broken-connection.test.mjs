// A WebSocket that drops in the middle of a query or a transaction: every
// pending request gets a clear error promptly, and the server shows the
// interrupted transaction was not committed.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Schema, connect, init, insertInto, webSocketTransport } from "keel-orm";
import { server, startProxy } from "./support.mjs";

const table = `keel_broken_${process.pid}_${Date.now()}`;
const raw = (sql, columns) => ({ version: 1, raw: { sql, ...(columns ? { columns } : {}) } });

async function open(pg, proxyUrl) {
  const schema = new Schema({
    tables: [{ name: table, primary_key: ["id"], columns: [{ name: "id", type: "int4" }] }],
  });
  const transport = await webSocketTransport(proxyUrl, { WebSocket });
  return connect(transport, schema, { user: pg.user, password: pg.password, database: "music" });
}

/** Polls pg_stat_activity (bounded) until the sleeping backend is active, or gone. */
async function waitFor(observer, state, what) {
  const sql = `SELECT count(*)::int4 AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)' AND state = 'active'`;
  for (let i = 0; i < 250; i++) {
    const [{ n }] = await observer.query(raw(sql, ["n"]));
    if ((state === "active") === (n > 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const isConnectionError = (error) => ["closed", "transport"].includes(error.kind);

test("the socket drops mid-query and mid-transaction: prompt errors, nothing committed", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  const target = `${pg.host}:${pg.port}`;
  const healthy = await startProxy({ target });
  const setup = await open(pg, healthy.url);
  await setup.query(raw(`CREATE TABLE ${table} (id int4 PRIMARY KEY)`));

  const doomed = await startProxy({ target });
  const client = await open(pg, doomed.url);
  try {
    let inserted;
    const transaction = client.transaction(async (tx) => {
      await tx.query(insertInto(table, [{ id: 1 }]));
      inserted();
      // Still running on the server when the socket goes away.
      await tx.query(raw("SELECT pg_sleep(2)"));
    });
    await new Promise((resolve) => (inserted = resolve));
    await waitFor(setup, "active", "the sleep to start on the server");
    // Queued behind the transaction on the same client.
    const queued = client.query(raw("SELECT 1 AS one", ["one"]));
    const outcomes = [transaction, queued].map((p) => p.then(() => null, (error) => error));

    const dropped = performance.now();
    await doomed.kill();
    const [txError, queuedError] = await Promise.all(outcomes);
    assert.ok(txError && isConnectionError(txError), `the interrupted transaction fails: ${txError}`);
    assert.ok(queuedError && isConnectionError(queuedError), `the request queued behind it fails: ${queuedError}`);
    const elapsed = performance.now() - dropped;
    assert.ok(elapsed < 2000, `errors arrived after ${elapsed.toFixed(0)} ms`);
    await assert.rejects(client.query(raw("SELECT 1 AS one", ["one"])), isConnectionError, "later requests fail at once");

    // The server rolls the transaction back once it finds its client gone.
    await waitFor(setup, "gone", "the orphaned backend to end");
    const rows = await setup.query(raw(`SELECT count(*)::int4 AS n FROM ${table}`, ["n"]));
    assert.deepStrictEqual(rows, [{ n: 0 }]);
  } finally {
    await setup.query(raw(`DROP TABLE IF EXISTS ${table}`));
    await setup.close();
    await healthy.stop();
    await doomed.kill();
  }
});
