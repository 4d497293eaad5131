import { afterEach, describe, expect, it } from "vitest";
import type { ChannelContext } from "../../../src/actions/notify/channel.js";
import { DeliveryError, silentLog } from "../../../src/actions/notify/channel.js";
import { slackChannel } from "../../../src/actions/notify/slack.js";
import type { Finding } from "../../../src/model/finding.js";
import type { OutboxItem } from "../../../src/model/outbox.js";
import type { Recipients } from "../../../src/model/recipients.js";
import { type FakeSlack, startFakeSlack } from "../../support/fake-apis/slack.js";

const NOW = new Date("2026-05-01T12:00:00Z");
const finding = (): Finding => ({
  id: "key-inactive/111122223333/abc123abc123",
  check: "key-inactive",
  account: "111122223333",
  resource: "AKIAIOSFODNN7EXAMPLE",
  owner: "bob",
  severity: "medium",
  status: "open",
  title: "Access key of bob unused for 120 days",
  details: {
    username: "bob",
    keyId: "AKIAIOSFODNN7EXAMPLE",
    createDate: "2025-10-01T00:00:00.000Z",
    lastUsed: "2026-01-01T00:00:00.000Z",
  },
  firstSeen: NOW.toISOString(),
  lastSeen: NOW.toISOString(),
  statusChangedAt: NOW.toISOString(),
  tickets: {},
});
const item = (id = 1): OutboxItem => ({
  id,
  dedupKey: `f|opened|slack`,
  findingId: "f",
  event: "opened",
  channel: "slack",
  status: "pending",
  attempts: 0,
  nextAttemptAt: NOW.toISOString(),
  createdAt: NOW.toISOString(),
  payload: {},
});
function ctx(recipients: Partial<Recipients>, f: Finding, warnings: string[] = []): ChannelContext {
  return {
    now: NOW,
    recipients: { slack: [], email: [], jiraAssignees: [], ...recipients },
    log: { ...silentLog, warn: (_o, msg) => warnings.push(String(msg)) },
    mergeTickets: async (patch) => {
      f.tickets = { ...f.tickets, ...patch };
    },
  };
}

let slack: FakeSlack | undefined;
afterEach(async () => {
  await slack?.close();
  slack = undefined;
});

