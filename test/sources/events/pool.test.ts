import { createReadStream, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/allowlist/allowlist.js";
import type { AllowlistSet } from "../../../src/allowlist/set.js";
import { accountAllowlists } from "../../../src/allowlist/set.js";
import { judgeIamChange } from "../../../src/checks/iam-change.js";
import { judgeSourceIp } from "../../../src/checks/source-ip.js";
import { configSchema } from "../../../src/config/schema.js";
import { eventHeaderFilter, runEventChecks } from "../../../src/engine/events.js";
import { noRoutes } from "../../../src/engine/routing.js";
import type { IamEvent, InputProblem } from "../../../src/model/event.js";
import { discoverInputs, type InputFile } from "../../../src/sources/cloudtrail/input-files.js";
import { readEventBatches } from "../../../src/sources/cloudtrail/read-events.js";
import { cloudTrailHeader, fromCloudTrailRecord } from "../../../src/sources/cloudtrail/record.js";
import { readEventBatchesPooled } from "../../../src/sources/events/pool.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";

// The worker pool gives the findings of a single-thread replay, and the header pre-filters never
// turn down a record a check would flag.

const FIX = join(import.meta.dirname, "../../fixtures");
const INPUTS = [join(FIX, "cloudtrail"), join(FIX, "eventbridge"), join(FIX, "ibm")];
const NOW = new Date("2024-03-20T00:00:00Z");

const allowlists: AllowlistSet = {
  lists: new Map([
    ["office", parseAllowlist("198.51.100.0/24\n2001:db8:1234::/48\n", "office", "office.lst").list],
    ["ci", parseAllowlist("10.1.0.0 - 10.1.255.255\n192.0.2.50\n", "ci", "ci.lst").list],
  ]),
  defaultNames: ["office"],
  accounts: { "222222222222": ["office", "ci"], "333333333333": [] },
};
const config = configSchema.parse({
  checks: {
    "iam-change": {
      adminUsers: ["alice.admin"],
      actions: ["CreateUser", "AttachUserPolicy", "sts:AssumeRole"],
    },
    "source-ip": { allowlists: { office: "office.lst", ci: "ci.lst" }, default: ["office"] },
  },
});
const filterSpec = {
  module: new URL("../../../src/engine/events.ts", import.meta.url).href,
  name: "eventHeaderFilter",
  args: [config, allowlists],
};

/** The same files as S3 objects would come: no local path, read through open(); one unreadable. */
async function* remote(files: AsyncIterable<InputFile>): AsyncGenerator<InputFile> {
  let n = 0;
  for await (const f of files) {
    const path = f.path!;
    yield { name: f.name, size: statSync(path).size, open: async () => createReadStream(path) };
    if (++n === 2)
      yield {
        name: "s3://trail/broken.json.gz",
        size: 10,
        open: async () => {
          throw new Error("socket hang up");
        },
      };
  }
}

async function replay(workers: number, wrap = (f: AsyncIterable<InputFile>) => f) {
  const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "iamwarden-pool-")), "store.db"));
  const problems: InputProblem[] = [];
  const onProblem = (p: InputProblem) => problems.push(p);
  let skipped = 0;
  const files: string[] = [];
  const opts = {
    onProblem,
    select: eventHeaderFilter(config, allowlists),
    onSkipped: (n: number) => {
      skipped += n;
    },
    onFileDone: (f: { name: string }, _n: number, ok: boolean) => files.push(`${f.name} ${ok}`),
  };
  const discovered = wrap(discoverInputs(INPUTS, { onProblem }));
  const batches =
    workers === 0
      ? readEventBatches(discovered, { ...opts, concurrency: 1 })
      : readEventBatchesPooled(discovered, {
          ...opts,
          workers,
          minFiles: 0,
          filter: filterSpec,
          keepWorkers: true,
        });
  try {
    const r = await runEventChecks(batches, config, {
      store,
      route: noRoutes,
      now: NOW,
      runId: "r1",
      allowlists,
    });
    return { ...r, problems, skipped, files, stored: await store.listFindings() };
  } finally {
    await store.close();
  }
}

