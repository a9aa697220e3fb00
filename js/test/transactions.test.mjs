// Interactive transactions with savepoints, on PGlite and on the test
// PostgreSQL through keel-proxy: commit, rollback on error, partial
// rollback to a savepoint, options, no interleaving with the client's other
// queries, and no use of a transaction after it ended.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import WebSocket from "ws";
import { Schema, connect, eq, init, insertInto, pgliteTransport, update, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

const table = `keel_tx_${process.pid}_${Date.now()}`;
const schemaFor = () =>
  new Schema({
    tables: [
      {
        name: table,
        primary_key: ["id"],
        columns: [
          { name: "id", type: "int4" },
          { name: "note", type: "text" },
        ],
      },
    ],
  });
const raw = (sql) => ({ version: 1, raw: { sql } });
const ids = async (client) =>
  (await client.from(table).columns("id").orderBy("id").all()).map((r) => r.id);

let proxy;
let pglite;
before(async () => {
  await init();
});
after(async () => {
  await proxy?.stop();
  await pglite?.close();
});

async function openClients(t) {
  const clients = [];
  pglite ??= new PGlite();
  clients.push(["PGlite", await connect(pgliteTransport(pglite), schemaFor(), { user: "postgres" })]);
  const pg = server(t);
  if (pg) {
    proxy ??= await startProxy({ target: `${pg.host}:${pg.port}` });
    const transport = await webSocketTransport(proxy.url, { WebSocket });
    clients.push(["PostgreSQL via proxy", await connect(transport, schemaFor(), { user: pg.user, password: pg.password, database: "music" })]);
  }
  for (const [, client] of clients) {
    await client.query(raw(`CREATE TABLE IF NOT EXISTS ${table} (id int4 PRIMARY KEY, note text NOT NULL)`));
    await client.query(raw(`TRUNCATE ${table}`));
  }
  return clients;
}

async function closeClients(clients) {
  for (const [, client] of clients) {
    await client.query(raw(`DROP TABLE IF EXISTS ${table}`));
    await client.close();
  }
}

test("commit, rollback, savepoints and isolation options", async (t) => {
  const clients = await openClients(t);
  try {
    for (const [name, client] of clients) {
      const result = await client.transaction(async (tx) => {
        await tx.query(insertInto(table, [{ id: 1, note: "a" }, { id: 2, note: "b" }]));
        return "done";
      });
      assert.equal(result, "done");
      assert.deepStrictEqual(await ids(client), [1, 2], `${name}: commit`);

      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query(insertInto(table, [{ id: 3, note: "c" }]));
          throw new Error("changed my mind");
        }),
        /changed my mind/,
      );
      assert.deepStrictEqual(await ids(client), [1, 2], `${name}: rollback on a thrown error`);

      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query(insertInto(table, [{ id: 4, note: "d" }]));
          await tx.query(insertInto(table, [{ id: 1, note: "duplicate" }])); // 23505
        }),
        (error) => error.name === "KeelServerError" && error.code === "23505",
      );
      assert.deepStrictEqual(await ids(client), [1, 2], `${name}: rollback on a server error`);

      await client.transaction(async (tx) => {
        await tx.query(insertInto(table, [{ id: 5, note: "kept" }]));
        await assert.rejects(
          tx.savepoint(async (sp) => {
            await sp.query(insertInto(table, [{ id: 6, note: "undone" }]));
            await sp.savepoint(async (inner) => inner.query(update(table).set("note", "nested").where(eq("id", 5))));
            throw new Error("undo the savepoint only");
          }),
          /undo the savepoint only/,
        );
        await tx.savepoint(async (sp) => sp.query(insertInto(table, [{ id: 7, note: "released" }])));
      });
      assert.deepStrictEqual(await ids(client), [1, 2, 5, 7], `${name}: savepoints`);
      const [row5] = await client.from(table).columns("note").where(eq("id", 5)).all();
      assert.equal(row5.note, "kept", `${name}: the nested update was rolled back with its savepoint`);

      const level = await client.transaction(
        async (tx) => tx.query({ version: 1, raw: { sql: "SHOW transaction_isolation", columns: ["transaction_isolation"] } }),
        { isolation: "serializable", readOnly: true, deferrable: true },
      );
      assert.deepStrictEqual(level, [{ transaction_isolation: "serializable" }], `${name}: isolation level`);
      await assert.rejects(
        client.transaction(async (tx) => tx.query(insertInto(table, [{ id: 9, note: "x" }])), { readOnly: true }),
        (error) => error.code === "25006",
        `${name}: a read-only transaction refuses writes`,
      );
    }
  } finally {
    await closeClients(clients);
  }
});

test("the client's other queries wait for the transaction, and a finished transaction cannot be used", async (t) => {
  const clients = await openClients(t);
  try {
    for (const [name, client] of clients) {
      let leaked;
      let release;
      const gate = new Promise((resolve) => (release = resolve));
      const running = client.transaction(async (tx) => {
        leaked = tx;
        await tx.query(insertInto(table, [{ id: 10, note: "in tx" }]));
        await gate;
        throw new Error("roll it back");
      });
      // Issued while the transaction is open: it must not see or join it.
      const outside = ids(client);
      await new Promise((resolve) => setTimeout(resolve, 20));
      release();
      await assert.rejects(running, /roll it back/);
      assert.deepStrictEqual(await outside, [], `${name}: the outside query ran after the rollback`);
      await assert.rejects(leaked.query(raw("SELECT 1")), (error) => error.name === "KeelClosedError");
    }
  } finally {
    await closeClients(clients);
  }
});
