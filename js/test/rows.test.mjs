// Rows are built in JS from the wasm core's flat form (driver-wasm/src/batch.rs,
// js/src/rows.ts). They must equal, value for value, what the cell-by-cell
// conversion gives, which these tests get by removing the materializer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { Schema, connect, init, pgliteTransport } from "keel-orm";
import { setRowMaterializer } from "../wasm/keel_wasm.js";
import { materializeRows } from "../dist/rows.js";

let pg;
const schema = () => new Schema({ tables: [] });

before(async () => {
  await init();
  pg = new PGlite();
  await pg.exec(`
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE TABLE every_kind (
      i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8, n numeric,
      t text, v varchar(20), c char(5), nm name, b bool,
      tz timestamptz, d date, ts timestamp, j json, jb jsonb, by bytea, u uuid,
      arr int4[], txt text[], rng int4range, m mood, p point
    );
    INSERT INTO every_kind VALUES
      (1, -2147483648, 9007199254740993, 4294967295, 1.5, -0.1, 12345678901234567890.123,
       'plain', 'héllo wörld', 'ab', 'a_name', true,
       '2024-02-29 12:34:56.789012+00', '2024-02-29', '1999-12-31 23:59:59', '{"a": [1, 2]}', '{"b": null}',
       '\\xdeadbeef', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '{1,NULL,3}', '{"x","😀 y"}', '[1,5)', 'happy', '(1,2)'),
      (-32768, 0, -1, 0, 'NaN', 'Infinity', 'NaN',
       '', '😀😀 astral', 'x', '', false,
       'infinity', '-infinity', 'infinity', 'null', '[]',
       '\\x', '00000000-0000-0000-0000-000000000000',
       '{}', '{}', 'empty', 'sad', '(-1.5,2)'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  `);
});

after(async () => {
  setRowMaterializer(materializeRows);
  await pg?.close();
});

async function both(query, options = {}) {
  const client = await connect(pgliteTransport(pg), schema(), { user: "postgres", ...options });
  try {
    setRowMaterializer(materializeRows);
    const fast = await client.query(query);
    setRowMaterializer(undefined);
    const cellByCell = await client.query(query);
    return { fast, cellByCell };
  } finally {
    setRowMaterializer(materializeRows);
    await client.close();
  }
}

const columns = ["i2", "i4", "i8", "o", "f4", "f8", "n", "t", "v", "c", "nm", "b", "tz", "d", "ts", "j", "jb", "by", "u", "arr", "txt", "rng", "m", "p"];
const everyKind = {
  version: 1,
  raw: { sql: "SELECT * FROM every_kind ORDER BY i4 NULLS LAST", columns },
};

test("every type converts the same through the flat form as cell by cell", async () => {
  for (const options of [{}, { int8: "string", timestamptz: "string" }]) {
    const { fast, cellByCell } = await both(everyKind, options);
    assert.equal(fast.length, 3);
    assert.deepStrictEqual(fast, cellByCell);
  }
  const { fast } = await both(everyKind);
  // Spot checks that the comparison is not between two wrong answers
  // (rows in i4 order: the first inserted row, then the second).
  assert.equal(fast[0].i8, 9007199254740993n);
  assert.equal(fast[0].v, "héllo wörld");
  assert.equal(fast[1].v, "😀😀 astral");
  assert.equal(fast[0].c, "ab   ");
  assert.ok(fast[0].tz instanceof Date);
  assert.equal(fast[0].tz.toISOString(), "2024-02-29T12:34:56.789Z");
  assert.equal(fast[0].m, "happy");
  assert.deepStrictEqual(fast[0].arr, [1, null, 3]);
  assert.deepStrictEqual(fast[0].txt, ["x", "😀 y"]);
  assert.ok(Number.isNaN(fast[1].f4));
  assert.equal(fast[1].f8, Infinity);
  assert.deepStrictEqual(fast[2], Object.fromEntries(Object.keys(fast[2]).map((k) => [k, null])));
});

test("values-style rows and an empty result convert the same", async () => {
  const values = { ...everyKind, row_shape: "values" };
  const { fast, cellByCell } = await both(values);
  assert.ok(Array.isArray(fast[0]));
  assert.deepStrictEqual(fast, cellByCell);
  const empty = await both({ version: 1, raw: { sql: "SELECT 1 AS one WHERE false", columns: ["one"] } });
  assert.deepStrictEqual(empty.fast, []);
  assert.deepStrictEqual(empty.fast, empty.cellByCell);
});

test("a large result keeps text offsets right across many rows", async () => {
  const query = {
    version: 1,
    raw: {
      sql: "SELECT i, repeat(chr(128512 + i % 3), i % 7) || i::text AS s, i::int8 AS big FROM generate_series(1, 5000) i",
      columns: ["i", "s", "big"],
    },
  };
  const { fast, cellByCell } = await both(query);
  assert.equal(fast.length, 5000);
  assert.deepStrictEqual(fast, cellByCell);
  assert.equal(fast[4999].s, "😂".repeat(5000 % 7) + "5000");
});
