import type { HeaderFilter, IamEvent, InputProblem } from "../../model/event.js";
import { type EventFormat, isProblem, problemAt, type Where } from "./format.js";
import { describeJsonError, syntaxErrorLine } from "./json.js";
import { containerFormats, NOT_AN_EVENT, recordFormatOf } from "./registry.js";

// One document's records through the format registry: a whole file or payload parsed at once,
// or JSON lines. Synchronous and free of I/O, so that a worker thread, the streaming reader and a
// live source (SQS, HTTP) share it.

/** Events handed on at a time. */
export const BATCH = 1024;
/** Bad records reported one by one per file; the rest are counted. */
export const MAX_PROBLEMS_PER_FILE = 20;

/** What one document (file) has produced so far. */
export interface DocumentSink {
  file: string;
  since: number;
  until: number;
  /** Applied to the records of container documents (CloudTrail log files). */
  filter: HeaderFilter | undefined;
  batch: IamEvent[];
  events: number;
  /** Records in the window that no check wants (not normalised). */
  skipped: number;
  /** Well-formed events that are not IAM or sign-in events (an EC2 state change on a bus). */
  ignored: number;
  problems: number;
  onProblem: (p: InputProblem) => void;
}

export function newSink(
  file: string,
  opts: {
    since?: number;
    until?: number;
    filter?: HeaderFilter | undefined;
    onProblem: (p: InputProblem) => void;
  },
): DocumentSink {
  return {
    file,
    since: opts.since ?? Number.NEGATIVE_INFINITY,
    until: opts.until ?? Number.POSITIVE_INFINITY,
    filter: opts.filter,
    batch: [],
    events: 0,
    skipped: 0,
    ignored: 0,
    problems: 0,
    onProblem: opts.onProblem,
  };
}

export function reportProblem(s: DocumentSink, p: InputProblem): void {
  s.problems++;
  if (s.problems <= MAX_PROBLEMS_PER_FILE) s.onProblem(p);
}

/** The summary line for problems beyond the per-file limit, if any. */
export function moreProblems(s: DocumentSink): InputProblem | undefined {
  return s.problems > MAX_PROBLEMS_PER_FILE
    ? { file: s.file, error: `${s.problems - MAX_PROBLEMS_PER_FILE} more bad records` }
    : undefined;
}

/** Adds one normalised result; true when the batch is full and must be handed on. */
function emit(s: DocumentSink, n: IamEvent | InputProblem | null): boolean {
  if (n === null) {
    s.ignored++;
    return false;
  }
  if (isProblem(n)) {
    reportProblem(s, n);
    return false;
  }
  const t = n.time.getTime();
  if (t < s.since || t > s.until) return false;
  s.batch.push(n);
  s.events++;
  return s.batch.length >= BATCH;
}

function takeBatch(s: DocumentSink): IamEvent[] {
  const b = s.batch;
  s.batch = [];
  return b;
}

/** One value read on its own (an array element, a JSON line, a single event). */
function valueResult(v: unknown, where: Where): IamEvent | InputProblem | null {
  const f = recordFormatOf(v);
  return f ? f.normalise(v, where) : problemAt(where, NOT_AN_EVENT);
}

/** One JSON line: true when the batch is full. */
export function readValue(s: DocumentSink, v: unknown, where: Where): boolean {
  return emit(s, valueResult(v, where));
}

/** `count` records of a container document, the i-th from `at(i)`, pre-filtered on headers. */
function* readRecords(
  s: DocumentSink,
  f: EventFormat,
  count: number,
  at: (i: number) => unknown,
): Generator<IamEvent[]> {
  const filter = s.filter;
  for (let i = 0; i < count; i++) {
    const r = at(i);
    if (filter) {
      const h = f.header(r);
      if (h && !filter(h)) {
        // A bad time is still reported: only a readable record is skipped.
        const t = f.timeMs(r);
        if (!Number.isNaN(t)) {
          if (t >= s.since && t <= s.until) s.skipped++;
          continue;
        }
      }
    }
    if (emit(s, f.normalise(r, { file: s.file, record: i }))) yield takeBatch(s);
  }
}

/** Each record once, released as soon as it is read. */
const taking = (records: unknown[]) => (i: number) => {
  const r = records[i];
  records[i] = undefined;
  return r;
};

/**
 * A container document read piece by piece from its bytes (see EventFormat.recordPieces): what
 * it yields is held back until every piece has parsed, so that a document that is not what the
 * cut assumed leaves `s` untouched (false) and is parsed whole instead.
 */
