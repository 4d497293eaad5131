import type { AllowlistSet } from "../allowlist/config.js";
import { loadAllowlists } from "../allowlist/config.js";
import type { AwsClientFactory } from "../cloud/aws/clients.js";
import { configPath } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { OnFinding } from "../engine/events.js";
import { routerFromConfig } from "../engine/routing.js";
import type { IamEvent } from "../model/event.js";
import { describeProblem } from "../model/event.js";
import { DAY_MS } from "../util/time.js";
import type { EventsOutcome, JobContext, ServeDeps } from "./deps.js";
import { parseDocument } from "./intake/parse.js";

// The service's runs on today's engine functions (scanAccounts, runEventChecks, deliverOutbox,
// runRemediation), loaded when first used so that `serve --help` stays fast.

/** Admin group members are read again after this long (a service lives for months). */
const ADMIN_TTL_MS = 5 * 60_000;

export function engineDeps(): ServeDeps {
  const factories = new WeakMap<Config, AwsClientFactory>();
  const factory = async (config: Config) => {
    let f = factories.get(config);
    if (!f) {
      f = (await import("../cloud/aws/clients.js")).awsClientFactory(config.aws);
      factories.set(config, f);
    }
    return f;
  };
  let admins: { at: number; resolve: (account: string) => Promise<ReadonlySet<string>> } | undefined;
  let allowlists: { config: Config; set: AllowlistSet | undefined } | undefined;

  const allowlistsOf = (ctx: JobContext) => {
    const config = ctx.loaded.config;
    if (allowlists?.config !== config) {
      const s = config.checks["source-ip"];
      const set =
        s?.enabled && Object.keys(s.allowlists).length
          ? loadAllowlists(s, (p) => configPath(ctx.loaded, p))
          : undefined;
      allowlists = { config, set };
    }
    return allowlists.set;
  };

  const targets: ServeDeps["targets"] = async (ctx, only) => {
    const { resolveTargets } = await import("../cloud/aws/targets.js");
    const config = ctx.loaded.config;
    return resolveTargets(config, await factory(config), only?.length ? { only } : {});
  };

  const runEvents = async (ctx: JobContext, batches: AsyncIterable<IamEvent[]>): Promise<EventsOutcome> => {
    const config = ctx.loaded.config;
    const { runEventChecks } = await import("../engine/events.js");
    const ic = config.checks["iam-change"];
    if (ic?.adminGroup && (!admins || Date.now() - admins.at > ADMIN_TTL_MS)) {
      const { adminResolver } = await import("../sources/cloudtrail/admin-group.js");
      const f = await factory(config);
      const list = await targets(ctx);
      const byId = new Map(list.map((t) => [t.id, t]));
      admins = {
        at: Date.now(),
        resolve: adminResolver({
          adminUsers: ic.adminUsers,
          adminGroup: ic.adminGroup,
          iamFor: async (account) => {
            const t = byId.get(account);
            return t ? f.forAccount(t).iam : undefined;
          },
          onWarning: (m) => ctx.log.warn({}, m),
        }),
      };
    }
    const route = routerFromConfig(config.notify);
    const remediation: EventsOutcome["remediation"] = [];
    let onFinding: OnFinding | undefined;
    if (ic?.quarantine) {
      const [{ quarantineOnIamChange }, { accountClients }] = await Promise.all([
        import("../actions/remediate/quarantine-hook.js"),
        import("../cloud/aws/account-clients.js"),
      ]);
      onFinding = quarantineOnIamChange({
        store: ctx.store,
        config,
        route,
        now: ctx.now,
        runId: ctx.runId,
        actor: ctx.actor,
        clientsFor: accountClients(config, await factory(config)),
        report: (findingId, outcome) => {
          remediation.push({ findingId, outcome });
          ctx.log.info({ finding: findingId, outcome }, "iam-change remediation");
        },
      });
    }
    const aliases = new Map<string, string>();
    for (const a of config.accounts) if ("id" in a && a.alias) aliases.set(a.id, a.alias);
    const r = await runEventChecks(batches, config, {
      store: ctx.store,
      route,
      now: ctx.now,
      runId: ctx.runId,
      admins: ic?.adminGroup ? admins?.resolve : undefined,
      allowlists: allowlistsOf(ctx),
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
    targets,

    async scan(ctx, list) {
      const config = ctx.loaded.config;
      const [{ scanAccounts }, { awsAccountReader }] = await Promise.all([
        import("../engine/scan.js"),
        import("../sources/aws/reader.js"),
      ]);
      const started = new Map<string, number>();
      const reader = awsAccountReader(config, await factory(config));
      // The reader is wrapped to time each account: scans run several accounts at once.
      const timed = {
        ...reader,
        read: (t: (typeof list)[number]) => {
          started.set(t.id, Date.now());
          return reader.read(t);
        },
      };
      const results = await scanAccounts(list, timed, config, {
        store: ctx.store,
        route: routerFromConfig(config.notify),
        now: ctx.now,
        runId: ctx.runId,
      });
      return {
        accounts: results.map((r) => ({
          id: r.account.id,
          ok: r.ok,
          error: r.error,
          durationMs: Date.now() - (started.get(r.account.id) ?? Date.now()),
          keyAgesDays: (r.snapshot?.keys ?? []).map((k) =>
            Math.max(0, (ctx.now.getTime() - k.createDate.getTime()) / DAY_MS),
          ),
          opened: r.summary.opened + r.summary.reopened,
          resolved: r.summary.resolved,
        })),
      };
    },

    events: runEvents,

    async lookup(ctx, since) {
      const config = ctx.loaded.config;
      const { DEFAULT_LOOKUP_SOURCES, lookupEvents } = await import("../sources/cloudtrail/lookup.js");
      // IAM and sign-in are global services: their events are recorded in us-east-1.
      const { awsClientFactory } = await import("../cloud/aws/clients.js");
      const east = awsClientFactory({ ...config.aws, region: "us-east-1" });
      const list = await targets(ctx);
      return runEvents(
        ctx,
        (async function* () {
          for (const t of list) {
            const client = east.forAccount({ ...t, region: "us-east-1" }).cloudtrail;
            try {
              yield* lookupEvents(client, t.id, {
                since,
                until: ctx.now,
                eventSources: DEFAULT_LOOKUP_SOURCES,
                onProblem: (p) => ctx.log.warn({ account: t.id }, describeProblem(p)),
              });
            } catch (e) {
              ctx.log.warn({ account: t.id, error: (e as Error).message }, "event lookup failed");
            }
          }
        })(),
      );
    },

    async deliver(ctx) {
      const { deliverOutbox } = await import("../actions/notify/deliver.js");
      return deliverOutbox(ctx.store, ctx.loaded.config, {
        now: ctx.now,
        baseDir: ctx.loaded.baseDir,
        log: ctx.log,
      });
    },

    async remediate(ctx) {
      const config = ctx.loaded.config;
      const [{ runRemediation, countByStatus }, { accountClients }] = await Promise.all([
        import("../actions/remediate/run.js"),
        import("../cloud/aws/account-clients.js"),
      ]);
      // No confirm: the schedule applies only what the remediation config allows, unattended.
      const report = await runRemediation(
        {
          store: ctx.store,
          config,
          now: ctx.now,
          runId: ctx.runId,
          actor: ctx.actor,
          route: routerFromConfig(config.notify),
          clientsFor: accountClients(config, await factory(config)),
        },
        { apply: true },
      );
      return { counts: countByStatus(report.items), accountErrors: report.accountErrors.length };
    },

    parse: parseDocument,
  };
}
