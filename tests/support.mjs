// Shared plumbing for the Node tests: the throwaway server from scripts/test,
// the native binaries, and the WebSocket proxy.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const binDir = process.env.KEEL_BIN_DIR ?? path.join(root, "target", "debug");

/**
 * The throwaway PostgreSQL started by scripts/test, or null (after printing
 * one line) when these tests run without it. With KEEL_REQUIRE_DB=1 a missing
 * server is an error, so CI cannot pass by skipping.
 */
export function server(t) {
  const url = process.env.KEEL_PG_URL;
  if (url) {
    return {
      url,
      host: process.env.KEEL_PG_HOST,
      port: process.env.KEEL_PG_PORT,
      user: process.env.KEEL_PG_USER,
      password: process.env.KEEL_PG_PASSWORD,
    };
  }
  if (process.env.KEEL_REQUIRE_DB === "1") throw new Error("KEEL_PG_URL is not set but KEEL_REQUIRE_DB=1");
  t.skip("no PostgreSQL: KEEL_PG_URL is not set (run scripts/test)");
  return null;
}

/** Runs a native binary from target/ and resolves to its stdout. */
export async function run(bin, args) {
  const child = spawn(path.join(binDir, bin), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const [code] = await once(child, "close");
  if (code !== 0) throw new Error(`${bin} ${args.join(" ")} exited with ${code}: ${stderr}`);
  return stdout;
}

/**
 * Starts keel-proxy on a free port; resolves to { url, port, stats, stop }.
 * `args` are extra command-line flags; `--target host:port` is added when
 * `target` is given. `stats` collects the per-connection JSON lines that
 * `--stats` prints.
 */
export async function startProxy({ target, args = [] } = {}) {
  const argv = ["--listen", "127.0.0.1:0", "--stats", ...args];
  if (target) argv.push("--target", target);
  const child = spawn(path.join(binDir, "keel-proxy"), argv, { stdio: ["ignore", "pipe", "inherit"] });
  const stats = [];
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      let newline;
      while ((newline = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, newline);
        out = out.slice(newline + 1);
        const m = /^listening on (ws:\/\/\S+)/.exec(line);
        if (m) resolve(m[1]);
        else if (line.startsWith("{")) stats.push(JSON.parse(line));
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`keel-proxy exited early with ${code}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    stats,
    /** Kills the proxy outright (SIGKILL): every relayed connection drops mid-stream. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await once(child, "exit");
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

/**
 * A TCP relay to `target` ("host:port") on a free port, standing in for the
 * network between a client and PostgreSQL: `destroyAll()` resets every
 * relayed connection at once, as a dropped link would. With `tls: { key, cert }`
 * it answers PostgreSQL's SSLRequest with `S` and terminates TLS itself,
 * relaying plain bytes to the server. Resolves to { port, connections, destroyAll, stop }.
 */
export async function startTcpRelay({ target, tls } = {}) {
  const net = await import("node:net");
  const tlsModule = await import("node:tls");
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const sockets = new Set();
  let connections = 0;
  const track = (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };
  const relay = (client) => {
    const upstream = net.connect({ host, port });
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  };
  const listener = net.createServer((socket) => {
    connections++;
    track(socket);
    if (!tls) return relay(socket);
    socket.once("readable", () => {
      const request = socket.read(8);
      if (request === null || request.readInt32BE(4) !== 80877103) return socket.destroy();
      socket.write("S");
      const secure = new tlsModule.TLSSocket(socket, { isServer: true, key: tls.key, cert: tls.cert });
      track(secure);
      relay(secure);
    });
  });
  await new Promise((resolve) => listener.listen(0, "127.0.0.1", resolve));
  return {
    port: listener.address().port,
    get connections() {
      return connections;
    },
    /** Resets every relayed connection, both sides, at once. */
    destroyAll() {
      for (const socket of sockets) {
        try {
          socket.resetAndDestroy();
        } catch {
          socket.destroy();
        }
      }
    },
    async stop() {
      this.destroyAll();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}

/**
 * A self-signed certificate for "localhost" made with the openssl command,
 * or null (tests then skip their TLS part) when openssl is missing.
 */
export async function selfSignedCertificate(dir) {
  const { mkdtemp, readFile } = await import("node:fs/promises");
  const os = await import("node:os");
  const where = await mkdtemp(path.join(dir ?? os.tmpdir(), "keel-cert-"));
  const child = spawn(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost", "-keyout", path.join(where, "key.pem"), "-out", path.join(where, "cert.pem")],
    { stdio: "ignore" },
  );
  const [code] = await once(child, "close").catch(() => [null]);
  if (code !== 0) return null;
  return { key: await readFile(path.join(where, "key.pem"), "utf8"), cert: await readFile(path.join(where, "cert.pem"), "utf8") };
}

/**
 * A worker in workerd through miniflare: `scriptPath` with the modules under
 * `modulesRoot` and `bindings` as its env. keel ships ES modules with a .js
 * extension (miniflare would take .js for CommonJS) and its wasm is imported
 * as a compiled module, as Workers require. `trustedCertificates` (PEM)
 * are CAs the worker's TLS connections accept besides the system's.
 */
export async function startWorker({ scriptPath, modulesRoot, bindings, trustedCertificates }) {
  const { Miniflare } = await import("miniflare");
  return new Miniflare({
    // The worker's outbound network, with extra CAs for its TLS connections
    // (a test's self-signed certificate); loopback addresses stay reachable.
    ...(trustedCertificates
      ? { outboundService: { network: { allow: ["public", "private", "local"], tlsOptions: { trustedCertificates } } } }
      : {}),
    modules: true,
    scriptPath,
    modulesRoot,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-09-01",
    bindings,
  });
}
