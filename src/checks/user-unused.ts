import { z } from "zod";
import type { Candidate } from "../model/finding.js";
import type { AccessKey, IamUser } from "../model/observations.js";
import { DAY_MS, daysBetween } from "../util/time.js";
import { type StateCheck, settingsSchema, userDetails, userDetailsSchema, userResource } from "./check.js";

// An IAM user nobody signs in as and no program calls with: a candidate for removal. Reported
// only; there is no remediation for it, removing a user is a person's decision.

const settings = settingsSchema({ days: z.number().int().min(1).default(180) }).prefault({});

const ACTIVITIES = ["password", "access key", "creation"] as const;

const details = userDetailsSchema.extend({
  lastActivity: z.string(),
  /** What the last activity was: a sign-in, a key's use (or creation, if never used), the user's creation. */
  lastActivityKind: z.enum(ACTIVITIES),
  daysUnused: z.number(),
  thresholdDays: z.number(),
  neverUsed: z.boolean(),
});
type Details = z.output<typeof details>;

type Activity = { at: Date; kind: (typeof ACTIVITIES)[number] };

/**
 * The user's latest activity: a password use, a key's last use (or its creation, if never used:
 * a new key is not yet an unused one), else the user's creation.
 */
function lastActivity(u: IamUser, keys: AccessKey[]): Activity | undefined {
  const all: Activity[] = [];
  if (u.createDate) all.push({ at: u.createDate, kind: "creation" });
  if (u.passwordLastUsed) all.push({ at: u.passwordLastUsed, kind: "password" });
  for (const k of keys) all.push({ at: k.lastUsed ?? k.createDate, kind: "access key" });
  return all.reduce<Activity | undefined>((a, b) => (!a || b.at > a.at ? b : a), undefined);
}

export const userUnused: StateCheck<"user-unused", typeof settings, Details> = {
  name: "user-unused",
  kind: "state",
  description:
    "an IAM user with no password use and no key use for more than `days` (default 180): a candidate for removal, never remediated (credential report only)",
  settings,
  details,
  permissions: ["iam:GenerateCredentialReport", "iam:GetCredentialReport"],
  // The last use of inactive keys too: the credential report's, which the api read does not fetch.
  reads: ["users", "keys", "logins"],
  subject: "user",
  judge(snapshot, s, now) {
    const keysOf = new Map<string, AccessKey[]>();
    for (const k of snapshot.keys) keysOf.set(k.user, [...(keysOf.get(k.user) ?? []), k]);
    const out: Candidate<Details>[] = [];
    for (const u of snapshot.users) {
      const keys = keysOf.get(u.name) ?? [];
      const last = lastActivity(u, keys);
      if (!last || now.getTime() - last.at.getTime() <= s.days * DAY_MS) continue;
      const daysUnused = daysBetween(last.at, now);
      const neverUsed = !u.passwordLastUsed && keys.every((k) => !k.lastUsed);
      out.push({
        check: "user-unused",
        account: snapshot.account.id,
        accountAlias: snapshot.account.alias,
        resource: userResource(u),
        owner: u.name,
        severity: "low",
        title: neverUsed
          ? `IAM user ${u.name} never used in ${daysUnused} days`
          : `IAM user ${u.name} unused for ${daysUnused} days`,
        details: {
          ...userDetails(u),
          lastActivity: last.at.toISOString(),
          lastActivityKind: last.kind,
          daysUnused,
          thresholdDays: s.days,
          neverUsed,
        },
      });
    }
    return out;
  },
  summary: (d) =>
    d.neverUsed
      ? `IAM user ${d.username} never used in ${d.daysUnused} days`
      : `IAM user ${d.username} unused for ${d.daysUnused} days (last: ${d.lastActivityKind})`,
  columns: {
    resource: () => "user",
    age: (d) => `${d.daysUnused}d idle`,
    lastUsed: (d) => (d.neverUsed ? "" : d.lastActivity),
  },
};
