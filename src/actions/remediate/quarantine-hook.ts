import type { AccountClients } from "../../cloud/aws/account-clients.js";
import type { Config } from "../../config/schema.js";
import type { FindingChange, OnFinding } from "../../engine/events.js";
import type { Router } from "../../engine/routing.js";
import type { Store } from "../../store/store.js";
import { runQuarantine } from "./quarantine-run.js";

export interface QuarantineHookDeps {
  store: Store;
  config: Config;
  route: Router;
  now: Date;
  runId: string;
  actor: string;
  clientsFor: (account: string) => Promise<AccountClients>;
  /** Told what was done (or refused) for each finding, for the run's output. */
  report?: (findingId: string, outcome: string) => void;
}

// Only new evidence calls for action; a refreshed finding was already handled when it opened.
const ACTS_ON: FindingChange[] = ["opened", "reopened"];

/**
 * `checks.iam-change.quarantine: true`: quarantine the IAM user behind a new iam-change finding,
 * through the remediation action and all its guards (remediation accounts, admin group,
 * break-glass users, audit log first). Failed attempts (denied calls) are not acted upon.
 */
export function quarantineOnIamChange(deps: QuarantineHookDeps): OnFinding {
  return async (finding, change) => {
    const d = finding.details;
    if (finding.check !== "iam-change" || finding.status !== "open" || !ACTS_ON.includes(change)) return;
    if (d.quarantine !== true || d.lastOutcome !== "success" || d.principalType !== "IAMUser") return;
    const user = typeof d.username === "string" ? d.username : undefined;
    if (!user) return;
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
