import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { IamEvent, InputProblem } from "../../../src/model/event.js";
import { newSink, readBytes, readText } from "../../../src/sources/events/document.js";
import { recordPieces } from "../../../src/sources/events/split-records.js";

// The records a CloudTrail log file yields from its bytes are always those of JSON.parse of the
// whole file: for any bytes, recordsFromBytes either declines or agrees with JSON.parse.

const FIX = join(import.meta.dirname, "../../fixtures/cloudtrail");

/** The records the cut gives when every piece parses, as the reader takes them; else undefined. */
function recordsFromBytes(bytes: Buffer): unknown[] | undefined {
  const pieces = recordPieces(bytes);
  if (!pieces) return undefined;
  try {
    const out: unknown[] = [];
    for (let i = 0; i < pieces.length; i += 2)
      out.push(JSON.parse(bytes.toString("utf8", pieces[i], pieces[i + 1])));
    return out;
  } catch {
    return undefined;
  }
}

/** What JSON.parse of the whole document says its records are (undefined when it throws). */
function wholeRecords(bytes: Buffer): unknown[] | undefined {
  try {
    const v = JSON.parse(bytes.toString("utf8")) as { Records?: unknown };
    return Array.isArray(v?.Records) ? v.Records : undefined;
  } catch {
    return undefined;
  }
}

/** What reading a document gives, from its bytes (the fast path) or from its text. */
const read = (bytes: Buffer, fromBytes: boolean) => {
  const problems: InputProblem[] = [];
  const s = newSink("f.json", { onProblem: (p) => problems.push(p) });
  const events: IamEvent[] = [];
  const it = fromBytes ? readBytes(s, bytes) : readText(s, bytes.toString("utf8"));
  let r = it.next();
  for (; !r.done; r = it.next()) events.push(...r.value);
  events.push(...s.batch);
  return { events, problems, ok: r.value, skipped: s.skipped, ignored: s.ignored };
};

/** Declines or agrees: never a different answer, never records from a document JSON.parse refuses. */
function agrees(bytes: Buffer): boolean {
  const fast = recordsFromBytes(bytes);
  if (fast === undefined) return true;
  const whole = wholeRecords(bytes);
  expect(whole, bytes.toString("utf8").slice(0, 200)).toBeDefined();
  expect(fast).toEqual(whole);
  return true;
}

/** The reader gives the same events, problems and counts from the bytes as from the text. */
function readsAlike(bytes: Buffer): boolean {
  expect(read(bytes, true)).toEqual(read(bytes, false));
  return true;
}

// Strings a caller controls (user names, tags, policy documents) that look like the cut.
const hostile = fc.constantFrom(
  ',{"eventVersion":"1.08"}',
  '"},{"eventVersion":"1.08","x":"',
  "\\",
  '\\"',
  "]}",
  '{"Records":[',
  "\u2028",
  "é😀",
);
const text = fc.oneof(fc.string(), hostile, fc.string({ unit: "binary" }));
// Nested values, some of them objects whose first key is eventVersion.
const nested = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    text,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(text, fc.constant("eventVersion")), tie("value"), { maxKeys: 3 }),
    tie("value").map((v) => ({ eventVersion: "1.08", inner: v })),
  ),
})).value;
const record = fc.record({
  eventVersion: fc.constant("1.08"),
  userIdentity: fc.record({ type: fc.constantFrom("IAMUser", "AssumedRole", "Root"), userName: text }),
  eventTime: fc.constant("2024-03-15T09:15:00Z"),
  eventSource: fc.constantFrom("iam.amazonaws.com", "s3.amazonaws.com"),
  eventName: text,
  sourceIPAddress: fc.oneof(fc.ipV4(), text),
  requestParameters: nested,
});
const document = fc
  .array(record, { maxLength: 8 })
  .map((Records) => Buffer.from(JSON.stringify({ Records })));

describe("records from a CloudTrail file's bytes", () => {
  it("are those of JSON.parse of the whole file, for documents with hostile strings and nested eventVersion objects", () => {
    fc.assert(fc.property(document, agrees), { numRuns: 2000 });
    fc.assert(fc.property(document, readsAlike), { numRuns: 300 });
  });

  it("decline or agree for damaged bytes: cut, spliced, a byte changed, whitespace, a second Records key", () => {
    const damaged = fc
      .tuple(document, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([doc, a, b, byte]) => {
        const i = doc.length ? a % doc.length : 0;
        const j = doc.length ? b % doc.length : 0;
        switch ((a + b) % 6) {
          case 0:
            return doc.subarray(0, i);
          case 1:
            return Buffer.concat([doc.subarray(0, i), doc.subarray(j)]);
          case 2: {
            const c = Buffer.from(doc);
            if (c.length) c[i] = byte;
            return c;
          }
          case 3:
            return Buffer.concat([doc, Buffer.from(" \n\t")]);
          case 4:
            return Buffer.concat([doc.subarray(0, doc.length - 1), Buffer.from(',"Records":[]}')]);
          default:
            return Buffer.concat([doc.subarray(0, i), Buffer.from([byte]), doc.subarray(i)]);
        }
      });
    fc.assert(fc.property(damaged, agrees), { numRuns: 5000 });
    fc.assert(fc.property(damaged, readsAlike), { numRuns: 1000 });
  });

  it("are read from the bytes (not declined) for compact CloudTrail files, and agree", () => {
    const files = readdirSync(join(FIX, "AWSLogs"), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /_CloudTrail_.*\.json(\.gz)?$/.test(e.name))
      .map((e) => join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const raw = readFileSync(f);
      const bytes = f.endsWith(".gz") ? gunzipSync(raw) : raw;
      // CloudTrail writes compact JSON; a pretty-printed copy is parsed whole.
      if (bytes.toString("latin1", 0, 2) === '{"') expect(recordPieces(bytes), f).toBeDefined();
      else expect(recordPieces(bytes), f).toBeUndefined();
      agrees(bytes);
    }
  });

  it("are cut per record for a generated document, and declined when a record does not start with eventVersion", () => {
    const doc = Buffer.from(JSON.stringify({ Records: [{ eventVersion: "1" }, { eventVersion: "2" }, {}] }));
    // Three records, two cuts found: the last piece holds two records and does not parse alone.
    expect(recordPieces(doc)!.length).toBe(4);
    expect(recordsFromBytes(doc)).toBeUndefined();
    expect(recordsFromBytes(Buffer.from('{"Records":[]}\n'))).toEqual([]);
  });
});

describe("a file read from bytes", () => {
  it("gives the events, problems and line numbers of reading its text, for good and damaged files", () => {
    const files = readdirSync(FIX, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /\.json(\.gz)?$/.test(e.name) && !e.name.includes("Digest"))
      .map((e) => join(e.parentPath, e.name));
    let problems = 0;
    for (const f of files) {
      const raw = readFileSync(f);
      let bytes: Buffer;
      try {
        bytes = f.endsWith(".gz") ? gunzipSync(raw) : raw;
      } catch {
        continue; // a truncated archive fails before either reader
      }
      const a = read(bytes, true);
      expect(a, f).toEqual(read(bytes, false));
      problems += a.problems.length;
    }
    expect(problems).toBeGreaterThan(0);
  });
});
