import { describe, expect, it } from "vitest";
import {
  jiraComment,
  jiraDescriptionAdf,
  jiraDescriptionWiki,
  slackMessage,
} from "../../../src/actions/notify/messages.js";
import type { Finding } from "../../../src/model/finding.js";
import type { OutboxItem } from "../../../src/model/outbox.js";

// Names from a crafted credential report or log file: they must reach Slack and Jira as text.
const USER =
  "eve<!channel><https://evil.example|click>`[phish|https://evil.example]{code}[~accountid:557058]";
const finding: Finding = {
  id: "key-age/123456789012/aaaabbbbcccc",
  check: "key-age",
  account: "123456789012",
  accountAlias: "prod <!here>|{noformat}",
  resource: "AKIAIOSFODNN7EXAMPLE",
  owner: USER,
  severity: "high",
  status: "open",
  title: `Access key of ${USER} is 200 days old`,
  details: { username: USER, keyId: "AKIAIOSFODNN7EXAMPLE", createDate: "2026-01-01T00:00:00.000Z" },
  firstSeen: "2026-07-19T00:00:00Z",
  lastSeen: "2026-07-20T00:00:00Z",
  statusChangedAt: "2026-07-19T00:00:00Z",
  statusReason: "seen again <!everyone> [x|https://evil.example]",
  tickets: {},
};
const item = (event: OutboxItem["event"]): OutboxItem => ({
  id: 1,
  dedupKey: `${finding.id}|${event}|slack`,
  findingId: finding.id,
  event,
  channel: "slack",
  status: "pending",
  attempts: 0,
  nextAttemptAt: "",
  createdAt: "",
  payload: {},
});
const opts = { now: new Date("2026-07-20T00:00:00Z"), revealKeyId: true, jiraUrl: undefined, templates: {} };

/** Every mrkdwn string of a Slack message: the fallback text and each block's text and fields. */
function mrkdwnTexts(msg: ReturnType<typeof slackMessage>): string[] {
  const out = [msg.text];
  for (const b of msg.blocks) {
    const t = b.text as { type: string; text: string } | undefined;
    if (t?.type === "mrkdwn") out.push(t.text);
    for (const f of (b.fields as { text: string }[] | undefined) ?? []) out.push(f.text);
    for (const e of (b.elements as { text: string }[] | undefined) ?? []) out.push(e.text);
  }
  return out;
}

describe("markup injection", () => {
  it("Slack: no value becomes a mention, a link or the end of the code block", () => {
    for (const event of ["reopened", "reminder"] as const) {
      const texts = mrkdwnTexts(slackMessage(finding, item(event), opts));
      for (const t of texts) {
        expect(t).not.toMatch(/<[!@#]|<https?:/);
        expect(t).not.toContain("<!");
      }
      const code = texts.find((t) => t.startsWith("*To rotate this key*"))!;
      expect(code.match(/```/g)).toHaveLength(2);
      expect(code).toContain("&lt;!channel&gt;");
      expect(texts[0]).toContain("&lt;!channel&gt;&lt;https://evil.example|click&gt;");
    }
  });

  it("Slack: templates get escaped fields too", () => {
    const msg = slackMessage(finding, item("opened"), {
      ...opts,
      templates: { "slack.text": "user {{user}}" },
    });
    expect(mrkdwnTexts(msg).join("\n")).not.toContain("<!channel>");
  });

  it("Jira v2 wiki markup: no link, mention, macro or table from a value", () => {
    const wiki = jiraDescriptionWiki(finding, item("opened"), { ...opts, revealKeyId: false });
    // Markup the description itself uses: one code block, the bullets' bold labels.
    expect(wiki.match(/(^|[^\\])\{code/gm)).toHaveLength(2);
    // Outside the code block (whose content Jira shows verbatim up to its closing tag):
    const outside = wiki.replace(/\{code:bash\}[\s\S]*?\n\{code\}/, "");
    expect(outside).not.toMatch(/(^|[^\\])\[(~|phish|x\|)/m);
    expect(outside).not.toMatch(/(^|[^\\])\{noformat\}/);
    expect(outside).not.toMatch(/(^|[^\\])\|/);
    expect(wiki).toContain("\\[phish\\|https://evil.example\\]");
    const comment = jiraComment(finding, item("reopened"), opts, true);
    expect(comment).toContain("\\[x\\|https://evil.example\\]");
    // v3 (ADF) is structured: values are text nodes, shown as they are.
    expect(jiraComment(finding, item("reopened"), opts, false)).toContain("[x|https://evil.example]");
    expect(JSON.stringify(jiraDescriptionAdf(finding, item("opened"), opts))).toContain("[phish|");
  });
});
