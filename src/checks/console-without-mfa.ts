import { z } from "zod";
import type { Candidate } from "../model/finding.js";
import { type StateCheck, settingsSchema, userDetails, userDetailsSchema, userResource } from "./check.js";

// A console password without MFA is one phished password away from the account (CIS AWS 1.10,
// Prowler iam_user_mfa_enabled_console_access).

const settings = settingsSchema({}).prefault({});

const details = userDetailsSchema.extend({ passwordLastUsed: z.string().nullable() });
type Details = z.output<typeof details>;

export const consoleWithoutMfa: StateCheck<"console-without-mfa", typeof settings, Details> = {
  name: "console-without-mfa",
  kind: "state",
  description: "a user with a console password and no active MFA device (credential report only)",
  settings,
  details,
  permissions: ["iam:GenerateCredentialReport", "iam:GetCredentialReport"],
  reads: ["users", "logins"],
  subject: "user",
  judge(snapshot) {
    const out: Candidate<Details>[] = [];
    for (const u of snapshot.users) {
      if (!u.passwordEnabled || u.mfaActive !== false) continue;
      out.push({
        check: "console-without-mfa",
        account: snapshot.account.id,
        accountAlias: snapshot.account.alias,
        resource: userResource(u),
        owner: u.name,
        severity: "high",
        title: `${u.name} can sign in to the console without MFA`,
        details: { ...userDetails(u), passwordLastUsed: u.passwordLastUsed?.toISOString() ?? null },
      });
    }
    return out;
  },
  summary: (d) => `${d.username} can sign in to the console without MFA`,
  columns: {
    resource: () => "console password",
    state: () => "no-mfa",
    lastUsed: (d) => d.passwordLastUsed ?? "",
  },
};
