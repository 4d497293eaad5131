import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { useFakeAwsCredentials } from "../sources/aws/setup.js";
import { runCli } from "../support/cli.js";
import { type FakeIbmIam, startFakeIbmIam } from "../support/fake-apis/ibm-iam.js";
import {
  addAccount,
  addGroup,
  addRole,
  createState,
  type EmuState,
  type IamEmulator,
  policyVersionOps,
  policyVersions,
  roleAttached,
  startIamEmulator,
} from "../support/iam-emulator/index.js";
import { writeOps } from "../support/iam-emulator/write-ops.js";

// allowlist plan / apply / drift / rollback as a user runs them: the real CLI against the IAM
// emulator and a fake IBM Cloud IAM.

const ACCT = "123456789012";
const ROLE = "iamwarden-admin";
const IBM = "0123456789abcdef0123456789abcdef";
const API_KEY = "ibm-api-key-for-tests";
const ARN = `arn:aws:iam::${ACCT}:policy/iamwarden-source-ip`;

const dir = mkdtempSync(join(tmpdir(), "iamwarden-allowlist-apply-"));
const configPath = join(dir, "iamwarden.yaml");
let state: EmuState;
let emu: IamEmulator;
let ibm: FakeIbmIam;

function writeConfig(apply: Record<string, unknown> = {}) {
  writeFileSync(
    configPath,
    stringify({
      store: "./iamwarden.db",
      aws: { endpoint: emu.url, region: "us-east-1", maxAttempts: 2 },
      accounts: [{ id: ACCT, roleName: ROLE }],
      checks: {
        "source-ip": { allowlists: { office: "office.lst", vpn: "vpn.lst" }, default: ["office", "vpn"] },
      },
      allowlists: {
        apply: {
          selfIp: "203.0.113.7",
          mustAllow: ["203.0.113.7"],
          aws: { attach: { groups: ["everyone"], roles: ["deployer"] } },
          ibm: { apiKey: API_KEY, accounts: [IBM], iamUrl: ibm.url, settingsUrl: ibm.url },
          ...apply,
        },
      },
    }),
  );
}

const office = (extra = "") =>
  writeFileSync(
    join(dir, "office.lst"),
    `# HQ\n198.51.100.0/25\n198.51.100.128/25 # joined with the line above\n2001:db8:1234::/48\n${extra}`,
  );

beforeAll(async () => {
  useFakeAwsCredentials();
  state = createState();
  addAccount(state, { id: ACCT, name: "prod" });
  addRole(state, ACCT, { name: ROLE });
  addRole(state, ACCT, { name: "deployer" });
  addGroup(state, ACCT, { name: "everyone" });
  emu = await startIamEmulator({ state, operations: [...writeOps(), ...policyVersionOps()] });
  ibm = await startFakeIbmIam({ apiKey: API_KEY, accounts: [IBM] });
  office();
  writeFileSync(join(dir, "vpn.lst"), "203.0.113.7 # vpn\n");
  writeConfig();
});

