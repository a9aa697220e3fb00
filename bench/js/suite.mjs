// The JS suite: keel-orm (wasm) against pg, postgres.js and Neon's driver, on
// Node, in one process. Writes bench/results/js.json (the shared contract).
//
// usage: node bench/js/suite.mjs --url postgres://…/bench_js --out bench/results/js.json [--repeats N] [--quick]
//
// Needs keel-proxy (release build; KEEL_BIN_DIR or $CARGO_TARGET_DIR/release)
// and the wasm package built (scripts/build-wasm).
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import WebSocket from "ws";
import pg from "pg";
import postgres from "postgres";
import { Client as NeonClient } from "@neondatabase/serverless";
import * as keel from "keel-orm";
import {
  commandLine,
  connectionOf,
  failureNote,
  interleaved,
  packageVersion,
  parseArgs,
  progress,
  root,
  writeResults,
  utcNow,
} from "./common.mjs";
import { startRelay } from "./relay.mjs";
import { ROWS, createUsers, idAt, usersSchema } from "./users.mjs";

const options = parseArgs();
const db = connectionOf(options.url);
const startedAt = utcNow();
/** One-way latency injected in each direction for the fan-out workload. */
const DELAY_MS = 5;
const FAN_OUT = 10;
const size = options.quick
  ? { fetches: 3, lookups: 100, batches: 2, warmup: 2 }
  : { fetches: 20, lookups: 2000, batches: 10, warmup: 10 };

const binDir =
  process.env.KEEL_BIN_DIR ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, "target"), "release");

const FETCH_SQL = "SELECT id, name, hair_color FROM users";
const LOOKUP_SQL = "SELECT id, name, hair_color FROM users WHERE id = $1";

