import type { EventFormat } from "../format.js";
import { recordPieces } from "../split-records.js";
import { cloudTrailRecord } from "./cloudtrail-record.js";

// A CloudTrail log file as delivered to S3: `{"Records":[…]}`, one delivery of one account and
// region, a few KB to a few MB. Most of its records are no check's business: they are
// pre-filtered on their headers before being normalised.

export const cloudTrailFile: EventFormat = {
  ...cloudTrailRecord,
  name: "cloudtrail-file",
  detect: (v) => typeof v === "object" && v !== null && Array.isArray((v as { Records?: unknown }).Records),
  records(doc) {
    const o = doc as { Records: unknown[] };
    const records = o.Records;
    // The records become garbage as soon as each is judged.
    (o as { Records?: unknown }).Records = undefined;
    return records;
  },
  recordPieces,
};
