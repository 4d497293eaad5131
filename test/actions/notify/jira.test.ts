import { afterEach, describe, expect, it } from "vitest";
import { deliverOutbox } from "../../../src/actions/notify/deliver.js";
import { findingLabel, jiraChannel } from "../../../src/actions/notify/jira.js";
import { type Config, configSchema } from "../../../src/config/schema.js";
import { planReconcile } from "../../../src/engine/reconcile.js";
import { routerFromConfig } from "../../../src/engine/routing.js";
import type { Candidate } from "../../../src/model/finding.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import type { Store } from "../../../src/store/store.js";
import { type FakeJira, startFakeJira } from "../../support/fake-apis/jira.js";

const cand: Candidate = {
  check: "key-age",
  account: "111122223333",
  accountAlias: "prod",
  resource: "AKIAIOSFODNN7EXAMPLE",
  owner: "alice",
  severity: "critical",
  title: "Access key of alice is 400 days old, past the 180-day limit",
  details: {
    username: "alice",
    keyId: "AKIAIOSFODNN7EXAMPLE",
    createDate: "2025-01-01T00:00:00.000Z",
    lastUsed: null,
    ageDays: 400,
  },
};

let jira: FakeJira | undefined;
let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  await jira?.close();
  store = undefined;
  jira = undefined;
});

function setup(config: Config) {
  const s = openSqliteStore(":memory:");
  store = s;
  const route = routerFromConfig(config.notify);
  const channels = {
    jira: jiraChannel(config.notify.jira!, { templates: config.notify.templates, searchRetryDelaysMs: [0] }),
  };
  return async (candidates: Candidate[], now: string) => {
    await s.reconcile({ account: cand.account, checks: [cand.check] }, (existing) =>
      planReconcile(existing, {
        account: cand.account,
        checks: [cand.check],
        kind: "state",
        complete: true,
        candidates,
        suppress: () => undefined,
        route,
        renotifyHours: 24,
        now: new Date(now),
        runId: now,
      }),
    );
    return deliverOutbox(s, config, { now: new Date(now), channels });
  };
}

describe("Jira Server / Data Center (REST v2)", () => {
  it("creates with a bearer token, wiki markup and an assignee found by email; reopens or recreates", async () => {
    const j = await startFakeJira({
      version: 2,
      token: "pat-123",
      projects: ["OPS"],
      users: { "alice@corp.example": "alice.s" },
    });
    jira = j;
    const config = configSchema.parse({
      notify: {
        jira: {
          url: j.url,
          token: "pat-123",
          apiVersion: 2,
          project: "OPS",
          onReopen: "recreate",
          parent: "OPS-1",
        },
      },
      owners: { users: { alice: { email: "alice@corp.example" } } },
    });
    const run = setup(config);
    expect(await run([cand], "2026-04-01T00:00:00Z")).toMatchObject({ delivered: 1, failed: 0 });
    expect(j.issues).toHaveLength(1);
    const issue = j.issues[0]!;
    expect(issue).toMatchObject({
      project: "OPS",
      priority: "Highest",
      assignee: { name: "alice.s" },
      parent: "OPS-1",
    });
    expect(issue.description).toContain("{code:bash}");
    expect(issue.description).toContain("aws iam create-access-key --user-name alice");
    expect(issue.description).not.toContain("AKIAIOSFODNN7EXAMPLE");
    expect(issue.summary).toBe(
      "Access key of alice is 400 days old, past the 180-day limit [prod (111122223333)]",
    );
    expect(j.requests.some((r) => r.path === "/rest/api/2/search")).toBe(true);

    // Resolved: a transition into the done category, then a comment (a plain string on v2).
    await run([], "2026-04-02T00:00:00Z");
    expect(issue.status).toBe("Geschlossen");
    expect(issue.comments).toEqual(["iamwarden: Resolved. no longer seen by a complete scan"]);

    // Seen again with onReopen: recreate → a new ticket; the closed one stays closed.
    expect(await run([cand], "2026-04-03T00:00:00Z")).toMatchObject({ delivered: 1, failed: 0 });
    expect(j.issues.map((i) => [i.key, i.status])).toEqual([
      ["OPS-1", "Geschlossen"],
      ["OPS-2", "Offen"],
    ]);
    expect((await store!.listFindings())[0]!.tickets.jiraKey).toBe("OPS-2");
    expect(j.violations).toEqual([]);
  });
});

