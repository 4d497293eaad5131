import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { channelsFromConfig } from "../../../src/actions/notify/channels.js";
import { type DeliveryOutcome, deliverOutbox } from "../../../src/actions/notify/deliver.js";
import { findingLabel } from "../../../src/actions/notify/jira.js";
import { routerFromConfig } from "../../../src/engine/routing.js";
import { reconcileSnapshot } from "../../../src/engine/scan.js";
import type { AccessKey, AccountSnapshot } from "../../../src/model/observations.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import type { Store } from "../../../src/store/store.js";
import type { Recorded } from "../../support/fake-apis/server.js";
import { startWorld, type World } from "../../support/fake-apis/world.js";

const ACCOUNT = { id: "111122223333", alias: "prod" };
const ALICE_KEY = "AKIAALICEKEY00000001";

const aliceKey = (status: AccessKey["status"] = "Active"): AccessKey => ({
  account: ACCOUNT,
  user: "alice",
  keyId: ALICE_KEY,
  status,
  createDate: new Date("2026-01-01T00:00:00Z"),
  lastUsed: new Date("2026-02-01T00:00:00Z"),
});
const bobKey: AccessKey = {
  account: ACCOUNT,
  user: "bob",
  keyId: "AKIABOBKEY0000000001",
  status: "Active",
  createDate: new Date("2026-05-01T00:00:00Z"),
  lastUsed: new Date("2026-07-31T00:00:00Z"),
};
/** Used yesterday but 212 days old: one finding (key-age, expired). */
const oldKey: AccessKey = { ...aliceKey(), lastUsed: new Date("2026-07-31T00:00:00Z") };
const snapshot = (keys: AccessKey[]): AccountSnapshot => ({
  account: ACCOUNT,
  source: "api",
  users: [],
  keys,
  complete: true,
  warnings: [],
});

const T0 = new Date("2026-08-01T09:00:00Z");
const at = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);

let world: World;
let store: Store;

beforeEach(async () => {
  world = await startWorld();
  store = openSqliteStore(":memory:");
});
afterEach(async () => {
  await store.close();
  await world.close();
});

/** One scan (real checks, planner and SQLite transaction) and one delivery, both at `now`. */
async function run(keys: AccessKey[], now: Date, s: Store = store, concurrency?: number) {
  await reconcileSnapshot(snapshot(keys), world.config, {
    store: s,
    route: routerFromConfig(world.config.notify),
    now,
    runId: `run-${now.toISOString()}`,
  });
  return flush(now, s, concurrency);
}

async function flush(now: Date, s: Store = store, concurrency?: number) {
  const outcomes: DeliveryOutcome[] = [];
  const summary = await deliverOutbox(s, world.config, {
    now,
    channels: await channelsFromConfig(world.config, { jiraSearchRetryDelaysMs: [0, 0, 0] }),
    onOutcome: (o) => outcomes.push(o),
    concurrency,
  });
  return { ...summary, outcomes };
}

const creates = () =>
  world.jira.requests.filter((r) => r.method === "POST" && r.path === "/rest/api/3/issue");

