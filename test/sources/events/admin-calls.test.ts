import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/allowlist/allowlist.js";
import type { AllowlistSet } from "../../../src/allowlist/set.js";
import { configSchema } from "../../../src/config/schema.js";
import { runEventChecks } from "../../../src/engine/events.js";
import { noRoutes } from "../../../src/engine/routing.js";
import type { IamEvent } from "../../../src/model/event.js";
import { adminResolver } from "../../../src/sources/cloudtrail/admin-group.js";
import { fromCloudTrailRecord } from "../../../src/sources/cloudtrail/record.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";

// A local replay reads an account's admin group (an AWS call) only when one of its events could be
// an unintended IAM change, and accounts iamwarden cannot reach are named together.

const allowlists: AllowlistSet = {
  lists: new Map([["office", parseAllowlist("198.51.100.0/24\n", "office", "office.lst").list]]),
  defaultNames: ["office"],
  accounts: {},
};
const config = configSchema.parse({
  checks: {
    "iam-change": { adminUsers: ["alice.admin"], adminGroup: "admins" },
    "source-ip": { allowlists: { office: "office.lst" }, default: ["office"] },
  },
});

function event(account: string, eventName: string, i: number): IamEvent {
  const e = fromCloudTrailRecord({
    eventTime: new Date(Date.UTC(2024, 2, 19, 10, 0, i)).toISOString(),
    eventSource: eventName === "ConsoleLogin" ? "signin.amazonaws.com" : "iam.amazonaws.com",
    eventName,
    userIdentity: {
      type: "IAMUser",
      arn: `arn:aws:iam::${account}:user/bob`,
      accountId: account,
      userName: "bob",
    },
    sourceIPAddress: "203.0.113.5",
    responseElements: eventName === "ConsoleLogin" ? { ConsoleLogin: "Success" } : null,
    eventID: `${account}-${i}`,
    recipientAccountId: account,
  });
  if (typeof e === "string") throw new Error(e);
  return e;
}

describe("the admin group in a replay", () => {
  it("is read only for accounts with events iam-change could flag, once each", async () => {
    const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "iamwarden-admins-")), "store.db"));
    const asked: string[] = [];
    try {
      const r = await runEventChecks(
        (async function* () {
          yield [event("111111111111", "ConsoleLogin", 1), event("222222222222", "CreateUser", 2)];
          yield [event("111111111111", "ListUsers", 3), event("222222222222", "CreateUser", 4)];
          yield [event("333333333333", "ConsoleLogin", 5)];
        })(),
        config,
        {
          store,
          route: noRoutes,
          now: new Date("2024-03-20T00:00:00Z"),
          runId: "r1",
          allowlists,
          admins: async (a) => {
            asked.push(a);
            return new Set(["alice.admin"]);
          },
        },
      );
      expect(asked).toEqual(["222222222222"]);
      expect(new Set(r.accounts)).toEqual(new Set(["111111111111", "222222222222", "333333333333"]));
      expect(r.findings.map((f) => f.check).sort()).toEqual(["iam-change", "source-ip", "source-ip"]);
    } finally {
      await store.close();
    }
  });

  it("names accounts that are not configured to the caller instead of warning once per account", async () => {
    const warnings: string[] = [];
    const missing: string[] = [];
    const admins = adminResolver({
      adminUsers: ["alice.admin"],
      adminGroup: "admins",
      iamFor: async () => undefined,
      onWarning: (w) => warnings.push(w),
      onNotConfigured: (a) => missing.push(a),
    });
    expect(await admins("111111111111")).toEqual(new Set(["alice.admin"]));
    await admins("222222222222");
    await admins("111111111111");
    expect(missing).toEqual(["111111111111", "222222222222"]);
    expect(warnings).toEqual([]);
  });
});
