import type { Command } from "commander";
import type { AllowlistSet } from "../allowlist/config.js";
import { loadAllowlists } from "../allowlist/config.js";
import type { AwsClientFactory } from "../cloud/aws/clients.js";
import type { AccountTarget } from "../cloud/target.js";
import { configPath } from "../config/load.js";
import type { Config } from "../config/schema.js";
import {
  type EventRunResult,
  enabledEventChecks,
  eventRecordFilter,
  type OnFinding,
  runEventChecks,
} from "../engine/events.js";
import { routerFromConfig } from "../engine/routing.js";
import { EXIT, UserError } from "../errors.js";
import { describeProblem, type IamEvent, type InputProblem } from "../model/event.js";
import { findingsTable } from "../outputs/findings-table.js";
import { presentFinding } from "../outputs/present.js";
import { discoverInputs, type InputFile } from "../sources/cloudtrail/input-files.js";
import { readEventBatches } from "../sources/cloudtrail/read-events.js";
import type { RecordFilter } from "../sources/cloudtrail/record.js";
import type { Store } from "../store/store.js";
import { collect, context, formatOption, type GlobalOptions, type RunContext } from "./context.js";

/** Hooks other parts plug into a run: quarantine-user (remediation) goes in onFinding. */
export interface EventHooks {
  onFinding?: OnFinding | undefined;
}

function parseTime(flag: string, v: string | undefined): Date | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UserError(`${flag}: not an ISO date-time: ${v}`);
  return d;
}

const warn = (msg: string) => process.stderr.write(`iamwarden: warning: ${msg}\n`);

/** The configured allowlists, or undefined when source-ip is not configured; bad lists stop the run. */
function allowlistsOf(ctx: RunContext): AllowlistSet | undefined {
  const s = ctx.loaded.config.checks["source-ip"];
  if (!s?.enabled || !Object.keys(s.allowlists).length) return undefined;
  return loadAllowlists(s, (p) => configPath(ctx.loaded, p));
}

function aliases(config: Config): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of config.accounts) if ("id" in a && a.alias) m.set(a.id, a.alias);
  return m;
}

// The AWS SDK is loaded only when a run needs it (S3 inputs, the admin group, lookup): a local
// replay starts without it.
const awsClients = async (aws: Config["aws"]) =>
  (await import("../cloud/aws/clients.js")).awsClientFactory(aws);

/** Accounts iamwarden can reach, resolved once and only if something asks (the admin group). */
function lazyTargets(config: Config, factory: () => Promise<AwsClientFactory>) {
  let targets: Promise<Map<string, AccountTarget>> | undefined;
  return async (account: string) => {
    targets ??= (async () => {
      const { resolveTargets } = await import("../cloud/aws/targets.js");
      const list = await resolveTargets(config, await factory());
      return new Map(list.map((t) => [t.id, t]));
    })();
    return (await targets).get(account);
  };
}

