import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { describeProblem, type IamEvent, type InputProblem } from "../../../src/model/event.js";
import {
  discoverInputs,
  type InputFile,
  isEventFile,
  mayHoldEventsIn,
} from "../../../src/sources/cloudtrail/input-files.js";
import { readEventBatches, readEvents } from "../../../src/sources/cloudtrail/read-events.js";

const FIX = join(import.meta.dirname, "../../fixtures");

async function readAll(
  args: string[],
  opts: { since?: Date; until?: Date; concurrency?: number; stdin?: Readable } = {},
) {
  const problems: InputProblem[] = [];
  const onProblem = (p: InputProblem) => problems.push(p);
  const events: IamEvent[] = [];
  const done: string[] = [];
  const files = discoverInputs(args, { ...opts, onProblem });
  for await (const e of readEvents(files, { ...opts, onProblem, onFileDone: (f) => done.push(f.name) }))
    events.push(e);
  return { events, problems, done };
}

const record = (i: number, over: Record<string, unknown> = {}) => ({
  eventVersion: "1.09",
  eventTime: new Date(Date.UTC(2024, 2, 15, 9, 0, i)).toISOString(),
  eventSource: "iam.amazonaws.com",
  eventName: "CreateUser",
  userIdentity: { type: "IAMUser", accountId: "123456789012", userName: `u${i}` },
  sourceIPAddress: "203.0.113.1",
  requestParameters: { userName: `n${i}` },
  eventID: `id-${i}`,
  recipientAccountId: "123456789012",
  ...over,
});

describe("finding input files", () => {
  it("keeps event files and skips digests", () => {
    expect(isEventFile("a/b/123_CloudTrail_us-east-1_x.json.gz")).toBe(true);
    expect(isEventFile("events.jsonl")).toBe(true);
    expect(isEventFile("events.ndjson.gz")).toBe(true);
    expect(isEventFile("a/CloudTrail-Digest/x.json.gz")).toBe(false);
    expect(isEventFile("README.md")).toBe(false);
  });

  it("skips delivery days that cannot hold events in the window", () => {
    const p = "AWSLogs/1/CloudTrail/us-east-1/2024/03/15/f.json.gz";
    expect(mayHoldEventsIn(p)).toBe(true);
    expect(mayHoldEventsIn(p, new Date("2024-03-15T23:00:00Z"))).toBe(true);
    expect(mayHoldEventsIn(p, new Date("2024-03-16T00:00:00Z"))).toBe(false);
    // Delivered on the 15th, an event may be from the evening of the 14th.
    expect(mayHoldEventsIn(p, undefined, new Date("2024-03-14T01:00:00Z"))).toBe(true);
    expect(mayHoldEventsIn(p, undefined, new Date("2024-03-13T23:00:00Z"))).toBe(false);
    expect(mayHoldEventsIn("flat/file.json", new Date("2030-01-01T00:00:00Z"))).toBe(true);
  });
});

