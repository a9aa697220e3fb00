// Conformance across runtimes on databases keel did not write. For Chinook
// and Pagila, every read-only definition of the corpus in tests/corpus/
// (shared with the Rust suite that checks them against hand-written SQL),
// plus every example of docs/query-format.md that compiles against the
// dataset's schema, runs through the native driver, the wasm driver on
// PGlite and the wasm driver over WebSocket through keel-proxy. SQL,
// parameters and rows must be identical. A dataset that is not available
// is skipped with one line.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import WebSocket from "ws";
import { Schema, compile, connect, init, pgliteTransport, webSocketTransport } from "keel-orm";
import { loadPsqlScript } from "./pglite-load.mjs";
import { root, run, server, startProxy } from "./support.mjs";

const exact = { int8: "string", timestamptz: "string" };
// Writes would change the shared database under the other suites; raw SQL
// is not checked against a schema, so it cannot tell which dataset it fits.
const SKIPPED = ["insert", "update", "delete", "raw"];
const DATASETS = {
  chinook: { files: ["chinook/chinook.sql"], url: "KEEL_TEST_CHINOOK_URL" },
  pagila: { files: ["pagila/pagila-schema.sql", "pagila/pagila-data.sql"], url: "KEEL_TEST_PAGILA_URL" },
};

let proxy;
after(async () => {
  await proxy?.stop();
});

function datasetFiles(name) {
  for (const dir of [process.env.KEEL_DATASETS, path.join(root, "..", "shared", "datasets")]) {
    const files = dir && DATASETS[name].files.map((f) => path.join(dir, f));
    if (files && files.every((f) => existsSync(f))) return files;
  }
  return null;
}

/** Rows in a canonical order when the definition does not fix one. */
function comparable(definition, rows) {
  const body = Object.values(JSON.parse(definition)).find((v) => typeof v === "object" && v !== null);
  if (body?.order_by?.length) return rows;
  const key = (row) => JSON.stringify(row);
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

async function definitionsFor(schema, corpus) {
  const cases = JSON.parse(await readFile(path.join(corpus, "cases.json"), "utf8")).map((c) => c.query);
  const doc = await readFile(path.join(root, "docs", "query-format.md"), "utf8");
  const documented = [...doc.matchAll(/```json query\n([\s\S]*?)```/g)]
    .map((m) => JSON.parse(m[1]))
    .filter((q) => {
      try {
        compile(schema, q);
        return true;
      } catch {
        return false; // names a table or column this dataset does not have
      }
    });
  const all = [...cases, ...documented].filter((q) => !SKIPPED.some((key) => key in q));
  return [...new Set(all.map((q) => JSON.stringify(q)))];
}

for (const name of Object.keys(DATASETS)) {
  test(`${name}: corpus and documented examples identical on native, PGlite and WebSocket`, async (t) => {
    const pg = server(t);
    if (!pg) return;
    const files = datasetFiles(name);
    const url = process.env[DATASETS[name].url];
    if (!files || !url) {
      t.skip(`${name} not available (dataset files not found or ${DATASETS[name].url} unset)`);
      return;
    }
    await init();
    const corpus = path.join(root, "tests", "corpus", name);
    const schemaPath = path.join(corpus, "schema.json");
    const schema = new Schema(await readFile(schemaPath, "utf8"));
    const definitions = await definitionsFor(schema, corpus);
    assert.ok(definitions.length >= 5, `only ${definitions.length} definitions for ${name}`);

    const pglite = new PGlite();
    const work = await mkdtemp(path.join(tmpdir(), `keel-${name}-`));
    let viaPglite;
    let viaWebSocket;
    try {
      for (const file of files) await loadPsqlScript(pglite, await readFile(file, "utf8"));
      await pglite.exec("RESET search_path"); // Pagila's script empties it for the session
      viaPglite = await connect(pgliteTransport(pglite), schema, { user: "postgres", database: "postgres", ...exact });
      proxy ??= await startProxy({ target: `${pg.host}:${pg.port}` });
      const transport = await webSocketTransport(proxy.url, { WebSocket });
      viaWebSocket = await connect(transport, schema, { user: pg.user, password: pg.password, database: name, ...exact });

      for (const [i, definition] of definitions.entries()) {
        const file = path.join(work, `q${i}.json`);
        await writeFile(file, definition);
        const native = JSON.parse(await run("keel", ["query", "--detailed", "--schema", schemaPath, url, file]));
        for (const [via, client] of [
          ["PGlite", viaPglite],
          ["WebSocket", viaWebSocket],
        ]) {
          const other = await client.queryDetailed(definition);
          assert.equal(other.sql, native.sql, `${via}: SQL differs for ${definition}`);
          assert.deepStrictEqual(other.params, native.params, `${via}: params differ for ${definition}`);
          // Without ORDER BY, PostgreSQL 15 and PGlite may return rows in different orders.
          assert.deepStrictEqual(
            comparable(definition, other.rows),
            comparable(definition, native.rows),
            `${via}: rows differ for ${native.sql}`,
          );
        }
      }
      t.diagnostic(`${name}: compared ${definitions.length} definitions across native, wasm on PGlite and wasm over WebSocket`);
    } finally {
      await viaWebSocket?.close();
      await viaPglite?.close();
      await pglite.close();
      await rm(work, { recursive: true, force: true });
    }
  });
}
