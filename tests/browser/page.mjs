// Runs in headless Chromium (tests/chromium.test.mjs): the same definition
// through keel's wasm driver on PGlite and over a WebSocket to keel-proxy.
// Parameters come in the page URL; results go to window.__results.
import { PGlite } from "@electric-sql/pglite";
import { Schema, connect, init, pgliteTransport, webSocketTransport } from "keel-orm";

const params = new URL(location.href).searchParams;
const exact = { int8: "string", timestamptz: "string" };

async function text(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.text();
}

async function capture(run) {
  try {
    return { ok: await run() };
  } catch (error) {
    return { error: { name: error?.name, kind: error?.kind, code: error?.code, message: String(error?.message ?? error) } };
  }
}

async function main() {
  await init(); // fetches keel_wasm_bg.wasm next to the module
  const schema = new Schema(await text("/examples/music/schema.json"));
  const query = await text("/examples/music/queries/tracks_of_album.json");
  const results = {};

  results.pglite = await capture(async () => {
    const pg = new PGlite();
    await pg.exec(await text("/examples/music/seed.sql"));
    const client = await connect(pgliteTransport(pg), schema, { user: "postgres", database: "postgres", ...exact });
    const out = await client.queryDetailed(query);
    await client.close();
    await pg.close();
    return out;
  });

  results.websocket = await capture(async () => {
    const transport = await webSocketTransport(params.get("proxy"));
    const client = await connect(transport, schema, {
      user: params.get("user"),
      password: params.get("password"),
      database: "music",
      ...exact,
    });
    const out = await client.queryDetailed(query);
    await client.close();
    return out;
  });

  results.badPassword = await capture(async () => {
    const transport = await webSocketTransport(params.get("proxy"));
    return connect(transport, schema, { user: params.get("user"), password: "wrong", database: "music" });
  });

  window.__results = results;
  document.getElementById("out").textContent = JSON.stringify(results, null, 2);
}

main().catch((error) => {
  window.__results = { fatal: String(error?.stack ?? error) };
});
