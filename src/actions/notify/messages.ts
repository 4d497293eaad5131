import { UserError } from "../../errors.js";
import type { Finding } from "../../model/finding.js";
import type { NotifyEvent, OutboxItem } from "../../model/outbox.js";
import { maskKeyId, maskKeyIdsIn } from "../../util/mask.js";
import { daysBetween } from "../../util/time.js";

// Default texts for every channel, and the {{field}} templates that may replace them
// (notify.templates). Key ids are masked unless the message goes to the key's owner.

export interface MessageOptions {
  now: Date;
  /** Show the access key id in full: only in messages addressed to the key's owner. */
  revealKeyId: boolean;
  /** Jira site, for links to the ticket. */
  jiraUrl?: string | undefined;
  templates: Record<string, string>;
}

const HEADLINES: Record<NotifyEvent, string> = {
  opened: "New finding",
  reopened: "Finding reopened",
  reminder: "Reminder: still open",
  escalated: "Severity raised",
  suppressed: "Suppressed by an exception",
  remediated: "Remediated",
  resolved: "Resolved",
};

/** Events after which the key still needs rotating: messages for them carry the commands. */
const ACTIONABLE = new Set<NotifyEvent>(["opened", "reopened", "reminder", "escalated"]);

export const FIELD_NAMES = [
  "headline",
  "event",
  "title",
  "check",
  "severity",
  "status",
  "reason",
  "user",
  "keyId",
  "account",
  "accountAlias",
  "accountLabel",
  "ageDays",
  "createDate",
  "lastUsed",
  "expiresAt",
  "jiraKey",
  "jiraUrl",
  "findingId",
  "firstSeen",
] as const;
export type FieldName = (typeof FIELD_NAMES)[number];
export type MessageFields = Record<FieldName, string>;

const day = (v: unknown): string => (typeof v === "string" && v ? v.slice(0, 10) : "");

/** The key id of a key finding, if it has one (report-only keys may not). */
export function keyIdOf(finding: Finding): string | undefined {
  const id = finding.details.keyId;
  return typeof id === "string" && id ? id : undefined;
}

export function jiraBrowseUrl(jiraUrl: string | undefined, key: string | undefined): string {
  return jiraUrl && key ? `${jiraUrl.replace(/\/+$/, "")}/browse/${key}` : "";
}

/** Flat strings every template may use. */
export function messageFields(finding: Finding, item: OutboxItem, opts: MessageOptions): MessageFields {
  const d = finding.details;
  const keyId = keyIdOf(finding);
  const created = typeof d.createDate === "string" ? d.createDate : undefined;
  const ageDays =
    typeof d.ageDays === "number"
      ? d.ageDays
      : created
        ? daysBetween(new Date(created), opts.now)
        : undefined;
  const jiraKey = typeof finding.tickets.jiraKey === "string" ? finding.tickets.jiraKey : "";
  const reason = typeof item.payload.reason === "string" ? item.payload.reason : (finding.statusReason ?? "");
  return {
    headline: HEADLINES[item.event],
    event: item.event,
    title: opts.revealKeyId ? finding.title : maskKeyIdsIn(finding.title),
    check: finding.check,
    severity: finding.severity,
    status: finding.status,
    reason: opts.revealKeyId ? reason : maskKeyIdsIn(reason),
    user: String(d.username ?? finding.owner ?? ""),
    keyId: keyId ? (opts.revealKeyId ? keyId : maskKeyId(keyId)) : "",
    account: finding.account,
    accountAlias: finding.accountAlias ?? "",
    accountLabel: finding.accountAlias ? `${finding.accountAlias} (${finding.account})` : finding.account,
    ageDays: ageDays === undefined ? "" : String(ageDays),
    createDate: day(created),
    lastUsed: d.lastUsed ? day(d.lastUsed) : created ? "never" : "",
    expiresAt: day(d.expiresAt),
    jiraKey,
    jiraUrl: jiraBrowseUrl(opts.jiraUrl, jiraKey),
    findingId: finding.id,
    firstSeen: day(finding.firstSeen),
  };
}

/**
 * The AWS CLI commands that rotate the key: create a new one, deactivate the old one once nothing
 * uses it, then delete it. Without the real id the commands list the user's keys first.
 */
