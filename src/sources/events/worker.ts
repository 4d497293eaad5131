import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { parentPort } from "node:worker_threads";
import { gunzipSync } from "node:zlib";
import type { HeaderFilter, IamEvent, InputProblem } from "../../model/event.js";
import { moreProblems, newSink, readBytes } from "./document.js";
import { buildFilter, type FilterSpec } from "./filter-spec.js";
import { describeReadError } from "./read-error.js";

// A replay worker thread: reads, inflates and parses the files it is handed, pre-filters their
// records on headers and sends back only the events that pass (a few percent of a trail), so the
// main thread judges and stores while the cores do the parsing.

export interface WorkerInit {
  filter?: FilterSpec | undefined;
  since: number;
  until: number;
  /** Larger files (stored or inflated) are handed back to be streamed by the main thread. */
  maxBytes: number;
}

export interface WorkerTask {
  seq: number;
  name: string;
  /** A local file, read here; otherwise `bytes` were read by the main thread (S3). */
  path?: string | undefined;
  bytes?: Uint8Array | undefined;
}

export interface WorkerResult {
  seq: number;
  events: IamEvent[];
  problems: InputProblem[];
  skipped: number;
  /** Stored bytes read. */
  bytes: number;
  ok: boolean;
  /** The file is too large to read whole: the main thread streams it. */
  tooLarge?: boolean | undefined;
}

/** One open, one fstat, one read (no second stat); undefined when larger than `max`. */
function readLocal(path: string, max: number): Buffer | undefined {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size > max) return undefined;
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

export function readTask(task: WorkerTask, init: WorkerInit, filter: HeaderFilter | undefined): WorkerResult {
  const problems: InputProblem[] = [];
  const s = newSink(task.name, {
    since: init.since,
    until: init.until,
    filter,
    onProblem: (p) => problems.push(p),
  });
  const events: IamEvent[] = [];
  let bytes = 0;
  let ok = false;
  try {
    const stored = task.path
      ? readLocal(task.path, init.maxBytes)
      : Buffer.from(task.bytes ?? new Uint8Array());
    if (!stored) return { seq: task.seq, events, problems, skipped: 0, bytes: 0, ok: false, tooLarge: true };
    bytes = stored.length;
    const gz = stored.length >= 2 && stored[0] === 0x1f && stored[1] === 0x8b;
    let raw: Buffer;
    try {
      raw = gz ? gunzipSync(stored, { maxOutputLength: init.maxBytes }) : stored;
    } catch (e) {
      if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE")
        return { seq: task.seq, events, problems, skipped: 0, bytes: 0, ok: false, tooLarge: true };
      throw e;
    }
    if (!gz && raw.length > init.maxBytes)
      return { seq: task.seq, events, problems, skipped: 0, bytes: 0, ok: false, tooLarge: true };
    const it = readBytes(s, raw);
    let r = it.next();
    for (; !r.done; r = it.next()) for (const e of r.value) events.push(e);
    for (const e of s.batch) events.push(e);
    ok = r.value;
  } catch (e) {
    // A file parsed whole yields nothing unless all of it parsed.
    events.length = 0;
    problems.push({ file: task.name, error: describeReadError(e) });
    s.problems = Math.max(s.problems, 1);
  }
  const more = moreProblems(s);
  if (more) problems.push(more);
  return { seq: task.seq, events, problems, skipped: s.skipped, bytes, ok: ok && s.problems === 0 };
}

if (parentPort) {
  const port = parentPort;
  let init: WorkerInit | undefined;
  let filter: Promise<HeaderFilter | undefined> | undefined;
  port.on("message", async (m: { init?: WorkerInit; tasks?: WorkerTask[] }) => {
    try {
      if (m.init) {
        init = m.init;
        filter = buildFilter(m.init.filter);
        return;
      }
      const f = await filter;
      for (const t of m.tasks ?? []) port.postMessage(readTask(t, init!, f));
    } catch (e) {
      port.postMessage({ fatal: (e as Error).message ?? String(e) });
    }
  });
}
