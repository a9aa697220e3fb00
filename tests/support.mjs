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
