import { createReadStream } from "node:fs";
import { opendir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import type { InputProblem } from "../../model/event.js";
import { DAY_MS } from "../../util/time.js";

/** One input to read: a local file, an S3 object or stdin. Opened only when a reader gets to it. */
export interface InputFile {
  /** Shown in progress and problems: a path, `s3://bucket/key` or `-`. */
  name: string;
  /** Stored bytes (compressed when gzipped), when known up front. */
  size?: number | undefined;
  /** A local file's path: worker threads read it themselves, with one open and one read. */
  path?: string | undefined;
  /** An S3 object: what incremental replays remember of it (its bucket as source, key and ETag). */
  object?: ArchiveObject | undefined;
  open(): Promise<Readable>;
}

export interface ArchiveObject {
  /** `s3://bucket`. */
  source: string;
  key: string;
  etag: string;
}

export interface DiscoverOptions {
  since?: Date | undefined;
  until?: Date | undefined;
  /** Built on first use: only S3 inputs need AWS credentials (and the SDK). */
  s3?: (() => S3Client | Promise<S3Client>) | undefined;
  onProblem: (p: InputProblem) => void;
  stdin?: Readable | undefined;
  /**
   * Stat every file of a walked folder for its size (a progress bar's total). Off by default:
   * readers learn the size when they read, so a file is not stat-ed twice.
   */
  measure?: boolean | undefined;
  /** Of one listing page's objects, the keys already read as they are (incremental replays). */
  alreadyRead?:
    | ((source: string, objects: { key: string; etag: string }[]) => Promise<Set<string>>)
    | undefined;
  /** Objects left out because they were read before. */
  onAlreadyRead?: ((n: number) => void) | undefined;
}

const EVENT_FILE = /\.(json|jsonl|ndjson)(\.gz)?$/i;

/** Event files worth reading in a walked folder or prefix; CloudTrail digest files are not events. */
export function isEventFile(path: string): boolean {
  return EVENT_FILE.test(path) && !path.includes("CloudTrail-Digest");
}

/**
 * Whether a CloudTrail file can hold events in [since, until], from the delivery date in its path
 * (…/CloudTrail/<region>/YYYY/MM/DD/…). Events are delivered after they happen, usually within
 * minutes; a day's margin on the late side keeps slow deliveries.
 */
export function mayHoldEventsIn(path: string, since?: Date, until?: Date): boolean {
  if (!since && !until) return true;
  const m = /(?:^|\/)(\d{4})\/(\d{2})\/(\d{2})\//.exec(path);
  if (!m) return true;
  const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(day)) return true;
  if (since && day + DAY_MS <= since.getTime()) return false;
  if (until && day - DAY_MS > until.getTime()) return false;
  return true;
}

/** `s3://bucket/some/prefix` → bucket and prefix. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const rest = url.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  return { bucket, prefix: slash < 0 ? "" : rest.slice(slash + 1) };
}

async function* walk(dir: string): AsyncGenerator<string> {
  // Sorted per folder so that replays read files in the same (chronological) order every time.
  const entries: { name: string; dir: boolean; file: boolean }[] = [];
  for await (const e of await opendir(dir)) {
    if (e.name.startsWith(".")) continue;
    entries.push({ name: e.name, dir: e.isDirectory(), file: e.isFile() });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.dir) yield* walk(p);
    else if (e.file) yield p;
  }
}

function localFile(path: string, size: number | undefined): InputFile {
  return {
    name: path,
    size,
    path,
    open: async () => createReadStream(path, { highWaterMark: 1024 * 1024 }),
  };
}

async function* fromPath(path: string, opts: DiscoverOptions): AsyncGenerator<InputFile> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (e) {
    opts.onProblem({ file: path, error: `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
    return;
  }
  if (st.isFile()) {
    yield localFile(path, st.size);
    return;
  }
  try {
    for await (const p of walk(path)) {
      if (!isEventFile(p) || !mayHoldEventsIn(p, opts.since, opts.until)) continue;
      try {
        yield localFile(p, opts.measure ? (await stat(p)).size : undefined);
      } catch (e) {
        opts.onProblem({ file: p, error: `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
      }
    }
  } catch (e) {
    opts.onProblem({ file: path, error: `cannot list (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
  }
}

async function* fromS3(url: string, opts: DiscoverOptions): AsyncGenerator<InputFile> {
  const { bucket, prefix } = parseS3Url(url);
  if (!bucket) {
    opts.onProblem({ file: url, error: "an S3 input is s3://bucket/prefix" });
    return;
  }
  if (!opts.s3) {
    opts.onProblem({ file: url, error: "S3 inputs need AWS access" });
    return;
  }
  const s3 = await opts.s3();
  // Loaded only for S3 inputs: local replays do without the SDK's weight.
  const { GetObjectCommand, paginateListObjectsV2 } = await import("@aws-sdk/client-s3");
  try {
    // The paginator follows NextContinuationToken until IsTruncated is false.
    for await (const page of paginateListObjectsV2(
      { client: s3, pageSize: 1000 },
      { Bucket: bucket, Prefix: prefix },
    )) {
      const source = `s3://${bucket}`;
      const wanted = (page.Contents ?? []).filter(
        (o): o is typeof o & { Key: string } =>
          Boolean(o.Key) && isEventFile(o.Key!) && mayHoldEventsIn(o.Key!, opts.since, opts.until),
      );
      const objects = wanted.map((o) => ({ key: o.Key, etag: o.ETag ?? "", size: o.Size }));
      const known = opts.alreadyRead
        ? await opts.alreadyRead(
            source,
            objects.filter((o) => o.etag),
          )
        : undefined;
      if (known?.size) opts.onAlreadyRead?.(known.size);
      for (const o of objects) {
        if (known?.has(o.key)) continue;
        const key = o.key;
        yield {
          name: `s3://${bucket}/${key}`,
          size: o.size,
          object: o.etag ? { source, key, etag: o.etag } : undefined,
          open: async () => {
            const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
            if (!res.Body) throw new Error("empty response body");
            return res.Body as Readable;
          },
        };
      }
    }
  } catch (e) {
    const err = e as { name?: string; message?: string };
    opts.onProblem({ file: url, error: `cannot list: ${err.name ?? "Error"}: ${err.message ?? String(e)}` });
  }
}

/** Every input file named by the arguments: files, folders (walked), `s3://` prefixes and `-` (stdin). */
export async function* discoverInputs(args: string[], opts: DiscoverOptions): AsyncGenerator<InputFile> {
  for (const arg of args) {
    if (arg === "-") {
      const stdin = opts.stdin ?? process.stdin;
      yield { name: "-", open: async () => stdin };
    } else if (arg.startsWith("s3://")) yield* fromS3(arg, opts);
    else yield* fromPath(arg, opts);
  }
}
