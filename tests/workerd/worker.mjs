// A Cloudflare Worker that runs keel, used by tests/workerd.test.mjs inside
// workerd (through miniflare). The wasm arrives as an imported module, the
// only way Workers allow: compiling wasm from bytes at run time is refused.
import { connect as tcpConnect } from "cloudflare:sockets";
// The package's workerd entry imports its wasm as a module, as a bundler would resolve it.
import { Schema, connect, init, socketTransport, webSocketTransport } from "../../js/dist/workerd.js";

let moduleScopeClient = null;

/**
 * A TLS socket the PostgreSQL way: the search parameters say where to
 * (`hostname`, `port`), with `name`, which name the certificate must carry
 * when it is not the host name, and with `plain=1`, that the socket is
 * opened without `secureTransport: "starttls"`.
 */
function tlsTransport(params) {
  const address = { hostname: params.get("hostname"), port: Number(params.get("port")) };
  const socket = params.get("plain") === "1" ? tcpConnect(address) : tcpConnect(address, { secureTransport: "starttls" });
  const name = params.get("name");
  return socketTransport(socket, { tls: name === null ? true : { expectedServerHostname: name } });
}

async function openClient(env, transportName, params) {
  await init();
  const schema = new Schema(env.SCHEMA);
  const transport =
    transportName === "websocket"
      ? await webSocketTransport(env.PROXY_URL)
      : transportName === "tls"
        ? await tlsTransport(params)
        : socketTransport(tcpConnect({ hostname: env.PG_HOST, port: Number(env.PG_PORT) }));
  return connect(transport, schema, {
    user: env.PG_USER,
    password: env.PG_PASSWORD,
    database: "music",
    int8: "string",
    timestamptz: "string",
  });
}

function failure(error) {
  return Response.json(
    { error: { name: error?.name, kind: error?.kind, code: error?.code, message: String(error?.message ?? error) } },
    { status: 500 },
  );
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      switch (url.pathname) {
        case "/query": {
          const client = await openClient(env, url.searchParams.get("transport"), url.searchParams);
          try {
            return Response.json(await client.queryDetailed(env.QUERY));
          } finally {
            await client.close();
          }
        }
        case "/invalid": {
          const client = await openClient(env, "socket");
          try {
            await client.query({ version: 1, select: { from: "track", columns: ["nope"] } });
            return Response.json({ unexpected: "query succeeded" });
          } catch (error) {
            return failure(error);
          } finally {
            await client.close();
          }
        }
        // A client kept at module scope by one request and used by the next:
        // the anti-pattern Workers users hit. It must fail clearly, not hang.
        case "/keep": {
          moduleScopeClient = await openClient(env, "socket");
          await moduleScopeClient.query(env.QUERY);
          return Response.json({ kept: true });
        }
        case "/reuse": {
          return Response.json(await moduleScopeClient.query(env.QUERY));
        }
        // Started by tests/broken-connection.test.mjs, which resets the TCP
        // relay between this worker and PostgreSQL while the transaction's
        // sleep runs: every pending request must fail, and promptly.
        case "/broken": {
          const table = url.searchParams.get("table");
          await init();
          const client = await connect(
            socketTransport(tcpConnect({ hostname: env.PG_HOST, port: Number(env.PG_PORT) })),
            new Schema({ tables: [] }),
            { user: env.PG_USER, password: env.PG_PASSWORD, database: "music" },
          );
          const raw = (sql) => ({ version: 1, raw: { sql } });
          const described = (error) => ({ name: error?.name, kind: error?.kind, message: String(error?.message ?? error) });
          let inserted = false;
          let insertDone;
          const afterInsert = new Promise((resolve) => (insertDone = resolve));
          const transaction = client.transaction(async (tx) => {
            await tx.query(raw(`INSERT INTO "${table}" VALUES (1)`));
            inserted = true;
            insertDone();
            await tx.query(raw("SELECT pg_sleep(2)"));
          });
          const outcome = (p) => p.then(() => null, described);
          const transactionOutcome = outcome(transaction);
          await Promise.race([afterInsert, transaction.catch(() => undefined)]);
          const queued = outcome(client.query(raw("SELECT 1")));
          const [transactionError, queuedError] = await Promise.all([transactionOutcome, queued]);
          const later = await outcome(client.query(raw("SELECT 1")));
          return Response.json({ inserted, transaction: transactionError, queued: queuedError, later });
        }
        default:
          return new Response("not found", { status: 404 });
      }
    } catch (error) {
      return failure(error);
    }
  },
};
