import pg from "pg";
import PgBoss from "pg-boss";
import { z } from "zod";
import type { AccountTarget } from "../cloud/target.js";
import { redactUrl } from "./postgres.js";

// Fleet scans shared by several workers through pg-boss queues in the store's PostgreSQL: one job
// per account, retried with backoff when a scan fails.
//
// Why the queue uses the `short` policy (at most one *queued* job per account) and an advisory
// lock rather than pg-boss's `singleton`/`stately` policies for "never two scans of an account at
// once": in pg-boss 10 those policies enforce one active job per key with a unique index, and a
// fetch whose next job would break it fails as a whole, so one account still being scanned stalls
// every account queued behind it (timgit/pg-boss#535). Here a worker that picks up an account
// another worker is scanning puts it back for later and moves on to the next account.

export const ACCOUNT_SCAN_QUEUE = "iamwarden-account-scan";

// Namespace of the per-account session locks (the store's reconcile uses its own).
const LOCK_SCAN = 0x1a3f_0003;

const targetSchema = z.object({
  id: z.string().min(1),
  alias: z.string().optional(),
  roleArn: z.string().optional(),
  externalId: z.string().optional(),
  region: z.string().optional(),
});

export interface ScanQueueOptions {
  /** Retries after a failed scan. Default 3. */
  retryLimit?: number;
  /** First retry delay; it doubles with each attempt (with jitter). Default 60. */
  retryDelaySeconds?: number;
  /** A scan running longer than this is failed (and retried). Default 3600, at most 86399. */
  expireInSeconds?: number;
}

/** Queue options here apply to the jobs this worker queues again (accounts it defers). */
export interface WorkOptions extends ScanQueueOptions {
  /** Accounts this process scans at once. */
  concurrency: number;
  /** How often an idle worker looks for jobs. Default 2, at least 0.5. */
  pollingIntervalSeconds?: number;
  /** When another worker is scanning the account, try again this much later. Default 60. */
  deferSeconds?: number;
  /** Errors pg-boss reports in the background (lost connection, maintenance). */
  onError?: (e: Error) => void;
}

export interface ScanJob {
  id: string;
  /** 1 for the first try, 2 for the first retry… */
  attempt: number;
}

export type ScanHandler = (target: AccountTarget, job: ScanJob) => Promise<void>;

export interface AccountScanWorkers {
  /** Stops fetching, waits for scans in progress (up to `timeoutMs`), closes connections. */
  stop(timeoutMs?: number): Promise<void>;
}

async function startBoss(
  url: string,
  supervise: boolean,
  onError: (e: Error) => void,
  maintenanceIntervalSeconds?: number,
): Promise<PgBoss> {
  // supervise: expire stuck jobs and archive old ones. One supervising process is enough, but
  // several are safe (pg-boss coordinates them); enqueue-only callers skip it.
  const boss = new PgBoss({
    connectionString: url,
    supervise,
    schedule: false,
    max: 4,
    ...(maintenanceIntervalSeconds ? { maintenanceIntervalSeconds } : {}),
  });
  boss.on("error", onError);
  try {
    await retryDeadlock(() => boss.start());
  } catch (e) {
    throw new Error(`${redactUrl(url)}: cannot start the scan queue (${(e as Error).message})`);
  }
  return boss;
}

const DEFAULTS = { retryLimit: 3, retryDelay: 60, retryBackoff: true, expireInSeconds: 3600 };

async function ensureQueue(boss: PgBoss): Promise<void> {
  // Idempotent; an existing queue keeps its defaults, so options given now go on each job.
  await retryDeadlock(() =>
    boss.createQueue(ACCOUNT_SCAN_QUEUE, { name: ACCOUNT_SCAN_QUEUE, policy: "short", ...DEFAULTS }),
  );
}

/**
 * Takes a queue's jobs one at a time. pg-boss polls every `pollingIntervalSeconds` (2) and, after
 * a job shorter than that, waits out the rest before asking again; a worker that has just finished
 * a job asks again at once instead (a replay's day-long jobs take a second or two each, and the
 * wait was most of a distributed replay's time).
 */
async function workEagerly<T>(
  boss: PgBoss,
  queue: string,
  pollingIntervalSeconds: number | undefined,
  run: (job: PgBoss.JobWithMetadata<unknown>) => Promise<T>,
): Promise<void> {
  let id: string | undefined;
  id = await boss.work(
    queue,
    { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: pollingIntervalSeconds ?? 2 },
    async (jobs: PgBoss.JobWithMetadata<unknown>[]) => {
      const [job] = jobs;
      if (!job) return undefined;
      try {
        return await run(job);
      } finally {
        if (id) boss.notifyWorker(id);
      }
    },
  );
}

