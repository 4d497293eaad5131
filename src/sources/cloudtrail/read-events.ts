import { pipeline, Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { promisify } from "node:util";
import { createGunzip, gunzip } from "node:zlib";
import type { HeaderFilter, IamEvent, InputProblem } from "../../model/event.js";
import {
  type DocumentSink,
  moreProblems,
  newSink,
  readBytes,
  readLines,
  wholeDocument,
} from "../events/document.js";
import type { InputFile } from "./input-files.js";

// Reads event files of any supported shape, gzipped or not, a few at a time:
//  - CloudTrail log files `{"Records":[…]}` (parsed whole: one delivery is a few MB at most),
//  - `aws cloudtrail lookup-events` output `{"Events":[{"CloudTrailEvent":"…"}]}`,
//  - a JSON array or JSON lines of EventBridge envelopes, Activity Tracker events or bare
//    CloudTrail records (JSON lines are streamed line by line, so they may be of any size).

export interface ReadOptions {
  /** Files read at once (decompression runs on libuv's pool while records are parsed). */
  concurrency?: number | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  onProblem: (p: InputProblem) => void;
  /** Stored (compressed) bytes read, as they arrive. */
  onBytes?: ((n: number) => void) | undefined;
  /** A file was read to its end (or given up on). */
  onFileDone?: ((file: InputFile, events: number, ok: boolean) => void) | undefined;
  /** A file parsed whole larger than this (decompressed) is refused. */
  maxWholeFileBytes?: number | undefined;
  /**
   * CloudTrail log files' records no check wants (role sessions' reads, AWS services…), decided
   * on their headers, are counted through onSkipped instead of being normalised: most of a
   * trail, and most of the work otherwise.
   */
  select?: HeaderFilter | undefined;
  onSkipped?: ((n: number) => void) | undefined;
}

const DEFAULT_MAX_WHOLE = 512 * 1024 * 1024;

/** Archives up to this size (compressed) are inflated in one call; larger ones are streamed. */
const ONE_SHOT_GZIP = 4 * 1024 * 1024;
const gunzipOnce = promisify(gunzip);

/**
 * Decompressed bytes of a stored file; gzip is recognised by its magic number, not its name.
 * A CloudTrail delivery is well under a MB compressed: it is inflated in one call on libuv's pool
 * (as fast as it gets); anything larger is streamed through a Gunzip so memory stays bounded.
 */
async function* decoded(src: Readable, onBytes: (n: number) => void, maxOut: number): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  if (first.done) return;
  const head = first.value;
  onBytes(head.length);
  const gz = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gz) {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      onBytes(r.value.length);
      yield r.value;
    }
    return;
  }
  const compressed: Buffer[] = [head];
  let size = head.length;
  let done = false;
  while (size <= ONE_SHOT_GZIP) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    onBytes(r.value.length);
    compressed.push(r.value);
    size += r.value.length;
  }
  if (done) {
    yield await gunzipOnce(compressed.length === 1 ? head : Buffer.concat(compressed), {
      maxOutputLength: maxOut,
    });
    return;
  }
  const raw = Readable.from(
    (async function* () {
      yield* compressed.splice(0);
      for (let r = await it.next(); !r.done; r = await it.next()) {
        onBytes(r.value.length);
        yield r.value;
      }
    })(),
    { objectMode: false },
  );
  const gunzipStream = createGunzip({ chunkSize: 256 * 1024 });
  // Errors of either side (a truncated archive, a reset connection) surface on iteration.
  pipeline(raw, gunzipStream, () => {});
  for await (const chunk of gunzipStream) yield chunk as Buffer;
}

async function readOne(s: DocumentSink, file: InputFile, opts: ReadOptions, push: Push): Promise<boolean> {
  const maxWhole = opts.maxWholeFileBytes ?? DEFAULT_MAX_WHOLE;
  const decoder = new StringDecoder("utf8");
  let mode = "undecided" as "undecided" | "whole" | "lines";
  let carry = "";
  let line = 1;
  // Undecided: the first bytes, until there are enough to tell the format.
  const head: Buffer[] = [];
  let headSize = 0;
  // Whole: the inflated bytes, read as one document at the end.
  const whole: Buffer[] = [];
  let wholeSize = 0;

  const lines = async (text: string, final: boolean) => {
    const parts = (carry + text).split("\n");
    carry = final ? "" : (parts.pop() ?? "");
    const first = line;
    line += parts.length;
    for (const b of readLines(s, parts, first)) await push(b);
  };
  const consume = async (chunk: Buffer) => {
    if (mode === "lines") return lines(decoder.write(chunk), false);
    wholeSize += chunk.length;
    if (wholeSize > maxWhole)
      throw new Error(`larger than ${maxWhole >> 20} MB uncompressed; use JSON lines`);
    whole.push(chunk);
  };
  const decide = async () => {
    const start = Buffer.concat(head, Math.min(headSize, 4096)).toString("utf8");
    mode = wholeDocument(start) ? "whole" : "lines";
    for (const c of head.splice(0)) await consume(c);
  };

  const stream = await file.open();
  for await (const chunk of decoded(stream, opts.onBytes ?? (() => {}), maxWhole)) {
    if (mode !== "undecided") {
      await consume(chunk);
      continue;
    }
    head.push(chunk);
    headSize += chunk.length;
    if (headSize >= 4096) await decide();
  }
  if (mode === "undecided") await decide();
  if (mode === "lines") {
    await lines(decoder.end(), true);
    return true;
  }
  const it = readBytes(s, whole.length === 1 ? whole[0]! : Buffer.concat(whole.splice(0)));
  whole.length = 0;
  let r = it.next();
  for (; !r.done; r = it.next()) await push(r.value);
  return r.value;
}

