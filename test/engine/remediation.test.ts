import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { findingId, planReconcile } from "../../src/engine/reconcile.js";
import { dueFindings, graceStart, limitBlastRadius, planRemediation } from "../../src/engine/remediation.js";
import type { Finding } from "../../src/model/finding.js";
import { DAY_MS, MINUTE_MS } from "../../src/util/time.js";

const A = "123456789012";
const B = "210987654321";
const T0 = "2026-05-01T09:30:00.000Z";

function settings(over: Record<string, unknown> = {}) {
  return configSchema.parse({
    remediation: {
      accounts: [A, B],
      "key-inactive": { enabled: true, graceDays: 14 },
      "key-age": { enabled: true, graceDays: 0, deleteAfterDays: 30 },
      maxPerRun: 20,
      maxShare: 0.25,
      ...over,
    },
  }).remediation;
}

let n = 0;
function finding(over: Partial<Finding> & { keyId?: string; state?: string } = {}): Finding {
  const { keyId = `AKIA${String(++n).padStart(16, "0")}`, state, ...rest } = over;
  const check = rest.check ?? "key-inactive";
  const account = rest.account ?? A;
  return {
    id: findingId(check, account, keyId),
    check,
    account,
    resource: keyId,
    owner: "bob",
    severity: "medium",
    status: "open",
    title: "t",
    details: { username: "bob", keyId, ...(state ? { state } : {}) },
    firstSeen: T0,
    lastSeen: T0,
    statusChangedAt: T0,
    firstReportedAt: T0,
    tickets: {},
    ...rest,
  };
}

const at = (ms: number) => new Date(Date.parse(T0) + ms);
const many = (k: number, over: Partial<Finding> = {}) => Array.from({ length: k }, () => finding(over));

describe("which findings are due", () => {
  it("counts the grace period from the first report, to the minute", () => {
    const f = finding();
    const s = settings();
    const before = dueFindings([f], s, at(14 * DAY_MS - MINUTE_MS));
    expect(before.items).toHaveLength(0);
    expect(before.notDue[0]?.reason).toBe("grace period ends 2026-05-15T09:30:00.000Z");
    const on = dueFindings([f], s, at(14 * DAY_MS));
    expect(on.items).toMatchObject([{ action: "deactivate-key", user: "bob", keyId: f.resource }]);
  });

  it("counts from first sight when nothing was reported, and 0 days means the next run", () => {
    const f = finding({ firstReportedAt: undefined, firstSeen: "2026-05-10T00:00:00.000Z" });
    expect(graceStart(f).toISOString()).toBe("2026-05-10T00:00:00.000Z");
    expect(dueFindings([f], settings(), new Date("2026-05-23T23:59:00Z")).items).toHaveLength(0);
    expect(dueFindings([f], settings(), new Date("2026-05-24T00:00:00Z")).items).toHaveLength(1);
    const expired = finding({ check: "key-age", state: "expired" });
    expect(dueFindings([expired], settings(), at(0)).items).toHaveLength(1);
  });

  it("acts only where enabled, in remediation accounts, on open findings and expired keys", () => {
    const s = settings({ "key-inactive": { enabled: false } });
    const cases: [Finding, string][] = [
      [finding(), "remediation of key-inactive is not enabled"],
      [
        finding({ check: "key-age", account: "999999999999", state: "expired" }),
        "account 999999999999 is not in remediation.accounts",
      ],
      [finding({ check: "key-age", state: "expired", status: "suppressed" }), "finding is suppressed"],
      [finding({ check: "key-age", state: "expired", status: "resolved" }), "finding is resolved"],
      [finding({ check: "key-age", state: "expiring" }), "key-age state is expiring, not expired"],
      [
        finding({ check: "key-age", state: "expired", keyId: "bob#key1@2020-01-01T00:00:00.000Z" }),
        "the access key id is not known",
      ],
    ];
    const r = dueFindings(
      cases.map(([f]) => f),
      s,
      at(100 * DAY_MS),
    );
    expect(r.items).toEqual([]);
    expect(r.notDue.map((x) => x.reason)).toEqual(cases.map(([, why]) => why));
    // Checks remediation knows nothing of are not its business at all.
    expect(dueFindings([finding({ check: "iam-change" })], s, at(0)).notDue).toEqual([]);
  });

  it("starts the grace period again after a rollback", () => {
    const f = finding({
      details: {
        username: "bob",
        keyId: "AKIA0000000000000099",
        rollback: { at: "2026-05-20T00:00:00.000Z" },
      },
    });
    expect(dueFindings([f], settings(), new Date("2026-06-02T23:59:00Z")).items).toHaveLength(0);
    expect(dueFindings([f], settings(), new Date("2026-06-03T00:00:00Z")).items).toHaveLength(1);
  });

  it("deletes a deactivated key deleteAfterDays later, once", () => {
    const deactivated = { action: "deactivate-key", at: "2026-05-02T00:00:00.000Z", runId: "r", auditId: 1 };
    const f = finding({
      check: "key-age",
      state: "expired",
      status: "remediated",
      details: { username: "bob", keyId: "AKIA0000000000000042", remediation: deactivated },
    });
    const early = dueFindings([f], settings(), new Date("2026-05-31T23:59:00Z"));
    expect(early.notDue[0]?.reason).toMatch(/^deletion due at 2026-06-01T00:00:00.000Z/);
    expect(dueFindings([f], settings(), new Date("2026-06-01T00:00:00Z")).items).toMatchObject([
      { action: "delete-key" },
    ]);
    const deleted = {
      ...f,
      details: { ...f.details, remediation: { ...deactivated, deletedAt: "2026-06-01T00:00:00Z" } },
    };
    expect(dueFindings([deleted], settings(), new Date("2026-07-01T00:00:00Z"))).toEqual({
      items: [],
      notDue: [],
    });
    // key-inactive has no deleteAfterDays: a remediated finding stays as it is.
    const inactive = { ...f, check: "key-inactive" };
    expect(dueFindings([inactive], settings(), new Date("2026-07-01T00:00:00Z")).items).toEqual([]);
  });
});

