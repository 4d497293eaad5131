import { z } from "zod";
import type { Candidate } from "../model/finding.js";
import type { AccessKey } from "../model/observations.js";
import { addDays, DAY_MS, daysBetween } from "../util/time.js";
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
  expireDays: z.number().int().min(1).default(180),
  warnDays: z.number().int().min(0).default(15),
})
  .refine((v) => v.warnDays < v.expireDays, { message: "warnDays must be less than expireDays" })
  .prefault({});

const KEY_AGE_STATES = ["ok", "expiring", "expired"] as const;
export type KeyAgeState = (typeof KEY_AGE_STATES)[number];

const details = keyDetailsSchema.extend({
  state: z.enum(KEY_AGE_STATES),
  ageDays: z.number(),
  expireDays: z.number(),
  warnDays: z.number(),
  expiresAt: z.string(),
  daysToExpiry: z.number(),
});

export type KeyAgeSettings = SettingsOf<typeof settings>;
type Details = z.output<typeof details>;

/**
 * Lacework's rotation states, computed in UTC to the millisecond: `ok` while younger than
 * expireDays - warnDays, `expiring` until expireDays, `expired` from that instant on.
 */
export function keyAgeState(key: AccessKey, s: KeyAgeSettings, now: Date): KeyAgeState {
  const ageMs = now.getTime() - key.createDate.getTime();
  if (ageMs >= s.expireDays * DAY_MS) return "expired";
  if (ageMs >= (s.expireDays - s.warnDays) * DAY_MS) return "expiring";
  return "ok";
}

export const keyAge: StateCheck<"key-age", typeof settings, Details> = {
  name: "key-age",
  kind: "state",
  description:
    "an **Active** key `expiring` from `expireDays - warnDays` and `expired` from `expireDays` (defaults 180 and 15, UTC, to the minute)",
  settings,
  details,
  permissions: ["iam:ListUsers", "iam:ListAccessKeys"],
  reads: ["keys"],
  subject: "access-key",
  judge(snapshot, s, now) {
    const out: Candidate<Details>[] = [];
    for (const key of snapshot.keys) {
      if (key.status !== "Active") continue;
      const state = keyAgeState(key, s, now);
      if (state === "ok") continue;
      const ageDays = daysBetween(key.createDate, now);
      const expiresAt = addDays(key.createDate, s.expireDays);
      out.push({
        check: "key-age",
        account: key.account.id,
        accountAlias: key.account.alias,
        resource: keyResource(key),
        owner: key.user,
        severity: state === "expired" ? "high" : "low",
        title:
          state === "expired"
            ? `Access key of ${key.user} is ${ageDays} days old, past the ${s.expireDays}-day limit`
            : `Access key of ${key.user} expires on ${expiresAt.toISOString().slice(0, 10)}`,
        details: {
          ...keyDetails(key),
          state,
          ageDays,
          expireDays: s.expireDays,
          warnDays: s.warnDays,
          expiresAt: expiresAt.toISOString(),
          daysToExpiry: Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS),
        },
      });
    }
    return out;
  },
  summary: (d) =>
    d.state === "expired"
      ? `access key of ${d.username} is ${d.ageDays} days old, past the ${d.expireDays}-day limit`
      : `access key of ${d.username} expires on ${d.expiresAt.slice(0, 10)}`,
  columns: { ...keyColumns, age: (d) => `${d.ageDays}d old`, state: (d) => d.state },
};
