// The wasm half of scripts/demo: runs the query definition through keel's
// wasm driver on an in-process PGlite seeded with the same dataset, prints it
// next to the native driver's result, and checks the two are identical.
//
// usage: node examples/music/demo.mjs QUERY.json NATIVE_RESULT.json
import { readFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { Schema, connect, init, pgliteTransport } from "keel-orm";

const [queryPath, nativePath] = process.argv.slice(2);
if (!queryPath || !nativePath) {
  console.error("usage: node examples/music/demo.mjs QUERY.json NATIVE_RESULT.json");
  process.exit(2);
}
const here = new URL(".", import.meta.url);
const [query, schemaJson, seed, nativeText] = await Promise.all([
  readFile(queryPath, "utf8"),
  readFile(new URL("schema.json", here), "utf8"),
  readFile(new URL("seed.sql", here), "utf8"),
  readFile(nativePath, "utf8"),
]);

await init();
const pg = new PGlite();
await pg.exec(seed);
// Strings for int8 and timestamptz so the output is exact and matches keel's
// canonical JSON (the JS defaults are BigInt and Date).
const client = await connect(pgliteTransport(pg), new Schema(schemaJson), {
  user: "postgres",
  database: "postgres",
  int8: "string",
  timestamptz: "string",
});
const wasm = await client.queryDetailed(query);
await client.close();
await pg.close();

const native = JSON.parse(nativeText);
console.log(`query definition: ${queryPath}`);
console.log(`SQL: ${native.sql}`);
console.log(`params: ${JSON.stringify(native.params)}`);
console.log("\n== native driver (tokio-postgres) against PostgreSQL ==");
console.table(native.rows);
console.log("\n== wasm driver (keel protocol engine) against PGlite ==");
console.table(wasm.rows);

const sameSql = native.sql === wasm.sql && isDeepStrictEqual(native.params, wasm.params);
const sameRows = isDeepStrictEqual(native.rows, wasm.rows);
if (sameSql && sameRows) {
  console.log(`\nidentical: ${native.rows.length} rows, same SQL and same values on both drivers`);
} else {
  console.error("\nMISMATCH between the native and the wasm results:");
  console.error(JSON.stringify({ native, wasm }, null, 2));
  process.exit(1);
}
