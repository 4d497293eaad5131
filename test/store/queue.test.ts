import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { AccountTarget } from "../../src/cloud/target.js";
import {
  ACCOUNT_SCAN_QUEUE,
  type AccountScanWorkers,
  enqueueAccountScans,
  type ScanJob,
  workAccountScans,
} from "../../src/store/queue.js";
import { testDatabase } from "../support/postgres.js";

const db = await testDatabase("queue");
afterAll(async () => db?.drop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(50);
  }
}

const fleet = (n: number, from = 0): AccountTarget[] =>
  Array.from({ length: n }, (_, i) => ({
    id: String(100000000000 + from + i),
    roleArn: `arn:aws:iam::${100000000000 + from + i}:role/iamwarden-audit`,
    alias: i % 2 ? `acct-${i}` : undefined,
  }));

/** Job states in pg-boss's table, by account (the singleton key). */
async function states(url: string): Promise<Record<string, string[]>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      "SELECT singleton_key AS k, state FROM pgboss.job WHERE name = $1 ORDER BY created_on",
      [ACCOUNT_SCAN_QUEUE],
    );
    const out: Record<string, string[]> = {};
    for (const r of rows as { k: string; state: string }[]) out[r.k] = [...(out[r.k] ?? []), r.state];
    return out;
  } finally {
    await c.end();
  }
}

describe.skipIf(!db)("pg-boss account scan queue", () => {
  const url = db?.url ?? "";
  const running: AccountScanWorkers[] = [];
  const start = async (...args: Parameters<typeof workAccountScans>) => {
    const w = await workAccountScans(...args);
    running.push(w);
    return w;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop(5000)));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query("DELETE FROM pgboss.job WHERE name = $1", [ACCOUNT_SCAN_QUEUE]).catch(() => {});
    await c.end();
  });

  it("queues one job per account and does not queue an account twice", async () => {
    const targets = fleet(5);
    const first = await enqueueAccountScans(url, targets);
    expect(first.queued).toEqual(targets.map((t) => t.id));
    const second = await enqueueAccountScans(url, [...targets, ...fleet(1, 5)]);
    expect(second.alreadyQueued).toEqual(targets.map((t) => t.id));
    expect(second.queued).toEqual(["100000000005"]);
    const s = await states(url);
    expect(Object.values(s).map((v) => v.length)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it("two workers share a fleet and scan each account exactly once", async () => {
    const targets = fleet(30);
    await enqueueAccountScans(url, targets);
    const seen: { account: string; worker: string; target: AccountTarget }[] = [];
    const handler = (worker: string) => async (target: AccountTarget) => {
      seen.push({ account: target.id, worker, target });
      await sleep(60);
    };
    const opts = { concurrency: 3, pollingIntervalSeconds: 0.5 };
    await Promise.all([start(url, handler("w1"), opts), start(url, handler("w2"), opts)]);
    await until(() => seen.length >= targets.length);
    await sleep(1500); // time for any duplicate to show up
    expect(seen.map((s) => s.account).sort()).toEqual(targets.map((t) => t.id).sort());
    expect(new Set(seen.map((s) => s.worker))).toEqual(new Set(["w1", "w2"]));
    // the target arrives whole, without fields that were undefined
    const odd = seen.find((s) => s.account === "100000000001")?.target;
    expect(odd).toEqual({
      id: "100000000001",
      alias: "acct-1",
      roleArn: "arn:aws:iam::100000000001:role/iamwarden-audit",
    });
    expect(seen.find((s) => s.account === "100000000000")?.target).not.toHaveProperty("alias");
    // and pg-boss records every job as completed, none failed or pending
    await until(async () => {
      const s = Object.values(await states(url));
      return s.length === targets.length && s.every((v) => v.length === 1 && v[0] === "completed");
    }, 10_000);
  });

  it("retries a failed scan with backoff", async () => {
    const [target] = fleet(1);
    if (!target) throw new Error("setup");
    await enqueueAccountScans(url, [target], { retryLimit: 2, retryDelaySeconds: 1 });
    const attempts: { job: ScanJob; at: number }[] = [];
    await start(
      url,
      async (_t, job) => {
        attempts.push({ job, at: Date.now() });
        if (job.attempt === 1) throw new Error("AccessDenied: not yet");
      },
      { concurrency: 1, pollingIntervalSeconds: 0.5 },
    );
    await until(() => attempts.length >= 2);
    await sleep(1000);
    expect(attempts.map((a) => a.job.attempt)).toEqual([1, 2]);
    expect(attempts[0]?.job.id).toBe(attempts[1]?.job.id);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
  });

  it("never scans one account twice at once, and a busy account does not hold up the others", async () => {
    const [busy, ...others] = fleet(4);
    if (!busy) throw new Error("setup");
    let active = 0;
    let maxActive = 0;
    const runs: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const handler = async (t: AccountTarget) => {
      runs.push(t.id);
      if (t.id !== busy.id) return;
      active++;
      maxActive = Math.max(maxActive, active);
      if (runs.filter((id) => id === busy.id).length === 1) await gate; // the first scan hangs
      active--;
    };
    const opts = { concurrency: 2, pollingIntervalSeconds: 0.5, deferSeconds: 1 };
    await start(url, handler, opts);
    await start(url, handler, opts);
    try {
      await enqueueAccountScans(url, [busy]);
      await until(() => runs.length === 1);
      // queued again while being scanned: allowed (one may wait), but it must not run alongside;
      // the accounts queued after it go ahead meanwhile
      expect((await enqueueAccountScans(url, [busy])).queued).toEqual([busy.id]);
      expect((await enqueueAccountScans(url, others)).queued).toHaveLength(3);
      await until(() => others.every((o) => runs.includes(o.id)), 8000);
      await sleep(2500); // long enough for workers to pick the busy account up and put it back
      expect(runs.filter((id) => id === busy.id)).toHaveLength(1);
    } finally {
      release();
    }
    await until(() => runs.filter((id) => id === busy.id).length === 2, 15_000);
    expect(maxActive).toBe(1);
  });
});
