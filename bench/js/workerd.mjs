// The workerd suite: keel inside workerd (the Cloudflare Workers runtime,
// driven by miniflare) over cloudflare:sockets straight to PostgreSQL, with
// postgres.js's Cloudflare build in the same worker as the peer. Writes
// bench/results/workerd.json (the shared contract).
//
// usage: node bench/js/workerd.mjs --url postgres://…/bench_js --out bench/results/workerd.json [--repeats N] [--quick]
//
// Timing: Workers freeze their clocks while JavaScript runs and advance them
// only across I/O (a Spectre mitigation). Every iteration here awaits socket
// I/O, so the worker times itself; each sample is also timed from Node around
// the request, and the run checks the worker's clock against that. If the
// worker's clock did not move, the samples fall back to Node's timing minus
// a request that does no iterations (connect, warm-up and close only), made
// just before; that estimate is reported in the note as a cross-check.
import path from "node:path";
import { Miniflare } from "miniflare";
import {
  commandLine,
  connectionOf,
  failureNote,
  interleaved,
  median,
  packageVersion,
  parseArgs,
  progress,
  root,
  round,
  writeResults,
  utcNow,
} from "./common.mjs";
import { ROWS, createUsers, usersSchema } from "./users.mjs";

const options = parseArgs();
const db = connectionOf(options.url);
const startedAt = utcNow();
const size = options.quick
  ? { fetch: 3, lookup: 100, warmup: 2 }
  : { fetch: 20, lookup: 2000, warmup: 10 };
const compatibilityDate = "2025-09-01";

const serverVersion = await createUsers(db);
const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(root, "bench", "js", "workerd", "worker.mjs"),
  modulesRoot: root,
  // keel ships ES modules with a .js extension; miniflare defaults .js to CommonJS.
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate,
  // postgres.js's Cloudflare build imports node:buffer, node:stream, node:crypto.
  compatibilityFlags: ["nodejs_compat"],
  bindings: {
    PG_HOST: db.host,
    PG_PORT: String(db.port),
    PG_USER: db.user,
    PG_PASSWORD: db.password,
    PG_DATABASE: db.database,
    SCHEMA: JSON.stringify(usersSchema),
  },
});

let offset = 0;
/** One request: resolves to the worker's own timing and Node's wall time around it, in ms. */
async function request(client, workload, iterations) {
  const params = new URLSearchParams({ client, workload, iterations, warmup: size.warmup, offset });
  offset += size.warmup + iterations;
  const start = performance.now();
  const response = await mf.dispatchFetch(`http://worker/run?${params}`);
  const body = await response.json();
  const outer = performance.now() - start;
  if (response.status !== 200) throw new Error(body.error ?? `status ${response.status}`);
  return { inner: body.perf_ms, date: body.date_ms, outer };
}

const contenders = [{ name: "keel-wasm (cloudflare:sockets)", client: "keel" }, { name: "postgres", client: "postgres" }];

/**
 * Runs one workload for every contender; `toSample(ms, iterations)` turns
 * elapsed milliseconds into the workload's unit. Returns the medians and
 * samples, and how the clock check went.
 */
async function measure(workload, iterations, toSample) {
  const clock = { inner: [], outer: [], frozen: 0, fromNode: new Map() };
  // The first request of a client loads the worker's modules (and keel its
  // wasm): keep that out of every sample.
  for (const c of contenders) await request(c.client, workload, 1).catch(() => {});
  const result = await interleaved(contenders, options.repeats, async (c) => {
    // A request with no iterations (connect, warm-up, close) just before, for Node's estimate.
    const empty = await request(c.client, workload, 0);
    const t = await request(c.client, workload, iterations);
    clock.inner.push(t.inner);
    clock.outer.push(t.outer);
    const fromNode = toSample(Math.max(t.outer - empty.outer, 0), iterations);
    clock.fromNode.set(c.name, [...(clock.fromNode.get(c.name) ?? []), fromNode]);
    if (!(t.inner > 0)) {
      clock.frozen++;
      return fromNode;
    }
    return toSample(t.inner, iterations);
  });
  return { ...result, clock };
}

/** How the samples were timed, with Node's estimate beside the worker's as a cross-check. */
function clockNote(clock, unit) {
  const cross = [...clock.fromNode]
    .map(([name, values]) => `${name} ${round(median(values))} ${unit}`)
    .join(", ");
  if (clock.frozen === 0) {
    return `timed inside the worker with performance.now(), which advanced across the awaited socket I/O; cross-check from Node (request wall time minus that of a request with no iterations just before): ${cross}`;
  }
  return `the worker's clock did not advance in ${clock.frozen} of ${clock.inner.length} samples; those were timed from Node around the request minus a request with no iterations (${cross})`;
}

const workloads = [];
try {
  console.error(`workerd suite: ${options.repeats} repeats${options.quick ? " (quick)" : ""}`);
  const fetch = await measure("fetch", size.fetch, (ms, n) => (ROWS * n) / (ms / 1000));
  workloads.push({
    group: "workerd",
    name: "fetch 10,000 rows",
    param: `N = ${ROWS}`,
    unit: "rows/s",
    better: "higher",
    baseline: "postgres",
    target: null,
    medians: fetch.medians,
    samples: fetch.samples,
    note: [
      `SELECT id, name, hair_color FROM users, ${size.fetch} fetches per request, one request per sample, both clients over cloudflare:sockets; ${clockNote(fetch.clock, "rows/s")}`,
      failureNote(fetch.failed),
    ]
      .filter(Boolean)
      .join("; "),
  });
  progress(workloads.at(-1));

  const lookup = await measure("lookup", size.lookup, (ms, n) => (ms * 1000) / n);
  workloads.push({
    group: "workerd",
    name: "primary-key lookups",
    param: `${size.lookup} sequential`,
    unit: "µs",
    better: "lower",
    baseline: "postgres",
    target: null,
    medians: lookup.medians,
    samples: lookup.samples,
    note: [`SELECT … WHERE id = $1 awaited one after another inside the worker; ${clockNote(lookup.clock, "µs")}`, failureNote(lookup.failed)]
      .filter(Boolean)
      .join("; "),
  });
  progress(workloads.at(-1));
} finally {
  await mf.dispose();
}

await writeResults(options.out, {
  suite: "workerd",
  started_at: startedAt,
  command: commandLine(),
  versions: {
    "keel-orm": await packageVersion("keel-orm"),
    postgres: await packageVersion("postgres"),
    miniflare: await packageVersion("miniflare"),
    workerd: await packageVersion("workerd"),
    "workerd compatibility date": compatibilityDate,
    node: process.version,
    postgresql: serverVersion,
  },
  repeats: options.repeats,
  workloads,
});
console.error(`workerd suite: wrote ${options.out}`);
