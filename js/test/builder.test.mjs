// The TypeScript builder produces keel's documented JSON form: for each
// example below, the builder's definition compiles to byte-identical SQL and
// parameters as the JSON example from docs/query-format.md (the same check
// the Rust suite makes of the Rust builder).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  Schema, add, and, arrayAgg, avg, between, caseWhen, col, compile, count, deleteFrom, eq, excluded, fn, from,
  gt, gte, has, ilike, inList, init, insertInto, isDistinctFrom, isNotDistinctFrom, isNotNull, jsonAgg, like, lt,
  lte, max, min, mul, ne, not, notIlike, notIn, or, stringAgg, sub, sum, textSearch, update, val,
} from "keel-orm";

const doc = await readFile(new URL("../../docs/query-format.md", import.meta.url), "utf8");
const examples = [...doc.matchAll(/```json query\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
let schema;

before(async () => {
  await init();
  schema = new Schema(/```json schema\n([\s\S]*?)```/.exec(doc)[1]);
});

/** The documented example with this exact JSON, so the list below cannot drift. */
function example(predicate) {
  const found = examples.filter(predicate);
  assert.equal(found.length, 1, `expected one documented example, found ${found.length}`);
  return found[0];
}
const select = (fromTable, test) => example((q) => q.select?.from === fromTable && test(q.select));

const cases = [
  ["named columns", from("track").columns("track_id", "name"), select("track", (s) => JSON.stringify(s.columns) === '["track_id","name"]' && !s.where && !s.order_by)],
  ["all columns", from("artist"), select("artist", (s) => s.columns === "*")],
  ["defer", from("track").defer("lyrics", "composer", "released_at"), select("track", (s) => s.defer)],
  ["filter, order, limit", from("track").columns("name", "unit_price").where(eq("album_id", 1)).orderBy("track_id", "desc").limit(10), select("track", (s) => s.limit === 10 && s.where?.eq?.column === "album_id")],
  ["comparisons", from("track").columns("track_id").where(and(ne("name", "Intro"), lt("milliseconds", 100000), lte("unit_price", "1.99"), gte("released_at", "2021-03-14T09:26:53.589793Z"), gt(mul(col("unit_price"), col("stock")), val(100)))), select("track", (s) => s.where?.and?.[0]?.ne)],
  ["null or present", from("track").columns("name").where(or(eq("composer", null), isNotNull("lyrics"))), select("track", (s) => s.where?.or?.[1]?.is_not_null)],
  ["in and not in", from("track").columns("track_id").where(and(inList("album_id", [1, 2, 3]), notIn("name", ["Intro", "Outro"]))), select("track", (s) => s.where?.and?.[1]?.not_in)],
  ["between, like, distinct from", from("track").columns("track_id").where(and(between("unit_price", "0.5", "1.5"), like("name", "A%"), ilike("composer", "%bach%"), notIlike("name", "%live%"), isDistinctFrom("composer", "Bach"), isNotDistinctFrom("rating", null))), select("track", (s) => s.where?.and?.[0]?.between)],
  ["full text", from("track").columns("track_id").where(textSearch("lyrics", "love me do", "english")), select("track", (s) => s.where?.text_search)],
  ["and, or, not", from("track").columns("track_id").where(and(or(eq("album_id", 1), not(gt("stock", 5))), not(and(eq("name", "a"), eq("composer", "b"))))), select("track", (s) => s.where?.and?.[0]?.or)],
  ["join through a relation", from("track").columns("track_id", "name", "album.title").join("album").where(eq("album.title", "Let It Be")), select("track", (s) => s.joins?.[0]?.relation === "album" && !s.lock)],
  ["left join with alias", from("album").columns("title", [col("t.name"), "track_name"]).leftJoin("tracks", { as: "t" }), select("album", (s) => s.joins?.[0]?.as === "t")],
  ["filter across a relation", from("album").columns("title").where(has("tracks", gt("milliseconds", 600000))), select("album", (s) => s.where?.has)],
  ["ordering with nulls, offset", from("track").columns("track_id").orderBy("composer", "asc", "last").orderBy("released_at", "desc", "first").orderBy(fn("lower", col("name"))).limit(10).offset(20), select("track", (s) => s.offset === 20)],
  ["keyset pagination", from("track").columns("track_id", "name").orderBy("album_id").orderBy("track_id").after(3, 1201).limit(50), select("track", (s) => s.after?.[1] === 1201)],
  ["distinct", from("track").distinct().columns("composer"), select("track", (s) => s.distinct === true)],
  ["distinct on", from("track").distinctOn("album_id").columns("album_id", "name", "milliseconds").orderBy("album_id").orderBy("milliseconds", "desc"), select("track", (s) => s.distinct_on)],
  ["aggregates", from("track").columns("album_id", [count(), "tracks"], [count(col("composer"), { distinct: true }), "composers"], [sum(col("milliseconds")), "total_ms"], [avg(col("unit_price")), "avg_price"], [min(col("name")), "first_name"], [max(col("released_at")), "latest"], [stringAgg(col("name"), ", ", [{ column: "name" }]), "names"], [arrayAgg(col("track_id")), "ids"], [jsonAgg(col("name")), "names_json"]).groupBy("album_id").having(gt(count(), val(5))).orderBy(sum(col("milliseconds")), "desc"), select("track", (s) => s.having)],
  ["case expression", from("track").columns("name", [caseWhen([[gt("milliseconds", 300000), val("long")]], val("short")), "length_class"]), select("track", (s) => JSON.stringify(s.columns).includes('"case"'))],
  ["IN subquery", from("track").columns("name").where(inList("album_id", from("album").columns("album_id").where(eq("artist_id", 1)))), select("track", (s) => s.where?.in?.subquery)],
  ["lock", from("track").columns("track_id", "stock").where(eq("track_id", 7)).forUpdate("nowait"), select("track", (s) => s.lock?.wait === "nowait")],
  ["upsert", insertInto("track", [{ track_id: 1, album_id: 1, name: "Intro", milliseconds: 1000, unit_price: "0.99", stock: 5 }]).onConflictUpdate(["track_id"], { stock: add(col("track.stock"), excluded("stock")), name: excluded("name") }, gt("track.stock", 0)).returning("track_id", "stock"), example((q) => q.insert?.on_conflict?.do?.update?.where)],
  ["update with expression", update("track").setExpr("stock", sub(col("stock"), val(1))).set("composer", null).where(eq("track_id", 7)).where(gt("stock", 0)).returning("track_id", "stock"), example((q) => q.update?.returning)],
  ["update all rows", update("track").set("stock", 0).allRows(), example((q) => q.update?.all_rows)],
  ["delete", deleteFrom("track").where(lt("stock", 0)).returning("track_id"), example((q) => q.delete)],
];

for (const [name, built, documented] of cases) {
  test(`builder: ${name}`, () => {
    const fromBuilder = compile(schema, built);
    const fromJson = compile(schema, documented);
    assert.equal(fromBuilder.sql, fromJson.sql);
    assert.deepStrictEqual(fromBuilder.params, fromJson.params);
  });
}

test("builders are immutable and JSON is the documented form", () => {
  const base = from("track").columns("track_id");
  const narrowed = base.where(eq("album_id", 1));
  assert.deepStrictEqual(base.toJSON(), { version: 1, select: { from: "track", columns: ["track_id"] } });
  assert.deepStrictEqual(narrowed.toJSON(), {
    version: 1,
    select: { from: "track", columns: ["track_id"], where: { eq: { column: "album_id", value: 1 } } },
  });
  assert.throws(() => base.all(), /not bound to a client/);
});
