import type { Candidate, Severity } from "../model/finding.js";
import type { AccessKey } from "../model/observations.js";
import { DAY_MS, daysBetween } from "../util/time.js";
import { type Check, keyDetails, keyResource } from "./check.js";

export interface KeyInactiveSettings {
  days: number;
  severity: Severity;
}

/** When the key was last active: its last use, or its creation if it was never used. */
export const lastActivity = (key: AccessKey): Date => key.lastUsed ?? key.createDate;

/** Dow Jones Hammer's rule: an Active key whose last activity is strictly more than `days` ago. */
export function isInactive(key: AccessKey, days: number, now: Date): boolean {
  return key.status === "Active" && now.getTime() - lastActivity(key).getTime() > days * DAY_MS;
}

export const keyInactive: Check<AccessKey[], KeyInactiveSettings> = {
  name: "key-inactive",
  kind: "state",
  run(keys, settings, now) {
    const out: Candidate[] = [];
    for (const key of keys) {
      if (!isInactive(key, settings.days, now)) continue;
      const daysInactive = daysBetween(lastActivity(key), now);
      out.push({
        check: "key-inactive",
        account: key.account.id,
        accountAlias: key.account.alias,
        resource: keyResource(key),
        owner: key.user,
        severity: settings.severity,
        title: key.lastUsed
          ? `Access key of ${key.user} unused for ${daysInactive} days`
          : `Access key of ${key.user} never used in ${daysInactive} days since creation`,
        details: { ...keyDetails(key), daysInactive, thresholdDays: settings.days, neverUsed: !key.lastUsed },
      });
    }
    return out;
  },
};
