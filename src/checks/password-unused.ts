import { z } from "zod";
import type { Candidate } from "../model/finding.js";
import type { IamUser } from "../model/observations.js";
import { DAY_MS, daysBetween } from "../util/time.js";
import { type StateCheck, settingsSchema, userDetails, userDetailsSchema, userResource } from "./check.js";

// A console password nobody uses is a way in nobody watches (CIS AWS 1.12, Prowler
// iam_user_console_access_unused).

const settings = settingsSchema({ days: z.number().int().min(1).default(90) }).prefault({});

const details = userDetailsSchema.extend({
  passwordLastUsed: z.string().nullable(),
  passwordLastChanged: z.string().nullable(),
  daysUnused: z.number(),
  thresholdDays: z.number(),
  neverUsed: z.boolean(),
});
type Details = z.output<typeof details>;

/** When the password was last active: its last use, else when it was set, else the user's creation. */
const lastActivity = (u: IamUser): Date | undefined =>
  u.passwordLastUsed ?? u.passwordLastChanged ?? u.createDate;

export const passwordUnused: StateCheck<"password-unused", typeof settings, Details> = {
  name: "password-unused",
  kind: "state",
  description:
    "a console password unused for more than `days` (default 90), or never used and set more than `days` ago (credential report only)",
  settings,
  details,
  permissions: ["iam:GenerateCredentialReport", "iam:GetCredentialReport"],
  reads: ["users", "logins"],
  subject: "user",
  judge(snapshot, s, now) {
    const out: Candidate<Details>[] = [];
    for (const u of snapshot.users) {
      const since = lastActivity(u);
      if (!u.passwordEnabled || !since || now.getTime() - since.getTime() <= s.days * DAY_MS) continue;
      const daysUnused = daysBetween(since, now);
      out.push({
        check: "password-unused",
        account: snapshot.account.id,
        accountAlias: snapshot.account.alias,
        resource: userResource(u),
        owner: u.name,
        severity: "medium",
        title: u.passwordLastUsed
          ? `Console password of ${u.name} unused for ${daysUnused} days`
          : `Console password of ${u.name} never used in ${daysUnused} days`,
        details: {
          ...userDetails(u),
          passwordLastUsed: u.passwordLastUsed?.toISOString() ?? null,
          passwordLastChanged: u.passwordLastChanged?.toISOString() ?? null,
          daysUnused,
          thresholdDays: s.days,
          neverUsed: !u.passwordLastUsed,
        },
      });
    }
    return out;
  },
  summary: (d) =>
    d.neverUsed
      ? `console password of ${d.username} never used in ${d.daysUnused} days`
      : `console password of ${d.username} unused for ${d.daysUnused} days`,
  columns: {
    resource: () => "console password",
    age: (d) => `${d.daysUnused}d idle`,
    lastUsed: (d) => d.passwordLastUsed ?? "",
  },
};
