import type { DeliveryReport as DeliverySummary } from "../actions/notify/deliver.js";
import { loadAllowlists } from "../allowlist/config.js";
import type { AllowlistSet } from "../allowlist/set.js";
import type { AccountTarget } from "../cloud/target.js";
import { configPath } from "../config/load.js";
import type { Config } from "../config/schema.js";
import {
  type EventRunResult,
  enabledEventChecks,
  eventHeaderFilter,
  type OnFinding,
  runEventChecks,
} from "../engine/events.js";
import type { HeaderFilter, IamEvent, InputProblem } from "../model/event.js";
import { type FilterSpec, siblingModule } from "../sources/events/filter-spec.js";
import type { Store } from "../store/store.js";
import type { RunContext } from "./context.js";
import { deliverAfterRun } from "./delivery.js";

/** What a source is handed: the records worth normalising, and where to report bad input. */
export interface EventSourceIo {
  /** Records the enabled checks could flag, by their headers; a reader skips the rest cheaply. */
  select: HeaderFilter;
  /** The same filter as plain data, for worker threads to build (functions do not cross threads). */
  filter: FilterSpec;
  /** The run's store (incremental replays ask it which objects were read before). */
  store: Store;
  onProblem: (p: InputProblem) => void;
  /** AWS clients of the run (S3 inputs, LookupEvents), built on first use. */
  aws: RunContext["aws"];
}

/**
 * Events to judge: batches from any source (files, LookupEvents, SQS, HTTP). A function is
 * called once with the run's record filter and problem sink, for readers that use them.
 */
export type EventSource = AsyncIterable<IamEvent[]> | ((io: EventSourceIo) => AsyncIterable<IamEvent[]>);

export interface EventsOptions {
  /** The run record's command name. */
  command: string;
  /** Deliver the outbox at the end (false: queue only, --no-notify). */
  notify: boolean;
  /**
   * The allowlists, loaded beforehand so that a bad list stops a command before its store opens;
   * loaded from config when absent.
   */
  allowlists?: AllowlistSet | undefined;
  /**
   * Administrators per account; by default adminUsers plus the admin group, read once per run.
   * A long-lived caller passes its own (cached across runs).
   */
  admins?: ((account: string) => Promise<ReadonlySet<string>>) | undefined;
  /**
   * Keep a run record of its own (default true). A service's intake, judging a request or a
   * queue batch every few milliseconds, passes false and keeps one long-lived run instead.
   */
  record?: boolean | undefined;
  /** Replaces the configured reaction to new findings (the quarantine hook); tests, services. */
  onFinding?: OnFinding | undefined;
  /** Every input problem as it is found (a bad file, record or account). */
  onProblem?: ((p: InputProblem) => void) | undefined;
  /** Events judged so far (progress). */
  onEvents?: ((n: number) => void) | undefined;
  /** After every event is reconciled (committed) and before delivery: what a source remembers. */
  onReconciled?: ((store: Store) => Promise<void>) | undefined;
}

export interface EventsReport {
  runId: string;
  now: string;
  whatIf: boolean;
  /** Events judged, the checks that ran, accounts seen, what changed, findings written. */
  result: EventRunResult;
  problems: InputProblem[];
  delivery?: DeliverySummary | undefined;
  /** In a what-if: notifications that would have been sent. */
  wouldNotify?: number | undefined;
}

/** The configured allowlists, or undefined when source-ip is not configured; bad lists stop the run. */
export function configuredAllowlists(ctx: Pick<RunContext, "loaded">): AllowlistSet | undefined {
  const s = ctx.loaded.config.checks["source-ip"];
  if (!s?.enabled || !Object.keys(s.allowlists).length) return undefined;
  return loadAllowlists(s, (p) => configPath(ctx.loaded, p));
}

function aliases(config: Config): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of config.accounts) if ("id" in a && a.alias) m.set(a.id, a.alias);
  return m;
}

/** Accounts iamwarden can reach, resolved once and only if something asks (the admin group). */
function lazyTargets(ctx: RunContext) {
  let targets: Promise<Map<string, AccountTarget>> | undefined;
  return async (account: string) => {
    targets ??= (async () => {
      const { resolveTargets } = await import("../cloud/aws/targets.js");
      const list = await resolveTargets(ctx.config, await ctx.aws());
      return new Map(list.map((t) => [t.id, t]));
    })();
    return (await targets).get(account);
  };
}

/**
 * Administrators per account: adminUsers, plus the admin group read from IAM when configured.
 * Accounts that are not configured (their group cannot be read) go into `unreachable`.
 */
