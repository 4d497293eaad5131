import type { Applied, Planned } from "../actions/remediate/types.js";
import { UserError } from "../errors.js";
import type { RunContext } from "./context.js";

export interface QuarantineOptions {
  account: string;
  user: string;
  /** The finding this answers (id or unique prefix): marked remediated, or raised if blocked. */
  finding?: string | undefined;
  /** Make the change; a what-if only plans. */
  apply: boolean;
}

/** declined: a person answered no to the plan. */
export type QuarantineStatus = Applied["status"] | "planned" | "declined";

export interface QuarantineReport {
  runId: string;
  now: string;
  whatIf: boolean;
  account: string;
  user: string;
  findingId?: string | undefined;
  status: QuarantineStatus;
  message: string;
  planned: Planned;
  applied?: Applied | undefined;
}

/** Quarantines one IAM user (plan, or apply inside a run record). */
export async function runQuarantine(ctx: RunContext, opts: QuarantineOptions): Promise<QuarantineReport> {
  const { config, store } = ctx;
  if (!config.remediation.accounts.includes(opts.account))
    throw new UserError(
      `account ${opts.account} is not in remediation.accounts: iamwarden changes nothing there`,
    );
  let findingId: string | undefined;
  if (opts.finding) {
    const f = await store.getFinding(opts.finding);
    if (!f) throw new UserError(`no finding matches ${opts.finding}`);
    findingId = f.id;
  }
  const apply = opts.apply && !ctx.whatIf;
  if (apply)
    await store.startRun({
      id: ctx.runId,
      command: "quarantine",
      actor: ctx.actor,
      startedAt: ctx.now.toISOString(),
    });
  const { runQuarantine: quarantine } = await import("../actions/remediate/quarantine-run.js");
  const out = await quarantine(
    {
      store,
      config,
      route: ctx.route,
      now: ctx.now,
      runId: ctx.runId,
      actor: ctx.actor,
      clients: await ctx.clientsFor(opts.account),
    },
    { account: opts.account, user: opts.user, findingId, apply },
  );
  const status: QuarantineStatus =
    out.applied?.status ?? (out.planned.noop ? "noop" : out.planned.blocked ? "blocked" : "planned");
  const message =
    out.applied?.message ??
    out.planned.noop ??
    out.planned.blocked ??
    `quarantine ${opts.user} in ${opts.account}: ${out.planned.changes.length} changes`;
  if (apply)
    await store.finishRun(ctx.runId, new Date().toISOString(), {
      [status]: 1,
      user: opts.user,
      account: opts.account,
    });
  return {
    runId: ctx.runId,
    now: ctx.now.toISOString(),
    whatIf: ctx.whatIf,
    account: opts.account,
    user: opts.user,
    findingId,
    status,
    message,
    ...out,
  };
}
