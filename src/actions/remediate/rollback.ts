import type { AccountClients } from "../../cloud/aws/account-clients.js";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { Config } from "../../config/schema.js";
import type { RemediationMark } from "../../engine/remediation.js";
import type { Router } from "../../engine/routing.js";
import type { AuditEntry } from "../../model/audit.js";
import type { Store } from "../../store/store.js";
import type { Confirm } from "./confirm.js";
import { holdAfterRollback } from "./finding-changes.js";
import { actionOfAudit, REMEDIATION_ACTIONS } from "./registry.js";
import { entryContext, type RollbackResult, type VerifySettings } from "./types.js";

// Rollback reads the audit log and undoes exactly what it says was done, newest first, then
// puts on hold the findings whose remediation was fully undone: suppressed, so that no scheduled
// run redoes what a person just undid, until `findings unhold` (or the hold's end).

/** Audit actions that change an account and can be looked at for undoing, from the registry. */
const forward = () => new Set(REMEDIATION_ACTIONS.flatMap((a) => a.auditActions));

export interface RollbackDeps {
  store: Store;
  route: Router;
  now: Date;
  runId: string;
  actor: string;
  clientsFor(account: string): Promise<AccountClients>;
  verify?: VerifySettings | undefined;
  config?: Config | undefined;
  /** Asked before each undo; without it, everything is undone without asking (--yes). */
  confirm?: Confirm | undefined;
  /** End of the hold put on the findings (default: until lifted by hand). */
  holdUntil?: Date | undefined;
  /** Shown what will be undone before the first question. */
  onPlan?: ((steps: RollbackStep[]) => void) | undefined;
}

/** One undo rollback would do, shown before it is asked for. */
export interface RollbackStep {
  entryId: number;
  action: string;
  account: string;
  target: string;
  findingId?: string | undefined;
  description: string;
}

export interface RollbackReport {
  runId: string;
  results: RollbackResult[];
  /** What was going to be undone, in order (the plan shown before asking). */
  steps?: RollbackStep[] | undefined;
  /** Findings put on hold (suppressed): no remediation redoes them until `findings unhold`. */
  held: string[];
  /** Findings left as they are, and why. */
  kept: { findingId: string; reason: string }[];
  /** The person quit before the end. */
  stopped?: "quit" | undefined;
}

function stepOf(entry: AuditEntry): RollbackStep {
  const action = actionOfAudit(entry.action);
  return {
    entryId: entry.id,
    action: entry.action,
    account: entry.account,
    target: entry.target,
    findingId: entry.findingId,
    description: action ? action.describeRollback(entry) : `nothing: no action undoes ${entry.action}`,
  };
}

/** What a rollback of these entries would undo, without changing or asking anything. */
export async function rollbackPlan(store: Store, entries: AuditEntry[]): Promise<RollbackStep[]> {
  return (await undoable(store, entries)).map(stepOf);
}

/**
 * Entries still to undo: applied (or left pending by a crash: the call may have happened) forward
 * changes that no later rollback entry has undone.
 */
export async function undoable(store: Store, entries: AuditEntry[]): Promise<AuditEntry[]> {
  const accounts = [...new Set(entries.map((e) => e.account))];
  const undone = new Set<number>();
  const fwd = forward();
  for (const account of accounts)
    for (const e of await store.listAudit({ account }))
      if (e.result === "rolled-back" && typeof e.intent.rollbackOf === "number")
        undone.add(e.intent.rollbackOf);
  return entries
    .filter(
      (e) => fwd.has(e.action) && (e.result === "applied" || e.result === "pending") && !undone.has(e.id),
    )
    .sort((a, b) => b.id - a.id);
}

export async function rollbackEntries(deps: RollbackDeps, entries: AuditEntry[]): Promise<RollbackReport> {
  await deps.store.startRun({
    id: deps.runId,
    command: "rollback",
    actor: deps.actor,
    startedAt: deps.now.toISOString(),
  });
  const report: RollbackReport = { runId: deps.runId, results: [], held: [], kept: [] };
  try {
    const todo = await undoable(deps.store, entries);
    report.steps = todo.map(stepOf);
    if (report.steps.length) deps.onPlan?.(report.steps);
    let all = !deps.confirm;
    for (const [i, entry] of todo.entries()) {
      let result: RollbackResult;
      const skip = (status: "declined" | "not-attempted", message: string): RollbackResult => ({
        entryId: entry.id,
        action: entry.action,
        target: entry.target,
        status,
        message,
      });
      if (report.stopped) {
        report.results.push(skip("not-attempted", "not attempted: the rollback was stopped"));
        continue;
      }
      if (!all) {
        const step = report.steps[i]!;
        const answer = await deps.confirm!(
          `undo entry ${entry.id}: ${step.description} — account ${entry.account}${entry.findingId ? `, finding ${entry.findingId}` : ""}?`,
        );
        if (answer === "quit") {
          report.stopped = "quit";
          report.results.push(skip("not-attempted", "not attempted: the rollback was stopped"));
          continue;
        }
        if (answer === "no") {
          report.results.push(skip("declined", "declined"));
          continue;
        }
        if (answer === "all") all = true;
      }
      try {
        const ctx = await entryContext(deps, entry);
        const action = actionOfAudit(entry.action);
        result = action
          ? await action.rollback(ctx, entry)
          : {
              entryId: entry.id,
              action: entry.action,
              target: entry.target,
              status: "impossible",
              message: `no remediation action undoes ${entry.action}`,
            };
      } catch (e) {
        result = {
          entryId: entry.id,
          action: entry.action,
          target: entry.target,
          status: "failed",
          message: describeAwsError(e),
        };
      }
      report.results.push(result);
    }

    // A finding goes on hold only when everything done to it is undone. One change may answer
    // several findings (a key's age and inactivity): each one marked with the entry is held.
    const byFinding = new Map<string, RollbackResult[]>();
    const add = (id: string, r: RollbackResult) => byFinding.set(id, [...(byFinding.get(id) ?? []), r]);
    const ids = new Map(todo.map((e, i) => [e.id, report.results[i]!]));
    for (const [i, entry] of todo.entries()) if (entry.findingId) add(entry.findingId, report.results[i]!);
    for (const account of new Set(todo.map((e) => e.account)))
      for (const f of await deps.store.listFindings({ status: ["remediated"], account: [account] })) {
        const mark = f.details.remediation as RemediationMark | undefined;
        const r = mark ? ids.get(mark.auditId) : undefined;
        if (r && !todo.some((e) => e.findingId === f.id)) add(f.id, r);
      }
    for (const [findingId, results] of byFinding) {
      const bad = results.find(
        (r) => r.status !== "rolled-back" && r.status !== "nothing-to-undo" && r.status !== "kept",
      );
      if (bad) {
        report.kept.push({ findingId, reason: bad.message });
        continue;
      }
      const f = await deps.store.getFinding(findingId);
      if (f?.status !== "remediated" && f?.status !== "open") {
        report.kept.push({ findingId, reason: f ? `the finding is ${f.status}` : "no such finding" });
        continue;
      }
      await holdAfterRollback(deps, findingId, deps.holdUntil);
      report.held.push(findingId);
    }
    return report;
  } finally {
    const count = (s: string) => report.results.filter((r) => r.status === s).length;
    await deps.store.finishRun(deps.runId, new Date().toISOString(), {
      rolledBack: count("rolled-back"),
      nothingToUndo: count("nothing-to-undo"),
      kept: count("kept"),
      impossible: count("impossible"),
      failed: count("failed"),
      declined: count("declined"),
      held: report.held.length,
    });
  }
}
