import { createHash } from "node:crypto";
import PgBoss from "pg-boss";
import { redactUrl } from "../store/postgres.js";
import { retryDeadlock } from "../store/queue.js";
import type { JobName } from "./scheduler.js";

// Scheduled jobs shared by the replicas of one PostgreSQL store, through pg-boss. Every replica's
// scheduler submits each occurrence; its job id is derived from (job, minute), so the first insert
// wins and the others are no-ops: each occurrence runs once across the replicas. A queue per job
// with pg-boss's singleton policy keeps two runs of a job from overlapping anywhere.

export const jobQueue = (job: JobName) => `iamwarden-serve-${job}`;

/** A UUID (version 5 layout) from a name: the same occurrence gets the same job id everywhere. */
export function occurrenceId(job: JobName, scheduledFor: Date): string {
  const h = createHash("sha1").update(`iamwarden-serve|${job}|${scheduledFor.toISOString()}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export interface Cluster {
  /** True when this replica queued the occurrence, false when another replica already had. */
  submit(job: JobName, scheduledFor: Date): Promise<boolean>;
  stop(timeoutMs: number): Promise<void>;
}

/** How long a run may take before pg-boss fails it (scan only queues the account scans). */
const EXPIRE_SECONDS: Record<JobName, number> = {
  scan: 900,
  remediate: 4 * 3600,
  deliver: 3600,
  events: 3600,
};

export async function startCluster(
  url: string,
  jobs: JobName[],
  run: (job: JobName, scheduledFor: Date) => Promise<void>,
  onError: (e: Error) => void,
): Promise<Cluster> {
  const boss = new PgBoss({ connectionString: url, supervise: true, schedule: false, max: 4 });
  boss.on("error", (e: Error & { code?: string }) => {
    // A replica fetching the next occurrence while another runs the job: the singleton policy's
    // index refuses it, and it is fetched again once the run ends. Not an error.
    if (e.code === "23505" || /job_i2/.test(e.message)) return;
    onError(e);
  });
  try {
    await retryDeadlock(() => boss.start());
  } catch (e) {
    throw new Error(`${redactUrl(url)}: cannot start the job queue (${(e as Error).message})`);
  }
  for (const job of jobs) {
    const name = jobQueue(job);
    // A missed run is not retried: the next occurrence (or the misfire check at start) runs it.
    await retryDeadlock(() =>
      boss.createQueue(name, {
        name,
        policy: "singleton",
        retryLimit: 0,
        expireInSeconds: EXPIRE_SECONDS[job],
      }),
    );
    await boss.work(
      name,
      { batchSize: 1, pollingIntervalSeconds: 1 },
      async (batch: PgBoss.Job<{ scheduledFor?: string }>[]) => {
        for (const j of batch) await run(job, new Date(j.data.scheduledFor ?? Date.now()));
      },
    );
  }
  return {
    async submit(job, scheduledFor) {
      const id = await boss.send(
        jobQueue(job),
        { scheduledFor: scheduledFor.toISOString() },
        { id: occurrenceId(job, scheduledFor) },
      );
      return Boolean(id);
    },
    async stop(timeoutMs) {
      await boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
    },
  };
}
