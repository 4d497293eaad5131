import { awsError, noSuchEntity, type OpContext, type Operation, type QueryOperation } from "./operation.js";
import { readOps, userOf } from "./read-ops.js";
import { type EmuAccount, type EmuPolicy, findKey, nextId } from "./state.js";

// IAM write operations remediation needs, shaped after the API reference
// (https://docs.aws.amazon.com/IAM/latest/APIReference/): UpdateAccessKey, DeleteAccessKey,
// CreatePolicy, GetPolicy, GetPolicyVersion, DeletePolicy, AttachUserPolicy, DetachUserPolicy,
// PutUserPolicy, GetUserPolicy, DeleteUserPolicy. Error codes and HTTP statuses are IAM's:
// NoSuchEntity 404, EntityAlreadyExists / LimitExceeded / DeleteConflict 409,
// MalformedPolicyDocument / ValidationError 400. Policy documents come back URL-encoded (RFC 3986),
// as GetPolicyVersion and GetUserPolicy return them.

const IAM_VERSION = "2010-05-08";

export interface WriteOpsOptions {
  /** Managed policies per user (IAM's default quota is 10; it can be raised to 20). */
  managedPoliciesPerUser?: number;
  /**
   * IAM is eventually consistent: after UpdateAccessKey, this many ListAccessKeys calls for that
   * user still show the old status.
   */
  staleReads?: number;
}

const iam = (action: string, handle: QueryOperation["handle"], required: string[]): QueryOperation => ({
  protocol: "query",
  service: "iam",
  version: IAM_VERSION,
  action,
  required,
  handle,
});

const NAME = /^[\w+=,.@-]{1,128}$/;
const KEY_ID = /^[\w]{16,128}$/;

function validName(what: string, value: string): void {
  if (!NAME.test(value))
    throw awsError(
      "ValidationError",
      `1 validation error detected: Value '${value}' at '${what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`,
    );
}

function validDocument(doc: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc);
  } catch {
    throw awsError("MalformedPolicyDocument", "Syntax errors in policy.");
  }
  const p = parsed as { Version?: unknown; Statement?: unknown };
  if (!p || typeof p !== "object" || p.Statement === undefined)
    throw awsError("MalformedPolicyDocument", "Policy document should contain Statement.");
}

/** RFC 3986 encoding, as IAM returns policy documents. */
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function policyOf(acct: EmuAccount, arn: string): EmuPolicy {
  const p = acct.policies.get(arn);
  if (!p) throw awsError("NoSuchEntity", `Policy ${arn} does not exist or is not attachable.`, 404);
  return p;
}

function attachmentCount(acct: EmuAccount, arn: string): number {
  let n = 0;
  for (const u of acct.users.values()) if (u.attachedPolicies.includes(arn)) n++;
  for (const g of acct.groups.values()) if (g.attachedPolicies.includes(arn)) n++;
  return n;
}

const policyXml = (acct: EmuAccount, p: EmuPolicy) => ({
  PolicyName: p.name,
  PolicyId: p.id,
  Arn: p.arn,
  Path: p.path,
  DefaultVersionId: "v1",
  AttachmentCount: attachmentCount(acct, p.arn),
  PermissionsBoundaryUsageCount: 0,
  IsAttachable: true,
  CreateDate: p.createDate,
  UpdateDate: p.createDate,
});

/** The account's user that owns the key; UserName, when given, must be that user. */
function keyOf(params: Record<string, string>, ctx: OpContext) {
  const id = params.AccessKeyId!;
  if (!KEY_ID.test(id))
    throw awsError("ValidationError", `Value '${id}' at 'accessKeyId' failed to satisfy constraint`);
  const key = findKey(ctx.account, id);
  if (params.UserName !== undefined) userOf(ctx.account, params.UserName);
  if (!key || (params.UserName !== undefined && key.userName !== params.UserName))
    throw noSuchEntity(`Access Key with id ${id}`);
  return key;
}