describe("Slack Web API", () => {
  it("finds the owner by email for a DM, and posts Block Kit with the key in full only there", async () => {
    const s = await startFakeSlack({
      token: "xoxb-1",
      channels: ["C0SECURITY"],
      users: { "bob@example.com": "U0BOB0001" },
    });
    slack = s;
    const ch = slackChannel(
      { enabled: true, token: "xoxb-1", apiUrl: s.apiUrl, dmOwners: true, renotifyHours: 24 },
      { templates: {} },
    );
    const f = finding();
    const res = await ch.send(
      item(),
      f,
      ctx({ slack: ["C0SECURITY"], user: { name: "bob", email: "bob@example.com" } }, f),
    );
    expect(res.note).toBe("posted to C0SECURITY, dm:U0BOB0001");
    expect(s.posts.map((p) => p.channel)).toEqual(["C0SECURITY", "D0BOB0001"]);
    const [inChannel, dm] = s.posts;
    expect(JSON.stringify(inChannel)).not.toContain("AKIAIOSFODNN7EXAMPLE");
    expect(JSON.stringify(dm)).toContain(
      "aws iam delete-access-key --user-name bob --access-key-id AKIAIOSFODNN7EXAMPLE",
    );
    expect(inChannel!.blocks.map((b) => b.type)).toEqual([
      "header",
      "section",
      "section",
      "section",
      "context",
    ]);
    expect(s.requests.map((r) => r.path)).toEqual([
      "/api/chat.postMessage",
      "/api/users.lookupByEmail",
      "/api/conversations.open",
      "/api/chat.postMessage",
    ]);
    expect(s.violations).toEqual([]);
  });

  it("still posts to channels when the owner has no Slack account", async () => {
    const s = await startFakeSlack({ token: "xoxb-1", channels: ["#iam"] });
    slack = s;
    const ch = slackChannel(
      { enabled: true, token: "xoxb-1", apiUrl: s.apiUrl, dmOwners: true, renotifyHours: 24 },
      { templates: {} },
    );
    const f = finding();
    const warnings: string[] = [];
    await ch.send(
      item(),
      f,
      ctx({ slack: ["#iam"], user: { name: "bob", email: "gone@example.com" } }, f, warnings),
    );
    expect(s.posts.map((p) => p.channel)).toEqual(["#iam"]);
    expect(warnings).toEqual(["no Slack user for the key owner's email; channels only"]);
  });

  it("treats Slack's ok:false errors as permanent, ratelimited as retryable, and never posts twice", async () => {
    const s = await startFakeSlack({ token: "xoxb-1", channels: ["#a", "#b"] });
    slack = s;
    const ch = slackChannel(
      { enabled: true, token: "xoxb-1", apiUrl: s.apiUrl, dmOwners: false, renotifyHours: 24 },
      { templates: {} },
    );
    const f = finding();
    s.inject((r) => new URLSearchParams(r.body).get("channel") === "#b", {
      status: 429,
      headers: { "retry-after": "7" },
      body: { ok: false, error: "ratelimited" },
    });
    const err = await ch.send(item(), f, ctx({ slack: ["#a", "#b"] }, f)).catch((e) => e as DeliveryError);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ permanent: false, retryAfterMs: 7000 });
    expect(f.tickets.slackProgress).toEqual({ item: 1, sent: ["#a"] });
    // The retry posts only to #b, then clears its progress.
    const res = await ch.send(item(), f, ctx({ slack: ["#a", "#b"] }, f));
    expect(res.tickets).toEqual({ slackProgress: null });
    expect(s.posts.map((p) => p.channel)).toEqual(["#a", "#b"]);

    const bad = slackChannel(
      { enabled: true, token: "xoxb-wrong", apiUrl: s.apiUrl, dmOwners: false, renotifyHours: 24 },
      { templates: {} },
    );
    const auth = await bad
      .send(item(2), finding(), ctx({ slack: ["#a"] }, finding()))
      .catch((e) => e as DeliveryError);
    expect(auth).toMatchObject({
      permanent: true,
      message: "slack chat.postMessage: invalid_auth",
      code: "invalid_auth",
    });
    expect(s.violations).toEqual([]);
  });

  it("fails permanently when there is nowhere to post", async () => {
    const s = await startFakeSlack({ token: "xoxb-1", channels: [] });
    slack = s;
    const ch = slackChannel(
      { enabled: true, token: "xoxb-1", apiUrl: s.apiUrl, dmOwners: true, renotifyHours: 24 },
      { templates: {} },
    );
    const f = finding();
    await expect(ch.send(item(), f, ctx({}, f))).rejects.toMatchObject({
      permanent: true,
      message: expect.stringMatching(/nowhere to post/),
    });
  });
});

describe("Slack incoming webhook", () => {
  it("posts JSON to the webhook URL and honours Retry-After on 429", async () => {
    const s = await startFakeSlack({ token: "xoxb-1", channels: [] });
    slack = s;
    const ch = slackChannel(
      { enabled: true, webhookUrl: s.webhookUrl, dmOwners: true, renotifyHours: 24 },
      { templates: { "slack.text": "*{{user}}* in {{accountLabel}}: {{title}}" } },
    );
    const f = finding();
    s.inject(() => true, { status: 429, headers: { "retry-after": "42" }, body: "rate_limited" });
    await expect(ch.send(item(), f, ctx({}, f))).rejects.toMatchObject({
      permanent: false,
      retryAfterMs: 42_000,
    });
    await ch.send(item(), f, ctx({}, f));
    expect(s.webhookPosts).toHaveLength(1);
    expect(JSON.stringify(s.webhookPosts[0]!.blocks)).toContain(
      "*bob* in 111122223333: Access key of bob unused for 120 days",
    );
    expect(JSON.stringify(s.webhookPosts)).not.toContain("AKIAIOSFODNN7EXAMPLE");

    s.inject(() => true, { status: 404, body: "channel_not_found" });
    await expect(ch.send(item(), f, ctx({}, f))).rejects.toMatchObject({
      permanent: true,
      message: "slack webhook: HTTP 404 channel_not_found",
    });
    expect(s.violations).toEqual([]);
  });
});