export function rotateCommands(finding: Finding, revealKeyId: boolean): string[] {
  const user = finding.details.username;
  if (typeof user !== "string" || !user || user === "<root_account>") return [];
  if (!finding.check.startsWith("key-")) return [];
  const keyId = keyIdOf(finding);
  const shown = keyId && revealKeyId ? keyId : "<ACCESS_KEY_ID>";
  const u = /^[\w+=,.@-]+$/.test(user) ? user : `'${user.replace(/'/g, "'\\''")}'`;
  return [
    ...(shown === keyId ? [] : [`aws iam list-access-keys --user-name ${u}`]),
    `aws iam create-access-key --user-name ${u}`,
    `aws iam update-access-key --user-name ${u} --access-key-id ${shown} --status Inactive`,
    `aws iam delete-access-key --user-name ${u} --access-key-id ${shown}`,
  ];
}

/** Replaces {{field}}; an unknown field renders empty (validateTemplates rejects them up front). */
export function render(template: string, fields: MessageFields): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, name: string) =>
    name in fields ? fields[name as FieldName] : "",
  );
}

const TEMPLATE_KEY =
  /^(slack\.(text|header)|jira\.(summary|description|comment)|pagerduty\.summary|sns\.subject)(\.(opened|reopened|reminder|escalated|suppressed|remediated|resolved))?$/;

/** Rejects unknown template names and fields, naming the config key. */
export function validateTemplates(templates: Record<string, string>): void {
  for (const [key, text] of Object.entries(templates)) {
    if (!TEMPLATE_KEY.test(key))
      throw new UserError(
        `notify.templates.${key}: unknown template (slack.text, slack.header, jira.summary, jira.description, jira.comment, pagerduty.summary, sns.subject, optionally .<event>)`,
      );
    for (const m of text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
      if (!(FIELD_NAMES as readonly string[]).includes(m[1]!))
        throw new UserError(
          `notify.templates.${key}: unknown field {{${m[1]}}} (known: ${FIELD_NAMES.join(", ")})`,
        );
    }
  }
}

/** The configured template for (part, event), most specific first. */
export function templateFor(
  templates: Record<string, string>,
  part: string,
  event: NotifyEvent,
): string | undefined {
  return templates[`${part}.${event}`] ?? templates[part];
}

/**
 * Text for Slack mrkdwn: &, < and > as entities, so no value can become a mention (`<!channel>`,
 * `<@U…>`), a link (`<https://…|text>`) or a channel reference.
 */
