import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewAuditEntry } from "../../src/model/audit.js";
import type { Finding, FindingEvent } from "../../src/model/finding.js";
import type { KnownKey } from "../../src/model/known-key.js";
import type { NewOutboxItem } from "../../src/model/outbox.js";
import { OUTBOX_LEASE_MS, type ReconcilePlan, type Store } from "../../src/store/store.js";
import { finding, T0 } from "./fixtures.js";

// What every Store must do, run against each implementation on a real database. No mocks: the
// point is to catch where SQLite and PostgreSQL differ (collation, LIKE, JSON, locking).

export interface ContractHooks {
  /** Runs raw SQL against the database behind the stores (to try what the API does not allow). */
  exec(sql: string): Promise<void>;
}

const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

const event = (findingId: string, cause: string, p: Partial<FindingEvent> = {}): FindingEvent => ({
  findingId,
  at: T0,
  from: null,
  to: "open",
  cause,
  runId: "run-1",
  ...p,
});

const outbox = (findingId: string, ev: NewOutboxItem["event"], channel = "slack"): NewOutboxItem => ({
  dedupKey: `${findingId}|${ev}|${channel}`,
  findingId,
  event: ev,
  channel,
  payload: { reason: "test" },
  at: T0,
});

const plan = (p: Partial<ReconcilePlan>): ReconcilePlan => ({ upserts: [], events: [], outbox: [], ...p });

const audit = (p: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
  runId: "run-1",
  at: T0,
  actor: "tester",
  action: "deactivate-key",
  account: "111111111111",
  target: "alice/AKIA…WXYZ",
  before: { status: "Active" },
  intent: { status: "Inactive" },
  ...p,
});

/** Seeds findings outside any scope logic. */
async function seed(store: Store, findings: Finding[]): Promise<void> {
  const byAccount = new Map<string, Finding[]>();
  for (const f of findings) byAccount.set(f.account, [...(byAccount.get(f.account) ?? []), f]);
  for (const [account, list] of byAccount)
    await store.reconcile({ account, checks: [] }, () => plan({ upserts: list }));
}

