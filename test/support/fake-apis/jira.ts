import { type FakeServer, need, parseJson, type Recorded, startFake } from "./server.js";

// A fake Jira: Cloud REST v3 (basic auth with email + API token, ADF bodies, the eventually
// consistent /search/jql; the old /search answers 410) or Server/Data Center REST v2 (bearer
// personal access token, wiki-markup strings, /search). Errors as Jira sends them:
// { errorMessages: [], errors: { field: message } }.

export interface FakeIssue {
  id: string;
  key: string;
  project: string;
  summary: string;
  description: unknown;
  labels: string[];
  priority?: string;
  assignee?: Record<string, string>;
  parent?: string;
  status: string;
  comments: unknown[];
  /** Searches still blind to it (eventual consistency). */
  hiddenFor: number;
}

/** A workflow whose names prove the client goes by status category, never by name. */
const STATUSES: Record<string, { id: string; category: "new" | "indeterminate" | "done" }> = {
  Offen: { id: "1", category: "new" },
  "In Arbeit": { id: "3", category: "indeterminate" },
  Geschlossen: { id: "6", category: "done" },
};
const TRANSITIONS: Record<string, { id: string; name: string; to: string }[]> = {
  Offen: [
    { id: "11", name: "Done", to: "In Arbeit" }, // a decoy: named "Done", goes nowhere near done
    { id: "31", name: "Schließen", to: "Geschlossen" },
  ],
  "In Arbeit": [{ id: "31", name: "Schließen", to: "Geschlossen" }],
  Geschlossen: [{ id: "41", name: "Wieder öffnen", to: "Offen" }],
};

export interface FakeJira extends FakeServer {
  issues: FakeIssue[];
  settings: {
    /** How many searches a new issue stays invisible to. */
    indexLag: number;
    /** Fields the create screen lacks: setting them is a 400, as on a real project. */
    offScreen: string[];
  };
}

const statusJson = (name: string) => ({
  name,
  id: STATUSES[name]!.id,
  statusCategory: { key: STATUSES[name]!.category },
});

function checkAdf(doc: unknown, where: string): void {
  const d = doc as { type?: string; version?: number; content?: unknown[] };
  need(
    d && d.type === "doc" && d.version === 1 && Array.isArray(d.content),
    `${where} must be an ADF doc (v3)`,
  );
  const walk = (n: { type?: string; text?: string; content?: unknown[] }) => {
    need(typeof n.type === "string", `${where}: every ADF node has a type`);
    if (n.type === "text")
      need(typeof n.text === "string" && n.text.length > 0, `${where}: empty ADF text node`);
    for (const c of n.content ?? []) walk(c as never);
  };
  for (const c of d.content!) walk(c as never);
}

