// Writes BENCHMARKS.md and one SVG chart per group (bench/charts/<group>.svg)
// from every results file in bench/results/ (the shared contract: one JSON
// file per suite). Every number in the output comes from those files; the
// prose here only says what each group measures.
//
// usage: node bench/report.mjs [--results DIR] [--out FILE] [--charts DIR]
import { readFile, readdir, writeFile, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? path.resolve(args[i + 1]) : fallback;
};
const resultsDir = option("--results", path.join(root, "bench", "results"));
const outFile = option("--out", path.join(root, "BENCHMARKS.md"));
const chartsDir = option("--charts", path.join(root, "bench", "charts"));
const knownGapsFile = path.join(root, "bench", "known-gaps.md");

/** Suites in the order the runner runs them; any other suite follows, by name. */
const SUITE_ORDER = ["native", "js", "workerd", "wasm"];

/** What each group measures, in a sentence or two; groups not listed get their name only. */
const GROUPS = {
  diesel: {
    title: "Native: the diesel benchmark workloads",
    about: "keel's native driver against tokio-postgres and the other Rust libraries on the diesel_bench workloads (ANCHORS.md), one harness, one runtime, one database.",
  },
  pool: { title: "Native: pooled throughput", about: "Many concurrent clients through a pool, against pgbench on the same server." },
  bulk: { title: "Native: bulk loading", about: "Loading many rows at once (multi-row INSERT and COPY)." },
  starvation: { title: "Native: pool starvation", about: "How long work waits when the pool is saturated." },
  "js-fetch": {
    title: "JS on Node: fetching 10,000 rows",
    about: "keel-orm (the Rust core in wasm) over a WebSocket through keel-proxy, against pg and postgres.js over TCP and @neondatabase/serverless through the same proxy, reading the diesel `users` table into row objects.",
  },
  "js-lookup": {
    title: "JS on Node: primary-key lookups",
    about: "A sequential loop of single-row lookups by primary key: per-query overhead, dominated by round trips.",
  },
  "fan-out": {
    title: "JS on Node: fan-out of independent queries over a slow link",
    about: "Independent queries issued together on one connection, with latency injected in both directions between client and server: pipelining decides whether they cost one round trip or one each.",
  },
  workerd: {
    title: "keel in workerd (Cloudflare Workers runtime)",
    about: "keel inside workerd, driven by miniflare, over `cloudflare:sockets` straight to PostgreSQL, with postgres.js's Cloudflare build in the same worker as the peer.",
  },
  wasm: {
    title: "npm package: wasm size and instantiate time",
    about: "What an edge deployment ships (the wasm module and the JS glue, gzip -9) and how long Node takes to compile and instantiate the wasm.",
  },
  compile: {
    title: "Query compile time",
    about: "`keel_core::compile` of a typical query, from the parsed AST to SQL text and bound parameters: a three-table join (`track` → `album` through a declared relation, then `artist` by an explicit join), three filters, two ORDER BY keys and a LIMIT, against the golden schema (`cargo bench -p keel-core --bench compile`, release profile). Parsing the JSON form is reported separately, since a definition is usually parsed once and compiled many times.",
  },
};

const isKeel = (name) => name.startsWith("keel");

// ------------------------------------------------------------- formatting

/** A number with at most 4 significant digits and thousands separators (e.g. 2,148,000 or 3.705). */
function num(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 10 ? 2 : 3;
  const rounded = abs >= 10000 ? Number(x.toPrecision(4)) : x;
  return rounded.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: digits });
}
const ratioText = (r) => `${r.toFixed(2)}×`;
const esc = (s) => String(s).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
const mdCell = (s) => String(s).replaceAll("|", "\\|");

// ---------------------------------------------------------------- reading

async function readResults() {
  let files;
  try {
    files = (await readdir(resultsDir)).filter((f) => f.endsWith(".json"));
  } catch {
    files = [];
  }
  const suites = [];
  for (const f of files) {
    const data = JSON.parse(await readFile(path.join(resultsDir, f), "utf8"));
    if (!Array.isArray(data.workloads)) throw new Error(`${f}: no workloads array (not a results file?)`);
    suites.push({ file: f, ...data });
  }
  const rank = (s) => (SUITE_ORDER.includes(s.suite) ? SUITE_ORDER.indexOf(s.suite) : SUITE_ORDER.length);
  suites.sort((a, b) => rank(a) - rank(b) || String(a.suite).localeCompare(String(b.suite)));
  return suites;
}

