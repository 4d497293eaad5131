import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { IamEvent } from "../../model/event.js";
import type { InputFile } from "../cloudtrail/input-files.js";
import { type ReadOptions, readEventBatches } from "../cloudtrail/read-events.js";
import { BATCH } from "./document.js";
import { buildFilter, type FilterSpec, siblingModule } from "./filter-spec.js";
import type { WorkerInit, WorkerResult, WorkerTask } from "./worker.js";

// Replay at the speed of the machine: files are handed out in batches to a pool of worker threads
// that read, inflate, parse and pre-filter them; only the events that pass come back. Results are
// handed on in discovery order, so findings are those of a single-thread replay of the same files.

export interface PoolOptions extends ReadOptions {
  /** Worker threads; 0 reads in this thread. Default: the cores of the machine. */
  workers?: number | undefined;
  /** How workers build the pre-filter (functions cannot cross threads); `select` is used in this thread. */
  filter?: FilterSpec | undefined;
  /**
   * Keep worker threads left idle a minute for the next replay in this process (a `worker` takes
   * one job after another); otherwise they are stopped when the replay ends.
   */
  keepWorkers?: boolean | undefined;
  /** Fewer files than this (and fewer bytes than minBytes) are read in this thread: not worth a pool. */
  minFiles?: number | undefined;
}

/** Files per message to a worker: few messages for small files, a short tail for large ones. */
const TASK_FILES = 16;
const TASK_BYTES = 8 * 1024 * 1024;
/** Files handed out ahead of the oldest unfinished one, per worker (bounds results held for order). */
const WINDOW_PER_WORKER = 64;
/** S3 objects downloaded at once by this thread (a GET mostly waits on the network). */
const FETCHES = 16;
/** Whole files read by a worker: larger ones are streamed by this thread. */
const WORKER_MAX_BYTES = 256 * 1024 * 1024;

export const defaultWorkers = () => availableParallelism();

