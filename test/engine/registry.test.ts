import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/allowlist.js";
import type { AllowlistSet } from "../../src/allowlist/set.js";
import { CHECKS } from "../../src/checks/registry.js";
import { configSchema } from "../../src/config/schema.js";
import { enabledEventChecks, eventHeaderFilter } from "../../src/engine/events.js";
import type { EventHeader } from "../../src/model/event.js";

const allowlists = (accounts: Record<string, string[]> = {}): AllowlistSet => ({
  lists: new Map([
    ["office", parseAllowlist("198.51.100.0/24\n", "office", "office.lst").list],
    ["ci", parseAllowlist("10.1.0.0/16\n", "ci", "ci.lst").list],
  ]),
  defaultNames: ["office"],
  accounts,
});

describe("check registry", () => {
  it("gives every check a config key with defaults, and rejects unknown ones", () => {
    const checks = configSchema.parse({}).checks;
    expect(Object.keys(checks).sort()).toEqual(CHECKS.map((c) => c.name).sort());
    expect(checks["password-unused"]).toEqual({ enabled: true, days: 90 });
    expect(checks["user-unused"]).toEqual({ enabled: true, days: 180 });
    expect(checks["console-without-mfa"]).toEqual({ enabled: true });
    // Defaults as before the registry.
    expect(checks["key-inactive"]).toEqual({ enabled: true, days: 90, severity: "medium" });
    expect(checks["key-age"]).toEqual({ enabled: true, expireDays: 180, warnDays: 15 });
    expect(checks["iam-change"]).toMatchObject({
      enabled: true,
      adminUsers: [],
      principalTypes: ["IAMUser"],
    });
    expect(() => configSchema.parse({ checks: { "user-unusd": {} } })).toThrow(/user-unusd/);
    expect(() => configSchema.parse({ checks: { "user-unused": { days: 0 } } })).toThrow();
  });

  it("declares permissions the audit policy grants", () => {
    const policy = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../policy/iamwarden-audit.json"), "utf8"),
    );
    const granted = new Set<string>(policy.Statement.flatMap((s: { Action: string[] }) => s.Action));
    for (const c of CHECKS)
      for (const p of c.permissions) expect([c.name, granted.has(p)]).toEqual([c.name, true]);
  });

  it("has unique names and one kind each", () => {
    expect(new Set(CHECKS.map((c) => c.name)).size).toBe(CHECKS.length);
    for (const c of CHECKS) expect(["state", "event", "metric"]).toContain(c.kind);
  });
});

describe("event pre-filters over headers", () => {
  const config = configSchema.parse({ checks: { "source-ip": { allowlists: { office: "o", ci: "c" } } } });
  const h = (over: Partial<EventHeader> & Record<string, unknown>): EventHeader => ({
    provider: "aws",
    kind: "api-call",
    action: "s3:GetObject",
    principalType: "IAMUser",
    sourceIp: "203.0.113.9",
    ...over,
  });

  it("names the checks that can run: source-ip only with lists", () => {
    expect(enabledEventChecks(config)).toEqual(["iam-change"]);
    expect(enabledEventChecks(config, allowlists())).toEqual(["iam-change", "source-ip"]);
  });

  it("lets through IAM changes and what source-ip may flag, and nothing else", () => {
    const f = eventHeaderFilter(config, allowlists());
    expect(f(h({ action: "iam:CreateUser", sourceIp: "198.51.100.1" }))).toBe(true);
    expect(f(h({ action: "iam:DetachUserPolicy", sourceIp: "198.51.100.1" }))).toBe(true); // may lift quarantine
    expect(f(h({ action: "iam:ListUsers", sourceIp: "198.51.100.1" }))).toBe(false);
    expect(f(h({}))).toBe(true); // outside every list, account unknown
    expect(f(h({ sourceIp: "198.51.100.7" }))).toBe(false); // inside the lists of every account
    expect(f(h({ sourceIp: "AWS Internal" }))).toBe(false);
    expect(f(h({ invokedBy: "cloudformation.amazonaws.com" }))).toBe(false);
    expect(f(h({ kind: "console-login", action: "signin:ConsoleLogin" }))).toBe(true);
    expect(f(h({ provider: "ibm", kind: "login", action: "iam-identity.user-apikey.login" }))).toBe(true);
    expect(f(h({ provider: "ibm", kind: "api-call", action: "iam-identity.apikey.create" }))).toBe(false);
  });

  it("uses the account and key when the reader knows them", () => {
    const f = eventHeaderFilter(config, allowlists({ "123456789012": ["office", "ci"] }));
    // 10.1.0.0/16 (ci) covers account 123456789012 only, so without an account it may be a finding.
    expect(f(h({ sourceIp: "10.1.2.3" }))).toBe(true);
    expect(f(h({ sourceIp: "10.1.2.3", account: "123456789012" }))).toBe(false);
    expect(f(h({ sourceIp: "10.1.2.3", account: "999999999999" }))).toBe(true);
    expect(f(h({ accessKeyId: "ASIATEMPORARY0000001" }))).toBe(false);
    expect(f(h({ accessKeyId: "AKIALONGTERM00000001" }))).toBe(true);
  });
});
