import { pathToFileURL } from "node:url";
import {
  GetAccessKeyLastUsedCommand,
  type IAMClient,
  ListAccessKeysCommand,
  paginateListUsers,
} from "@aws-sdk/client-iam";
import Table from "cli-table3";
import { awsClientFactory } from "../src/cloud/aws/clients.js";
import type { AccountTarget } from "../src/cloud/target.js";
import { configSchema } from "../src/config/schema.js";
import { noRoutes } from "../src/engine/routing.js";
import { scanAccounts } from "../src/engine/scan.js";
import { awsAccountReader } from "../src/sources/aws/reader.js";
import { openSqliteStore } from "../src/store/sqlite.js";
import {
  type CallSnapshot,
  type EmulatorChild,
  forkIamEmulator,
} from "../test/support/iam-emulator/serve.js";

// Scan benchmark: one synthetic account of 10,000 IAM users (~12,000 keys) behind the local IAM
// emulator (its own process) with a fixed per-call latency and a request-rate limit answering
// Throttling. Three ways to read it, one after the other in this process:
//   credential-report  iamwarden's report mode: the report, then ListAccessKeys (and ListUserTags)
//                      only for users that have findings; checks and SQLite reconcile included.
//   api                iamwarden's api mode: ListUsers, ListAccessKeys per user, GetAccessKeyLastUsed
//                      per Active key, 8 concurrent calls, adaptive retry; checks and reconcile too.
//   naive              one user at a time, ListAccessKeys then GetAccessKeyLastUsed for each key,
//                      every call awaited before the next (the Lacework script's pattern); measured
//                      on a sample of users and extrapolated linearly, as printed.
// Figures are printed, never asserted. Knobs: BENCH_USERS, BENCH_LATENCY_MS, BENCH_RATE,
// BENCH_NAIVE_SAMPLE, BENCH_PROBLEM_SHARE.

const num = (name: string, def: number) => {
  const v = process.env[name];
  return v === undefined || v === "" ? def : Number(v);
};

interface Measured {
  name: string;
  calls: CallSnapshot;
  ms: number;
  peakRss: number;
  note?: string;
}

const HOME = "111111111111";

/** Peak resident set size while `fn` runs, sampled (the process-wide maxRSS never goes down). */
async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; peakRss: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const t0 = performance.now();
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, ms: performance.now() - t0, peakRss: peak };
  } finally {
    clearInterval(timer);
  }
}

async function iamwardenScan(emu: EmulatorChild, mode: "api" | "credential-report", now: Date) {
  const config = configSchema.parse({ aws: { endpoint: emu.url, mode, concurrency: 8, maxAttempts: 10 } });
  const factory = awsClientFactory(config.aws);
  const store = openSqliteStore(":memory:");
  const target: AccountTarget = { id: HOME, alias: "bench" };
  await emu.reset();
  const run = await measure(() =>
    scanAccounts([target], awsAccountReader(config, factory), config, {
      store,
      route: noRoutes,
      now,
      runId: `bench-${mode}`,
    }),
  );
  const calls = await emu.calls();
  const [r] = run.result;
  const findings = (await store.listFindings({ status: ["open", "suppressed"] })).length;
  await store.close();
  if (!r?.ok) throw new Error(`${mode} scan failed: ${r?.error}`);
  const users = new Set((r.snapshot?.keys ?? []).map((k) => k.user)).size;
  return {
    name: mode,
    calls,
    ms: run.ms,
    peakRss: run.peakRss,
    note: `${findings} findings, ${r.snapshot?.keys.length} keys of ${users} users${r.snapshot?.complete ? "" : ", INCOMPLETE"}`,
  } satisfies Measured;
}

/** The per-user sequential pattern: every call awaited before the next. */
async function naive(iam: IAMClient, sample: number) {
  const users: string[] = [];
  const t0 = performance.now();
  for await (const page of paginateListUsers({ client: iam }, {})) {
    for (const u of page.Users ?? []) if (u.UserName) users.push(u.UserName);
  }
  const listMs = performance.now() - t0;
  let keys = 0;
  const t1 = performance.now();
  for (const user of users.slice(0, sample)) {
    const r = await iam.send(new ListAccessKeysCommand({ UserName: user }));
    for (const k of r.AccessKeyMetadata ?? []) {
      await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: k.AccessKeyId }));
      keys++;
    }
  }
  return { users: users.length, listMs, perUserMs: performance.now() - t1, keys };
}