/** keel-proxy on a free port, relaying to `db` by default and to any local port named with ?address=. */
async function startProxy() {
  const argv = ["--listen", "127.0.0.1:0", "--target", `${db.host}:${db.port}`, "--allow", "127.0.0.1:*"];
  const child = spawn(path.join(binDir, "keel-proxy"), argv, { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const onData = (d) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) {
        child.stdout.off("data", onData);
        child.stdout.resume();
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`keel-proxy exited early with ${code}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

// ------------------------------------------------------------ contenders

/**
 * A route is where a contender's connection goes: PostgreSQL itself, or the
 * latency relay in front of it. `proxy` is keel-proxy, for the WebSocket
 * clients; `{host, port}` is the TCP endpoint (the server or the relay).
 */

async function keelSession(transport) {
  await keel.init();
  const client = await keel.connect(transport, new keel.Schema(usersSchema), {
    user: db.user,
    password: db.password,
    database: db.database,
  });
  const lookup = (id) => client.from("users").columns("id", "name", "hair_color").where(keel.eq("id", id)).all();
  return {
    fetchAll: () => client.from("users").columns("id", "name", "hair_color").all(),
    lookup: async (id) => (await lookup(id))[0],
    promiseAll: (ids) => Promise.all(ids.map(lookup)),
    pipeline: async (ids) => {
      const settled = await client.pipeline(
        ids.map((id) => client.from("users").columns("id", "name", "hair_color").where(keel.eq("id", id))),
      );
      return settled.map((s) => {
        if (s.status === "rejected") throw s.reason;
        return s.value;
      });
    },
    close: () => client.close(),
  };
}

async function neonSession(route) {
  const client = new NeonClient({ ...db, host: route.host, port: route.port });
  client.neonConfig.webSocketConstructor = WebSocket;
  client.neonConfig.wsProxy = (host, port) => `127.0.0.1:${route.proxy.port}/v2?address=${host}:${port}`;
  client.neonConfig.useSecureWebSocket = false;
  // The server only accepts SCRAM, so the login cannot be pipelined.
  client.neonConfig.pipelineConnect = false;
  client.neonConfig.forceDisablePgSSL = true;
  return pgLikeSession(client);
}

async function pgSession(route, clientOptions = {}) {
  return pgLikeSession(new pg.Client({ ...db, host: route.host, port: route.port, ...clientOptions }));
}

/** A session over a client with pg's API (pg itself, and Neon's driver). */
async function pgLikeSession(client) {
  await client.connect();
  const lookup = (id) => client.query(LOOKUP_SQL, [id]).then((r) => r.rows);
  return {
    fetchAll: async () => (await client.query(FETCH_SQL)).rows,
    lookup: async (id) => (await lookup(id))[0],
    promiseAll: (ids) => Promise.all(ids.map(lookup)),
    close: () => client.end(),
  };
}

async function postgresSession(route) {
  const sql = postgres({ ...db, host: route.host, port: route.port, max: 1, onnotice: () => {} });
  const lookup = (id) => sql`SELECT id, name, hair_color FROM users WHERE id = ${id}`;
  // postgres.js connects lazily; connect now so no sample includes the login.
  await sql`SELECT 1`;
  return {
    fetchAll: () => sql`SELECT id, name, hair_color FROM users`,
    lookup: async (id) => (await lookup(id))[0],
    promiseAll: (ids) => Promise.all(ids.map(lookup)),
    close: () => sql.end({ timeout: 5 }),
  };
}

/**
 * The Node TCP transport, once the package exports it (another branch adds
 * it): from the Node entry that "keel-orm" resolves to, or a "keel-orm/node"
 * subpath if the package grows one.
 */
const nodeEntry = await import("keel-orm/node").catch(() => ({}));
const tcpTransport = [keel.tcpTransport, nodeEntry.tcpTransport].find((f) => typeof f === "function") ?? null;

const keelWs = (route) =>
  keel.webSocketTransport(route.tcpIsRelay ? `${route.proxy.url}?address=${route.host}:${route.port}` : route.proxy.url, {
    WebSocket,
  });

/**
 * Every client, each with the call its users would make for the fan-out
 * (`fanOut`): several keel entries differ only in that. `available` is false
 * (with a reason) for a contender this checkout cannot run.
 */
const contenders = [
  {
    name: "keel-wasm (WebSocket)",
    fanOutName: "keel-wasm (WebSocket, pipeline)",
    open: async (r) => keelSession(await keelWs(r)),
    fanOut: "pipeline",
  },
  { name: "keel-wasm (WebSocket, Promise.all)", open: async (r) => keelSession(await keelWs(r)), fanOut: "promiseAll", fanOutOnly: true },
  {
    name: "keel-wasm (TCP)",
    fanOutName: "keel-wasm (TCP, pipeline)",
    available: tcpTransport !== null,
    missing: "keel-orm does not export tcpTransport in this checkout",
    open: async (r) => keelSession(await tcpTransport({ host: r.host, port: r.port })),
    fanOut: "pipeline",
  },
  {
    name: "keel-wasm (TCP, Promise.all)",
    available: tcpTransport !== null,
    missing: "keel-orm does not export tcpTransport in this checkout",
    open: async (r) => keelSession(await tcpTransport({ host: r.host, port: r.port })),
    fanOut: "promiseAll",
    fanOutOnly: true,
  },
  { name: "@neondatabase/serverless", open: neonSession, fanOut: "promiseAll" },
  { name: "pg", open: (r) => pgSession(r), fanOut: "promiseAll" },
  // node-postgres queues Promise.all's queries one at a time unless asked to pipeline (8.23+).
  { name: "pg (pipeline: true)", open: (r) => pgSession(r, { pipeline: true }), fanOut: "promiseAll", fanOutOnly: true },
  { name: "postgres", open: postgresSession, fanOut: "promiseAll" },
];
const skipped = contenders.filter((c) => c.available === false);
const runnable = contenders.filter((c) => c.available !== false);

/** Opens a session per contender; one that cannot connect is recorded as failed. */
async function openAll(list, route) {
  const sessions = new Map();
  const failed = new Map();
  for (const c of list) {
    try {
      sessions.set(c.name, await c.open(route));
    } catch (error) {
      failed.set(c.name, error);
    }
  }
  return { sessions, failed };
}

async function closeAll(sessions) {
  for (const s of sessions.values()) await s.close().catch(() => {});
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function note(text, ...failures) {
  const extra = failures.map(failureNote).filter(Boolean);
  const gaps = skipped.length ? [`${skipped.map((c) => c.name).join(" and ")} skipped: ${skipped[0].missing}`] : [];
  return [text, ...extra, ...gaps].join("; ");
}

// -------------------------------------------------------------- workloads

async function fetchAndLookup(route) {
  const list = runnable.filter((c) => !c.fanOutOnly);
  const { sessions, failed } = await openAll(list, route);
  const live = list.filter((c) => sessions.has(c.name));
  const workloads = [];
  try {
    // Warm up (prepared statements, JIT) and check every client returns the right rows.
    for (const c of live) {
      const s = sessions.get(c.name);
      for (let i = 0; i < size.warmup; i++) {
        const rows = await s.fetchAll();
        check(rows.length === ROWS, `${c.name} fetched ${rows.length} rows, expected ${ROWS}`);
        const row = await s.lookup(idAt(i));
        check(row && Number(row.id) === idAt(i), `${c.name} looked up ${JSON.stringify(row)} for id ${idAt(i)}`);
      }
    }

    const fetch = await interleaved(live, options.repeats, async (c) => {
      const s = sessions.get(c.name);
      const start = performance.now();
      for (let i = 0; i < size.fetches; i++) await s.fetchAll();
      return (ROWS * size.fetches) / ((performance.now() - start) / 1000);
    });
    workloads.push({
      group: "js-fetch",
      name: "fetch 10,000 rows",
      param: `N = ${ROWS}`,
      unit: "rows/s",
      better: "higher",
      baseline: "postgres",
      target: { min_ratio: 1.5 },
      medians: fetch.medians,
      samples: fetch.samples,
      note: note(
        `${FETCH_SQL} into row objects, ${size.fetches} fetches per sample; keel through its builder over keel-proxy, Neon through the same proxy, pg and postgres.js over TCP`,
        failed,
        fetch.failed,
      ),
    });
    progress(workloads.at(-1));

    let next = 0;
    const lookup = await interleaved(live, options.repeats, async (c) => {
      const s = sessions.get(c.name);
      const start = performance.now();
      for (let i = 0; i < size.lookups; i++) await s.lookup(idAt(next++));
      return ((performance.now() - start) * 1000) / size.lookups;
    });
    workloads.push({
      group: "js-lookup",
      name: "primary-key lookups",
      param: `${size.lookups} sequential`,
      unit: "µs",
      better: "lower",
      baseline: "postgres",
      target: null,
      medians: lookup.medians,
      samples: lookup.samples,
      note: note(
        `${LOOKUP_SQL} awaited one after another; each client's default statement handling (keel and postgres.js cache prepared statements, pg and Neon parse each time)`,
        failed,
        lookup.failed,
      ),
    });
    progress(workloads.at(-1));
  } finally {
    await closeAll(sessions);
  }
  return workloads;
}

