import { z } from "zod";
import type { Candidate } from "../model/finding.js";
import { type StateCheck, settingsSchema } from "./check.js";

const settings = settingsSchema({}).prefault({});

const details = z.looseObject({
  username: z.literal("<root_account>"),
  keySlot: z.union([z.literal(1), z.literal(2)]),
  createDate: z.string().nullable(),
  lastUsed: z.string().nullable(),
});
type Details = z.output<typeof details>;

/** The account root has an active access key: always critical (CIS AWS 1.4). */
export const rootAccessKey: StateCheck<"root-access-key", typeof settings, Details> = {
  name: "root-access-key",
  kind: "state",
  description: "the account root has an active access key (credential report only)",
  settings,
  details,
  permissions: ["iam:GenerateCredentialReport", "iam:GetCredentialReport"],
  // Only a credential report shows root keys; an API read cannot judge them, so leaves them be.
  reads: ["root"],
  subject: "account",
  judge(snapshot) {
    const out: Candidate<Details>[] = [];
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
  summary: (d) => `the account root has an active access key (key ${d.keySlot})`,
  columns: { createDate: (d) => d.createDate ?? "", lastUsed: (d) => d.lastUsed ?? "" },
};
