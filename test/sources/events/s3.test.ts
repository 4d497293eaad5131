import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IamEvent, InputProblem } from "../../../src/model/event.js";
import { discoverInputs, parseS3Url } from "../../../src/sources/cloudtrail/input-files.js";
import { readEvents } from "../../../src/sources/cloudtrail/read-events.js";

// A local stand-in for S3 (path-style, as the SDK sends it with a custom endpoint), checked
// against the REST API: ListObjectsV2 is GET /bucket?list-type=2 with prefix, max-keys and
// continuation-token; it may return fewer keys than max-keys and pages with IsTruncated and
// NextContinuationToken. GetObject is GET /bucket/key. Every request is SigV4-signed for s3.

const FIX = join(import.meta.dirname, "../../fixtures/cloudtrail");
const DAY = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/03";
const gz = readFileSync(
  join(FIX, `${DAY}/15/123456789012_CloudTrail_us-east-1_20240315T0915Z_Yh3kq2VbS0t8aP1c.json.gz`),
);
const json = readFileSync(
  join(FIX, `${DAY}/16/123456789012_CloudTrail_us-east-1_20240316T1005Z_Q8bLm3ZxT5e2cR7d.json`),
);
const OBJECTS: Record<string, Buffer> = {
  [`${DAY}/15/123456789012_CloudTrail_us-east-1_20240315T0915Z_Yh3kq2VbS0t8aP1c.json.gz`]: gz,
  [`${DAY}/16/123456789012_CloudTrail_us-east-1_20240316T1005Z_Q8bLm3ZxT5e2cR7d.json`]: json,
  [`${DAY}/16/123456789012_CloudTrail_us-east-1_20240316T1010Z_broken.json.gz`]: gz.subarray(0, 200),
  "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2024/03/16/digest.json.gz": gz,
  "AWSLogs/README.txt": Buffer.from("not events"),
  "other/123456789012_CloudTrail_x.json.gz": gz,
};
const KEYS = Object.keys(OBJECTS).sort();
const PAGE_CAP = 2;

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
}
const seen: Seen[] = [];
const rejected: string[] = [];
let server: Server;
let endpoint: string;

const SIGV4 =
  /^AWS4-HMAC-SHA256 Credential=AKIDS3TEST\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/;

