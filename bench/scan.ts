import { pathToFileURL } from "node:url";
import { type IAMClient, ListAccessKeysCommand, paginateListUsers } from "@aws-sdk/client-iam";
import Table from "cli-table3";
import { awsClientFactory } from "../src/cloud/aws/clients.js";
import type { AccountTarget } from "../src/cloud/target.js";
import { configSchema } from "../src/config/schema.js";
import { noRoutes } from "../src/engine/routing.js";
import { scanAccounts } from "../src/engine/scan.js";
import { awsAccountReader } from "../src/sources/aws/reader.js";
import { openSqliteStore } from "../src/store/sqlite.js";
import type { Store } from "../src/store/store.js";
import type { SeedSummary } from "../test/support/iam-emulator/seed.js";
import {
  type CallSnapshot,
  type EmulatorChild,
  forkIamEmulator,
} from "../test/support/iam-emulator/serve.js";

// Scan cost benchmark: synthetic accounts of 1,000 and 10,000 IAM users, 5% and 75% of them
// holding a key a default scan flags, each behind its own local IAM emulator (a child process)
// with a fixed per-call latency and a request-rate limit answering Throttling. Per account:
//   per-user       the key checker pattern iamwarden replaces: ListUsers, then ListAccessKeys for
//                  each user, one call after the other; measured on a sample of users and
//                  extrapolated linearly (the call count is exact: 1 per user + list pages).
//   first scan     iamwarden's credential-report mode on an empty store: the report, the
//                  directory (GetAccountAuthorizationDetails), ListAccessKeys per user holding a
//                  key; checks and the SQLite reconcile included.
//   steady state   the same scan again: the store knows every key id, nothing has changed.
//   api            (1,000 users only) iamwarden's api mode, for its formula.
// Figures are printed, never asserted. Knobs: BENCH_SIZES (e.g. "1000,10000"), BENCH_SHARES
// ("0.05,0.75"), BENCH_LATENCY_MS, BENCH_RATE, BENCH_SAMPLE, BENCH_REPORT_DELAY_MS.

const num = (name: string, def: number) => {
  const v = process.env[name];
  return v === undefined || v === "" ? def : Number(v);
};
const list = (name: string, def: number[]) =>
  process.env[name] ? String(process.env[name]).split(",").map(Number) : def;

const HOME = "111111111111";

interface Measured {
  calls: CallSnapshot;
  ms: number;
  note?: string;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const t0 = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - t0 };
}

function iamwardenScanner(emu: EmulatorChild, mode: "api" | "credential-report", store: Store, now: Date) {
  const config = configSchema.parse({ aws: { endpoint: emu.url, mode, concurrency: 8, maxAttempts: 10 } });
  const reader = awsAccountReader(config, awsClientFactory(config.aws));
  const target: AccountTarget = { id: HOME, alias: "bench" };
  return async (runId: string): Promise<Measured> => {
    await emu.reset();
    const run = await timed(() =>
      scanAccounts([target], reader, config, { store, route: noRoutes, now, runId }),
    );
    const calls = await emu.calls();
    const [r] = run.result;
    if (!r?.ok) throw new Error(`${mode} scan failed: ${r?.error}`);
    const keys = r.snapshot?.keys ?? [];
    const withId = keys.filter((k) => k.keyId).length;
    const findings = (await store.listFindings({ status: ["open", "suppressed"] })).length;
    return {
      calls,
      ms: run.ms,
      note: `${findings} findings, ${withId}/${keys.length} keys with their id${r.snapshot?.complete ? "" : ", INCOMPLETE"}`,
    };
  };
}

