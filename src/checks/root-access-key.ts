import type { Candidate } from "../model/finding.js";
import type { AccountSnapshot } from "../model/observations.js";
import type { Check } from "./check.js";

/** The account root has an active access key: always critical (CIS AWS 1.4). */
export const rootAccessKey: Check<AccountSnapshot, Record<string, never>> = {
  name: "root-access-key",
  kind: "state",
  run(snapshot) {
    const out: Candidate[] = [];
    for (const key of snapshot.root ?? []) {
      if (!key.active) continue;
      out.push({
        check: "root-access-key",
        account: snapshot.account.id,
        accountAlias: snapshot.account.alias,
        resource: `root#key${key.slot}`,
        owner: "<root_account>",
        severity: "critical",
        title: `The root user of ${snapshot.account.alias ?? snapshot.account.id} has an active access key`,
        details: {
          username: "<root_account>",
          keySlot: key.slot,
          createDate: key.lastRotated?.toISOString() ?? null,
          lastUsed: key.lastUsed?.toISOString() ?? null,
        },
      });
    }
    return out;
  },
};
