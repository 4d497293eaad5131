import type { AccountClients } from "../../cloud/aws/account-clients.js";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { Router } from "../../engine/routing.js";
import type { AuditEntry } from "../../model/audit.js";
import type { Store } from "../../store/store.js";
import { rollbackKeyEntry } from "./deactivate-key.js";
import { reopenAfterRollback } from "./finding-changes.js";
import { rollbackQuarantineEntry } from "./quarantine-user.js";
import type { ActionContext, RollbackResult, VerifySettings } from "./types.js";

// Rollback reads the audit log and undoes exactly what it says was done, newest first, then
// opens again the findings whose remediation was fully undone.

/** Actions that change an account and can be looked at for undoing. */
const FORWARD = new Set([
  "deactivate-key",
  "delete-key",
  "create-policy",
  "attach-user-policy",
  "put-user-policy",
]);

export interface RollbackDeps {
  store: Store;
  route: Router;
  now: Date;
  runId: string;
  actor: string;
  clientsFor(account: string): Promise<AccountClients>;
  verify?: VerifySettings | undefined;
}

export interface RollbackReport {
  runId: string;
  results: RollbackResult[];
  /** Findings set back to open. */
  reopened: string[];
  /** Findings left as they are, and why. */
  kept: { findingId: string; reason: string }[];
}

/**
 * Entries still to undo: applied (or left pending by a crash: the call may have happened) forward
 * changes that no later rollback entry has undone.
 */
export async function undoable(store: Store, entries: AuditEntry[]): Promise<AuditEntry[]> {
  const accounts = [...new Set(entries.map((e) => e.account))];
  const undone = new Set<number>();
  for (const account of accounts)
    for (const e of await store.listAudit({ account }))
      if (e.result === "rolled-back" && typeof e.intent.rollbackOf === "number")
        undone.add(e.intent.rollbackOf);
  return entries
    .filter(
      (e) => FORWARD.has(e.action) && (e.result === "applied" || e.result === "pending") && !undone.has(e.id),
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
  const report: RollbackReport = { runId: deps.runId, results: [], reopened: [], kept: [] };
  try {
    const todo = await undoable(deps.store, entries);
    for (const entry of todo) {
      let result: RollbackResult;
      try {
        const c = await deps.clientsFor(entry.account);
        const ctx: ActionContext = {
          iam: c.iam,
          partition: c.partition,
          store: deps.store,
          account: entry.account,
          runId: deps.runId,
          actor: deps.actor,
          now: deps.now,
          findingId: entry.findingId,
          verify: deps.verify,
        };
        result =
          entry.action === "deactivate-key" || entry.action === "delete-key"
            ? await rollbackKeyEntry(ctx, entry)
            : await rollbackQuarantineEntry(ctx, entry);
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

    // A finding is open again only when everything done to it is undone.
    const byFinding = new Map<string, RollbackResult[]>();
    for (const [i, entry] of todo.entries()) {
      if (!entry.findingId) continue;
      byFinding.set(entry.findingId, [...(byFinding.get(entry.findingId) ?? []), report.results[i]!]);
    }
    for (const [findingId, results] of byFinding) {
      const bad = results.find((r) => r.status === "failed" || r.status === "impossible");
      if (bad) {
        report.kept.push({ findingId, reason: bad.message });
        continue;
      }
      const f = await deps.store.getFinding(findingId);
      if (f?.status !== "remediated") {
        report.kept.push({ findingId, reason: f ? `the finding is ${f.status}` : "no such finding" });
        continue;
      }
      await reopenAfterRollback(deps, findingId);
      report.reopened.push(findingId);
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
      reopened: report.reopened.length,
    });
  }
}
