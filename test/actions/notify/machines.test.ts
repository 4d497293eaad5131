import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ChannelContext, DeliveryError, silentLog } from "../../../src/actions/notify/channel.js";
import { pagerdutyChannel } from "../../../src/actions/notify/pagerduty.js";
import { snsChannel } from "../../../src/actions/notify/sns.js";
import { signature, webhookChannel } from "../../../src/actions/notify/webhook.js";
import { awsSchema } from "../../../src/config/aws.js";
import type { Finding } from "../../../src/model/finding.js";
import type { OutboxItem } from "../../../src/model/outbox.js";
import { startFakePagerDuty } from "../../support/fake-apis/pagerduty.js";
import type { FakeServer } from "../../support/fake-apis/server.js";
import { startFakeSns } from "../../support/fake-apis/sns.js";
import { startFakeWebhook } from "../../support/fake-apis/webhook.js";
import { fakeAwsEnv } from "../../support/fake-apis/world.js";

const NOW = new Date("2026-05-01T12:00:00Z");
const KEY = "AKIAIOSFODNN7EXAMPLE";
const finding = (over: Partial<Finding> = {}): Finding => ({
  id: "key-age/111122223333/abc123abc123",
  check: "key-age",
  account: "111122223333",
  accountAlias: "prod",
  resource: KEY,
  owner: "alice",
  severity: "critical",
  status: "open",
  title: "Access key of alice is 400 days old",
  details: { username: "alice", keyId: KEY },
  firstSeen: NOW.toISOString(),
  lastSeen: NOW.toISOString(),
  statusChangedAt: NOW.toISOString(),
  tickets: {},
  ...over,
});
const item = (event: OutboxItem["event"], channel: string): OutboxItem => ({
  id: 1,
  dedupKey: `key-age/111122223333/abc123abc123|${event}|${channel}`,
  findingId: "key-age/111122223333/abc123abc123",
  event,
  channel,
  status: "pending",
  attempts: 0,
  nextAttemptAt: NOW.toISOString(),
  createdAt: NOW.toISOString(),
  payload: {},
});
const ctx: ChannelContext = {
  now: NOW,
  recipients: { slack: [], email: [], jiraAssignees: [] },
  log: silentLog,
  mergeTickets: async () => {},
};

let servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
beforeAll(fakeAwsEnv);

describe("PagerDuty Events API v2", () => {
  const KEY_A = "A".repeat(32);
  const KEY_ROOT = "B".repeat(32);

  it("triggers with the finding id as dedup key, routes per check, resolves, and stores the key", async () => {
    const pd = await startFakePagerDuty({ routingKeys: [KEY_A, KEY_ROOT] });
    servers.push(pd);
    const ch = pagerdutyChannel(
      {
        enabled: true,
        routingKey: KEY_A,
        routingKeys: { "root-access-key": KEY_ROOT },
        minSeverity: "high",
        url: pd.enqueueUrl,
      },
      { templates: {}, jiraUrl: "https://j.example" },
    );
    const f = finding({ tickets: { jiraKey: "SEC-3" } });
    expect(await ch.send(item("opened", "pagerduty"), f, ctx)).toEqual({
      tickets: { pagerdutyDedupKey: f.id },
      note: "triggered",
    });
    expect(pd.events[0]).toMatchObject({
      routing_key: KEY_A,
      event_action: "trigger",
      dedup_key: f.id,
      payload: {
        severity: "critical",
        source: "aws:111122223333 (prod)",
        component: "alice",
        class: "key-age",
        group: "prod",
      },
      links: [{ href: "https://j.example/browse/SEC-3", text: "Jira SEC-3" }],
    });
    expect(JSON.stringify(pd.events)).not.toContain(KEY);
    await ch.send(item("opened", "pagerduty"), finding({ check: "root-access-key", id: "root/1" }), ctx);
    expect(pd.events[1]!.routing_key).toBe(KEY_ROOT);
    expect(await ch.send(item("resolved", "pagerduty"), f, ctx)).toMatchObject({
      tickets: { pagerdutyDedupKey: null },
    });
    expect(pd.alerts.get(f.id)).toBe("resolved");
    expect(pd.violations).toEqual([]);
  });

  it("fails 400 permanently and retries 429 and 5xx", async () => {
    const pd = await startFakePagerDuty({ routingKeys: [KEY_A] });
    servers.push(pd);
    const ch = pagerdutyChannel(
      { enabled: true, routingKey: KEY_A, routingKeys: {}, minSeverity: "high", url: pd.enqueueUrl },
      { templates: {} },
    );
    pd.inject(() => true, {
      status: 429,
      body: { status: "throttle event", message: "Requests for this service are arriving too quickly." },
    });
    await expect(ch.send(item("opened", "pagerduty"), finding(), ctx)).rejects.toMatchObject({
      permanent: false,
    });
    pd.inject(() => true, { status: 502, body: "" });
    await expect(ch.send(item("opened", "pagerduty"), finding(), ctx)).rejects.toMatchObject({
      permanent: false,
    });
    const bad = pagerdutyChannel(
      { enabled: true, routingKey: "nope", routingKeys: {}, minSeverity: "high", url: pd.enqueueUrl },
      { templates: {} },
    );
    const e = await bad.send(item("opened", "pagerduty"), finding(), ctx).catch((x) => x as DeliveryError);
    expect(e).toBeInstanceOf(DeliveryError);
    expect(e).toMatchObject({
      permanent: true,
      message: expect.stringMatching(/^pagerduty: HTTP 400 .*routing_key/),
    });
  });
});