export function storeContract(
  name: string,
  open: () => Promise<Store>,
  reset: () => Promise<void>,
  hooks: ContractHooks,
): void {
  describe(`Store contract: ${name}`, () => {
    const opened: Store[] = [];
    let store: Store;
    const another = async () => {
      const s = await open();
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      await reset();
      store = await another();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe("schema", () => {
      it("opens again on a migrated database and starts empty", async () => {
        const again = await another();
        expect(await again.listFindings()).toEqual([]);
        expect(await again.listOutbox()).toEqual([]);
        expect(await again.listRuns()).toEqual([]);
      });

      it("opens from several instances at once without migration races", async () => {
        await reset();
        const stores = await Promise.all([1, 2, 3, 4].map(() => another()));
        await stores[0]?.reconcile({ account: "1", checks: [] }, () =>
          plan({ upserts: [finding("a", { account: "1" })] }),
        );
        for (const s of stores) expect((await s.listFindings()).map((f) => f.id)).toEqual(["a"]);
      });
    });

    describe("reconcile", () => {
      it("hands the plan only the findings of the account and checks in scope", async () => {
        await seed(store, [
          finding("a1", { check: "key-inactive" }),
          finding("a2", { check: "key-age" }),
          finding("a3", { check: "iam-change" }),
          finding("b1", { account: "222222222222" }),
        ]);
        let seen: string[] = [];
        await store.reconcile(
          { account: "111111111111", checks: ["key-inactive", "key-age"] },
          (existing) => {
            seen = existing.map((f) => f.id).sort();
            return plan({});
          },
        );
        expect(seen).toEqual(["a1", "a2"]);

        let none: Finding[] | undefined;
        await store.reconcile({ account: "111111111111", checks: [] }, (existing) => {
          none = existing;
          return plan({});
        });
        expect(none).toEqual([]);
      });

      it("writes findings, events and outbox items and returns the plan", async () => {
        const f = finding("key-inactive/111111111111/abc", {
          accountAlias: "prod",
          details: { username: "élodie", nested: { list: [1, 2, { x: null }] }, n: 1.5, ok: true },
          tickets: { jiraKey: "SEC-1", notified: { slack: T0 } },
          firstReportedAt: T0,
          statusReason: "first seen",
        });
        const p = plan({
          upserts: [f],
          events: [event(f.id, "first seen")],
          outbox: [outbox(f.id, "opened")],
        });
        const returned = await store.reconcile({ account: f.account, checks: [f.check] }, () => ({
          ...p,
          extra: 42,
        }));
        expect(returned).toMatchObject({ extra: 42 });

        expect(await store.getFinding(f.id)).toEqual(f);
        expect(await store.findingEvents(f.id)).toEqual([event(f.id, "first seen")]);
        const items = await store.listOutbox();
        expect(items).toHaveLength(1);
        expect(items[0]).toMatchObject({
          dedupKey: `${f.id}|opened|slack`,
          findingId: f.id,
          event: "opened",
          channel: "slack",
          status: "pending",
          attempts: 0,
          payload: { reason: "test" },
        });
        expect(items[0]?.lastError).toBeUndefined();
      });

      it("replaces a finding wholesale on upsert, clearing fields that became undefined", async () => {
        const f = finding("f", { resolvedAt: at(1), statusReason: "x", owner: "bob" });
        await seed(store, [f]);
        const g: Finding = {
          ...f,
          status: "open",
          resolvedAt: undefined,
          statusReason: undefined,
          owner: undefined,
          details: { only: 1 },
        };
        await store.reconcile({ account: f.account, checks: [f.check] }, () => plan({ upserts: [g] }));
        expect(await store.getFinding("f")).toEqual(g);
      });

      it("leaves nothing written when the plan throws", async () => {
        await seed(store, [finding("old", { title: "before" })]);
        await expect(
          store.reconcile({ account: "111111111111", checks: ["key-inactive"] }, () => {
            throw new Error("planner failed");
          }),
        ).rejects.toThrow("planner failed");
        expect((await store.listFindings()).map((f) => f.title)).toEqual(["before"]);
      });

      it("leaves nothing written when a write fails half way", async () => {
        await seed(store, [finding("old", { title: "before" })]);
        const changed = finding("old", { title: "after" });
        const fresh = finding("new");
        await expect(
          store.reconcile({ account: "111111111111", checks: ["key-inactive"] }, () =>
            plan({
              upserts: [changed, fresh],
              events: [event("new", "first seen")],
              // refers to a finding that does not exist: the database refuses it
              outbox: [outbox("new", "opened"), outbox("ghost", "opened")],
            }),
          ),
        ).rejects.toThrow();
        expect((await store.listFindings()).map((f) => `${f.id}:${f.title}`)).toEqual(["old:before"]);
        expect(await store.findingEvents("new")).toEqual([]);
        expect(await store.listOutbox()).toEqual([]);
      });

      it("enqueues each dedup key once, and leaves an existing item as it is", async () => {
        const f = finding("f");
        const p = plan({
          upserts: [f],
          outbox: [outbox("f", "opened"), outbox("f", "opened"), outbox("f", "opened", "jira")],
        });
        await store.reconcile({ account: f.account, checks: [f.check] }, () => p);
        const first = await store.listOutbox();
        expect(first.map((o) => o.dedupKey).sort()).toEqual(["f|opened|jira", "f|opened|slack"]);

        const slack = first.find((o) => o.channel === "slack");
        await store.markDelivered(slack?.id ?? -1, at(5));
        await store.reconcile({ account: f.account, checks: [f.check] }, () => p);
        const second = await store.listOutbox();
        expect(second).toHaveLength(2);
        expect(second.find((o) => o.channel === "slack")).toMatchObject({ status: "delivered", attempts: 1 });
      });

      it("writes large plans whole (several batches)", async () => {
        const n = 5000;
        const upserts = Array.from({ length: n }, (_, i) => finding(`bulk/${String(i).padStart(5, "0")}`));
        await store.reconcile({ account: "111111111111", checks: ["key-inactive"] }, () =>
          plan({
            upserts,
            events: upserts.map((f) => event(f.id, "first seen")),
            outbox: upserts.map((f) => outbox(f.id, "opened")),
          }),
        );
        const stored = await store.listFindings();
        expect(stored).toHaveLength(n);
        expect(stored[n - 1]).toEqual(upserts[n - 1]);
        expect(await store.listOutbox()).toHaveLength(n);
        // events keep their order
        const evs = await store.findingEvents(upserts[4321]?.id ?? "");
        expect(evs).toEqual([event(upserts[4321]?.id ?? "", "first seen")]);

        let existing = 0;
        await store.reconcile({ account: "111111111111", checks: ["key-inactive"] }, (e) => {
          existing = e.length;
          return plan({ upserts: e.map((f) => ({ ...f, lastSeen: at(60) })) });
        });
        expect(existing).toBe(n);
        expect((await store.listFindings({ limit: 1 }))[0]?.lastSeen).toBe(at(60));
      });

      it("does not lose updates when two instances reconcile the same account at once", async () => {
        const other = await another();
        const scope = { account: "111111111111", checks: ["key-inactive"] };
        const rounds = 15;
        // Each reconcile increments a counter and creates the shared finding only if it is absent,
        // with an "opened" event: lost updates show as a short count, races as extra events.
        const bump = (s: Store, who: string) =>
          s.reconcile(scope, (existing) => {
            const cur = existing.find((f) => f.id === "counter");
            if (!cur)
              return plan({
                upserts: [finding("counter", { details: { n: 1, by: [who] } })],
                events: [event("counter", `opened by ${who}`)],
              });
            const d = cur.details as { n: number; by: string[] };
            return plan({ upserts: [{ ...cur, details: { n: d.n + 1, by: [...d.by, who] } }] });
          });
        const run = async (s: Store, who: string) => {
          for (let i = 0; i < rounds; i++) await bump(s, who);
        };
        await Promise.all([run(store, "a"), run(other, "b"), run(store, "c"), run(other, "d")]);
        const f = await store.getFinding("counter");
        expect(f?.details.n).toBe(rounds * 4);
        expect(await store.findingEvents("counter")).toHaveLength(1);
      });
    });

    describe("applyChange", () => {
      it("writes the changed finding, its event and outbox items in one go", async () => {
        await seed(store, [finding("f")]);
        const out = await store.applyChange("f", (cur) => ({
          finding: {
            ...cur,
            status: "resolved",
            resolvedAt: at(10),
            statusChangedAt: at(10),
            statusReason: "by hand",
          },
          event: event("f", "resolved by hand", { from: "open", to: "resolved", at: at(10) }),
          outbox: [outbox("f", "resolved")],
        }));
        expect(out.status).toBe("resolved");
        expect(await store.getFinding("f")).toEqual(out);
        expect((await store.findingEvents("f")).map((e) => e.cause)).toEqual(["resolved by hand"]);
        expect((await store.listOutbox({ findingId: "f" })).map((o) => o.event)).toEqual(["resolved"]);
      });

      it("rejects an unknown finding and writes nothing when the change throws", async () => {
        await expect(store.applyChange("nope", (f) => ({ finding: f }))).rejects.toThrow(/no finding nope/);
        await seed(store, [finding("f")]);
        await expect(
          store.applyChange("f", () => {
            throw new Error("refused");
          }),
        ).rejects.toThrow("refused");
        expect((await store.getFinding("f"))?.status).toBe("open");
      });

      it("serialises with a concurrent reconcile of the same finding", async () => {
        await seed(store, [finding("f", { details: { n: 0 } })]);
        const other = await another();
        const inc = (f: Finding): Finding => ({ ...f, details: { n: (f.details.n as number) + 1 } });
        const jobs: Promise<unknown>[] = [];
        for (let i = 0; i < 10; i++) {
          jobs.push(store.applyChange("f", (f) => ({ finding: inc(f) })));
          jobs.push(
            other.reconcile({ account: "111111111111", checks: ["key-inactive"] }, (e) =>
              plan({ upserts: e.map(inc) }),
            ),
          );
        }
        await Promise.all(jobs);
        expect((await store.getFinding("f"))?.details.n).toBe(20);
      });
    });

    describe("lookups", () => {
      const ids = [
        "key-inactive/111111111111/0a1b2c",
        "key-inactive/111111111111/0a9f00",
        "key-age/111111111111/ffee00",
        "key_age/111111111111/aa",
        "Key-age/111111111111/bb",
      ];
      beforeEach(async () =>
        seed(
          store,
          ids.map((id) => finding(id)),
        ),
      );

      it("finds a finding by exact id or a unique prefix, and nothing for an ambiguous one", async () => {
        expect((await store.getFinding(ids[0] ?? ""))?.id).toBe(ids[0]);
        expect((await store.getFinding("key-inactive/111111111111/0a1"))?.id).toBe(ids[0]);
        expect((await store.getFinding("key-age/"))?.id).toBe(ids[2]);
        expect(await store.getFinding("key-inactive/111111111111/0a")).toBeUndefined();
        expect(await store.getFinding("nothing")).toBeUndefined();
        expect(await store.getFinding("")).toBeUndefined();
      });

      it("matches prefixes exactly: case counts and LIKE wildcards are plain characters", async () => {
        expect((await store.getFinding("Key-"))?.id).toBe("Key-age/111111111111/bb");
        expect((await store.getFinding("KEY-AGE/"))?.id).toBeUndefined();
        expect((await store.getFinding("key_"))?.id).toBe("key_age/111111111111/aa");
        expect(await store.getFinding("key%")).toBeUndefined();
        expect((await store.listFindings({ id: "key_" })).map((f) => f.id)).toEqual([
          "key_age/111111111111/aa",
        ]);
      });

      it("an exact id wins over a longer id it is the prefix of", async () => {
        await seed(store, [finding("key-age/111111111111/ffee00/longer")]);
        expect((await store.getFinding("key-age/111111111111/ffee00"))?.id).toBe(
          "key-age/111111111111/ffee00",
        );
      });
    });

    describe("listFindings", () => {
      beforeEach(async () =>
        seed(store, [
          finding("a-1", { account: "a", check: "key-age", severity: "high", status: "open" }),
          finding("a-2", { account: "a", check: "key-inactive", severity: "low", status: "resolved" }),
          finding("a_3", { account: "a", check: "key-inactive", severity: "critical", status: "suppressed" }),
          finding("B-1", { account: "B", check: "key-age", severity: "high", status: "remediated" }),
          finding("b-1", { account: "b", check: "iam-change", severity: "medium", status: "open" }),
        ]),
      );
      const ids = async (f?: Parameters<Store["listFindings"]>[0]) =>
        (await store.listFindings(f)).map((x) => x.id);

      it("orders by account, check and id, byte-wise", async () => {
        expect(await ids()).toEqual(["B-1", "a-1", "a-2", "a_3", "b-1"]);
      });

      it("filters by status, check, account, severity, id prefix and limit, together", async () => {
        expect(await ids({ status: ["open"] })).toEqual(["a-1", "b-1"]);
        expect(await ids({ status: ["open", "suppressed"] })).toEqual(["a-1", "a_3", "b-1"]);
        expect(await ids({ check: ["key-inactive"] })).toEqual(["a-2", "a_3"]);
        expect(await ids({ account: ["a", "B"] })).toEqual(["B-1", "a-1", "a-2", "a_3"]);
        expect(await ids({ severity: ["high", "critical"] })).toEqual(["B-1", "a-1", "a_3"]);
        expect(await ids({ id: "a-" })).toEqual(["a-1", "a-2"]);
        expect(await ids({ limit: 2 })).toEqual(["B-1", "a-1"]);
        expect(await ids({ account: ["a"], status: ["open", "resolved"], check: ["key-inactive"] })).toEqual([
          "a-2",
        ]);
        expect(await ids({ status: [], check: [] })).toHaveLength(5);
        expect(await ids({ account: ["zzz"] })).toEqual([]);
      });
    });

    describe("tickets", () => {
      it("merges keys into a finding's tickets and keeps the others", async () => {
        await seed(store, [finding("f", { tickets: { jiraKey: "SEC-1", notified: { slack: T0 } } })]);
        await store.mergeTickets("f", { pagerdutyDedupKey: "pd-1" });
        await store.mergeTickets("f", { jiraKey: "SEC-2" });
        expect((await store.getFinding("f"))?.tickets).toEqual({
          jiraKey: "SEC-2",
          pagerdutyDedupKey: "pd-1",
          notified: { slack: T0 },
        });
        await store.mergeTickets("missing", { jiraKey: "X" }); // no finding: nothing happens
        expect(await store.getFinding("missing")).toBeUndefined();
      });

      it("keeps every key when merges from two instances race", async () => {
        await seed(store, [finding("f")]);
        const other = await another();
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).mergeTickets("f", { [`k${i}`]: i })),
        );
        expect(Object.keys((await store.getFinding("f"))?.tickets ?? {})).toHaveLength(20);
      });
    });

    describe("outbox", () => {
      const enqueue = async (n: number) => {
        const fs = Array.from({ length: n }, (_, i) => finding(`f${i}`));
        await store.reconcile({ account: "111111111111", checks: [] }, () =>
          plan({ upserts: fs, outbox: fs.map((f) => outbox(f.id, "opened")) }),
        );
        return (await store.listOutbox()).map((o) => o.id);
      };
      // Items are created at wall-clock time; "later" is safely after that.
      const later = (ms = 0) => new Date(Date.now() + 60_000 + ms).toISOString();

      it("claims due pending items oldest first, up to the limit, as a lease", async () => {
        const ids = await enqueue(5);
        expect(await store.dueOutbox("2000-01-01T00:00:00.000Z", 10)).toEqual([]);
        const now = later();
        const first = await store.dueOutbox(now, 3);
        expect(first.map((o) => o.id)).toEqual(ids.slice(0, 3));
        const rest = await store.dueOutbox(now, 10);
        expect(rest.map((o) => o.id)).toEqual(ids.slice(3));
        expect(await store.dueOutbox(now, 10)).toEqual([]);
        // a worker that never reports back: its items come due again when the lease runs out
        const expired = await store.dueOutbox(later(OUTBOX_LEASE_MS + 1000), 10);
        expect(expired.map((o) => o.id)).toEqual(ids);
      });

      it("queues an item at the run's clock when it carries one (scan --now in the past)", async () => {
        const f = finding("past");
        const item = { ...outbox(f.id, "opened"), at: "2020-05-01T00:00:00.000Z" };
        await store.reconcile({ account: "111111111111", checks: [] }, () =>
          plan({ upserts: [f], outbox: [item] }),
        );
        const [queued] = await store.listOutbox();
        expect(queued).toMatchObject({
          createdAt: "2020-05-01T00:00:00.000Z",
          nextAttemptAt: "2020-05-01T00:00:00.000Z",
        });
        expect((await store.dueOutbox("2020-05-01T00:01:00.000Z", 10)).map((o) => o.findingId)).toEqual([
          "past",
        ]);
      });

      it("never hands the same item to two workers claiming at once", async () => {
        const ids = await enqueue(40);
        const other = await another();
        const now = later();
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).dueOutbox(now, 7)),
        );
        const all = claims.flat().map((o) => o.id);
        expect(new Set(all).size).toBe(all.length);
        expect(all.sort((a, b) => a - b)).toEqual(ids);
      });

      it("records delivery and failures", async () => {
        const [a, b, c] = await enqueue(3);
        if (a === undefined || b === undefined || c === undefined) throw new Error("setup");
        await store.markDelivered(a, at(1));
        await store.markFailed(b, "HTTP 503", at(30), false);
        await store.markFailed(c, "HTTP 404 channel_not_found", at(30), true);

        const byId = new Map((await store.listOutbox()).map((o) => [o.id, o]));
        expect(byId.get(a)).toMatchObject({ status: "delivered", deliveredAt: at(1), attempts: 1 });
        expect(byId.get(b)).toMatchObject({
          status: "pending",
          lastError: "HTTP 503",
          nextAttemptAt: at(30),
          attempts: 1,
        });
        expect(byId.get(c)).toMatchObject({
          status: "failed",
          lastError: "HTTP 404 channel_not_found",
          attempts: 1,
        });

        expect(await store.dueOutbox(at(29), 10)).toEqual([]);
        expect((await store.dueOutbox(at(30), 10)).map((o) => o.id)).toEqual([b]);
        await store.markDelivered(b, at(31));
        expect((await store.listOutbox({ status: ["delivered"] })).map((o) => o.id)).toEqual([a, b]);
        expect(await store.listOutbox({ status: ["pending"] })).toEqual([]);
        expect((await store.listOutbox({ status: ["failed", "pending"] })).map((o) => o.id)).toEqual([c]);
        expect((await store.listOutbox({ findingId: "f1" })).map((o) => o.id)).toEqual([b]);
        expect(byId.get(b)?.attempts).toBe(1);
        expect((await store.listOutbox({ findingId: "f1" }))[0]).toMatchObject({
          attempts: 2,
          lastError: undefined,
        });
      });
    });

    describe("audit log", () => {
      it("appends entries with increasing ids and lists them by filter", async () => {
        const a = await store.appendAudit(audit({ at: at(1), runId: "r1", findingId: "f1" }));
        const b = await store.appendAudit(audit({ at: at(2), runId: "r1", account: "222222222222" }));
        const c = await store.appendAudit(audit({ at: at(3), runId: "r2", findingId: "f1" }));
        expect(a).toBeLessThan(b);
        expect(b).toBeLessThan(c);
        const list = await store.listAudit();
        expect(list.map((e) => e.id)).toEqual([a, b, c]);
        expect(list[0]).toEqual({
          ...audit({ at: at(1), runId: "r1", findingId: "f1" }),
          id: a,
          result: "pending",
          outcome: undefined,
          finishedAt: undefined,
        });
        const ids = async (f: Parameters<Store["listAudit"]>[0]) =>
          (await store.listAudit(f)).map((e) => e.id);
        expect(await ids({ since: at(2) })).toEqual([b, c]);
        expect(await ids({ runId: "r1" })).toEqual([a, b]);
        expect(await ids({ findingId: "f1" })).toEqual([a, c]);
        expect(await ids({ account: "222222222222" })).toEqual([b]);
        expect(await ids({ runId: "r1", findingId: "f1" })).toEqual([a]);
      });

      it("finishes an entry once; a second finish is refused and changes nothing", async () => {
        const id = await store.appendAudit(audit());
        await store.finishAudit(id, "applied", { status: "Inactive" }, at(1));
        await expect(store.finishAudit(id, "rolled-back", { status: "Active" }, at(2))).rejects.toThrow(
          /already finished/,
        );
        const [e] = await store.listAudit();
        expect(e).toMatchObject({ result: "applied", outcome: { status: "Inactive" }, finishedAt: at(1) });
      });

      it("refuses to delete entries, even with raw SQL", async () => {
        await store.appendAudit(audit());
        await expect(hooks.exec("DELETE FROM audit_log")).rejects.toThrow(/append-only/);
        expect(await store.listAudit()).toHaveLength(1);
      });
    });

    describe("known keys", () => {
      const known = (keyId: string, p: Partial<KnownKey> = {}): KnownKey => ({
        account: "111111111111",
        keyId,
        user: "alice",
        userArn: "arn:aws:iam::111111111111:user/alice",
        userCreated: "2020-01-01T00:00:00.000Z",
        created: "2025-01-01T10:00:00.000Z",
        status: "Active",
        used: false,
        listedAt: T0,
        ...p,
      });

      it("keeps key ids per account, updates them in place and forgets removed ones", async () => {
        const a = known("AKIAAAAAAAAAAAAAAAA1");
        const b = known("AKIAAAAAAAAAAAAAAAA2", { user: "bob,ops", status: "Inactive", used: true });
        const other = known("AKIAAAAAAAAAAAAAAAA3", { account: "222222222222" });
        await store.saveKnownKeys("111111111111", { upsert: [b, a], remove: [] });
        await store.saveKnownKeys("222222222222", { upsert: [other], remove: [] });
        expect(await store.knownKeys("111111111111")).toEqual([a, b]);

        const moved = { ...a, status: "Inactive" as const, used: true, listedAt: at(5) };
        await store.saveKnownKeys("111111111111", { upsert: [moved], remove: [b.keyId, other.keyId] });
        expect(await (await another()).knownKeys("111111111111")).toEqual([moved]);
        // A removal names keys of its own account only.
        expect(await store.knownKeys("222222222222")).toEqual([other]);
        expect(await store.knownKeys("333333333333")).toEqual([]);
      });
    });

    describe("processed objects", () => {
      it("remembers objects read per source with their ETag, and a new ETag replaces the old", async () => {
        const keys = Array.from(
          { length: 1200 },
          (_, i) => `AWSLogs/1/CloudTrail/us-east-1/2024/03/15/f${i}.json.gz`,
        );
        expect(await store.processedObjects("s3://trail", keys)).toEqual(new Map());
        await store.markProcessed(
          "s3://trail",
          keys.slice(0, 1100).map((key) => ({ key, etag: '"a"' })),
          at(1),
        );
        await store.markProcessed("s3://other", [{ key: keys[1150]!, etag: '"o"' }], at(1));
        const seen = await store.processedObjects("s3://trail", keys);
        expect(seen.size).toBe(1100);
        expect(seen.get(keys[0]!)).toBe('"a"');
        expect(seen.has(keys[1150]!)).toBe(false);
        await store.markProcessed("s3://trail", [{ key: keys[0]!, etag: '"b"' }], at(2));
        expect(await store.processedObjects("s3://trail", [keys[0]!, "missing"])).toEqual(
          new Map([[keys[0]!, '"b"']]),
        );
        expect(await store.processedObjects("s3://other", [keys[1150]!])).toEqual(
          new Map([[keys[1150]!, '"o"']]),
        );
      });
    });

    describe("runs", () => {
      it("records runs and lists the newest first", async () => {
        await store.startRun({ id: "r1", command: "scan", actor: "a", startedAt: at(1) });
        await store.startRun({ id: "r2", command: "remediate", actor: "b", startedAt: at(2) });
        await store.finishRun("r1", at(3), { accounts: 2, findings: { open: 3 } });
        expect(await store.listRuns()).toEqual([
          {
            id: "r2",
            command: "remediate",
            actor: "b",
            startedAt: at(2),
            finishedAt: undefined,
            summary: undefined,
          },
          {
            id: "r1",
            command: "scan",
            actor: "a",
            startedAt: at(1),
            finishedAt: at(3),
            summary: { accounts: 2, findings: { open: 3 } },
          },
        ]);
        expect((await store.listRuns(1)).map((r) => r.id)).toEqual(["r2"]);
        await expect(
          store.startRun({ id: "r1", command: "scan", actor: "a", startedAt: at(4) }),
        ).rejects.toThrow();
      });
    });
  });
}
