// A WebSocket or a TCP socket that drops in the middle of a query or a
// transaction: every pending request gets a clear error promptly, and the
// server shows the interrupted transaction was not committed. The TCP cases
// go through a relay the test resets: Node's tcpTransport here, and
// cloudflare:sockets inside workerd.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import path from "node:path";
import { Schema, connect, init, insertInto, tcpTransport, webSocketTransport } from "keel-orm";
import { root, server, startProxy, startTcpRelay, startWorker } from "./support.mjs";

const table = `keel_broken_${process.pid}_${Date.now()}`;
const raw = (sql, columns) => ({ version: 1, raw: { sql, ...(columns ? { columns } : {}) } });

async function open(pg, proxyUrl) {
  const schema = new Schema({
    tables: [{ name: table, primary_key: ["id"], columns: [{ name: "id", type: "int4" }] }],
  });
  const transport = await webSocketTransport(proxyUrl, { WebSocket });
  return connect(transport, schema, { user: pg.user, password: pg.password, database: "music" });
}

/** Polls pg_stat_activity (bounded) until `count` sleeping backends are active, or none is. */
async function waitFor(observer, state, what, count = 1) {
  const sql = `SELECT count(*)::int4 AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)' AND state = 'active'`;
  for (let i = 0; i < 250; i++) {
    const [{ n }] = await observer.query(raw(sql, ["n"]));
    if (state === "active" ? n >= count : n === 0) return;
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

test("a TCP socket drops mid-query and mid-transaction (Node tcpTransport): prompt errors, nothing committed", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  const tcpTable = `${table}_tcp`;
  const where = { host: pg.host, port: Number(pg.port) };
  const options = { user: pg.user, password: pg.password, database: "music" };
  const schema = new Schema({ tables: [] });
  const setup = await connect(await tcpTransport(where), schema, options);
  await setup.query(raw(`CREATE TABLE ${tcpTable} (id int4 PRIMARY KEY)`));
  const relay = await startTcpRelay({ target: `${pg.host}:${pg.port}` });
  try {
    const viaRelay = async () => connect(await tcpTransport({ host: "127.0.0.1", port: relay.port }), schema, options);
    const inQuery = await viaRelay();
    const inTransaction = await viaRelay();

    const sleeping = inQuery.query(raw("SELECT pg_sleep(2)"));
    let inserted;
    const transaction = inTransaction.transaction(async (tx) => {
      await tx.query(raw(`INSERT INTO ${tcpTable} VALUES (1)`));
      inserted();
      await tx.query(raw("SELECT pg_sleep(2)"));
    });
    await new Promise((resolve) => (inserted = resolve));
    await waitFor(setup, "active", "both sleeps to start on the server", 2);
    const queued = [inQuery.query(raw("SELECT 1 AS one", ["one"])), inTransaction.query(raw("SELECT 1 AS one", ["one"]))];
    const outcomes = [sleeping, transaction, ...queued].map((p) => p.then(() => null, (error) => error));

    const dropped = performance.now();
    relay.destroyAll();
    const errors = await Promise.all(outcomes);
    const elapsed = performance.now() - dropped;
    for (const [i, error] of errors.entries()) {
      assert.ok(error && isConnectionError(error), `pending request ${i} fails with a connection error: ${error}`);
    }
    t.diagnostic(`Node TCP: ${errors.map((e) => e.name).join(", ")} after ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 2000, `errors arrived after ${elapsed.toFixed(0)} ms`);
    await assert.rejects(inQuery.query(raw("SELECT 1 AS one", ["one"])), isConnectionError, "later requests fail at once");

    await waitFor(setup, "gone", "the orphaned backends to end");
    assert.deepStrictEqual(await setup.query(raw(`SELECT count(*)::int4 AS n FROM ${tcpTable}`, ["n"])), [{ n: 0 }]);
  } finally {
    await relay.stop();
    await setup.query(raw(`DROP TABLE IF EXISTS ${tcpTable}`));
    await setup.close();
  }
});

test("a TCP socket drops mid-transaction inside workerd (cloudflare:sockets): prompt errors, nothing committed", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  const workerTable = `${table}_workerd`;
  const options = { user: pg.user, password: pg.password, database: "music" };
  const setup = await connect(await tcpTransport({ host: pg.host, port: Number(pg.port) }), new Schema({ tables: [] }), options);
  await setup.query(raw(`CREATE TABLE ${workerTable} (id int4 PRIMARY KEY)`));
  const relay = await startTcpRelay({ target: `${pg.host}:${pg.port}` });
  const mf = await startWorker({
    scriptPath: path.join(root, "tests", "workerd", "worker.mjs"),
    modulesRoot: root,
    bindings: { PG_HOST: "127.0.0.1", PG_PORT: String(relay.port), PG_USER: pg.user, PG_PASSWORD: pg.password },
  });
  try {
    const response = mf.dispatchFetch(`http://worker/broken?table=${workerTable}`);
    await waitFor(setup, "active", "the worker's sleep to start on the server");
    const dropped = performance.now();
    relay.destroyAll();
    const { status, body } = await response.then(async (r) => ({ status: r.status, body: await r.json() }));
    const elapsed = performance.now() - dropped;
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.inserted, true);
    for (const name of ["transaction", "queued", "later"]) {
      const error = body[name];
      assert.ok(error && ["closed", "transport"].includes(error.kind), `${name} fails with a connection error: ${JSON.stringify(error)}`);
      assert.match(error.name, /^Keel(Closed|Transport)Error$/);
    }
    t.diagnostic(`workerd: ${["transaction", "queued", "later"].map((n) => body[n].name).join(", ")} after ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 2000, `the worker's requests failed ${elapsed.toFixed(0)} ms after the drop`);

    await waitFor(setup, "gone", "the orphaned backend to end");
    assert.deepStrictEqual(await setup.query(raw(`SELECT count(*)::int4 AS n FROM ${workerTable}`, ["n"])), [{ n: 0 }]);
  } finally {
    await mf.dispose();
    await relay.stop();
    await setup.query(raw(`DROP TABLE IF EXISTS ${workerTable}`));
    await setup.close();
  }
});
