import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { EXIT } from "../errors.js";
import { describeProblem, type InputProblem } from "../model/event.js";
import { findingsTable } from "../outputs/findings-table.js";
import { presentFinding } from "../outputs/present.js";
import type { RunContext } from "../run/context.js";
import { localInputBytes, lookupSource, parseTime, replaySource } from "../run/event-sources.js";
import {
  configuredAllowlists,
  type EventSource,
  type EventsOptions,
  type EventsReport,
  runEvents,
} from "../run/events.js";
import {
  type CliSettings,
  collect,
  formatOption,
  type GlobalOptions,
  settings,
  whatIfLine,
  withRun,
} from "./context.js";
import type { Cli } from "./io.js";
import { replayBar } from "./progress.js";

interface Counts {
  files?: number | undefined;
  /** S3 objects left out because an earlier replay read them. */
  alreadyRead?: number | undefined;
  /** Records read but not judged: no enabled check could flag them. */
  skipped?: number | undefined;
}

function render(cli: Cli, s: CliSettings, format: string, r: EventsReport, counts: Counts) {
  const { result, problems } = r;
  const shown = result.findings.map((f) => presentFinding(f, s.showKeyIds));
  const all = result.events + (counts.skipped ?? 0);
  if (format === "json") {
    const doc = {
      ...(r.whatIf ? { whatIf: true, wouldNotify: r.wouldNotify } : {}),
      events: all,
      judged: result.events,
      ...(counts.files !== undefined ? { files: counts.files } : {}),
      checks: result.checks,
      accounts: result.accounts,
      summary: result.summary,
      problems: problems.map((p) => ({ ...p, message: describeProblem(p) })),
      findings: shown,
    };
    cli.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    cli.stdout.write(findingsTable(shown));
    const x = result.summary;
    cli.stderr.write(
      `${all} events${counts.files !== undefined ? ` from ${counts.files} files` : ""} (${result.events} judged), checks: ${result.checks.join(", ") || "none"}; ` +
        `${x.opened} opened, ${x.reopened} reopened, ${x.refreshed} refreshed, ${x.suppressed} suppressed, ${x.escalated} escalated` +
        `${problems.length ? `; ${problems.length} problems` : ""}\n`,
    );
    if (r.whatIf) {
      const n = r.wouldNotify ?? 0;
      cli.stderr.write(
        whatIfLine(
          new Date(r.now),
          n ? ` (${n} notification${n === 1 ? "" : "s"} would have been sent)` : "",
        ),
      );
    }
  }
}

/** Problems exit 3 (partial); when not one file could be read (only missing inputs), exit 2. */
function exitCode(r: EventsReport, counts: Counts): number {
  if (!r.problems.length) return EXIT.ok;
  return counts.files === 0 ? EXIT.error : EXIT.partial;
}

async function runAndRender(
  cli: Cli,
  s: CliSettings,
  source: (ctx: RunContext) => Promise<EventSource>,
  opts: Omit<EventsOptions, "onProblem">,
  report: (p: InputProblem) => void,
  counts: () => Counts,
) {
  // Bad allowlists stop the command before the store is opened.
  const allowlists = configuredAllowlists(s);
  const r = await withRun(cli, s, "write", async (ctx) =>
    runEvents(ctx, await source(ctx), { ...opts, allowlists, onProblem: report }),
  );
  return { r, counts: counts() };
}

interface ReplayFlags {
  since?: string;
  until?: string;
  format: string;
  concurrency: number;
  workers?: number | undefined;
  full: boolean;
  distributed: boolean;
  jobTimeout: number;
  progress: boolean;
  notify: boolean;
}

/** `events replay s3://… --distributed`: jobs for the workers, followed until the last is done. */
async function replayDistributed(
  cli: Cli,
  s: CliSettings,
  inputs: string[],
  flags: ReplayFlags,
): Promise<void> {
  const { runDistributedReplay } = await import("../run/replay-distributed.js");
  let last = "";
  const r = await withRun(cli, s, "write", (ctx) =>
    runDistributedReplay(ctx, s.storeLocation, inputs, {
      since: parseTime("--since", flags.since),
      until: parseTime("--until", flags.until),
      full: flags.full,
      jobTimeout: flags.jobTimeout,
      onQueued: (n) => cli.stderr.write(`iamwarden: ${n} replay jobs queued; waiting for workers\n`),
      onProgress: (p, jobs) => {
        const line = `${p.completed + p.failed}/${jobs} jobs done, ${p.active} running, ${p.retrying} to retry, ${p.failed} failed`;
        if (line !== last) cli.stderr.write(`iamwarden: ${line}\n`);
        last = line;
      },
    }),
  );
  if (flags.format === "json") cli.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else
    cli.stderr.write(
      `${r.events} events from ${r.files} files (${r.judged} judged) in ${r.completed} of ${r.jobs} jobs; ` +
        `${r.opened} opened, ${r.reopened} reopened, ${r.refreshed} refreshed` +
        `${r.problems ? `; ${r.problems} problems` : ""}${r.failed.length ? `; ${r.failed.length} jobs failed: ${r.failed.map((f) => f.prefix).join(", ")}` : ""}\n`,
    );
  cli.exitCode = r.failed.length || r.problems ? EXIT.partial : EXIT.ok;
}