export function writeOps(opts: WriteOpsOptions = {}): Operation[] {
  const limit = opts.managedPoliciesPerUser ?? 10;
  /** user name → ListAccessKeys calls that still see the status before the last update. */
  const stale = new Map<string, { remaining: number; status: Record<string, string> }>();

  const updateAccessKey = iam(
    "UpdateAccessKey",
    (p, ctx) => {
      const status = p.Status;
      if (status !== "Active" && status !== "Inactive")
        throw awsError(
          "ValidationError",
          `1 validation error detected: Value '${status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]`,
        );
      const key = keyOf(p, ctx);
      if (opts.staleReads && key.status !== status)
        stale.set(key.userName, { remaining: opts.staleReads, status: { [key.id]: key.status } });
      key.status = status;
      return undefined;
    },
    ["AccessKeyId", "Status"],
  );

  const deleteAccessKey = iam(
    "DeleteAccessKey",
    (p, ctx) => {
      const key = keyOf(p, ctx);
      const user = userOf(ctx.account, key.userName);
      user.keys = user.keys.filter((k) => k.id !== key.id);
      return undefined;
    },
    ["AccessKeyId"],
  );

  const createPolicy = iam(
    "CreatePolicy",
    (p, ctx) => {
      validName("policyName", p.PolicyName!);
      validDocument(p.PolicyDocument!);
      const path = p.Path ?? "/";
      const arn = `arn:${ctx.state.partition}:iam::${ctx.account.id}:policy${path}${p.PolicyName}`;
      // Names are unique per account whatever the path.
      if ([...ctx.account.policies.values()].some((x) => x.name === p.PolicyName))
        throw awsError(
          "EntityAlreadyExists",
          `A policy called ${p.PolicyName} already exists. Duplicate names are not allowed.`,
          409,
        );
      const policy: EmuPolicy = {
        name: p.PolicyName!,
        id: nextId(ctx.state, "ANPA", 21),
        arn,
        path,
        createDate: new Date(Math.floor(ctx.now.getTime() / 1000) * 1000),
        document: p.PolicyDocument!,
      };
      ctx.account.policies.set(arn, policy);
      return { Policy: policyXml(ctx.account, policy) };
    },
    ["PolicyName", "PolicyDocument"],
  );

  const getPolicy = iam(
    "GetPolicy",
    (p, ctx) => ({ Policy: policyXml(ctx.account, policyOf(ctx.account, p.PolicyArn!)) }),
    ["PolicyArn"],
  );

  const getPolicyVersion = iam(
    "GetPolicyVersion",
    (p, ctx) => {
      const policy = policyOf(ctx.account, p.PolicyArn!);
      if (p.VersionId !== "v1") throw noSuchEntity(`Policy ${p.PolicyArn} version ${p.VersionId}`);
      return {
        PolicyVersion: {
          Document: rfc3986(policy.document),
          VersionId: "v1",
          IsDefaultVersion: true,
          CreateDate: policy.createDate,
        },
      };
    },
    ["PolicyArn", "VersionId"],
  );

  const deletePolicy = iam(
    "DeletePolicy",
    (p, ctx) => {
      const policy = policyOf(ctx.account, p.PolicyArn!);
      if (attachmentCount(ctx.account, policy.arn) > 0)
        throw awsError("DeleteConflict", "Cannot delete a policy attached to entities.", 409);
      ctx.account.policies.delete(policy.arn);
      return undefined;
    },
    ["PolicyArn"],
  );

  const attachUserPolicy = iam(
    "AttachUserPolicy",
    (p, ctx) => {
      const user = userOf(ctx.account, p.UserName!);
      const policy = policyOf(ctx.account, p.PolicyArn!);
      // Attaching what is attached already succeeds and changes nothing.
      if (user.attachedPolicies.includes(policy.arn)) return undefined;
      if (user.attachedPolicies.length >= limit)
        throw awsError("LimitExceeded", `Cannot exceed quota for PoliciesPerUser: ${limit}`, 409);
      user.attachedPolicies.push(policy.arn);
      return undefined;
    },
    ["UserName", "PolicyArn"],
  );

  const detachUserPolicy = iam(
    "DetachUserPolicy",
    (p, ctx) => {
      const user = userOf(ctx.account, p.UserName!);
      if (!user.attachedPolicies.includes(p.PolicyArn!)) throw noSuchEntity(`Policy ${p.PolicyArn}`);
      user.attachedPolicies = user.attachedPolicies.filter((a) => a !== p.PolicyArn);
      return undefined;
    },
    ["UserName", "PolicyArn"],
  );

  const putUserPolicy = iam(
    "PutUserPolicy",
    (p, ctx) => {
      const user = userOf(ctx.account, p.UserName!);
      validName("policyName", p.PolicyName!);
      validDocument(p.PolicyDocument!);
      // Inline policies of a user share 2,048 characters, whitespace not counted.
      const size = (d: string) => d.replace(/\s/g, "").length;
      const others = Object.entries(user.inlinePolicies)
        .filter(([n]) => n !== p.PolicyName)
        .reduce((n, [, d]) => n + size(d), 0);
      if (others + size(p.PolicyDocument!) > 2048)
        throw awsError("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user", 409);
      user.inlinePolicies[p.PolicyName!] = p.PolicyDocument!;
      return undefined;
    },
    ["UserName", "PolicyName", "PolicyDocument"],
  );

  const getUserPolicy = iam(
    "GetUserPolicy",
    (p, ctx) => {
      const user = userOf(ctx.account, p.UserName!);
      const doc = user.inlinePolicies[p.PolicyName!];
      if (doc === undefined) throw noSuchEntity(`user policy with name ${p.PolicyName}`);
      return { UserName: user.name, PolicyName: p.PolicyName, PolicyDocument: rfc3986(doc) };
    },
    ["UserName", "PolicyName"],
  );

  const deleteUserPolicy = iam(
    "DeleteUserPolicy",
    (p, ctx) => {
      const user = userOf(ctx.account, p.UserName!);
      if (user.inlinePolicies[p.PolicyName!] === undefined)
        throw noSuchEntity(`user policy with name ${p.PolicyName}`);
      delete user.inlinePolicies[p.PolicyName!];
      return undefined;
    },
    ["UserName", "PolicyName"],
  );

  const ops: Operation[] = [
    updateAccessKey,
    deleteAccessKey,
    createPolicy,
    getPolicy,
    getPolicyVersion,
    deletePolicy,
    attachUserPolicy,
    detachUserPolicy,
    putUserPolicy,
    getUserPolicy,
    deleteUserPolicy,
  ];

  // Eventual consistency: the built-in ListAccessKeys, showing the old status while stale.
  if (opts.staleReads) {
    const base = readOps.find(
      (o): o is QueryOperation => o.protocol === "query" && o.action === "ListAccessKeys",
    );
    if (base)
      ops.push({
        ...base,
        handle(p: Record<string, string>, ctx: OpContext) {
          const out = base.handle(p, ctx) as { AccessKeyMetadata: { AccessKeyId: string; Status: string }[] };
          const s = p.UserName === undefined ? undefined : stale.get(p.UserName);
          if (!s || s.remaining <= 0) return out;
          s.remaining--;
          return {
            ...out,
            AccessKeyMetadata: out.AccessKeyMetadata.map((k) => ({
              ...k,
              Status: s.status[k.AccessKeyId] ?? k.Status,
            })),
          };
        },
      });
  }
  return ops;
}