// ----------------------------------------------------------------- ratios

/**
 * For one workload: every keel contender against every peer (ratio =
 * keel / peer in the workload's unit, as the contract defines it), and the
 * target verdicts.
 */
function analyse(w) {
  const names = Object.keys(w.medians ?? {});
  const keels = names.filter(isKeel);
  const peers = names.filter((n) => !isKeel(n));
  const pairs = [];
  for (const k of keels) {
    for (const p of peers) {
      const ratio = w.medians[k] / w.medians[p];
      // How many times better keel is, whatever the unit's direction: > 1 is keel ahead.
      const advantage = w.better === "higher" ? ratio : 1 / ratio;
      pairs.push({ keel: k, peer: p, ratio, advantage });
    }
  }
  const verdicts = [];
  const t = w.target;
  if (t) {
    for (const k of keels.length ? keels : ["keel"]) {
      const value = w.medians[k];
      if ("max_value" in t) {
        verdicts.push({
          keel: k,
          text: `${k} at most ${num(t.max_value)} ${w.unit}`,
          measured: value === undefined ? null : `${num(value)} ${w.unit}`,
          met: value === undefined ? null : value <= t.max_value,
          advantage: value === undefined ? null : t.max_value / value,
          targetAdvantage: 1,
        });
        continue;
      }
      const base = w.baseline;
      const baseValue = base ? w.medians[base] : undefined;
      const ratio = value !== undefined && baseValue !== undefined ? value / baseValue : null;
      const [bound, sign] = "max_ratio" in t ? [t.max_ratio, "≤"] : [t.min_ratio, "≥"];
      verdicts.push({
        keel: k,
        text: `${k} ÷ ${base ?? "baseline"} ${sign} ${bound} (in ${w.unit})`,
        measured: ratio === null ? null : ratioText(ratio),
        met: ratio === null ? null : sign === "≤" ? ratio <= bound : ratio >= bound,
        // Where the target sits on the "times better" scale of the chart.
        targetAdvantage: w.better === "higher" ? bound : 1 / bound,
        peer: base,
      });
    }
  }
  return { keels, peers, pairs, verdicts };
}

const verdictText = (v) => (v.met === null ? "**not measured**" : v.met ? "**met**" : "**not met**");

// ------------------------------------------------------------------ chart

/**
 * One horizontal bar per keel contender and peer (or per target, for a
 * workload without peers), on a log scale of "times better than the peer":
 * bars grow right of 1.0 where keel is ahead and left where it is behind.
 * A tick on a bar marks that comparison's target.
 */
