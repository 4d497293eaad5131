import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findingId, planReconcile } from "../../src/engine/reconcile.js";
import type { Router } from "../../src/engine/routing.js";
import type { Candidate } from "../../src/model/finding.js";
import { openSqliteStore } from "../../src/store/sqlite.js";
import type { Store } from "../../src/store/store.js";

const cand = (resource: string, over: Partial<Candidate> = {}): Candidate => ({
  check: "key-inactive",
  account: "111122223333",
  resource,
  owner: "alice",
  severity: "medium",
  title: `key ${resource}`,
  details: { username: "alice", keyId: resource },
  ...over,
});

const slackAndJira: Router = (_f, event) => (event === "reminder" ? ["slack"] : ["slack", "jira"]);

let store: Store;
beforeEach(() => {
  store = openSqliteStore(":memory:");
});
afterEach(() => store.close());

async function scan(
  candidates: Candidate[],
  now: string,
  opts: {
    complete?: boolean;
    suppress?: (c: Candidate) => string | undefined;
    route?: Router;
    kind?: "state" | "event";
  } = {},
) {
  const plan = await store.reconcile({ account: "111122223333", checks: ["key-inactive"] }, (existing) =>
    planReconcile(existing, {
      account: "111122223333",
      checks: ["key-inactive"],
      kind: opts.kind ?? "state",
      complete: opts.complete ?? true,
      candidates,
      suppress: opts.suppress ?? (() => undefined),
      route: opts.route ?? slackAndJira,
      renotifyHours: 24,
      now: new Date(now),
      runId: `run-${now}`,
    }),
  );
  return plan as typeof plan & { summary: Record<string, number> };
}

describe("finding lifecycle", () => {
  it("opens once, refreshes last_seen on re-scan and never duplicates", async () => {
    await scan([cand("AKIA1"), cand("AKIA2")], "2026-01-01T00:00:00Z");
    const second = await scan([cand("AKIA1"), cand("AKIA2")], "2026-01-01T01:00:00Z");
    expect(second.summary).toMatchObject({ opened: 0, refreshed: 2 });
    const all = await store.listFindings();
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({
      status: "open",
      firstSeen: "2026-01-01T00:00:00.000Z",
      lastSeen: "2026-01-01T01:00:00.000Z",
    });
    expect(all[0]?.id).toBe(findingId("key-inactive", "111122223333", all[0]!.resource));
  });

  it("queues one notification per channel on open, none an hour later, one reminder after 24 h", async () => {
    await scan([cand("AKIA1")], "2026-01-01T00:00:00Z");
    await scan([cand("AKIA1")], "2026-01-01T01:00:00Z");
    expect((await store.listOutbox()).map((o) => `${o.event}:${o.channel}`)).toEqual([
      "opened:slack",
      "opened:jira",
    ]);
    await scan([cand("AKIA1")], "2026-01-02T01:00:00Z");
    expect((await store.listOutbox()).map((o) => `${o.event}:${o.channel}`)).toEqual([
      "opened:slack",
      "opened:jira",
      "reminder:slack",
    ]);
    await scan([cand("AKIA1")], "2026-01-02T05:00:00Z");
    expect(await store.listOutbox()).toHaveLength(3);
  });

  it("resolves what a complete scan no longer sees, and reopens it with its history kept", async () => {
    await scan([cand("AKIA1")], "2026-01-01T00:00:00Z");
    const r = await scan([], "2026-01-02T00:00:00Z");
    expect(r.summary.resolved).toBe(1);
    const [f] = await store.listFindings();
    expect(f).toMatchObject({ status: "resolved", resolvedAt: "2026-01-02T00:00:00.000Z" });
    await scan([cand("AKIA1")], "2026-01-03T00:00:00Z");
    const [g] = await store.listFindings();
    expect(g).toMatchObject({ status: "open", firstSeen: "2026-01-01T00:00:00.000Z", resolvedAt: undefined });
    const history = await store.findingEvents(g!.id);
    expect(history.map((e) => `${e.from}->${e.to}`)).toEqual([
      "null->open",
      "open->resolved",
      "resolved->open",
    ]);
    const events = (await store.listOutbox()).map((o) => o.event);
    expect(events).toEqual(["opened", "opened", "resolved", "resolved", "reopened", "reopened"]);
  });

  it("never resolves anything from an incomplete scan", async () => {
    await scan([cand("AKIA1")], "2026-01-01T00:00:00Z");
    const r = await scan([], "2026-01-02T00:00:00Z", { complete: false });
    expect(r.summary.resolved).toBe(0);
    expect((await store.listFindings())[0]?.status).toBe("open");
  });

  it("suppresses exceptions without notifying, and opens them when the exception ends", async () => {
    const suppress = (c: Candidate) => (c.resource === "AKIA1" ? "exception for user alice" : undefined);
    await scan([cand("AKIA1")], "2026-01-01T00:00:00Z", { suppress });
    expect((await store.listFindings())[0]).toMatchObject({
      status: "suppressed",
      statusReason: "exception for user alice",
    });
    expect(await store.listOutbox()).toHaveLength(0);
    await scan([cand("AKIA1")], "2026-02-01T00:00:00Z");
    expect((await store.listFindings())[0]?.status).toBe("open");
    expect((await store.listOutbox()).map((o) => o.event)).toEqual(["opened", "opened"]);
  });

  it("escalates when severity rises (expiring → expired) and records it", async () => {
    await scan([cand("AKIA1", { severity: "low" })], "2026-01-01T00:00:00Z");
    const r = await scan([cand("AKIA1", { severity: "high" })], "2026-01-05T00:00:00Z");
    expect(r.summary.escalated).toBe(1);
    const [f] = await store.listFindings();
    expect(f?.severity).toBe("high");
    expect((await store.findingEvents(f!.id)).at(-1)?.cause).toBe("severity low → high");
  });

  it("leaves remediated findings remediated when they disappear", async () => {
    await scan([cand("AKIA1")], "2026-01-01T00:00:00Z");
    const [f] = await store.listFindings();
    await store.applyChange(f!.id, (cur) => ({ finding: { ...cur, status: "remediated" } }));
    await scan([], "2026-01-02T00:00:00Z");
    expect((await store.listFindings())[0]?.status).toBe("remediated");
  });

  it("event findings gather occurrences and are not resolved by absence", async () => {
    const ev = (n: number) => cand("arn:aws:iam::111122223333:user/mallory", { events: [{ n }] });
    await scan([ev(1), ev(2)], "2026-01-01T00:00:00Z", { kind: "event" });
    await scan([ev(3)], "2026-01-02T00:00:00Z", { kind: "event" });
    await scan([], "2026-01-03T00:00:00Z", { kind: "event" });
    const [f] = await store.listFindings();
    expect(f?.status).toBe("open");
    expect(f?.details.eventCount).toBe(3);
    expect(f?.details.events).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it("writes nothing when planning fails half-way (one transaction)", async () => {
    await scan([cand("AKIA1")], "2026-01-01T00:00:00Z");
    await expect(
      store.reconcile({ account: "111122223333", checks: ["key-inactive"] }, () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await store.listFindings()).toHaveLength(1);
    expect((await store.listFindings())[0]?.lastSeen).toBe("2026-01-01T00:00:00.000Z");
  });
});
