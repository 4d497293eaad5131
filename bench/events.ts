import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import Table from "cli-table3";
import pg from "pg";

// Event replay benchmark. Generates two CloudTrail archives (.json.gz, BENCH_EVENTS_MB uncompressed
// each, 1 GB by default): an organisation trail's many small deliveries (2–64 KB compressed, in
// AWSLogs/o-…/<account>/CloudTrail/<region>/YYYY/MM/DD/) and large deliveries of ~4 MB. Then
// measures, each in its own process so that peak RSS is its own:
//   floor   read, gunzip and JSON.parse every file in one thread, one after the other;
//   replay  `events replay`'s pipeline with 0 (this thread), 1, 2 and all-cores worker threads:
//           discovery, read, inflate, parse, header pre-filters, normalise what passes,
//           iam-change and source-ip checks, reconcile into a temp SQLite store.
// Prints seconds, CPU, events/s, MB/s, the ratio to the floor and peak RSS. Nothing is asserted.

const MB = 1024 * 1024;
const FILE_MB = 4;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const ACCOUNTS = ["111111111111", "222222222222", "333333333333", "444444444444", "555555555555"];
const REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"];

/** Small deterministic PRNG (mulberry32): the same archive for the same size. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const READS = [
  ["ec2.amazonaws.com", "DescribeInstances"],
  ["ec2.amazonaws.com", "DescribeSecurityGroups"],
  ["s3.amazonaws.com", "GetBucketAcl"],
  ["s3.amazonaws.com", "ListBuckets"],
  ["sts.amazonaws.com", "GetCallerIdentity"],
  ["kms.amazonaws.com", "Decrypt"],
  ["logs.amazonaws.com", "DescribeLogGroups"],
  ["lambda.amazonaws.com", "ListFunctions20150331"],
  ["iam.amazonaws.com", "ListRoles"],
  ["cloudwatch.amazonaws.com", "GetMetricData"],
] as const;
const IAM_WRITES = [
  "CreateUser",
  "CreateAccessKey",
  "AttachUserPolicy",
  "PutRolePolicy",
  "AddUserToGroup",
  "CreateRole",
];
const OFFICE = ["198.51.100.", "10.1.4."];
const OUTSIDE = ["203.0.113.", "192.0.2."];

function makeRecord(r: () => number, account: string, region: string, t: number, n: number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const kind = r();
  const user = `svc-${Math.floor(r() * 40)}`;
  const human = `user-${Math.floor(r() * 60)}`;
  const ip = (r() < 0.97 ? pick(OFFICE) : pick(OUTSIDE)) + Math.floor(r() * 250 + 1);
  const base = {
    eventVersion: "1.09",
    eventTime: new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z"),
    awsRegion: region,
    requestID: `${n.toString(16).padStart(8, "0")}-5f1a-4c2b-9d3e-${Math.floor(r() * 1e12)
      .toString(16)
      .padStart(12, "0")}`,
    eventID: `${Math.floor(r() * 1e12)
      .toString(16)
      .padStart(12, "0")}-${n.toString(16).padStart(8, "0")}-0000-4000-8000`,
    readOnly: true,
    eventType: "AwsApiCall",
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: "Management",
    tlsDetails: {
      tlsVersion: "TLSv1.3",
      cipherSuite: "TLS_AES_128_GCM_SHA256",
      clientProvidedHostHeader: `${region}.amazonaws.com`,
    },
  };
  if (kind < 0.62) {
    // A role session (ASIA key): most of any trail.
    const [source, name] = pick(READS);
    return {
      ...base,
      userIdentity: {
        type: "AssumedRole",
        principalId: `AROA${account.slice(0, 8)}EXAMPLE:session-${Math.floor(r() * 500)}`,
        arn: `arn:aws:sts::${account}:assumed-role/app-role-${Math.floor(r() * 20)}/session-${Math.floor(r() * 500)}`,
        accountId: account,
        accessKeyId: `ASIA${Math.floor(r() * 1e15)
          .toString(36)
          .toUpperCase()
          .padEnd(16, "X")
          .slice(0, 16)}`,
        sessionContext: {
          sessionIssuer: {
            type: "Role",
            principalId: `AROA${account.slice(0, 8)}EXAMPLE`,
            arn: `arn:aws:iam::${account}:role/app-role-${Math.floor(r() * 20)}`,
            accountId: account,
            userName: `app-role-${Math.floor(r() * 20)}`,
          },
          attributes: { creationDate: base.eventTime, mfaAuthenticated: "false" },
        },
      },
      eventSource: source,
      eventName: name,
      sourceIPAddress: ip,
      userAgent:
        "aws-sdk-java/2.25.10 Linux/5.10.210 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc.",
      requestParameters: {
        maxResults: 100,
        filterSet: { items: [{ name: "tag:team", valueSet: { items: [{ value: "payments" }] } }] },
      },
      responseElements: null,
    };
  }
  if (kind < 0.82) {
    // A long-term key (AKIA) of a service user.
    const [source, name] = pick(READS);
    return {
      ...base,
      userIdentity: {
        type: "IAMUser",
        principalId: `AIDA${user.toUpperCase().replace("-", "")}EXAMPLE`,
        arn: `arn:aws:iam::${account}:user/${user}`,
        accountId: account,
        accessKeyId: `AKIA${user.toUpperCase().replace("-", "").padEnd(16, "0")}`,
        userName: user,
      },
      eventSource: source,
      eventName: name,
      sourceIPAddress: ip,
      userAgent:
        "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.11.8 cfg/retry-mode#legacy Botocore/1.34.69",
      requestParameters: { bucketName: `data-${account}-${region}`, acl: "" },
      responseElements: null,
    };
  }
  if (kind < 0.95) {
    // AWS services calling on their own.
    return {
      ...base,
      userIdentity: { type: "AWSService", invokedBy: "cloudtrail.amazonaws.com" },
      eventSource: "s3.amazonaws.com",
      eventName: "GetBucketAcl",
      sourceIPAddress: "cloudtrail.amazonaws.com",
      userAgent: "cloudtrail.amazonaws.com",
      requestParameters: {
        bucketName: `trail-${account}`,
        Host: `trail-${account}.s3.amazonaws.com`,
        acl: "",
      },
      responseElements: null,
      resources: [{ accountId: account, type: "AWS::S3::Bucket", ARN: `arn:aws:s3:::trail-${account}` }],
    };
  }
  if (kind < 0.985) {
    // Console logins.
    return {
      ...base,
      eventType: "AwsConsoleSignIn",
      readOnly: false,
      userIdentity: {
        type: "IAMUser",
        principalId: `AIDA${human.toUpperCase().replace("-", "")}`,
        arn: `arn:aws:iam::${account}:user/${human}`,
        accountId: account,
        userName: human,
      },
      eventSource: "signin.amazonaws.com",
      eventName: "ConsoleLogin",
      sourceIPAddress: ip,
      userAgent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
      requestParameters: null,
      responseElements: { ConsoleLogin: r() < 0.95 ? "Success" : "Failure" },
      additionalEventData: {
        LoginTo: "https://console.aws.amazon.com/console/home",
        MobileVersion: "No",
        MFAUsed: r() < 0.8 ? "Yes" : "No",
      },
    };
  }
  // IAM writes, by admins mostly.
  const admin = r() < 0.7;
  const actor = admin ? `admin-${Math.floor(r() * 3)}` : human;
  return {
    ...base,
    readOnly: false,
    userIdentity: {
      type: "IAMUser",
      principalId: "AIDAEXAMPLE",
      arn: `arn:aws:iam::${account}:user/${actor}`,
      accountId: account,
      accessKeyId: `AKIA${actor.toUpperCase().replace("-", "").padEnd(16, "1")}`,
      userName: actor,
    },
    eventSource: "iam.amazonaws.com",
    eventName: pick(IAM_WRITES),
    sourceIPAddress: ip,
    userAgent: "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.ubuntu.22",
    requestParameters: {
      userName: `user-${Math.floor(r() * 60)}`,
      policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess",
    },
    responseElements: null,
  };
}

type Layout = "large" | "small";

/**
 * Writes an archive once per layout and size; later runs reuse it. Returns its folder.
 *  large: deliveries of ~4 MB uncompressed, AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/;
 *  small: an organisation trail's five-minute deliveries, 2–64 KB compressed (log-uniform),
 *         AWSLogs/o-<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/.
 */