/** A progress bar on stderr (bytes and events), only on a terminal. */
async function progressBar(enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return undefined;
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar(
    {
      format: "{bar} {percentage}% | {mb}/{totalMb} MB read | {events} events | {files} files | {bad} bad",
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let bytes = 0;
  let total = 0;
  const state = { events: 0, files: 0, bad: 0 };
  const mb = (n: number) => (n / 1048576).toFixed(1);
  const render = () => bar.update(bytes, { ...state, mb: mb(bytes), totalMb: total ? mb(total) : "?" });
  bar.start(1, 0, { ...state, mb: "0.0", totalMb: "?" });
  return {
    setTotal(n: number) {
      total = n;
      bar.setTotal(Math.max(n, 1));
      render();
    },
    bytes(n: number) {
      bytes += n;
      if (bytes > total) bar.setTotal(bytes);
      render();
    },
    events(n: number) {
      state.events = n;
      render();
    },
    file(ok: boolean) {
      state.files++;
      if (!ok) state.bad++;
      render();
    },
    stop: () => bar.stop(),
  };
}

interface RunOutput {
  result: EventRunResult;
  problems: InputProblem[];
  files?: number | undefined;
  /** Records read but not judged: no enabled check could flag them. */
  skipped?: number | undefined;
}

function print(ctx: RunContext, format: string, out: RunOutput) {
  const shown = out.result.findings.map((f) => presentFinding(f, ctx.showKeyIds));
  if (format === "json") {
    process.stdout.write(
      `${JSON.stringify(
        {
          events: out.result.events + (out.skipped ?? 0),
          judged: out.result.events,
          ...(out.files !== undefined ? { files: out.files } : {}),
          checks: out.result.checks,
          accounts: out.result.accounts,
          summary: out.result.summary,
          problems: out.problems.map((p) => ({ ...p, message: describeProblem(p) })),
          findings: shown,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    process.stdout.write(findingsTable(shown));
    const s = out.result.summary;
    process.stderr.write(
      `${out.result.events + (out.skipped ?? 0)} events${out.files !== undefined ? ` from ${out.files} files` : ""} (${out.result.events} judged), checks: ${out.result.checks.join(", ") || "none"}; ` +
        `${s.opened} opened, ${s.reopened} reopened, ${s.refreshed} refreshed, ${s.suppressed} suppressed, ${s.escalated} escalated` +
        `${out.problems.length ? `; ${out.problems.length} problems` : ""}\n`,
    );
  }
  if (out.problems.length) process.exitCode = EXIT.partial;
}

/** checks.iam-change.quarantine: quarantine the users behind new iam-change findings. */
async function quarantineHook(ctx: RunContext, store: Store): Promise<OnFinding> {
  const [{ quarantineOnIamChange }, { accountClients }] = await Promise.all([
    import("../actions/remediate/quarantine-hook.js"),
    import("../cloud/aws/account-clients.js"),
  ]);
  const config = ctx.loaded.config;
  return quarantineOnIamChange({
    store,
    config,
    route: routerFromConfig(config.notify),
    now: ctx.now,
    runId: ctx.runId,
    actor: ctx.actor,
    clientsFor: accountClients(config),
    report: (id, outcome) => process.stderr.write(`iamwarden: ${id}: ${outcome}\n`),
  });
}

async function run(
  ctx: RunContext,
  command: string,
  batches: (onProblem: (p: InputProblem) => void, select: RecordFilter) => AsyncIterable<IamEvent[]>,
  opts: { format: string; notify?: boolean; onEvents?: (n: number) => void },
  hooks: EventHooks,
): Promise<RunOutput> {
  const config = ctx.loaded.config;
  const allowlists = allowlistsOf(ctx);
  const checks = enabledEventChecks(config, allowlists);
  if (config.checks["source-ip"]?.enabled && !allowlists)
    warn("source-ip has no allowlists configured (checks.source-ip.allowlists); it does not run");
  let factory: Promise<AwsClientFactory> | undefined;
  const aws = () => {
    factory ??= awsClients(config.aws);
    return factory;
  };
  const targetOf = lazyTargets(config, aws);
  const ic = config.checks["iam-change"];
  // Without an admin group, adminUsers alone are the admins (the engine's default).
  const admins = ic?.adminGroup
    ? (await import("../sources/cloudtrail/admin-group.js")).adminResolver({
        adminUsers: ic.adminUsers,
        adminGroup: ic.adminGroup,
        iamFor: async (account) => {
          const t = await targetOf(account);
          return t ? (await aws()).forAccount(t).iam : undefined;
        },
        onWarning: warn,
      })
    : undefined;

  const problems: InputProblem[] = [];
  const store = await ctx.openStore();
  try {
    await store.startRun({ id: ctx.runId, command, actor: ctx.actor, startedAt: new Date().toISOString() });
    const onFinding = hooks.onFinding ?? (ic?.quarantine ? await quarantineHook(ctx, store) : undefined);
    const result = await runEventChecks(
      batches((p) => problems.push(p), eventRecordFilter(config, allowlists)),
      config,
      {
        store,
        route: routerFromConfig(config.notify),
        now: ctx.now,
        runId: ctx.runId,
        admins,
        allowlists,
        aliases: aliases(config),
        onFinding,
        onEvents: opts.onEvents,
      },
    );
    // Findings are handed to reporting like a scan's: delivered now unless --no-notify.
    if (opts.notify !== false) {
      const { deliverOutbox } = await import("../actions/notify/deliver.js");
      await deliverOutbox(store, config, { now: ctx.now, baseDir: ctx.loaded.baseDir });
    }
    await store.finishRun(ctx.runId, new Date().toISOString(), {
      events: result.events,
      checks,
      problems: problems.length,
      ...result.summary,
    });
    return { result, problems };
  } finally {
    await store.close();
  }
}

/** `events replay`: archives and event files through the event checks into the store. */
export async function replay(
  inputs: string[],
  opts: {
    since?: string;
    until?: string;
    format: string;
    concurrency: number;
    progress: boolean;
    notify?: boolean;
  },
  ctx: RunContext,
  hooks: EventHooks = {},
): Promise<void> {
  const since = parseTime("--since", opts.since);
  const until = parseTime("--until", opts.until);
  if (since && until && since > until) throw new UserError("--since is after --until");
  if (!(opts.concurrency >= 1 && opts.concurrency <= 64)) throw new UserError("--concurrency: 1 to 64");
  const config = ctx.loaded.config;
  const bar = await progressBar(opts.progress);
  const s3 = async () => (await awsClients(config.aws)).home.s3;
  let files = 0;
  let skipped = 0;
  const live: InputProblem[] = [];
  const report = (p: InputProblem) => {
    if (bar) live.push(p);
    else process.stderr.write(`iamwarden: ${describeProblem(p)}\n`);
  };
  let out: RunOutput;
  try {
    // With a bar, local inputs are measured first so that it shows a true percentage.
    if (bar && inputs.every((a) => a !== "-" && !a.startsWith("s3://"))) {
      let total = 0;
      for await (const f of discoverInputs(inputs, { since, until, onProblem: () => {} }))
        total += f.size ?? 0;
      bar.setTotal(total);
    }
    out = await run(
      ctx,
      "events replay",
      (onProblem, select) => {
        const problem = (p: InputProblem) => {
          onProblem(p);
          report(p);
        };
        const discovered: AsyncIterable<InputFile> = discoverInputs(inputs, {
          since,
          until,
          s3,
          onProblem: problem,
        });
        return readEventBatches(discovered, {
          concurrency: opts.concurrency,
          since,
          until,
          onProblem: problem,
          select,
          onSkipped: (n) => {
            skipped += n;
          },
          onBytes: bar ? (n) => bar.bytes(n) : undefined,
          onFileDone: (_f, _n, ok) => {
            files++;
            bar?.file(ok);
          },
        });
      },
      {
        format: opts.format,
        notify: opts.notify,
        onEvents: bar ? (n) => bar.events(n + skipped) : undefined,
      },
      hooks,
    );
  } finally {
    bar?.stop();
  }
  for (const p of live) process.stderr.write(`iamwarden: ${describeProblem(p)}\n`);
  print(ctx, opts.format, { ...out, files, skipped });
}

/** `events lookup`: CloudTrail event history (LookupEvents, us-east-1) of accounts. */
export async function lookup(
  accounts: string[],
  opts: { since?: string; until?: string; format: string; all: boolean; notify?: boolean },
  ctx: RunContext,
  hooks: EventHooks = {},
): Promise<void> {
  const since = parseTime("--since", opts.since);
  const until = parseTime("--until", opts.until);
  const config = ctx.loaded.config;
  // IAM and sign-in are global services: their events are recorded in us-east-1.
  const factory = await awsClients({ ...config.aws, region: "us-east-1" });
  const { resolveTargets } = await import("../cloud/aws/targets.js");
  const { DEFAULT_LOOKUP_SOURCES, lookupEvents } = await import("../sources/cloudtrail/lookup.js");
  const targets = await resolveTargets(config, factory, { only: accounts.length ? accounts : undefined });
  const out = await run(
    ctx,
    "events lookup",
    (onProblem) =>
      (async function* () {
        for (const t of targets) {
          const client = factory.forAccount({ ...t, region: "us-east-1" }).cloudtrail;
          try {
            yield* lookupEvents(client, t.id, {
              since,
              until,
              eventSources: opts.all ? [] : DEFAULT_LOOKUP_SOURCES,
              onProblem,
            });
          } catch (e) {
            const err = e as { name?: string; message?: string };
            const p = {
              file: `lookup-events:${t.id}`,
              error: `${err.name ?? "Error"}: ${err.message ?? String(e)}`,
            };
            onProblem(p);
            process.stderr.write(`iamwarden: ${describeProblem(p)}\n`);
          }
        }
      })(),
    { format: opts.format, notify: opts.notify },
    hooks,
  );
  print(ctx, opts.format, out);
}

export function register(program: Command): void {
  const events = program.command("events").description("run the event checks over audit events");

  events
    .command("replay")
    .description("read CloudTrail archives, EventBridge or Activity Tracker events and reconcile findings")
    .argument("<inputs...>", "files, folders (walked), s3://bucket/prefix, or - for stdin")
    .option("--since <iso-time>", "only events at or after this time")
    .option("--until <iso-time>", "only events at or before this time")
    .option("--concurrency <n>", "files read at once", (v) => Number.parseInt(v, 10), 4)
    .option("--no-progress", "no progress bar")
    .option("--no-notify", "queue notifications but do not deliver them now")
    .addOption(formatOption(["table", "json"]))
    .action(async (inputs: string[], opts, cmd: Command) => {
      await replay(inputs, opts, context(cmd.optsWithGlobals<GlobalOptions>()));
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
    .action(async (opts, cmd: Command) => {
      await lookup(opts.account ?? [], opts, context(cmd.optsWithGlobals<GlobalOptions>()));
    });
}
