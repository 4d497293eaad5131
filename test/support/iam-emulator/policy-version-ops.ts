import {
  awsError,
  noSuchEntity,
  type OpContext,
  type Operation,
  page,
  type QueryOperation,
} from "./operation.js";
import type { EmuAccount, EmuPolicy, EmuRole } from "./state.js";

// Managed policy versions and group/role attachments, shaped after the IAM API reference:
// CreatePolicy (with the 6,144-character limit, whitespace not counted), GetPolicy (the real
// DefaultVersionId and attachment count), CreatePolicyVersion (at most 5 versions: LimitExceeded
// 409), SetDefaultPolicyVersion, DeletePolicyVersion (never the default: DeleteConflict 409),
// ListPolicyVersions, GetPolicyVersion, DeletePolicy (refused while attached or with non-default
// versions), Attach/Detach/ListAttached for groups and roles. Pass them after writeOps(): they
// replace its single-version CreatePolicy, GetPolicy, GetPolicyVersion and DeletePolicy. Version
// state lives beside the account state (as the key index of state.ts does), so the shared state
// types stay as they are; `policy.document` always holds the default version's document.

const IAM_VERSION = "2010-05-08";
const MAX_VERSIONS = 5;
const POLICY_SIZE = 6144;

export interface EmuPolicyVersion {
  id: string;
  document: string;
  createDate: Date;
}

interface Versions {
  list: EmuPolicyVersion[];
  defaultId: string;
  next: number;
}

const versionState = new WeakMap<EmuPolicy, Versions>();
const roleAttachments = new WeakMap<EmuRole, string[]>();

/** A policy's versions (v1 is the document it was created or seeded with). */
export function policyVersions(p: EmuPolicy): Versions {
  let v = versionState.get(p);
  if (!v) {
    v = { list: [{ id: "v1", document: p.document, createDate: p.createDate }], defaultId: "v1", next: 2 };
    versionState.set(p, v);
  }
  return v;
}

/** Managed policies attached to a role. */
export function roleAttached(role: EmuRole): string[] {
  let a = roleAttachments.get(role);
  if (!a) {
    a = [];
    roleAttachments.set(role, a);
  }
  return a;
}

const iam = (action: string, handle: QueryOperation["handle"], required: string[]): QueryOperation => ({
  protocol: "query",
  service: "iam",
  version: IAM_VERSION,
  action,
  required,
  handle,
});

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function checkDocument(doc: string): void {
  let parsed: { Statement?: unknown } | undefined;
  try {
    parsed = JSON.parse(doc) as { Statement?: unknown };
  } catch {
    throw awsError("MalformedPolicyDocument", "Syntax errors in policy.");
  }
  if (!parsed || typeof parsed !== "object" || parsed.Statement === undefined)
    throw awsError("MalformedPolicyDocument", "Policy document should contain Statement.");
  if (doc.replace(/\s/g, "").length > POLICY_SIZE)
    throw awsError("LimitExceeded", `Cannot exceed quota for PolicySize: ${POLICY_SIZE}`, 409);
}

function policyOf(acct: EmuAccount, arn: string): EmuPolicy {
  const p = acct.policies.get(arn);
  if (!p) throw awsError("NoSuchEntity", `Policy ${arn} does not exist or is not attachable.`, 404);
  return p;
}

function attachmentCount(acct: EmuAccount, arn: string): number {
  let n = 0;
  for (const u of acct.users.values()) if (u.attachedPolicies.includes(arn)) n++;
  for (const g of acct.groups.values()) if (g.attachedPolicies.includes(arn)) n++;
  for (const r of acct.roles.values()) if (roleAttached(r).includes(arn)) n++;
  return n;
}

const policyXml = (acct: EmuAccount, p: EmuPolicy) => ({
  PolicyName: p.name,
  PolicyId: p.id,
  Arn: p.arn,
  Path: p.path,
  DefaultVersionId: policyVersions(p).defaultId,
  AttachmentCount: attachmentCount(acct, p.arn),
  PermissionsBoundaryUsageCount: 0,
  IsAttachable: true,
  CreateDate: p.createDate,
  UpdateDate: p.createDate,
});

const versionXml = (v: EmuPolicyVersion, vs: Versions, withDocument: boolean) => ({
  ...(withDocument ? { Document: rfc3986(v.document) } : {}),
  VersionId: v.id,
  IsDefaultVersion: v.id === vs.defaultId,
  CreateDate: v.createDate,
});

function versionOf(p: EmuPolicy, id: string): EmuPolicyVersion {
  const v = policyVersions(p).list.find((x) => x.id === id);
  if (!v) throw noSuchEntity(`Policy ${p.arn} version ${id}`);
  return v;
}

const second = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

function groupOf(ctx: OpContext, name: string) {
  const g = ctx.account.groups.get(name);
  if (!g) throw noSuchEntity(`group with name ${name}`);
  return g;
}

function roleOf(ctx: OpContext, name: string): EmuRole {
  const r = ctx.account.roles.get(name);
  if (!r) throw noSuchEntity(`role with name ${name}`);
  return r;
}

