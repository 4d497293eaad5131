import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IAMClient } from "@aws-sdk/client-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyAwsAllowlist, planAwsAllowlist } from "../../src/actions/remediate/allowlist-aws.js";
import { applyIbmAllowlist, planIbmAllowlist } from "../../src/actions/remediate/allowlist-ibm.js";
import { contains, parseAllowlist } from "../../src/allowlist/allowlist.js";
import { awsApplySettings } from "../../src/allowlist/apply-config.js";
import { allowlistPolicies, POLICY_SIZE_LIMIT, policySize } from "../../src/allowlist/aws-policy.js";
import { allowlistCidrs } from "../../src/allowlist/cidr.js";
import { parseIp } from "../../src/allowlist/ip.js";
import { ibmIamClient } from "../../src/cloud/ibm/iam.js";
import { UserError } from "../../src/errors.js";
import { openSqliteStore } from "../../src/store/sqlite.js";
import type { Store } from "../../src/store/store.js";
import { useFakeAwsCredentials } from "../sources/aws/setup.js";
import { type FakeIbmIam, startFakeIbmIam } from "../support/fake-apis/ibm-iam.js";
import {
  createState,
  type EmuState,
  type IamEmulator,
  policyVersionOps,
  policyVersions,
  startIamEmulator,
} from "../support/iam-emulator/index.js";
import { writeOps } from "../support/iam-emulator/write-ops.js";

const settings = awsApplySettings.parse({});

const parsed = new Map<string, ReturnType<typeof parseAllowlist>["list"]>();

/** Which of the policies' Deny statements apply to a request from `ip` (IAM's condition logic, for these keys). */
function denied(documents: string[], ip: string | undefined): boolean {
  const inAny = (list: string | string[], addr: string) => {
    const key = [list].flat().join("\n");
    let l = parsed.get(key);
    if (!l) {
      l = parseAllowlist(key, "c").list;
      parsed.set(key, l);
    }
    return contains(l, addr);
  };
  for (const d of documents)
    for (const st of JSON.parse(d).Statement as {
      Condition: Record<string, Record<string, string | string[]>>;
    }[]) {
      const c = st.Condition;
      let match = c.Bool?.["aws:ViaAWSService"] === "false";
      if (c.Null?.["aws:SourceIp"] === "true") match &&= ip === undefined;
      if (c.IpAddress) match &&= ip !== undefined && inAny(c.IpAddress["aws:SourceIp"]!, ip);
      if (c.NotIpAddress) match &&= ip === undefined || !inAny(c.NotIpAddress["aws:SourceIp"]!, ip);
      if (match) return true;
    }
  return false;
}

function scattered(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`10.${(i >> 8) & 255}.${i & 255}.1`);
  for (let i = 0; i < n / 4; i++) lines.push(`2001:db8:${i.toString(16)}::1`);
  return lines.join("\n");
}

describe("AWS allowlist policies", () => {
  it("one policy when it fits; the size counts no whitespace", () => {
    const list = parseAllowlist("198.51.100.0/24\n2001:db8::/32\n", "x").list;
    const parts = allowlistPolicies(allowlistCidrs(list), settings);
    expect(parts).toHaveLength(1);
    expect(parts[0]!.size).toBe(policySize(JSON.stringify(JSON.parse(parts[0]!.document), null, 2)));
  });

  it("splits a long list into numbered parts that together deny exactly what the list does not allow", () => {
    const list = parseAllowlist(scattered(1600), "big").list;
    const cidrs = allowlistCidrs(list);
    const parts = allowlistPolicies(cidrs, { ...settings, maxPolicies: 10 });
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.name).slice(0, 3)).toEqual([
      "iamwarden-source-ip",
      "iamwarden-source-ip-2",
      "iamwarden-source-ip-3",
    ]);
    for (const p of parts) expect(p.size).toBeLessThanOrEqual(POLICY_SIZE_LIMIT);
    const docs = parts.map((p) => p.document);
    const probes = [
      ...list.entries.filter((_, i) => i % 40 === 0).map((e) => e.text),
      "10.0.5.2",
      "10.0.0.0",
      "10.3.3.3",
      "9.255.255.255",
      "255.255.255.255",
      "0.0.0.0",
      "2001:db8:1::2",
      "::1",
      "ffff::1",
    ];
    for (const ip of probes) expect(denied(docs, ip), ip).toBe(!contains(list, ip));
    // Requests without a source address (VPC endpoints) are denied as by the single policy.
    expect(denied(docs, undefined)).toBe(true);
  });

  it("a list that cannot fit within maxPolicies is an error before any call", () => {
    const list = parseAllowlist(scattered(1600), "big").list;
    expect(() => allowlistPolicies(allowlistCidrs(list), settings)).toThrow(UserError);
    expect(() => allowlistPolicies(allowlistCidrs(list), settings)).toThrow(/at most 4 are allowed/);
    expect(() => allowlistPolicies({ v4: [], v6: [] }, settings)).toThrow(/empty allowlist/);
  });

  it("VPC endpoint options become IfExists conditions on aws:SourceVpc / aws:VpcSourceIp", () => {
    const s = awsApplySettings.parse({
      vpcEndpoints: { sourceVpcs: ["vpc-0abc"], vpcSourceIps: ["10.0.0.0/8"] },
    });
    const [p] = allowlistPolicies({ v4: ["198.51.100.0/24"], v6: [] }, s);
    expect(JSON.parse(p!.document).Statement[0].Condition).toEqual({
      NotIpAddress: { "aws:SourceIp": ["198.51.100.0/24"] },
      Bool: { "aws:ViaAWSService": "false" },
      StringNotEqualsIfExists: { "aws:SourceVpc": ["vpc-0abc"] },
      NotIpAddressIfExists: { "aws:VpcSourceIp": ["10.0.0.0/8"] },
    });
  });
});