async function fanOut(route) {
  // In this workload a contender is named after the call it makes as well.
  const list = runnable.map((c) => ({ ...c, name: c.fanOutName ?? c.name }));
  const { sessions, failed } = await openAll(list, route);
  const live = list.filter((c) => sessions.has(c.name));
  const batch = (c, base) => {
    const ids = Array.from({ length: FAN_OUT }, (_, i) => idAt(base + i));
    return { ids, run: sessions.get(c.name)[c.fanOut](ids) };
  };
  try {
    for (const c of live) {
      for (let i = 0; i < size.warmup; i++) {
        const { ids, run } = batch(c, i * FAN_OUT);
        const results = await run;
        check(
          results.every((rows, k) => rows.length === 1 && Number(rows[0].id) === ids[k]),
          `${c.name} fan-out returned wrong rows`,
        );
      }
    }
    let next = 0;
    const result = await interleaved(live, options.repeats, async (c) => {
      const start = performance.now();
      for (let b = 0; b < size.batches; b++) {
        await batch(c, next).run;
        next += FAN_OUT;
      }
      return (performance.now() - start) / size.batches;
    });
    const workload = {
      group: "fan-out",
      name: `${FAN_OUT} independent lookups on one connection`,
      param: `${DELAY_MS} ms each way`,
      unit: "ms",
      better: "lower",
      baseline: "postgres",
      target: null,
      medians: result.medians,
      samples: result.samples,
      note: note(
        `ms per batch of ${FAN_OUT} primary-key lookups issued together on one connection, through a relay adding ${DELAY_MS} ms per direction in front of PostgreSQL (bench/js/relay.mjs; WebSocket clients reach it through keel-proxy); keel-wasm (WebSocket) uses client.pipeline([...]), the "Promise.all" entries and every peer use Promise.all of single queries`,
        failed,
        result.failed,
      ),
    };
    progress(workload);
    return [workload];
  } finally {
    await closeAll(sessions);
  }
}

// ------------------------------------------------------------------- main

const serverVersion = await createUsers(db);
const proxy = await startProxy();
const relay = await startRelay({ host: db.host, port: db.port }, DELAY_MS);
try {
  console.error(`js suite: ${options.repeats} repeats${options.quick ? " (quick)" : ""}`);
  for (const c of skipped) console.error(`  skipping ${c.name}: ${c.missing}`);
  const direct = { proxy, host: db.host, port: db.port, tcpIsRelay: false };
  const delayed = { proxy, host: relay.host, port: relay.port, tcpIsRelay: true };
  const workloads = [...(await fetchAndLookup(direct)), ...(await fanOut(delayed))];
  await writeResults(options.out, {
    suite: "js",
    started_at: startedAt,
    command: commandLine(),
    versions: {
      "keel-orm": await packageVersion("keel-orm"),
      pg: await packageVersion("pg"),
      postgres: await packageVersion("postgres"),
      "@neondatabase/serverless": await packageVersion("@neondatabase/serverless"),
      ws: await packageVersion("ws"),
      node: process.version,
      postgresql: serverVersion,
    },
    repeats: options.repeats,
    workloads,
  });
  console.error(`js suite: wrote ${options.out}`);
} finally {
  await relay.close();
  await proxy.stop();
}