async function naiveRun(emu: EmulatorChild, sample: number): Promise<Measured> {
  const config = configSchema.parse({ aws: { endpoint: emu.url, maxAttempts: 10 } });
  const iam = awsClientFactory(config.aws).home.iam;
  await emu.reset();
  const run = await measure(() => naive(iam, sample));
  const calls = await emu.calls();
  const { users, listMs, perUserMs, keys } = run.result;
  const listCalls = calls.byAction.ListUsers ?? 0;
  const scale = users / Math.min(sample, users);
  const byAction = Object.fromEntries(
    Object.entries(calls.byAction).map(([a, n]) => [a, a === "ListUsers" ? n : Math.round(n * scale)]),
  );
  return {
    name: scale > 1 ? "naive (extrapolated)" : "naive",
    calls: {
      total: Math.round(listCalls + (calls.total - listCalls) * scale),
      throttled: Math.round(calls.throttled * scale),
      byAction,
    },
    ms: listMs + perUserMs * scale,
    peakRss: run.peakRss,
    note:
      scale > 1
        ? `measured: all ${users} users listed, then ${sample} users (${keys} keys) one by one in ${(perUserMs / 1000).toFixed(1)} s; per-user part × ${scale.toFixed(1)}`
        : `${keys} keys`,
  };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function main(): Promise<void> {
  const users = num("BENCH_USERS", 10_000);
  const latencyMs = num("BENCH_LATENCY_MS", 20);
  const rateLimit = num("BENCH_RATE", 200);
  const sample = num("BENCH_NAIVE_SAMPLE", 500);
  const problemShare = num("BENCH_PROBLEM_SHARE", 0.05);

  process.env.AWS_ACCESS_KEY_ID ??= "AKIABENCHMARK0000001";
  process.env.AWS_SECRET_ACCESS_KEY ??= "benchmark-secret";
  process.env.AWS_EC2_METADATA_DISABLED = "true";

  const now = new Date();
  const emu = await forkIamEmulator({
    seed: { users, seed: 2026, now, problemShare },
    latencyMs,
    rateLimit,
    // A large account's report takes AWS some seconds to build.
    reportDelayMs: 5_000,
  });
  const seeded = emu.seeded!;
  console.log(
    `scan benchmark: ${seeded.users} users, ${seeded.keys} keys (${seeded.activeKeys} Active), ` +
      `${seeded.problemUsers} users (${((seeded.problemUsers / seeded.users) * 100).toFixed(1)}%) with a flagged key; ` +
      `emulator latency ${latencyMs} ms/call, rate limit ${rateLimit} req/s (Throttling beyond), iamwarden concurrency 8`,
  );
  console.log(
    `  RSS of this process before the runs: ${mb(process.memoryUsage.rss())} (the emulator runs in a child process)`,
  );
  try {
    const results: Measured[] = [];
    for (const step of [
      () => iamwardenScan(emu, "credential-report", now),
      () => iamwardenScan(emu, "api", now),
      () => naiveRun(emu, sample),
    ]) {
      const r = await step();
      results.push(r);
      console.log(`  ${r.name}: ${r.calls.total} calls in ${secs(r.ms)}`);
    }

    const table = new Table({
      head: ["mode", "calls", "throttled", "wall time", "peak RSS", "calls by action"],
    });
    for (const r of results) {
      const byAction = Object.entries(r.calls.byAction)
        .map(([a, n]) => `${a} ${n}`)
        .join(", ");
      table.push([r.name, r.calls.total, r.calls.throttled, secs(r.ms), mb(r.peakRss), byAction]);
    }
    console.log(table.toString());
    for (const r of results) if (r.note) console.log(`  ${r.name}: ${r.note}`);

    const [report, api, slow] = results as [Measured, Measured, Measured];
    const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
    console.log(
      `naive ÷ credential-report: ${ratio(slow.calls.total, report.calls.total)} calls, ${ratio(slow.ms, report.ms)} wall time`,
    );
    console.log(
      `api ÷ credential-report:   ${ratio(api.calls.total, report.calls.total)} calls, ${ratio(api.ms, report.ms)} wall time`,
    );
    console.log(
      `naive ÷ api:               ${ratio(slow.calls.total, api.calls.total)} calls, ${ratio(slow.ms, api.ms)} wall time`,
    );
    console.log(
      "  (credential-report calls grow with the users that have findings: about 2 per such user, ListAccessKeys and ListUserTags)",
    );
  } finally {
    await emu.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
