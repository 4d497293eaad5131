import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Finding } from "../../../src/model/finding.js";
import { jobPrefix } from "../../../src/run/replay-distributed.js";
import { openPostgresStore } from "../../../src/store/postgres.js";
import { runCli } from "../../support/cli.js";
import { type TestDatabase, testDatabase } from "../../support/postgres.js";

// An organisation trail's archive in a local S3 stand-in (ListObjectsV2 pages, GetObject with
// ETags), replayed once by one process and once by two `worker` processes through the queue:
// the findings are the same, and a second replay reads nothing it has read before.

const ORG = "AWSLogs/o-a1b2c3d4e5";
const ACCOUNTS = ["111111111111", "222222222222"];
const OBJECTS = new Map<string, Buffer>();

function record(account: string, i: number, day: number) {
  const kind = i % 4;
  const user = `user-${i % 5}`;
  return {
    eventVersion: "1.09",
    eventTime: new Date(Date.UTC(2024, 2, day, 9, 0, i)).toISOString().replace(/\.\d{3}Z$/, "Z"),
    eventSource: kind === 0 ? "signin.amazonaws.com" : kind === 1 ? "iam.amazonaws.com" : "s3.amazonaws.com",
    eventName: kind === 0 ? "ConsoleLogin" : kind === 1 ? "CreateUser" : "ListBuckets",
    userIdentity: {
      type: kind === 3 ? "AssumedRole" : "IAMUser",
      arn: `arn:aws:iam::${account}:user/${user}`,
      accountId: account,
      userName: user,
      accessKeyId: kind === 2 ? "AKIAEXAMPLE000000001" : "ASIAEXAMPLE000000001",
    },
    sourceIPAddress: i % 3 === 0 ? "203.0.113.9" : "198.51.100.4",
    responseElements: kind === 0 ? { ConsoleLogin: "Success" } : null,
    requestParameters: kind === 1 ? { userName: `new-${i}` } : null,
    eventID: `${account}-${day}-${i}`,
    recipientAccountId: account,
  };
}

for (const account of ACCOUNTS)
  for (const day of [14, 15])
    for (const region of ["us-east-1", "eu-west-1"])
      for (let f = 0; f < 3; f++) {
        const key = `${ORG}/${account}/CloudTrail/${region}/2024/03/${day}/${account}_CloudTrail_${region}_202403${day}T09${f}0Z_f${f}.json.gz`;
        const records = Array.from({ length: 12 }, (_, i) => record(account, f * 12 + i, day));
        OBJECTS.set(key, gzipSync(JSON.stringify({ Records: records })));
      }
const KEYS = [...OBJECTS.keys()].sort();