async function generate(totalMb: number, layout: Layout): Promise<string> {
  const dir = join(tmpdir(), `iamwarden-bench-events-${layout === "large" ? "" : "small-"}${totalMb}mb`);
  const marker = join(dir, "COMPLETE");
  if (existsSync(marker)) return dir;
  rmSync(dir, { recursive: true, force: true });
  const r = prng(layout === "large" ? 42 : 7);
  const gz = promisify(gzip);
  const started = Date.now();
  let t = Date.UTC(2024, 2, 1);
  let n = 0;
  let f = 0;
  let written = 0;
  let pending: Promise<void>[] = [];
  // CloudTrail records compress about 12:1: the uncompressed size that gives the compressed one.
  const target = () => (layout === "large" ? FILE_MB * MB : Math.round(12 * 1024 * 2 * 32 ** r()));
  while (written < totalMb * MB) {
    const account = ACCOUNTS[f % ACCOUNTS.length]!;
    const region = REGIONS[Math.floor(f / ACCOUNTS.length) % REGIONS.length]!;
    const parts: string[] = [];
    let size = 0;
    const want = target();
    while (size < want) {
      t += Math.floor(r() * (layout === "large" ? 200 : 40));
      const s = JSON.stringify(makeRecord(r, account, region, t, n++));
      parts.push(s);
      size += s.length + 1;
    }
    written += size;
    const day = new Date(t);
    const ymd = [
      String(day.getUTCFullYear()),
      String(day.getUTCMonth() + 1).padStart(2, "0"),
      String(day.getUTCDate()).padStart(2, "0"),
    ];
    const root = layout === "large" ? join(dir, "AWSLogs") : join(dir, "AWSLogs", "o-a1b2c3d4e5");
    const folder = join(root, account, "CloudTrail", region, ...ymd);
    mkdirSync(folder, { recursive: true });
    const name = `${account}_CloudTrail_${region}_${ymd.join("")}T${String(day.getUTCHours()).padStart(2, "0")}${String(day.getUTCMinutes()).padStart(2, "0")}Z_${f.toString(36).padStart(6, "0")}.json.gz`;
    const text = `{"Records":[${parts.join(",")}]}`;
    pending.push(gz(text).then((b) => writeFileSync(join(folder, name), b)));
    f++;
    if (pending.length >= 8) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  const files = f;
  writeFileSync(marker, JSON.stringify({ files, events: n }));
  process.stdout.write(
    `generated ${files} files, ${n} events in ${((Date.now() - started) / 1000).toFixed(1)} s at ${dir}\n`,
  );
  return dir;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith(".json.gz")) out.push(join(e.parentPath, e.name));
  return out.sort();
}

