import { type FindingChangeDeps, findingChange } from "../../engine/finding-change.js";
import { type Hold, holdOf, type RemediationMark } from "../../engine/remediation.js";
import { UserError } from "../../errors.js";
import type { Finding } from "../../model/finding.js";
import type { Store } from "../../store/store.js";

// Finding changes remediation makes, each one store.applyChange: the row, its recorded state
// change and the notifications it calls for, in one transaction.

export interface ChangeDeps extends FindingChangeDeps {
  store: Store;
  actor: string;
}

/** After a key was deactivated (or deleted) or a user quarantined. */
export function markRemediated(
  deps: ChangeDeps,
  findingId: string,
  what: { action: string; auditId: number; description: string },
): Promise<Finding> {
  const now = deps.now.toISOString();
  return deps.store.applyChange(findingId, (f) => {
    const prev = f.details.remediation as RemediationMark | undefined;
    const mark =
      what.action === "delete-key" && prev
        ? { ...prev, deletedAt: now, deleteAuditId: what.auditId }
        : { action: what.action, at: now, runId: deps.runId, auditId: what.auditId, by: deps.actor };
    const cause = `${what.description} by ${deps.actor} (run ${deps.runId})`;
    const c = findingChange(deps, f, "remediated", cause, "remediated", {
      action: what.action,
      auditId: what.auditId,
      actor: deps.actor,
    });
    c.finding.details = { ...f.details, remediation: mark };
    return c;
  });
}

/**
 * After a rollback undid everything remediation did: on hold (suppressed), so that no scheduled
 * run redoes it, until `findings unhold` or `until`. The grace period starts again when it ends.
 */
export function holdAfterRollback(deps: ChangeDeps, findingId: string, until?: Date): Promise<Finding> {
  return deps.store.applyChange(findingId, (f) => {
    const now = deps.now.toISOString();
    const hold: Hold = { by: deps.actor, at: now, ...(until ? { until: until.toISOString() } : {}) };
    const reason = `rolled back by ${deps.actor} at ${now}${until ? ` (on hold until ${hold.until})` : ""}`;
    const c = findingChange(deps, f, "suppressed", reason, "suppressed", { reason });
    const { remediation, ...rest } = f.details;
    c.finding.details = {
      ...rest,
      rollback: { at: now, by: deps.actor, runId: deps.runId, undid: remediation ?? null },
      hold,
    };
    c.finding.resolvedAt = undefined;
    return c;
  });
}

/** `findings unhold`: the finding is open again, and its grace period starts now. */
export function liftHold(deps: ChangeDeps, findingId: string): Promise<Finding> {
  return deps.store.applyChange(findingId, (f) => {
    const hold = holdOf(f);
    if (!hold || hold.liftedAt || f.status !== "suppressed")
      throw new UserError(`${f.id} is not on hold (status ${f.status})`);
    const now = deps.now.toISOString();
    const reason = `hold lifted by ${deps.actor}`;
    const c = findingChange(deps, f, "open", reason, "reopened", { reason });
    c.finding.details = { ...f.details, hold: { ...hold, liftedAt: now, liftedBy: deps.actor } };
    return c;
  });
}

/** A guard could not be evaluated: nothing was done, and people must look now. */
export function raiseToCritical(deps: ChangeDeps, findingId: string, reason: string): Promise<Finding> {
  return deps.store.applyChange(findingId, (f) => {
    // Said once: the same block on the next run changes nothing and notifies nobody again.
    const prev = f.details.remediationBlocked as { reason?: string } | undefined;
    if (f.severity === "critical" && prev?.reason === reason) return { finding: f };
    const c = findingChange(deps, f, f.status, `remediation blocked: ${reason}`, "escalated", {
      from: f.severity,
      reason,
    });
    c.finding.severity = "critical";
    c.finding.details = { ...f.details, remediationBlocked: { at: deps.now.toISOString(), reason } };
    return c;
  });
}
