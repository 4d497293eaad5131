import { describe, expect, it } from "vitest";
import { type Allowlist, parseAllowlist } from "../../src/allowlist/allowlist.js";
import { accountAllowlists } from "../../src/allowlist/set.js";
import {
  actorOf,
  isAwsServiceSource,
  judgeSourceIp,
  type SourceIpSettings,
  sourceIp,
} from "../../src/checks/source-ip.js";
import type { IamEvent } from "../../src/model/event.js";
import { fromCloudTrailRecord } from "../../src/sources/cloudtrail/record.js";
import { fromActivityTracker } from "../../src/sources/ibm/activity-tracker.js";

const A = "123456789012";
const B = "210987654321";
const IBM = "7131c65c6ad70bdc209bb564997a5f1c";

const lst = (name: string, text: string): Allowlist =>
  parseAllowlist(text, name, `allowlists/${name}.lst`).list;
const lists = new Map([
  ["office", lst("office", "198.51.100.0/24\n2001:db8:1234::/48\n")],
  ["ci", lst("ci", "10.1.0.0 - 10.1.255.255\n192.0.2.50\n")],
]);
const settings: SourceIpSettings = {
  allowlistsOf: accountAllowlists({
    lists,
    defaultNames: ["office"],
    accounts: { [A]: ["office", "ci"], [B]: [] },
  }),
  lists,
};

function ct(o: Record<string, unknown>): IamEvent {
  const e = fromCloudTrailRecord({
    eventVersion: "1.09",
    eventTime: "2024-03-15T09:00:00Z",
    eventSource: "ec2.amazonaws.com",
    eventName: "DescribeInstances",
    eventID: `id-${Math.random()}`,
    recipientAccountId: A,
    ...o,
  });
  if (typeof e === "string") throw new Error(e);
  return e;
}

const keyCall = (ip: string, key = "AKIACIDEPLOYKEY00001", account = A) =>
  ct({
    recipientAccountId: account,
    sourceIPAddress: ip,
    userIdentity: {
      type: "IAMUser",
      arn: `arn:aws:iam::${account}:user/ci-deploy`,
      accountId: account,
      accessKeyId: key,
      userName: "ci-deploy",
    },
  });

const consoleLogin = (ip: string, ok = true, mfa = false, identity?: Record<string, unknown>) =>
  ct({
    eventSource: "signin.amazonaws.com",
    eventName: "ConsoleLogin",
    eventType: "AwsConsoleSignIn",
    sourceIPAddress: ip,
    userIdentity: identity ?? {
      type: "IAMUser",
      arn: `arn:aws:iam::${A}:user/bob`,
      accountId: A,
      userName: "bob",
    },
    responseElements: { ConsoleLogin: ok ? "Success" : "Failure" },
    additionalEventData: { MFAUsed: mfa ? "Yes" : "No" },
    ...(ok ? {} : { errorMessage: "Failed authentication" }),
  });

function ibmLogin(
  action: string,
  ip: string,
  typeURI = "service/security/account/user",
  outcome = "success",
) {
  const e = fromActivityTracker({
    action,
    outcome,
    eventTime: "2024-03-18T07:00:00.12+0000",
    initiator: {
      id: "IBMid-1",
      name: "dana@example.com",
      typeURI,
      credential: { type: "token" },
      host: { address: ip },
    },
    target: { id: `crn:v1:bluemix:public:iam-identity::a/${IBM}::user:IBMid-1`, name: "dana" },
    reason: { reasonCode: outcome === "success" ? 200 : 400 },
  });
  if (typeof e === "string") throw new Error(e);
  return e;
}