/** The built CLI (`npm run build`), as users run it. */
const built = (path: string) => new URL(`../dist/${path}`, import.meta.url).href;

/** What bench/events-phase.mjs prints. */
interface PhaseResult {
  events: number;
  bytes: number;
  compressed: number;
  seconds: number;
  maxRssMb: number;
  cpuSeconds: number;
  findings?: number;
  digest?: string;
  /** Seconds until the first file was read (worker start-up). */
  firstFile?: number;
}

/** Runs one phase in a fresh process (bench/events-phase.mjs), so that its peak RSS is its own. */
function inChild(phase: string, dir: string, workers = 0): Promise<PhaseResult> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL("./events-phase.mjs", import.meta.url)),
        phase,
        dir,
        String(workers),
        String(CONCURRENCY),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("error", fail);
    child.on("close", (code) => {
      if (code !== 0) return fail(new Error(`${phase} exited ${code}`));
      done(JSON.parse(out.trim().split("\n").pop() ?? "{}") as PhaseResult);
    });
  });
}

/** Best time and worst peak RSS over rounds that alternate the phases (a shared machine is noisy). */
function combine(runs: PhaseResult[]): PhaseResult {
  const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return { ...best, maxRssMb: Math.max(...runs.map((r) => r.maxRssMb)) };
}

