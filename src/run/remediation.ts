import type { Confirm } from "../actions/remediate/confirm.js";
import type { RemediationReport as ActionReport, ItemResult } from "../actions/remediate/run.js";
import type { VerifySettings } from "../actions/remediate/types.js";
import type { RunContext } from "./context.js";

export interface RemediationOptions {
  checks?: string[] | undefined;
  accounts?: string[] | undefined;
  /** Make the changes; ignored in a what-if, which only plans. */
  apply: boolean;
  /** Asked before each change; without it changes are made without asking (--yes). */
  confirm?: Confirm | undefined;
  onItem?: ((r: ItemResult) => void) | undefined;
  verify?: VerifySettings | undefined;
}

export interface RemediationReport extends ActionReport {
  now: string;
  whatIf: boolean;
  /** Apply was asked for but not done: a what-if plans only. */
  applyRefused?: "what-if" | undefined;
}

/**
 * Remediation: which findings are due, the blast-radius limit, a plan read from each account,
 * and with apply each change confirmed, made, verified and recorded (actions/remediate/run).
 * The action keeps its own run record, as the rollback of a run finds its changes by run id.
 */
export async function runRemediation(ctx: RunContext, opts: RemediationOptions): Promise<RemediationReport> {
  const { runRemediation: remediate } = await import("../actions/remediate/run.js");
  const apply = opts.apply && !ctx.whatIf;
  const report = await remediate(
    {
      store: ctx.store,
      config: ctx.config,
      now: ctx.now,
      runId: ctx.runId,
      actor: ctx.actor,
      route: ctx.route,
      clientsFor: ctx.clientsFor,
      verify: opts.verify,
      confirm: apply ? opts.confirm : undefined,
      onItem: opts.onItem,
    },
    { checks: opts.checks, accounts: opts.accounts, apply },
  );
  return {
    ...report,
    now: ctx.now.toISOString(),
    whatIf: ctx.whatIf,
    applyRefused: opts.apply && ctx.whatIf ? "what-if" : undefined,
  };
}