/**
 * Processes starting together on a fresh database create pg-boss's schema and queues at the same
 * moment, and PostgreSQL may pick one as a deadlock victim: that step is tried again.
 */
export async function retryDeadlock<T>(step: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await step();
    } catch (e) {
      const err = e as Error & { code?: string };
      if (i >= attempts || !(err.code === "40P01" || /deadlock detected/.test(err.message))) throw e;
      await new Promise((r) => setTimeout(r, 100 * i + Math.floor(Math.random() * 200)));
    }
  }
}

/** Per-job options: the account's singleton key and whatever the caller set. */
function sendOptions(t: AccountTarget, o: ScanQueueOptions): PgBoss.SendOptions {
  return {
    singletonKey: t.id,
    ...(o.retryLimit !== undefined && { retryLimit: o.retryLimit }),
    ...(o.retryDelaySeconds !== undefined && { retryDelay: o.retryDelaySeconds, retryBackoff: true }),
    ...(o.expireInSeconds !== undefined && { expireInSeconds: o.expireInSeconds }),
  };
}

/** Job data: the target without undefined fields. */
const jobData = (t: AccountTarget): Record<string, string> =>
  Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as Record<string, string>;

/**
 * Queues one scan job per account. An account that already has a job waiting is not queued again
 * (one that is being scanned right now can have one more waiting).
 */
export async function enqueueAccountScans(
  url: string,
  targets: AccountTarget[],
  options: ScanQueueOptions & { onError?: (e: Error) => void } = {},
): Promise<{ queued: string[]; alreadyQueued: string[] }> {
  const boss = await startBoss(url, false, options.onError ?? (() => {}));
  try {
    await ensureQueue(boss);
    const ids = await Promise.all(
      targets.map((t) => boss.send(ACCOUNT_SCAN_QUEUE, jobData(t), sendOptions(t, options))),
    );
    const queued: string[] = [];
    const alreadyQueued: string[] = [];
    targets.forEach((t, i) => {
      (ids[i] ? queued : alreadyQueued).push(t.id);
    });
    return { queued, alreadyQueued };
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}

/**
 * Starts `concurrency` workers in this process. Each takes one account at a time; a handler that
 * throws fails the job, which pg-boss retries with backoff. An account is never scanned by two
 * handlers at once, across all processes.
 */
export async function workAccountScans(
  url: string,
  handler: ScanHandler,
  options: WorkOptions,
): Promise<AccountScanWorkers> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    throw new Error("workAccountScans: concurrency must be a positive integer");
  const onError = options.onError ?? ((e: Error) => console.error(`iamwarden: scan queue: ${e.message}`));
  const boss = await startBoss(url, true, onError);
  // Session locks live as long as their connection: one client per scan in progress.
  const locks = new pg.Pool({ connectionString: url, max: options.concurrency });
  locks.on("error", onError);
  const deferSeconds = options.deferSeconds ?? 60;

  try {
    await ensureQueue(boss);
  } catch (e) {
    await boss.stop({ graceful: false });
    await locks.end();
    throw e;
  }

  const runOne = async (job: PgBoss.JobWithMetadata<unknown>) => {
    const target = targetSchema.parse(job.data) as AccountTarget;
    const client = await locks.connect();
    let held = false;
    try {
      const r = await client.query("SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok", [
        LOCK_SCAN,
        target.id,
      ]);
      held = r.rows[0]?.ok === true;
      if (!held) {
        // Another worker is on this account: queue it again for later (unless one is already
        // waiting) and let this job complete.
        await boss.send(ACCOUNT_SCAN_QUEUE, jobData(target), {
          ...sendOptions(target, options),
          startAfter: deferSeconds,
        });
        return { deferred: true };
      }
      await handler(target, { id: job.id, attempt: job.retryCount + 1 });
      return { scanned: true };
    } finally {
      // A client that could not unlock may still hold the lock: destroy it rather than reuse it.
      let broken = false;
      if (held)
        await client
          .query("SELECT pg_advisory_unlock($1, hashtext($2))", [LOCK_SCAN, target.id])
          .catch(() => {
            broken = true;
          });
      client.release(broken);
    }
  };

  for (let i = 0; i < options.concurrency; i++)
    await workEagerly(boss, ACCOUNT_SCAN_QUEUE, options.pollingIntervalSeconds, runOne);

  return {
    async stop(timeoutMs = 30_000) {
      await boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
      await locks.end();
    },
  };
}

// Distributed event replays: `events replay s3://… --distributed` splits a prefix into one job per
// account, region and day on this queue; every `worker` replays the jobs it takes into the shared
// store. A failed job is retried with backoff; a job whose worker died expires (expireInSeconds)
// and is retried by another worker. Jobs of one replay carry its id, so the command can follow
// them across workers.

export const EVENTS_REPLAY_QUEUE = "iamwarden-events-replay";

