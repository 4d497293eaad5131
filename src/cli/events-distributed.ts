import { EXIT, UserError } from "../errors.js";
import { describeProblem } from "../model/event.js";
import { isEventFile, mayHoldEventsIn, parseS3Url } from "../sources/cloudtrail/input-files.js";
import type { ReplayJob, ReplayProgress } from "../store/queue.js";
import type { RunContext } from "./context.js";
import { replayInputs } from "./events.js";

// `events replay s3://… --distributed`: one job per account, region and day of the prefix on the
// PostgreSQL store's replay queue; `worker` processes on any number of machines replay them into
// the shared store; this command follows them until the last one is done.

/**
 * The job a key belongs to: its account/region/day folder in CloudTrail's layout
 * (…AWSLogs/[o-…/]<account>/CloudTrail/<region>/YYYY/MM/DD/), else its folder.
 */
export function jobPrefix(key: string): string {
  const m = /^(.*?\/)?\d{12}\/CloudTrail\/[a-z0-9-]+\/\d{4}\/\d{2}\/\d{2}\//.exec(key);
  if (m) return m[0];
  return key.slice(0, key.lastIndexOf("/") + 1);
}

async function listJobPrefixes(url: string, ctx: RunContext, since?: Date, until?: Date): Promise<string[]> {
  const { bucket, prefix } = parseS3Url(url);
  if (!bucket) throw new UserError(`${url}: an S3 input is s3://bucket/prefix`);
  const { awsClientFactory } = await import("../cloud/aws/clients.js");
  const { paginateListObjectsV2 } = await import("@aws-sdk/client-s3");
  const s3 = awsClientFactory(ctx.loaded.config.aws).home.s3;
  const prefixes = new Set<string>();
  for await (const page of paginateListObjectsV2(
    { client: s3, pageSize: 1000 },
    { Bucket: bucket, Prefix: prefix },
  ))
    for (const o of page.Contents ?? [])
      if (o.Key && isEventFile(o.Key) && mayHoldEventsIn(o.Key, since, until)) prefixes.add(jobPrefix(o.Key));
  return [...prefixes].sort();
}

const sum = (xs: unknown[], k: string) =>
  xs.reduce<number>((a, x) => a + (Number((x as Record<string, unknown> | null)?.[k]) || 0), 0);

export async function replayDistributed(
  inputs: string[],
  opts: {
    since?: Date | undefined;
    until?: Date | undefined;
    full?: boolean | undefined;
    format: string;
    jobTimeout?: number | undefined;
  },
  ctx: RunContext,
): Promise<void> {
  if (!/^postgres(ql)?:\/\//.test(ctx.storeLocation))
    throw new UserError("--distributed needs the PostgreSQL store (store: postgres://… or --store)");
  const local = inputs.filter((i) => !i.startsWith("s3://"));
  if (local.length) throw new UserError(`--distributed reads s3:// prefixes only, not ${local[0]}`);
  const timeout = opts.jobTimeout ?? 900;
  if (!(Number.isInteger(timeout) && timeout >= 2 && timeout < 86_400))
    throw new UserError("--job-timeout: 2 to 86399 seconds");
  const { enqueueReplayJobs, followReplay } = await import("../store/queue.js");
  const jobs: ReplayJob[] = [];
  for (const url of inputs) {
    const { bucket } = parseS3Url(url);
    for (const prefix of await listJobPrefixes(url, ctx, opts.since, opts.until))
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
  await enqueueReplayJobs(ctx.storeLocation, jobs, { expireInSeconds: timeout });
  process.stderr.write(
    `iamwarden: ${jobs.length} replay jobs queued (replay ${ctx.runId}); waiting for workers\n`,
  );
  let last = "";
  const done = await followReplay(ctx.storeLocation, ctx.runId, {
    maintenanceIntervalSeconds: Math.max(1, Math.min(30, Math.floor(timeout / 3))),
    onProgress: (p: ReplayProgress) => {
      const line = `${p.completed + p.failed}/${jobs.length} jobs done, ${p.active} running, ${p.retrying} to retry, ${p.failed} failed`;
      if (line !== last) process.stderr.write(`iamwarden: ${line}\n`);
      last = line;
    },
  });
  const outputs = done.outputs.filter((o) => o.state === "completed").map((o) => o.output);
  const failed = done.outputs.filter((o) => o.state !== "completed");
  const report = {
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
  if (opts.format === "json") process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else
    process.stderr.write(
      `${report.events} events from ${report.files} files (${report.judged} judged) in ${report.completed} of ${report.jobs} jobs; ` +
        `${report.opened} opened, ${report.reopened} reopened, ${report.refreshed} refreshed` +
        `${report.problems ? `; ${report.problems} problems` : ""}${failed.length ? `; ${failed.length} jobs failed: ${failed.map((f) => f.prefix).join(", ")}` : ""}\n`,
    );
  if (failed.length || report.problems) process.exitCode = EXIT.partial;
}

/** One job, in a worker: the job's prefix through replayInputs into the shared store. */
export async function replayJob(job: ReplayJob, ctx: RunContext): Promise<Record<string, unknown>> {
  const url = `s3://${job.bucket}/${job.prefix}`;
  let listing: string | undefined;
  const out = await replayInputs(
    [url],
    {
      since: job.since ? new Date(job.since) : undefined,
      until: job.until ? new Date(job.until) : undefined,
      concurrency: 4,
      full: job.full,
      notify: true,
      command: "events replay (job)",
      report: (p) => {
        // The prefix could not be listed: fail the job so that it is retried.
        if (p.file === url) listing = p.error;
        process.stderr.write(`iamwarden: ${describeProblem(p)}\n`);
      },
    },
    ctx,
  );
  if (listing) throw new Error(`${url}: ${listing}`);
  return {
    files: out.files,
    alreadyRead: out.alreadyRead,
    events: out.result.events + out.skipped,
    judged: out.result.events,
    problems: out.problems.length,
    ...out.result.summary,
  };
}