describe("blast-radius limit", () => {
  const now = at(20 * DAY_MS);

  it("stops an account whose due keys exceed maxShare of its active keys, and raises one critical finding", () => {
    const findings = many(3);
    const blocked = planRemediation({ findings, settings: settings(), now, activeKeys: new Map([[A, 11]]) });
    expect(blocked.due).toEqual([]);
    expect(blocked.blocked).toHaveLength(1);
    expect(blocked.blocked[0]?.reason).toBe("3 of 11 active keys due, over maxShare 0.25");
    expect(blocked.blocked[0]?.candidate).toMatchObject({
      check: "blast-radius",
      account: A,
      resource: A,
      severity: "critical",
      details: { wouldRemediate: 3, maxShare: 0.25, activeKeys: 11 },
    });
    // 3 of 12 is exactly a quarter: allowed.
    expect(
      planRemediation({ findings, settings: settings(), now, activeKeys: new Map([[A, 12]]) }).due,
    ).toHaveLength(3);
  });

  it("stops an account over maxPerRun, and fills the run's total account by account", () => {
    const s = settings({ maxPerRun: 4, maxShare: 1 });
    const items = dueFindings([...many(3, { account: A }), ...many(2, { account: B })], s, now).items;
    const r = limitBlastRadius(
      items,
      s,
      new Map([
        [A, 100],
        [B, 100],
      ]),
    );
    expect(r.due.map((i) => i.finding.account)).toEqual([A, A, A]);
    expect(r.blocked.map((b) => [b.account, b.reason])).toEqual([
      [B, "2 keys due would take this run to 5, over maxPerRun 4"],
    ]);
    const alone = limitBlastRadius(dueFindings(many(5), s, now).items, s, new Map([[A, 100]]));
    expect(alone.blocked[0]?.reason).toBe("5 keys due, over maxPerRun 4");
  });

  it("blocks an account whose active key count is unknown, but not for deletions alone", () => {
    const r = planRemediation({ findings: many(1), settings: settings(), now, activeKeys: new Map() });
    expect(r.blocked[0]?.reason).toBe("the number of active keys in the account is unknown");
    const deactivated = { action: "deactivate-key", at: "2026-01-01T00:00:00.000Z", runId: "r", auditId: 1 };
    const del = finding({
      check: "key-age",
      status: "remediated",
      details: { username: "bob", keyId: "AKIA0000000000000077", remediation: deactivated },
    });
    const d = planRemediation({ findings: [del], settings: settings(), now, activeKeys: new Map() });
    expect(d.due).toMatchObject([{ action: "delete-key" }]);
  });
});

