import { cloudTrailHeader, eventTimeMs, fromCloudTrailRecord } from "../../cloudtrail/record.js";
import { type EventFormat, problemAt } from "../format.js";

// One bare CloudTrail record: a JSON line or array element of `aws cloudtrail` exports and tools.

export const cloudTrailRecord: EventFormat = {
  name: "cloudtrail-record",
  detect: (v) => typeof v === "object" && v !== null && "eventName" in v,
  header: (r) => cloudTrailHeader(r),
  timeMs: (r) => {
    const t = (r as { eventTime?: unknown } | null)?.eventTime;
    return typeof t === "string" ? eventTimeMs(t) : Number.NaN;
  },
  normalise(r, where) {
    const e = fromCloudTrailRecord(r);
    return typeof e === "string" ? problemAt(where, e) : e;
  },
};
