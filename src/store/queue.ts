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

async function startBoss(url: string, supervise: boolean, onError: (e: Error) => void): Promise<PgBoss> {
  // supervise: expire stuck jobs and archive old ones. One supervising process is enough, but
  // several are safe (pg-boss coordinates them); enqueue-only callers skip it.
  const boss = new PgBoss({ connectionString: url, supervise, schedule: false, max: 4 });
  boss.on("error", onError);
  try {
    await boss.start();
  } catch (e) {
    throw new Error(`${redactUrl(url)}: cannot start the scan queue (${(e as Error).message})`);
  }
  return boss;
}

const DEFAULTS = { retryLimit: 3, retryDelay: 60, retryBackoff: true, expireInSeconds: 3600 };

async function ensureQueue(boss: PgBoss): Promise<void> {
  // Idempotent; an existing queue keeps its defaults, so options given now go on each job.
  await boss.createQueue(ACCOUNT_SCAN_QUEUE, { name: ACCOUNT_SCAN_QUEUE, policy: "short", ...DEFAULTS });
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

  for (let i = 0; i < options.concurrency; i++) {
    await boss.work(
      ACCOUNT_SCAN_QUEUE,
      {
        batchSize: 1,
        includeMetadata: true,
        pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2,
      },
      async (jobs: PgBoss.JobWithMetadata<unknown>[]) => {
        const [job] = jobs;
        return job ? runOne(job) : undefined;
      },
    );
  }

  return {
    async stop(timeoutMs = 30_000) {
      await boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
      await locks.end();
    },
  };
}
