import { eventsFromDocument } from "../../sources/events/document.js";
import type { ParsedDocument } from "../deps.js";

// One request or message body read into events through the event-format registry: a CloudTrail
// log file ({"Records":[…]}), a JSON array or JSON lines of EventBridge envelopes, Activity
// Tracker events or CloudTrail records, or one such value. The body is bounded by the body limit.

/** A body of JSON or JSON lines. An empty body is a problem: a sender that posts nothing is broken. */
export function parseDocument(text: string, name: string): ParsedDocument {
  if (!text.trim()) return { events: [], problems: [{ file: name, error: "empty body" }], ignored: 0 };
  // Well-formed events that are not IAM or sign-in events are counted as ignored, not problems.
  return eventsFromDocument(text, name);
}
