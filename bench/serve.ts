import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Table from "cli-table3";
import { pino } from "pino";
import { configSchema } from "../src/config/schema.js";
import { systemClock } from "../src/server/clock.js";
import { parseDocument } from "../src/server/intake/parse.js";
import { runDeps } from "../src/server/run-deps.js";
import { type Service, startService } from "../src/server/service.js";
import { openSqliteStore } from "../src/store/sqlite.js";
import { envelope } from "../test/server/events-fixture.js";
import { addUser, createState, startIamEmulator } from "../test/support/iam-emulator/index.js";
import { writeOps } from "../test/support/iam-emulator/write-ops.js";
import { startSqsEmulator } from "../test/support/sqs-emulator/index.js";

// `serve` intake benchmark, in one process with a temp SQLite store:
//   floor  parse + event checks + reconcile called directly (what any intake must do);
//   http   the same events POSTed to /v1/events as JSON lines, BENCH_SERVE_BODY events a body;
//   sqs    the same events, one per message as EventBridge sends them, through the SQS emulator;
// then event-to-quarantine latency: an IAM change by a non-admin user, from the moment it is sent
// (HTTP, or SQS) until the quarantine policy is attached in the IAM emulator, p50 and p99.
// Nothing is asserted; the emulators share this process's CPU, so the figures are conservative.

const TOKEN = "bench-token-0123456789abcdef";
const EVENTS = Number(process.env.BENCH_SERVE_EVENTS ?? 4000);
const BODY = Number(process.env.BENCH_SERVE_BODY ?? 100);
const LATENCY_RUNS = Number(process.env.BENCH_SERVE_LATENCY ?? 50);
const quiet = pino({ level: "silent" });
const ACCOUNT = "123456789012";

const events = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => envelope(`${prefix}${i % 500}`, `${prefix}-${i}`));

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

async function service(dir: string, config: Record<string, unknown>): Promise<Service> {
  const parsed = configSchema.parse({
    store: join(dir, "iamwarden.db"),
    checks: { "iam-change": { adminUsers: ["alice.admin"] } },
    ...config,
    serve: { listen: "127.0.0.1:0", token: TOKEN, ...(config.serve as object) },
  });
  return startService({
    loaded: { config: parsed, baseDir: dir, source: "defaults", deferred: [] },
    storeLocation: join(dir, "iamwarden.db"),
    clock: systemClock,
    log: quiet,
    actor: "bench",
  });
}

async function floor(dir: string): Promise<number> {
  const store = openSqliteStore(join(dir, "floor.db"));
  const deps = runDeps();
  const config = configSchema.parse({ checks: { "iam-change": { adminUsers: ["alice.admin"] } } });
  const lines = events("floor", EVENTS).map((e) => JSON.stringify(e));
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i += BODY) {
    const doc = parseDocument(lines.slice(i, i + BODY).join("\n"), "bench");
    await deps.events(
      {
        loaded: { config, baseDir: dir, source: "defaults", deferred: [] },
        store,
        now: new Date(),
        runId: "bench",
        actor: "bench",
        log: quiet,
      },
      (async function* () {
        yield doc.events;
      })(),
    );
  }
  const s = (performance.now() - t0) / 1000;
  await store.close();
  return s;
}

