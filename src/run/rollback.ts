import type { Confirm } from "../actions/remediate/confirm.js";
import type { RollbackReport, RollbackStep } from "../actions/remediate/rollback.js";
import { UserError } from "../errors.js";
import type { AuditEntry } from "../model/audit.js";
import type { RunContext } from "./context.js";

/** What to undo: every change made for one finding, or every change of one run. */
export type RollbackTarget = { finding: string } | { run: string };

export interface RollbackOptions {
  /** Asked before each undo; without it everything is undone (--yes). */
  confirm?: Confirm | undefined;
  /** Shown the plan before the first question. */
  onPlan?: ((steps: RollbackStep[]) => void) | undefined;
  /** End of the hold put on the findings (default: until `findings unhold`). */
  holdUntil?: Date | undefined;
}

/** Undoes what remediation did, from the audit log. A what-if changes nothing, so it refuses. */
export async function runRollback(
  ctx: RunContext,
  target: RollbackTarget,
  opts: RollbackOptions = {},
): Promise<RollbackReport> {
  if (ctx.whatIf)
    throw new UserError("rollback changes accounts: a what-if (--now without --commit) cannot run it");
  const { store } = ctx;
  let entries: AuditEntry[];
  if ("run" in target) {
    entries = await store.listAudit({ runId: target.run });
    if (!entries.length) throw new UserError(`the audit log has no changes for run ${target.run}`);
  } else {
    const f = await store.getFinding(target.finding);
    if (!f) throw new UserError(`no finding matches ${target.finding}`);
    entries = await store.listAudit({ findingId: f.id });
    if (!entries.length) throw new UserError(`the audit log has no changes for finding ${f.id}`);
  }
  const { rollbackEntries } = await import("../actions/remediate/rollback.js");
  return rollbackEntries(
    {
      store,
      route: ctx.route,
      now: ctx.now,
      runId: ctx.runId,
      actor: ctx.actor,
      clientsFor: ctx.clientsFor,
      config: ctx.config,
      ...opts,
    },
    entries,
  );
}