export const slackEscape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
/** Inside a Slack code block: escaped as above, and no backtick can close the block. */
const slackCode = (s: string) => slackEscape(s).replace(/`/g, "\u02cb");

/**
 * Text for Jira wiki markup (REST v2): every character that starts markup (links `[…|…]`,
 * mentions `[~…]`, macros `{code}`, tables `|`, effects `*_+^~?!#`) is backslash-escaped and line
 * breaks become spaces, so a value stays one plain run of text.
 */
export const wikiEscape = (s: string) =>
  s.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/[\\[\]{}|*_+^~?!#-]/g, (c) => `\\${c}`);
/** Inside {code}: the block ends only at its own closing tag, so braces are shown as look-alikes. */
const wikiCode = (s: string) => s.replace(/\{/g, "\uff5b").replace(/\}/g, "\uff5d");

/** Every field escaped for one markup language, for templates rendered into it. */
const escapeFields = (f: MessageFields, esc: (s: string) => string): MessageFields =>
  Object.fromEntries(Object.entries(f).map(([k, v]) => [k, esc(v)])) as MessageFields;
const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

/** Block Kit message with a plain-text fallback (notifications and screen readers use `text`). */
export function slackMessage(finding: Finding, item: OutboxItem, opts: MessageOptions): SlackMessage {
  const raw = messageFields(finding, item, opts);
  // Everything below goes out as mrkdwn except the plain_text header: escape once, here.
  const f = escapeFields(raw, slackEscape);
  const header = render(templateFor(opts.templates, "slack.header", item.event) ?? "{{headline}}", raw);
  const custom = templateFor(opts.templates, "slack.text", item.event);
  const body = custom
    ? render(custom, f)
    : `*${f.title}*${f.reason && item.event !== "opened" && item.event !== "reminder" ? `\n${f.reason}` : ""}`;
  const fields: string[] = [];
  const add = (label: string, value: string) => {
    if (value) fields.push(`*${label}*\n${value}`);
  };
  add("User", f.user);
  add("Access key", f.keyId ? `\`${slackCode(raw.keyId)}\`` : "");
  add("Account", f.accountLabel);
  add("Severity", f.severity);
  add("Age", f.ageDays ? `${f.ageDays} days` : "");
  add("Last used", f.lastUsed);
  add("Expires", f.expiresAt);
  add("Jira", f.jiraUrl ? `<${f.jiraUrl}|${f.jiraKey.replace(/\|/g, "¦")}>` : f.jiraKey);
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: clip(header, 150), emoji: true } },
    { type: "section", text: { type: "mrkdwn", text: clip(body, 3000) } },
  ];
  if (fields.length)
    blocks.push({
      type: "section",
      fields: fields.slice(0, 10).map((t) => ({ type: "mrkdwn", text: clip(t, 2000) })),
    });
  const commands = ACTIONABLE.has(item.event) ? rotateCommands(finding, opts.revealKeyId) : [];
  if (commands.length)
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: `*To rotate this key*\n\`\`\`${commands.map(slackCode).join("\n")}\`\`\``,
      },
    });
  blocks.push({
    type: "context",
    elements: [{ type: "mrkdwn", text: `iamwarden · ${f.check} · finding \`${slackCode(raw.findingId)}\`` }],
  });
  const text = clip(
    `${slackEscape(header)}: ${f.title}${raw.accountLabel ? ` (${f.accountLabel})` : ""}`,
    3000,
  );
  return { text, blocks };
}

export function jiraSummary(finding: Finding, item: OutboxItem, opts: MessageOptions): string {
  const f = messageFields(finding, item, opts);
  const t = templateFor(opts.templates, "jira.summary", item.event);
  // Jira rejects summaries over 255 characters and any line break.
  return clip(render(t ?? "{{title}} [{{accountLabel}}]", f).replace(/\s*\n\s*/g, " "), 255);
}

type Adf = Record<string, unknown>;
const text = (t: string, strong = false): Adf =>
  strong ? { type: "text", text: t, marks: [{ type: "strong" }] } : { type: "text", text: t };
// ADF rejects empty text nodes.
const para = (...parts: Adf[]): Adf => ({ type: "paragraph", content: parts.filter((p) => p.text !== "") });

function detailRows(f: MessageFields): [string, string][] {
  const rows: [string, string][] = [
    ["User", f.user],
    ["Access key", f.keyId],
    ["Account", f.accountLabel],
    ["Check", f.check],
    ["Severity", f.severity],
    ["Age", f.ageDays ? `${f.ageDays} days` : ""],
    ["Created", f.createDate],
    ["Last used", f.lastUsed],
    ["Expires", f.expiresAt],
    ["First seen", f.firstSeen],
    ["Finding", f.findingId],
  ];
  return rows.filter(([, v]) => v);
}

/** Description as Atlassian Document Format (Jira Cloud, REST v3). */
export function jiraDescriptionAdf(finding: Finding, item: OutboxItem, opts: MessageOptions): Adf {
  const f = messageFields(finding, item, opts);
  const custom = templateFor(opts.templates, "jira.description", item.event);
  if (custom) {
    const paras = render(custom, f)
      .split(/\n{2,}/)
      .map((p) => p.trim())
      .filter(Boolean);
    return { type: "doc", version: 1, content: paras.map((p) => para(text(p))) };
  }
  const content: Adf[] = [
    para(text(f.title)),
    {
      type: "bulletList",
      content: detailRows(f).map(([k, v]) => ({
        type: "listItem",
        content: [para(text(`${k}: `, true), text(v))],
      })),
    },
  ];
  const commands = rotateCommands(finding, opts.revealKeyId);
  if (commands.length) {
    content.push(
      { type: "heading", attrs: { level: 3 }, content: [text("To rotate this key")] },
      { type: "codeBlock", attrs: { language: "bash" }, content: [text(commands.join("\n"))] },
    );
  }
  content.push(
    para(text("Reported by iamwarden. This ticket is closed automatically when the finding resolves.")),
  );
  return { type: "doc", version: 1, content };
}