describe("replay in worker threads", () => {
  it("finds exactly what a single-thread replay finds, in the same order, with the same problems", async () => {
    const single = await replay(0);
    const pooled = await replay(2);
    expect(single.findings.length).toBeGreaterThan(3);
    expect(single.skipped).toBeGreaterThan(0);
    expect(pooled.findings).toEqual(single.findings);
    expect(pooled.stored).toEqual(single.stored);
    expect(pooled.summary).toEqual(single.summary);
    expect(pooled.events).toBe(single.events);
    expect(pooled.skipped).toBe(single.skipped);
    expect(pooled.problems).toEqual(single.problems);
    expect(pooled.files).toEqual(single.files);
    // The configured non-IAM action is judged too (the raw-record filter dropped it).
    expect(single.accounts.length).toBeGreaterThan(0);
  }, 60_000);

  it("gives the next replay nothing of one that was stopped early (its idle workers are reused)", async () => {
    const early = readEventBatchesPooled(discoverInputs(INPUTS, { onProblem: () => {} }), {
      onProblem: () => {},
      select: eventHeaderFilter(config, allowlists),
      workers: 2,
      minFiles: 0,
      filter: filterSpec,
      keepWorkers: true,
    });
    expect((await early.next()).done).toBe(false);
    await early.return(undefined);
    const single = await replay(0);
    for (let i = 0; i < 3; i++) {
      const again = await replay(2);
      expect(again.stored).toEqual(single.stored);
      expect(again.problems).toEqual(single.problems);
    }
  }, 60_000);

  it("downloads objects without a local path (S3) side by side, in order, and reports one that fails", async () => {
    const single = await replay(0, remote);
    const pooled = await replay(2, remote);
    expect(single.problems).toContainEqual({ file: "s3://trail/broken.json.gz", error: "socket hang up" });
    expect(pooled.problems).toEqual(single.problems);
    expect(pooled.files).toEqual(single.files);
    expect(pooled.stored).toEqual(single.stored);
    expect(pooled.stored).toEqual((await replay(0)).stored);
  }, 60_000);
});

/** Small deterministic PRNG (mulberry32). */
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

