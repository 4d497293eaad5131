import Table from "cli-table3";
import type { Command } from "commander";
import type { AccountApplied, AccountPlan, AllowlistDeps } from "../actions/remediate/allowlist-run.js";
import { loadAllowlists } from "../allowlist/config.js";
import { parseIp } from "../allowlist/ip.js";
import { configPath } from "../config/load.js";
import { EXIT, UserError } from "../errors.js";
import type { RunContext } from "../run/context.js";
import { fetchWithRetry } from "../util/http-retry.js";
import {
  settings as cliSettings,
  collect,
  formatOption,
  type GlobalOptions,
  whatIfLine,
  withRun,
} from "./context.js";
import type { Cli } from "./io.js";

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

async function deps(ctx: RunContext): Promise<AllowlistDeps> {
  const { config, store } = ctx;
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
    const { resolveTargets } = await import("../cloud/aws/targets.js");
    awsAccounts = (await resolveTargets(config, await ctx.aws())).map((t) => t.id);
    awsClients = ctx.clientsFor;
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

export function registerApply(cmd: Command, cli: Cli): void {
  cmd
    .command("plan")
    .description("show, per account, how the applied allowlist would change (nothing is changed)")
    .option("-a, --account <id>", "only this account (repeatable)", collect)
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: Opts, c: Command) => {
      const s = cliSettings(cli, c.optsWithGlobals<GlobalOptions>());
      const run = await import("../actions/remediate/allowlist-run.js");
      // A plan needs no store of its own: "write" lets a fresh install plan (a what-if copies).
      const plans = await withRun(cli, s, "write", async (ctx) => {
        const d = await deps(ctx);
        return run.planAllowlists(d, run.allowlistTargets(d, opts.account));
      });
      if (opts.format === "json")
        cli.stdout.write(`${JSON.stringify({ plans: plans.map(strip) }, null, 2)}\n`);
      else cli.stdout.write(planTable(plans));
      cli.exitCode = exitFor(plans);
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
      const s = cliSettings(cli, c.optsWithGlobals<GlobalOptions>());
      const run = await import("../actions/remediate/allowlist-run.js");
      const { promptConfirm } = await import("../actions/remediate/confirm.js");
      if (!opts.yes && !s.whatIf && !cli.stdin.isTTY)
        throw new UserError(
          "allowlist apply asks before each account, but stdin is not a terminal; pass --yes to apply without asking",
        );
      const confirm = opts.yes || s.whatIf ? undefined : promptConfirm(cli.stdin, cli.stderr);
      try {
        const out = await withRun(cli, s, "write", async (ctx) => {
          const d = await deps(ctx);
          const targets = run.allowlistTargets(d, opts.account);
          const plans = await run.planAllowlists(d, targets);
          if (opts.format !== "json") cli.stdout.write(planTable(plans));
          // A what-if changes no account: the plan is the answer.
          if (ctx.whatIf) return { plans, applied: undefined, runId: ctx.runId };
          await ctx.store.startRun({
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
            await run.reconcileDrift(ctx.store, after, { route: ctx.route, now: ctx.now, runId: ctx.runId });
          } finally {
            await ctx.store.finishRun(ctx.runId, new Date().toISOString(), {
              accounts: applied.map((a) => ({
                provider: a.plan.provider,
                account: a.plan.account,
                outcome: a.outcome,
              })),
            });
          }
          return { plans, applied, runId: ctx.runId };
        });
        if (!out.applied) {
          if (opts.format === "json")
            cli.stdout.write(`${JSON.stringify({ whatIf: true, plans: out.plans.map(strip) }, null, 2)}\n`);
          else cli.stderr.write(whatIfLine(s.now, "; no account was changed"));
          cli.exitCode = exitFor(out.plans);
          return;
        }
        if (opts.format === "json")
          cli.stdout.write(
            `${JSON.stringify({ runId: out.runId, results: out.applied.map((a) => ({ ...a, plan: strip(a.plan) })) }, null, 2)}\n`,
          );
        else {
          for (const a of out.applied)
            cli.stdout.write(`${a.plan.provider} ${a.plan.account}: ${a.outcome}: ${a.message}\n`);
          cli.stdout.write(
            `Run ${out.runId} (undo with: iamwarden allowlist rollback --run ${out.runId}).\n`,
          );
        }
        cli.exitCode = exitFor(out.plans, out.applied);
      } finally {
        confirm?.close();
      }
    });

  cmd
    .command("rollback")
    .description("restore what an allowlist apply run changed (the previous policy version or setting)")
    .requiredOption("--run <id>", "the apply run to undo")
    .option("--yes", "do not ask")
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: Opts, c: Command) => {
      const s = cliSettings(cli, c.optsWithGlobals<GlobalOptions>());
      const run = await import("../actions/remediate/allowlist-run.js");
      if (!opts.yes && !cli.stdin.isTTY)
        throw new UserError(
          "allowlist rollback asks first, but stdin is not a terminal; pass --yes to undo without asking",
        );
      const out = await withRun(cli, s, "write", async (ctx) => {
        const entries = await run.allowlistUndoable(ctx.store, opts.run!);
        if (!entries.length) {
          if (!(await ctx.store.listAudit({ runId: opts.run })).length)
            throw new UserError(`the audit log has no allowlist changes for run ${opts.run}`);
          return undefined;
        }
        if (!opts.yes) {
          const { promptConfirm } = await import("../actions/remediate/confirm.js");
          const confirm = promptConfirm(cli.stdin, cli.stderr);
          for (const e of entries)
            cli.stderr.write(`  undo #${e.id} ${e.action} ${e.target} (${e.account})\n`);
          const a = await confirm(`undo ${entries.length} changes of run ${opts.run}?`);
          confirm.close();
          if (a !== "yes" && a !== "all") return null;
        }
        if (ctx.whatIf) return { runId: ctx.runId, results: [], wouldUndo: entries.map((e) => e.id) };
        const d = await deps(ctx);
        await ctx.store.startRun({
          id: ctx.runId,
          command: "allowlist rollback",
          actor: ctx.actor,
          startedAt: ctx.now.toISOString(),
        });
        const results = await run.rollbackAllowlists(d, entries);
        await ctx.store.finishRun(ctx.runId, new Date().toISOString(), {
          rollbackOf: opts.run,
          results: results.length,
        });
        return { runId: ctx.runId, results, wouldUndo: [] as number[] };
      });
      if (out === undefined) {
        cli.stdout.write("Nothing left to undo: every change of that run was rolled back already.\n");
        return;
      }
      if (out === null) {
        cli.stderr.write("Nothing done.\n");
        cli.exitCode = EXIT.error;
        return;
      }
      if (opts.format === "json") cli.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else
        for (const r of out.results)
          cli.stdout.write(`#${r.entryId} ${r.action} ${r.target}: ${r.status}: ${r.message}\n`);
      if (s.whatIf) cli.stderr.write(whatIfLine(s.now, `; ${out.wouldUndo.length} changes would be undone`));
      if (out.results.some((r) => r.status === "failed" || r.status === "impossible"))
        cli.exitCode = EXIT.partial;
    });

  cmd
    .command("drift")
    .description("the allowlist-drift check: accounts whose applied list differs from the files")
    .option("-a, --account <id>", "only this account (repeatable)", collect)
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: Opts, c: Command) => {
      const s = cliSettings(cli, c.optsWithGlobals<GlobalOptions>());
      const run = await import("../actions/remediate/allowlist-run.js");
      const out = await withRun(cli, s, "write", async (ctx) => {
        const d = await deps(ctx);
        const plans = await run.planAllowlists(d, run.allowlistTargets(d, opts.account));
        await ctx.store.startRun({
          id: ctx.runId,
          command: "allowlist drift",
          actor: ctx.actor,
          startedAt: ctx.now.toISOString(),
        });
        const summary = await run.reconcileDrift(ctx.store, plans, {
          route: ctx.route,
          now: ctx.now,
          runId: ctx.runId,
        });
        await ctx.store.finishRun(ctx.runId, new Date().toISOString(), { ...summary });
        const open = await ctx.store.listFindings({ check: ["allowlist-drift"], status: ["open"] });
        return { runId: ctx.runId, summary, open, unreadable: plans.filter((p) => !p.detail).length };
      });
      if (opts.format === "json")
        cli.stdout.write(
          `${JSON.stringify({ runId: out.runId, summary: out.summary, open: out.open }, null, 2)}\n`,
        );
      else {
        for (const f of out.open) cli.stdout.write(`${f.severity}: ${f.title}\n`);
        cli.stdout.write(
          `${out.open.length} accounts drifted; ${out.summary.opened} new, ${out.summary.resolved} resolved.\n`,
        );
      }
      cli.exitCode = out.unreadable ? EXIT.partial : out.open.length ? EXIT.findings : EXIT.ok;
    });
}
