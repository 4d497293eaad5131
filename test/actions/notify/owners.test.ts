import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { contactFromTags, loadOwnerMap, recipientsFor } from "../../../src/actions/notify/owners.js";
import { configSchema } from "../../../src/config/schema.js";
import type { Finding } from "../../../src/model/finding.js";

const finding = (over: Partial<Finding> = {}): Finding => ({
  id: "key-age/123456789012/aaa",
  check: "key-age",
  account: "123456789012",
  resource: "AKIAIOSFODNN7EXAMPLE",
  owner: "alice",
  severity: "high",
  status: "open",
  title: "t",
  details: { username: "alice" },
  firstSeen: "2026-01-01T00:00:00Z",
  lastSeen: "2026-01-01T00:00:00Z",
  statusChangedAt: "2026-01-01T00:00:00Z",
  tickets: {},
  ...over,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-owners-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("who hears about a finding", () => {
  const config = configSchema.parse({
    notify: {
      slack: { token: "x", channel: "#fallback" },
      jira: { url: "https://j.example", token: "t", project: "SEC", parent: "SEC-1" },
    },
    owners: {
      default: { jiraProject: "GLOBAL", jiraAssignee: "secops@example.com", slack: ["#iam-alerts"] },
      accounts: { "123456789012": { jiraProject: "PROD", slack: ["#prod-security"] } },
    },
  });

  it("takes account settings over global ones field by field (ticket_owners.json semantics)", () => {
    const r = recipientsFor(finding(), config, {});
    expect(r).toMatchObject({
      slack: ["#prod-security"],
      jiraProject: "PROD",
      jiraAssignees: ["secops@example.com"],
      jiraParent: "SEC-1",
    });
    const other = recipientsFor(finding({ account: "999999999999" }), config, {});
    expect(other).toMatchObject({ slack: ["#iam-alerts"], jiraProject: "GLOBAL" });
    const bare = recipientsFor(finding(), configSchema.parse({ notify: config.notify }), {});
    expect(bare).toMatchObject({ slack: ["#fallback"], jiraProject: "SEC", jiraAssignees: [] });
  });

  it("puts the IAM user first: an account-specific mapping, then a global one, then tags", () => {
    const users = {
      alice: { slack: "U0ALICE01", email: "alice@example.com" },
      "123456789012/alice": { jiraAccountId: "acc-prod-alice" },
    };
    const r = recipientsFor(finding(), config, users);
    expect(r.user).toEqual({
      name: "alice",
      slack: undefined,
      email: undefined,
      jiraAccountId: "acc-prod-alice",
    });
    expect(r.jiraAssignees).toEqual(["acc-prod-alice", "secops@example.com"]);
    const tagged = recipientsFor(
      finding({
        details: {
          username: "alice",
          userTags: { email: "alice@corp.example", team: "x", slack: "U0TAGGED1" },
        },
      }),
      config,
      {},
    );
    expect(tagged.user).toMatchObject({ email: "alice@corp.example", slack: "U0TAGGED1" });
    expect(tagged.jiraAssignees).toEqual(["alice@corp.example", "secops@example.com"]);
    expect(
      recipientsFor(finding({ owner: "<root_account>", details: { username: "<root_account>" } }), config, {})
        .user,
    ).toBeUndefined();
  });

  it("reads tags only under the configured keys, by the shape of their value", () => {
    expect(contactFromTags({ owner: "bob@example.com", other: "carol@example.com" }, ["owner"])).toEqual({
      email: "bob@example.com",
    });
    expect(contactFromTags({ "slack-handle": "bob" }, ["slack-handle"])).toEqual({ slack: "bob" });
  });
});

describe("the owners file", () => {
  it("reads YAML or JSON relative to the config's folder", () => {
    writeFileSync(join(dir, "owners.yaml"), "alice:\n  slack: U0ALICE01\n  email: alice@example.com\n");
    expect(loadOwnerMap("owners.yaml", dir)).toEqual({
      alice: { slack: "U0ALICE01", email: "alice@example.com" },
    });
    writeFileSync(join(dir, "owners.json"), JSON.stringify({ bob: { jiraAccountId: "acc-bob" } }));
    expect(loadOwnerMap("owners.json", dir)).toEqual({ bob: { jiraAccountId: "acc-bob" } });
  });

  it("names the file and line of a mistake", () => {
    writeFileSync(join(dir, "owners.yaml"), "alice:\n  slack: U0ALICE01\nbob:\n  phone: 555\n");
    expect(() => loadOwnerMap("owners.yaml", dir)).toThrow(/^owners\.yaml:4: bob: Unrecognized key: "phone"/);
    writeFileSync(join(dir, "broken.yaml"), "alice:\n  slack: [\n");
    expect(() => loadOwnerMap("broken.yaml", dir)).toThrow(/^broken\.yaml:\d+: /);
    expect(() => loadOwnerMap("missing.yaml", dir)).toThrow("missing.yaml: cannot read owners file (ENOENT)");
    expect(() => loadOwnerMap({ alice: { pager: "x" } }, dir)).toThrow(
      /^owners\.users\.alice: Unrecognized key/,
    );
  });
});
