import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LoadedConfig, loadConfig } from "../../src/config/load.js";
import { configSchema } from "../../src/config/schema.js";
import type { IamEvent, InputProblem } from "../../src/model/event.js";
import { createRunContext, type RunLog } from "../../src/run/context.js";
import { runDelivery } from "../../src/run/delivery.js";
import { runEvents } from "../../src/run/events.js";
import { readCredentialReport, runScan } from "../../src/run/scan.js";
import { openWhatIfStore } from "../../src/run/store.js";
import { fromCloudTrailRecord } from "../../src/sources/cloudtrail/record.js";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { startFakeSlack } from "../support/fake-apis/slack.js";

// The run layer as a service calls it: a context built from a config and an open store.

const EXAMPLES = resolve(import.meta.dirname, "../../examples");
const NOW = new Date("2026-11-23T09:00:00Z");
const A = "123456789012";
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-run-"));
  copyFileSync(join(EXAMPLES, "iamwarden.yaml"), join(dir, "iamwarden.yaml"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function logSink() {
  const lines: string[] = [];
  const log: RunLog = { note: (m) => lines.push(`note: ${m}`), warn: (m) => lines.push(`warn: ${m}`) };
  return { log, lines };
}

const loadedExample = (): LoadedConfig => loadConfig(join(dir, "iamwarden.yaml"), {});

function mallory(i: number, over: Record<string, unknown> = {}): IamEvent {
  const e = fromCloudTrailRecord({
    eventVersion: "1.09",
    eventTime: new Date(Date.UTC(2024, 2, 19, 10, 0, i)).toISOString(),
    eventSource: "iam.amazonaws.com",
    eventName: "CreateUser",
    userIdentity: {
      type: "IAMUser",
      arn: `arn:aws:iam::${A}:user/mallory`,
      accountId: A,
      userName: "mallory",
    },
    sourceIPAddress: "198.51.100.20",
    requestParameters: { userName: `n${i}` },
    eventID: `call-${i}`,
    recipientAccountId: A,
    ...over,
  });
  if (typeof e === "string") throw new Error(e);
  return e;
}

describe("runScan", () => {
  it("reconciles snapshots inside one run record and reports accounts, findings and keys", async () => {
    const loaded = loadedExample();
    const snapshots = readCredentialReport(join(EXAMPLES, "credential-report.csv"), loaded.config);
    const store = openSqliteStore(join(dir, "s.db"));
    try {
      const ctx = createRunContext({ loaded, store, now: NOW, actor: "tester" });
      const first = await runScan(ctx, { kind: "snapshots", snapshots }, { notify: false });
      expect(first).toMatchObject({ runId: ctx.runId, now: NOW.toISOString(), whatIf: false });
      expect(first.accounts).toHaveLength(1);
      expect(first.accounts[0]).toMatchObject({ ok: true, summary: { opened: 17, suppressed: 3 } });
      expect(first.findings).toHaveLength(17);
      expect(first.keys.length).toBeGreaterThan(16);
      expect(first.delivery).toBeUndefined();
      const runs = await store.listRuns();
      expect(runs.map((r) => [r.id, r.command, r.actor])).toEqual([[ctx.runId, "scan", "tester"]]);
      expect(runs[0]?.finishedAt).toBeTruthy();

      const again = await runScan(
        createRunContext({ loaded, store, now: NOW, actor: "tester" }),
        {
          kind: "snapshots",
          snapshots: readCredentialReport(join(EXAMPLES, "credential-report.csv"), loaded.config),
        },
        { notify: false },
      );
      expect(again.accounts[0]?.summary).toMatchObject({ opened: 0, refreshed: 17 });
    } finally {
      await store.close();
    }
  });

  it("in a what-if works on a copy: the store file stays byte for byte as it was", async () => {
    const loaded = loadedExample();
    const path = join(dir, "s.db");
    const real = openSqliteStore(path);
    await real.close();
    const before = readFileSync(path);
    const store = await openWhatIfStore(path);
    let report: Awaited<ReturnType<typeof runScan>>;
    try {
      const ctx = createRunContext({ loaded, store, now: NOW, actor: "tester", whatIf: true });
      report = await runScan(
        ctx,
        {
          kind: "snapshots",
          snapshots: readCredentialReport(join(EXAMPLES, "credential-report.csv"), loaded.config),
        },
        { notify: true },
      );
      // The copy holds what the run wrote, while the run lasts.
      expect(await store.listFindings({ status: ["open"] })).toHaveLength(17);
    } finally {
      await store.close();
    }
    expect(report.whatIf).toBe(true);
    expect(report.delivery).toBeUndefined();
    expect(report.findings).toHaveLength(17);
    expect(readFileSync(path).equals(before)).toBe(true);
    const after = openSqliteStore(path);
    try {
      expect(await after.listFindings()).toEqual([]);
      expect(await after.listRuns()).toEqual([]);
    } finally {
      await after.close();
    }
  });

  it("refuses a what-if on PostgreSQL and creates no store for a missing SQLite file", async () => {
    await expect(openWhatIfStore("postgres://x@127.0.0.1/db")).rejects.toThrow("pass --commit");
    const missing = join(dir, "nothing-here.db");
    const store = await openWhatIfStore(missing);
    expect(await store.listFindings()).toEqual([]);
    await store.close();
    expect(existsSync(missing)).toBe(false);
  });
});

describe("runEvents", () => {
  it("judges any async source of event batches and reports problems through the sink", async () => {
    const loaded: LoadedConfig = {
      config: configSchema.parse({ checks: { "iam-change": { adminUsers: ["alice.admin"] } } }),
      baseDir: dir,
      source: "flag",
      deferred: [],
    };
    const store = openSqliteStore(join(dir, "e.db"));
    const { log } = logSink();
    try {
      const ctx = createRunContext({ loaded, store, now: NOW, actor: "svc", log });
      // A live intake (a queue) hands over batches as they come; bad records go to the sink.
      const problems: InputProblem[] = [];
      async function* live() {
        yield [mallory(1), mallory(2)];
        yield [mallory(3, { eventName: "AttachUserPolicy", requestParameters: { userName: "bob" } })];
      }
      const report = await runEvents(ctx, live(), {
        command: "serve",
        notify: false,
        onProblem: (p) => problems.push(p),
      });
      expect(report.result.events).toBe(3);
      expect(report.result.checks).toEqual(["iam-change"]);
      expect(report.result.findings.map((f) => [f.check, f.owner])).toEqual([["iam-change", "mallory"]]);
      expect(report.problems).toEqual([]);
      expect((await store.listRuns()).map((r) => r.command)).toEqual(["serve"]);

      // A source given as a function is handed the header filter and the problem sink.
      const sourced = await runEvents(
        createRunContext({ loaded, store, now: NOW, actor: "svc", log }),
        ({ select, onProblem }) =>
          (async function* () {
            expect(select({ provider: "aws", kind: "api-call", action: "iam:CreateUser" })).toBe(true);
            onProblem({ file: "queue:iam-events", record: 7, error: "not a CloudTrail record" });
            yield [mallory(4)];
          })(),
        { command: "serve", notify: false, onProblem: (p) => problems.push(p) },
      );
      expect(sourced.problems).toEqual([
        { file: "queue:iam-events", record: 7, error: "not a CloudTrail record" },
      ]);
      expect(problems).toEqual(sourced.problems);
      expect(sourced.result.summary.refreshed).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("lets a long-lived caller keep its own run record and admin resolver", async () => {
    const loaded: LoadedConfig = {
      config: configSchema.parse({ checks: { "iam-change": { adminGroup: "admins" } } }),
      baseDir: dir,
      source: "defaults",
      deferred: [],
    };
    const store = openSqliteStore(":memory:");
    const asked: string[] = [];
    try {
      const report = await runEvents(
        createRunContext({ loaded, store, now: NOW, actor: "svc" }),
        (async function* () {
          yield [mallory(1)];
        })(),
        {
          command: "serve intake",
          notify: false,
          record: false,
          // No AWS here: the caller's resolver answers (and would cache across runs).
          admins: async (account) => {
            asked.push(account);
            return new Set<string>();
          },
        },
      );
      expect(report.result.findings).toHaveLength(1);
      expect(asked).toContain(A);
      expect(await store.listRuns()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("says through the log that source-ip set up without allowlists does not run", async () => {
    const loaded: LoadedConfig = {
      config: configSchema.parse({ checks: { "source-ip": { default: ["office"] } } }),
      baseDir: dir,
      source: "flag",
      deferred: [],
    };
    const store = openSqliteStore(":memory:");
    const { log, lines } = logSink();
    try {
      const report = await runEvents(
        createRunContext({ loaded, store, now: NOW, actor: "svc", log }),
        (async function* () {})(),
        { command: "test", notify: false },
      );
      expect(report.result.checks).toEqual(["iam-change"]);
      expect(lines).toEqual([
        "warn: source-ip has no allowlists configured (checks.source-ip.allowlists); it does not run",
      ]);
      // The default config has source-ip too, untouched: a replay without lists is not warned.
      const quiet = logSink();
      await runEvents(
        createRunContext({
          loaded: { ...loaded, config: configSchema.parse({}) },
          store,
          now: NOW,
          actor: "svc",
          log: quiet.log,
        }),
        (async function* () {})(),
        { command: "test", notify: false },
      );
      expect(quiet.lines).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe("runDelivery", () => {
  it("in a what-if lists what it would send and sends nothing; for real it delivers", async () => {
    const slack = await startFakeSlack({ token: "xoxb-1", channels: ["#iam-alerts"] });
    const loaded: LoadedConfig = {
      config: configSchema.parse({
        notify: { slack: { token: "xoxb-1", channel: "#iam-alerts", apiUrl: slack.apiUrl, dmOwners: false } },
      }),
      baseDir: dir,
      source: "flag",
      deferred: [],
    };
    const path = join(dir, "d.db");
    const store = openSqliteStore(path);
    try {
      const snapshots = readCredentialReport(join(EXAMPLES, "credential-report.csv"), loaded.config);
      const one = { ...snapshots[0]!, keys: snapshots[0]!.keys.filter((k) => k.user === "svc-ci") };
      await runScan(
        createRunContext({ loaded, store, now: NOW, actor: "t" }),
        { kind: "snapshots", snapshots: [one] },
        {
          notify: false,
        },
      );
      const queued = await store.listOutbox({ status: ["pending"] });
      expect(queued.length).toBeGreaterThan(0);
      await store.close();

      const copy = await openWhatIfStore(path);
      const whatIf = await runDelivery(
        createRunContext({ loaded, store: copy, now: NOW, actor: "t", whatIf: true }),
      );
      await copy.close();
      expect(whatIf.whatIf).toBe(true);
      expect(whatIf.wouldDeliver.map((o) => o.id)).toEqual(queued.map((o) => o.id));
      expect(whatIf.summary).toEqual({ delivered: 0, failed: 0, pending: queued.length });
      expect(slack.posts).toHaveLength(0);

      const real = openSqliteStore(path);
      try {
        const done = await runDelivery(createRunContext({ loaded, store: real, now: NOW, actor: "t" }));
        expect(done.summary).toMatchObject({ delivered: queued.length, failed: 0 });
        expect(done.outcomes.map((o) => o.result)).toEqual(queued.map(() => "delivered"));
        expect(slack.posts).toHaveLength(queued.length);
      } finally {
        await real.close();
      }
    } finally {
      await slack.close();
    }
  });
});
