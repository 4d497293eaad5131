import { randomBytes } from "node:crypto";
import { getAccountAuthorizationDetails } from "./authorization-details.js";
import {
  awsError,
  type JsonOperation,
  noSuchEntity,
  type OpContext,
  type Operation,
  page,
  type QueryOperation,
} from "./operation.js";
import { credentialReportCsv } from "./report.js";
import { type EmuAccount, type EmuUser, findKey, nextId } from "./state.js";

// Read operations of IAM, STS and Organizations, shaped after the API references:
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html
// https://docs.aws.amazon.com/STS/latest/APIReference/API_Operations.html
// https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html

const IAM_VERSION = "2010-05-08";
const STS_VERSION = "2011-06-15";
/** AWS regenerates a credential report at most every 4 hours, and expires it after that. */
const REPORT_TTL_MS = 4 * 3_600_000;

const iam = (action: string, handle: QueryOperation["handle"], required: string[] = []): QueryOperation => ({
  protocol: "query",
  service: "iam",
  version: IAM_VERSION,
  action,
  required,
  handle,
});

export function userOf(acct: EmuAccount, name: string): EmuUser {
  const u = acct.users.get(name);
  if (!u) throw noSuchEntity(`user with name ${name}`);
  return u;
}

const userXml = (u: EmuUser) => ({
  Path: u.path,
  UserName: u.name,
  UserId: u.id,
  Arn: u.arn,
  CreateDate: u.createDate,
  PasswordLastUsed: u.passwordLastUsed,
});

/** The caller's own user, for actions whose UserName defaults to the signer. */
function callerUser(params: Record<string, string>, ctx: OpContext): EmuUser {
  if (params.UserName !== undefined) return userOf(ctx.account, params.UserName);
  const name = /:user\/(?:.*\/)?([^/]+)$/.exec(ctx.principal.arn)?.[1];
  if (!name)
    throw awsError("ValidationError", "Must specify userName when calling with non-User credentials");
  return userOf(ctx.account, name);
}

function reportState(acct: EmuAccount, now: number) {
  const r = acct.report;
  if (!r) return "none" as const;
  if (now < r.readyAt) return "inprogress" as const;
  if (now - r.readyAt > REPORT_TTL_MS) return "expired" as const;
  return "complete" as const;
}

const listUsers = iam("ListUsers", (p, ctx) => {
  const prefix = p.PathPrefix ?? "/";
  const users = [...ctx.account.users.values()].filter((u) => u.path.startsWith(prefix));
  const r = page(users, p, ctx.settings.pageCap);
  return { Users: r.items.map(userXml), IsTruncated: r.IsTruncated, Marker: r.Marker };
});

const listAccessKeys = iam("ListAccessKeys", (p, ctx) => {
  const user = callerUser(p, ctx);
  const r = page(user.keys, p, ctx.settings.pageCap);
  return {
    AccessKeyMetadata: r.items.map((k) => ({
      UserName: user.name,
      AccessKeyId: k.id,
      Status: k.status,
      CreateDate: k.createDate,
    })),
    IsTruncated: r.IsTruncated,
    Marker: r.Marker,
  };
});

const getAccessKeyLastUsed = iam(
  "GetAccessKeyLastUsed",
  (p, ctx) => {
    const key = findKey(ctx.account, p.AccessKeyId!);
    if (!key) throw noSuchEntity(`Access Key with id ${p.AccessKeyId}`);
    const used = key.lastUsed?.date;
    // A key never used has no LastUsedDate, and N/A as region and service.
    return {
      UserName: key.userName,
      AccessKeyLastUsed: {
        LastUsedDate: used,
        ServiceName: used ? (key.lastUsed?.service ?? "N/A") : "N/A",
        Region: used ? (key.lastUsed?.region ?? "N/A") : "N/A",
      },
    };
  },
  ["AccessKeyId"],
);

const listUserTags = iam(
  "ListUserTags",
  (p, ctx) => {
    const r = page(userOf(ctx.account, p.UserName!).tags, p, ctx.settings.pageCap);
    return { Tags: r.items, IsTruncated: r.IsTruncated, Marker: r.Marker };
  },
  ["UserName"],
);

const groupXml = (acct: EmuAccount, name: string) => {
  const g = acct.groups.get(name);
  if (!g) throw noSuchEntity(`group with name ${name}`);
  return { Path: g.path, GroupName: g.name, GroupId: g.id, Arn: g.arn, CreateDate: g.createDate };
};