describe("against the emulator and the IBM fake", () => {
  let emu: IamEmulator;
  let state: EmuState;
  let ibm: FakeIbmIam;
  let store: Store;
  const IBM = "fedcba9876543210fedcba9876543210";

  beforeAll(async () => {
    useFakeAwsCredentials();
    state = createState();
    emu = await startIamEmulator({ state, operations: [...writeOps(), ...policyVersionOps()] });
    ibm = await startFakeIbmIam({ apiKey: "k", accounts: [IBM] });
    store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "iamwarden-allow-units-")), "s.db"));
  });
  afterAll(async () => {
    await store.close();
    await emu.close();
    await ibm.close();
  });

  it("keeps at most 5 versions: the oldest non-default one is deleted first, and audited", async () => {
    const iam = new IAMClient({ endpoint: emu.url, region: "us-east-1" });
    const ctx = { iam, store, account: state.homeAccount, runId: "r-prune", actor: "t" };
    for (let i = 1; i <= 7; i++) {
      const cidrs = [`198.51.${i}.0/24`];
      const parts = allowlistPolicies({ v4: cidrs, v6: [] }, settings);
      const plan = await planAwsAllowlist(ctx, parts, settings, cidrs);
      const r = await applyAwsAllowlist(ctx, plan, settings);
      expect(r.failed).toBeUndefined();
    }
    const policy = [...state.accounts.get(state.homeAccount)!.policies.values()][0]!;
    const v = policyVersions(policy);
    expect(v.list.map((x) => x.id)).toEqual(["v3", "v4", "v5", "v6", "v7"]);
    expect(v.defaultId).toBe("v7");
    const deletes = (await store.listAudit({ runId: "r-prune" })).filter(
      (e) => e.action === "allowlist-delete-policy-version",
    );
    expect(deletes.map((e) => e.before.versionId)).toEqual(["v1", "v2"]);
    expect(String(deletes[0]!.before.document)).toContain("198.51.1.0/24");
  });

  it("IBM: a stale entity_tag (412) stops the change and writes nothing over someone else's", async () => {
    const client = ibmIamClient({ apiKey: "k", iamUrl: ibm.url, settingsUrl: ibm.url, timeoutMs: 2000 });
    const ctx = { ibm: client, store, account: IBM, runId: "r-ibm", actor: "t" };
    const plan = await planIbmAllowlist(ctx, ["198.51.100.0/24"]);
    ibm.changeBehindOurBack(IBM, "203.0.113.0/24");
    const r = await applyIbmAllowlist(ctx, plan);
    expect(r.failed).toMatch(/the setting changed since it was read .* now "203\.0\.113\.0\/24"/);
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toBe("203.0.113.0/24");
    const [entry] = await store.listAudit({ runId: "r-ibm" });
    expect(entry!.result).toBe("failed");
    // Re-read, re-plan: now it applies.
    const again = await applyIbmAllowlist(ctx, await planIbmAllowlist(ctx, ["198.51.100.0/24"]));
    expect(again.failed).toBeUndefined();
    expect(ibm.accounts.get(IBM)!.allowed_ip_addresses).toBe("198.51.100.0/24");
    // One token for all of it: cached until it expires.
    expect(ibm.tokensIssued()).toBe(1);
    expect(ibm.violations).toEqual([]);
  });

  it("IBM: a token request is retried on 5xx and a bad API key is one clear error", async () => {
    const client = ibmIamClient({ apiKey: "k", iamUrl: ibm.url, settingsUrl: ibm.url, timeoutMs: 2000 });
    ibm.inject((r) => r.path === "/identity/token", { status: 503, body: { errorMessage: "busy" } });
    expect(await client.token()).toMatch(/^tok-/);
    const bad = ibmIamClient({ apiKey: "wrong", iamUrl: ibm.url, settingsUrl: ibm.url, timeoutMs: 2000 });
    await expect(bad.token()).rejects.toThrow("ibm iam token: HTTP 400 Provided API key could not be found.");
    expect(parseIp("198.51.100.1")).toBeTruthy();
  });
});