async function http(dir: string): Promise<number> {
  const svc = await service(dir, {});
  const lines = events("http", EVENTS).map((e) => JSON.stringify(e));
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i += BODY) {
    const r = await fetch(`${svc.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-ndjson" },
      body: lines.slice(i, i + BODY).join("\n"),
    });
    if (r.status !== 200) throw new Error(`intake answered ${r.status}: ${await r.text()}`);
  }
  const s = (performance.now() - t0) / 1000;
  await svc.stop();
  return s;
}

async function sqs(dir: string): Promise<number> {
  const emu = await startSqsEmulator({ account: ACCOUNT });
  const q = emu.createQueue("bench");
  for (const e of events("sqs", EVENTS)) emu.send("bench", JSON.stringify(e));
  // Measured from the first receive: start-up is not intake.
  const svc = await service(dir, { serve: { intake: { sqs: { queueUrl: q.url, waitTimeSeconds: 1 } } } });
  while (!emu.calls.some((c) => c.op === "ReceiveMessage")) await new Promise((r) => setTimeout(r, 1));
  const t0 = performance.now();
  while (emu.remaining("bench").length) await new Promise((r) => setTimeout(r, 5));
  const s = (performance.now() - t0) / 1000;
  await svc.stop();
  await emu.close();
  return s;
}

async function latency(dir: string, via: "http" | "sqs"): Promise<number[]> {
  const state = createState({ homeAccount: ACCOUNT });
  const iam = await startIamEmulator({ state, operations: writeOps() });
  const sqsEmu = via === "sqs" ? await startSqsEmulator({ account: ACCOUNT }) : undefined;
  const q = sqsEmu?.createQueue("latency");
  const svc = await service(dir, {
    aws: { endpoint: iam.url, region: "us-east-1" },
    accounts: [{ id: ACCOUNT }],
    checks: { "iam-change": { adminUsers: ["alice.admin"], quarantine: true } },
    remediation: { accounts: [ACCOUNT] },
    serve: q ? { intake: { sqs: { queueUrl: q.url, waitTimeSeconds: 20 } } } : {},
  });
  const quarantined = (user: string) =>
    JSON.stringify(state.accounts.get(ACCOUNT)?.users.get(user) ?? "").includes("iamwarden-quarantine");
  const out: number[] = [];
  // Run 0 warms up (SDK clients, the account's role): reported runs are steady-state.
  for (let i = -1; i < LATENCY_RUNS; i++) {
    const user = `${via}-intruder-${i}`;
    addUser(state, ACCOUNT, { name: user });
    const body = JSON.stringify(envelope(user, `${via}-lat-${i}`, "AttachUserPolicy"));
    const t0 = performance.now();
    if (q) sqsEmu!.send("latency", body);
    else
      await fetch(`${svc.url}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body,
      });
    while (!quarantined(user)) await new Promise((r) => setImmediate(r));
    if (i >= 0) out.push(performance.now() - t0);
  }
  await svc.stop();
  await sqsEmu?.close();
  await iam.close();
  return out;
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-bench-serve-"));
  try {
    process.env.AWS_ACCESS_KEY_ID ??= "AKIAEXAMPLEBENCH0001";
    process.env.AWS_SECRET_ACCESS_KEY ??= "secret";
    const f = await floor(dir);
    const h = await http(mkdtempSync(join(dir, "h-")));
    const s = await sqs(mkdtempSync(join(dir, "s-")));
    const t = new Table({
      head: ["intake", "events", "seconds", "events/s", "vs floor"],
      style: { head: [], border: [] },
    });
    const row = (name: string, sec: number) => [
      name,
      EVENTS.toLocaleString("en"),
      sec.toFixed(2),
      Math.round(EVENTS / sec).toLocaleString("en"),
      (f / sec).toFixed(2),
    ];
    t.push(
      row("floor: parse + checks + reconcile", f),
      row(`HTTP /v1/events (${BODY} a body)`, h),
      row("SQS (one event a message, 10 a receive)", s),
    );
    process.stdout.write(`${t.toString()}\n`);
    const l = new Table({
      head: ["event → quarantine policy attached", "runs", "p50 ms", "p99 ms", "max ms"],
      style: { head: [], border: [] },
    });
    for (const via of ["http", "sqs"] as const) {
      const xs = await latency(mkdtempSync(join(dir, `l-${via}-`)), via);
      l.push([
        via,
        xs.length,
        percentile(xs, 50).toFixed(1),
        percentile(xs, 99).toFixed(1),
        Math.max(...xs).toFixed(1),
      ]);
    }
    process.stdout.write(`${l.toString()}\ntarget: under 2000 ms for one event with the IAM emulator\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