export const replayJobSchema = z.object({
  /** The replay (the command's run id) the job belongs to. */
  replay: z.string().min(1),
  bucket: z.string().min(1),
  prefix: z.string(),
  since: z.string().optional(),
  until: z.string().optional(),
  full: z.boolean().optional(),
});
export type ReplayJob = z.infer<typeof replayJobSchema>;

export type ReplayHandler = (job: ReplayJob, meta: ScanJob) => Promise<Record<string, unknown>>;

async function ensureReplayQueue(boss: PgBoss): Promise<void> {
  await retryDeadlock(() =>
    boss.createQueue(EVENTS_REPLAY_QUEUE, { name: EVENTS_REPLAY_QUEUE, policy: "standard", ...DEFAULTS }),
  );
}

/** Queues a replay's jobs; returns how many. */
export async function enqueueReplayJobs(
  url: string,
  jobs: ReplayJob[],
  options: ScanQueueOptions & { onError?: (e: Error) => void } = {},
): Promise<number> {
  const boss = await startBoss(url, false, options.onError ?? (() => {}));
  try {
    await ensureReplayQueue(boss);
    for (let i = 0; i < jobs.length; i += 500)
      await boss.insert(
        jobs.slice(i, i + 500).map((data) => ({
          name: EVENTS_REPLAY_QUEUE,
          data: Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)),
          retryLimit: options.retryLimit ?? DEFAULTS.retryLimit,
          retryDelay: options.retryDelaySeconds ?? 5,
          retryBackoff: true,
          expireInSeconds: options.expireInSeconds ?? 900,
        })),
      );
    return jobs.length;
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}

export interface ReplayProgress {
  queued: number;
  active: number;
  retrying: number;
  completed: number;
  failed: number;
  /** What completed jobs returned, and why failed ones failed (once their retries are spent). */
  outputs: { prefix: string; state: string; output: unknown }[];
}

/**
 * Follows one replay's jobs across all workers. While it waits it also supervises the queue, so
 * that the job of a worker that died expires and is retried even when no other process does.
 */
export async function followReplay(
  url: string,
  replay: string,
  options: {
    intervalMs?: number;
    maintenanceIntervalSeconds?: number;
    onProgress?: (p: ReplayProgress) => void;
    onError?: (e: Error) => void;
  } = {},
): Promise<ReplayProgress> {
  const onError = options.onError ?? (() => {});
  const boss = await startBoss(url, true, onError, options.maintenanceIntervalSeconds ?? 30);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on("error", onError);
  try {
    for (;;) {
      // pg-boss keeps jobs in pgboss.job (schema of the default configuration); read, never written.
      const { rows } = await pool.query<{ state: string; n: number }>(
        "SELECT state, count(*)::int AS n FROM pgboss.job WHERE name = $1 AND data->>'replay' = $2 GROUP BY state",
        [EVENTS_REPLAY_QUEUE, replay],
      );
      const n = (s: string) => rows.find((r) => r.state === s)?.n ?? 0;
      const p: ReplayProgress = {
        queued: n("created"),
        active: n("active"),
        retrying: n("retry"),
        completed: n("completed"),
        failed: n("failed") + n("cancelled"),
        outputs: [],
      };
      options.onProgress?.(p);
      if (p.queued + p.active + p.retrying === 0) {
        const done = await pool.query<{ prefix: string; state: string; output: unknown }>(
          "SELECT data->>'prefix' AS prefix, state::text AS state, output FROM pgboss.job WHERE name = $1 AND data->>'replay' = $2 ORDER BY data->>'prefix'",
          [EVENTS_REPLAY_QUEUE, replay],
        );
        p.outputs = done.rows;
        return p;
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
    }
  } finally {
    await pool.end();
    await boss.stop({ graceful: false, wait: true });
  }
}

/** Replays the jobs this process takes, `concurrency` at a time, until stopped. */
export async function workReplayJobs(
  url: string,
  handler: ReplayHandler,
  options: Pick<WorkOptions, "concurrency" | "pollingIntervalSeconds" | "onError">,
): Promise<AccountScanWorkers> {
  const onError = options.onError ?? ((e: Error) => console.error(`iamwarden: replay queue: ${e.message}`));
  const boss = await startBoss(url, true, onError);
  try {
    await ensureReplayQueue(boss);
  } catch (e) {
    await boss.stop({ graceful: false });
    throw e;
  }
  for (let i = 0; i < options.concurrency; i++)
    await workEagerly(boss, EVENTS_REPLAY_QUEUE, options.pollingIntervalSeconds, (job) =>
      handler(replayJobSchema.parse(job.data), { id: job.id, attempt: job.retryCount + 1 }),
    );
  return {
    async stop(timeoutMs = 30_000) {
      await boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
    },
  };
}
