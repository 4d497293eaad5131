import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { IamEvent } from "../../../src/model/event.js";
import { eventTimeMs, fromCloudTrailRecord } from "../../../src/sources/cloudtrail/record.js";
import { fromEventBridge, isEventBridgeEnvelope } from "../../../src/sources/eventbridge.js";
import { crnAccount, fromActivityTracker } from "../../../src/sources/ibm/activity-tracker.js";

const FIX = join(import.meta.dirname, "../../fixtures");
const A = "123456789012";
const day1 = JSON.parse(
  gunzipSync(
    readFileSync(
      join(
        FIX,
        "cloudtrail/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/15/123456789012_CloudTrail_us-east-1_20240315T0915Z_Yh3kq2VbS0t8aP1c.json.gz",
      ),
    ),
  ).toString(),
).Records as Record<string, unknown>[];

const norm = (r: unknown): IamEvent => {
  const e = fromCloudTrailRecord(r);
  if (typeof e === "string") throw new Error(e);
  return e;
};
const jsonLines = (file: string) =>
  readFileSync(join(FIX, file), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return l;
      }
    });

describe("CloudTrail records", () => {
  it("reads a console login with MFA, and one without", () => {
    const alice = norm(day1[0]);
    expect(alice).toMatchObject({
      account: A,
      provider: "aws",
      kind: "console-login",
      action: "signin:ConsoleLogin",
      outcome: "success",
      sourceIp: "198.51.100.10",
      region: "us-east-1",
      principal: { type: "IAMUser", name: "alice", arn: `arn:aws:iam::${A}:user/alice`, mfa: true },
    });
    expect(alice.time.toISOString()).toBe("2024-03-15T09:01:12.000Z");
    expect(alice.raw).toBe(day1[0]);
    expect(norm(day1[1]).principal.mfa).toBe(false);
  });

  it("reads a failed login (no errorCode, ConsoleLogin Failure) and a root login from IPv6", () => {
    const failed = norm(day1[2]);
    expect(failed).toMatchObject({
      outcome: "failure",
      errorMessage: "Failed authentication",
      principal: { type: "IAMUser", name: "HIDDEN_DUE_TO_SECURITY_REASONS" },
    });
    // An empty accessKeyId is no key.
    expect(failed.principal.accessKeyId).toBeUndefined();
    expect(norm(day1[3])).toMatchObject({
      principal: { type: "Root", name: "root" },
      sourceIp: "2001:db8:ffff::1",
    });
  });

  it("reads the target of an IAM call and the key that signed it", () => {
    expect(norm(day1[4])).toMatchObject({
      kind: "api-call",
      action: "iam:CreateAccessKey",
      principal: { name: "mallory", accessKeyId: "AKIAMALLORYKEY000001" },
      target: { user: "ci-deploy" },
      outcome: "success",
    });
    expect(norm(day1[6]).target).toEqual({
      user: "mallory",
      policyArn: "arn:aws:iam::aws:policy/AdministratorAccess",
    });
    expect(norm(day1[11])).toMatchObject({ outcome: "failure", errorCode: "AccessDenied" });
  });

  it("reads AWS service calls and assumed-role sessions", () => {
    expect(norm(day1[9])).toMatchObject({
      sourceIp: "lambda.amazonaws.com",
      principal: { type: "AWSService", name: "lambda.amazonaws.com", invokedBy: "lambda.amazonaws.com" },
    });
    expect(norm(day1[12]).principal).toMatchObject({
      type: "AssumedRole",
      name: "developer/dev-session",
      accessKeyId: "ASIAEXAMPLETEMPKEY01",
      sessionIssuer: `arn:aws:iam::${A}:role/developer`,
      mfa: false,
    });
  });

  it("says why a record cannot be read", () => {
    expect(fromCloudTrailRecord("x")).toBe("a CloudTrail record is a JSON object, not string");
    expect(fromCloudTrailRecord([])).toBe("a CloudTrail record is a JSON object, not an array");
    expect(fromCloudTrailRecord({ ...day1[0], eventName: 5 })).toBe(
      "eventName: Invalid input: expected string, received number",
    );
    expect(fromCloudTrailRecord({ ...day1[0], eventTime: "soon" })).toBe("eventTime: not a date-time: soon");
    expect(fromCloudTrailRecord({ ...day1[0], userIdentity: "me" })).toMatch(/^userIdentity: /);
    const { recipientAccountId: _r, ...noAccount } = day1[9]!;
    expect(fromCloudTrailRecord(noAccount)).toMatch(/^no account/);
    // The envelope or file can supply it.
    expect((fromCloudTrailRecord(noAccount, A) as IamEvent).account).toBe(A);
  });
});

