// A Cloudflare Worker that runs keel, used by tests/workerd.test.mjs inside
// workerd (through miniflare). The wasm arrives as an imported module, the
// only way Workers allow: compiling wasm from bytes at run time is refused.
import { connect as tcpConnect } from "cloudflare:sockets";
// The package's workerd entry imports its wasm as a module, as a bundler would resolve it.
import { Schema, connect, init, socketTransport, webSocketTransport } from "../../js/dist/workerd.js";

let moduleScopeClient = null;

async function openClient(env, transportName) {
  await init();
  const schema = new Schema(env.SCHEMA);
  const transport =
    transportName === "websocket"
      ? await webSocketTransport(env.PROXY_URL)
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
          const client = await openClient(env, url.searchParams.get("transport"));
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
        default:
          return new Response("not found", { status: 404 });
      }
    } catch (error) {
      return failure(error);
    }
  },
};
