// Measures what the npm package costs an edge deployment: the wasm and JS
// glue sizes (raw and gzip -9) and the time to compile and instantiate the
// wasm in Node (median of repeated runs, each in a fresh module instance).
// bench/js/wasm.mjs imports `measureWasm` for the benchmark run.
//
// usage: node bench/js/wasm-size.mjs [--runs N] [--markdown]
import { readFile, readdir } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

/**
 * Sizes of the wasm and of the JS glue (raw and gzip -9, bytes), and `runs`
 * compile+instantiate times in ms (unsorted, in run order).
 */
export async function measureWasm(runs) {
  const wasm = await readFile(path.join(root, "js", "wasm", "keel_wasm_bg.wasm"));
  const glueFiles = [
    path.join(root, "js", "wasm", "keel_wasm.js"),
    ...(await readdir(path.join(root, "js", "dist")))
      .filter((f) => f.endsWith(".js"))
      .map((f) => path.join(root, "js", "dist", f)),
  ];
  const glue = Buffer.concat(await Promise.all(glueFiles.map((f) => readFile(f))));

  // Instantiate against stub imports: this times the wasm itself, not the
  // evaluation of the JS glue (which the size table accounts for).
  const imports = WebAssembly.Module.imports(await WebAssembly.compile(wasm));
  const importObject = {};
  for (const { module, name, kind } of imports) {
    importObject[module] ??= {};
    importObject[module][name] = kind === "function" ? () => {} : undefined;
  }
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const module = await WebAssembly.compile(wasm);
    await WebAssembly.instantiate(module, importObject);
    times.push(performance.now() - start);
  }
  return {
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gz(wasm),
    glue_bytes: glue.length,
    glue_gzip_bytes: gz(glue),
    times,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const runs = Number(args[args.indexOf("--runs") + 1]) || 50;
  const markdown = args.includes("--markdown");
  const { times, ...sizes } = await measureWasm(runs);
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const result = { ...sizes, instantiate_ms_median: Number(median.toFixed(2)), runs };
  if (!markdown) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    const totalGz = result.wasm_gzip_bytes + result.glue_gzip_bytes;
    console.log(`| artefact | raw | gzip -9 |
|---|---|---|
| \`keel_wasm_bg.wasm\` | ${kb(result.wasm_bytes)} | ${kb(result.wasm_gzip_bytes)} |
| JS glue (\`keel_wasm.js\` + \`dist/*.js\`) | ${kb(result.glue_bytes)} | ${kb(result.glue_gzip_bytes)} |
| **total** | ${kb(result.wasm_bytes + result.glue_bytes)} | **${kb(totalGz)}** |

Compile + instantiate in Node ${process.version}: **${result.instantiate_ms_median} ms** (median of ${runs}).

Targets: at most 150 KB gzipped (${totalGz <= 150 * 1024 ? "met" : "**not met**"}); at most 5 ms to compile and instantiate (${median <= 5 ? "met" : "**not met**"}).`);
  }
}
