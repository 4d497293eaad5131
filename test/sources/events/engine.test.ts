import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/allowlist/allowlist.js";
import type { AllowlistSet } from "../../../src/allowlist/set.js";
import { type Config, configSchema } from "../../../src/config/schema.js";
import { eventHeaderFilter, type FindingChange, runEventChecks } from "../../../src/engine/events.js";
import { noRoutes, routerFromConfig } from "../../../src/engine/routing.js";
import type { HeaderFilter, IamEvent, InputProblem } from "../../../src/model/event.js";
import type { Finding } from "../../../src/model/finding.js";
import { discoverInputs } from "../../../src/sources/cloudtrail/input-files.js";
import { readEventBatches } from "../../../src/sources/cloudtrail/read-events.js";
import { fromCloudTrailRecord } from "../../../src/sources/cloudtrail/record.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import type { Store } from "../../../src/store/store.js";

const FIX = join(import.meta.dirname, "../../fixtures");
const A = "123456789012";
const NOW = new Date("2024-03-20T00:00:00Z");

const allowlists: AllowlistSet = {
  lists: new Map([
    ["office", parseAllowlist("198.51.100.0/24\n2001:db8:1234::/48\n", "office", "office.lst").list],
    ["ci", parseAllowlist("10.1.0.0 - 10.1.255.255\n192.0.2.50\n", "ci", "ci.lst").list],
  ]),
  defaultNames: ["office", "ci"],
  accounts: {},
};

const config = (extra: Record<string, unknown> = {}): Config =>
  configSchema.parse({
    checks: {
      "iam-change": { adminUsers: ["alice.admin"], adminGroup: "admins" },
      "source-ip": { allowlists: { office: "office.lst", ci: "ci.lst" }, default: ["office", "ci"] },
    },
    ...extra,
  });

let store: Store;
beforeEach(() => {
  store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "iamwarden-events-")), "store.db"));
});
afterEach(async () => {
  await store.close();
});

function fixtureBatches(
  paths: string[] = [join(FIX, "cloudtrail"), join(FIX, "eventbridge"), join(FIX, "ibm")],
  filter: { select?: HeaderFilter; onSkipped?: (n: number) => void } = {},
) {
  const onProblem = (_p: InputProblem) => {};
  return readEventBatches(discoverInputs(paths, { onProblem }), { onProblem, ...filter });
}

async function* batches(...lists: IamEvent[][]) {
  for (const l of lists) yield l;
}

