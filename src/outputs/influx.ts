import { type KeyAgeSettings, keyAgeState } from "../checks/key-age.js";
import { lastActivity } from "../checks/key-inactive.js";
import type { AccessKey } from "../model/observations.js";
import { daysBetween } from "../util/time.js";

// InfluxDB line protocol for Telegraf's `exec` input, keeping Lacework's contract so existing
// dashboards work: measurement `iam`, tags name/key/status/accountAlias, float field `age`
// (days). Added: field `idle` (days since last use), and correct escaping.
// https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/

/** Tag keys and values escape commas, equals signs and spaces; newlines cannot be carried. */
export function escapeTag(v: string): string {
  return v.replace(/[\r\n]+/g, " ").replace(/[,= \\]/g, (c) => `\\${c}`);
}

export type InfluxStatus = "ok" | "expiring" | "expired" | "inactive";

/** A deactivated key is `inactive`; an active one has its age state. */
export function influxStatus(key: AccessKey, s: KeyAgeSettings, now: Date): InfluxStatus {
  return key.status === "Active" ? keyAgeState(key, s, now) : "inactive";
}

export function influxLine(key: AccessKey, s: KeyAgeSettings, now: Date): string {
  const tags: [string, string][] = [
    ["name", key.user],
    ["key", key.keyId ? key.keyId.slice(-5) : `slot${key.slot ?? "?"}`],
    ["status", influxStatus(key, s, now)],
    ["accountAlias", key.account.alias ?? key.account.id],
  ];
  const tagText = tags
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k}=${escapeTag(v)}`)
    .join(",");
  const age = daysBetween(key.createDate, now);
  const idle = daysBetween(lastActivity(key), now);
  return `iam,${tagText} age=${age},idle=${idle}`;
}

/** One line per key, every key (not only the bad ones). */
export function influxLines(keys: AccessKey[], s: KeyAgeSettings, now: Date): string {
  return keys.map((k) => `${influxLine(k, s, now)}\n`).join("");
}