const listGroupsForUser = iam(
  "ListGroupsForUser",
  (p, ctx) => {
    const user = userOf(ctx.account, p.UserName!);
    const r = page(user.groups, p, ctx.settings.pageCap);
    return {
      Groups: r.items.map((g) => groupXml(ctx.account, g)),
      IsTruncated: r.IsTruncated,
      Marker: r.Marker,
    };
  },
  ["UserName"],
);

const getGroup = iam(
  "GetGroup",
  (p, ctx) => {
    const group = groupXml(ctx.account, p.GroupName!);
    const members = [...ctx.account.users.values()].filter((u) => u.groups.includes(p.GroupName!));
    const r = page(members, p, ctx.settings.pageCap);
    return { Group: group, Users: r.items.map(userXml), IsTruncated: r.IsTruncated, Marker: r.Marker };
  },
  ["GroupName"],
);

const listAttachedUserPolicies = iam(
  "ListAttachedUserPolicies",
  (p, ctx) => {
    const user = userOf(ctx.account, p.UserName!);
    const r = page(user.attachedPolicies, p, ctx.settings.pageCap);
    return {
      AttachedPolicies: r.items.map((arn) => ({ PolicyName: arn.split("/").pop(), PolicyArn: arn })),
      IsTruncated: r.IsTruncated,
      Marker: r.Marker,
    };
  },
  ["UserName"],
);

const listAttachedGroupPolicies = iam(
  "ListAttachedGroupPolicies",
  (p, ctx) => {
    const group = ctx.account.groups.get(p.GroupName!);
    if (!group) throw noSuchEntity(`group with name ${p.GroupName}`);
    const r = page(group.attachedPolicies, p, ctx.settings.pageCap);
    return {
      AttachedPolicies: r.items.map((arn) => ({ PolicyName: arn.split("/").pop(), PolicyArn: arn })),
      IsTruncated: r.IsTruncated,
      Marker: r.Marker,
    };
  },
  ["GroupName"],
);

const listUserPolicies = iam(
  "ListUserPolicies",
  (p, ctx) => {
    const user = userOf(ctx.account, p.UserName!);
    const r = page(Object.keys(user.inlinePolicies), p, ctx.settings.pageCap);
    return { PolicyNames: r.items, IsTruncated: r.IsTruncated, Marker: r.Marker };
  },
  ["UserName"],
);

const generateCredentialReport = iam("GenerateCredentialReport", (_p, ctx) => {
  const acct = ctx.account;
  if (acct.reportLimitExceeded > 0) {
    acct.reportLimitExceeded--;
    throw awsError("LimitExceeded", "Credential report generation rate exceeded. Try again later.", 409);
  }
  const now = ctx.now.getTime();
  const state = reportState(acct, now);
  if (state === "complete") return { State: "COMPLETE", Description: "Report is complete" };
  if (state === "inprogress") return { State: "INPROGRESS", Description: "Report generation in progress" };
  acct.report = {
    startedAt: now,
    readyAt: now + ctx.settings.reportDelayMs,
    csv: credentialReportCsv(acct, ctx.state.partition),
  };
  return {
    State: ctx.settings.reportDelayMs > 0 ? "STARTED" : "COMPLETE",
    Description: "No report exists. Starting a new report generation task",
  };
});

const getCredentialReport = iam("GetCredentialReport", (_p, ctx) => {
  const acct = ctx.account;
  const state = reportState(acct, ctx.now.getTime());
  if (state === "none")
    throw awsError(
      "ReportNotPresent",
      "Credential report does not exist. Use GenerateCredentialReport.",
      410,
    );
  if (state === "inprogress")
    throw awsError("ReportInProgress", "Credential report is being generated.", 404);
  if (state === "expired") throw awsError("ReportExpired", "Credential report has expired.", 410);
  const r = acct.report!;
  return {
    Content: Buffer.from(r.csv, "utf8").toString("base64"),
    ReportFormat: "text/csv",
    GeneratedTime: new Date(r.readyAt),
  };
});

const sts = (action: string, handle: QueryOperation["handle"], required: string[] = []): QueryOperation => ({
  protocol: "query",
  service: "sts",
  version: STS_VERSION,
  action,
  required,
  handle,
});

