import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type PlanSummary, planReconcile } from "../src/engine/reconcile.js";
import type { Router } from "../src/engine/routing.js";
import type { Candidate } from "../src/model/finding.js";
import { openSqliteStore } from "../src/store/sqlite.js";
import { DAY_MS, HOUR_MS } from "../src/util/time.js";

// Reconcile benchmark: 100,000 key findings of one account in a SQLite file (WAL), three runs:
// every candidate new (insert), the same candidates again (refresh), none (resolve all). Each run
// is one store.reconcile: read the account's findings, plan, write rows, state changes and
// outbox items in one transaction. Planning time is shown apart. Figures only, never asserted.

const ACCOUNT = "123456789012";
const CHECK = "key-inactive";

function candidates(n: number, now: Date): Candidate[] {
  const out: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const keyId = `AKIA${i.toString(36).toUpperCase().padStart(16, "0")}`;
    const user = `user.${i}`;
    const created = new Date(now.getTime() - (200 + (i % 500)) * DAY_MS);
    out.push({
      check: CHECK,
      account: ACCOUNT,
      accountAlias: "bench",
      resource: keyId,
      owner: user,
      severity: "medium",
      title: `Access key of ${user} unused for ${120 + (i % 300)} days`,
      details: {
        username: user,
        userArn: `arn:aws:iam::${ACCOUNT}:user/${user}`,
        keyId,
        createDate: created.toISOString(),
        lastUsed: null,
        lastUsedService: null,
        lastUsedRegion: null,
        daysInactive: 120 + (i % 300),
        thresholdDays: 90,
        neverUsed: true,
      },
    });
  }
  return out;
}

export async function main(): Promise<void> {
  const n = Number(process.env.BENCH_FINDINGS ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-bench-"));
  const file = join(dir, "bench.db");
  const store = openSqliteStore(file);
  // One notification channel, so that opening and resolving also write outbox items.
  const route: Router = () => ["slack"];
  const start = new Date("2026-01-01T00:00:00Z");
  const all = candidates(n, start);
  console.log(`reconcile benchmark: ${n} findings of one account in ${file} (SQLite, WAL)`);

  try {
    // An hour apart: inside the 24 h re-notify window, so that a refresh is only a refresh.
    const runs: [string, Candidate[], number][] = [
      ["insert (all new)", all, 0],
      ["refresh (all seen again)", all, 1],
      ["resolve (none seen)", [], 2],
    ];
    for (const [name, cands, hour] of runs) {
      const now = new Date(start.getTime() + hour * HOUR_MS);
      let planMs = 0;
      let summary: PlanSummary | undefined;
      (globalThis as { gc?: () => void }).gc?.();
      const t0 = performance.now();
      const written = await store.reconcile({ account: ACCOUNT, checks: [CHECK] }, (existing) => {
        const p0 = performance.now();
        const plan = planReconcile(existing, {
          account: ACCOUNT,
          checks: [CHECK],
          kind: "state",
          complete: true,
          candidates: cands,
          suppress: () => undefined,
          route,
          renotifyHours: 24,
          now,
          runId: `bench-${hour}`,
        });
        planMs = performance.now() - p0;
        summary = plan.summary;
        return plan;
      });
      const ms = performance.now() - t0;
      const rows = written.upserts.length;
      console.log(
        `  ${name.padEnd(25)} ${rows} findings, ${written.events.length} state changes, ${written.outbox.length} outbox items` +
          ` in ${(ms / 1000).toFixed(2)} s (plan ${(planMs / 1000).toFixed(2)} s): ${Math.round(rows / (ms / 1000))} findings/s` +
          `  [opened ${summary?.opened}, refreshed ${summary?.refreshed}, resolved ${summary?.resolved}]`,
      );
    }
    console.log(`  database file: ${(statSync(file).size / 1024 / 1024).toFixed(1)} MB (WAL not included)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
