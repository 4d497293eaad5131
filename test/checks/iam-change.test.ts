import { describe, expect, it } from "vitest";
import {
  DEFAULT_IAM_CHANGE_ACTIONS,
  type IamChangeSettings,
  iamChange,
  judgeIamChange,
} from "../../src/checks/iam-change.js";
import type { IamEvent } from "../../src/model/event.js";
import { fromCloudTrailRecord } from "../../src/sources/cloudtrail/record.js";

const A = "123456789012";

function iamCall(
  eventName: string,
  opts: {
    user?: string;
    type?: string;
    params?: Record<string, unknown>;
    errorCode?: string;
    eventID?: string;
  } = {},
): IamEvent {
  const user = opts.user ?? "mallory";
  const identity =
    opts.type === "AssumedRole"
      ? {
          type: "AssumedRole",
          arn: `arn:aws:sts::${A}:assumed-role/ops/${user}`,
          accountId: A,
          accessKeyId: "ASIAEXAMPLE000000001",
          sessionContext: {
            sessionIssuer: { type: "Role", arn: `arn:aws:iam::${A}:role/ops`, userName: "ops" },
          },
        }
      : {
          type: opts.type ?? "IAMUser",
          principalId: "AIDAEXAMPLE",
          arn: `arn:aws:iam::${A}:user/${user}`,
          accountId: A,
          accessKeyId: "AKIAEXAMPLE000000001",
          userName: user,
        };
  const e = fromCloudTrailRecord({
    eventVersion: "1.09",
    eventTime: "2024-03-15T09:05:00Z",
    eventSource: "iam.amazonaws.com",
    eventName,
    awsRegion: "us-east-1",
    sourceIPAddress: "198.51.100.20",
    userAgent: "aws-cli/2.15.30",
    userIdentity: identity,
    requestParameters: opts.params ?? null,
    responseElements: null,
    ...(opts.errorCode ? { errorCode: opts.errorCode, errorMessage: "not authorized" } : {}),
    eventID: opts.eventID ?? `id-${eventName}`,
    recipientAccountId: A,
  });
  if (typeof e === "string") throw new Error(e);
  return e;
}

const settings = (over: Partial<IamChangeSettings> = {}): IamChangeSettings => ({
  actions: DEFAULT_IAM_CHANGE_ACTIONS,
  principalTypes: ["IAMUser"],
  adminsOf: () => new Set(["alice.admin"]),
  adminGroup: "admins",
  quarantinePolicyName: "iamwarden-quarantine",
  quarantine: false,
  ...over,
});