function chart(group, title, workloads) {
  const rows = [];
  for (const w of workloads) {
    const a = analyse(w);
    const label = `${w.name}${w.param ? ` (${w.param})` : ""}`;
    if (a.pairs.length > 0) {
      for (const p of a.pairs) {
        const v = a.verdicts.find((x) => x.keel === p.keel && x.peer === p.peer);
        rows.push({
          workload: label,
          label: `${p.keel} vs ${p.peer}`,
          value: p.advantage,
          target: v?.targetAdvantage,
          detail: `${ratioText(p.advantage)} · ${num(w.medians[p.keel])} vs ${num(w.medians[p.peer])} ${w.unit}`,
        });
      }
    } else {
      for (const v of a.verdicts.filter((x) => x.advantage !== null && x.advantage !== undefined)) {
        rows.push({
          workload: label,
          label: `${v.keel} vs target`,
          value: v.advantage,
          target: 1,
          detail: `${ratioText(v.advantage)} · ${num(w.medians[v.keel])} vs ${num(w.target.max_value)} ${w.unit}`,
        });
      }
    }
  }
  if (rows.length === 0) return null;

  const values = rows.flatMap((r) => [r.value, r.target ?? 1]).filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.min(0.5, 2 ** Math.floor(Math.log2(Math.min(...values))));
  const hi = Math.max(2, 2 ** Math.ceil(Math.log2(Math.max(...values))));
  const left = 380;
  const plotW = 380;
  // Room on the right for "0.56× · 299,400 vs 537,400 rows/s".
  const W = left + plotW + 330;
  const rowH = 22;
  const headH = 52;
  // Workload headings take a row of their own.
  const lines = [];
  let last = null;
  for (const r of rows) {
    if (r.workload !== last) lines.push({ heading: r.workload });
    lines.push(r);
    last = r.workload;
  }
  const plotH = lines.length * rowH + 8;
  const H = headH + plotH + 78;
  const x = (v) => left + (Math.log2(Math.min(Math.max(v, lo), hi) / lo) / Math.log2(hi / lo)) * plotW;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="40" fill="#555">How many times better keel is than each peer, or than its target (log scale; right of 1.0: keel ahead). Generated by scripts/bench.</text>`,
  );
  // Grid and ticks at powers of two.
  const top = headH;
  const bottom = headH + plotH;
  for (let t = lo; t <= hi * 1.0001; t *= 2) {
    const tx = x(t).toFixed(1);
    out.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${bottom}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${tx}" y="${bottom + 15}" text-anchor="middle" fill="#333">${t >= 1 ? t : `1/${1 / t}`}×</text>`);
  }
  lines.forEach((line, i) => {
    const y = top + 4 + i * rowH;
    if (line.heading) {
      out.push(`<text x="12" y="${y + 15}" font-weight="bold">${esc(line.heading)}</text>`);
      return;
    }
    out.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(line.label)}</text>`);
    const x0 = x(1);
    const x1 = x(line.value);
    const ahead = line.value >= 1;
    const metTarget = line.target === undefined || line.value >= line.target;
    out.push(
      `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 3}" width="${Math.max(Math.abs(x1 - x0), 1).toFixed(1)}" height="${rowH - 7}" fill="${ahead ? "#2e7d32" : "#c62828"}" fill-opacity="${metTarget ? 0.85 : 0.55}"/>`,
    );
    if (line.target !== undefined && Number.isFinite(line.target)) {
      const tx = x(line.target).toFixed(1);
      out.push(`<line x1="${tx}" y1="${y}" x2="${tx}" y2="${y + rowH - 1}" stroke="#1565c0" stroke-width="3"/>`);
    }
    out.push(`<text x="${left + plotW + 10}" y="${y + 15}" fill="#333">${esc(line.detail)}</text>`);
  });
  // The parity line over the bars.
  out.push(`<line x1="${x(1).toFixed(1)}" y1="${top - 4}" x2="${x(1).toFixed(1)}" y2="${bottom}" stroke="#000" stroke-width="1.5"/>`);
  out.push(
    `<text x="${left + plotW / 2}" y="${bottom + 34}" text-anchor="middle" fill="#333">times better than the peer: peer time ÷ keel time, or keel throughput ÷ peer throughput (vs a target: target ÷ value)</text>`,
  );
  // Legend.
  const ly = bottom + 52;
  out.push(
    `<rect x="12" y="${ly}" width="14" height="12" fill="#2e7d32" fill-opacity="0.85"/><text x="32" y="${ly + 10}">keel ahead</text>`,
    `<rect x="122" y="${ly}" width="14" height="12" fill="#c62828" fill-opacity="0.85"/><text x="142" y="${ly + 10}">keel behind</text>`,
    `<rect x="242" y="${ly}" width="14" height="12" fill="#888" fill-opacity="0.55"/><text x="262" y="${ly + 10}">paler: target not met</text>`,
    `<line x1="412" y1="${ly - 1}" x2="412" y2="${ly + 13}" stroke="#1565c0" stroke-width="3"/><text x="420" y="${ly + 10}">target</text>`,
    `<line x1="492" y1="${ly - 1}" x2="492" y2="${ly + 13}" stroke="#000" stroke-width="1.5"/><text x="500" y="${ly + 10}">1.0: as good as the peer (or exactly on target)</text>`,
  );
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

// --------------------------------------------------------------- markdown

