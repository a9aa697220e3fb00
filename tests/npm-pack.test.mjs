// The npm package as a user gets it: `npm pack` holds only what users need,
// and a fresh project that installs the tarball can import it and run a query
// in Node on PGlite, in Deno and Bun (PGlite, TCP and a WebSocket to
// keel-proxy), and in workerd (bundled by wrangler, as for a real deploy) over
// cloudflare:sockets to the test PostgreSQL.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { root, run, server, startProxy, startWorker } from "./support.mjs";

const exec = promisify(execFile);
const music = path.join(root, "examples", "music");
const schemaPath = path.join(music, "schema.json");
const queryPath = path.join(music, "queries", "tracks_of_album.json");
// The versions this repository tests with; the fresh project pins the same.
const rootPackage = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
const jsPackage = JSON.parse(await readFile(path.join(root, "js", "package.json"), "utf8"));

let work;
let app;
let packed;

async function npm(args, cwd) {
  return exec("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    maxBuffer: 16 << 20,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
}

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), "keel-pack-"));
  const { stdout } = await npm(["pack", "--json", "--pack-destination", work], path.join(root, "js"));
  packed = JSON.parse(stdout)[0];
  app = path.join(work, "app");
  await mkdir(path.join(app, "src"), { recursive: true });
  await writeFile(
    path.join(app, "package.json"),
    JSON.stringify({
      name: "keel-fresh-project",
      private: true,
      type: "module",
      dependencies: {
        "keel-orm": `file:../${packed.filename}`,
        "@electric-sql/pglite": jsPackage.devDependencies["@electric-sql/pglite"],
      },
      devDependencies: { wrangler: rootPackage.devDependencies.wrangler },
    }),
  );
  await npm(["install"], app);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test("npm pack ships the built code, types and wasm, and nothing else", () => {
  const files = packed.files.map((f) => f.path).sort();
  for (const required of [
    "package.json",
    "README.md",
    "dist/index.js",
    "dist/index.d.ts",
    "dist/node.js",
    "dist/workerd.js",
    "wasm/keel_wasm.js",
    "wasm/keel_wasm_bg.wasm",
  ]) {
    assert.ok(files.includes(required), `${required} is missing from the package`);
  }
  const unexpected = files.filter((f) => !/^(package\.json|README\.md|dist\/[\w-]+\.(js|d\.ts)|wasm\/keel_wasm(_bg)?\.(js|wasm|d\.ts)|wasm\/keel_wasm_bg\.wasm\.d\.ts)$/.test(f));
  assert.deepStrictEqual(unexpected, [], "files users do not need are packed");
});

test("a fresh project imports the installed package and queries PGlite in Node", async () => {
  const script = path.join(app, "check.mjs");
  await writeFile(
    script,
    `import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { Schema, connect, init } from "keel-orm";
import { pgliteTransport } from "keel-orm";
const [schemaPath, queryPath, seedPath] = process.argv.slice(2);
await init();
const pg = new PGlite();
await pg.exec(await readFile(seedPath, "utf8"));
const client = await connect(pgliteTransport(pg), new Schema(await readFile(schemaPath, "utf8")), { user: "postgres" });
const rows = await client.query(await readFile(queryPath, "utf8"));
await client.close();
console.log(JSON.stringify(rows.map((r) => [r.track_id, r.name, typeof r.milliseconds, r.released_at instanceof Date])));
`,
  );
  const { stdout } = await exec(process.execPath, [script, schemaPath, queryPath, path.join(music, "seed.sql")], {
    cwd: app,
  });
  assert.deepStrictEqual(JSON.parse(stdout), [
    [1, "Cast Off", "bigint", true],
    [2, "Low Tide", "bigint", true],
    [3, "Bilge Pump Blues", "bigint", true],
    [4, "Keel Over", "bigint", false],
    [5, `Anchor's "Aweigh"`, "bigint", true],
  ]);
});

