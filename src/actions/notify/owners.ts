import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import type { Config, OwnerEntry } from "../../config/schema.js";
import { UserError } from "../../errors.js";
import type { Finding } from "../../model/finding.js";
import type { Contact, Recipients } from "../../model/recipients.js";

/** IAM user name (or "<account id>/<user name>" for one account) → contact. */
export type OwnerMap = Record<string, Contact>;

const contactSchema = z
  .object({
    slack: z.string().min(1).optional(),
    email: z.string().min(1).optional(),
    jiraAccountId: z.string().min(1).optional(),
  })
  .strict();
const ownerMapSchema = z.record(z.string(), contactSchema);

/** Reads owners.users: an inline map, or a YAML/JSON file relative to the config's folder. */
export function loadOwnerMap(users: Config["owners"]["users"], baseDir: string): OwnerMap {
  if (users === undefined) return {};
  if (typeof users !== "string") {
    const parsed = ownerMapSchema.safeParse(users);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    throw new UserError(`owners.users.${issue.path.join(".")}: ${issue.message}`);
  }
  const file = resolve(baseDir, users);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(
      `${users}: cannot read owners file (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first)
    throw new UserError(`${users}:${lines.linePos(first.pos[0]).line}: ${first.message.split("\n")[0]}`);
  const parsed = ownerMapSchema.safeParse(doc.toJS() ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const node = doc.getIn(issue.path.slice(0, 1) as string[], true) as
    | { range?: [number, number] }
    | undefined;
  const line = node?.range ? lines.linePos(node.range[0]).line : 1;
  throw new UserError(`${users}:${line}: ${issue.path.join(".")}: ${issue.message}`);
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const SLACK_USER = /^[UW][A-Z0-9]{6,}$/;

/**
 * Reads a contact from IAM user tags. Only the tag keys listed in owners.userTags count; each
 * value is classified by its shape, so `owner=alice@example.com` and `slack=U012ABCDEF` both work.
 */
export function contactFromTags(tags: Record<string, string> | undefined, keys: string[]): Contact {
  const out: Contact = {};
  if (!tags) return out;
  for (const key of keys) {
    const value = tags[key]?.trim();
    if (!value) continue;
    if (EMAIL.test(value)) out.email ??= value;
    else if (SLACK_USER.test(value) || /slack/i.test(key)) out.slack ??= value;
    else if (/jira/i.test(key)) out.jiraAccountId ??= value;
  }
  return out;
}

const defined = <T>(v: T | undefined): v is T => v !== undefined && v !== "";

/**
 * The recipients of a finding: its IAM user first (mapping, then tags), then the account's owners,
 * then the global owners. Like Dow Jones Hammer's ticket_owners.json, an account setting replaces
 * the global one field by field.
 */
export function recipientsFor(finding: Finding, config: Config, users: OwnerMap): Recipients {
  const name = (finding.details.username as string | undefined) ?? finding.owner;
  let user: Recipients["user"];
  if (name && name !== "<root_account>") {
    const mapped = users[`${finding.account}/${name}`] ?? users[name] ?? {};
    const tagged = contactFromTags(
      finding.details.userTags as Record<string, string> | undefined,
      config.owners.userTags,
    );
    user = {
      name,
      slack: mapped.slack ?? tagged.slack,
      email: mapped.email ?? tagged.email,
      jiraAccountId: mapped.jiraAccountId ?? tagged.jiraAccountId,
    };
  }
  const account: OwnerEntry | undefined = config.owners.accounts[finding.account];
  const global: OwnerEntry | undefined = config.owners.default;
  const pick = <K extends keyof OwnerEntry>(k: K): OwnerEntry[K] => account?.[k] ?? global?.[k];
  const fallbackChannel = config.notify.slack?.channel;
  return {
    user,
    slack: pick("slack") ?? (fallbackChannel ? [fallbackChannel] : []),
    email: pick("email") ?? [],
    jiraProject: pick("jiraProject") ?? config.notify.jira?.project,
    jiraAssignees: [user?.jiraAccountId, user?.email, pick("jiraAssignee")].filter(defined),
    jiraParent: pick("jiraParent") ?? config.notify.jira?.parent,
  };
}