describe("reporting through the outbox", () => {
  it("reports once, stays quiet an hour later, reminds after 25 h and closes everything on resolve", async () => {
    // First run: alice's key is inactive (medium) and past its age limit (high); bob's is fine.
    const first = await run([aliceKey(), bobKey], T0);
    expect(first).toMatchObject({ delivered: 9, failed: 0, pending: 0 });
    const findings = await store.listFindings();
    expect(findings.map((f) => f.check).sort()).toEqual(["key-age", "key-inactive"]);

    // Jira: one ticket per finding, labelled, assigned, prioritised, key stored on the finding.
    expect(world.jira.issues).toHaveLength(2);
    for (const f of findings) {
      const issue = world.jira.issues.find((i) => i.key === f.tickets.jiraKey);
      expect(issue).toBeDefined();
      expect(issue!.labels).toEqual(["iamwarden", findingLabel(f.id)]);
      expect(issue!.assignee).toEqual({ accountId: "acc-alice" });
      expect(issue!.priority).toBe(f.severity === "high" ? "High" : "Medium");
      expect(JSON.stringify(issue!.description)).not.toContain(ALICE_KEY);
    }

    // Slack: one channel message per finding (key masked) and one DM to alice (key in full).
    const channelPosts = world.slack.posts.filter((p) => p.channel === "#iam-alerts");
    const dms = world.slack.posts.filter((p) => p.channel === "D0ALICE01");
    expect(channelPosts).toHaveLength(2);
    expect(dms).toHaveLength(2);
    expect(JSON.stringify(channelPosts)).not.toContain(ALICE_KEY);
    expect(JSON.stringify(channelPosts)).toContain("AKIA…0001");
    expect(JSON.stringify(dms)).toContain(`--access-key-id ${ALICE_KEY} --status Inactive`);

    // PagerDuty pages only for high and above; SNS and the webhook hear about everything.
    expect(world.pd.events).toHaveLength(1);
    expect(world.pd.events[0]).toMatchObject({
      event_action: "trigger",
      payload: { severity: "error", class: "key-age" },
    });
    const paged = findings.find((f) => f.check === "key-age")!;
    expect(world.pd.events[0]!.dedup_key).toBe(paged.id);
    expect((await store.getFinding(paged.id))!.tickets.pagerdutyDedupKey).toBe(paged.id);
    expect(world.sns.published).toHaveLength(2);
    expect(world.hook.received).toHaveLength(2);
    expect(JSON.stringify([world.sns.published, world.hook.received, world.pd.events])).not.toContain(
      ALICE_KEY,
    );

    // An hour later: nothing is queued and nothing is sent.
    const counts = () => [
      world.jira.issues.length,
      world.slack.posts.length,
      world.pd.events.length,
      world.sns.published.length,
      world.hook.received.length,
    ];
    const before = counts();
    expect(await run([aliceKey(), bobKey], at(1))).toMatchObject({ delivered: 0, failed: 0, pending: 0 });
    expect(counts()).toEqual(before);

    // 25 hours later: one Slack reminder per finding (channel and DM), nothing else.
    const reminder = await run([aliceKey(), bobKey], at(25));
    expect(reminder).toMatchObject({ delivered: 2, failed: 0, pending: 0 });
    expect(reminder.outcomes.map((o) => `${o.item.channel}:${o.item.event}`)).toEqual([
      "slack:reminder",
      "slack:reminder",
    ]);
    expect(world.slack.posts).toHaveLength(8);
    expect(
      world.slack.posts
        .slice(4)
        .every((p) => p.blocks[0]?.text && JSON.stringify(p.blocks[0]).includes("Reminder")),
    ).toBe(true);
    expect(world.jira.issues).toHaveLength(2);

    // Alice deactivates her key: both findings resolve. Jira transitions each ticket into the
    // done category (not the decoy transition called "Done"), Slack says so, PagerDuty resolves.
    const resolved = await run([aliceKey("Inactive"), bobKey], at(26));
    expect(resolved).toMatchObject({ failed: 0, pending: 0 });
    expect(world.jira.issues.map((i) => i.status)).toEqual(["Geschlossen", "Geschlossen"]);
    const transitions = world.jira.requests.filter(
      (r) => r.method === "POST" && r.path.endsWith("/transitions"),
    );
    expect(transitions.map((r) => JSON.parse(r.body).transition.id)).toEqual(["31", "31"]);
    expect(world.jira.issues.every((i) => i.comments.length === 1)).toBe(true);
    expect(
      world.slack.posts
        .slice(8)
        .filter((p) => p.channel === "#iam-alerts")
        .map((p) => p.blocks[0]?.text),
    ).toEqual([
      { type: "plain_text", text: "Resolved", emoji: true },
      { type: "plain_text", text: "Resolved", emoji: true },
    ]);
    expect(world.pd.events.at(-1)).toEqual({
      routing_key: expect.any(String),
      event_action: "resolve",
      dedup_key: paged.id,
    });
    expect(world.pd.alerts.get(paged.id)).toBe("resolved");
    expect(creates()).toHaveLength(2);
    expect(world.violations()).toEqual([]);
  });

  it("keeps items pending through an outage, with the error and next retry, and delivers them later", async () => {
    const toChannel = (r: Recorded) =>
      r.path === "/api/chat.postMessage" && new URLSearchParams(r.body).get("channel") === "#iam-alerts";
    world.slack.inject(
      toChannel,
      { status: 500, body: "upstream down" },
      { status: 500, body: "upstream down" },
    );
    const first = await run([aliceKey(), bobKey], T0);
    expect(first.pending).toBe(2);
    const pending = await store.listOutbox({ status: ["pending"] });
    expect(pending).toHaveLength(2);
    for (const p of pending) {
      expect(p.channel).toBe("slack");
      expect(p.lastError).toMatch(/slack chat.postMessage: HTTP 500/);
      expect(p.attempts).toBe(1);
      expect(p.nextAttemptAt).toBe(new Date(T0.getTime() + 60_000).toISOString()); // first backoff: a minute
    }
    // Not due yet: nothing happens.
    expect(await flush(new Date(T0.getTime() + 30_000))).toMatchObject({ delivered: 0, pending: 0 });
    const later = await flush(at(0.1));
    expect(later).toMatchObject({ delivered: 2, failed: 0, pending: 0 });
    // The DMs that went through on the first attempt were not sent again.
    const dms = world.slack.posts.filter((p) => p.channel === "D0ALICE01");
    expect(dms).toHaveLength(2);
    expect(world.slack.posts.filter((p) => p.channel === "#iam-alerts")).toHaveLength(2);
    expect(await store.listOutbox({ status: ["pending", "failed"] })).toEqual([]);
    expect(world.violations()).toEqual([]);
  });

  it("honours Retry-After and leaves a throttled channel alone for the rest of the run", async () => {
    world.jira.inject((r) => r.method === "POST" && r.path === "/rest/api/3/issue", {
      status: 429,
      headers: { "retry-after": "120" },
      body: { errorMessages: ["Rate limit exceeded."] },
    });
    const first = await run([aliceKey()], T0, store, 1);
    const jiraOutcomes = first.outcomes.filter((o) => o.item.channel === "jira");
    expect(jiraOutcomes.map((o) => o.result).sort()).toEqual(["deferred", "retry"]);
    const retry = jiraOutcomes.find((o) => o.result === "retry")!;
    expect(retry.nextAttemptAt).toBe(new Date(T0.getTime() + 120_000).toISOString());
    expect(retry.error).toMatch(/jira create issue: HTTP 429 Rate limit exceeded/);
    expect(creates()).toHaveLength(1);

    // The throttled item is due after its Retry-After; the one that was not tried comes back
    // when the store's lease on it runs out.
    expect(await flush(at(0.05))).toMatchObject({ delivered: 1, pending: 0, failed: 0 });
    expect(world.jira.issues).toHaveLength(1);
    expect(await flush(at(0.2))).toMatchObject({ delivered: 1, pending: 0, failed: 0 });
    expect(world.jira.issues).toHaveLength(2);
    expect(world.violations()).toEqual([]);
  });

  it("never opens a second ticket when the process dies between the Jira create and storing its key", async () => {
    // The store "dies" right after Jira answered the create: the key is never written.
    let dead = false;
    const dying: Store = {
      ...store,
      mergeTickets: async (id, patch) => {
        if ("jiraKey" in patch) {
          dead = true;
          throw new Error("killed");
        }
        return store.mergeTickets(id, patch);
      },
      markFailed: async (...a) => {
        if (dead) throw new Error("killed");
        return store.markFailed(...a);
      },
      markDelivered: async (...a) => {
        if (dead) throw new Error("killed");
        return store.markDelivered(...a);
      },
    };
    // Only Jira is configured, so the crash is the only thing happening.
    world.config.notify = { templates: {}, jira: world.config.notify.jira };
    await expect(run([oldKey], T0, dying)).rejects.toThrow("killed");
    expect(world.jira.issues).toHaveLength(1);
    const f = (await store.listFindings())[0]!;
    expect(f.tickets.jiraKey).toBeUndefined();
    expect(f.tickets.jiraCreateStartedAt).toBe(T0.toISOString());
    expect((await store.listOutbox({ status: ["pending"] })).map((o) => o.attempts)).toEqual([0]);

    // The dead worker's lease runs out, and the item is due again. Jira's search is eventually
    // consistent: the new ticket stays invisible for two more searches.
    world.jira.issues[0]!.hiddenFor = 2;
    expect(await flush(at(0.1))).toMatchObject({ delivered: 0, pending: 0 });
    const next = await flush(at(0.2));
    expect(next).toMatchObject({ delivered: 1, failed: 0, pending: 0 });
    expect(creates()).toHaveLength(1);
    expect(world.jira.issues).toHaveLength(1);
    expect((await store.getFinding(f.id))!.tickets.jiraKey).toBe(world.jira.issues[0]!.key);
    const searches = world.jira.requests.filter((r) => r.path === "/rest/api/3/search/jql");
    expect(searches).toHaveLength(4); // one before the create, three after the crash
    expect(await store.listOutbox({ status: ["pending", "failed"] })).toEqual([]);
    expect(world.violations()).toEqual([]);
  });

  it("fails permanently what can never succeed, and says why", async () => {
    world.config.owners.accounts[ACCOUNT.id] = { slack: ["#gone"], jiraProject: "NOPE" };
    world.config.notify.pagerduty = { ...world.config.notify.pagerduty!, routingKey: "short" };
    const first = await run([aliceKey()], T0);
    const failed = await store.listOutbox({ status: ["failed"] });
    const byChannel = Object.fromEntries(
      failed.map((o) => [`${o.channel}:${o.findingId.split("/")[0]}`, o.lastError]),
    );
    expect(byChannel["jira:key-age"]).toMatch(
      /jira create issue: HTTP 400 project: valid project is required/,
    );
    expect(byChannel["slack:key-age"]).toMatch(
      /slack chat.postMessage: channel_not_found \(already posted to dm:U0ALICE01\)/,
    );
    expect(byChannel["pagerduty:key-age"]).toMatch(/pagerduty: HTTP 400 .*routing_key/);
    expect(first.failed).toBe(5);
    expect(first.pending).toBe(0);
    // SNS and the webhook were unaffected.
    expect(world.sns.published).toHaveLength(2);
    expect(world.violations()).toEqual([]);
  });

  it("keeps each finding's notifications on a channel in order: a resolve waits for its open", async () => {
    world.config.notify = { templates: {}, jira: world.config.notify.jira };
    world.jira.inject(
      (r) => r.method === "POST" && r.path === "/rest/api/3/issue",
      { status: 503, body: {} },
      { status: 503, body: {} },
    );
    await run([aliceKey()], T0);
    expect(world.jira.issues).toHaveLength(0);
    // The key is gone before the retry is due: the resolve is queued but must not overtake.
    const early = await run([], new Date(T0.getTime() + 10_000));
    expect(early.outcomes.map((o) => `${o.item.event}:${o.result}`)).toEqual([
      "resolved:deferred",
      "resolved:deferred",
    ]);
    const later = await flush(at(0.2));
    expect(later).toMatchObject({ delivered: 4, failed: 0, pending: 0 });
    expect(world.jira.issues.map((i) => i.status)).toEqual(["Geschlossen", "Geschlossen"]);
    expect(world.violations()).toEqual([]);
  });
  it("stops on a bad owners file before claiming anything, so nothing waits for a lease", async () => {
    world.config.owners.users = "does-not-exist.yaml";
    await reconcileSnapshot(snapshot([oldKey]), world.config, {
      store,
      route: routerFromConfig(world.config.notify),
      now: T0,
      runId: "r",
    });
    await expect(flush(T0)).rejects.toThrow("does-not-exist.yaml: cannot read owners file (ENOENT)");
    const items = await store.listOutbox({ status: ["pending"] });
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((o) => o.nextAttemptAt === T0.toISOString() && o.attempts === 0)).toBe(true);
  });
});