describe("reading event files", () => {
  it("walks a CloudTrail folder: gzip and plain JSON, digests skipped, damaged files reported by name", async () => {
    const { events, problems, done } = await readAll([join(FIX, "cloudtrail")]);
    expect(events).toHaveLength(15 + 2 + 1);
    expect(done.some((d) => d.includes("Digest"))).toBe(false);
    const byFile = problems.map((p) => describeProblem({ ...p, file: p.file.slice(FIX.length + 1) }));
    expect(byFile).toEqual([
      "cloudtrail/damaged/malformed-records.json (record 1): eventName: Invalid input: expected string, received number",
      "cloudtrail/damaged/malformed-records.json (record 2): a CloudTrail record is a JSON object, not string",
      "cloudtrail/damaged/malformed-records.json (record 3): eventTime: not a date-time: yesterday",
      "cloudtrail/damaged/syntax-error.json:3: invalid JSON: Expected double-quoted property name in JSON at position 45",
      "cloudtrail/damaged/truncated.json.gz: truncated gzip archive (unexpected end of file)",
    ]);
  });

  it("keeps only events in --since/--until", async () => {
    const { events } = await readAll([join(FIX, "cloudtrail/AWSLogs")], {
      since: new Date("2024-03-15T09:05:00Z"),
      until: new Date("2024-03-15T09:08:00Z"),
    });
    expect(events.map((e) => e.time.toISOString())).toEqual([
      "2024-03-15T09:05:00.000Z",
      "2024-03-15T09:06:00.000Z",
      "2024-03-15T09:07:00.000Z",
      "2024-03-15T09:08:00.000Z",
    ]);
  });

  it("reads EventBridge and Activity Tracker files as JSON lines or arrays, reporting bad lines", async () => {
    const { events, problems } = await readAll([join(FIX, "eventbridge"), join(FIX, "ibm")]);
    const actions = events.map((e) => e.action);
    expect(actions.filter((a) => a === "iam:CreateLoginProfile")).toHaveLength(2);
    expect(actions.filter((a) => a.startsWith("iam-identity."))).toHaveLength(5 + 3);
    expect(problems.map((p) => [p.file.slice(FIX.length + 1), p.line, p.record])).toEqual([
      ["eventbridge/events.jsonl", 4, undefined],
      ["eventbridge/events.jsonl", 5, undefined],
      ["ibm/activity-tracker.jsonl", 6, undefined],
    ]);
  });

  it("reads stdin, gzipped or not, recognising gzip by its content", async () => {
    const lines = `${[record(1), record(2)].map((r) => JSON.stringify(r)).join("\n")}\n`;
    const plain = await readAll(["-"], { stdin: Readable.from([Buffer.from(lines)]) });
    expect(plain.events.map((e) => e.eventId)).toEqual(["id-1", "id-2"]);
    const zipped = await readAll(["-"], { stdin: Readable.from([gzipSync(lines)]) });
    expect(zipped.events.map((e) => e.eventId)).toEqual(["id-1", "id-2"]);
  });

  it("splits JSON lines across chunk boundaries, including inside multi-byte characters", async () => {
    const text = `${JSON.stringify(record(1, { userAgent: "Zürich-clïent ✓" }))}\n${JSON.stringify(record(2))}`;
    const bytes = Buffer.from(text);
    const stdin = new PassThrough();
    const { events: out } = await (async () => {
      const p = readAll(["-"], { stdin });
      for (let i = 0; i < bytes.length; i += 7) stdin.write(bytes.subarray(i, i + 7));
      stdin.end();
      return p;
    })();
    expect(out.map((e) => e.userAgent ?? e.eventId)).toEqual(["Zürich-clïent ✓", "id-2"]);
  });

  it("reads lookup-events output and pretty-printed single events", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamwarden-read-"));
    writeFileSync(
      join(dir, "lookup.json"),
      JSON.stringify({
        Events: [{ EventId: "x", CloudTrailEvent: JSON.stringify(record(7)) }, { EventId: "y" }],
      }),
    );
    writeFileSync(join(dir, "one.json"), JSON.stringify(record(8), null, 2));
    const { events, problems } = await readAll([dir]);
    expect(events.map((e) => e.eventId).sort()).toEqual(["id-7", "id-8"]);
    expect(problems).toEqual([
      { file: join(dir, "lookup.json"), record: 1, error: "a lookup-events result has no CloudTrailEvent" },
    ]);
  });

  it("reports a missing input and goes on with the others", async () => {
    const { events, problems } = await readAll(["/nonexistent/trail", join(FIX, "cloudtrail/AWSLogs")]);
    expect(events).toHaveLength(17);
    expect(problems).toEqual([{ file: "/nonexistent/trail", error: "cannot read (ENOENT)" }]);
  });

  it("caps the problems reported per file and counts the rest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamwarden-read-"));
    writeFileSync(join(dir, "junk.json"), JSON.stringify({ Records: Array.from({ length: 50 }, () => 1) }));
    const { problems } = await readAll([dir]);
    expect(problems).toHaveLength(21);
    expect(problems[20]).toEqual({ file: join(dir, "junk.json"), error: "30 more bad records" });
  });

  it("reads no more files at once than asked, and stops when the consumer stops", async () => {
    let open = 0;
    let maxOpen = 0;
    let opened = 0;
    const file = (i: number): InputFile => ({
      name: `f${i}`,
      open: async () => {
        opened++;
        open++;
        maxOpen = Math.max(maxOpen, open);
        const body = JSON.stringify({
          Records: Array.from({ length: 300 }, (_, j) => record(j, { eventID: `${i}-${j}` })),
        });
        const s = Readable.from([Buffer.from(body)]);
        s.on("close", () => open--);
        await new Promise((r) => setTimeout(r, 5));
        return s;
      },
    });
    async function* files() {
      for (let i = 0; i < 40; i++) yield file(i);
    }
    let n = 0;
    for await (const batch of readEventBatches(files(), { concurrency: 3, onProblem: () => {} }))
      n += batch.length;
    expect(n).toBe(40 * 300);
    expect(maxOpen).toBeLessThanOrEqual(3);
    expect(maxOpen).toBeGreaterThan(1);

    opened = 0;
    for await (const _batch of readEventBatches(files(), { concurrency: 2, onProblem: () => {} })) break;
    // Stopping early leaves the other files unread.
    expect(opened).toBeLessThanOrEqual(4);
  });
});