/** `events replay`: archives and event files through the event checks into the store. */
async function replay(cli: Cli, s: CliSettings, inputs: string[], flags: ReplayFlags): Promise<void> {
  if (flags.distributed) return replayDistributed(cli, s, inputs, flags);
  const since = parseTime("--since", flags.since);
  const until = parseTime("--until", flags.until);
  const bar = await replayBar(cli, flags.progress);
  const live: InputProblem[] = [];
  const report = (p: InputProblem) => {
    if (bar) live.push(p);
    else cli.stderr.write(`iamwarden: ${describeProblem(p)}\n`);
  };
  // Flags are checked before the store is opened.
  const { source, stats, remember } = replaySource(inputs, {
    since,
    until,
    concurrency: flags.concurrency,
    workers: flags.workers,
    full: flags.full,
    stdin: cli.stdin,
    onBytes: bar ? (n) => bar.bytes(n) : undefined,
    onFileDone: (ok) => bar?.file(ok),
  });
  let out: Awaited<ReturnType<typeof runAndRender>>;
  try {
    // With a bar, local inputs are measured first so that it shows a true percentage.
    if (bar) {
      const total = await localInputBytes(inputs, { since, until });
      if (total !== undefined) bar.setTotal(total);
    }
    out = await runAndRender(
      cli,
      s,
      async () => source,
      {
        command: "events replay",
        notify: flags.notify,
        onEvents: bar ? (n) => bar.events(n + stats.skipped) : undefined,
        onReconciled: remember,
      },
      report,
      () => ({ files: stats.files, skipped: stats.skipped, alreadyRead: stats.alreadyRead }),
    );
  } finally {
    bar?.stop();
  }
  for (const p of live) cli.stderr.write(`iamwarden: ${describeProblem(p)}\n`);
  if (out.counts.alreadyRead && flags.format !== "json")
    cli.stderr.write(
      `iamwarden: ${out.counts.alreadyRead} S3 objects already read by an earlier replay were left out (--full reads them again)\n`,
    );
  render(cli, s, flags.format, out.r, out.counts);
  cli.exitCode = exitCode(out.r, out.counts);
}

/** `events lookup`: CloudTrail event history (LookupEvents, us-east-1) of accounts. */
async function lookup(
  cli: Cli,
  s: CliSettings,
  accounts: string[],
  flags: { since?: string; until?: string; format: string; all: boolean; notify: boolean },
): Promise<void> {
  const since = parseTime("--since", flags.since);
  const until = parseTime("--until", flags.until);
  const out = await runAndRender(
    cli,
    s,
    (ctx) => lookupSource(ctx, accounts, { since, until, all: flags.all }),
    { command: "events lookup", notify: flags.notify },
    (p) => cli.stderr.write(`iamwarden: ${describeProblem(p)}\n`),
    () => ({}),
  );
  render(cli, s, flags.format, out.r, out.counts);
  cli.exitCode = exitCode(out.r, out.counts);
}

export function register(program: Command, cli: Cli): void {
  const events = program.command("events").description("run the event checks over audit events");

  events
    .command("replay")
    .description("read CloudTrail archives, EventBridge or Activity Tracker events and reconcile findings")
    .argument("<inputs...>", "files, folders (walked), s3://bucket/prefix, or - for stdin")
    .option("--since <iso-time>", "only events at or after this time")
    .option("--until <iso-time>", "only events at or before this time")
    .option("--concurrency <n>", "files read at once in the main thread", (v) => Number.parseInt(v, 10), 4)
    .option(
      "--workers <n>",
      `threads that read, inflate and parse files (0: none; default: the ${availableParallelism()} cores)`,
      (v) => Number.parseInt(v, 10),
    )
    .option("--no-progress", "no progress bar")
    .option("--no-notify", "queue notifications but do not deliver them now")
    .option("--full", "read S3 objects an earlier replay already read, too", false)
    .option(
      "--distributed",
      "split s3:// prefixes into jobs (account, region, day) for `worker` processes (PostgreSQL store)",
      false,
    )
    .option(
      "--job-timeout <seconds>",
      "with --distributed: a job running longer (its worker died) is given to another",
      (v) => Number.parseInt(v, 10),
      900,
    )
    .addOption(formatOption(["table", "json"]))
    .action(async (inputs: string[], flags: ReplayFlags, cmd: Command) => {
      await replay(cli, settings(cli, cmd.optsWithGlobals<GlobalOptions>()), inputs, flags);
    });

  events
    .command("lookup")
    .description(
      "read CloudTrail event history (LookupEvents, us-east-1; 2 requests/s) and reconcile findings",
    )
    .option("--account <id>", "account (repeatable; default: the configured accounts)", collect)
    .option("--since <iso-time>", "only events at or after this time (history keeps 90 days)")
    .option("--until <iso-time>", "only events at or before this time")
    .option("--all", "every management event, not only IAM and sign-in (slow: 50 events per request)", false)
    .option("--no-notify", "queue notifications but do not deliver them now")
    .addOption(formatOption(["table", "json"]))
    .action(async (flags, cmd: Command) => {
      await lookup(cli, settings(cli, cmd.optsWithGlobals<GlobalOptions>()), flags.account ?? [], flags);
    });
}