/** Attach / Detach / ListAttached for one kind of principal holding a list of policy ARNs. */
function attachOps(kind: "Group" | "Role", list: (ctx: OpContext, name: string) => string[], limit: number) {
  const param = `${kind}Name`;
  return [
    iam(
      `Attach${kind}Policy`,
      (p, ctx) => {
        const attached = list(ctx, p[param]!);
        const policy = policyOf(ctx.account, p.PolicyArn!);
        if (attached.includes(policy.arn)) return undefined;
        if (attached.length >= limit)
          throw awsError("LimitExceeded", `Cannot exceed quota for PoliciesPer${kind}: ${limit}`, 409);
        attached.push(policy.arn);
        return undefined;
      },
      [param, "PolicyArn"],
    ),
    iam(
      `Detach${kind}Policy`,
      (p, ctx) => {
        const attached = list(ctx, p[param]!);
        const i = attached.indexOf(p.PolicyArn!);
        if (i < 0) throw noSuchEntity(`Policy ${p.PolicyArn}`);
        attached.splice(i, 1);
        return undefined;
      },
      [param, "PolicyArn"],
    ),
    iam(
      `ListAttached${kind}Policies`,
      (p, ctx) => {
        const r = page(list(ctx, p[param]!), p, ctx.settings.pageCap);
        return {
          AttachedPolicies: r.items.map((arn) => ({ PolicyName: arn.split("/").pop(), PolicyArn: arn })),
          IsTruncated: r.IsTruncated,
          Marker: r.Marker,
        };
      },
      [param],
    ),
  ];
}

export function policyVersionOps(): Operation[] {
  return [
    iam(
      "CreatePolicy",
      (p, ctx) => {
        if (!/^[\w+=,.@-]{1,128}$/.test(p.PolicyName!))
          throw awsError(
            "ValidationError",
            `Value '${p.PolicyName}' at 'policyName' failed to satisfy constraint`,
          );
        checkDocument(p.PolicyDocument!);
        const path = p.Path ?? "/";
        if ([...ctx.account.policies.values()].some((x) => x.name === p.PolicyName))
          throw awsError(
            "EntityAlreadyExists",
            `A policy called ${p.PolicyName} already exists. Duplicate names are not allowed.`,
            409,
          );
        const n = ++ctx.state.seq;
        const policy: EmuPolicy = {
          name: p.PolicyName!,
          id: `ANPA${String(n).padStart(17, "0")}`,
          arn: `arn:${ctx.state.partition}:iam::${ctx.account.id}:policy${path}${p.PolicyName}`,
          path,
          createDate: second(ctx.now),
          document: p.PolicyDocument!,
        };
        ctx.account.policies.set(policy.arn, policy);
        return { Policy: policyXml(ctx.account, policy) };
      },
      ["PolicyName", "PolicyDocument"],
    ),
    iam("GetPolicy", (p, ctx) => ({ Policy: policyXml(ctx.account, policyOf(ctx.account, p.PolicyArn!)) }), [
      "PolicyArn",
    ]),
    iam(
      "GetPolicyVersion",
      (p, ctx) => {
        const policy = policyOf(ctx.account, p.PolicyArn!);
        return { PolicyVersion: versionXml(versionOf(policy, p.VersionId!), policyVersions(policy), true) };
      },
      ["PolicyArn", "VersionId"],
    ),
    iam(
      "ListPolicyVersions",
      (p, ctx) => {
        const policy = policyOf(ctx.account, p.PolicyArn!);
        const vs = policyVersions(policy);
        // Newest first, as IAM lists them.
        const r = page([...vs.list].reverse(), p, ctx.settings.pageCap);
        return {
          Versions: r.items.map((v) => versionXml(v, vs, false)),
          IsTruncated: r.IsTruncated,
          Marker: r.Marker,
        };
      },
      ["PolicyArn"],
    ),
    iam(
      "CreatePolicyVersion",
      (p, ctx) => {
        const policy = policyOf(ctx.account, p.PolicyArn!);
        checkDocument(p.PolicyDocument!);
        const vs = policyVersions(policy);
        if (vs.list.length >= MAX_VERSIONS)
          throw awsError(
            "LimitExceeded",
            `A managed policy can have up to ${MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
            409,
          );
        const v = { id: `v${vs.next++}`, document: p.PolicyDocument!, createDate: second(ctx.now) };
        vs.list.push(v);
        if (p.SetAsDefault === "true") {
          vs.defaultId = v.id;
          policy.document = v.document;
        }
        return { PolicyVersion: versionXml(v, vs, false) };
      },
      ["PolicyArn", "PolicyDocument"],
    ),
    iam(
      "SetDefaultPolicyVersion",
      (p, ctx) => {
        const policy = policyOf(ctx.account, p.PolicyArn!);
        const v = versionOf(policy, p.VersionId!);
        policyVersions(policy).defaultId = v.id;
        policy.document = v.document;
        return undefined;
      },
      ["PolicyArn", "VersionId"],
    ),
    iam(
      "DeletePolicyVersion",
      (p, ctx) => {
        const policy = policyOf(ctx.account, p.PolicyArn!);
        const vs = policyVersions(policy);
        const v = versionOf(policy, p.VersionId!);
        if (v.id === vs.defaultId)
          throw awsError("DeleteConflict", "Cannot delete the default version of a policy.", 409);
        vs.list = vs.list.filter((x) => x.id !== v.id);
        return undefined;
      },
      ["PolicyArn", "VersionId"],
    ),
    iam(
      "DeletePolicy",
      (p, ctx) => {
        const policy = policyOf(ctx.account, p.PolicyArn!);
        if (attachmentCount(ctx.account, policy.arn) > 0)
          throw awsError("DeleteConflict", "Cannot delete a policy attached to entities.", 409);
        if (policyVersions(policy).list.length > 1)
          throw awsError(
            "DeleteConflict",
            "This policy has more than one version. Before you delete a policy, you must delete the policy's versions.",
            409,
          );
        ctx.account.policies.delete(policy.arn);
        return undefined;
      },
      ["PolicyArn"],
    ),
    ...attachOps("Group", (ctx, name) => groupOf(ctx, name).attachedPolicies, 10),
    ...attachOps("Role", (ctx, name) => roleAttached(roleOf(ctx, name)), 10),
  ];
}