const getCallerIdentity = sts("GetCallerIdentity", (_p, ctx) => ({
  UserId: ctx.principal.userId,
  Account: ctx.principal.account,
  Arn: ctx.principal.arn,
}));

const assumeRole = sts(
  "AssumeRole",
  (p, ctx) => {
    const m = /^arn:([\w-]+):iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(p.RoleArn!);
    if (!m) throw awsError("ValidationError", `${p.RoleArn} is invalid`);
    const [, , accountId, roleName] = m as unknown as [string, string, string, string];
    const denied = () =>
      awsError(
        "AccessDenied",
        `User: ${ctx.principal.arn} is not authorized to perform: sts:AssumeRole on resource: ${p.RoleArn}`,
        403,
      );
    const role = ctx.state.accounts.get(accountId)?.roles.get(roleName);
    if (!role) throw denied();
    if (role.externalId !== undefined && role.externalId !== p.ExternalId) throw denied();
    const duration = p.DurationSeconds === undefined ? 3600 : Number(p.DurationSeconds);
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200)
      throw awsError("ValidationError", "DurationSeconds must be between 900 and 43200");
    if (!/^[\w+=,.@-]{2,64}$/.test(p.RoleSessionName!))
      throw awsError("ValidationError", "RoleSessionName is invalid");
    const accessKeyId = nextId(ctx.state, "ASIA", 20);
    const sessionToken = randomBytes(48).toString("base64");
    const roleId = nextId(ctx.state, "AROA", 21);
    const arn = `arn:${ctx.state.partition}:sts::${accountId}:assumed-role/${roleName}/${p.RoleSessionName}`;
    ctx.state.principals.set(accessKeyId, {
      account: accountId,
      arn,
      userId: `${roleId}:${p.RoleSessionName}`,
      sessionToken,
    });
    return {
      Credentials: {
        AccessKeyId: accessKeyId,
        SecretAccessKey: randomBytes(30).toString("base64"),
        SessionToken: sessionToken,
        Expiration: new Date(ctx.now.getTime() + duration * 1000),
      },
      AssumedRoleUser: { AssumedRoleId: `${roleId}:${p.RoleSessionName}`, Arn: arn },
    };
  },
  ["RoleArn", "RoleSessionName"],
);

const listAccounts: JsonOperation = {
  protocol: "json",
  service: "organizations",
  target: "AWSOrganizationsV20161128.ListAccounts",
  handle(body, ctx) {
    const org = ctx.state.organization;
    if (!org)
      throw awsError("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.");
    if (org.managementAccount !== ctx.account.id)
      throw awsError("AccessDeniedException", "You don't have permissions to access this resource.");
    const max = body.MaxResults === undefined ? ctx.settings.orgPageSize : body.MaxResults;
    if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 20)
      throw awsError(
        "InvalidInputException",
        "You provided a value that does not match the required pattern.",
      );
    const all = [...ctx.state.accounts.values()];
    let start = 0;
    if (body.NextToken !== undefined) {
      start = Number(
        Buffer.from(String(body.NextToken), "base64")
          .toString("utf8")
          .replace(/^acct:/, ""),
      );
      if (!Number.isInteger(start)) throw awsError("InvalidInputException", "The NextToken is not valid.");
    }
    const slice = all.slice(start, start + max);
    const next = start + slice.length;
    return {
      Accounts: slice.map((a) => ({
        Id: a.id,
        Arn: `arn:${ctx.state.partition}:organizations::${org.managementAccount}:account/o-emulator/${a.id}`,
        Email: a.email,
        Name: a.name,
        Status: a.status,
        ...(a.state ? { State: a.state } : {}),
        JoinedMethod: a.id === org.managementAccount ? "CREATED" : "INVITED",
        JoinedTimestamp: a.createDate,
      })),
      ...(next < all.length ? { NextToken: Buffer.from(`acct:${next}`).toString("base64") } : {}),
    };
  },
};

export const readOps: Operation[] = [
  listUsers,
  listAccessKeys,
  getAccessKeyLastUsed,
  listUserTags,
  listGroupsForUser,
  getGroup,
  listAttachedUserPolicies,
  listAttachedGroupPolicies,
  listUserPolicies,
  generateCredentialReport,
  getCredentialReport,
  getAccountAuthorizationDetails,
  getCallerIdentity,
  assumeRole,
  listAccounts,
];