function authError(req: IncomingMessage): string | undefined {
  if (!SIGV4.test(req.headers.authorization ?? "")) return `bad Authorization: ${req.headers.authorization}`;
  if (!req.headers["x-amz-date"]) return "no x-amz-date";
  if (!req.headers["x-amz-content-sha256"]) return "no x-amz-content-sha256";
  return undefined;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const [, bucket, ...rest] = url.pathname.split("/");
    const key = rest.map(decodeURIComponent).join("/");
    seen.push({ method: req.method ?? "", path: url.pathname, query: url.searchParams });
    const bad = authError(req) ?? (req.method !== "GET" ? `unexpected ${req.method}` : undefined);
    if (bad) {
      rejected.push(bad);
      res.writeHead(403, { "content-type": "application/xml" });
      res.end(`<Error><Code>AccessDenied</Code><Message>${esc(bad)}</Message></Error>`);
      return;
    }
    if (bucket !== "trail-bucket") {
      res.writeHead(404, { "content-type": "application/xml" });
      res.end(
        "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
      );
      return;
    }
    if (!key) {
      if (url.searchParams.get("list-type") !== "2") {
        rejected.push("ListObjects v1 used");
        res.writeHead(400).end();
        return;
      }
      const prefix = url.searchParams.get("prefix") ?? "";
      const max = Number(url.searchParams.get("max-keys") ?? 1000);
      const token = url.searchParams.get("continuation-token");
      const matching = KEYS.filter((k) => k.startsWith(prefix));
      const start = token ? Number(Buffer.from(token, "base64").toString()) : 0;
      // S3 may return fewer keys than asked for; clients must follow the token.
      const page = matching.slice(start, start + Math.min(max, PAGE_CAP));
      const next = start + page.length;
      const truncated = next < matching.length;
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
          `<Name>trail-bucket</Name><Prefix>${esc(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys>` +
          `<IsTruncated>${truncated}</IsTruncated>` +
          (token ? `<ContinuationToken>${token}</ContinuationToken>` : "") +
          (truncated
            ? `<NextContinuationToken>${Buffer.from(String(next)).toString("base64")}</NextContinuationToken>`
            : "") +
          page
            .map(
              (k) =>
                `<Contents><Key>${esc(k)}</Key><LastModified>2024-03-16T11:00:00.000Z</LastModified><ETag>"e"</ETag><Size>${OBJECTS[k]!.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
            )
            .join("") +
          "</ListBucketResult>",
      );
      return;
    }
    const body = OBJECTS[key];
    if (!body) {
      res.writeHead(404, { "content-type": "application/xml" });
      res.end("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>");
      return;
    }
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": body.length,
      etag: '"e"',
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const s3 = () =>
  new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIDS3TEST", secretAccessKey: "test-secret" },
  });

async function read(url: string, opts: { since?: Date } = {}) {
  const problems: InputProblem[] = [];
  const onProblem = (p: InputProblem) => problems.push(p);
  const events: IamEvent[] = [];
  const files = discoverInputs([url], { s3, onProblem, since: opts.since });
  for await (const e of readEvents(files, { onProblem, since: opts.since, concurrency: 3 })) events.push(e);
  return { events, problems };
}

describe("CloudTrail archive in S3", () => {
  it("parses s3:// URLs", () => {
    expect(parseS3Url("s3://b/AWSLogs/1/")).toEqual({ bucket: "b", prefix: "AWSLogs/1/" });
    expect(parseS3Url("s3://b")).toEqual({ bucket: "b", prefix: "" });
  });

  it("lists the prefix page by page, reads every log file, skips digests, reports the damaged one", async () => {
    seen.length = 0;
    const { events, problems } = await read("s3://trail-bucket/AWSLogs/");
    expect(rejected).toEqual([]);
    expect(events).toHaveLength(17);
    expect(new Set(events.map((e) => e.account))).toEqual(new Set(["123456789012"]));
    expect(problems).toEqual([
      {
        file: `s3://trail-bucket/${DAY}/16/123456789012_CloudTrail_us-east-1_20240316T1010Z_broken.json.gz`,
        error: "truncated gzip archive (unexpected end of file)",
      },
    ]);
    const lists = seen.filter((s) => s.query.get("list-type") === "2");
    // 5 keys under AWSLogs/ at 2 per page.
    expect(lists).toHaveLength(3);
    expect(lists.every((l) => l.query.get("prefix") === "AWSLogs/")).toBe(true);
    expect(lists[0]!.query.get("continuation-token")).toBeNull();
    expect(lists[1]!.query.get("continuation-token")).toBeTruthy();
    const gets = seen.filter((s) => !s.query.has("list-type")).map((s) => decodeURIComponent(s.path));
    expect(gets.some((p) => p.includes("Digest"))).toBe(false);
    expect(gets.some((p) => p.endsWith("README.txt"))).toBe(false);
    expect(gets).toHaveLength(3);
  });

  it("does not fetch objects whose delivery day cannot hold events in --since", async () => {
    seen.length = 0;
    const { events } = await read("s3://trail-bucket/AWSLogs/", { since: new Date("2024-03-16T05:00:00Z") });
    expect(events.map((e) => e.action)).toEqual(["sts:GetCallerIdentity", "iam:PutUserPolicy"]);
    const gets = seen.filter((s) => !s.query.has("list-type"));
    expect(gets.some((g) => g.path.includes("/2024/03/15/"))).toBe(false);
  });

  it("reports a bucket that cannot be listed and goes on", async () => {
    const { events, problems } = await read("s3://no-such-bucket/x/");
    expect(events).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.file).toBe("s3://no-such-bucket/x/");
    expect(problems[0]!.error).toMatch(/^cannot list: NoSuchBucket/);
  });
});
