import { afterEach, describe, expect, it } from "vitest";
import { deliverOutbox } from "../../../src/actions/notify/deliver.js";
import { jiraChannel } from "../../../src/actions/notify/jira.js";
import { CHANNEL_NAMES, channelRegistry } from "../../../src/actions/notify/registry.js";
import { configSchema } from "../../../src/config/schema.js";
import { findingChange } from "../../../src/engine/finding-change.js";
import { enqueue, outboxDedupKey } from "../../../src/engine/outbox.js";
import { planReconcile } from "../../../src/engine/reconcile.js";
import { type Router, routerFromConfig } from "../../../src/engine/routing.js";
import type { Candidate, Finding } from "../../../src/model/finding.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import type { Store } from "../../../src/store/store.js";
import { type FakeJira, startFakeJira } from "../../support/fake-apis/jira.js";

const ACCOUNT = "111122223333";
const cand = (severity: Candidate["severity"]): Candidate => ({
  check: "key-age",
  account: ACCOUNT,
  resource: "AKIAIOSFODNN7EXAMPLE",
  owner: "alice",
  severity,
  title: "Access key of alice is old",
  details: { username: "alice", keyId: "AKIAIOSFODNN7EXAMPLE" },
});

let store: Store | undefined;
let jira: FakeJira | undefined;
afterEach(async () => {
  await store?.close();
  await jira?.close();
  store = undefined;
  jira = undefined;
});

async function scan(s: Store, c: Candidate, now: string, route: Router, renotifyHours = 24) {
  return s.reconcile({ account: ACCOUNT, checks: [c.check] }, (existing) =>
    planReconcile(existing, {
      account: ACCOUNT,
      checks: [c.check],
      kind: "state",
      complete: true,
      candidates: [c],
      suppress: () => undefined,
      route,
      renotifyHours,
      now: new Date(now),
      runId: now,
    }),
  );
}

describe("the channel registry", () => {
  it("is the one source of the notify config keys", () => {
    const shape = configSchema.shape.notify.unwrap().shape;
    expect(Object.keys(shape).sort()).toEqual([...CHANNEL_NAMES, "templates"].sort());
    for (const name of CHANNEL_NAMES) expect(channelRegistry[name].name).toBe(name);
  });

  it("routes escalated to Jira, and applies PagerDuty's minSeverity through the entry's accepts", () => {
    const config = configSchema.parse({
      notify: {
        jira: { url: "https://jira.example", token: "t", project: "SEC" },
        pagerduty: { routingKey: "k", minSeverity: "critical" },
        slack: { channel: "#x" }, // no token nor webhook: not usable, not routed
      },
    });
    const route = routerFromConfig(config.notify);
    const f = { tickets: {}, severity: "high" } as unknown as Finding;
    expect(route(f, "escalated")).toEqual(["jira"]);
    expect(route({ ...f, severity: "critical" }, "escalated")).toEqual(["jira", "pagerduty"]);
    expect(route(f, "reminder")).toEqual([]);
  });

  it("keeps a re-notify window per channel, not Slack's for everyone", async () => {
    const s = openSqliteStore(":memory:");
    store = s;
    // Two channels that take reminders, with their own windows; the planner's default is 24 h.
    const route: Router = Object.assign((_f: Finding, _e: string) => ["slack", "teams"], {
      renotifyHours: (c: string) => (c === "slack" ? 4 : 48),
    });
    await scan(s, cand("medium"), "2026-01-01T00:00:00Z", route);
    await scan(s, cand("medium"), "2026-01-01T05:00:00Z", route);
    await scan(s, cand("medium"), "2026-01-03T01:00:00Z", route);
    const reminders = (await s.listOutbox()).filter((o) => o.event === "reminder");
    expect(reminders.map((o) => `${o.channel}@${o.createdAt.slice(0, 13)}`)).toEqual([
      "slack@2026-01-01T05",
      "slack@2026-01-03T01",
      "teams@2026-01-03T01",
    ]);
    // From config: Slack's own window, whatever default the caller passes.
    const fromConfig = routerFromConfig(
      configSchema.parse({ notify: { slack: { token: "x", channel: "#a", renotifyHours: 6 } } }).notify,
    );
    expect(fromConfig.renotifyHours?.("slack")).toBe(6);
  });

  it("makes outbox items one way: scans and hand changes share the dedup keys", () => {
    const now = new Date("2026-02-01T00:00:00Z");
    const f = { id: "key-age/1/abc", status: "open", tickets: {} } as unknown as Finding;
    const route: Router = () => ["slack"];
    const byHand = findingChange({ route, now, runId: "r" }, f, "open", "x", "opened", {});
    const fromScan = enqueue({ ...f, tickets: {} }, "opened", ["slack"], now);
    expect(byHand.outbox[0]!.dedupKey).toBe(fromScan[0]!.dedupKey);
    expect(fromScan[0]!.dedupKey).toBe("key-age/1/abc|opened|slack");
    expect(outboxDedupKey(f.id, "resolved", "slack", now.toISOString())).toBe(
      "key-age/1/abc|resolved|slack|2026-02-01T00:00:00.000Z",
    );
    expect(byHand.finding.tickets.notified).toEqual({ slack: now.toISOString() });
    expect(byHand.finding.firstReportedAt).toBe(now.toISOString());
  });

  it("tells the Jira ticket when the severity rises", async () => {
    const j = await startFakeJira({ version: 2, token: "pat-1", projects: ["OPS"] });
    jira = j;
    const config = configSchema.parse({
      notify: { jira: { url: j.url, token: "pat-1", apiVersion: 2, project: "OPS" } },
    });
    const s = openSqliteStore(":memory:");
    store = s;
    const route = routerFromConfig(config.notify);
    const channels = { jira: jiraChannel(config.notify.jira!, { templates: {}, searchRetryDelaysMs: [0] }) };
    await scan(s, cand("medium"), "2026-03-01T00:00:00Z", route);
    await deliverOutbox(s, config, { now: new Date("2026-03-01T00:00:00Z"), channels });
    await scan(s, cand("high"), "2026-03-02T00:00:00Z", route);
    const report = await deliverOutbox(s, config, { now: new Date("2026-03-02T00:00:00Z"), channels });
    expect(report).toMatchObject({ delivered: 1, failed: 0, channels: { jira: { delivered: 1 } } });
    expect(j.issues).toHaveLength(1);
    expect(j.issues[0]!.comments).toEqual(["iamwarden: Severity raised: medium → high."]);
    expect(j.violations).toEqual([]);
  });
});