describe("event times", () => {
  it("reads CloudTrail's time format by hand, and anything else through Date.parse", () => {
    for (const t of ["2024-03-15T09:01:12Z", "1999-12-31T23:59:59Z", "2024-02-29T00:00:00Z"])
      expect(eventTimeMs(t)).toBe(Date.parse(t));
    expect(eventTimeMs("2024-03-15T09:01:12.345Z")).toBe(Date.parse("2024-03-15T09:01:12.345Z"));
    expect(eventTimeMs("2024-03-15T09:01:12+01:00")).toBe(Date.parse("2024-03-15T08:01:12Z"));
    expect(eventTimeMs("2024-13-15T09:01:12Z")).toBeNaN();
    expect(eventTimeMs("2024-03-15T25:01:12Z")).toBeNaN();
    expect(eventTimeMs("2024-03-1xT09:01:12Z")).toBeNaN();
    expect(eventTimeMs("yesterday")).toBeNaN();
  });
});

describe("EventBridge envelopes", () => {
  const lines = jsonLines("eventbridge/events.jsonl");

  it("reads API calls and console sign-ins from their detail, with the envelope's account", () => {
    const call = fromEventBridge(lines[0]) as IamEvent;
    expect(call).toMatchObject({
      action: "iam:CreateLoginProfile",
      account: A,
      target: { user: "ci-deploy" },
      principal: { name: "mallory" },
    });
    const signin = fromEventBridge(lines[1]) as IamEvent;
    expect(signin).toMatchObject({
      kind: "console-login",
      sourceIp: "2001:db8:abcd::7",
      principal: { name: "carol", mfa: false },
    });
  });

  it("ignores other detail types and explains broken envelopes", () => {
    expect(isEventBridgeEnvelope(lines[2])).toBe(true);
    expect(fromEventBridge(lines[2])).toBeNull();
    expect(fromEventBridge(lines[3])).toBe(
      "detail: eventTime: Invalid input: expected string, received undefined",
    );
    expect(fromEventBridge({ "detail-type": "AWS API Call via CloudTrail", detail: "x" })).toMatch(
      /^EventBridge envelope: detail/,
    );
  });
});

describe("IBM Cloud Activity Tracker events", () => {
  const lines = jsonLines("ibm/activity-tracker.jsonl");
  const IBM = "7131c65c6ad70bdc209bb564997a5f1c";

  it("takes the account from the target CRN", () => {
    expect(crnAccount(`crn:v1:bluemix:public:iam-identity::a/${IBM}::apikey:ApiKey-1`)).toBe(IBM);
    expect(crnAccount("crn:v1:bluemix:public:iam-identity::::")).toBeUndefined();
    expect(crnAccount(undefined)).toBeUndefined();
  });

  it("reads logins by refresh token, user API key and service id API key", () => {
    const [token, userKey, serviceKey, failed, create] = lines.map((l) => fromActivityTracker(l) as IamEvent);
    expect(token).toMatchObject({
      provider: "ibm",
      account: IBM,
      kind: "login",
      action: "iam-identity.user-refreshtoken.login",
      sourceIp: "203.0.113.66",
      outcome: "success",
      principal: { type: "user", name: "dana@example.com", id: "IBMid-550000ABCD", credential: "token" },
      region: "global",
    });
    expect(token!.time.toISOString()).toBe("2024-03-18T07:00:00.120Z");
    expect(userKey).toMatchObject({
      kind: "login",
      principal: { credential: "apikey" },
      target: { name: "dana-cli" },
    });
    expect(serviceKey).toMatchObject({
      principal: { type: "serviceid", name: "billing-exporter" },
      sourceIp: "192.0.2.50",
    });
    expect(failed).toMatchObject({ outcome: "failure", errorCode: "400", errorMessage: "Bad Request" });
    expect(create).toMatchObject({ kind: "api-call", action: "iam-identity.serviceid-apikey.create" });
  });

  it("explains an event without an account", () => {
    expect(fromActivityTracker(lines[5])).toMatch(/no account/);
    expect(fromActivityTracker({ action: "x" })).toMatch(/^Activity Tracker event: /);
  });
});