type Push = (batch: IamEvent[]) => Promise<void>;

/** A bounded hand-off from file readers to the consumer: readers wait while it is full. */
function channel<T>(capacity: number) {
  const items: T[] = [];
  let closed = false;
  let cancelled = false;
  let wakeConsumer: (() => void) | undefined;
  const wakeProducers: (() => void)[] = [];
  return {
    get cancelled() {
      return cancelled;
    },
    async push(x: T): Promise<void> {
      while (items.length >= capacity && !cancelled) await new Promise<void>((r) => wakeProducers.push(r));
      if (cancelled) return;
      items.push(x);
      wakeConsumer?.();
      wakeConsumer = undefined;
    },
    close(): void {
      closed = true;
      wakeConsumer?.();
      wakeConsumer = undefined;
    },
    async *drain(): AsyncGenerator<T> {
      try {
        for (;;) {
          if (items.length) {
            const x = items.shift()!;
            wakeProducers.shift()?.();
            yield x;
            continue;
          }
          if (closed) return;
          await new Promise<void>((r) => {
            wakeConsumer = r;
          });
        }
      } finally {
        cancelled = true;
        for (const w of wakeProducers.splice(0)) w();
      }
    },
  };
}

/**
 * Events of every input, in batches, reading `concurrency` files at once. A corrupt, truncated or
 * unreadable file is reported through onProblem with its name (and line or record where known);
 * the other files are read on.
 */
export async function* readEventBatches(
  files: AsyncIterable<InputFile>,
  opts: ReadOptions,
): AsyncGenerator<IamEvent[]> {
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const ch = channel<IamEvent[]>(concurrency * 2);
  const source = files[Symbol.asyncIterator]();
  const since = opts.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const until = opts.until?.getTime() ?? Number.POSITIVE_INFINITY;

  const worker = async () => {
    while (!ch.cancelled) {
      let next: IteratorResult<InputFile>;
      try {
        next = await source.next();
      } catch (e) {
        opts.onProblem({ file: "(inputs)", error: (e as Error).message ?? String(e) });
        return;
      }
      if (next.done) return;
      const file = next.value;
      const s = newSink(file.name, { since, until, filter: opts.select, onProblem: opts.onProblem });
      const push = (b: IamEvent[]) => ch.push(b);
      let ok = false;
      try {
        ok = await readOne(s, file, opts, push);
        if (s.batch.length) await ch.push(s.batch);
      } catch (e) {
        // A file parsed whole yields nothing unless all of it parsed; a JSON-lines file keeps
        // the events read before the damage.
        if (s.batch.length) await ch.push(s.batch);
        const err = e as { code?: string; name?: string; message?: string };
        const why =
          err.code === "Z_BUF_ERROR" || /unexpected end of file/i.test(err.message ?? "")
            ? "truncated gzip archive (unexpected end of file)"
            : err.code?.startsWith("Z_")
              ? `corrupt gzip archive (${err.message})`
              : `${err.name && err.name !== "Error" ? `${err.name}: ` : ""}${err.message ?? String(e)}`;
        opts.onProblem({ file: file.name, error: why });
        s.problems = Math.max(s.problems, 1);
      }
      const more = moreProblems(s);
      if (more) opts.onProblem(more);
      if (s.skipped) opts.onSkipped?.(s.skipped);
      opts.onFileDone?.(file, s.events, ok && s.problems === 0);
    }
  };

  const workers = Promise.all(Array.from({ length: concurrency }, worker)).finally(() => ch.close());
  try {
    yield* ch.drain();
  } finally {
    await workers;
  }
}

/** Events of every input, one by one (see readEventBatches). */
export async function* readEvents(
  files: AsyncIterable<InputFile>,
  opts: ReadOptions,
): AsyncGenerator<IamEvent> {
  for await (const batch of readEventBatches(files, opts)) yield* batch;
}
