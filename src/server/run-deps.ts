import type { AwsClientFactory } from "../cloud/aws/clients.js";
import type { OnFinding } from "../engine/events.js";
import type { IamEvent } from "../model/event.js";
import { createRunContext, lazyAwsClients, type RunContext, type RunLog } from "../run/context.js";
import { configuredAllowlists } from "../run/events.js";
import { DAY_MS } from "../util/time.js";
import type { EventsOutcome, JobContext, ServeDeps } from "./deps.js";
import { parseDocument } from "./intake/parse.js";

// The service's runs on the run layer (runScan, runEvents, runDelivery, runRemediation), the same
// functions the CLI calls. One exception, intake: runEvents keeps a run record per call, which
// for a request or an SQS batch every few milliseconds would bury the scans in the runs table;
// intake judges through the engine's runEventChecks under one long-lived run instead.

/** Admin group members are read again after this long (a service lives for months). */
const ADMIN_TTL_MS = 5 * 60_000;

export function runDeps(): ServeDeps {
  // One AWS client factory per config for the life of the service (connections are reused).
  let aws: { config: unknown; get: (region?: string) => Promise<AwsClientFactory> } | undefined;
  const awsFor = (ctx: JobContext) => {
    if (aws?.config !== ctx.loaded.config)
      aws = { config: ctx.loaded.config, get: lazyAwsClients(ctx.loaded.config) };
    return aws.get;
  };
  const runLog = (ctx: JobContext): RunLog => ({
    note: (m) => ctx.log.info({ runId: ctx.runId }, m),
    warn: (m) => ctx.log.warn({ runId: ctx.runId }, m),
  });
  const run = (ctx: JobContext): RunContext =>
    createRunContext({
      loaded: ctx.loaded,
      store: ctx.store,
      now: ctx.now,
      actor: ctx.actor,
      runId: ctx.runId,
      log: runLog(ctx),
      aws: awsFor(ctx),
    });

  let admins: { at: number; resolve: (account: string) => Promise<ReadonlySet<string>> } | undefined;
  const adminsOf = async (rc: RunContext) => {
    const ic = rc.config.checks["iam-change"];
    if (!ic?.adminGroup) return undefined;
    if (!admins || Date.now() - admins.at > ADMIN_TTL_MS) {
      const [{ adminResolver }, { resolveTargets }] = await Promise.all([
        import("../sources/cloudtrail/admin-group.js"),
        import("../cloud/aws/targets.js"),
      ]);
      const factory = await rc.aws();
      const byId = new Map((await resolveTargets(rc.config, factory)).map((t) => [t.id, t]));
      admins = {
        at: Date.now(),
        resolve: adminResolver({
          adminUsers: ic.adminUsers,
          adminGroup: ic.adminGroup,
          iamFor: async (account) => {
            const t = byId.get(account);
            return t ? factory.forAccount(t).iam : undefined;
          },
          onWarning: (m) => rc.log.warn(m),
        }),
      };
    }
    return admins.resolve;
  };

  const judge = async (ctx: JobContext, batches: AsyncIterable<IamEvent[]>): Promise<EventsOutcome> => {
    const rc = run(ctx);
    const config = rc.config;
    const { runEventChecks } = await import("../engine/events.js");
    const remediation: EventsOutcome["remediation"] = [];
    let onFinding: OnFinding | undefined;
    if (config.checks["iam-change"]?.quarantine) {
      const { quarantineOnIamChange } = await import("../actions/remediate/quarantine-hook.js");
      onFinding = quarantineOnIamChange({
        store: rc.store,
        config,
        route: rc.route,
        now: rc.now,
        runId: rc.runId,
        actor: rc.actor,
        clientsFor: rc.clientsFor,
        report: (findingId, outcome) => {
          remediation.push({ findingId, outcome });
          ctx.log.info({ finding: findingId, outcome }, "iam-change remediation");
        },
      });
    }
    const aliases = new Map<string, string>();
    for (const a of config.accounts) if ("id" in a && a.alias) aliases.set(a.id, a.alias);
    const r = await runEventChecks(batches, config, {
      store: rc.store,
      route: rc.route,
      now: rc.now,
      runId: rc.runId,
      admins: await adminsOf(rc),
      allowlists: configuredAllowlists(rc),
      aliases,
      onFinding,
    });
    return {
      events: r.events,
      opened: r.summary.opened + r.summary.reopened,
      refreshed: r.summary.refreshed,
      suppressed: r.summary.suppressed,
      findings: r.findings,
      remediation,
    };
  };

  return {
    async targets(ctx, only) {
      const { resolveTargets } = await import("../cloud/aws/targets.js");
      return resolveTargets(ctx.loaded.config, await awsFor(ctx)(), only?.length ? { only } : {});
    },

    async scan(ctx, targets) {
      const { runScan } = await import("../run/scan.js");
      const started = Date.now();
      const report = await runScan(
        run(ctx),
        { kind: "targets", targets },
        { notify: false, command: "serve scan" },
      );
      const seconds = Date.now() - started;
      return {
        accounts: report.accounts.map((a) => ({
          id: a.account.id,
          ok: a.ok,
          error: a.error,
          durationMs: seconds,
          keyAgesDays: report.keys
            .filter((k) => k.account.id === a.account.id)
            .map((k) => Math.max(0, (ctx.now.getTime() - k.createDate.getTime()) / DAY_MS)),
          opened: a.summary.opened + a.summary.reopened,
          resolved: a.summary.resolved,
        })),
      };
    },

    events: judge,

    async lookup(ctx, since) {
      const [{ runEvents }, { lookupSource }] = await Promise.all([
        import("../run/events.js"),
        import("../run/event-sources.js"),
      ]);
      const rc = run(ctx);
      const source = await lookupSource(rc, [], { since, until: ctx.now, all: false });
      const report = await runEvents(rc, source, {
        command: "serve events",
        notify: false,
        onProblem: (p) => ctx.log.warn({ file: p.file }, p.error),
      });
      const s = report.result.summary;
      return {
        events: report.result.events,
        opened: s.opened + s.reopened,
        refreshed: s.refreshed,
        suppressed: s.suppressed,
        findings: report.result.findings,
        remediation: [],
      };
    },

    async deliver(ctx) {
      const { runDelivery } = await import("../run/delivery.js");
      return (await runDelivery(run(ctx))).summary;
    },

    async remediate(ctx) {
      const [{ runRemediation }, { countByStatus }] = await Promise.all([
        import("../run/remediation.js"),
        import("../actions/remediate/run.js"),
      ]);
      // No confirm: the schedule applies only what the remediation config allows, unattended.
      const report = await runRemediation(run(ctx), { apply: true });
      return { counts: countByStatus(report.items), accountErrors: report.accountErrors.length };
    },

    parse: parseDocument,
  };
}
