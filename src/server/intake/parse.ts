import { eventsFromDocument } from "../../sources/events/document.js";
import type { ParsedDocument } from "../deps.js";

// One request or message body read into events through the event-format registry: a CloudTrail
// log file ({"Records":[…]}), a JSON array or JSON lines of EventBridge envelopes, Activity
// Tracker events or CloudTrail records, or one such value. The body is bounded by the body limit.

/** A body of JSON or JSON lines. An empty body is a problem: a sender that posts nothing is broken. */
export function parseDocument(text: string, name: string): ParsedDocument {
  if (!text.trim()) return { events: [], problems: [{ file: name, error: "empty body" }], ignored: 0 };
  const { events, problems } = eventsFromDocument(text, name);
  // Records no format flags (not IAM, not a sign-in) are left out by the formats themselves.
  return { events, problems, ignored: 0 };
}