/** Records of every shape the checks branch on, and some they should never see. */
function generated(n: number): unknown[] {
  const r = prng(12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const maybe = <T>(v: T): T | undefined => (r() < 0.8 ? v : undefined);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const account = pick(["111111111111", "222222222222", "333333333333", ""]);
    out.push({
      eventTime: new Date(Date.UTC(2024, 2, 15, 0, 0, i)).toISOString(),
      eventSource: pick([
        "iam.amazonaws.com",
        "signin.amazonaws.com",
        "sts.amazonaws.com",
        "s3.amazonaws.com",
        "iam",
      ]),
      eventName: pick([
        "CreateUser",
        "AttachUserPolicy",
        "DeleteUserPolicy",
        "DetachUserPolicy",
        "ConsoleLogin",
        "AssumeRole",
        "GetObject",
        "ListUsers",
      ]),
      eventID: `g-${i}`,
      recipientAccountId: maybe(account),
      sourceIPAddress: pick([
        "198.51.100.7",
        "10.1.2.3",
        "203.0.113.9",
        "2001:db8:1234::1",
        "2001:db8:9999::1",
        "::ffff:198.51.100.7",
        "AWS Internal",
        "iam.amazonaws.com",
        "",
        "not-an-ip",
      ]),
      userIdentity: maybe({
        type: pick(["IAMUser", "Root", "AssumedRole", "AWSService", "FederatedUser", ""]),
        accountId: maybe(pick(["111111111111", "222222222222", "333333333333"])),
        userName: `u${i % 7}`,
        arn: `arn:aws:iam::111111111111:user/u${i % 7}`,
        accessKeyId: maybe(pick(["AKIAEXAMPLE0000000001", "ASIAEXAMPLE0000000001", ""])),
        invokedBy: r() < 0.2 ? "cloudformation.amazonaws.com" : undefined,
      }),
      requestParameters: maybe({
        userName: pick(["x", "y", "z"]),
        policyName: "iamwarden-quarantine",
        policyArn: pick([
          "arn:aws:iam::aws:policy/AdministratorAccess",
          "arn:aws:iam::aws:policy/IAMFullAccess",
          "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ]),
      }),
      responseElements: r() < 0.5 ? { ConsoleLogin: pick(["Success", "Failure"]) } : null,
      errorCode: r() < 0.2 ? "AccessDenied" : undefined,
    });
  }
  return out;
}

function fixtureRecords(): unknown[] {
  const dir = join(FIX, "cloudtrail/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03");
  const gz = readFileSync(
    join(dir, "15/123456789012_CloudTrail_us-east-1_20240315T0915Z_Yh3kq2VbS0t8aP1c.json.gz"),
  );
  const json = readFileSync(
    join(dir, "16/123456789012_CloudTrail_us-east-1_20240316T1005Z_Q8bLm3ZxT5e2cR7d.json"),
  );
  return [
    ...(JSON.parse(gunzipSync(gz).toString()) as { Records: unknown[] }).Records,
    ...(JSON.parse(json.toString()) as { Records: unknown[] }).Records,
  ];
}

describe("header pre-filters", () => {
  const records = [...fixtureRecords(), ...generated(5000)];
  const filter = eventHeaderFilter(config, allowlists);
  const iamSettings = {
    actions: config.checks["iam-change"]!.actions!,
    principalTypes: ["IAMUser"],
    adminsOf: () => new Set(["alice.admin"]),
    quarantinePolicyName: "iamwarden-quarantine",
    quarantine: false,
  };
  const sipSettings = { allowlistsOf: accountAllowlists(allowlists), lists: allowlists.lists };

  it("read the same values a normalised event holds", () => {
    let compared = 0;
    for (const r of records) {
      const h = cloudTrailHeader(r);
      const e = fromCloudTrailRecord(r);
      if (typeof e === "string") continue;
      compared++;
      expect(h).toEqual({
        provider: e.provider,
        kind: e.kind,
        action: e.action,
        principalType: e.principal.type,
        sourceIp: e.sourceIp || undefined,
        invokedBy: e.principal.invokedBy,
        accessKeyId: e.principal.accessKeyId ?? "",
        account: e.account,
      });
    }
    expect(compared).toBeGreaterThan(3000);
  });

  it("never turn down a record that iam-change or source-ip would flag (slow path agrees)", () => {
    let flagged = 0;
    let turnedDown = 0;
    for (const r of records) {
      const e = fromCloudTrailRecord(r) as IamEvent | string;
      if (typeof e === "string") continue;
      const wanted = Boolean(judgeIamChange(e, iamSettings) || judgeSourceIp(e, sipSettings));
      const h = cloudTrailHeader(r)!;
      if (wanted) {
        flagged++;
        expect(filter(h), JSON.stringify(r)).toBe(true);
      } else if (!filter(h)) turnedDown++;
    }
    // Both sides are exercised: many records flagged, and most of the rest turned down.
    expect(flagged).toBeGreaterThan(300);
    expect(turnedDown).toBeGreaterThan(1000);
  });
});

describe("findings of events read in any order", () => {
  // Worker threads, files read side by side and distributed jobs hand events on in any order:
  // a finding (severity, title, details, the occurrences it keeps) depends only on which events
  // it saw.
  const events = generated(4000)
    .map((r) => fromCloudTrailRecord(r))
    .filter((e): e is IamEvent => typeof e !== "string");

  async function judged(order: IamEvent[]) {
    const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "iamwarden-order-")), "store.db"));
    try {
      // Small batches: findings are merged within a batch and against the store across batches.
      const batches = (async function* () {
        for (let i = 0; i < order.length; i += 97) yield order.slice(i, i + 97);
      })();
      await runEventChecks(batches, config, {
        store,
        route: noRoutes,
        now: NOW,
        runId: "r1",
        allowlists,
        batchEvents: 150,
      });
      return (await store.listFindings()).sort((a, b) => (a.id < b.id ? -1 : 1));
    } finally {
      await store.close();
    }
  }

  it("are the same read in time order, reversed or shuffled", async () => {
    const inOrder = await judged(events);
    const r = prng(99);
    const shuffled = [...events];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    expect(inOrder.length).toBeGreaterThan(5);
    // Findings that gathered more occurrences than they keep are in the comparison.
    expect(inOrder.some((f) => (f.details.eventCount as number) > 50)).toBe(true);
    expect(await judged([...events].reverse())).toEqual(inOrder);
    expect(await judged(shuffled)).toEqual(inOrder);
  }, 60_000);
});