async function adminsOf(ctx: RunContext, unreachable: Set<string>) {
  const ic = ctx.config.checks["iam-change"];
  // Without an admin group, adminUsers alone are the admins (the engine's default).
  if (!ic?.adminGroup) return undefined;
  const targetOf = lazyTargets(ctx);
  const { adminResolver } = await import("../sources/cloudtrail/admin-group.js");
  return adminResolver({
    adminUsers: ic.adminUsers,
    adminGroup: ic.adminGroup,
    iamFor: async (account) => {
      const t = await targetOf(account);
      return t ? (await ctx.aws()).forAccount(t).iam : undefined;
    },
    onWarning: (m) => ctx.log.warn(m),
    onNotConfigured: (account) => unreachable.add(account),
  });
}

/** checks.iam-change.quarantine: quarantine the users behind new iam-change findings. */
async function quarantineHook(ctx: RunContext): Promise<OnFinding | undefined> {
  if (!ctx.config.checks["iam-change"]?.quarantine) return undefined;
  if (ctx.whatIf) {
    ctx.log.warn("what-if: checks.iam-change.quarantine is on, but no user is quarantined in a what-if");
    return undefined;
  }
  const { quarantineOnIamChange } = await import("../actions/remediate/quarantine-hook.js");
  return quarantineOnIamChange({
    store: ctx.store,
    config: ctx.config,
    route: ctx.route,
    now: ctx.now,
    runId: ctx.runId,
    actor: ctx.actor,
    clientsFor: ctx.clientsFor,
    report: (id, outcome) => ctx.log.note(`${id}: ${outcome}`),
  });
}

/**
 * An event run: the enabled event checks over a source of events, findings reconciled per
 * account batch, the outbox delivered, all inside one run record.
 */
export async function runEvents(
  ctx: RunContext,
  source: EventSource,
  opts: EventsOptions,
): Promise<EventsReport> {
  const { config, store } = ctx;
  const allowlists = opts.allowlists ?? configuredAllowlists(ctx);
  const checks = enabledEventChecks(config, allowlists);
  // source-ip is always in the parsed config (with defaults): warn only when someone set it up
  // (lists named for accounts or as the default) without the lists themselves.
  const sip = config.checks["source-ip"];
  if (sip?.enabled && !allowlists && (sip.default.length || Object.keys(sip.accounts).length))
    ctx.log.warn("source-ip has no allowlists configured (checks.source-ip.allowlists); it does not run");
  const unreachable = new Set<string>();
  const admins = opts.admins ?? (await adminsOf(ctx, unreachable));
  const problems: InputProblem[] = [];
  const onProblem = (p: InputProblem) => {
    problems.push(p);
    opts.onProblem?.(p);
  };
  const batches =
    typeof source === "function"
      ? source({
          select: eventHeaderFilter(config, allowlists),
          // Worker threads build the same filter from plain data.
          filter: {
            module: siblingModule(import.meta.url, "../engine/events.js"),
            name: "eventHeaderFilter",
            args: [config, allowlists],
          },
          onProblem,
          aws: ctx.aws,
          store,
        })
      : source;

  const record = opts.record ?? true;
  if (record)
    await store.startRun({
      id: ctx.runId,
      command: opts.command,
      actor: ctx.actor,
      startedAt: new Date().toISOString(),
    });
  const onFinding = opts.onFinding ?? (await quarantineHook(ctx));
  const result = await runEventChecks(batches, config, {
    store,
    route: ctx.route,
    now: ctx.now,
    runId: ctx.runId,
    admins,
    allowlists,
    aliases: aliases(config),
    onFinding,
    onEvents: opts.onEvents,
  });
  await opts.onReconciled?.(store);
  if (unreachable.size) {
    const n = unreachable.size;
    ctx.log.warn(
      `admin group ${config.checks["iam-change"]?.adminGroup} not read in ${n === 1 ? "account" : `${n} accounts`} that ${n === 1 ? "is" : "are"} not configured (${[...unreachable].join(", ")}): only adminUsers count as admins there`,
    );
  }
  // Findings are handed to reporting like a scan's: delivered now unless --no-notify.
  const { delivery, wouldNotify } = await deliverAfterRun(ctx, opts.notify);
  if (record)
    await store.finishRun(ctx.runId, new Date().toISOString(), {
      events: result.events,
      checks,
      problems: problems.length,
      ...result.summary,
    });
  return {
    runId: ctx.runId,
    now: ctx.now.toISOString(),
    whatIf: ctx.whatIf,
    result,
    problems,
    delivery,
    wouldNotify,
  };
}
