// Plumbing shared by the JS-side benchmark suites (js, workerd, wasm): argument
// parsing, interleaved repeats with medians, versions, and writing the
// results file in the shared contract (bench/README or the lead's brief:
// one JSON file per suite, read by bench/report.mjs).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url));
/** The machine's 1-minute load average when the suite started: other work on it skews the numbers. */
const loadAtStart = os.loadavg()[0];

/**
 * `--url postgres://… --out file.json [--repeats N] [--quick]`. The URL
 * names the database the suite may create its tables in.
 */
export function parseArgs(argv = process.argv.slice(2), { needsUrl = true } = {}) {
  const options = { url: null, out: null, repeats: null, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--url") options.url = value();
    else if (arg === "--out") options.out = value();
    else if (arg === "--repeats") options.repeats = Number(value());
    else if (arg === "--quick") options.quick = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (needsUrl && !options.url) throw new Error("--url is required");
  if (!options.out) throw new Error("--out is required");
  options.repeats ??= options.quick ? 3 : 11;
  if (!Number.isInteger(options.repeats) || options.repeats < 1) throw new Error("--repeats must be a positive integer");
  return options;
}

/** Connection parameters from a postgres:// URL, as the peers' constructors want them. */
export function connectionOf(url) {
  const u = new URL(url);
  return {
    url,
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.replace(/^\//, "") || "postgres",
  };
}

/** Now, as the results contract's `started_at` (whole seconds, UTC). */
export function utcNow() {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rounds to a few significant digits so the JSON stays readable. */
export const round = (x) => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(5)));

/**
 * Runs every contender `repeats` times, interleaved: in repeat r the order is
 * rotated by r, so no contender always runs first (on a cold cache) or last
 * (after the others warmed the server). `measure(contender)` resolves to one
 * sample. A contender that throws is dropped from the workload and its error
 * kept for the note; the others go on.
 */
export async function interleaved(contenders, repeats, measure) {
  const samples = new Map(contenders.map((c) => [c.name, []]));
  const failed = new Map();
  for (let r = 0; r < repeats; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    for (const contender of order) {
      if (failed.has(contender.name)) continue;
      try {
        samples.get(contender.name).push(await measure(contender));
      } catch (error) {
        failed.set(contender.name, error);
        samples.delete(contender.name);
      }
    }
  }
  const medians = {};
  const kept = {};
  for (const [name, values] of samples) {
    medians[name] = round(median(values));
    kept[name] = values.map(round);
  }
  return { medians, samples: kept, failed };
}

/** "x failed: message" for every failed contender, for a workload's note. */
export function failureNote(failed) {
  return [...failed].map(([name, error]) => `${name} failed: ${String(error?.message ?? error).split("\n")[0]}`).join("; ");
}

export async function packageVersion(name) {
  const file = path.join(root, "node_modules", ...name.split("/"), "package.json");
  return JSON.parse(await readFile(file, "utf8")).version;
}

/** Runs a command and resolves to its stdout; rejects with its stderr on failure. */
export async function output(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const [code] = await once(child, "close");
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}: ${stderr.trim()}`);
  return stdout;
}

/** The command line that produced a results file, for its `command` field. */
export function commandLine() {
  const rel = (p) => (path.isAbsolute(p) ? path.relative(root, p) || "." : p);
  // The URL carries a password: name the database only.
  const args = process.argv.slice(2).map((a) => (/^postgres(ql)?:\/\//.test(a) ? `<url>/${new URL(a).pathname.slice(1)}` : a));
  return ["node", rel(process.argv[1]), ...args].join(" ");
}

/** The machine a suite ran on (an optional field of the results contract, shown by the report). */
export async function machine() {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  return {
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memory_gib: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    cpu: model.trim(),
    os: `${os.type()} ${os.release()}`,
    load_average: { start: Number(loadAtStart.toFixed(2)), end: Number(os.loadavg()[0].toFixed(2)) },
  };
}

export async function writeResults(out, results) {
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  const file = { ...results, machine: await machine() };
  await writeFile(out, `${JSON.stringify(file, null, 2)}\n`);
}

/** One line on stderr per finished workload, so a long run shows progress. */
export function progress(workload) {
  const parts = Object.entries(workload.medians).map(([name, m]) => `${name} ${m} ${workload.unit}`);
  console.error(`  ${workload.group} / ${workload.name}${workload.param ? ` (${workload.param})` : ""}: ${parts.join(", ")}`);
  if (workload.note) console.error(`    note: ${workload.note}`);
}
