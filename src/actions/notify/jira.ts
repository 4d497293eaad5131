import { createHash } from "node:crypto";
import { HttpException, Version2Client, Version3Client } from "jira.js";
import { z } from "zod";
import type { Finding, Severity } from "../../model/finding.js";
import type { OutboxItem } from "../../model/outbox.js";
import { type Channel, type ChannelContext, DeliveryError, permanentError } from "./channel.js";
import {
  adfFromText,
  jiraBrowseUrl,
  jiraComment,
  jiraDescriptionAdf,
  jiraDescriptionWiki,
  jiraSummary,
  type MessageOptions,
} from "./messages.js";
import { asDeliveryError, isRetryableStatus, parseRetryAfter } from "./retry.js";
import type { jiraSettings } from "./settings.js";

export type JiraSettings = z.infer<typeof jiraSettings>;

export interface JiraOptions {
  templates: Record<string, string>;
  /**
   * Jira Cloud's search is eventually consistent: a ticket created seconds ago may not show yet.
   * When an earlier attempt may have created one, search again after these pauses before creating.
   */
  searchRetryDelaysMs?: number[];
  timeoutMs?: number;
}

/** The label that ties a ticket to its finding; found again by search after a lost write. */
export function findingLabel(findingId: string): string {
  return `iamwarden-${createHash("sha256").update(findingId).digest("hex").slice(0, 16)}`;
}

const PRIORITY: Record<Severity, string> = {
  critical: "Highest",
  high: "High",
  medium: "Medium",
  low: "Low",
};
/** Fields a project's create screen may lack; on a 400 naming them, the create is tried without. */
const OPTIONAL_FIELDS = ["priority", "assignee", "parent"];
/** How long a just-created ticket may stay invisible to search (Atlassian: seconds, rarely minutes). */
const INDEX_LAG_MS = 15 * 60_000;

interface IssueRef {
  key: string;
  /** Status category key: new | indeterminate | done. */
  category: string;
}

// Only the parts of Jira's answers that are used, validated at the edge.
const statusSchema = z.object({ statusCategory: z.object({ key: z.string() }).optional() }).optional();
const issueSchema = z.object({
  key: z.string(),
  fields: z.object({ status: statusSchema }).optional(),
});
const searchSchema = z.object({ issues: z.array(issueSchema).default([]) });
const createdSchema = z.object({ id: z.string(), key: z.string() });
const transitionsSchema = z.object({
  transitions: z
    .array(
      z.object({
        id: z.string(),
        name: z.string().optional(),
        to: z.object({ statusCategory: z.object({ key: z.string() }).optional() }).optional(),
      }),
    )
    .default([]),
});
const usersSchema = z.array(
  z.object({ accountId: z.string().optional(), name: z.string().optional(), active: z.boolean().optional() }),
);

const toRef = (i: z.infer<typeof issueSchema>): IssueRef => ({
  key: i.key,
  category: i.fields?.status?.statusCategory?.key ?? "new",
});

/** What the channel needs from Jira; v3 (Cloud) and v2 (Server/Data Center) differ underneath. */
interface JiraApi {
  search(jql: string): Promise<IssueRef[]>;
  get(key: string): Promise<IssueRef | undefined>;
  create(fields: Record<string, unknown>): Promise<{ id: string; key: string }>;
  transitions(key: string): Promise<{ id: string; category: string }[]>;
  transition(key: string, id: string): Promise<void>;
  comment(key: string, text: string): Promise<void>;
  /** Assignee value for a user found by email: {accountId} on Cloud, {name} on Server/DC. */
  findUser(email: string): Promise<Record<string, string> | undefined>;
  assigneeFor(idOrName: string): Record<string, string>;
  description(finding: Finding, item: OutboxItem, opts: MessageOptions): unknown;
  /** Comments are wiki markup (v2) rather than plain text turned into ADF (v3). */
  wiki: boolean;
}