/** ListUsers (all pages), then ListAccessKeys for `sample` users one at a time, extrapolated. */
async function perUser(emu: EmulatorChild, sample: number): Promise<Measured> {
  const config = configSchema.parse({ aws: { endpoint: emu.url, maxAttempts: 10 } });
  const iam: IAMClient = awsClientFactory(config.aws).home.iam;
  await emu.reset();
  const users: string[] = [];
  const listing = await timed(async () => {
    for await (const page of paginateListUsers({ client: iam }, {}))
      for (const u of page.Users ?? []) if (u.UserName) users.push(u.UserName);
  });
  const measured = users.slice(0, sample);
  const perUserRun = await timed(async () => {
    for (const user of measured) await iam.send(new ListAccessKeysCommand({ UserName: user }));
  });
  const calls = await emu.calls();
  const listCalls = calls.byAction.ListUsers ?? 0;
  const scale = users.length / Math.max(1, measured.length);
  return {
    calls: {
      total: listCalls + users.length,
      throttled: Math.round(calls.throttled * scale),
      byAction: { ListUsers: listCalls, ListAccessKeys: users.length },
    },
    ms: listing.ms + perUserRun.ms * scale,
    note:
      scale > 1
        ? `wall time: ${measured.length} users measured, × ${scale.toFixed(1)}`
        : `${users.length} users`,
  };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
const byAction = (c: CallSnapshot) =>
  Object.entries(c.byAction)
    .map(([a, n]) => `${a.replace(/^Get(AccountAuthorizationDetails)$/, "GAAD")} ${n}`)
    .join(", ");

export async function main(): Promise<void> {
  const sizes = list("BENCH_SIZES", [1000, 10_000]);
  const shares = list("BENCH_SHARES", [0.05, 0.75]);
  const latencyMs = num("BENCH_LATENCY_MS", 20);
  const rateLimit = num("BENCH_RATE", 400);
  const sample = num("BENCH_SAMPLE", 300);
  const reportDelayMs = num("BENCH_REPORT_DELAY_MS", 5_000);

  process.env.AWS_ACCESS_KEY_ID ??= "AKIABENCHMARK0000001";
  process.env.AWS_SECRET_ACCESS_KEY ??= "benchmark-secret";
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  console.log(
    `scan cost: emulator latency ${latencyMs} ms/call, rate limit ${rateLimit} req/s (Throttling beyond), ` +
      `credential report ready ${secs(reportDelayMs)} after it is asked for, iamwarden concurrency 8`,
  );

  const table = new Table({
    head: [
      "users",
      "flagged",
      "run",
      "calls",
      "wall time",
      "per-user ÷ this",
      "goal (calls)",
      "calls by action",
    ],
  });
  const notes: string[] = [];
  const t0 = performance.now();
  for (const users of sizes) {
    for (const share of shares) {
      const now = new Date();
      const emu = await forkIamEmulator({
        seed: { users, seed: 2026, now, problemShare: share },
        latencyMs,
        rateLimit,
        reportDelayMs,
      });
      const seeded = emu.seeded as SeedSummary;
      const store = openSqliteStore(":memory:");
      try {
        const base = await perUser(emu, sample);
        const scan = iamwardenScanner(emu, "credential-report", store, now);
        const first = await scan("bench-first");
        const steady = await scan("bench-steady");
        const floor = 5 + Math.ceil(users / 1000);
        const runs: [string, Measured, string][] = [
          ["per-user", base, "—"],
          [
            "first scan",
            first,
            `≤ ${floor + (seeded.usersWithActiveKeys ?? 0)} (${first.calls.total <= floor + (seeded.usersWithActiveKeys ?? 0) ? "met" : `over; ≤ ${floor + (seeded.usersWithKeys ?? 0)} counting users whose keys are all Inactive`})`,
          ],
          ["steady state", steady, `≤ ${floor} (${steady.calls.total <= floor ? "met" : "NOT MET"})`],
        ];
        if (users <= 1000 && share === shares[0]) {
          const apiStore = openSqliteStore(":memory:");
          try {
            const api = await iamwardenScanner(emu, "api", apiStore, now)("bench-api");
            runs.push(["api mode", api, "—"]);
          } finally {
            await apiStore.close();
          }
        }
        const flagged = `${((seeded.problemUsers / seeded.users) * 100).toFixed(0)}%`;
        for (const [name, m, goal] of runs) {
          table.push([
            users,
            flagged,
            name,
            m.calls.total,
            secs(m.ms),
            name === "per-user"
              ? "1×"
              : `${ratio(base.calls.total, m.calls.total)} calls, ${ratio(base.ms, m.ms)} time`,
            goal,
            byAction(m.calls),
          ]);
          if (m.note) notes.push(`${users} users, ${flagged} flagged, ${name}: ${m.note}`);
        }
        notes.push(
          `${users} users, ${flagged} flagged: ${seeded.keys} keys; ${seeded.usersWithKeys} users hold a key, ` +
            `${seeded.usersWithActiveKeys} an Active one`,
        );
        console.log(`  ${users} users, ${flagged} flagged: done (${secs(performance.now() - t0)} so far)`);
      } finally {
        await store.close();
        await emu.close();
      }
    }
  }
  console.log(table.toString());
  for (const n of notes) console.log(`  ${n}`);
  console.log(
    "  goals: first scan ≤ 5 + ⌈users/1000⌉ + users with an Active key; steady state ≤ 5 + ⌈users/1000⌉ " +
      "+ users whose keys changed (none here). GAAD = GetAccountAuthorizationDetails.",
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
