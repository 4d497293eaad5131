import { z } from "zod";
import { type Candidate, SEVERITIES } from "../model/finding.js";
import type { AccessKey } from "../model/observations.js";
import { DAY_MS, daysBetween } from "../util/time.js";
import {
  keyColumns,
  keyDetails,
  keyDetailsSchema,
  keyResource,
  type SettingsOf,
  type StateCheck,
  settingsSchema,
} from "./check.js";

const settings = settingsSchema({
  days: z.number().int().min(1).default(90),
  severity: z.enum(SEVERITIES).default("medium"),
}).prefault({});

const details = keyDetailsSchema.extend({
  daysInactive: z.number(),
  thresholdDays: z.number(),
  neverUsed: z.boolean(),
});

export type KeyInactiveSettings = SettingsOf<typeof settings>;
type Details = z.output<typeof details>;

/** When the key was last active: its last use, or its creation if it was never used. */
export const lastActivity = (key: AccessKey): Date => key.lastUsed ?? key.createDate;

/** Dow Jones Hammer's rule: an Active key whose last activity is strictly more than `days` ago. */
export function isInactive(key: AccessKey, days: number, now: Date): boolean {
  return key.status === "Active" && now.getTime() - lastActivity(key).getTime() > days * DAY_MS;
}

export const keyInactive: StateCheck<"key-inactive", typeof settings, Details> = {
  name: "key-inactive",
  kind: "state",
  description:
    "an Active key whose last use — or creation, if never used — is more than `days` ago (default 90; Dow Jones Hammer's rule)",
  settings,
  details,
  permissions: ["iam:ListUsers", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"],
  reads: ["keys"],
  subject: "access-key",
  judge(snapshot, s, now) {
    const out: Candidate<Details>[] = [];
    for (const key of snapshot.keys) {
      if (!isInactive(key, s.days, now)) continue;
      const daysInactive = daysBetween(lastActivity(key), now);
      out.push({
        check: "key-inactive",
        account: key.account.id,
        accountAlias: key.account.alias,
        resource: keyResource(key),
        owner: key.user,
        severity: s.severity,
        title: key.lastUsed
          ? `Access key of ${key.user} unused for ${daysInactive} days`
          : `Access key of ${key.user} never used in ${daysInactive} days since creation`,
        details: { ...keyDetails(key), daysInactive, thresholdDays: s.days, neverUsed: !key.lastUsed },
      });
    }
    return out;
  },
  summary: (d) =>
    d.neverUsed
      ? `access key of ${d.username} never used in ${d.daysInactive} days`
      : `access key of ${d.username} unused for ${d.daysInactive} days`,
  columns: { ...keyColumns, age: (d) => `${d.daysInactive}d idle` },
};
