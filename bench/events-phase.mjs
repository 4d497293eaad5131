// One phase of the event replay benchmark (bench/events.ts), in a process of its own so that its
// peak RSS is its own. Plain JavaScript on the built modules (`npm run build`), as `iamwarden`
// runs: neither the phase nor its worker threads load a TypeScript loader.
//   node bench/events-phase.mjs floor  <dir>
//   node bench/events-phase.mjs replay <dir> <workers> [concurrency]
// Prints one JSON line: events, bytes, compressed, seconds, cpuSeconds, maxRssMb (and for replay:
// findings, digest, firstFile).

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const built = (path) => new URL(`../dist/${path}`, import.meta.url).href;

function listFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith(".json.gz")) out.push(join(e.parentPath, e.name));
  return out.sort();
}

/** JSON with object keys sorted: the same findings give the same text, however they were built. */
const canonical = (v) =>
  JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );

const cpu = () => {
  const u = process.resourceUsage();
  return (u.userCPUTime + u.systemCPUTime) / 1e6;
};
const rssMb = () => process.resourceUsage().maxRSS / 1024;

/** The single-thread floor: read, gunzip and JSON.parse every file, one after the other. */
function floor(dir) {
  const files = listFiles(dir);
  let events = 0;
  let bytes = 0;
  let compressed = 0;
  const started = performance.now();
  for (const f of files) {
    const gz = readFileSync(f);
    compressed += gz.length;
    const text = gunzipSync(gz).toString("utf8");
    bytes += text.length;
    events += JSON.parse(text).Records.length;
  }
  const seconds = (performance.now() - started) / 1000;
  return { events, bytes, compressed, seconds, cpuSeconds: cpu(), maxRssMb: rssMb() };
}

/** `events replay`'s pipeline with every event check on, `workers` threads, into a temp SQLite store. */
async function replay(dir, workers, concurrency) {
  const [{ parseAllowlist }, { configSchema }, events, { noRoutes }, { discoverInputs }, pool, sqlite] =
    await Promise.all([
      import(built("allowlist/allowlist.js")),
      import(built("config/schema.js")),
      import(built("engine/events.js")),
      import(built("engine/routing.js")),
      import(built("sources/cloudtrail/input-files.js")),
      import(built("sources/events/pool.js")),
      import(built("store/sqlite.js")),
    ]);
  const office = parseAllowlist("198.51.100.0/24\n10.1.0.0/16\n", "office", "office.lst").list;
  const allowlists = { lists: new Map([["office", office]]), defaultNames: ["office"], accounts: {} };
  const config = configSchema.parse({
    checks: {
      "iam-change": { adminUsers: ["admin-0", "admin-1", "admin-2"] },
      "source-ip": { allowlists: { office: "office.lst" }, default: ["office"] },
    },
  });
  const dbDir = join(tmpdir(), `iamwarden-bench-events-db-${process.pid}`);
  mkdirSync(dbDir, { recursive: true });
  const store = sqlite.openSqliteStore(join(dbDir, "store.db"));
  const onProblem = (p) => process.stderr.write(`${p.file}: ${p.error}\n`);
  let skipped = 0;
  let compressed = 0;
  let firstFile = 0;
  const started = performance.now();
  try {
    const r = await events.runEventChecks(
      pool.readEventBatchesPooled(discoverInputs([dir], { onProblem }), {
        workers,
        minFiles: 0,
        concurrency,
        onProblem,
        select: events.eventHeaderFilter(config, allowlists),
        filter: { module: built("engine/events.js"), name: "eventHeaderFilter", args: [config, allowlists] },
        onSkipped: (n) => {
          skipped += n;
        },
        onBytes: (n) => {
          compressed += n;
        },
        // Worker threads start by loading their modules: the time to the first file read says
        // what that costs.
        onFileDone: () => {
          firstFile ||= (performance.now() - started) / 1000;
        },
      }),
      config,
      { store, route: noRoutes, now: new Date("2024-04-01T00:00:00Z"), runId: "bench", allowlists },
    );
    const seconds = (performance.now() - started) / 1000;
    // What the findings say, to compare worker counts: everything but the run's own times.
    if (process.env.BENCH_DUMP) writeFileSync(process.env.BENCH_DUMP, JSON.stringify(r.findings, null, 1));
    const digest = createHash("sha256")
      .update(
        canonical(
          r.findings
            .map((f) => [f.id, f.severity, f.status, f.title, f.owner, f.details])
            .sort((a, b) => (a[0] < b[0] ? -1 : 1)),
        ),
      )
      .digest("hex")
      .slice(0, 12);
    return {
      events: r.events + skipped,
      bytes: 0,
      compressed,
      seconds,
      cpuSeconds: cpu(),
      maxRssMb: rssMb(),
      findings: r.findings.length,
      digest,
      firstFile,
    };
  } finally {
    await store.close();
    rmSync(dbDir, { recursive: true, force: true });
  }
}

const [phase, dir, workers = "0", concurrency = "4"] = process.argv.slice(2);
const result = phase === "floor" ? floor(dir) : await replay(dir, Number(workers), Number(concurrency));
process.stdout.write(`${JSON.stringify(result)}\n`);
