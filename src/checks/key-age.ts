import type { Candidate } from "../model/finding.js";
import type { AccessKey } from "../model/observations.js";
import { addDays, DAY_MS, daysBetween } from "../util/time.js";
import { type Check, keyDetails, keyResource } from "./check.js";

export interface KeyAgeSettings {
  expireDays: number;
  warnDays: number;
}

export type KeyAgeState = "ok" | "expiring" | "expired";

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

export const keyAge: Check<AccessKey[], KeyAgeSettings> = {
  name: "key-age",
  kind: "state",
  run(keys, settings, now) {
    const out: Candidate[] = [];
    for (const key of keys) {
      if (key.status !== "Active") continue;
      const state = keyAgeState(key, settings, now);
      if (state === "ok") continue;
      const ageDays = daysBetween(key.createDate, now);
      const expiresAt = addDays(key.createDate, settings.expireDays);
      out.push({
        check: "key-age",
        account: key.account.id,
        accountAlias: key.account.alias,
        resource: keyResource(key),
        owner: key.user,
        severity: state === "expired" ? "high" : "low",
        title:
          state === "expired"
            ? `Access key of ${key.user} is ${ageDays} days old, past the ${settings.expireDays}-day limit`
            : `Access key of ${key.user} expires on ${expiresAt.toISOString().slice(0, 10)}`,
        details: {
          ...keyDetails(key),
          state,
          ageDays,
          expireDays: settings.expireDays,
          warnDays: settings.warnDays,
          expiresAt: expiresAt.toISOString(),
          daysToExpiry: Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS),
        },
      });
    }
    return out;
  },
};