async function benchTree(layout: Layout, totalMb: number, rounds: number): Promise<void> {
  const dir = await generate(totalMb, layout);
  const meta = JSON.parse(readFileSync(join(dir, "COMPLETE"), "utf8")) as { files: number };
  const cores = availableParallelism();
  const counts = [...new Set([0, 1, 2, cores])];
  const floors: PhaseResult[] = [];
  const replays = new Map<number, PhaseResult[]>(counts.map((c) => [c, []]));
  for (let i = 0; i < rounds; i++) {
    floors.push(await inChild("floor", dir));
    for (const c of counts) replays.get(c)!.push(await inChild("replay", dir, c));
  }
  const f = combine(floors);
  const mb = f.bytes / MB;
  const table = new Table({
    head: [
      "",
      "best s",
      "CPU s",
      "events/s",
      "MB/s",
      "× floor",
      "first file s",
      "× floor after start",
      "peak RSS MB",
      "findings",
    ],
    style: { head: [], border: [] },
  });
  const row = (name: string, p: PhaseResult) => [
    name,
    p.seconds.toFixed(2),
    p.cpuSeconds.toFixed(1),
    Math.round(p.events / p.seconds).toLocaleString("en"),
    (mb / p.seconds).toFixed(1),
    (f.seconds / p.seconds).toFixed(2),
    p.firstFile === undefined ? "" : p.firstFile.toFixed(2),
    p.firstFile === undefined ? "" : (f.seconds / Math.max(0.001, p.seconds - p.firstFile)).toFixed(2),
    p.maxRssMb.toFixed(0),
    p.findings === undefined ? "" : `${p.findings} (${p.digest})`,
  ];
  table.push(row("floor: read + gunzip + JSON.parse, 1 thread", f));
  for (const c of counts) {
    const name =
      c === 0
        ? "replay, no worker threads"
        : `replay, ${c} worker${c === 1 ? "" : "s"}${c === cores ? " (all cores)" : ""}`;
    table.push(row(name, combine(replays.get(c)!)));
  }
  process.stdout.write(
    `${layout} files: ${meta.files} files, ${f.events.toLocaleString("en")} events, ${mb.toFixed(0)} MB uncompressed, ${(f.compressed / MB).toFixed(0)} MB stored (avg ${(f.compressed / meta.files / 1024).toFixed(0)} KB); ${cores} cores, load average ${loadavg()[0]!.toFixed(1)}; best of ${rounds} rounds, each phase in its own process\n${table.toString()}\n`,
  );
  process.stdout.write(
    `all rounds (s): floor ${floors.map((x) => x.seconds.toFixed(2)).join(" ")}${counts
      .map(
        (c) =>
          ` | ${c}w ${replays
            .get(c)!
            .map((x) => x.seconds.toFixed(2))
            .join(" ")}`,
      )
      .join("")}\n`,
  );
  const digests = new Set(counts.flatMap((c) => replays.get(c)!.map((x) => x.digest)));
  process.stdout.write(
    `targets: 2 workers ≥ 1.3× floor, peak RSS at 2 workers < 256 MB; findings ${digests.size === 1 ? "identical" : "DIFFER"} across worker counts\n`,
  );
  for (const c of counts)
    for (const x of replays.get(c)!)
      if (x.events !== f.events)
        process.stdout.write(`note: replay (${c}w) saw ${x.events} events, the floor ${f.events}\n`);
}

export async function main(): Promise<void> {
  const totalMb = Number(process.env.BENCH_EVENTS_MB ?? 1024);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  // BENCH_EVENTS_TREES=small (or large) measures one tree only.
  const trees = (process.env.BENCH_EVENTS_TREES ?? "small,large").split(",");
  for (const layout of ["small", "large"] as const)
    if (trees.includes(layout)) await benchTree(layout, totalMb, rounds);
  if (process.env.BENCH_DISTRIBUTED !== "0") await distributed(totalMb);
}

/** The PostgreSQL server of `.ci/postgres.sh` (or IAMWARDEN_TEST_PG), when one answers. */
async function benchPostgres(): Promise<string | undefined> {
  let url = process.env.IAMWARDEN_TEST_PG;
  try {
    url ??= readFileSync(join(tmpdir(), "iamwarden-test-pg.url"), "utf8").trim();
  } catch {
    url ??= "postgres://iamwarden:iamwarden@127.0.0.1:54329/iamwarden_test";
  }
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return url;
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}

