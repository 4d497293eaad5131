import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  actionOfAudit,
  deactivateKeyAction,
  quarantineUserAction,
  REMEDIATION_ACTIONS,
  remediationPermissions,
  scheduledChecks,
} from "../../../src/actions/remediate/registry.js";
import type { Finding } from "../../../src/model/finding.js";

const policyActions = (name: string): string[] => {
  const doc = JSON.parse(readFileSync(new URL(`../../../policy/${name}`, import.meta.url), "utf8")) as {
    Statement: { Effect: string; Action: string | string[] }[];
  };
  return doc.Statement.filter((s) => s.Effect === "Allow").flatMap((s) =>
    Array.isArray(s.Action) ? s.Action : [s.Action],
  );
};

const finding = (over: Partial<Finding>): Finding => ({
  id: "x",
  check: "key-inactive",
  account: "123456789012",
  resource: "AKIAEXAMPLEEXAMPLE01",
  severity: "medium",
  status: "open",
  title: "t",
  details: {},
  firstSeen: "2026-01-01T00:00:00Z",
  lastSeen: "2026-01-01T00:00:00Z",
  statusChangedAt: "2026-01-01T00:00:00Z",
  tickets: {},
  ...over,
});

describe("remediation-action registry", () => {
  it("names each action once, and each audit action has one owner", () => {
    const names = REMEDIATION_ACTIONS.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    const audit = REMEDIATION_ACTIONS.flatMap((a) => a.auditActions);
    expect(new Set(audit).size).toBe(audit.length);
    expect(actionOfAudit("rollback:attach-user-policy")?.name).toBe("quarantine-user");
    expect(actionOfAudit("delete-key")?.name).toBe("delete-key");
    expect(actionOfAudit("something-else")).toBeUndefined();
    expect(scheduledChecks()).toEqual(["key-inactive", "key-age"]);
  });

  it("the shipped policies grant every permission the actions declare", () => {
    const granted = new Set([
      ...policyActions("iamwarden-remediate.json"),
      ...policyActions("iamwarden-audit.json"),
    ]);
    expect(remediationPermissions().filter((p) => !granted.has(p))).toEqual([]);
  });

  it("finds its target in the finding, or says it cannot", () => {
    const key = finding({ details: { username: "bob", keyId: "AKIAEXAMPLEEXAMPLE01" } });
    expect(deactivateKeyAction.appliesTo(key)).toBe(true);
    expect(deactivateKeyAction.target(key)).toEqual({ user: "bob", keyId: "AKIAEXAMPLEEXAMPLE01" });
    expect(deactivateKeyAction.target(finding({ resource: "bob#key1", details: { username: "bob" } }))).toBe(
      undefined,
    );
    const change = finding({
      check: "iam-change",
      details: { username: "mallory", principalType: "IAMUser" },
    });
    expect(quarantineUserAction.appliesTo(change)).toBe(true);
    expect(quarantineUserAction.appliesTo({ ...change, details: { principalType: "AssumedRole" } })).toBe(
      false,
    );
    expect(quarantineUserAction.target(change)).toBe("mallory");
  });
});
