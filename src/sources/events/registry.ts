import type { EventFormat } from "./format.js";
import { activityTracker } from "./formats/activity-tracker.js";
import { cloudTrailFile } from "./formats/cloudtrail-file.js";
import { cloudTrailLookup } from "./formats/cloudtrail-lookup.js";
import { cloudTrailRecord } from "./formats/cloudtrail-record.js";
import { eventBridge } from "./formats/eventbridge.js";

// Every event format, in the order they are tried: the first whose detect() accepts a value
// reads it. Documents that hold records (a CloudTrail log file) are only recognised as a whole
// file or payload; array elements and JSON lines are single records.

/** Formats of a whole document that holds many records. */
export const containerFormats: readonly EventFormat[] = [cloudTrailFile, cloudTrailLookup];

/** Formats of one record (a whole document, an array element or a JSON line). */
export const recordFormats: readonly EventFormat[] = [eventBridge, activityTracker, cloudTrailRecord];

export const eventFormats: readonly EventFormat[] = [...containerFormats, ...recordFormats];

export const NOT_AN_EVENT = "not a CloudTrail record, EventBridge envelope or Activity Tracker event";

/** The format of one record, or undefined when no format knows it. */
export function recordFormatOf(v: unknown): EventFormat | undefined {
  for (const f of recordFormats) if (f.detect(v)) return f;
  return undefined;
}