/** A local S3 stand-in serving a folder (ListObjectsV2 pages of 1000, GetObject). */
async function serveFolder(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const keys = listFiles(dir).map((f) => f.slice(dir.length + 1));
  // Sizes and ETags as S3 lists them (replay hands objects of known size to its worker threads).
  const sizes = new Map(keys.map((k) => [k, statSync(join(dir, k)).size]));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const key = url.pathname.split("/").slice(2).map(decodeURIComponent).join("/");
    if (!key) {
      const prefix = url.searchParams.get("prefix") ?? "";
      const start = Number(url.searchParams.get("continuation-token") ?? 0);
      const matching = keys.filter((k) => k.startsWith(prefix));
      const page = matching.slice(start, start + 1000);
      const more = start + page.length < matching.length;
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bench</Name><KeyCount>${page.length}</KeyCount><IsTruncated>${more}</IsTruncated>${more ? `<NextContinuationToken>${start + page.length}</NextContinuationToken>` : ""}` +
          page
            .map(
              (k) =>
                `<Contents><Key>${k}</Key><ETag>"${k.length}"</ETag><Size>${sizes.get(k)}</Size></Contents>`,
            )
            .join("") +
          "</ListBucketResult>",
      );
      return;
    }
    readFile(join(dir, key)).then(
      (b) => res.writeHead(200, { "content-length": b.length, etag: `"${key.length}"` }).end(b),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * `events replay --distributed` over the small-file tree served by a local S3 stand-in, with 1
 * and 2 `worker` processes on this machine, each into a fresh PostgreSQL database.
 */
async function distributed(totalMb: number): Promise<void> {
  const base = await benchPostgres();
  if (!base) {
    process.stdout.write("distributed: skipped (no PostgreSQL; start one with .ci/postgres.sh)\n");
    return;
  }
  const dir = await generate(totalMb, "small");
  const s3 = await serveFolder(dir);
  const main = fileURLToPath(built("cli/main.js"));
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: "AKIDBENCH",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_REGION: "us-east-1",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const table = new Table({
    head: ["distributed replay", "wall s", "jobs", "files", "events", "findings opened"],
    style: { head: [], border: [] },
  });
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    // 0: one `events replay s3://…` process without the queue, for reference.
    for (const n of [0, 1, 2]) {
      const name = `iamwarden_bench_dist_${process.pid}_${n}`;
      await admin.query(`CREATE DATABASE ${name}`);
      const u = new URL(base);
      u.pathname = `/${name}`;
      const cfgDir = mkdtempSync(join(tmpdir(), "iamwarden-bench-dist-"));
      writeFileSync(join(cfgDir, "office.lst"), "198.51.100.0/24\n10.1.0.0/16\n");
      const config = join(cfgDir, "iamwarden.yaml");
      writeFileSync(
        config,
        [
          `store: ${u.href}`,
          `aws: { endpoint: "${s3.url}", region: us-east-1 }`,
          "checks:",
          "  iam-change: { adminUsers: [admin-0, admin-1, admin-2] }",
          "  source-ip: { allowlists: { office: office.lst }, default: [office] }",
        ].join("\n"),
      );
      const workers = Array.from({ length: n }, () =>
        spawn(process.execPath, [main, "worker", "--config", config, "--no-notify"], {
          env,
          stdio: ["ignore", "ignore", "pipe"],
        }),
      );
      try {
        // Timed from the command's start: listing, queueing, the workers' replays, the last job.
        await Promise.all(
          workers.map(
            (w) =>
              new Promise<void>((r) => {
                let log = "";
                w.stderr!.on("data", (d) => {
                  log += d;
                  if (log.includes("worker started")) r();
                });
              }),
          ),
        );
        const started = performance.now();
        const out = await new Promise<string>((done, fail) => {
          const c = spawn(
            process.execPath,
            [
              main,
              "events",
              "replay",
              "s3://bench/AWSLogs/",
              ...(n ? ["--distributed"] : ["--no-notify"]),
              "--config",
              config,
              "--format",
              "json",
            ],
            { env, stdio: ["ignore", "pipe", "ignore"] },
          );
          let o = "";
          c.stdout.on("data", (d) => {
            o += d;
          });
          c.on("error", fail);
          c.on("close", () => done(o));
        });
        const seconds = (performance.now() - started) / 1000;
        const r = JSON.parse(out) as {
          jobs?: number;
          files: number;
          events: number;
          opened?: number;
          summary?: { opened: number };
        };
        table.push([
          n ? `${n} worker process${n === 1 ? "" : "es"}` : "no queue: one replay process",
          seconds.toFixed(1),
          r.jobs ?? "",
          r.files,
          r.events.toLocaleString("en"),
          r.opened ?? r.summary?.opened ?? "",
        ]);
      } finally {
        for (const w of workers) w.kill("SIGTERM");
        await Promise.all(
          workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.on("close", r)))),
        );
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
    }
  } finally {
    await admin.end();
    await s3.close();
  }
  process.stdout.write(
    `small-file tree through a local S3 stand-in and PostgreSQL, workers on this machine (${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}; each worker process also uses its own thread pool)\n${table.toString()}\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