/** Reads the whole of a stream (an S3 object's body): small compressed deliveries. */
async function bytesOf(file: InputFile): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of await file.open()) chunks.push(c as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * Events of every input, in batches: in a worker pool when there is enough to read, in this thread
 * otherwise (see readEventBatches for problems and options).
 */
export async function* readEventBatchesPooled(
  files: AsyncIterable<InputFile>,
  opts: PoolOptions,
): AsyncGenerator<IamEvent[]> {
  const workers = opts.workers ?? defaultWorkers();
  const source = files[Symbol.asyncIterator]();
  // Look ahead: a handful of files is read faster than a pool starts.
  const ahead: InputFile[] = [];
  const minFiles = opts.minFiles ?? 32;
  let ended = false;
  if (workers >= 1)
    while (ahead.length < minFiles) {
      const n = await source.next();
      if (n.done) {
        ended = true;
        break;
      }
      ahead.push(n.value);
    }
  const all = (async function* () {
    yield* ahead;
    if (!ended) for (let n = await source.next(); !n.done; n = await source.next()) yield n.value;
  })();
  if (workers < 1 || ended || ahead.some((f) => !f.path && f.size === undefined)) {
    yield* readEventBatches(all, opts);
    return;
  }
  yield* pooled(all, opts, workers);
}

/**
 * A worker's young generation: a file's records die young, and V8's default (sized for a main
 * thread on a large machine) lets each worker grow ~20 MB more before it collects, with no gain in
 * speed (measured on the replay bench: 271 → 228 MB peak RSS at 2 workers, same time).
 */
const WORKER_YOUNG_MB = 24;

/** A worker thread running `url`; from source (.ts), it registers the TypeScript loader first. */
function startWorker(url: string): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_MB };
  if (!url.endsWith(".ts")) return new Worker(new URL(url), { resourceLimits });
  // The ESM entry of tsx's API (the CommonJS one cannot register hooks from an eval'd worker).
  const tsx = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  );
  const code = `import(${JSON.stringify(tsx.href)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(code, { eval: true, resourceLimits });
}

/**
 * Workers left idle by a replay that asked to keep them (keepWorkers), for the next one in this
 * process: a `worker` takes one account/region/day job after another, and starting threads for
 * each cost a third of a second per job. Kept a minute; idle workers do not keep the process alive.
 */
const idle: { url: string; w: Worker; onExit: () => void }[] = [];
const IDLE_MS = 60_000;
let idleTimer: NodeJS.Timeout | undefined;

function takeWorker(url: string): Worker {
  const i = idle.findIndex((x) => x.url === url);
  if (i < 0) return startWorker(url);
  const [x] = idle.splice(i, 1);
  x!.w.off("exit", x!.onExit);
  x!.w.ref();
  return x!.w;
}

function keepWorker(url: string, w: Worker): void {
  const onExit = () => {
    const i = idle.findIndex((x) => x.w === w);
    if (i >= 0) idle.splice(i, 1);
  };
  w.once("exit", onExit);
  w.unref();
  idle.push({ url, w, onExit });
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    for (const x of idle.splice(0)) void x.w.terminate();
  }, IDLE_MS).unref();
}

interface Slot {
  file: InputFile;
  result?: WorkerResult | undefined;
}

async function* pooled(files: AsyncIterable<InputFile>, opts: PoolOptions, count: number) {
  const init: WorkerInit = {
    filter: opts.filter,
    since: opts.since?.getTime() ?? Number.NEGATIVE_INFINITY,
    until: opts.until?.getTime() ?? Number.POSITIVE_INFINITY,
    maxBytes: Math.min(opts.maxWholeFileBytes ?? WORKER_MAX_BYTES, WORKER_MAX_BYTES),
  };
  const url = siblingModule(import.meta.url, "./worker.js");
  const pool = Array.from({ length: count }, () => {
    const w = takeWorker(url);
    w.postMessage({ init });
    return { w, busy: 0, broken: false, detach: [] as (() => void)[] };
  });
  const slots = new Map<number, Slot>();
  const large: InputFile[] = [];
  let nextSeq = 0;
  let emitSeq = 0;
  let fed = false;
  let failure: Error | undefined;
  // The feeder and the consumer each wait for the other or for a worker: every change wakes both.
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  const waitFor = () => new Promise<void>((r) => waiters.push(r));
  const listen = <A extends unknown[]>(p: (typeof pool)[number], event: string, f: (...a: A) => void) => {
    const g = f as unknown as (...a: unknown[]) => void;
    p.w.on(event, g);
    p.detach.push(() => p.w.off(event, g));
  };
  for (const p of pool) {
    listen(p, "message", (m: WorkerResult | { fatal: string }) => {
      if ("fatal" in m) {
        p.broken = true;
        failure ??= new Error(`replay worker: ${m.fatal}`);
      } else {
        p.busy--;
        const slot = slots.get(m.seq);
        if (slot) slot.result = m;
      }
      notify();
    });
    listen(p, "error", (e: Error) => {
      p.broken = true;
      failure ??= e;
      notify();
    });
  }
  const window = WINDOW_PER_WORKER * count;

  // Hands files out in batches to the least busy worker, never more than `window` ahead. Objects
  // without a local path (S3) are downloaded here, FETCHES at once, and handed out as they arrive.
  let batch: WorkerTask[] = [];
  let bytes = 0;
  const send = () => {
    if (!batch.length) return;
    const p = pool.reduce((a, b) => (b.busy < a.busy ? b : a));
    p.busy += batch.length;
    const transfer = batch.flatMap((t) => (t.bytes ? [t.bytes.buffer as ArrayBuffer] : []));
    p.w.postMessage({ tasks: batch }, transfer);
    batch = [];
    bytes = 0;
  };
  const add = (task: WorkerTask, size: number) => {
    batch.push(task);
    bytes += size;
    // Keep every worker fed: a short batch to an idle worker, full ones otherwise.
    const someIdle = pool.some((p) => p.busy === 0);
    if (batch.length >= TASK_FILES || bytes >= TASK_BYTES || someIdle) send();
  };
  for (const p of pool) listen(p, "message", () => send());
  const fetches = new Set<Promise<void>>();
  const fetch = (file: InputFile, seq: number) => {
    const f: Promise<void> = bytesOf(file)
      .then(
        (b) => {
          const own = new Uint8Array(b.byteLength);
          own.set(b);
          add({ seq, name: file.name, bytes: own }, own.byteLength);
        },
        (e) => {
          // Read here and failed: reported like any unreadable file.
          slots.get(seq)!.result = {
            seq,
            events: [],
            problems: [{ file: file.name, error: (e as Error).message ?? String(e) }],
            skipped: 0,
            bytes: 0,
            ok: false,
          };
        },
      )
      .finally(() => {
        fetches.delete(f);
        notify();
      });
    fetches.add(f);
  };
  const feed = async () => {
    try {
      for await (const file of files) {
        while (!failure && (nextSeq - emitSeq >= window || fetches.size >= FETCHES)) {
          send();
          await waitFor();
        }
        if (failure) return;
        const seq = nextSeq++;
        slots.set(seq, { file });
        if (file.path) add({ seq, name: file.name, path: file.path }, file.size ?? 0);
        else fetch(file, seq);
      }
      while (fetches.size && !failure) await waitFor();
      send();
    } catch (e) {
      opts.onProblem({ file: "(inputs)", error: (e as Error).message ?? String(e) });
      while (fetches.size && !failure) await waitFor();
      send();
    } finally {
      fed = true;
      notify();
    }
  };

  const feeding = feed();
  let out: IamEvent[] = [];
  try {
    for (;;) {
      if (failure) throw failure;
      const slot = slots.get(emitSeq);
      if (slot?.result) {
        slots.delete(emitSeq);
        emitSeq++;
        notify();
        const r = slot.result;
        if (r.tooLarge) {
          large.push(slot.file);
          continue;
        }
        if (r.bytes) opts.onBytes?.(r.bytes);
        for (const p of r.problems) opts.onProblem(p);
        if (r.skipped) opts.onSkipped?.(r.skipped);
        opts.onFileDone?.(slot.file, r.events.length, r.ok);
        for (const e of r.events) out.push(e);
        if (out.length >= BATCH) {
          yield out;
          out = [];
        }
        continue;
      }
      if (fed && emitSeq >= nextSeq) break;
      await waitFor();
    }
    if (out.length) yield out;
    out = [];
  } finally {
    failure ??= new Error("stopped");
    notify();
    await feeding;
    // A worker with nothing in hand is kept for the next replay; others are stopped.
    for (const p of pool) for (const off of p.detach) off();
    const keep = (p: (typeof pool)[number]) => opts.keepWorkers && !p.busy && !p.broken;
    for (const p of pool) if (keep(p)) keepWorker(url, p.w);
    await Promise.all(pool.filter((p) => !keep(p)).map((p) => p.w.terminate()));
  }
  // Too large to read whole in a worker: streamed here, after the rest.
  if (large.length) {
    const select = opts.select ?? (await buildFilter(opts.filter));
    yield* readEventBatches(
      (async function* () {
        yield* large;
      })(),
      { ...opts, select, concurrency: 1 },
    );
  }
}
