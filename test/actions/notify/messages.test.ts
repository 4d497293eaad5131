import { describe, expect, it } from "vitest";
import {
  jiraDescriptionAdf,
  machineMessage,
  messageFields,
  rotateCommands,
  slackMessage,
  validateTemplates,
} from "../../../src/actions/notify/messages.js";
import type { Finding } from "../../../src/model/finding.js";
import type { OutboxItem } from "../../../src/model/outbox.js";

const NOW = new Date("2026-07-20T00:00:00Z");
const KEY = "AKIAIOSFODNN7EXAMPLE";
const finding: Finding = {
  id: "key-age/123456789012/aaaabbbbcccc",
  check: "key-age",
  account: "123456789012",
  accountAlias: "prod",
  resource: KEY,
  owner: "alice",
  severity: "high",
  status: "open",
  title: "Access key of alice is 200 days old, past the 180-day limit",
  details: {
    username: "alice",
    keyId: KEY,
    createDate: "2026-01-01T00:00:00.000Z",
    lastUsed: "2026-07-01T10:00:00.000Z",
    ageDays: 200,
    expiresAt: "2026-06-30T00:00:00.000Z",
  },
  firstSeen: "2026-07-19T00:00:00Z",
  lastSeen: "2026-07-20T00:00:00Z",
  statusChangedAt: "2026-07-19T00:00:00Z",
  tickets: { jiraKey: "SEC-7", notified: { slack: "2026-07-19T00:00:00Z" } },
};
const item = (event: OutboxItem["event"], payload: Record<string, unknown> = {}): OutboxItem => ({
  id: 1,
  dedupKey: `${finding.id}|${event}|slack`,
  findingId: finding.id,
  event,
  channel: "slack",
  status: "pending",
  attempts: 0,
  nextAttemptAt: "",
  createdAt: "",
  payload,
});
const opts = { now: NOW, revealKeyId: false, jiraUrl: "https://acme.atlassian.net/", templates: {} };

describe("message texts", () => {
  it("fill every field a template may use, key masked unless addressed to its owner", () => {
    expect(messageFields(finding, item("opened"), opts)).toMatchObject({
      user: "alice",
      keyId: "AKIA…MPLE",
      accountLabel: "prod (123456789012)",
      ageDays: "200",
      lastUsed: "2026-07-01",
      expiresAt: "2026-06-30",
      jiraKey: "SEC-7",
      jiraUrl: "https://acme.atlassian.net/browse/SEC-7",
    });
    expect(messageFields(finding, item("opened"), { ...opts, revealKeyId: true }).keyId).toBe(KEY);
  });

  it("give the exact commands to rotate a key, and none for the root user", () => {
    expect(rotateCommands(finding, true)).toEqual([
      "aws iam create-access-key --user-name alice",
      `aws iam update-access-key --user-name alice --access-key-id ${KEY} --status Inactive`,
      `aws iam delete-access-key --user-name alice --access-key-id ${KEY}`,
    ]);
    expect(rotateCommands(finding, false)[0]).toBe("aws iam list-access-keys --user-name alice");
    expect(
      rotateCommands({ ...finding, check: "root-access-key", details: { username: "<root_account>" } }, true),
    ).toEqual([]);
  });

  it("build Block Kit with the Jira link, and drop the commands once the finding is resolved", () => {
    const open = slackMessage(finding, item("opened"), opts);
    const text = JSON.stringify(open.blocks);
    expect(text).toContain("<https://acme.atlassian.net/browse/SEC-7|SEC-7>");
    expect(text).toContain("*Last used*\\n2026-07-01");
    expect(text).toContain("aws iam update-access-key");
    expect(text).not.toContain(KEY);
    expect(open.text).toBe(
      "New finding: Access key of alice is 200 days old, past the 180-day limit (prod (123456789012))",
    );
    const resolved = slackMessage(
      finding,
      item("resolved", { reason: "no longer seen by a complete scan" }),
      opts,
    );
    expect(JSON.stringify(resolved.blocks)).not.toContain("aws iam");
    expect(JSON.stringify(resolved.blocks)).toContain("no longer seen by a complete scan");
  });

  it("write Jira descriptions as valid ADF (no empty text nodes)", () => {
    const doc = jiraDescriptionAdf({ ...finding, details: { username: "alice" } }, item("opened"), opts) as {
      content: { type: string; content?: { type: string; text?: string }[] }[];
    };
    const texts = JSON.stringify(doc).match(/"text":"[^"]*"/g) ?? [];
    expect(texts.every((t) => t !== '"text":""')).toBe(true);
    expect(doc.content.map((n) => n.type)).toContain("codeBlock");
  });

  it("take templates per channel and event, and reject unknown names and fields", () => {
    const t = { "slack.header": "{{severity}}!", "slack.header.resolved": "All clear for {{user}}" };
    expect(slackMessage(finding, item("opened"), { ...opts, templates: t }).blocks[0]).toMatchObject({
      text: { text: "high!" },
    });
    expect(slackMessage(finding, item("resolved"), { ...opts, templates: t }).blocks[0]).toMatchObject({
      text: { text: "All clear for alice" },
    });
    expect(() => validateTemplates({ "slack.footer": "x" })).toThrow(
      /notify\.templates\.slack\.footer: unknown template/,
    );
    expect(() => validateTemplates({ "jira.summary": "{{secret}}" })).toThrow(
      "notify.templates.jira.summary: unknown field {{secret}}",
    );
    expect(() => validateTemplates({ "pagerduty.summary.resolved": "{{title}}" })).not.toThrow();
  });

  it("send machines the finding with every key id masked and a delivery id to drop repeats", () => {
    const m = machineMessage(finding, item("opened"), opts);
    expect(m).toMatchObject({
      source: "iamwarden",
      event: "opened",
      deliveryId: `${finding.id}|opened|slack`,
    });
    expect(JSON.stringify(m)).not.toContain(KEY);
    expect((m.finding as { tickets: unknown }).tickets).toEqual({ jiraKey: "SEC-7" });
  });
});