let server: Server;
let endpoint: string;
const gets: string[] = [];
let single: TestDatabase | undefined;
let shared: TestDatabase | undefined;
let retried: TestDatabase | undefined;
/** A key whose first GET never answers: its worker is killed while it waits. */
let hangOnce: string | undefined;
let hung = false;
let dir: string;
const env = {
  AWS_ACCESS_KEY_ID: "AKIDS3TEST",
  AWS_SECRET_ACCESS_KEY: "test-secret",
  AWS_REGION: "us-east-1",
};
const workers: ChildProcess[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const [, bucket, ...rest] = url.pathname.split("/");
    const key = rest.map(decodeURIComponent).join("/");
    if (bucket !== "trail" || !/^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? "")) {
      res.writeHead(403).end();
      return;
    }
    if (!key) {
      const prefix = url.searchParams.get("prefix") ?? "";
      const token = url.searchParams.get("continuation-token");
      const matching = KEYS.filter((k) => k.startsWith(prefix));
      const start = token ? Number(token) : 0;
      const page = matching.slice(start, start + 5);
      const truncated = start + page.length < matching.length;
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>trail</Name><KeyCount>${page.length}</KeyCount><IsTruncated>${truncated}</IsTruncated>` +
          (truncated ? `<NextContinuationToken>${start + page.length}</NextContinuationToken>` : "") +
          page
            .map(
              (k) =>
                `<Contents><Key>${k}</Key><ETag>"etag-${k.length}"</ETag><Size>${OBJECTS.get(k)!.length}</Size></Contents>`,
            )
            .join("") +
          "</ListBucketResult>",
      );
      return;
    }
    const body = OBJECTS.get(key);
    if (!body) {
      res.writeHead(404, { "content-type": "application/xml" }).end("<Error><Code>NoSuchKey</Code></Error>");
      return;
    }
    gets.push(key);
    if (key === hangOnce && !hung) {
      hung = true;
      return;
    }
    res.writeHead(200, { "content-length": body.length, etag: `"etag-${key.length}"` }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  single = await testDatabase("replay_single");
  shared = await testDatabase("replay_shared");
  retried = await testDatabase("replay_retried");
  dir = mkdtempSync(join(tmpdir(), "iamwarden-distributed-"));
  writeFileSync(join(dir, "office.lst"), "198.51.100.0/24\n");
  for (const [name, db] of [
    ["single", single],
    ["shared", shared],
    ["retried", retried],
  ] as const)
    writeFileSync(
      join(dir, `${name}.yaml`),
      [
        `store: ${db!.url}`,
        `aws: { endpoint: "${endpoint}", region: us-east-1 }`,
        "checks:",
        "  iam-change: { adminUsers: [user-0] }",
        "  source-ip: { allowlists: { office: office.lst }, default: [office] }",
      ].join("\n"),
    );
});

afterAll(async () => {
  for (const w of workers) w.kill("SIGKILL");
  await new Promise((r) => server.close(r));
  await single?.drop();
  await shared?.drop();
  await retried?.drop();
});

function startWorker(config: string): ChildProcess & { log: () => string } {
  const main = resolve(import.meta.dirname, "../../../src/cli/main.ts");
  const w = spawn(process.execPath, ["--import", "tsx", main, "worker", "--config", config, "--no-notify"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  w.stderr?.on("data", (d) => {
    log += d;
  });
  workers.push(w);
  return Object.assign(w, { log: () => log });
}

// Everything a finding says but the run's own times: jobs reconcile in any order, and findings
// depend only on which events were seen.
const summary = (fs: Finding[]) =>
  fs
    .map((f) => ({
      id: f.id,
      check: f.check,
      severity: f.severity,
      status: f.status,
      title: f.title,
      owner: f.owner,
      details: f.details,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));

describe("distributed replay", () => {
  it("groups keys into account/region/day jobs", () => {
    expect(jobPrefix(`${ORG}/111111111111/CloudTrail/us-east-1/2024/03/14/x.json.gz`)).toBe(
      `${ORG}/111111111111/CloudTrail/us-east-1/2024/03/14/`,
    );
    expect(jobPrefix("AWSLogs/111111111111/CloudTrail/eu-west-1/2024/03/15/y.json.gz")).toBe(
      "AWSLogs/111111111111/CloudTrail/eu-west-1/2024/03/15/",
    );
    expect(jobPrefix("exports/2024/events.jsonl")).toBe("exports/2024/");
  });

  it("two workers find what one machine finds; a second replay reads only new objects", async () => {
    // One machine.
    const one = await runCli(
      [
        "events",
        "replay",
        "s3://trail/AWSLogs/",
        "--config",
        join(dir, "single.yaml"),
        "--no-notify",
        "--format",
        "json",
        "--workers",
        "0",
      ],
      { env },
    );
    expect(one.stderr).toBe("");
    const oneOut = JSON.parse(one.stdout) as { files: number; events: number };
    expect(oneOut.files).toBe(KEYS.length);
    expect(oneOut.events).toBe(KEYS.length * 12);

    // Two workers through the queue.
    const a = startWorker(join(dir, "shared.yaml"));
    const b = startWorker(join(dir, "shared.yaml"));
    const many = await runCli(
      [
        "events",
        "replay",
        "s3://trail/AWSLogs/",
        "--distributed",
        "--config",
        join(dir, "shared.yaml"),
        "--format",
        "json",
      ],
      { env },
    );
    expect(many.code).toBe(0);
    const manyOut = JSON.parse(many.stdout) as {
      jobs: number;
      completed: number;
      files: number;
      events: number;
    };
    expect(manyOut).toMatchObject({ jobs: 8, completed: 8, files: KEYS.length, events: KEYS.length * 12 });
    expect(many.stderr).toMatch(/8 replay jobs queued/);
    expect(many.stderr).toMatch(/8\/8 jobs done/);
    // The two workers replayed the eight jobs between them (on a busy machine one may take most).
    expect((a.log() + b.log()).match(/replayed s3:\/\/trail\//g)).toHaveLength(8);

    const s1 = await openPostgresStore(single!.url);
    const s2 = await openPostgresStore(shared!.url);
    try {
      const f1 = await s1.listFindings();
      expect(f1.length).toBeGreaterThan(4);
      expect(summary(await s2.listFindings())).toEqual(summary(f1));
    } finally {
      await s1.close();
      await s2.close();
    }

    // Incremental: nothing new, nothing read; --full reads everything again (and changes nothing).
    gets.length = 0;
    const again = await runCli(
      [
        "events",
        "replay",
        "s3://trail/AWSLogs/",
        "--config",
        join(dir, "single.yaml"),
        "--no-notify",
        "--format",
        "json",
      ],
      { env },
    );
    expect(JSON.parse(again.stdout)).toMatchObject({ files: 0, events: 0 });
    expect(gets).toEqual([]);
    const full = await runCli(
      [
        "events",
        "replay",
        "s3://trail/AWSLogs/",
        "--full",
        "--config",
        join(dir, "single.yaml"),
        "--no-notify",
        "--format",
        "json",
      ],
      { env },
    );
    expect(JSON.parse(full.stdout)).toMatchObject({ files: KEYS.length, summary: { opened: 0 } });
    expect(gets).toHaveLength(KEYS.length);
  }, 400_000);

  it("a job whose worker died is taken by another worker after --job-timeout", async () => {
    hangOnce = KEYS[0];
    const a = startWorker(join(dir, "retried.yaml"));
    const replay = runCli(
      [
        "events",
        "replay",
        "s3://trail/AWSLogs/",
        "--distributed",
        "--job-timeout",
        "3",
        "--config",
        join(dir, "retried.yaml"),
        "--format",
        "json",
      ],
      { env },
    );
    const deadline = Date.now() + 90_000;
    while (!hung && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(hung).toBe(true);
    a.kill("SIGKILL");
    const b = startWorker(join(dir, "retried.yaml"));
    const out = await replay;
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as { files: number; alreadyRead: number };
    expect(report).toMatchObject({ jobs: 8, completed: 8, failed: [] });
    // A job that ran past the timeout on a slow machine is run again: it then finds its objects read.
    expect(report.files + report.alreadyRead).toBe(KEYS.length);
    expect(b.log()).toContain(`replayed s3://trail/${jobPrefix(KEYS[0]!)}`);
    const s1 = await openPostgresStore(single!.url);
    const s3 = await openPostgresStore(retried!.url);
    try {
      expect(summary(await s3.listFindings())).toEqual(summary(await s1.listFindings()));
    } finally {
      await s1.close();
      await s3.close();
    }
  }, 400_000);
});