function workloadTable(w) {
  const a = analyse(w);
  const lines = [];
  lines.push(`#### ${w.name}${w.param ? ` (${w.param})` : ""}`, "");
  const names = Object.keys(w.medians ?? {});
  // Ratio columns only where there is a peer to divide by.
  const ratioKeels = a.peers.length > 0 ? a.keels : [];
  const head = ["contender", `median (${w.unit}, ${w.better} is better)`, "samples: min – max (n)", ...ratioKeels.map((k) => `${k} ÷ this`)];
  lines.push(`| ${head.map(mdCell).join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const n of names) {
    const s = w.samples?.[n] ?? [];
    const spread = s.length ? `${num(Math.min(...s))} – ${num(Math.max(...s))} (${s.length})` : "";
    const ratios = ratioKeels.map((k) => {
      if (isKeel(n)) return "";
      const r = w.medians[k] / w.medians[n];
      return n === w.baseline ? `**${r.toFixed(2)}**` : r.toFixed(2);
    });
    const label = n === w.baseline ? `${n} (baseline)` : n;
    lines.push(`| ${[label, num(w.medians[n]), spread, ...ratios].map(mdCell).join(" | ")} |`);
  }
  lines.push("");
  for (const v of a.verdicts) {
    lines.push(`Target: ${v.text}: ${verdictText(v)}${v.measured ? ` (measured ${v.measured})` : ""}.`, "");
  }
  if (w.note) lines.push(`*Measured:* ${w.note}`, "");
  return lines.join("\n");
}

function versionsTable(suites) {
  const versions = new Map();
  for (const s of suites) {
    for (const [name, v] of Object.entries(s.versions ?? {})) {
      if (!versions.has(name)) versions.set(name, new Map());
      const byValue = versions.get(name);
      byValue.set(v, [...(byValue.get(v) ?? []), s.suite]);
    }
  }
  const lines = ["| component | version | suites |", "|---|---|---|"];
  for (const [name, byValue] of versions) {
    for (const [v, where] of byValue) lines.push(`| ${mdCell(name)} | ${mdCell(v)} | ${where.join(", ")} |`);
  }
  return lines.join("\n");
}

/** "js 9.6 → 7.9, wasm 3.1 → 2.0": each suite's 1-minute load average at its start and end. */
function loadText(suites) {
  const parts = suites
    .filter((s) => s.machine?.load_average)
    .map((s) => `${s.suite} ${s.machine.load_average.start} → ${s.machine.load_average.end}`);
  return parts.length ? parts.join(", ") : null;
}

function machineText(suites) {
  const seen = new Map();
  for (const s of suites) {
    if (!s.machine) continue;
    // The load differs per suite by nature; it is reported on its own line.
    const { load_average: _, ...m } = s.machine;
    const text = `${m.cores} cores, ${m.memory_gib} GiB memory, CPU ${m.cpu}${m.os ? `, ${m.os}` : ""}`;
    seen.set(text, [...(seen.get(text) ?? []), s.suite]);
  }
  if (seen.size === 0) return "not recorded in the results files";
  if (seen.size === 1) return [...seen.keys()][0];
  return [...seen].map(([text, where]) => `${text} (${where.join(", ")})`).join("; ");
}

async function main() {
  const suites = await readResults();
  if (suites.length === 0) throw new Error(`no results in ${resultsDir}: run scripts/bench first`);
  const knownGaps = (await readFile(knownGapsFile, "utf8").catch(() => "")).trim();

  // Groups in the order they first appear.
  const groups = new Map();
  for (const s of suites) {
    for (const w of s.workloads) {
      if (!groups.has(w.group)) groups.set(w.group, []);
      groups.get(w.group).push({ ...w, suite: s.suite });
    }
  }

  await mkdir(chartsDir, { recursive: true });
  for (const f of await readdir(chartsDir)) {
    if (f.endsWith(".svg")) await rm(path.join(chartsDir, f));
  }
  const chartPaths = new Map();
  for (const [group, workloads] of groups) {
    const svg = chart(group, GROUPS[group]?.title ?? group, workloads);
    if (svg === null) continue;
    const file = path.join(chartsDir, `${group}.svg`);
    await writeFile(file, svg);
    chartPaths.set(group, path.relative(path.dirname(outFile), file).split(path.sep).join("/"));
  }

  const dates = suites.map((s) => s.started_at).filter(Boolean).sort();
  const md = [];
  md.push(
    "# Benchmarks",
    "",
    "<!-- Generated by bench/report.mjs from bench/results/*.json: edit those scripts or bench/known-gaps.md, not this file. -->",
    "",
    `Run: ${dates.length ? `${dates[0]} to ${dates.at(-1)}` : "date not recorded"} (UTC).`,
    "",
    ...(suites.some((s) => /--quick/.test(s.command ?? ""))
      ? [
          `**Quick run** (${suites.filter((s) => /--quick/.test(s.command ?? "")).map((s) => s.suite).join(", ")}): a smoke test with fewer repeats and iterations; do not quote these numbers.`,
          "",
        ]
      : []),
    `Machine: ${machineText(suites)}. Other work may have shared the machine; only ratios measured in the same run are compared.`,
    "",
    ...(loadText(suites)
      ? [`Load average (1 minute) at the start and end of each suite, for a ${suites.find((s) => s.machine)?.machine.cores ?? "?"}-core machine: ${loadText(suites)}.`, ""]
      : []),
    "Command (installs what is missing, starts a throwaway PostgreSQL, builds in release, runs every suite, writes this file and the charts):",
    "",
    "```sh",
    "scripts/bench            # all suites; --quick for a smoke run, --only js,wasm for some",
    "```",
    "",
    "Suites in this report, each with the command it ran and its results file:",
    "",
    "| suite | command | repeats | started | results |",
    "|---|---|---:|---|---|",
    ...suites.map(
      (s) => `| ${s.suite} | \`${mdCell(s.command ?? "")}\` | ${s.repeats ?? ""} | ${s.started_at ?? ""} | [bench/results/${s.file}](bench/results/${s.file}) |`,
    ),
    "",
    "## How to read",
    "",
    "Each workload runs every contender in turn, in an order rotated on every repeat, after a warm-up; a table gives each contender's median over the repeats (one sample per repeat) and the spread of its samples. Contenders whose name starts with `keel` are keel; the others are peers. The ratio columns give keel's median divided by the peer's, in the workload's unit: for times (µs, ms) below 1.0 means keel is faster, for throughputs (rows/s) above 1.0 means keel is faster. The bold ratio is against the baseline the target is stated against. The charts show the same comparisons on one scale where right of 1.0 always means keel is ahead (peer time ÷ keel time, or keel throughput ÷ peer throughput), with each target marked; for workloads with no peer they compare the value with its target. A contender that failed is absent from the table and named in the *Measured* note.",
    "",
  );

  const targets = [];
  for (const [, workloads] of groups) {
    for (const w of workloads) for (const v of analyse(w).verdicts) targets.push({ w, v });
  }
  if (targets.length > 0) {
    md.push("## Targets", "", "| group | workload | target | measured | result |", "|---|---|---|---|---|");
    for (const { w, v } of targets) {
      md.push(
        `| ${w.group} | ${mdCell(`${w.name}${w.param ? ` (${w.param})` : ""}`)} | ${mdCell(v.text)} | ${v.measured ?? "—"} | ${verdictText(v)} |`,
      );
    }
    md.push("");
  }

  for (const [group, workloads] of groups) {
    const info = GROUPS[group];
    md.push(`## ${info?.title ?? group}`, "");
    if (info?.about) md.push(info.about, "");
    if (chartPaths.has(group)) md.push(`![${info?.title ?? group}](${chartPaths.get(group)})`, "");
    for (const w of workloads) md.push(workloadTable(w));
  }

  md.push("## Versions", "", versionsTable(suites), "");
  md.push("## Known gaps", "", knownGaps || "(bench/known-gaps.md is empty.)", "");
  await writeFile(outFile, `${md.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`);
  console.error(`report: wrote ${path.relative(root, outFile)} and ${chartPaths.size} chart(s) in ${path.relative(root, chartsDir)}/`);
}

await main();
