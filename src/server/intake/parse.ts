import type { IamEvent, InputProblem } from "../../model/event.js";
import { normaliseValue } from "../../sources/cloudtrail/read-events.js";
import { fromCloudTrailRecord } from "../../sources/cloudtrail/record.js";
import type { ParsedDocument } from "../deps.js";

// One request or message body read into events: a CloudTrail log file ({"Records":[…]}), a JSON
// array or JSON lines of EventBridge envelopes, Activity Tracker events or CloudTrail records, or
// one such value. The body is read whole (it is bounded by the body limit).

type Normalised = IamEvent | string | null;

function add(out: ParsedDocument, n: Normalised, name: string, where: Omit<InputProblem, "file" | "error">) {
  if (n === null) out.ignored++;
  else if (typeof n === "string") out.problems.push({ file: name, ...where, error: n });
  else out.events.push(n);
}

/** A parsed JSON value: a CloudTrail file, an array of events, or one event. */
export function parseValue(v: unknown, name: string, out: ParsedDocument = empty()): ParsedDocument {
  if (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Array.isArray((v as { Records?: unknown }).Records)
  ) {
    const records = (v as { Records: unknown[] }).Records;
    for (let i = 0; i < records.length; i++) add(out, fromCloudTrailRecord(records[i]), name, { record: i });
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) add(out, normaliseValue(v[i]), name, { record: i });
  } else {
    add(out, normaliseValue(v), name, {});
  }
  return out;
}

const empty = (): ParsedDocument => ({ events: [], problems: [], ignored: 0 });

const jsonError = (e: unknown) => `invalid JSON: ${String((e as Error).message ?? e).split("\n")[0]}`;

/** A body of JSON or JSON lines. An empty body is a problem: a sender that posts nothing is broken. */
export function parseDocument(text: string, name: string): ParsedDocument {
  const out = empty();
  const body = text.trim();
  if (!body) {
    out.problems.push({ file: name, error: "empty body" });
    return out;
  }
  try {
    return parseValue(JSON.parse(body), name, out);
  } catch (e) {
    // Not one JSON value: JSON lines, unless it is a single line (then the error is the answer).
    if (!body.includes("\n")) {
      out.problems.push({ file: name, error: jsonError(e) });
      return out;
    }
  }
  const lines = body.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (!l) continue;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      out.problems.push({ file: name, line: i + 1, error: jsonError(e) });
      continue;
    }
    add(out, normaliseValue(v), name, { line: i + 1 });
  }
  return out;
}