describe("source-ip", () => {
  it("flags a long-term key used from outside the account's lists, and says which list would cover it", () => {
    const c = judgeSourceIp(keyCall("203.0.113.200"), settings);
    expect(c).toMatchObject({
      check: "source-ip",
      account: A,
      resource: "AKIACIDEPLOYKEY00001",
      owner: "ci-deploy",
      severity: "high",
      title: "Access key AKIA…0001 of ci-deploy used from 203.0.113.200, outside the allowlists",
      details: {
        actor: "service-credential",
        keyId: "AKIACIDEPLOYKEY00001",
        sourceIp: "203.0.113.200",
        allowlists: ["office", "ci"],
        suggestedList: "office",
        suggestedEntry: "203.0.113.200/32",
      },
    });
    expect(c!.details.advice).toBe(
      "Access key AKIA…0001 of ci-deploy was used from 203.0.113.200, outside the allowlists (office, ci) of account 123456789012: if this is the service's address, add 203.0.113.200/32 to allowlist office (allowlists/office.lst); otherwise rotate the key.",
    );
    // The title never shows a key id in full.
    expect(c!.title).not.toContain("AKIACIDEPLOYKEY00001");
  });

  it("suggests the list that already holds the neighbouring addresses", () => {
    const c = judgeSourceIp(keyCall("192.0.2.51"), settings);
    expect(c?.details.suggestedList).toBe("ci");
    expect(c?.details.advice).toContain("allowlist ci (allowlists/ci.lst)");
    const v6 = judgeSourceIp(keyCall("2001:db8:abcd::9"), settings);
    expect(v6?.details.suggestedEntry).toBe("2001:db8:abcd::9/128");
  });

  it("does not flag addresses inside a list of the account, in IPv4, IPv6 or IPv4-mapped IPv6", () => {
    expect(judgeSourceIp(keyCall("198.51.100.7"), settings)).toBeUndefined();
    expect(judgeSourceIp(keyCall("10.1.200.3"), settings)).toBeUndefined();
    expect(judgeSourceIp(keyCall("2001:db8:1234::42"), settings)).toBeUndefined();
    expect(judgeSourceIp(keyCall("::ffff:198.51.100.10"), settings)).toBeUndefined();
    expect(judgeSourceIp(keyCall("::ffff:203.0.113.1"), settings)).toBeDefined();
  });

  it("uses the lists of the event's account: default for unnamed accounts, none for an empty assignment", () => {
    // 10.1.x is in ci, which only account A has.
    expect(judgeSourceIp(keyCall("10.1.2.3", undefined, "999999999999"), settings)).toBeDefined();
    expect(judgeSourceIp(keyCall("198.51.100.7", undefined, "999999999999"), settings)).toBeUndefined();
    expect(judgeSourceIp(keyCall("203.0.113.1", undefined, B), settings)).toBeUndefined();
  });

  it("never flags calls made by AWS services, temporary keys, or non-address sources", () => {
    expect(isAwsServiceSource("iam.amazonaws.com")).toBe(true);
    expect(isAwsServiceSource("AWS Internal")).toBe(true);
    expect(judgeSourceIp(keyCall("AWS Internal"), settings)).toBeUndefined();
    expect(judgeSourceIp(keyCall("cloudformation.amazonaws.com"), settings)).toBeUndefined();
    expect(judgeSourceIp(keyCall("203.0.113.9", "ASIATEMPORARYKEY0001"), settings)).toBeUndefined();
    const invoked = ct({
      sourceIPAddress: "203.0.113.9",
      userIdentity: {
        type: "IAMUser",
        accountId: A,
        userName: "x",
        accessKeyId: "AKIAX",
        invokedBy: "cloudformation.amazonaws.com",
      },
    });
    expect(judgeSourceIp(invoked, settings)).toBeUndefined();
    const service = ct({
      sourceIPAddress: "lambda.amazonaws.com",
      userIdentity: { type: "AWSService", invokedBy: "lambda.amazonaws.com" },
    });
    expect(actorOf(service)).toBeUndefined();
  });

  it("flags an address it cannot parse instead of passing it (fail closed), in the judge and the pre-filter", () => {
    const bad = [
      "999.1.1.1",
      "not-an-ip",
      "8.8.8.8:443",
      " 8.8.8.8",
      "010.8.8.8",
      "0x08080808",
      "",
      "::ffff:010.8.8.8",
    ];
    for (const ip of bad) {
      for (const e of [consoleLogin(ip), keyCall(ip)]) {
        const c = judgeSourceIp(e, settings);
        expect(c, `${JSON.stringify(ip)} ${e.kind}`).toMatchObject({
          check: "source-ip",
          details: { unparseableSource: true, sourceIp: e.sourceIp ?? "" },
        });
        expect(c!.title).toContain("which is not an IP address: the allowlists cannot judge it");
        expect(c!.severity).toBe("high");
        const header = {
          provider: "aws" as const,
          kind: e.kind,
          action: e.action,
          sourceIp: ip === "" ? undefined : ip,
          account: A,
          accessKeyId: e.kind === "console-login" ? "" : "AKIACIDEPLOYKEY00001",
        };
        expect(sourceIp.prefilter!(header as never, settings), JSON.stringify(ip)).toBe(true);
      }
    }
    // An account without lists is not judged at all, parseable or not.
    expect(judgeSourceIp(keyCall("not-an-ip", "AKIACIDEPLOYKEY00001", B), settings)).toBeUndefined();
  });

  it("treats console logins as humans: use the VPN; failures low, root critical", () => {
    const ok = judgeSourceIp(consoleLogin("203.0.113.77"), settings);
    expect(ok).toMatchObject({
      severity: "medium",
      resource: `arn:aws:iam::${A}:user/bob`,
      title: "Console login by bob from 203.0.113.77, outside the allowlists",
      details: { actor: "human", mfa: false },
    });
    expect(ok!.details.advice).toMatch(/sign in through the VPN\.$/);
    expect(ok!.details.suggestedList).toBeUndefined();
    const failed = judgeSourceIp(consoleLogin("203.0.113.77", false), settings);
    expect(failed).toMatchObject({
      severity: "low",
      title: "Failed console login by bob from 203.0.113.77, outside the allowlists",
    });
    const root = consoleLogin("2001:db8:ffff::1", true, true, {
      type: "Root",
      arn: `arn:aws:iam::${A}:root`,
      accountId: A,
    });
    expect(judgeSourceIp(root, settings)).toMatchObject({
      severity: "critical",
      owner: "root",
      details: { mfa: true },
    });
    expect(judgeSourceIp(consoleLogin("198.51.100.1"), settings)).toBeUndefined();
  });

  it("judges IBM Cloud logins: people by refresh token, service ids and API keys as credentials", () => {
    const person = judgeSourceIp(ibmLogin("iam-identity.user-refreshtoken.login", "203.0.113.66"), settings);
    expect(person).toMatchObject({ account: IBM, severity: "medium", details: { actor: "human" } });
    const apikey = judgeSourceIp(ibmLogin("iam-identity.user-apikey.login", "203.0.113.66"), settings);
    expect(apikey).toMatchObject({ severity: "high", details: { actor: "service-credential" } });
    expect(apikey!.details.advice).toContain("rotate the API key");
    const svc = judgeSourceIp(
      ibmLogin(
        "iam-identity.serviceid-apikey.login",
        "203.0.113.66",
        "service/security/account/serviceid",
        "failure",
      ),
      settings,
    );
    expect(svc).toMatchObject({ severity: "medium", details: { actor: "service-credential" } });
    // IBM accounts use the default lists too.
    expect(
      judgeSourceIp(ibmLogin("iam-identity.user-refreshtoken.login", "198.51.100.3"), settings),
    ).toBeUndefined();
    // Not a login: not judged.
    expect(
      judgeSourceIp(ibmLogin("iam-identity.serviceid-apikey.create", "203.0.113.66"), settings),
    ).toBeUndefined();
  });

  it("is judged through its registry entry", () => {
    const out = [keyCall("203.0.113.1"), keyCall("198.51.100.1"), consoleLogin("192.0.2.9")].flatMap(
      (e) => sourceIp.judge(e, settings) ?? [],
    );
    expect(out.map((c) => c.details.actor)).toEqual(["service-credential", "human"]);
  });
});