afterAll(async () => {
  await emu.close();
  await ibm.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(["--config", configPath, "allowlist", ...args]);
const acct = () => state.accounts.get(ACCT)!;
const policy = () => acct().policies.get(ARN);
const json = (s: string) => JSON.parse(s);

// Each command is a child process: allow for a loaded machine.
describe("allowlist plan, apply, drift and rollback", { timeout: 120_000 }, () => {
  let firstRun: string;
  let secondRun: string;

  it("plan shows each account's change and changes nothing", async () => {
    const r = await cli("plan", "--format", "json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const plans = json(r.stdout).plans as { provider: string; added: string[]; changes: string[] }[];
    expect(plans.map((p) => p.provider)).toEqual(["aws", "ibm"]);
    // Adjacent /25s merged into one /24; IPv4 and IPv6 in one list.
    expect(plans[0]!.added).toEqual(["198.51.100.0/24", "203.0.113.7/32", "2001:db8:1234::/48"]);
    expect(plans[0]!.changes).toEqual([
      "create the policy iamwarden-source-ip (CreatePolicy)",
      "attach iamwarden-source-ip to the group everyone",
      "attach iamwarden-source-ip to the role deployer",
    ]);
    expect(plans[1]!.added).toEqual(plans[0]!.added);
    expect(policy()).toBeUndefined();
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toBe("");
  });

  it("drift reports both accounts before anything is applied", async () => {
    const r = await cli("drift", "--format", "json");
    expect(r.code).toBe(1);
    expect(
      json(r.stdout)
        .open.map((f: { resource: string }) => f.resource)
        .sort(),
    ).toEqual(["aws:allowlist", "ibm:allowlist"]);
  });

  it("apply creates and attaches the deny policy, sets IBM's allowed_ip_addresses, audits, and resolves drift", async () => {
    const r = await cli("apply", "--yes", "--format", "json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = json(r.stdout);
    firstRun = doc.runId;
    expect(doc.results.map((x: { outcome: string }) => x.outcome)).toEqual(["applied", "applied"]);
    expect(JSON.parse(policy()!.document)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "IamwardenDenyOutsideAllowlist",
          Effect: "Deny",
          Action: "*",
          Resource: "*",
          Condition: {
            NotIpAddress: { "aws:SourceIp": ["198.51.100.0/24", "203.0.113.7/32", "2001:db8:1234::/48"] },
            Bool: { "aws:ViaAWSService": "false" },
          },
        },
      ],
    });
    expect(acct().groups.get("everyone")!.attachedPolicies).toEqual([ARN]);
    expect(roleAttached(acct().roles.get("deployer")!)).toEqual([ARN]);
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toBe(
      "198.51.100.0/24,203.0.113.7/32,2001:db8:1234::/48",
    );
    expect(ibm.violations).toEqual([]);
    const store = openSqliteStore(join(dir, "iamwarden.db"));
    try {
      const audit = await store.listAudit({ runId: firstRun });
      expect(audit.map((e) => [e.action, e.result])).toEqual([
        ["allowlist-create-policy", "applied"],
        ["allowlist-attach-policy", "applied"],
        ["allowlist-attach-policy", "applied"],
        ["allowlist-ibm-set", "applied"],
      ]);
      expect(audit[3]!.before).toMatchObject({ allowed_ip_addresses: "" });
      expect(audit.every((e) => e.actor && e.at && e.finishedAt)).toBe(true);
      const drift = await store.listFindings({ check: ["allowlist-drift"] });
      expect(drift.map((f) => f.status)).toEqual(["resolved", "resolved"]);
    } finally {
      await store.close();
    }
  });

  it("a second apply with no change is a no-op", async () => {
    const tag = ibm.accounts.get(IBM)!.entity_tag;
    const r = await cli("apply", "--yes", "--format", "json");
    expect(r.code).toBe(0);
    expect(json(r.stdout).results.map((x: { outcome: string }) => x.outcome)).toEqual(["noop", "noop"]);
    expect(policyVersions(policy()!).list).toHaveLength(1);
    expect(ibm.accounts.get(IBM)!.entity_tag).toBe(tag);
  });

  it("a changed list is a new default policy version, never an in-place edit", async () => {
    office("192.0.2.0/24\n");
    const r = await cli("apply", "--yes", "--format", "json");
    expect(r.code).toBe(0);
    secondRun = json(r.stdout).runId;
    const v = policyVersions(policy()!);
    expect(v.list.map((x) => x.id)).toEqual(["v1", "v2"]);
    expect(v.defaultId).toBe("v2");
    expect(policy()!.document).toContain("192.0.2.0/24");
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toBe(
      "192.0.2.0/24,198.51.100.0/24,203.0.113.7/32,2001:db8:1234::/48",
    );
  });

  it("rollback restores the previous default version, and leaves a setting someone changed since", async () => {
    ibm.changeBehindOurBack(IBM, "192.0.2.0/24,198.51.100.0/24,203.0.113.7/32,2001:db8:1234::/48,10.9.9.9");
    const r = await cli("rollback", "--run", secondRun, "--yes", "--format", "json");
    expect(r.code).toBe(3);
    const results = json(r.stdout).results as { action: string; status: string; message: string }[];
    expect(results.map((x) => [x.action, x.status])).toEqual([
      ["allowlist-ibm-set", "impossible"],
      ["allowlist-set-policy-version", "rolled-back"],
    ]);
    expect(policyVersions(policy()!).defaultId).toBe("v1");
    expect(policy()!.document).not.toContain("192.0.2.0/24");
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toContain("10.9.9.9");
    // Drift sees the hand-made IBM change and the rolled-back AWS policy.
    const drift = await cli("drift", "--format", "json");
    expect(drift.code).toBe(1);
    expect(json(drift.stdout).open).toHaveLength(2);
  });

  it("refuses a list without iamwarden's own address unless --i-know-this-locks-me-out", async () => {
    writeConfig({ selfIp: "192.0.2.200", mustAllow: [] });
    office();
    const refused = await cli("apply", "--yes", "--account", IBM);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain("iamwarden's own address 192.0.2.200 is not in the list");
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toContain("10.9.9.9");
    const forced = await cli("apply", "--yes", "--account", IBM, "--i-know-this-locks-me-out");
    expect(forced.code).toBe(0);
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toBe(
      "198.51.100.0/24,203.0.113.7/32,2001:db8:1234::/48",
    );
  });

  it("--now alone is a what-if: the plan is shown and no account is changed", async () => {
    office("192.0.2.0/24\n");
    const versions = policyVersions(policy()!).list.length;
    const tag = ibm.accounts.get(IBM)!.entity_tag;
    const r = await cli("apply", "--yes", "--now", "2026-12-24T09:00:00Z");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("+ 192.0.2.0/24");
    expect(r.stderr).toMatch(
      /^What-if at 2026-12-24T09:00:00.000Z: nothing was written or sent; no account was changed/,
    );
    expect(policyVersions(policy()!).list).toHaveLength(versions);
    expect(ibm.accounts.get(IBM)!.entity_tag).toBe(tag);
    office();
  });

  it("refuses a list that allows every address unless allowOpen, whatever the flags", async () => {
    writeConfig();
    office("0.0.0.0/0\n");
    const r = await cli("apply", "--yes", "--i-know-this-locks-me-out", "--account", ACCT);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("0.0.0.0/0 allows every IPv4 address");
    expect(policyVersions(policy()!).defaultId).toBe("v1");
    office();
    writeConfig();
    expect(firstRun).toBeTruthy();
  });
});