test("a fresh project runs the installed package in Deno and Bun: PGlite, TCP and a WebSocket give native's SQL and rows", async (t) => {
  const pg = server(t);
  if (!pg) return;
  // Runtime-neutral: Deno and Bun provide process, node:fs and node:net.
  const script = path.join(app, "runtimes.mjs");
  await writeFile(
    script,
    `import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { Schema, connect, init, pgliteTransport, tcpTransport, webSocketTransport } from "keel-orm";
const [schemaPath, queryPath, seedPath, host, port, user, password, proxyUrl] = process.argv.slice(2);
const options = { int8: "string", timestamptz: "string" };
const database = { user, password, database: "music", ...options };
await init();
const schema = new Schema(await readFile(schemaPath, "utf8"));
const query = await readFile(queryPath, "utf8");
const run = async (transport, connectOptions) => {
  const client = await connect(await transport, schema, connectOptions);
  try {
    return await client.queryDetailed(query);
  } finally {
    await client.close();
  }
};
const pg = new PGlite();
await pg.exec(await readFile(seedPath, "utf8"));
console.log(JSON.stringify({
  runtime: typeof Bun !== "undefined" ? "bun" : typeof Deno !== "undefined" ? "deno" : "node",
  pglite: await run(pgliteTransport(pg), { user: "postgres", ...options }),
  tcp: await run(tcpTransport({ host, port: Number(port) }), database),
  webSocket: await run(webSocketTransport(proxyUrl), database),
}));
`,
  );
  const native = JSON.parse(
    await run("keel", ["query", "--detailed", "--schema", schemaPath, `${pg.url}/music`, queryPath]),
  );
  const proxy = await startProxy({ target: `${pg.host}:${pg.port}` });
  try {
    const args = [schemaPath, queryPath, path.join(music, "seed.sql"), pg.host, pg.port, pg.user, pg.password, proxy.url];
    // Deno comes as its platform package (root optionalDependencies), so it
    // is absent on other platforms; Bun's npm package covers them all.
    const deno = path.join(root, "node_modules", "@deno", "linux-x64-glibc", "deno");
    const runtimes = [["bun", [path.join(root, "node_modules", ".bin", "bun"), script]]];
    if (existsSync(deno)) runtimes.push(["deno", [deno, "run", "--allow-all", script]]);
    else t.diagnostic(`no Deno binary for ${process.platform}-${process.arch}: ran Bun only`);
    for (const [runtime, command] of runtimes) {
      const { stdout } = await exec(command[0], [...command.slice(1), ...args], { cwd: app, maxBuffer: 16 << 20 });
      const result = JSON.parse(stdout);
      assert.equal(result.runtime, runtime);
      for (const route of ["pglite", "tcp", "webSocket"]) {
        assert.equal(result[route].sql, native.sql, `${runtime} ${route}`);
        assert.deepStrictEqual(result[route].params, native.params, `${runtime} ${route}`);
        assert.deepStrictEqual(result[route].rows, native.rows, `${runtime} ${route}`);
      }
    }
  } finally {
    await proxy.stop();
  }
});

test("a fresh project bundled by wrangler runs in workerd over cloudflare:sockets", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await writeFile(
    path.join(app, "src", "worker.mjs"),
    `import { connect as tcp } from "cloudflare:sockets";
import { Schema, connect, init, socketTransport } from "keel-orm";
export default {
  async fetch(request, env) {
    await init();
    const transport = socketTransport(tcp({ hostname: env.PG_HOST, port: Number(env.PG_PORT) }));
    const client = await connect(transport, new Schema(env.SCHEMA), {
      user: env.PG_USER, password: env.PG_PASSWORD, database: "music", int8: "string", timestamptz: "string",
    });
    try {
      return Response.json(await client.queryDetailed(env.QUERY));
    } finally {
      await client.close();
    }
  },
};
`,
  );
  await exec(
    path.join(app, "node_modules", ".bin", "wrangler"),
    ["deploy", "--dry-run", "--outdir", "build", "--name", "keel-check", "--compatibility-date", "2025-09-01", "src/worker.mjs"],
    { cwd: app, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  const built = await readdir(path.join(app, "build"));
  assert.ok(built.some((f) => f.endsWith(".wasm")), `wrangler kept the wasm as a module: ${built}`);

  const native = JSON.parse(
    await run("keel", ["query", "--detailed", "--schema", schemaPath, `${pg.url}/music`, queryPath]),
  );
  const mf = await startWorker({
    scriptPath: path.join(app, "build", "worker.js"),
    modulesRoot: path.join(app, "build"),
    bindings: {
      PG_HOST: pg.host,
      PG_PORT: String(pg.port),
      PG_USER: pg.user,
      PG_PASSWORD: pg.password,
      SCHEMA: await readFile(schemaPath, "utf8"),
      QUERY: await readFile(queryPath, "utf8"),
    },
  });
  try {
    const response = await mf.dispatchFetch("http://worker/");
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.sql, native.sql);
    assert.deepStrictEqual(body.rows, native.rows);
  } finally {
    await mf.dispose();
  }
});