function iamCall(i: number, over: Record<string, unknown> = {}): IamEvent {
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

const byOwner = (fs: Finding[], check: string, owner: string) =>
  fs.find((f) => f.check === check && f.owner === owner);

describe("event checks through the store", () => {
  it("opens one finding per principal and check, with the events listed", async () => {
    const changes: [string, FindingChange][] = [];
    const admins = async (account: string) => new Set(account === A ? ["alice.admin", "group-admin"] : []);
    const r = await runEventChecks(fixtureBatches(), config(), {
      store,
      route: noRoutes,
      now: NOW,
      runId: "r1",
      admins,
      allowlists,
      aliases: new Map([[A, "prod"]]),
      onFinding: (f, c) => {
        changes.push([f.id, c]);
      },
    });
    expect(r.checks).toEqual(["iam-change", "source-ip"]);
    expect(r.events).toBe(30);
    expect(new Set(r.accounts)).toEqual(new Set([A, "7131c65c6ad70bdc209bb564997a5f1c"]));
    expect(r.summary.opened).toBe(10);
    const mallory = byOwner(r.findings, "iam-change", "mallory")!;
    expect(mallory).toMatchObject({ severity: "critical", status: "open", accountAlias: "prod" });
    expect(mallory.details.eventCount).toBe(5);
    expect((mallory.details.events as { action: string }[]).map((e) => e.action).sort()).toEqual([
      "iam:AttachUserPolicy",
      "iam:CreateAccessKey",
      "iam:CreateLoginProfile",
      "iam:DetachUserPolicy",
      "iam:PutUserPolicy",
    ]);
    expect(byOwner(r.findings, "iam-change", "intern")?.severity).toBe("medium");
    expect(byOwner(r.findings, "iam-change", "alice.admin")).toBeUndefined();
    expect(changes).toHaveLength(10);
    expect(changes.every(([, c]) => c === "opened")).toBe(true);
    const stored = await store.listFindings({ check: ["iam-change", "source-ip"] });
    expect(stored).toHaveLength(10);
  });

  it("does not count the same events twice when an archive is replayed", async () => {
    const deps = { store, route: noRoutes, now: NOW, runId: "r1", allowlists };
    await runEventChecks(fixtureBatches(), config(), deps);
    const changes: FindingChange[] = [];
    const again = await runEventChecks(fixtureBatches(), config(), {
      ...deps,
      runId: "r2",
      onFinding: (_f, c) => {
        changes.push(c);
      },
    });
    expect(again.findings).toEqual([]);
    expect(changes).toEqual([]);
    const mallory = (await store.listFindings({ check: ["iam-change"] })).find((f) => f.owner === "mallory")!;
    expect(mallory.details.eventCount).toBe(5);

    // A new call by the same principal refreshes the finding and adds to the count.
    const more = await runEventChecks(batches([iamCall(1)]), config(), { ...deps, runId: "r3" });
    expect(more.summary.refreshed).toBe(1);
    expect(more.findings[0]!.details.eventCount).toBe(6);
  });

  it("writes in batches per account, counting every event, and never lowers an open finding's severity", async () => {
    const calls = Array.from({ length: 25 }, (_, i) => iamCall(i));
    const denied = iamCall(99, { errorCode: "AccessDenied" });
    const critical = iamCall(50, {
      eventName: "AttachUserPolicy",
      requestParameters: { userName: "mallory", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
    });
    let transactions = 0;
    const counting: Store = {
      ...store,
      reconcile: (scope, plan) => {
        transactions++;
        return store.reconcile(scope, plan);
      },
    } as Store;
    const r = await runEventChecks(
      batches(calls.slice(0, 10), [critical], calls.slice(10), [denied]),
      config(),
      {
        store: counting,
        route: noRoutes,
        now: NOW,
        runId: "r1",
        batchEvents: 4,
      },
    );
    expect(transactions).toBeGreaterThanOrEqual(6);
    const [f] = r.findings;
    expect(r.findings).toHaveLength(1);
    expect(f!.details.eventCount).toBe(27);
    expect((f!.details.events as unknown[]).length).toBe(27);
    expect(f!.severity).toBe("critical");
    expect(f!.details.criticalReason).toBe("attached AdministratorAccess");
    expect(String(f!.details.advice)).toMatch(/^Check with mallory/);
    expect(r.summary.opened).toBe(1);
    expect(r.summary.escalated).toBe(1);
  });

  it("suppresses by configured exceptions and queues notifications for routed channels", async () => {
    const cfg = config({
      exceptions: { [A]: [{ user: "bob", reason: "travelling" }] },
      notify: { slack: { token: "xoxb-test", channel: "#iam" } },
    });
    const r = await runEventChecks(fixtureBatches([join(FIX, "cloudtrail/AWSLogs")]), cfg, {
      store,
      route: routerFromConfig(cfg.notify),
      now: NOW,
      runId: "r1",
      allowlists,
    });
    const bob = byOwner(r.findings, "source-ip", "bob")!;
    expect(bob.status).toBe("suppressed");
    expect(bob.statusReason).toBe("exception for user bob: travelling");
    const outbox = await store.listOutbox();
    expect(outbox.length).toBe(r.summary.notifications);
    expect(outbox.every((o) => o.channel === "slack" && o.event === "opened")).toBe(true);
    expect(outbox.some((o) => o.findingId === bob.id)).toBe(false);
  });

  it("runs only iam-change without allowlists, and nothing when it is disabled", async () => {
    const r = await runEventChecks(fixtureBatches([join(FIX, "cloudtrail/AWSLogs")]), config(), {
      store,
      route: noRoutes,
      now: NOW,
      runId: "r1",
    });
    expect(r.checks).toEqual(["iam-change"]);
    expect(new Set(r.findings.map((f) => f.check))).toEqual(new Set(["iam-change"]));
    const off = await runEventChecks(
      batches([iamCall(1)]),
      configSchema.parse({ checks: { "iam-change": { enabled: false } } }),
      { store, route: noRoutes, now: NOW, runId: "r2" },
    );
    expect(off.checks).toEqual([]);
    expect(off.findings).toEqual([]);
  });

  it("lets the reader skip only records no check would flag", async () => {
    const cfg = config();
    let skipped = 0;
    const filtered = await runEventChecks(
      fixtureBatches(undefined, {
        select: eventHeaderFilter(cfg, allowlists),
        onSkipped: (n) => {
          skipped += n;
        },
      }),
      cfg,
      { store, route: noRoutes, now: NOW, runId: "r1", allowlists },
    );
    const other = openSqliteStore(join(mkdtempSync(join(tmpdir(), "iamwarden-events-")), "store.db"));
    try {
      const all = await runEventChecks(fixtureBatches(), cfg, {
        store: other,
        route: noRoutes,
        now: NOW,
        runId: "r1",
        allowlists,
      });
      expect(skipped).toBeGreaterThan(0);
      expect(filtered.events + skipped).toBe(all.events);
      const shape = (fs: Finding[]) => fs.map((f) => [f.id, f.severity, f.details.eventCount]).sort();
      expect(shape(filtered.findings)).toEqual(shape(all.findings));
    } finally {
      await other.close();
    }
  });
});
