import type { Readable } from "node:stream";
import { UserError } from "../errors.js";
import type { InputFile } from "../sources/cloudtrail/input-files.js";
import { discoverInputs } from "../sources/cloudtrail/input-files.js";
import { readEventBatchesPooled } from "../sources/events/pool.js";
import type { ProcessedObject, Store } from "../store/store.js";
import type { RunContext } from "./context.js";
import type { EventSource } from "./events.js";

export interface TimeWindow {
  since?: Date | undefined;
  until?: Date | undefined;
}

export interface ReplayOptions extends TimeWindow {
  /** Files read at once in the main thread (small inputs, stdin). */
  concurrency: number;
  /** Worker threads that read, inflate, parse and pre-filter files; 0: none. Default: the cores. */
  workers?: number | undefined;
  /** Read S3 objects an earlier replay read, too (incremental replays leave them out). */
  full?: boolean | undefined;
  /** Keep idle worker threads for the next replay in this process (a `worker` taking job after job). */
  keepWorkers?: boolean | undefined;
  /** What `-` reads. */
  stdin?: Readable | undefined;
  /** Stored bytes read, as they arrive (progress). */
  onBytes?: ((n: number) => void) | undefined;
  onFileDone?: ((ok: boolean) => void) | undefined;
}

/** Counts a replay keeps while it reads, for its report. */
export interface ReplayStats {
  /** Files read to their end or given up on. */
  files: number;
  /** Records read but not judged: no enabled check could flag them. */
  skipped: number;
  /** S3 objects left out because an earlier replay read them as they are. */
  alreadyRead: number;
}

/** Parses --since/--until style values; a bad one names its flag. */
export function parseTime(flag: string, v: string | undefined): Date | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UserError(`${flag}: not an ISO date-time: ${v}`);
  return d;
}

/** Local input sizes in bytes (for a progress bar's total); S3 and stdin are not measured. */
export async function localInputBytes(inputs: string[], window: TimeWindow): Promise<number | undefined> {
  if (inputs.some((a) => a === "-" || a.startsWith("s3://"))) return undefined;
  let total = 0;
  for await (const f of discoverInputs(inputs, { ...window, measure: true, onProblem: () => {} }))
    total += f.size ?? 0;
  return total;
}

/** Of one listing page's objects, those the store says were read before with the same ETag. */
async function readBefore(store: Store, source: string, objects: ProcessedObject[]): Promise<Set<string>> {
  const seen = await store.processedObjects(
    source,
    objects.map((o) => o.key),
  );
  return new Set(objects.filter((o) => seen.get(o.key) === o.etag).map((o) => o.key));
}

/**
 * Files, folders, `s3://` prefixes and stdin as a source of event batches. S3 objects read to
 * the end are remembered (bucket, key, ETag) by `remember`, which runEvents calls once their
 * events are reconciled (onReconciled), so the next replay reads only new objects.
 */
export function replaySource(
  inputs: string[],
  opts: ReplayOptions,
): { source: EventSource; stats: ReplayStats; remember: (store: Store) => Promise<void> } {
  if (opts.since && opts.until && opts.since > opts.until) throw new UserError("--since is after --until");
  if (!(opts.concurrency >= 1 && opts.concurrency <= 64)) throw new UserError("--concurrency: 1 to 64");
  if (
    opts.workers !== undefined &&
    !(Number.isInteger(opts.workers) && opts.workers >= 0 && opts.workers <= 256)
  )
    throw new UserError("--workers: 0 to 256");
  const stats: ReplayStats = { files: 0, skipped: 0, alreadyRead: 0 };
  const read = new Map<string, ProcessedObject[]>();
  const source: EventSource = ({ select, filter, onProblem, aws, store }) => {
    const discovered: AsyncIterable<InputFile> = discoverInputs(inputs, {
      since: opts.since,
      until: opts.until,
      s3: async () => (await aws()).home.s3,
      onProblem,
      stdin: opts.stdin,
      alreadyRead: opts.full ? undefined : (src, objects) => readBefore(store, src, objects),
      onAlreadyRead: (n) => {
        stats.alreadyRead += n;
      },
    });
    return readEventBatchesPooled(discovered, {
      workers: opts.workers,
      keepWorkers: opts.keepWorkers,
      filter,
      concurrency: opts.concurrency,
      since: opts.since,
      until: opts.until,
      onProblem,
      select,
      onSkipped: (n) => {
        stats.skipped += n;
      },
      onBytes: opts.onBytes,
      onFileDone: (f, _n, ok) => {
        stats.files++;
        opts.onFileDone?.(ok);
        if (ok && f.object) {
          const list = read.get(f.object.source) ?? [];
          list.push({ key: f.object.key, etag: f.object.etag });
          read.set(f.object.source, list);
        }
      },
    });
  };
  const remember = async (store: Store) => {
    const at = new Date().toISOString();
    for (const [src, objects] of read) await store.markProcessed(src, objects, at);
    read.clear();
  };
  return { source, stats, remember };
}

/** CloudTrail event history (LookupEvents, us-east-1) of configured accounts as a source. */
export async function lookupSource(
  ctx: RunContext,
  accounts: string[],
  opts: TimeWindow & { all: boolean },
): Promise<EventSource> {
  // IAM and sign-in are global services: their events are recorded in us-east-1.
  const factory = await ctx.aws("us-east-1");
  const { resolveTargets } = await import("../cloud/aws/targets.js");
  const { DEFAULT_LOOKUP_SOURCES, lookupEvents } = await import("../sources/cloudtrail/lookup.js");
  const targets = await resolveTargets(ctx.config, factory, { only: accounts.length ? accounts : undefined });
  return ({ onProblem }) =>
    (async function* () {
      for (const t of targets) {
        const client = factory.forAccount({ ...t, region: "us-east-1" }).cloudtrail;
        try {
          yield* lookupEvents(client, t.id, {
            since: opts.since,
            until: opts.until,
            eventSources: opts.all ? [] : DEFAULT_LOOKUP_SOURCES,
            onProblem,
          });
        } catch (e) {
          const err = e as { name?: string; message?: string };
          onProblem({
            file: `lookup-events:${t.id}`,
            error: `${err.name ?? "Error"}: ${err.message ?? String(e)}`,
          });
        }
      }
    })();
}
