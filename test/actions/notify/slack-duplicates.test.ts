import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLog } from "../../../src/actions/notify/channel.js";
import { channelsFromConfig } from "../../../src/actions/notify/channels.js";
import { deliverOutbox } from "../../../src/actions/notify/deliver.js";
import { SLACK_EVENT_TYPE } from "../../../src/actions/notify/slack.js";
import { type Config, configSchema } from "../../../src/config/schema.js";
import { planReconcile } from "../../../src/engine/reconcile.js";
import { routerFromConfig } from "../../../src/engine/routing.js";
import type { Candidate } from "../../../src/model/finding.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import { OUTBOX_LEASE_MS, type Store } from "../../../src/store/store.js";
import { type FakeSlack, startFakeSlack } from "../../support/fake-apis/slack.js";

const T0 = new Date("2026-06-01T08:00:00Z");
const later = (ms: number) => new Date(T0.getTime() + ms);
const cand: Candidate = {
  check: "key-inactive",
  account: "111122223333",
  resource: "AKIAIOSFODNN7EXAMPLE",
  owner: "bob",
  severity: "medium",
  title: "Access key of bob unused for 120 days",
  details: { username: "bob", keyId: "AKIAIOSFODNN7EXAMPLE" },
};

let slack: FakeSlack;
let store: Store;
let config: Config;
beforeEach(async () => {
  slack = await startFakeSlack({ token: "xoxb-1", channels: ["#iam-alerts"] });
  store = openSqliteStore(":memory:");
  config = configSchema.parse({
    notify: { slack: { token: "xoxb-1", channel: "#iam-alerts", apiUrl: slack.apiUrl, dmOwners: false } },
  });
  await store.reconcile({ account: cand.account, checks: [cand.check] }, (existing) =>
    planReconcile(existing, {
      account: cand.account,
      checks: [cand.check],
      kind: "state",
      complete: true,
      candidates: [cand],
      suppress: () => undefined,
      route: routerFromConfig(config.notify),
      renotifyHours: 24,
      now: T0,
      runId: "r1",
    }),
  );
});
afterEach(async () => {
  await store.close();
  await slack.close();
});

const flush = async (now: Date) =>
  deliverOutbox(store, config, { now, channels: await channelsFromConfig(config) });

describe("Slack: no duplicate after an uncertain attempt", () => {
  it("tags each message with the finding and event as metadata", async () => {
    expect(await flush(T0)).toMatchObject({ delivered: 1 });
    const [item] = await store.listOutbox();
    expect(slack.posts).toHaveLength(1);
    expect(slack.posts[0]!.metadata).toEqual({
      event_type: SLACK_EVENT_TYPE,
      event_payload: { finding_id: item!.findingId, event: "opened", delivery: item!.dedupKey },
    });
    expect(slack.violations).toEqual([]);
  });

  it("finds its own message after a lost response instead of posting again", async () => {
    slack.loseResponses(1);
    expect(await flush(T0)).toMatchObject({ delivered: 0, pending: 1 });
    expect(slack.posts).toHaveLength(1); // it did reach Slack
    expect(await flush(later(3_600_000))).toMatchObject({ delivered: 1, pending: 0 });
    expect(slack.posts).toHaveLength(1);
    const history = slack.requests.filter((r) => r.path === "/api/conversations.history");
    expect(history).toHaveLength(1);
    expect(slack.violations).toEqual([]);
  });

  it("finds its own message after a crash between the post and the delivered mark", async () => {
    // A worker claims the item, posts, and dies before recording anything about the outcome.
    const channels = await channelsFromConfig(config);
    const [item] = await store.dueOutbox(T0.toISOString(), 10);
    const finding = (await store.getFinding(item!.findingId))!;
    await channels.slack!.send(item!, finding, {
      now: T0,
      recipients: { slack: ["#iam-alerts"], email: [], jiraAssignees: [] },
      log: silentLog,
      mergeTickets: (patch) => store.mergeTickets(finding.id, patch),
    });
    expect(slack.posts).toHaveLength(1);
    // The lease runs out; the next run takes the item again (attempts still 0).
    const report = await flush(later(OUTBOX_LEASE_MS + 60_000));
    expect(report).toMatchObject({ delivered: 1 });
    expect(slack.posts).toHaveLength(1);
    expect((await store.getFinding(finding.id))!.tickets.slackProgress).toBeNull();
  });

  it("posts again (at least once) when the history cannot be read", async () => {
    slack.loseResponses(1);
    await flush(T0);
    slack.historyError = "missing_scope";
    expect(await flush(later(3_600_000))).toMatchObject({ delivered: 1 });
    expect(slack.posts).toHaveLength(2);
  });
});
