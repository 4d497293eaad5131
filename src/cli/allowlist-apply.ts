import Table from "cli-table3";
import type { Command } from "commander";
import type { AccountApplied, AccountPlan, AllowlistDeps } from "../actions/remediate/allowlist-run.js";
import { loadAllowlists } from "../allowlist/config.js";
import { parseIp } from "../allowlist/ip.js";
import { configPath } from "../config/load.js";
import { routerFromConfig } from "../engine/routing.js";
import { EXIT, UserError } from "../errors.js";
import type { Store } from "../store/store.js";
import { fetchWithRetry } from "../util/http-retry.js";
import { collect, context, formatOption, type GlobalOptions, type RunContext } from "./context.js";

// allowlist plan | apply | rollback | drift: the lists of checks.source-ip applied to accounts as
// allowlists.apply says (an AWS deny policy, IBM Cloud's allowed_ip_addresses).

interface Opts {
  account?: string[];
  format: string;
  yes?: boolean;
  iKnowThisLocksMeOut?: boolean;
  run?: string;
}

async function selfAddress(url: string | undefined, fixed: string | undefined): Promise<string | undefined> {
  if (fixed) {
    if (!parseIp(fixed)) throw new UserError(`allowlists.apply.selfIp: not an address: ${fixed}`);
    return fixed;
  }
  if (!url) return undefined;
  const res = await fetchWithRetry("allowlists.apply.selfIpUrl", url, { headers: { Accept: "text/plain" } });
  const text = (await res.text()).trim();
  if (!res.ok || !parseIp(text))
    throw new UserError(`allowlists.apply.selfIpUrl ${url} did not answer an address (HTTP ${res.status})`);
  return text;
}

async function deps(ctx: RunContext, store: Store): Promise<AllowlistDeps> {
  const config = ctx.loaded.config;
  const settings = config.allowlists.apply;
  if (!settings || (!settings.aws?.enabled && !settings.ibm?.enabled))
    throw new UserError("allowlists.apply is not configured (allowlists.apply.aws or allowlists.apply.ibm)");
  const sourceIp = config.checks["source-ip"];
  if (!sourceIp || !Object.keys(sourceIp.allowlists).length)
    throw new UserError("no allowlists configured (checks.source-ip.allowlists)");
  const set = loadAllowlists(sourceIp, (p) => configPath(ctx.loaded, p));
  let awsAccounts: string[] = [];
  let awsClients: AllowlistDeps["awsClients"] = async () => {
    throw new UserError("allowlists.apply.aws is not configured");
  };
  if (settings.aws?.enabled) {
    const { awsClientFactory } = await import("../cloud/aws/clients.js");
    const { resolveTargets } = await import("../cloud/aws/targets.js");
    const { accountClients } = await import("../cloud/aws/account-clients.js");
    const factory = awsClientFactory(config.aws);
    awsAccounts = (await resolveTargets(config, factory)).map((t) => t.id);
    awsClients = accountClients(config, factory);
  }
  const ibm = settings.ibm?.enabled
    ? (await import("../cloud/ibm/iam.js")).ibmIamClient(settings.ibm)
    : undefined;
  return {
    settings,
    set,
    store,
    runId: ctx.runId,
    actor: ctx.actor,
    awsAccounts,
    awsClients,
    ibm,
    selfIp: await selfAddress(settings.selfIpUrl, settings.selfIp),
  };
}

function planTable(plans: AccountPlan[]): string {
  const t = new Table({
    head: ["provider", "account", "lists", "add", "remove", "changes"],
    style: { head: [], border: [] },
  });
  for (const p of plans)
    t.push([
      p.provider,
      p.account,
      p.lists.join(", "),
      p.added.map((c) => `+ ${c}`).join("\n"),
      p.removed.map((c) => `- ${c}`).join("\n"),
      p.refused
        ? `REFUSED: ${p.refused}`
        : [...p.changes, ...(p.lockout && p.changes.length ? [`LOCKOUT: ${p.lockout}`] : [])].join("\n") ||
          "none (already applied)",
    ]);
  return `${t.toString()}\n`;
}

