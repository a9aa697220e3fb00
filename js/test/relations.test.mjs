// Eager loading from JS: `with` relations load with one batched statement
// per level (never one per parent row) and come back nested, on PGlite and
// on PostgreSQL through keel-proxy; plus inserts, updates and deletes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import WebSocket from "ws";
import { Schema, connect, deleteFrom, eq, from, gt, init, insertInto, pgliteTransport, update, webSocketTransport } from "keel-orm";
import { server, startProxy } from "../../tests/support.mjs";

const music = new URL("../../examples/music/", import.meta.url);
let schema;
let proxy;
let pglite;

before(async () => {
  await init();
  // keel's fixture schema with its foreign keys declared as relations.
  const definition = JSON.parse(await readFile(new URL("schema.json", music), "utf8"));
  const table = (name) => definition.tables.find((t) => t.name === name);
  table("album").foreign_keys = [{ columns: ["artist_id"], references: "artist", relation: "artist", inverse: "albums" }];
  table("track").foreign_keys = [{ columns: ["album_id"], references: "album", relation: "album", inverse: "tracks" }];
  schema = new Schema(definition);
});

after(async () => {
  await proxy?.stop();
  await pglite?.close();
});

async function clients(t) {
  await pglite?.close();
  pglite = new PGlite();
  await pglite.exec(await readFile(new URL("seed.sql", music), "utf8"));
  const out = [["PGlite", await connect(pgliteTransport(pglite), schema, { user: "postgres" })]];
  const pg = server(t);
  if (pg) {
    proxy ??= await startProxy({ target: `${pg.host}:${pg.port}` });
    const transport = await webSocketTransport(proxy.url, { WebSocket });
    out.push(["PostgreSQL via proxy", await connect(transport, schema, { user: pg.user, password: pg.password, database: "music" })]);
  }
  return out;
}

test("with(...) nests relations, batched one statement per level", async (t) => {
  for (const [name, client] of await clients(t)) {
    const query = from("artist")
      .columns("artist_id", "name")
      .orderBy("artist_id")
      .with("albums", (a) => a.columns("album_id", "title").orderBy("album_id").with("tracks", (tr) => tr.columns("track_id", "name").where(gt("track_id", 4)).orderBy("track_id")));
    const detailed = await client.queryDetailed(query);
    // Root, albums, tracks: three statements for every artist, album and track.
    assert.match(detailed.sql, /FROM "artist"/);
    assert.equal(detailed.loads.length, 1);
    assert.match(detailed.loads[0].sql, /= ANY\(\$1\)/);
    assert.equal(detailed.loads[0].loads.length, 1);
    assert.deepStrictEqual(
      detailed.rows.map((a) => [a.name, a.albums.map((al) => [al.title, al.tracks.map((tr) => tr.name)])]),
      [
        ["The Quiet Keels", [["Harbour Lights", ["Anchor's \"Aweigh\""]], ["Dry Dock", ["Scaffolding"]]]],
        ["Ada & the Lovelaces", [["Analytical Engine", ["Note G"]]]],
        ["Пётр and the “Unicode” Orchestra", [["Ünïcödé Sessions", ["Überfahrt"]]]],
      ],
      name,
    );

    // belongs-to comes back as one object (or null), through the bound builder.
    const tracks = await client.from("track").columns("track_id", "album_id").where(eq("track_id", 7)).with("album", (a) => a.with("artist")).all();
    assert.equal(tracks.length, 1);
    assert.equal(tracks[0].album.title, "Analytical Engine", name);
    assert.equal(tracks[0].album.artist.name, "Ada & the Lovelaces", name);
    await client.close();
  }
});

test("create, read, update and delete through definitions", async (t) => {
  for (const [name, client] of await clients(t)) {
    await client.transaction(async (tx) => {
      const created = await tx.query(insertInto("artist", [{ artist_id: 90, name: "Temp" }]).returning("artist_id", "name"));
      assert.deepStrictEqual(created, [{ artist_id: 90, name: "Temp" }], name);
      const updated = await tx.query(update("artist").set("name", "Renamed").where(eq("artist_id", 90)).returning("name"));
      assert.deepStrictEqual(updated, [{ name: "Renamed" }], name);
      assert.deepStrictEqual(await tx.from("artist").columns("name").where(eq("artist_id", 90)).all(), [{ name: "Renamed" }]);
      const deleted = await tx.query(deleteFrom("artist").where(eq("artist_id", 90)).returning("artist_id"));
      assert.deepStrictEqual(deleted, [{ artist_id: 90 }], name);
      assert.deepStrictEqual(await tx.from("artist").columns("name").where(eq("artist_id", 90)).all(), []);
    });
    await client.close();
  }
});