function jiraError(op: string, e: unknown): DeliveryError {
  if (e instanceof HttpException) {
    const res = (e.cause as { response?: { headers?: Record<string, unknown>; data?: unknown } } | undefined)
      ?.response;
    const data = res?.data as { errorMessages?: string[]; errors?: Record<string, string> } | undefined;
    const parts = [
      ...(data?.errorMessages ?? []),
      ...Object.entries(data?.errors ?? {}).map(([k, v]) => `${k}: ${v}`),
    ];
    const message = `jira ${op}: HTTP ${e.status}${parts.length ? ` ${parts.join("; ").slice(0, 300)}` : ""}`;
    const retryAfter = res?.headers?.["retry-after"];
    return isRetryableStatus(e.status)
      ? new DeliveryError(
          message,
          false,
          parseRetryAfter(typeof retryAfter === "string" ? retryAfter : undefined),
        )
      : new DeliveryError(message, true, undefined, `http_${e.status}`);
  }
  const err = e as { code?: string; message?: string };
  if (err?.code && err.message) return new DeliveryError(`jira ${op}: ${err.code}`, false);
  return asDeliveryError(e);
}

async function call<T>(op: string, fn: () => Promise<unknown>, schema: z.ZodType<T>): Promise<T> {
  let raw: unknown;
  try {
    raw = await fn();
  } catch (e) {
    throw jiraError(op, e);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new DeliveryError(`jira ${op}: unexpected answer (${parsed.error.issues[0]?.message})`, false);
  return parsed.data;
}

/** The calls on issues that Jira's v2 and v3 APIs share, shape for shape. */
interface IssuesClient {
  getIssue(p: { issueIdOrKey: string; fields: string[] }): Promise<unknown>;
  createIssue(p: { fields: never }): Promise<unknown>;
  getTransitions(p: { issueIdOrKey: string }): Promise<unknown>;
  doTransition(p: { issueIdOrKey: string; transition: { id: string } }): Promise<unknown>;
}

function issueOps(issues: IssuesClient): Pick<JiraApi, "get" | "create" | "transitions" | "transition"> {
  return {
    async get(key) {
      try {
        return toRef(
          await call(
            "get issue",
            () => issues.getIssue({ issueIdOrKey: key, fields: ["status"] }),
            issueSchema,
          ),
        );
      } catch (e) {
        if ((e as DeliveryError).code === "http_404") return undefined;
        throw e;
      }
    },
    create: (f) => call("create issue", () => issues.createIssue({ fields: f as never }), createdSchema),
    async transitions(key) {
      const r = await call(
        "transitions",
        () => issues.getTransitions({ issueIdOrKey: key }),
        transitionsSchema,
      );
      return r.transitions.map((t) => ({ id: t.id, category: t.to?.statusCategory?.key ?? "" }));
    },
    async transition(key, id) {
      await call(
        "transition",
        () => issues.doTransition({ issueIdOrKey: key, transition: { id } }),
        z.unknown(),
      );
    },
  };
}

/** jira.js client settings. Cloud: email + API token (basic). Server/DC: a personal access token as a bearer token. */
export function jiraClientConfig(cfg: Pick<JiraSettings, "url" | "email" | "token">, timeoutMs: number) {
  return {
    host: cfg.url,
    baseRequestConfig: {
      timeout: timeoutMs,
      ...(cfg.email ? {} : { headers: { Authorization: `Bearer ${cfg.token}` } }),
    },
    ...(cfg.email ? { authentication: { basic: { email: cfg.email, apiToken: cfg.token } } } : {}),
  };
}

function jiraApi(cfg: JiraSettings, timeoutMs: number): JiraApi {
  const common = jiraClientConfig(cfg, timeoutMs);
  const fields = ["status", "labels"];
  const any = z.unknown();
  if (cfg.apiVersion === 3) {
    const c = new Version3Client(common);
    return {
      async search(jql) {
        const r = await call(
          "search",
          () => c.issueSearch.searchForIssuesUsingJqlEnhancedSearch({ jql, fields, maxResults: 20 }),
          searchSchema,
        );
        return r.issues.map(toRef);
      },
      ...issueOps(c.issues),
      async comment(key, text) {
        await call(
          "comment",
          () => c.issueComments.addComment({ issueIdOrKey: key, comment: adfFromText(text) as never }),
          any,
        );
      },
      async findUser(email) {
        const users = await call(
          "user search",
          () => c.userSearch.findUsers({ query: email, maxResults: 2 }),
          usersSchema,
        );
        const u = users.find((x) => x.accountId && x.active !== false);
        return u?.accountId ? { accountId: u.accountId } : undefined;
      },
      assigneeFor: (id) => ({ accountId: id }),
      description: jiraDescriptionAdf,
      wiki: false,
    };
  }
  const c = new Version2Client(common);
  return {
    async search(jql) {
      const r = await call(
        "search",
        () => c.issueSearch.searchForIssuesUsingJql({ jql, fields, maxResults: 20 }),
        searchSchema,
      );
      return r.issues.map(toRef);
    },
    ...issueOps(c.issues),
    async comment(key, text) {
      await call(
        "comment",
        () =>
          c.sendRequest(
            {
              url: `/rest/api/2/issue/${encodeURIComponent(key)}/comment`,
              method: "POST",
              data: { body: text },
            },
            undefined as never,
          ),
        any,
      );
    },
    async findUser(email) {
      const users = await call(
        "user search",
        () => c.userSearch.findUsers({ username: email, maxResults: 2 }),
        usersSchema,
      );
      const u = users.find((x) => x.name && x.active !== false);
      return u?.name ? { name: u.name } : undefined;
    },
    assigneeFor: (name) => ({ name }),
    description: jiraDescriptionWiki,
    wiki: true,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One Jira ticket per finding. Opened → find the ticket by its label or create it (its key is
 * stored at once); reopened → reopen it or create a new one (jira.onReopen); remediated and
 * suppressed → a comment; resolved → a transition into the `done` status category.
 */
export function jiraChannel(cfg: JiraSettings, opts: JiraOptions): Channel {
  const api = jiraApi(cfg, opts.timeoutMs ?? 30_000);
  const delays = opts.searchRetryDelaysMs ?? [2_000, 5_000, 10_000];
  const assignees = new Map<string, Record<string, string> | null>();
  const messageOpts = (now: Date): MessageOptions => ({
    now,
    revealKeyId: false,
    jiraUrl: cfg.url,
    templates: opts.templates,
  });

  const pickOpenFirst = (found: IssueRef[]) => found.find((i) => i.category !== "done") ?? found[0];

  /** The finding's ticket: the stored key, else a label search (again, if a create may be in flight). */
  async function locate(finding: Finding, openOnly: boolean, now: Date): Promise<IssueRef | undefined> {
    const known = typeof finding.tickets.jiraKey === "string" ? finding.tickets.jiraKey : undefined;
    if (known) {
      const issue = await api.get(known);
      if (issue && (!openOnly || issue.category !== "done")) return issue;
    }
    const jql = `labels = "${findingLabel(finding.id)}"${openOnly ? " AND statusCategory != Done" : ""} ORDER BY created DESC`;
    let found = await api.search(jql);
    // An earlier attempt started a create and did not record its key: the ticket may exist but
    // not be searchable yet.
    const started = finding.tickets.jiraCreateStartedAt;
    const recent = typeof started === "string" && now.getTime() - Date.parse(started) < INDEX_LAG_MS;
    if (!found.length && recent) {
      for (const ms of delays) {
        await sleep(ms);
        found = await api.search(jql);
        if (found.length) break;
      }
    }
    return pickOpenFirst(found);
  }

  async function assignee(ctx: ChannelContext): Promise<Record<string, string> | undefined> {
    for (const cand of ctx.recipients.jiraAssignees) {
      if (!cand.includes("@")) return api.assigneeFor(cand);
      if (!assignees.has(cand)) assignees.set(cand, (await api.findUser(cand)) ?? null);
      const hit = assignees.get(cand);
      if (hit) return hit;
    }
    return undefined;
  }

  async function create(item: OutboxItem, finding: Finding, ctx: ChannelContext): Promise<IssueRef> {
    const project = ctx.recipients.jiraProject;
    if (!project) throw permanentError("jira: no project (set notify.jira.project or owners.*.jiraProject)");
    const mo = messageOpts(ctx.now);
    const fields: Record<string, unknown> = {
      project: { key: project },
      issuetype: { name: cfg.issueType },
      summary: jiraSummary(finding, item, mo),
      description: api.description(finding, item, mo),
      labels: [...new Set([...cfg.labels, findingLabel(finding.id)])],
      priority: { name: PRIORITY[finding.severity] },
    };
    const who = await assignee(ctx);
    if (who) fields.assignee = who;
    if (ctx.recipients.jiraParent) fields.parent = { key: ctx.recipients.jiraParent };

    // Mark the attempt before the POST: if the key is lost after it, the next attempt knows to
    // wait for the search index rather than create a second ticket.
    await ctx.mergeTickets({ jiraCreateStartedAt: ctx.now.toISOString() });
    let created: { key: string };
    try {
      created = await api.create(fields);
    } catch (e) {
      const rejected = OPTIONAL_FIELDS.filter((f) => f in fields && (e as Error).message.includes(`${f}:`));
      if (!(e instanceof DeliveryError) || !e.permanent) throw e;
      if (!rejected.length) {
        // A 4xx means nothing was created: no need to wait for the search index next time.
        await ctx.mergeTickets({ jiraCreateStartedAt: null });
        throw e;
      }
      for (const f of rejected) delete fields[f];
      ctx.log.warn(
        { project, dropped: rejected },
        "jira rejected optional fields; creating the ticket without them",
      );
      created = await api.create(fields);
    }
    await ctx.mergeTickets({ jiraKey: created.key, jiraCreateStartedAt: null });
    return { key: created.key, category: "new" };
  }

  async function move(key: string, want: (category: string) => boolean, prefer: string[], what: string) {
    const ts = await api.transitions(key);
    const ok = ts.filter((t) => want(t.category));
    const pick = prefer.map((p) => ok.find((t) => t.category === p)).find(Boolean) ?? ok[0];
    if (!pick) throw permanentError(`jira: ${key} has no transition ${what}`);
    await api.transition(key, pick.id);
  }

  return {
    name: "jira",
    async send(item, finding, ctx) {
      const mo = messageOpts(ctx.now);
      const link = (key: string) => jiraBrowseUrl(cfg.url, key);
      switch (item.event) {
        case "opened":
        case "reopened":
        case "escalated": {
          const recreate = item.event === "reopened" && cfg.onReopen === "recreate";
          const found = await locate(finding, recreate, ctx.now);
          if (!found) {
            const issue = await create(item, finding, ctx);
            return { tickets: { jiraKey: issue.key }, note: `created ${issue.key}` };
          }
          if (item.event === "reopened" && found.category === "done") {
            await move(found.key, (c) => c !== "done", ["new", "indeterminate"], "out of done");
            await api.comment(found.key, jiraComment(finding, item, mo, api.wiki));
            return { tickets: { jiraKey: found.key }, note: `reopened ${found.key}` };
          }
          if (item.event === "escalated") {
            await api.comment(found.key, jiraComment(finding, item, mo, api.wiki));
            return { tickets: { jiraKey: found.key }, note: `commented on ${found.key} (severity raised)` };
          }
          return { tickets: { jiraKey: found.key }, note: `found ${found.key} (${link(found.key)})` };
        }
        case "resolved": {
          const found = await locate(finding, false, ctx.now);
          if (!found) return { note: "no ticket to close" };
          if (found.category !== "done")
            await move(found.key, (c) => c === "done", ["done"], "to a done status");
          await api.comment(found.key, jiraComment(finding, item, mo, api.wiki));
          return { tickets: { jiraKey: found.key }, note: `closed ${found.key}` };
        }
        case "suppressed":
        case "remediated": {
          const found = await locate(finding, false, ctx.now);
          if (!found) return { note: "no ticket to comment on" };
          await api.comment(found.key, jiraComment(finding, item, mo, api.wiki));
          return { tickets: { jiraKey: found.key }, note: `commented on ${found.key}` };
        }
        default:
          return { note: `jira ignores ${item.event}` };
      }
    },
  };
}
