// The worker bench/js/workerd.mjs runs inside workerd (through miniflare):
// keel, and postgres.js as the peer, over cloudflare:sockets straight to
// PostgreSQL. One request = one sample: it opens a connection (Workers cannot
// keep I/O objects across requests), warms up, runs `iterations` of the
// workload and reports how long they took by the worker's own clocks.
//
// GET /run?client=keel|postgres&workload=fetch|lookup&iterations=N&warmup=W&offset=K
import { connect as tcpConnect } from "cloudflare:sockets";
import { Schema, connect, eq, init, socketTransport } from "../../../js/dist/workerd.js";
// postgres.js's own Cloudflare build (its "workerd" export), which needs nodejs_compat.
import postgres from "../../../node_modules/postgres/cf/src/index.js";

const ROWS = 10_000;
const idAt = (i) => ((i * 7919) % ROWS) + 1;

async function keelClient(env) {
  await init();
  const client = await connect(
    socketTransport(tcpConnect({ hostname: env.PG_HOST, port: Number(env.PG_PORT) })),
    new Schema(env.SCHEMA),
    { user: env.PG_USER, password: env.PG_PASSWORD, database: env.PG_DATABASE },
  );
  const users = () => client.from("users").columns("id", "name", "hair_color");
  return {
    fetchAll: () => users().all(),
    lookup: async (id) => (await users().where(eq("id", id)).all())[0],
    close: () => client.close(),
  };
}

function postgresClient(env) {
  const sql = postgres({
    host: env.PG_HOST,
    port: Number(env.PG_PORT),
    user: env.PG_USER,
    password: env.PG_PASSWORD,
    database: env.PG_DATABASE,
    max: 1,
    onnotice: () => {},
  });
  return {
    fetchAll: () => sql`SELECT id, name, hair_color FROM users`,
    lookup: async (id) => (await sql`SELECT id, name, hair_color FROM users WHERE id = ${id}`)[0],
    close: () => sql.end({ timeout: 5 }),
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function run(env, params) {
  const name = params.get("client");
  const workload = params.get("workload");
  const iterations = Number(params.get("iterations"));
  const warmup = Number(params.get("warmup"));
  const offset = Number(params.get("offset"));
  const client = name === "keel" ? await keelClient(env) : name === "postgres" ? postgresClient(env) : null;
  if (client === null) throw new Error(`unknown client ${name}`);
  try {
    const step =
      workload === "fetch"
        ? async () => {
            const rows = await client.fetchAll();
            if (rows.length !== ROWS) throw new Error(`${name} fetched ${rows.length} rows`);
          }
        : async (i) => {
            const row = await client.lookup(idAt(offset + i));
            if (Number(row?.id) !== idAt(offset + i)) throw new Error(`${name} looked up the wrong row`);
          };
    for (let i = 0; i < warmup; i++) await step(i);
    // workerd's clocks stand still while JavaScript runs and move on at the
    // next I/O event: a zero timer before each reading makes it include the
    // decoding done after the last socket read.
    await tick();
    const perfStart = performance.now();
    const dateStart = Date.now();
    for (let i = 0; i < iterations; i++) await step(warmup + i);
    await tick();
    return { perf_ms: performance.now() - perfStart, date_ms: Date.now() - dateStart };
  } finally {
    await client.close();
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/run") return new Response("not found", { status: 404 });
    try {
      return Response.json(await run(env, url.searchParams));
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