const strip = (p: AccountPlan) => ({ ...p, detail: undefined });

function exitFor(plans: AccountPlan[], applied?: AccountApplied[]): number {
  const bad = applied
    ? applied.filter((a) => a.outcome === "failed" || a.outcome === "refused").length
    : plans.filter((p) => p.refused || (p.lockout && p.changes.length)).length;
  if (!bad) return EXIT.ok;
  return bad === plans.length ? EXIT.error : EXIT.partial;
}

export function registerApply(cmd: Command): void {
  cmd
    .command("plan")
    .description("show, per account, how the applied allowlist would change (nothing is changed)")
    .option("-a, --account <id>", "only this account (repeatable)", collect)
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: Opts, c: Command) => {
      const ctx = context(c.optsWithGlobals<GlobalOptions>());
      const { allowlistTargets, planAllowlists } = await import("../actions/remediate/allowlist-run.js");
      const store = await ctx.openStore();
      try {
        const d = await deps(ctx, store);
        const plans = await planAllowlists(d, allowlistTargets(d, opts.account));
        if (opts.format === "json")
          process.stdout.write(`${JSON.stringify({ plans: plans.map(strip) }, null, 2)}\n`);
        else process.stdout.write(planTable(plans));
        process.exitCode = exitFor(plans);
      } finally {
        await store.close();
      }
    });

  cmd
    .command("apply")
    .description("apply the allowlists to the accounts (audited; asks per account unless --yes)")
    .option("-a, --account <id>", "only this account (repeatable)", collect)
    .option("--yes", "do not ask")
    .option(
      "--i-know-this-locks-me-out",
      "apply even when iamwarden's own or a mustAllow address is outside the list",
    )
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: Opts, c: Command) => {
      const ctx = context(c.optsWithGlobals<GlobalOptions>());
      const run = await import("../actions/remediate/allowlist-run.js");
      const { promptConfirm } = await import("../actions/remediate/confirm.js");
      if (!opts.yes && !process.stdin.isTTY)
        throw new UserError(
          "allowlist apply asks before each account, but stdin is not a terminal; pass --yes to apply without asking",
        );
      const store = await ctx.openStore();
      const confirm = opts.yes ? undefined : promptConfirm(process.stdin, process.stderr);
      try {
        const d = await deps(ctx, store);
        const targets = run.allowlistTargets(d, opts.account);
        const plans = await run.planAllowlists(d, targets);
        if (opts.format !== "json") process.stdout.write(planTable(plans));
        await store.startRun({
          id: ctx.runId,
          command: "allowlist apply",
          actor: ctx.actor,
          startedAt: ctx.now.toISOString(),
        });
        let applied: AccountApplied[] = [];
        try {
          applied = await run.applyAllowlists(d, plans, {
            confirm,
            overrideLockout: Boolean(opts.iKnowThisLocksMeOut),
          });
          // Read again what was applied: its drift findings resolve.
          const touched = applied
            .filter((a) => a.outcome === "applied" || a.outcome === "noop")
            .map((a) => a.plan.account);
          const after = touched.length
            ? await run.planAllowlists(
                d,
                targets.filter((t) => touched.includes(t.account)),
              )
            : [];
          await run.reconcileDrift(store, after, {
            route: routerFromConfig(ctx.loaded.config.notify),
            now: ctx.now,
            runId: ctx.runId,
          });
        } finally {
          await store.finishRun(ctx.runId, new Date().toISOString(), {
            accounts: applied.map((a) => ({
              provider: a.plan.provider,
              account: a.plan.account,
              outcome: a.outcome,
            })),
          });
        }
        if (opts.format === "json")
          process.stdout.write(
            `${JSON.stringify({ runId: ctx.runId, results: applied.map((a) => ({ ...a, plan: strip(a.plan) })) }, null, 2)}\n`,
          );
        else {
          for (const a of applied)
            process.stdout.write(`${a.plan.provider} ${a.plan.account}: ${a.outcome}: ${a.message}\n`);
          process.stdout.write(
            `Run ${ctx.runId} (undo with: iamwarden allowlist rollback --run ${ctx.runId}).\n`,
          );
        }
        process.exitCode = exitFor(plans, applied);
      } finally {
        confirm?.close();
        await store.close();
      }
    });

  cmd
    .command("rollback")
    .description("restore what an allowlist apply run changed (the previous policy version or setting)")
    .requiredOption("--run <id>", "the apply run to undo")
    .option("--yes", "do not ask")
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: Opts, c: Command) => {
      const ctx = context(c.optsWithGlobals<GlobalOptions>());
      const run = await import("../actions/remediate/allowlist-run.js");
      const store = await ctx.openStore();
      try {
        const entries = await run.allowlistUndoable(store, opts.run!);
        if (!entries.length) {
          const any = (await store.listAudit({ runId: opts.run })).length;
          if (!any) throw new UserError(`the audit log has no allowlist changes for run ${opts.run}`);
          process.stdout.write("Nothing left to undo: every change of that run was rolled back already.\n");
          return;
        }
        if (!opts.yes) {
          if (!process.stdin.isTTY)
            throw new UserError(
              "allowlist rollback asks first, but stdin is not a terminal; pass --yes to undo without asking",
            );
          const { promptConfirm } = await import("../actions/remediate/confirm.js");
          const confirm = promptConfirm(process.stdin, process.stderr);
          for (const e of entries)
            process.stderr.write(`  undo #${e.id} ${e.action} ${e.target} (${e.account})\n`);
          const a = await confirm(`undo ${entries.length} changes of run ${opts.run}?`);
          confirm.close();
          if (a !== "yes" && a !== "all") {
            process.stderr.write("Nothing done.\n");
            process.exitCode = EXIT.error;
            return;
          }
        }
        const d = await deps(ctx, store);
        await store.startRun({
          id: ctx.runId,
          command: "allowlist rollback",
          actor: ctx.actor,
          startedAt: ctx.now.toISOString(),
        });
        const results = await run.rollbackAllowlists(d, entries);
        await store.finishRun(ctx.runId, new Date().toISOString(), {
          rollbackOf: opts.run,
          results: results.length,
        });
        if (opts.format === "json")
          process.stdout.write(`${JSON.stringify({ runId: ctx.runId, results }, null, 2)}\n`);
        else
          for (const r of results)
            process.stdout.write(`#${r.entryId} ${r.action} ${r.target}: ${r.status}: ${r.message}\n`);
        if (results.some((r) => r.status === "failed" || r.status === "impossible"))
          process.exitCode = EXIT.partial;
      } finally {
        await store.close();
      }
    });

  cmd
    .command("drift")
    .description("the allowlist-drift check: accounts whose applied list differs from the files")
    .option("-a, --account <id>", "only this account (repeatable)", collect)
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: Opts, c: Command) => {
      const ctx = context(c.optsWithGlobals<GlobalOptions>());
      const run = await import("../actions/remediate/allowlist-run.js");
      const store = await ctx.openStore();
      try {
        const d = await deps(ctx, store);
        const plans = await run.planAllowlists(d, run.allowlistTargets(d, opts.account));
        await store.startRun({
          id: ctx.runId,
          command: "allowlist drift",
          actor: ctx.actor,
          startedAt: ctx.now.toISOString(),
        });
        const summary = await run.reconcileDrift(store, plans, {
          route: routerFromConfig(ctx.loaded.config.notify),
          now: ctx.now,
          runId: ctx.runId,
        });
        await store.finishRun(ctx.runId, new Date().toISOString(), { ...summary });
        const open = await store.listFindings({ check: ["allowlist-drift"], status: ["open"] });
        if (opts.format === "json")
          process.stdout.write(`${JSON.stringify({ runId: ctx.runId, summary, open }, null, 2)}\n`);
        else {
          for (const f of open) process.stdout.write(`${f.severity}: ${f.title}\n`);
          process.stdout.write(
            `${open.length} accounts drifted; ${summary.opened} new, ${summary.resolved} resolved.\n`,
          );
        }
        const unreadable = plans.filter((p) => !p.detail).length;
        process.exitCode = unreadable ? EXIT.partial : open.length ? EXIT.findings : EXIT.ok;
      } finally {
        await store.close();
      }
    });
}
