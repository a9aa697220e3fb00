// The npm package against a real, in-process PGlite: value mapping, errors
// before I/O, server errors, and recovery on the same connection.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { Schema, compile, connect, eq, gt, init, isKeelError, pgliteTransport } from "keel-orm";

const music = new URL("../../examples/music/", import.meta.url);
let pg;
let schema;

/** Wraps a transport and counts the bytes written through it. */
function counting(inner) {
  const counter = { writes: 0 };
  counter.transport = {
    write(bytes) {
      counter.writes += 1;
      return inner.write(bytes);
    },
    read: () => inner.read(),
    close: () => inner.close(),
  };
  return counter;
}

before(async () => {
  await init();
  pg = new PGlite();
  await pg.exec(await readFile(new URL("seed.sql", music), "utf8"));
  const definition = JSON.parse(await readFile(new URL("schema.json", music), "utf8"));
  // A table the schema knows but the database lacks, to provoke a server error.
  definition.tables.push({ name: "missing_table", columns: [{ name: "id", type: "int4" }] });
  schema = new Schema(definition);
});

after(async () => {
  await pg?.close();
});

const trackQuery = (columns, albumId = 1) => ({
  version: 1,
  select: {
    from: "track",
    columns,
    where: { eq: { column: "album_id", value: albumId } },
    order_by: [{ column: "track_id", direction: "asc" }],
  },
});

test("default JS mapping: int8 BigInt, numeric string, timestamptz Date, NULL null", async () => {
  const client = await connect(pgliteTransport(pg), schema, { user: "postgres" });
  const rows = await client.query(
    trackQuery(["track_id", "milliseconds", "bytes", "unit_price", "rating", "explicit", "released_at", "composer"]),
  );
  await client.close();
  assert.equal(rows.length, 5);
  const [first, , third] = rows;
  assert.equal(first.track_id, 1);
  assert.equal(first.milliseconds, 215000n);
  assert.equal(third.milliseconds, 9007199254740993n);
  assert.equal(third.bytes, null);
  assert.equal(first.unit_price, "0.99");
  assert.equal(first.rating, 4.5);
  assert.equal(third.explicit, true);
  assert.ok(first.released_at instanceof Date);
  assert.equal(first.released_at.toISOString(), "2021-03-14T09:26:53.589Z");
  assert.equal(rows[1].composer, null);
});

test("an invalid definition fails before any I/O, naming the model and column", async () => {
  const counter = counting(pgliteTransport(pg));
  const client = await connect(counter.transport, schema, { user: "postgres" });
  const writesAfterLogin = counter.writes;

  await assert.rejects(client.query(trackQuery(["track_id", "nmae"])), (error) => {
    assert.ok(isKeelError(error));
    assert.equal(error.name, "KeelCompileError");
    assert.equal(error.model, "track");
    assert.equal(error.column, "nmae");
    assert.equal(error.message, 'track: unknown column "nmae"');
    return true;
  });
  await assert.rejects(client.query(trackQuery(["track_id"], "one")), {
    name: "KeelCompileError",
    message: 'track.album_id: expected a value of type int4, got string "one"',
  });
  await assert.rejects(client.query('{"version": 1, "select": {"from": "track"}}'), {
    name: "KeelCompileError",
    message: /invalid query definition: missing field `columns`/,
  });
  assert.equal(counter.writes, writesAfterLogin, "no bytes were sent for invalid definitions");
  await client.close();
});

test("a server error carries its SQLSTATE and the connection stays usable", async () => {
  const client = await connect(pgliteTransport(pg), schema, { user: "postgres" });
  await assert.rejects(
    client.query({ version: 1, select: { from: "missing_table", columns: ["id"] } }),
    (error) => {
      assert.equal(error.name, "KeelServerError");
      assert.equal(error.kind, "server");
      assert.equal(error.code, "42P01");
      assert.match(error.message, /relation "missing_table" does not exist/);
      return true;
    },
  );
  const rows = await client.query(trackQuery(["name"], 2));
  assert.deepStrictEqual(rows, [{ name: "Scaffolding" }]);
  await client.close();
});

test("compile() shows the SQL and bound parameters without a connection", () => {
  const statement = compile(schema, { ...trackQuery(["name"]), select: { ...trackQuery(["name"]).select, limit: 2 } });
  assert.equal(
    statement.sql,
    'SELECT "name" FROM "track" WHERE "album_id" = $1 ORDER BY "track_id" ASC LIMIT $2',
  );
  assert.deepStrictEqual(statement.params, [1, "2"]);
});

test("connect rejects bad options clearly", async () => {
  await assert.rejects(connect(pgliteTransport(pg), schema, {}), {
    name: "KeelCompileError",
    message: "connect option `user` is required",
  });
  await assert.rejects(connect(pgliteTransport(pg), schema, { user: "postgres", int8: "number" }), {
    message: 'connect option "int8" must be "bigint" or "string", not "number"',
  });
});

test("client.from(...) builds and runs a query in one chain", async () => {
  const client = await connect(pgliteTransport(pg), schema, { user: "postgres" });
  const rows = await client.from("track").columns("name").where(eq("album_id", 1)).where(gt("rating", 4)).orderBy("track_id").all();
  assert.deepStrictEqual(rows, [{ name: "Cast Off" }]);
  const first = await client.from("track").columns("track_id", "name").orderBy("track_id", "desc").first();
  assert.deepStrictEqual(first, { track_id: 8, name: "Überfahrt" });
  const none = await client.from("track").columns("name").where(eq("album_id", 99)).first();
  assert.equal(none, null);
  await client.close();
});

test("values-style rows: arrays in column order, from JSON and from the builder", async () => {
  const client = await connect(pgliteTransport(pg), schema, { user: "postgres" });
  const definition = {
    version: 1,
    select: { from: "track", columns: ["track_id", "name"], where: { eq: { column: "album_id", value: 2 } } },
    row_shape: "values",
  };
  assert.deepStrictEqual(await client.query(definition), [[6, "Scaffolding"]]);
  const built = await client.from("track").columns("name", "track_id").where(eq("album_id", 3)).values().all();
  assert.deepStrictEqual(built, [["Note G", 7]]);
  await client.close();
});