describe("Amazon SNS", () => {
  const TOPIC = "arn:aws:sns:eu-west-1:999988887777:findings";
  const FIFO = "arn:aws:sns:eu-west-1:999988887777:findings.fifo";

  it("publishes a signed JSON message with filterable attributes; FIFO topics get group and dedup ids", async () => {
    const sns = await startFakeSns({ topics: [TOPIC, FIFO] });
    servers.push(sns);
    const aws = awsSchema.parse({ endpoint: sns.url, region: "eu-west-1" });
    const ch = snsChannel({ enabled: true, topicArn: TOPIC }, { aws, templates: {} });
    expect(await ch.send(item("opened", "sns"), finding(), ctx)).toEqual({ note: "message m-1" });
    const [p] = sns.published;
    expect(p!.attributes).toEqual({
      event: "opened",
      check: "key-age",
      severity: "critical",
      account: "111122223333",
    });
    expect(p!.subject).toBe("iamwarden: New finding: Access key of alice is 400 days old");
    const body = JSON.parse(p!.message);
    expect(body).toMatchObject({
      source: "iamwarden",
      event: "opened",
      finding: { id: finding().id, resource: "AKIA…MPLE" },
    });
    expect(p!.message).not.toContain(KEY);

    const fifo = snsChannel({ enabled: true, topicArn: FIFO }, { aws, templates: {} });
    await fifo.send(item("opened", "sns"), finding(), ctx);
    expect(sns.published[1]).toMatchObject({
      groupId: finding().id,
      dedupId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(sns.violations).toEqual([]);
  });

  it("fails permanently for a topic that does not exist", async () => {
    const sns = await startFakeSns({ topics: [] });
    servers.push(sns);
    const aws = awsSchema.parse({ endpoint: sns.url, region: "eu-west-1" });
    const ch = snsChannel({ enabled: true, topicArn: TOPIC }, { aws, templates: {} });
    await expect(ch.send(item("opened", "sns"), finding(), ctx)).rejects.toMatchObject({
      permanent: true,
      message: expect.stringMatching(/^sns: NotFound/),
    });
    sns.inject(() => true, {
      status: 500,
      body: "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>x</Message></Error></ErrorResponse>",
    });
    const flaky = snsChannel(
      { enabled: true, topicArn: TOPIC },
      { aws: { ...aws, maxAttempts: 1 }, templates: {} },
    );
    await expect(flaky.send(item("opened", "sns"), finding(), ctx)).rejects.toMatchObject({
      permanent: false,
    });
  });
});

describe("generic webhook", () => {
  it("signs the exact body with HMAC-SHA256 and names the delivery so repeats can be dropped", async () => {
    const hook = await startFakeWebhook({ secret: "s3cret" });
    servers.push(hook);
    const ch = webhookChannel(
      { enabled: true, url: hook.hookUrl, secret: "s3cret", timeoutMs: 1000 },
      { templates: {} },
    );
    await ch.send(item("opened", "webhook"), finding(), ctx);
    await ch.send(item("opened", "webhook"), finding(), ctx); // at least once: a repeat
    expect(hook.received).toHaveLength(1);
    expect(hook.stats.duplicates).toBe(1);
    expect(JSON.stringify(hook.received)).not.toContain(KEY);
    const sent = hook.requests[0]!;
    const t = Number(sent.headers["x-iamwarden-timestamp"]);
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(60);
    expect(sent.headers["x-iamwarden-signature"]).toBe(signature("s3cret", sent.body, t));

    const wrong = webhookChannel(
      { enabled: true, url: hook.hookUrl, secret: "other", timeoutMs: 1000 },
      { templates: {} },
    );
    await expect(wrong.send(item("opened", "webhook"), finding(), ctx)).rejects.toMatchObject({
      permanent: true,
      message: expect.stringMatching(/^webhook: HTTP 401/),
    });
    expect(hook.violations).toEqual([]);
  });

  it("signs the time with the body, so a receiver refuses a replayed delivery", async () => {
    let clock = Date.parse("2026-09-01T10:00:00Z");
    const hook = await startFakeWebhook({ secret: "s3cret", clock: () => clock });
    servers.push(hook);
    const ch = webhookChannel(
      { enabled: true, url: hook.hookUrl, secret: "s3cret", timeoutMs: 1000 },
      { templates: {}, wallClock: () => Date.parse("2026-09-01T10:00:00Z") },
    );
    await ch.send(item("opened", "webhook"), finding(), ctx);
    expect(hook.received).toHaveLength(1);
    // The same request captured and sent again an hour later: refused.
    const captured = hook.requests[0]!;
    clock += 3_600_000;
    const replay = await fetch(hook.hookUrl, {
      method: "POST",
      headers: Object.fromEntries(
        [
          "content-type",
          "x-iamwarden-event",
          "x-iamwarden-delivery",
          "x-iamwarden-timestamp",
          "x-iamwarden-signature",
        ].map((h) => [h, String(captured.headers[h])]),
      ),
      body: captured.body,
    });
    expect(replay.status).toBe(401);
    // Re-dating it breaks the signature.
    const redated = await fetch(hook.hookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-iamwarden-event": String(captured.headers["x-iamwarden-event"]),
        "x-iamwarden-delivery": "other",
        "x-iamwarden-timestamp": String(Math.floor(clock / 1000)),
        "x-iamwarden-signature": String(captured.headers["x-iamwarden-signature"]),
      },
      body: captured.body,
    });
    expect(redated.status).toBe(401);
    expect(await redated.json()).toEqual({ error: "bad signature" });
  });

  it("gives up on a slow receiver after timeoutMs and retries later", async () => {
    const { createServer } = await import("node:http");
    const slow = createServer(() => {}); // never answers
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    const port = (slow.address() as { port: number }).port;
    const ch = webhookChannel(
      { enabled: true, url: `http://127.0.0.1:${port}/hook`, timeoutMs: 200 },
      { templates: {} },
    );
    const started = Date.now();
    await expect(ch.send(item("opened", "webhook"), finding(), ctx)).rejects.toMatchObject({
      permanent: false,
      message: "webhook: timed out after 200 ms",
    });
    expect(Date.now() - started).toBeLessThan(2000);
    slow.closeAllConnections();
    await new Promise<void>((r) => slow.close(() => r()));
  });
});
