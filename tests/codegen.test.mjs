// `keel codegen ts`: the generated row types type-check against keel-orm's
// API (with TypeScript itself, strict), reject what they should, and match
// what the wasm driver really returns for every column of keel's dataset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { Schema, connect, init, pgliteTransport } from "keel-orm";
import { root, run } from "./support.mjs";

const music = path.join(root, "examples", "music");
const pagila = path.join(root, "tests", "corpus", "pagila", "schema.json");

const usage = `
import type { Tables, Track } from "./music.js";
import type { Film, MpaaRating } from "./pagila.js";
import type { Client } from "keel-orm";

export async function typed(client: Client): Promise<void> {
  const tracks = await client.from<Tables["track"]>("track").all();
  const first: Track | undefined = tracks[0];
  if (first === undefined) return;
  const id: number = first.track_id;
  const ms: bigint = first.milliseconds;
  const composer: string | null = first.composer;
  // @ts-expect-error int8 is a bigint, not a number
  const wrongMs: number = first.milliseconds;
  // @ts-expect-error a nullable column may be null
  const wrongComposer: string = first.composer;
  // @ts-expect-error no such column
  first.no_such_column;
  void [id, ms, composer, wrongMs, wrongComposer];
}

export function pagilaTypes(film: Film, rating: MpaaRating): void {
  const ok: MpaaRating | null = film.rating;
  const features: (string | null | unknown[])[] | null = film.special_features;
  // @ts-expect-error not one of the enum's labels
  const bad: MpaaRating = "X";
  void [ok, features, bad, rating];
}
`;

test("generated row types type-check against keel-orm and reject wrong uses", async (t) => {
  const dir = await mkdtemp(path.join(root, "target-codegen-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, "music.ts"), await run("keel", ["codegen", "ts", path.join(music, "schema.json")]));
  await writeFile(path.join(dir, "pagila.ts"), await run("keel", ["codegen", "ts", pagila]));
  await writeFile(path.join(dir, "usage.ts"), usage);
  await writeFile(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "ES2022",
        moduleResolution: "bundler",
        lib: ["ES2022", "DOM"],
        types: [],
        strict: true,
        noUncheckedIndexedAccess: true,
        noEmit: true,
        skipLibCheck: true,
      },
      include: ["*.ts"],
    }),
  );
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
  try {
    await promisify(execFile)(process.execPath, [tsc, "-p", dir]);
  } catch (error) {
    assert.fail(`tsc rejected the generated types:\n${error.stdout}${error.stderr}`);
  }
});

/** `name: type;` lines of one generated row type. */
function fields(ts, name) {
  const body = new RegExp(`export type ${name} = \\{\\n([^}]*)\\};`).exec(ts);
  assert.ok(body, `row type ${name} in the generated types`);
  return body[1]
    .trim()
    .split("\n")
    .map((line) => /^\s*"?([^":]+)"?: (.*);$/.exec(line))
    .map((m) => ({ name: m[1], type: m[2] }));
}

/** Whether a value returned by keel-orm fits one alternative of a generated type. */
function fits(value, type) {
  return type.split(" | ").some((alternative) => {
    switch (alternative) {
      case "null":
        return value === null;
      case "number":
      case "bigint":
      case "string":
      case "boolean":
        return typeof value === alternative;
      case "Date":
        return value instanceof Date;
      default:
        return /^".*"$/.test(alternative) && value === JSON.parse(alternative);
    }
  });
}

test("generated row types match the values the wasm driver returns", async (t) => {
  await init();
  const pg = new PGlite();
  t.after(() => pg.close());
  await pg.exec(await readFile(path.join(music, "seed.sql"), "utf8"));
  const definition = JSON.parse(await readFile(path.join(music, "schema.json"), "utf8"));
  for (const [int8, timestamptz] of [
    ["bigint", "date"],
    ["string", "string"],
  ]) {
    const ts = await run("keel", ["codegen", "ts", path.join(music, "schema.json"), "--int8", int8, "--timestamptz", timestamptz]);
    const options = { user: "postgres", int8, timestamptz };
    const typed = await connect(pgliteTransport(pg), new Schema(definition), options);
    try {
      let checked = 0;
      for (const table of definition.tables) {
        const typeName = table.name.replace(/(^|_)([a-z])/g, (_, __, c) => c.toUpperCase());
        const columns = fields(ts, typeName);
        assert.deepStrictEqual(
          columns.map((c) => c.name),
          table.columns.map((c) => c.name),
        );
        for (const row of await typed.from(table.name).all()) {
          for (const { name, type } of columns) {
            assert.ok(fits(row[name], type), `${table.name}.${name} = ${String(row[name])} does not fit ${type}`);
            checked += 1;
          }
        }
      }
      t.diagnostic(`int8 ${int8}, timestamptz ${timestamptz}: ${checked} values fit their generated types`);
      assert.ok(checked > 50);
    } finally {
      await typed.close();
    }
  }
});
