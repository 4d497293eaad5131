import type { Candidate } from "../model/finding.js";

// allowlist-drift, a state check: an account whose applied allowlist (the AWS policies and their
// attachments, or IBM's allowed_ip_addresses) is not what the .lst files say: someone edited it
// by hand, or a file changed and was not applied yet. It resolves once `allowlist apply` has run.

export interface AppliedAllowlist {
  provider: "aws" | "ibm";
  account: string;
  lists: string[];
  /** CIDRs in the files but not applied, and applied but not in the files. */
  added: string[];
  removed: string[];
  /** What `allowlist apply` would do to make them equal. */
  changes: string[];
}

export function judgeAllowlistDrift(
  observed: AppliedAllowlist[],
  _settings: unknown,
  now: Date,
): Candidate[] {
  return observed
    .filter((o) => o.changes.length)
    .map((o) => ({
      check: "allowlist-drift",
      account: o.account,
      resource: `${o.provider}:allowlist`,
      severity: o.removed.length ? "high" : "medium",
      title:
        `The ${o.provider === "aws" ? "AWS policy" : "IBM Cloud setting"} of ${o.account} differs from the lists ${o.lists.join(", ")}` +
        ` (${o.added.length} to add, ${o.removed.length} to remove)`,
      details: {
        provider: o.provider,
        lists: o.lists,
        missing: o.added,
        extra: o.removed,
        changes: o.changes,
        checkedAt: now.toISOString(),
      },
    }));
}

export const allowlistDrift = { name: "allowlist-drift", kind: "state" as const, judge: judgeAllowlistDrift };
