// The wasm suite: the npm package's size and Node's compile+instantiate time
// (group "wasm"), and the core's query compile time from
// `cargo bench -p keel-core --bench compile` (group "compile"). Writes
// bench/results/wasm.json (the shared contract). Needs scripts/build-wasm first.
//
// usage: node bench/js/wasm.mjs --out bench/results/wasm.json [--repeats N] [--quick]
import { commandLine, median, output, packageVersion, parseArgs, progress, root, round, utcNow, writeResults } from "./common.mjs";
import { measureWasm } from "./wasm-size.mjs";

const options = parseArgs(process.argv.slice(2), { needsUrl: false });
const startedAt = utcNow();
/** Compile+instantiate runs per sample; the sample is their median. */
const RUNS_PER_SAMPLE = options.quick ? 5 : 10;
const kb = (bytes) => round(bytes / 1024);

console.error(`wasm suite: ${options.repeats} repeats${options.quick ? " (quick)" : ""}`);
const workloads = [];

// Sizes are deterministic: one sample each.
const first = await measureWasm(1);
const size = (name, bytes, target, note) => ({
  group: "wasm",
  name,
  param: "gzip -9",
  unit: "KB",
  better: "lower",
  baseline: null,
  target,
  medians: { keel: kb(bytes) },
  samples: { keel: [kb(bytes)] },
  note,
});
workloads.push(
  size(
    "wasm + JS glue",
    first.wasm_gzip_bytes + first.glue_gzip_bytes,
    { max_value: 150 },
    `what an edge deployment ships: js/wasm/keel_wasm_bg.wasm plus keel_wasm.js and js/dist/*.js; raw ${kb(first.wasm_bytes + first.glue_bytes)} KB`,
  ),
  size("keel_wasm_bg.wasm", first.wasm_gzip_bytes, null, `after wasm-opt -Oz; raw ${kb(first.wasm_bytes)} KB`),
  size("JS glue", first.glue_gzip_bytes, null, `keel_wasm.js and js/dist/*.js; raw ${kb(first.glue_bytes)} KB`),
);
for (const w of workloads) progress(w);

const instantiate = [];
for (let r = 0; r < options.repeats; r++) instantiate.push(median((await measureWasm(RUNS_PER_SAMPLE)).times));
workloads.push({
  group: "wasm",
  name: "compile + instantiate in Node",
  param: "",
  unit: "ms",
  better: "lower",
  baseline: null,
  target: { max_value: 5 },
  medians: { keel: round(median(instantiate)) },
  samples: { keel: instantiate.map(round) },
  note: `WebAssembly.compile + instantiate of the wasm against stub imports (the JS glue's evaluation is not included); each sample is the median of ${RUNS_PER_SAMPLE} runs`,
});
progress(workloads.at(-1));

// The compile benchmark prints its median per-compile time over 31 batches
// and the JSON parse time; each run of it is one sample.
const compile = [];
const parse = [];
for (let r = 0; r < options.repeats; r++) {
  const out = await output("cargo", ["bench", "--quiet", "-p", "keel-core", "--bench", "compile"], { cwd: root });
  const c = /median ([\d.]+) µs/.exec(out);
  const p = /parse the JSON form of the same query: ([\d.]+) µs/.exec(out);
  if (!c || !p) throw new Error(`cannot parse the compile benchmark's output:\n${out}`);
  compile.push(Number(c[1]));
  parse.push(Number(p[1]));
}
const compileWorkload = (name, values, target, note) => ({
  group: "compile",
  name,
  param: "",
  unit: "µs",
  better: "lower",
  baseline: null,
  target,
  medians: { keel: round(median(values)) },
  samples: { keel: values.map(round) },
  note,
});
workloads.push(
  compileWorkload(
    "compile a three-table join",
    compile,
    { max_value: 20 },
    "keel_core::compile from the parsed AST to SQL and parameters (core/benches/compile.rs: two joins, three filters, two ORDER BY keys, LIMIT); each sample is one run's median over 31 batches of 2,000 compiles",
  ),
  compileWorkload("parse its JSON form", parse, null, "Query::from_json of the same definition, 2,000 parses per run"),
);
for (const w of workloads.slice(-2)) progress(w);

const rustc = (await output("rustc", ["--version"])).trim().split(" ")[1];
await writeResults(options.out, {
  suite: "wasm",
  started_at: startedAt,
  command: commandLine(),
  versions: {
    "keel-orm": await packageVersion("keel-orm"),
    "wasm-bindgen": (await output("wasm-bindgen", ["--version"])).trim().split(" ")[1],
    binaryen: await packageVersion("binaryen"),
    rustc,
    node: process.version,
  },
  repeats: options.repeats,
  workloads,
});
console.error(`wasm suite: wrote ${options.out}`);
