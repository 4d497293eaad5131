import { Cron } from "croner";
import { UserError } from "../errors.js";
import type { Clock } from "./clock.js";
import type { RunLog } from "./deps.js";

// Cron schedules on the service's clock. croner reads the expressions (and zones); the timers are
// ours so that they follow an injected clock: a job is due when clock.now() reaches its next run.

export const JOB_NAMES = ["scan", "remediate", "deliver", "events"] as const;
export type JobName = (typeof JOB_NAMES)[number];

export interface JobSpec {
  name: JobName;
  cron: string;
  zone?: string | undefined;
}

/** Why a job runs: its minute came, or it was missed while the service was down. */
export type TriggerReason = "schedule" | "missed";

export interface SchedulerOptions {
  jobs: JobSpec[];
  clock: Clock;
  /** When the job last started (any replica), from the store's runs; undefined if never. */
  lastRun(job: JobName): Promise<Date | undefined>;
  /**
   * Runs (or hands to the queue) one occurrence. The scheduler never calls it again for a job
   * whose previous call has not returned: an occurrence due meanwhile is skipped and logged.
   */
  trigger(job: JobName, scheduledFor: Date, reason: TriggerReason): Promise<void>;
  log: RunLog;
  /** Longest single wait, so that a suspended machine or a moved clock is noticed soon. */
  maxSleepMs?: number;
}

export interface Scheduler {
  /** True from start until stop. */
  readonly running: boolean;
  /** The next run of each job, on the service's clock. */
  next(): Partial<Record<JobName, Date>>;
  /** Stops the timers and waits for jobs in progress. */
  stop(): Promise<void>;
}

/** Parses a job's expression now, so that a bad one stops the service at start, naming it. */
export function cronOf(spec: JobSpec): Cron {
  try {
    const c = new Cron(spec.cron, { paused: true, timezone: spec.zone ?? "UTC" });
    c.nextRun(new Date());
    return c;
  } catch (e) {
    throw new UserError(`serve.schedule.${spec.name}: ${(e as Error).message}`);
  }
}

export async function startScheduler(opts: SchedulerOptions): Promise<Scheduler> {
  const maxSleep = opts.maxSleepMs ?? 30_000;
  const crons = new Map(opts.jobs.map((j) => [j.name, cronOf(j)]));
  const timers = new Map<JobName, NodeJS.Timeout>();
  const nextRuns = new Map<JobName, Date>();
  const inFlight = new Map<JobName, Promise<void>>();
  let running = true;

  const fire = (job: JobName, at: Date, reason: TriggerReason) => {
    if (inFlight.has(job)) {
      opts.log.warn({ job, scheduledFor: at.toISOString() }, "job still running; this occurrence is skipped");
      return;
    }
    const p = (async () => {
      try {
        await opts.trigger(job, at, reason);
      } catch (e) {
        opts.log.error({ job, err: (e as Error).message }, "job failed");
      } finally {
        inFlight.delete(job);
      }
    })();
    inFlight.set(job, p);
  };

  const arm = (job: JobName) => {
    if (!running) return;
    const cron = crons.get(job)!;
    let next = nextRuns.get(job);
    if (!next) {
      next = cron.nextRun(opts.clock.now()) ?? undefined;
      if (!next) return;
      nextRuns.set(job, next);
    }
    const wait = next.getTime() - opts.clock.now().getTime();
    if (wait <= 0) {
      nextRuns.delete(job);
      fire(job, next, "schedule");
      // From now, not from `next`: occurrences passed while asleep run once, not once each.
      arm(job);
      return;
    }
    timers.set(
      job,
      setTimeout(() => arm(job), Math.min(wait, maxSleep)),
    );
  };

  // Misfires: an occurrence between the last recorded run and now ran nowhere; run it once.
  for (const [job, cron] of crons) {
    const now = opts.clock.now();
    const prev = cron.previousRuns(1, now)[0];
    const last = await opts.lastRun(job);
    if (prev && last && last < prev) {
      opts.log.info({ job, missed: prev.toISOString(), lastRun: last.toISOString() }, "running a missed job");
      fire(job, prev, "missed");
    }
  }
  for (const job of crons.keys()) arm(job);

  return {
    get running() {
      return running;
    },
    next: () => Object.fromEntries(nextRuns),
    async stop() {
      running = false;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await Promise.all(inFlight.values());
    },
  };
}
