import { fromCloudTrailRecord } from "../../cloudtrail/record.js";
import { type EventFormat, problemAt } from "../format.js";
import { describeJsonError } from "../json.js";

// `aws cloudtrail lookup-events` output: `{"Events":[{"CloudTrailEvent":"<a record as JSON>"}]}`.
// Already selected by the lookup's attributes, so nothing is pre-filtered.

export const cloudTrailLookup: EventFormat = {
  name: "cloudtrail-lookup",
  detect: (v) =>
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Array.isArray((v as { Events?: unknown }).Events),
  records: (doc) => (doc as { Events: unknown[] }).Events,
  header: () => undefined,
  timeMs: () => Number.NaN,
  normalise(item, where) {
    const text = (item as { CloudTrailEvent?: unknown } | null)?.CloudTrailEvent;
    if (typeof text !== "string") return problemAt(where, "a lookup-events result has no CloudTrailEvent");
    let r: unknown;
    try {
      r = JSON.parse(text);
    } catch (e) {
      return problemAt(where, `CloudTrailEvent: ${describeJsonError(e)}`);
    }
    const ev = fromCloudTrailRecord(r);
    return typeof ev === "string" ? problemAt(where, ev) : ev;
  },
};