export async function startFakeJira(opts: {
  version: 2 | 3;
  email?: string;
  token: string;
  projects: string[];
  /** v3: email → accountId; v2: email → user name. */
  users?: Record<string, string>;
}): Promise<FakeJira> {
  const issues: FakeIssue[] = [];
  const users = opts.users ?? {};
  const v = opts.version;
  const state = { indexLag: 0, offScreen: [] as string[] };

  const authorised = (r: Recorded) => {
    const expected =
      v === 3
        ? `Basic ${Buffer.from(`${opts.email}:${opts.token}`).toString("base64")}`
        : `Bearer ${opts.token}`;
    return r.headers.authorization === expected;
  };
  const byKey = (key: string) => issues.find((i) => i.key === key || i.id === key);
  const notFound = {
    status: 404,
    body: { errorMessages: ["Issue does not exist or you do not have permission to see it."], errors: {} },
  };
  const issueJson = (i: FakeIssue) => ({
    id: i.id,
    key: i.key,
    self: `http://jira/rest/api/${v}/issue/${i.id}`,
    fields: { status: statusJson(i.status), labels: i.labels },
  });

  const search = (r: Recorded) => {
    need(r.method === "GET", "search by GET");
    const jql = r.query.get("jql") ?? "";
    const m = /^labels = "([^"]+)"( AND statusCategory != Done)? ORDER BY created DESC$/.exec(jql);
    if (!m)
      return { status: 400, body: { errorMessages: [`fake Jira cannot parse JQL: ${jql}`], errors: {} } };
    const max = Number(r.query.get("maxResults") ?? 50);
    need(max >= 1 && max <= 5000, "maxResults between 1 and 5000");
    const hits = issues
      .filter((i) => {
        if (i.hiddenFor > 0) {
          i.hiddenFor--;
          return false;
        }
        return i.labels.includes(m[1]!) && (!m[2] || STATUSES[i.status]!.category !== "done");
      })
      .reverse()
      .slice(0, max)
      .map(issueJson);
    return v === 3
      ? { status: 200, body: { issues: hits, isLast: true } }
      : { status: 200, body: { startAt: 0, maxResults: max, total: hits.length, issues: hits } };
  };

  const create = (r: Recorded) => {
    const body = parseJson(r);
    const f = body.fields as Record<string, unknown> | undefined;
    need(f && typeof f === "object", "create needs fields");
    const errors: Record<string, string> = {};
    const project = (f.project as { key?: string } | undefined)?.key;
    if (!project || !opts.projects.includes(project)) errors.project = "valid project is required";
    if (!(f.issuetype as { name?: string } | undefined)?.name) errors.issuetype = "issue type is required";
    const summary = f.summary;
    if (typeof summary !== "string" || !summary) errors.summary = "You must specify a summary of the issue.";
    else if (summary.length > 255 || /\n/.test(summary))
      errors.summary = "Summary must be one line of 255 characters or less.";
    if (v === 3) checkAdf(f.description, "description");
    else need(typeof f.description === "string", "description is a string on v2");
    need(
      Array.isArray(f.labels) && f.labels.every((l) => typeof l === "string" && !/\s/.test(l)),
      "labels: strings without spaces",
    );
    for (const off of state.offScreen)
      if (off in f)
        errors[off] = `Field '${off}' cannot be set. It is not on the appropriate screen, or unknown.`;
    const assignee = f.assignee as Record<string, string> | undefined;
    if (assignee) {
      if (v === 3) need(assignee.accountId && !assignee.name, "v3 assigns by accountId");
      else need(assignee.name, "v2 assigns by name");
    }
    const priority = (f.priority as { name?: string } | undefined)?.name;
    if (priority && !["Highest", "High", "Medium", "Low", "Lowest"].includes(priority))
      errors.priority = "invalid priority";
    if (Object.keys(errors).length) return { status: 400, body: { errorMessages: [], errors } };
    const id = String(10_000 + issues.length + 1);
    const key = `${project}-${issues.length + 1}`;
    issues.push({
      id,
      key,
      project: project!,
      summary: summary as string,
      description: f.description,
      labels: f.labels as string[],
      priority,
      assignee,
      parent: (f.parent as { key?: string } | undefined)?.key,
      status: "Offen",
      comments: [],
      hiddenFor: state.indexLag,
    });
    return { status: 201, body: { id, key, self: `http://jira/rest/api/${v}/issue/${id}` } };
  };

  const fake = await startFake(`jira v${v}`, (r) => {
    if (!authorised(r))
      return { status: 401, body: { errorMessages: ["You are not authenticated."], errors: {} } };
    const base = `/rest/api/${v}`;
    need(r.path.startsWith(`${base}/`), `expected REST API v${v} paths, got ${r.path}`);
    const rest = r.path.slice(base.length);
    if (v === 3 && rest === "/search")
      return {
        status: 410,
        body: {
          errorMessages: ["The requested API has been removed. Please migrate to /rest/api/3/search/jql."],
        },
      };
    if (rest === (v === 3 ? "/search/jql" : "/search")) return search(r);
    if (rest === "/issue" && r.method === "POST") return create(r);
    if (rest === "/user/search") {
      need(r.method === "GET", "user search by GET");
      const q = v === 3 ? r.query.get("query") : r.query.get("username");
      need(q, v === 3 ? "Cloud user search takes query" : "Server user search takes username");
      const hit = users[q];
      if (!hit) return { status: 200, body: [] };
      return {
        status: 200,
        body: [
          v === 3
            ? { accountId: hit, accountType: "atlassian", active: true }
            : { name: hit, key: hit, emailAddress: q, active: true },
        ],
      };
    }
    const m = /^\/issue\/([^/]+)(\/transitions|\/comment)?$/.exec(rest);
    if (m) {
      const issue = byKey(decodeURIComponent(m[1]!));
      if (!issue) return notFound;
      if (!m[2]) {
        need(r.method === "GET", "GET an issue");
        return { status: 200, body: issueJson(issue) };
      }
      if (m[2] === "/transitions" && r.method === "GET") {
        return {
          status: 200,
          body: {
            transitions: TRANSITIONS[issue.status]!.map((t) => ({
              id: t.id,
              name: t.name,
              to: statusJson(t.to),
            })),
          },
        };
      }
      if (m[2] === "/transitions" && r.method === "POST") {
        const body = parseJson(r);
        const id = (body.transition as { id?: string } | undefined)?.id;
        const t = TRANSITIONS[issue.status]!.find((x) => x.id === id);
        if (!t)
          return {
            status: 400,
            body: { errorMessages: [`Transition id '${id}' is not valid for this issue.`], errors: {} },
          };
        issue.status = t.to;
        return { status: 204 };
      }
      if (m[2] === "/comment" && r.method === "POST") {
        const body = parseJson(r);
        if (v === 3) checkAdf(body.body, "comment body");
        else need(typeof body.body === "string" && body.body, "v2 comment body is a string");
        issue.comments.push(body.body);
        return { status: 201, body: { id: String(issue.comments.length) } };
      }
    }
    throw new Error(`fake jira: no route for ${r.method} ${r.path}`);
  });

  return Object.assign(fake, { issues, settings: state });
}
