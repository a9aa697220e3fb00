// keel in headless Chromium (Debian's, driven by playwright-core): the wasm
// driver on PGlite in the page, and over a WebSocket through keel-proxy to
// the test PostgreSQL. Both must give the native driver's SQL and rows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { root, run, server, startProxy } from "./support.mjs";

const CHROMIUM = process.env.KEEL_CHROMIUM ?? "/usr/bin/chromium";
const music = path.join(root, "examples", "music");
const schemaPath = path.join(music, "schema.json");
const queryPath = path.join(music, "queries", "tracks_of_album.json");
const MIME = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".sql": "text/plain",
};

/** Serves the repository read-only; only paths under the allowed roots. */
function staticServer() {
  const allowed = ["js/dist/", "js/wasm/", "node_modules/@electric-sql/pglite/dist/", "tests/browser/", "examples/music/"];
  const http = createServer(async (request, response) => {
    const pathname = decodeURIComponent(new URL(request.url, "http://x").pathname).replace(/^\/+/, "");
    const file = path.join(root, pathname);
    if (!allowed.some((prefix) => pathname.startsWith(prefix)) || !file.startsWith(root) || pathname.includes("..")) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": MIME[path.extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => http.listen(0, "127.0.0.1", () => resolve(http)));
}

let browser;
let http;
let proxy;
let results;
let native;

before(async () => {
  const pg = server({ skip() {} });
  if (!pg) return;
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup (or set KEEL_CHROMIUM)`);
  }
  native = JSON.parse(
    await run("keel", ["query", "--detailed", "--schema", schemaPath, `${pg.url}/music`, queryPath]),
  );
  proxy = await startProxy({ target: `${pg.host}:${pg.port}` });
  http = await staticServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage();
  const logs = [];
  page.on("console", (message) => logs.push(message.text()));
  page.on("pageerror", (error) => logs.push(String(error)));
  const query = new URLSearchParams({ proxy: proxy.url, user: pg.user, password: pg.password });
  await page.goto(`http://127.0.0.1:${http.address().port}/tests/browser/index.html?${query}`);
  await page.waitForFunction(() => window.__results !== undefined, null, { timeout: 60_000 }).catch((error) => {
    throw new Error(`the page did not finish: ${error.message}\n${logs.join("\n")}`);
  });
  results = await page.evaluate(() => window.__results);
  assert.equal(results.fatal, undefined, `${results.fatal}\n${logs.join("\n")}`);
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (http ? http.close(resolve) : resolve()));
  await proxy?.stop();
});

for (const [name, key] of [
  ["PGlite in the page", "pglite"],
  ["a WebSocket to keel-proxy", "websocket"],
]) {
  test(`in Chromium with ${name}: same SQL and rows as native`, (t) => {
    if (!server(t)) return;
    const result = results[key];
    assert.equal(result.error, undefined, JSON.stringify(result.error));
    assert.equal(result.ok.sql, native.sql);
    assert.deepStrictEqual(result.ok.params, native.params);
    assert.deepStrictEqual(result.ok.rows, native.rows);
  });
}

test("in Chromium a wrong password is a KeelAuthError with SQLSTATE 28P01", (t) => {
  if (!server(t)) return;
  assert.equal(results.badPassword.ok, undefined);
  assert.equal(results.badPassword.error.name, "KeelAuthError");
  assert.equal(results.badPassword.error.code, "28P01");
});