/** Description in wiki markup (Jira Server / Data Center, REST v2); every value escaped. */
export function jiraDescriptionWiki(finding: Finding, item: OutboxItem, opts: MessageOptions): string {
  const f = escapeFields(messageFields(finding, item, opts), wikiEscape);
  const custom = templateFor(opts.templates, "jira.description", item.event);
  if (custom) return render(custom, f);
  const lines = [f.title, "", ...detailRows(f).map(([k, v]) => `* *${k}:* ${v}`)];
  const commands = rotateCommands(finding, opts.revealKeyId).map(wikiCode);
  if (commands.length) lines.push("", "h3. To rotate this key", "{code:bash}", ...commands, "{code}");
  lines.push("", "Reported by iamwarden. This ticket is closed automatically when the finding resolves.");
  return lines.join("\n");
}

/**
 * A comment for a state change (remediated, suppressed, resolved, reopened, escalated). `wiki`:
 * the comment is rendered as wiki markup (REST v2), so values are escaped for it.
 */
export function jiraComment(finding: Finding, item: OutboxItem, opts: MessageOptions, wiki = false): string {
  const raw = messageFields(finding, item, opts);
  const f = wiki ? escapeFields(raw, wikiEscape) : raw;
  const t = templateFor(opts.templates, "jira.comment", item.event);
  if (t) return render(t, f);
  if (item.event === "escalated" && typeof item.payload.from === "string")
    return `iamwarden: ${f.headline}: ${item.payload.from} → ${f.severity}.`;
  return `iamwarden: ${f.headline}.${f.reason ? ` ${f.reason}` : ""}`;
}

export function adfFromText(t: string): Adf {
  return { type: "doc", version: 1, content: [para(text(t))] };
}

export function pagerdutySummary(finding: Finding, item: OutboxItem, opts: MessageOptions): string {
  const f = messageFields(finding, item, opts);
  const t = templateFor(opts.templates, "pagerduty.summary", item.event);
  return clip(render(t ?? "{{title}} [{{accountLabel}}]", f), 1024);
}

export function snsSubject(finding: Finding, item: OutboxItem, opts: MessageOptions): string {
  const f = messageFields(finding, item, opts);
  const t = templateFor(opts.templates, "sns.subject", item.event);
  // SNS subjects: at most 100 characters, no line breaks or control characters.
  return clip(
    render(t ?? "iamwarden: {{headline}}: {{title}}", f).replace(/[\u0000-\u001f\u007f]+/g, " "),
    100,
  );
}

/** The finding as sent to machines (SNS, webhooks, PagerDuty details): key ids masked throughout. */
export function publicFinding(finding: Finding): Record<string, unknown> {
  const { notified: _n, ...tickets } = finding.tickets;
  const shown = {
    id: finding.id,
    check: finding.check,
    account: finding.account,
    accountAlias: finding.accountAlias,
    resource: finding.resource,
    owner: finding.owner,
    severity: finding.severity,
    status: finding.status,
    title: finding.title,
    details: finding.details,
    firstSeen: finding.firstSeen,
    lastSeen: finding.lastSeen,
    resolvedAt: finding.resolvedAt,
    statusReason: finding.statusReason,
    tickets: { jiraKey: tickets.jiraKey },
  };
  return JSON.parse(maskKeyIdsIn(JSON.stringify(shown))) as Record<string, unknown>;
}

/** The JSON document SNS and webhooks carry. `deliveryId` lets receivers drop repeats. */
export function machineMessage(
  finding: Finding,
  item: OutboxItem,
  opts: MessageOptions,
): Record<string, unknown> {
  const f = messageFields(finding, item, { ...opts, revealKeyId: false });
  return {
    source: "iamwarden",
    version: 1,
    deliveryId: item.dedupKey,
    event: item.event,
    headline: f.headline,
    at: opts.now.toISOString(),
    reason: f.reason || undefined,
    jiraUrl: f.jiraUrl || undefined,
    finding: publicFinding(finding),
  };
}