describe("iam-change", () => {
  it("flags a successful IAM write by a non-admin as high, with the call as an event", () => {
    const c = judgeIamChange(iamCall("CreateUser", { params: { userName: "shadow" } }), settings());
    expect(c).toMatchObject({
      check: "iam-change",
      account: A,
      resource: `arn:aws:iam::${A}:user/mallory`,
      owner: "mallory",
      severity: "high",
      details: {
        username: "mallory",
        principalType: "IAMUser",
        lastAction: "iam:CreateUser",
        quarantine: false,
      },
    });
    expect(c!.events).toEqual([
      expect.objectContaining({
        action: "iam:CreateUser",
        outcome: "success",
        target: { user: "shadow" },
        eventId: "id-CreateUser",
        sourceIp: "198.51.100.20",
        time: "2024-03-15T09:05:00.000Z",
      }),
    ]);
  });

  it("leaves admins, from config or from the admin group of that account, alone", () => {
    const admins = new Map([[A, new Set(["alice.admin", "group-member"])]]);
    const s = settings({ adminsOf: (a) => admins.get(a) ?? new Set() });
    expect(judgeIamChange(iamCall("CreateUser", { user: "alice.admin" }), s)).toBeUndefined();
    expect(judgeIamChange(iamCall("CreateUser", { user: "group-member" }), s)).toBeUndefined();
    // Group membership is per account: the same name elsewhere is not an admin.
    const elsewhere = { ...iamCall("CreateUser", { user: "group-member" }), account: "210987654321" };
    expect(judgeIamChange(elsewhere, s)?.owner).toBe("group-member");
  });

  it("judges only the configured principal types and actions", () => {
    const role = iamCall("CreateUser", { type: "AssumedRole", user: "session-1" });
    expect(judgeIamChange(role, settings())).toBeUndefined();
    const withRoles = settings({ principalTypes: ["IAMUser", "AssumedRole"] });
    expect(judgeIamChange(role, withRoles)?.owner).toBe("ops/session-1");
    // An admin role counts whatever the session name.
    expect(judgeIamChange(role, { ...withRoles, adminsOf: () => new Set(["ops"]) })).toBeUndefined();
    expect(judgeIamChange(iamCall("ListUsers"), settings())).toBeUndefined();
    expect(judgeIamChange(iamCall("TagUser"), settings({ actions: ["iam:TagUser"] }))).toBeDefined();
    expect(judgeIamChange(iamCall("TagUser"), settings({ actions: ["TagUser"] }))).toBeDefined();
    expect(judgeIamChange(iamCall("CreateUser"), settings({ actions: ["TagUser"] }))).toBeUndefined();
  });

  it("rates denied attempts medium", () => {
    const c = judgeIamChange(
      iamCall("CreateUser", { user: "intern", errorCode: "AccessDenied" }),
      settings(),
    );
    expect(c?.severity).toBe("medium");
    expect(c?.title).toMatch(/^Attempted IAM changes by intern/);
    expect(c?.events?.[0]).toMatchObject({ outcome: "failure", errorCode: "AccessDenied" });
  });

  it("rates critical: credentials for another user, admin policies, allow-all policies, admin group, quarantine removal", () => {
    const s = settings();
    const critical = (e: IamEvent) => judgeIamChange(e, s);
    expect(critical(iamCall("CreateAccessKey", { params: { userName: "ci-deploy" } }))).toMatchObject({
      severity: "critical",
      details: { criticalReason: "created credentials for another user (ci-deploy)" },
    });
    // Own key: high, not critical.
    expect(critical(iamCall("CreateAccessKey", { params: { userName: "mallory" } }))?.severity).toBe("high");
    expect(critical(iamCall("CreateAccessKey"))?.severity).toBe("high");
    expect(critical(iamCall("CreateLoginProfile", { params: { userName: "bob" } }))?.severity).toBe(
      "critical",
    );
    expect(
      critical(
        iamCall("AttachUserPolicy", {
          params: { userName: "m", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
        }),
      )?.severity,
    ).toBe("critical");
    expect(
      critical(
        iamCall("AttachRolePolicy", {
          params: { roleName: "r", policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" },
        }),
      )?.severity,
    ).toBe("high");
    const allowAll = JSON.stringify({
      Statement: [{ Effect: "Allow", Action: ["s3:GetObject", "*"], Resource: "*" }],
    });
    expect(
      critical(
        iamCall("PutUserPolicy", { params: { userName: "m", policyName: "p", policyDocument: allowAll } }),
      )?.severity,
    ).toBe("critical");
    expect(
      critical(
        iamCall("PutUserPolicy", {
          params: { userName: "m", policyName: "p", policyDocument: encodeURIComponent(allowAll) },
        }),
      )?.severity,
    ).toBe("critical");
    const narrow = JSON.stringify({ Statement: { Effect: "Allow", Action: "s3:GetObject", Resource: "*" } });
    expect(
      critical(
        iamCall("PutUserPolicy", { params: { userName: "m", policyName: "p", policyDocument: narrow } }),
      )?.severity,
    ).toBe("high");
    expect(
      critical(iamCall("AddUserToGroup", { params: { userName: "m", groupName: "admins" } }))?.severity,
    ).toBe("critical");
    expect(
      critical(iamCall("AddUserToGroup", { params: { userName: "m", groupName: "devs" } }))?.severity,
    ).toBe("high");
  });

  it("counts removing the quarantine policy even though Detach/Delete are not in the list", () => {
    const detach = iamCall("DetachUserPolicy", {
      params: { userName: "mallory", policyArn: `arn:aws:iam::${A}:policy/iamwarden-quarantine` },
    });
    expect(judgeIamChange(detach, settings())).toMatchObject({
      severity: "critical",
      details: { criticalReason: "removed the quarantine policy iamwarden-quarantine" },
    });
    const del = iamCall("DeleteUserPolicy", {
      params: { userName: "mallory", policyName: "iamwarden-quarantine" },
    });
    expect(judgeIamChange(del, settings())?.severity).toBe("critical");
    const other = iamCall("DetachUserPolicy", {
      params: { userName: "m", policyArn: "arn:aws:iam::aws:policy/Other" },
    });
    // Taking another policy away is an IAM change like attaching one, not a lifted quarantine.
    expect(judgeIamChange(other, settings())).toMatchObject({ severity: "high" });
    expect(judgeIamChange(other, settings())?.details.criticalReason).toBeUndefined();
    // A policy whose name says quarantine is taken for one, whatever iamwarden's own is called.
    expect(judgeIamChange(del, settings({ quarantinePolicyName: "custom-q" }))?.severity).toBe("critical");
    // With only the listed actions, a policy taken away that is no quarantine is not counted.
    expect(judgeIamChange(other, settings({ actions: ["CreateUser"] }))).toBeUndefined();
  });

  it("sees someone else's quarantine removed: the Lambda's deny_iam_privileges, listed policies, deny policies", () => {
    const s = settings({ quarantinePolicies: ["deny_iam_privileges", "team-lockout"] });
    const cases: [string, Record<string, unknown>, string][] = [
      ["DeleteUserPolicy", { userName: "m", policyName: "deny_iam_privileges" }, "deny_iam_privileges"],
      ["DeleteUserPolicy", { userName: "m", policyName: "Deny_IAM_Privileges" }, "Deny_IAM_Privileges"],
      [
        "DetachUserPolicy",
        { userName: "m", policyArn: `arn:aws:iam::${A}:policy/team-lockout` },
        "team-lockout",
      ],
      ["DetachUserPolicy", { userName: "m", policyArn: "arn:aws:iam::aws:policy/AWSDenyAll" }, "AWSDenyAll"],
      ["DeleteUserPolicy", { userName: "m", policyName: "quarantined-by-secops" }, "quarantined-by-secops"],
    ];
    for (const [name, params, policy] of cases)
      expect(judgeIamChange(iamCall(name, { params, eventID: `${name}-${policy}` }), s)).toMatchObject({
        severity: "critical",
        details: { criticalReason: `removed the quarantine policy ${policy}` },
      });
    // Counted whatever the configured actions are.
    const narrow = settings({ actions: ["CreateUser"], quarantinePolicies: ["deny_iam_privileges"] });
    expect(
      judgeIamChange(
        iamCall("DeleteUserPolicy", { params: { userName: "m", policyName: "deny_iam_privileges" } }),
        narrow,
      )?.severity,
    ).toBe("critical");
    expect(iamChange.settings.parse({}).quarantinePolicies).toEqual(["deny_iam_privileges"]);
  });

  it("compares admin names and the admin group as IAM does: case-insensitively", () => {
    expect(judgeIamChange(iamCall("CreateUser", { user: "ALICE.ADMIN" }), settings())).toBeUndefined();
    const add = iamCall("AddUserToGroup", { params: { userName: "m", groupName: "Admins" } });
    expect(judgeIamChange(add, settings())?.details.criticalReason).toBe("added m to the admin group admins");
  });

  it("keeps knowing a call succeeded when later ones are denied", () => {
    const ok = judgeIamChange(iamCall("CreateUser"), settings())!;
    const denied = judgeIamChange(
      iamCall("CreateRole", { errorCode: "AccessDenied", eventID: "d" }),
      settings(),
    )!;
    expect(ok.details.succeeded).toBe(true);
    expect(denied.details.succeeded).toBeUndefined();
    expect(iamChange.merge(ok.details, denied.details, true)).toMatchObject({ succeeded: true });
    expect(iamChange.merge(denied.details, ok.details, false)).toMatchObject({ succeeded: true });
    expect(iamChange.merge(denied.details, denied.details, false).succeeded).toBeUndefined();
  });

  it("ignores console logins and IBM events, and is judged through its registry entry", () => {
    const events = [iamCall("CreateUser"), iamCall("CreateRole", { eventID: "x" }), iamCall("ListRoles")];
    const out = events.flatMap((e) => iamChange.judge(e, settings()) ?? []);
    expect(out.map((c) => c.events?.[0]?.action)).toEqual(["iam:CreateUser", "iam:CreateRole"]);
    expect(iamChange.kind).toBe("event");
    const login = { ...iamCall("CreateUser"), kind: "console-login" as const };
    expect(judgeIamChange(login, settings())).toBeUndefined();
    const ibm = { ...iamCall("CreateUser"), provider: "ibm" as const };
    expect(judgeIamChange(ibm, settings())).toBeUndefined();
  });
});