describe("one key, several findings", () => {
  const now = at(20 * DAY_MS);

  it("plans a key with both an age and an inactivity finding once, and counts it once", () => {
    const keyId = "AKIA0000000000000123";
    const inactive = finding({ keyId });
    const age = finding({ keyId, check: "key-age", state: "expired" });
    const r = dueFindings([inactive, age], settings(), now);
    expect(r.items).toHaveLength(1);
    expect(r.items[0]).toMatchObject({ finding: { id: inactive.id }, also: [{ id: age.id }], keyId });
    // 1 key of 4 is exactly maxShare 0.25; counted per finding (2 of 4) it was blocked.
    const limited = limitBlastRadius(r.items, settings(), new Map([[A, 4]]));
    expect(limited.blocked).toEqual([]);
    expect(limited.due).toHaveLength(1);
    // Even items built by hand count distinct keys.
    const twice = limitBlastRadius(
      [r.items[0]!, { ...r.items[0]!, finding: age, also: undefined }],
      settings(),
      new Map([[A, 4]]),
    );
    expect(twice.blocked).toEqual([]);
  });

  it("says which findings are not acted on because remediation of their check is off", () => {
    const r = dueFindings([finding()], settings({ "key-inactive": { enabled: false } }), now);
    expect(r.notDue.map((n) => n.kind)).toEqual(["not-enabled"]);
    expect(dueFindings([finding()], settings(), at(0)).notDue.map((n) => n.kind)).toEqual(["waiting"]);
  });
});

describe("a rollback's hold", () => {
  const heldAt = "2026-05-20T00:00:00.000Z";
  const held = (until?: string) =>
    finding({
      status: "suppressed",
      statusReason: `rolled back by tester at ${heldAt}`,
      details: {
        username: "bob",
        keyId: "AKIA0000000000000555",
        rollback: { at: heldAt, by: "tester" },
        hold: { by: "tester", at: heldAt, ...(until ? { until } : {}) },
      },
    });

  it("keeps the finding suppressed when the next scan sees it again, until it ends", () => {
    const f = held("2026-06-10T00:00:00.000Z");
    const seen = {
      check: f.check,
      account: f.account,
      resource: f.resource,
      owner: "bob",
      severity: "medium" as const,
      title: "t",
      details: f.details,
    };
    const scan = (now: string) =>
      planReconcile([f], {
        account: A,
        checks: ["key-inactive"],
        kind: "state",
        complete: true,
        candidates: [seen],
        suppress: () => undefined,
        route: () => ["slack"],
        renotifyHours: 24,
        now: new Date(now),
        runId: "scan",
      });
    const during = scan("2026-06-01T00:00:00.000Z");
    expect(during.upserts[0]?.status).toBe("suppressed");
    expect(during.events).toEqual([]);
    expect(during.outbox).toEqual([]);
    expect(scan("2026-06-10T00:00:00.000Z").upserts[0]?.status).toBe("open");
  });

  it("is not due while held; the grace period counts from the hold's end", () => {
    const f = held("2026-06-10T00:00:00.000Z");
    expect(dueFindings([f], settings(), new Date("2026-06-09T00:00:00Z")).notDue[0]?.reason).toBe(
      "on hold since 2026-05-20T00:00:00.000Z (rolled back by tester) until 2026-06-10T00:00:00.000Z; `findings unhold` lifts it",
    );
    expect(graceStart({ ...f, status: "open" }).toISOString()).toBe("2026-06-10T00:00:00.000Z");
  });
});
