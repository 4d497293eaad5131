import { UserError } from "../errors.js";
import type { InputProblem } from "../model/event.js";
import { isEventFile, mayHoldEventsIn, parseS3Url } from "../sources/cloudtrail/input-files.js";
import type { ReplayJob, ReplayProgress } from "../store/queue.js";
import { nextRun, type RunContext } from "./context.js";
import { replaySource } from "./event-sources.js";
import { runEvents } from "./events.js";
import { queueUrl } from "./fleet.js";

// `events replay s3://… --distributed`: one job per account, region and day of the prefix on the
// PostgreSQL store's replay queue; `worker` processes on any number of machines replay them into
// the shared store; the command follows them until the last one is done.

/**
 * The job a key belongs to: its account/region/day folder in CloudTrail's layout
 * (…AWSLogs/[o-…/]<account>/CloudTrail/<region>/YYYY/MM/DD/), else its folder.
 */
export function jobPrefix(key: string): string {
  const m = /^(.*?\/)?\d{12}\/CloudTrail\/[a-z0-9-]+\/\d{4}\/\d{2}\/\d{2}\//.exec(key);
  if (m) return m[0];
  return key.slice(0, key.lastIndexOf("/") + 1);
}

async function listJobPrefixes(ctx: RunContext, url: string, since?: Date, until?: Date): Promise<string[]> {
  const { bucket, prefix } = parseS3Url(url);
  if (!bucket) throw new UserError(`${url}: an S3 input is s3://bucket/prefix`);
  const { paginateListObjectsV2 } = await import("@aws-sdk/client-s3");
  const s3 = (await ctx.aws()).home.s3;
  const prefixes = new Set<string>();
  for await (const page of paginateListObjectsV2(
    { client: s3, pageSize: 1000 },
    { Bucket: bucket, Prefix: prefix },
  ))
    for (const o of page.Contents ?? [])
      if (o.Key && isEventFile(o.Key) && mayHoldEventsIn(o.Key, since, until)) prefixes.add(jobPrefix(o.Key));
  return [...prefixes].sort();
}

export interface DistributedReport {
  replay: string;
  jobs: number;
  completed: number;
  failed: { prefix: string; error?: string | undefined }[];
  seconds: number;
  files: number;
  alreadyRead: number;
  events: number;
  judged: number;
  problems: number;
  opened: number;
  reopened: number;
  refreshed: number;
}

const sum = (xs: unknown[], k: string) =>
  xs.reduce<number>((a, x) => a + (Number((x as Record<string, unknown> | null)?.[k]) || 0), 0);

/** Queues the jobs of `inputs` (s3:// prefixes), follows them across workers, sums what they did. */
export async function runDistributedReplay(
  ctx: RunContext,
  storeLocation: string,
  inputs: string[],
  opts: {
    since?: Date | undefined;
    until?: Date | undefined;
    full?: boolean | undefined;
    /** A job running longer is failed and retried by another worker (its worker died). */
    jobTimeout?: number | undefined;
    onQueued?: ((jobs: number) => void) | undefined;
    onProgress?: ((p: ReplayProgress, jobs: number) => void) | undefined;
  },
): Promise<DistributedReport> {
  const url = queueUrl(storeLocation);
  const local = inputs.filter((i) => !i.startsWith("s3://"));
  if (local.length) throw new UserError(`--distributed reads s3:// prefixes only, not ${local[0]}`);
  const timeout = opts.jobTimeout ?? 900;
  if (!(Number.isInteger(timeout) && timeout >= 2 && timeout < 86_400))
    throw new UserError("--job-timeout: 2 to 86399 seconds");
  const { enqueueReplayJobs, followReplay } = await import("../store/queue.js");
  const jobs: ReplayJob[] = [];
  for (const input of inputs) {
    const { bucket } = parseS3Url(input);
    for (const prefix of await listJobPrefixes(ctx, input, opts.since, opts.until))
      jobs.push({
        replay: ctx.runId,
        bucket,
        prefix,
        since: opts.since?.toISOString(),
        until: opts.until?.toISOString(),
        full: opts.full || undefined,
      });
  }
  const started = Date.now();
  await enqueueReplayJobs(url, jobs, { expireInSeconds: timeout });
  opts.onQueued?.(jobs.length);
  const done = await followReplay(url, ctx.runId, {
    maintenanceIntervalSeconds: Math.max(1, Math.min(30, Math.floor(timeout / 3))),
    onProgress: (p) => opts.onProgress?.(p, jobs.length),
  });
  const outputs = done.outputs.filter((o) => o.state === "completed").map((o) => o.output);
  const failed = done.outputs.filter((o) => o.state !== "completed");
  return {
    replay: ctx.runId,
    jobs: jobs.length,
    completed: outputs.length,
    failed: failed.map((f) => ({
      prefix: f.prefix,
      error: (f.output as { message?: string } | null)?.message,
    })),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    files: sum(outputs, "files"),
    alreadyRead: sum(outputs, "alreadyRead"),
    events: sum(outputs, "events"),
    judged: sum(outputs, "judged"),
    problems: sum(outputs, "problems"),
    opened: sum(outputs, "opened"),
    reopened: sum(outputs, "reopened"),
    refreshed: sum(outputs, "refreshed"),
  };
}

/** One job in a worker: the job's prefix replayed into the shared store, as its own run. */
export async function replayJob(
  ctx: RunContext,
  job: ReplayJob,
  opts: { notify: boolean; onProblem?: ((p: InputProblem) => void) | undefined },
): Promise<Record<string, unknown>> {
  const url = `s3://${job.bucket}/${job.prefix}`;
  const { source, stats, remember } = replaySource([url], {
    since: job.since ? new Date(job.since) : undefined,
    until: job.until ? new Date(job.until) : undefined,
    concurrency: 4,
    full: job.full,
    keepWorkers: true,
  });
  let listing: string | undefined;
  const r = await runEvents(ctx, source, {
    command: "events replay (job)",
    notify: opts.notify,
    onReconciled: remember,
    onProblem: (p) => {
      // The prefix could not be listed: fail the job so that it is retried.
      if (p.file === url) listing = p.error;
      opts.onProblem?.(p);
    },
  });
  if (listing) throw new Error(`${url}: ${listing}`);
  return {
    files: stats.files,
    alreadyRead: stats.alreadyRead,
    events: r.result.events + stats.skipped,
    judged: r.result.events,
    problems: r.problems.length,
    ...r.result.summary,
  };
}

/** Replays queued jobs until stopped, one at a time; each job is its own run on the shared store. */
export async function startReplayWorkers(
  ctx: RunContext,
  storeLocation: string,
  opts: {
    notify: boolean;
    fixedNow?: Date | undefined;
    onReplayed?: ((job: ReplayJob, out: Record<string, unknown>) => void) | undefined;
    onProblem?: ((p: InputProblem) => void) | undefined;
  },
): Promise<{ stop(timeoutMs: number): Promise<void> }> {
  const url = queueUrl(storeLocation);
  const { workReplayJobs } = await import("../store/queue.js");
  return workReplayJobs(
    url,
    async (job) => {
      const out = await replayJob(nextRun(ctx, opts.fixedNow ?? new Date()), job, opts);
      opts.onReplayed?.(job, out);
      return out;
    },
    { concurrency: 1 },
  );
}