describe("Jira Cloud (REST v3)", () => {
  it("reopens the same ticket by default, by status category", async () => {
    const j = await startFakeJira({ version: 3, email: "bot@example.com", token: "t", projects: ["SEC"] });
    jira = j;
    const config = configSchema.parse({
      notify: { jira: { url: j.url, email: "bot@example.com", token: "t", project: "SEC" } },
    });
    const run = setup(config);
    await run([cand], "2026-04-01T00:00:00Z");
    await run([], "2026-04-02T00:00:00Z");
    await run([cand], "2026-04-03T00:00:00Z");
    expect(j.issues).toHaveLength(1);
    expect(j.issues[0]!.status).toBe("Offen");
    const moves = j.requests.filter((r) => r.method === "POST" && r.path.endsWith("/transitions"));
    expect(moves.map((r) => JSON.parse(r.body).transition.id)).toEqual(["31", "41"]);
    expect(j.issues[0]!.comments).toHaveLength(2);
    expect(j.violations).toEqual([]);
  });

  it("creates the ticket without fields the project's screen lacks instead of failing", async () => {
    const j = await startFakeJira({ version: 3, email: "bot@example.com", token: "t", projects: ["SEC"] });
    jira = j;
    j.settings.offScreen = ["priority"];
    const config = configSchema.parse({
      notify: { jira: { url: j.url, email: "bot@example.com", token: "t", project: "SEC" } },
      owners: { default: { jiraAssignee: "5b10ac8d82e05b22cc7d4ef5" } },
    });
    const run = setup(config);
    expect(await run([cand], "2026-04-01T00:00:00Z")).toMatchObject({ delivered: 1, failed: 0 });
    expect(j.issues[0]).toMatchObject({
      priority: undefined,
      assignee: { accountId: "5b10ac8d82e05b22cc7d4ef5" },
    });
    expect(j.violations).toEqual([]);
  });

  it("fails permanently on bad credentials, and retries 5xx with a Retry-After date", async () => {
    const j = await startFakeJira({
      version: 3,
      email: "bot@example.com",
      token: "right",
      projects: ["SEC"],
    });
    jira = j;
    const bad = setup(
      configSchema.parse({ notify: { jira: { url: j.url, email: "bot@example.com", token: "wrong" } } }),
    );
    expect(await bad([cand], "2026-04-01T00:00:00Z")).toMatchObject({ failed: 1 });
    expect((await store!.listOutbox({ status: ["failed"] }))[0]!.lastError).toBe(
      "jira search: HTTP 401 You are not authenticated.",
    );
    await store!.close();

    const good = setup(
      configSchema.parse({
        notify: { jira: { url: j.url, email: "bot@example.com", token: "right", project: "SEC" } },
      }),
    );
    const in90s = new Date(Date.now() + 90_000).toUTCString();
    j.inject((r) => r.path === "/rest/api/3/search/jql", {
      status: 503,
      headers: { "retry-after": in90s },
      body: {},
    });
    expect(await good([cand], "2026-04-01T00:00:00Z")).toMatchObject({ pending: 1, failed: 0 });
    const [item] = await store!.listOutbox({ status: ["pending"] });
    // An HTTP date is the server's clock: about 90 s from now, counted from the run's clock.
    const waited = Date.parse(item!.nextAttemptAt) - Date.parse("2026-04-01T00:00:00Z");
    expect(waited).toBeGreaterThan(80_000);
    expect(waited).toBeLessThanOrEqual(90_000);
    expect(j.violations).toEqual([]);
  });

  it("labels tie a ticket to its finding", () => {
    expect(findingLabel("key-age/111122223333/abc")).toMatch(/^iamwarden-[0-9a-f]{16}$/);
    expect(findingLabel("a")).not.toBe(findingLabel("b"));
  });
});