function readPieces(s: DocumentSink, f: EventFormat, bytes: Buffer, pieces: number[]): IamEvent[] | false {
  const held: InputProblem[] = [];
  const t: DocumentSink = {
    ...s,
    batch: [],
    events: 0,
    skipped: 0,
    ignored: 0,
    problems: 0,
    onProblem: (p) => held.push(p),
  };
  const events: IamEvent[] = [];
  try {
    const at = (i: number) => JSON.parse(bytes.toString("utf8", pieces[2 * i], pieces[2 * i + 1])) as unknown;
    for (const b of readRecords(t, f, pieces.length / 2, at)) for (const e of b) events.push(e);
  } catch (e) {
    if (e instanceof SyntaxError) return false;
    throw e;
  }
  for (const e of t.batch) events.push(e);
  s.skipped += t.skipped;
  s.ignored += t.ignored;
  for (const p of held) reportProblem(s, p);
  s.problems += t.problems - held.length;
  return events;
}

/**
 * A document parsed whole: a container of records (pre-filtered on headers), an array of records,
 * or one record. Yields full batches; what is left stays in `s.batch`.
 */
export function* readWhole(s: DocumentSink, v: unknown): Generator<IamEvent[]> {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    for (const f of containerFormats) {
      if (!f.detect(v)) continue;
      const records = f.records!(v);
      yield* readRecords(s, f, records.length, taking(records));
      return;
    }
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++)
      if (emit(s, valueResult(v[i], { file: s.file, record: i }))) yield takeBatch(s);
    return;
  }
  if (emit(s, valueResult(v, { file: s.file }))) yield takeBatch(s);
}

/** Whether the start of a document says it must be parsed whole rather than line by line. */
export function wholeDocument(start: string): boolean {
  const t = start.trimStart();
  if (t.startsWith("[")) return true;
  if (/^\{\s*"(Records|Events)"\s*:/.test(t)) return true;
  // A pretty-printed single object: its first line is just "{".
  const nl = t.indexOf("\n");
  return t.startsWith("{") && nl >= 0 && t.slice(0, nl).trim() === "{";
}

export type ParsedWhole =
  | { ok: true; value: unknown }
  | { ok: false; error: string; line?: number | undefined }
  | null;

/** Parses a document read whole (null when it is empty). */
export function parseWhole(text: string): ParsedWhole {
  if (!text.trim()) return null;
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: describeJsonError(e), line: syntaxErrorLine(text, (e as Error).message) };
  }
}

/**
 * JSON lines from `text`, starting at line `first` (1-based): yields full batches. A line that is
 * not JSON is reported and skipped.
 */
export function* readLines(s: DocumentSink, lines: string[], first: number): Generator<IamEvent[]> {
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (!l) continue;
    const line = first + i;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      reportProblem(s, { file: s.file, line, error: describeJsonError(e) });
      continue;
    }
    if (readValue(s, v, { file: s.file, line })) yield takeBatch(s);
  }
}

/**
 * A whole document in memory (a small file, a queue message, an HTTP body): whole JSON or JSON
 * lines. Yields full batches; false from `.return` value when the document could not be parsed.
 */
export function* readText(s: DocumentSink, text: string): Generator<IamEvent[], boolean> {
  if (wholeDocument(text.slice(0, 4096))) {
    const parsed = parseWhole(text);
    if (!parsed) return true;
    if (!parsed.ok) {
      reportProblem(s, { file: s.file, line: parsed.line, error: parsed.error });
      return false;
    }
    yield* readWhole(s, parsed.value);
    return true;
  }
  yield* readLines(s, text.split("\n"), 1);
  return true;
}

/**
 * A whole document as bytes (a file read whole, inflated): its records straight from the bytes
 * where a container format can find them there, else as text (see readText).
 */
export function* readBytes(s: DocumentSink, bytes: Buffer): Generator<IamEvent[], boolean> {
  for (const f of containerFormats) {
    const pieces = f.recordPieces?.(bytes);
    if (!pieces) continue;
    const events = readPieces(s, f, bytes, pieces);
    if (!events) break;
    for (const e of events) if (emit(s, e)) yield takeBatch(s);
    return true;
  }
  return yield* readText(s, bytes.toString("utf8"));
}

/**
 * Every event of one document, for live sources (an SQS message, an HTTP body): a CloudTrail log
 * file, EventBridge envelopes (one, an array or JSON lines), Activity Tracker events. `origin`
 * names it in problems. Nothing is pre-filtered.
 */
export function eventsFromDocument(
  text: string,
  origin: string,
): { events: IamEvent[]; problems: InputProblem[]; ignored: number } {
  const problems: InputProblem[] = [];
  const s = newSink(origin, { onProblem: (p) => problems.push(p) });
  const events: IamEvent[] = [];
  const it = readText(s, text);
  for (let r = it.next(); !r.done; r = it.next()) events.push(...r.value);
  events.push(...s.batch);
  const more = moreProblems(s);
  if (more) problems.push(more);
  return { events, problems, ignored: s.ignored };
}
