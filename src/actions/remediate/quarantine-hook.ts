import type { AccountClients } from "../../cloud/aws/account-clients.js";
import type { FindingChange, OnFinding } from "../../engine/events.js";
import { type QuarantineDeps, runQuarantine } from "./quarantine-run.js";

/** A quarantine run's dependencies, with each finding's account clients looked up as it comes. */
export type QuarantineHookDeps = Omit<QuarantineDeps, "clients" | "verify"> & {
  clientsFor: (account: string) => Promise<AccountClients>;
  /** Told what was done (or refused) for each finding, for the run's output. */
  report?: (findingId: string, outcome: string) => void;
};

// New evidence calls for action. A refreshed finding was handled when it opened, unless nothing
// was tried then (all its calls had been denied) and a call has succeeded since.
const ACTS_ON: FindingChange[] = ["opened", "reopened", "refreshed"];

/** Any call the finding gathers succeeded: the flag the check keeps, or an occurrence kept. */
function anySucceeded(d: Record<string, unknown>): boolean {
  if (d.succeeded === true || d.lastOutcome === "success") return true;
  const events = Array.isArray(d.events) ? (d.events as { outcome?: unknown }[]) : [];
  return events.some((e) => e?.outcome === "success");
}

/**
 * `checks.iam-change.quarantine: true`: quarantine the IAM user behind a new iam-change finding,
 * through the remediation action and all its guards (remediation accounts, admin group,
 * break-glass users, audit log first), as soon as any call the finding gathers succeeded: a user
 * whose last call was denied after successful ones is quarantined all the same.
 */
export function quarantineOnIamChange(deps: QuarantineHookDeps): OnFinding {
  return async (finding, change) => {
    const d = finding.details;
    if (finding.check !== "iam-change" || finding.status !== "open" || !ACTS_ON.includes(change)) return;
    if (d.quarantine !== true || !anySucceeded(d) || d.principalType !== "IAMUser") return;
    const user = typeof d.username === "string" ? d.username : undefined;
    if (!user) return;
    // Refreshed: only when no quarantine was tried for it yet (nothing in the audit log, no block).
    if (
      change === "refreshed" &&
      (d.remediationBlocked !== undefined || (await deps.store.listAudit({ findingId: finding.id })).length)
    )
      return;
    if (!deps.config.remediation.accounts.includes(finding.account)) {
      deps.report?.(finding.id, `not quarantined: account ${finding.account} is not in remediation.accounts`);
      return;
    }
    try {
      const out = await runQuarantine(
        { ...deps, clients: await deps.clientsFor(finding.account) },
        { account: finding.account, user, findingId: finding.id, apply: true },
      );
      deps.report?.(
        finding.id,
        out.applied?.message ?? out.planned.noop ?? out.planned.blocked ?? `quarantined ${user}`,
      );
    } catch (e) {
      // One user's quarantine failing must not stop the replay; the audit log has the details.
      deps.report?.(finding.id, `quarantine of ${user} failed: ${(e as Error).message}`);
    }
  };
}
