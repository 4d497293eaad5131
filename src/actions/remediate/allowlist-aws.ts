import {
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  type IAMClient,
  paginateListAttachedGroupPolicies,
  paginateListAttachedRolePolicies,
  paginateListAttachedUserPolicies,
  paginateListPolicyVersions,
  SetDefaultPolicyVersionCommand,
} from "@aws-sdk/client-iam";
import type { AwsApplySettings } from "../../allowlist/apply-config.js";
import { allowedIn, type PolicyPart, retiredDocument } from "../../allowlist/aws-policy.js";
import { describeAwsError, isNoSuchEntity } from "../../cloud/aws/errors.js";
import type { AuditEntry } from "../../model/audit.js";
import { audited } from "./audited.js";
import { sameDocument } from "./iam-state.js";
import type { ActionContext, RollbackResult } from "./types.js";
import { rollbackResultOf } from "./types.js";

// allowlist-aws: the policies of allowlist/aws-policy.ts in one account. A changed document is a
// new policy version set as default (never an edit in place), so rollback can set the previous
// version back; at IAM's 5-version limit the oldest non-default version is deleted first. Every
// call is audited with the document before and after.

const MAX_VERSIONS = 5;

/** An action context without a finding: allowlists are applied to accounts, not findings. */
export type AwsAllowlistContext = Pick<
  ActionContext,
  "iam" | "store" | "account" | "partition" | "runId" | "actor" | "verify"
>;

export type PrincipalKind = "group" | "user" | "role";

interface PolicyState {
  arn: string;
  exists: boolean;
  defaultVersion?: string | undefined;
  document?: string | undefined;
  /** Oldest first. */
  versions: { id: string; isDefault: boolean; createDate?: string | undefined }[];
}

export interface AwsPartPlan {
  name: string;
  arn: string;
  /** The document to hold: a desired part, or the retired form of a part no longer needed. */
  document: string;
  retired: boolean;
  current: PolicyState;
  action: "create" | "new-version" | "none";
  /** Version deleted first to stay within IAM's 5 versions. */
  prune?: string | undefined;
}

export interface AwsAllowlistPlan {
  provider: "aws";
  account: string;
  parts: AwsPartPlan[];
  attach: { kind: PrincipalKind; name: string; policyArn: string }[];
  /** CIDRs the account's policies allow now, and will allow. */
  currentCidrs: string[];
  desiredCidrs: string[];
  changes: string[];
  blocked?: string | undefined;
}

const decode = (d: string | undefined) => (d === undefined ? undefined : decodeURIComponent(d));

export const allowlistPolicyArn = (
  ctx: { partition?: string | undefined; account: string },
  s: AwsApplySettings,
  name: string,
) => `arn:${ctx.partition ?? "aws"}:iam::${ctx.account}:policy${s.path}${name}`;

async function policyState(iam: IAMClient, arn: string): Promise<PolicyState> {
  let defaultVersion: string | undefined;
  try {
    defaultVersion = (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId;
  } catch (e) {
    if (isNoSuchEntity(e)) return { arn, exists: false, versions: [] };
    throw e;
  }
  const versions: PolicyState["versions"] = [];
  for await (const page of paginateListPolicyVersions({ client: iam }, { PolicyArn: arn }))
    for (const v of page.Versions ?? [])
      if (v.VersionId)
        versions.push({
          id: v.VersionId,
          isDefault: Boolean(v.IsDefaultVersion),
          createDate: v.CreateDate?.toISOString(),
        });
  versions.sort(
    (a, b) =>
      (a.createDate ?? "").localeCompare(b.createDate ?? "") || versionNumber(a.id) - versionNumber(b.id),
  );
  const document = defaultVersion ? await versionDocument(iam, arn, defaultVersion) : undefined;
  return { arn, exists: true, defaultVersion, document, versions };
}

const versionNumber = (id: string) => Number(id.replace(/^v/, "")) || 0;

async function versionDocument(iam: IAMClient, arn: string, versionId: string): Promise<string | undefined> {
  const r = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: versionId }));
  return decode(r.PolicyVersion?.Document);
}

async function attachedTo(iam: IAMClient, kind: PrincipalKind, name: string): Promise<string[]> {
  const arns: string[] = [];
  const pages =
    kind === "group"
      ? paginateListAttachedGroupPolicies({ client: iam }, { GroupName: name })
      : kind === "user"
        ? paginateListAttachedUserPolicies({ client: iam }, { UserName: name })
        : paginateListAttachedRolePolicies({ client: iam }, { RoleName: name });
  for await (const page of pages)
    for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn) arns.push(p.PolicyArn);
  return arns;
}

function principals(s: AwsApplySettings): { kind: PrincipalKind; name: string }[] {
  return [
    ...s.attach.groups.map((name) => ({ kind: "group" as const, name })),
    ...s.attach.users.map((name) => ({ kind: "user" as const, name })),
    ...s.attach.roles.map((name) => ({ kind: "role" as const, name })),
  ];
}

/** Reads the account and says what apply would change; nothing is changed. */
export async function planAwsAllowlist(
  ctx: AwsAllowlistContext,
  desired: PolicyPart[],
  s: AwsApplySettings,
  desiredCidrs: string[],
): Promise<AwsAllowlistPlan> {
  const plan: AwsAllowlistPlan = {
    provider: "aws",
    account: ctx.account,
    parts: [],
    attach: [],
    currentCidrs: [],
    desiredCidrs,
    changes: [],
  };
  // Parts beyond the desired count that an earlier, longer list left behind.
  const names = desired.map((p) => ({ name: p.name, document: p.document, retired: false }));
  for (let k = desired.length + 1; k <= 10; k++)
    names.push({ name: `${s.policyName}-${k}`, document: retiredDocument(s), retired: true });
  for (const want of names) {
    const arn = allowlistPolicyArn(ctx, s, want.name);
    const current = await policyState(ctx.iam, arn);
    if (want.retired && !current.exists) continue;
    plan.currentCidrs.push(...allowedIn(current.document));
    const action = !current.exists
      ? "create"
      : sameDocument(current.document, want.document)
        ? "none"
        : "new-version";
    const prune =
      action === "new-version" && current.versions.length >= MAX_VERSIONS
        ? current.versions.find((v) => !v.isDefault)?.id
        : undefined;
    plan.parts.push({
      name: want.name,
      arn,
      document: want.document,
      retired: want.retired,
      current,
      action,
      prune,
    });
    if (action === "create") plan.changes.push(`create the policy ${want.name} (CreatePolicy)`);
    if (action === "new-version")
      plan.changes.push(
        `${prune ? `delete the oldest version ${prune} of ${want.name} (IAM keeps 5), then ` : ""}` +
          `${want.retired ? "retire" : "update"} ${want.name}: a new version set as default (was ${current.defaultVersion})`,
      );
  }
  for (const p of principals(s)) {
    let attached: string[];
    try {
      attached = await attachedTo(ctx.iam, p.kind, p.name);
    } catch (e) {
      if (!isNoSuchEntity(e)) throw e;
      plan.blocked = `there is no IAM ${p.kind} ${p.name} in ${ctx.account} (allowlists.apply.aws.attach)`;
      continue;
    }
    for (const part of plan.parts.filter((x) => !x.retired))
      if (!attached.includes(part.arn)) {
        plan.attach.push({ kind: p.kind, name: p.name, policyArn: part.arn });
        plan.changes.push(`attach ${part.name} to the ${p.kind} ${p.name}`);
      }
  }
  return plan;
}

async function attach(iam: IAMClient, kind: PrincipalKind, name: string, PolicyArn: string): Promise<void> {
  if (kind === "group") await iam.send(new AttachGroupPolicyCommand({ GroupName: name, PolicyArn }));
  else if (kind === "user") await iam.send(new AttachUserPolicyCommand({ UserName: name, PolicyArn }));
  else await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn }));
}

async function detach(iam: IAMClient, kind: PrincipalKind, name: string, PolicyArn: string): Promise<void> {
  if (kind === "group") await iam.send(new DetachGroupPolicyCommand({ GroupName: name, PolicyArn }));
  else if (kind === "user") await iam.send(new DetachUserPolicyCommand({ UserName: name, PolicyArn }));
  else await iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn }));
}

export interface AwsApplyResult {
  auditIds: number[];
  failed?: string | undefined;
}

/** Makes the planned changes, policies first and attachments last; stops at the first failure. */
export async function applyAwsAllowlist(
  ctx: AwsAllowlistContext,
  plan: AwsAllowlistPlan,
  s: AwsApplySettings,
): Promise<AwsApplyResult> {
  const { iam } = ctx;
  const ids: number[] = [];
  const run = async <T>(change: Parameters<typeof audited<T>>[1]) => {
    const o = await audited(ctx, change);
    ids.push(o.auditId);
    return o.ok ? undefined : describeAwsError(o.error);
  };
  const docIs = (arn: string, document: string) => async () => {
    const st = await policyState(iam, arn);
    return { ok: sameDocument(st.document, document), observed: { defaultVersion: st.defaultVersion } };
  };
  for (const part of plan.parts) {
    if (part.action === "create") {
      const failed = await run({
        action: "allowlist-create-policy",
        target: part.arn,
        before: { exists: false },
        intent: { policyName: part.name, path: s.path, document: part.document },
        call: () =>
          iam.send(
            new CreatePolicyCommand({
              PolicyName: part.name,
              Path: s.path,
              PolicyDocument: part.document,
              Description: "iamwarden: deny requests from outside the source-ip allowlist",
            }),
          ),
        verify: docIs(part.arn, part.document),
      });
      if (failed) return { auditIds: ids, failed };
    }
    if (part.action === "new-version") {
      if (part.prune) {
        const pruned = part.prune;
        const document = await versionDocument(iam, part.arn, pruned);
        const failed = await run({
          action: "allowlist-delete-policy-version",
          target: part.arn,
          before: { versionId: pruned, document },
          intent: { deleteVersion: pruned, why: `IAM keeps ${MAX_VERSIONS} versions` },
          call: () => iam.send(new DeletePolicyVersionCommand({ PolicyArn: part.arn, VersionId: pruned })),
          verify: async () => {
            const st = await policyState(iam, part.arn);
            return { ok: !st.versions.some((v) => v.id === pruned), observed: {} };
          },
        });
        if (failed) return { auditIds: ids, failed };
      }
      const failed = await run({
        action: "allowlist-set-policy-version",
        target: part.arn,
        before: { defaultVersion: part.current.defaultVersion, document: part.current.document },
        intent: { document: part.document, retired: part.retired },
        call: () =>
          iam.send(
            new CreatePolicyVersionCommand({
              PolicyArn: part.arn,
              PolicyDocument: part.document,
              SetAsDefault: true,
            }),
          ),
        verify: async (r) => {
          const st = await policyState(iam, part.arn);
          const versionId = r.PolicyVersion?.VersionId;
          return {
            ok: st.defaultVersion === versionId && sameDocument(st.document, part.document),
            observed: { versionId },
          };
        },
      });
      if (failed) return { auditIds: ids, failed };
    }
  }
  for (const a of plan.attach) {
    const failed = await run({
      action: "allowlist-attach-policy",
      target: `${a.kind}/${a.name}`,
      before: { attached: false },
      intent: { kind: a.kind, name: a.name, policyArn: a.policyArn },
      call: () => attach(iam, a.kind, a.name, a.policyArn),
      verify: async () => ({
        ok: (await attachedTo(iam, a.kind, a.name)).includes(a.policyArn),
        observed: {},
      }),
    });
    if (failed) return { auditIds: ids, failed };
  }
  return { auditIds: ids };
}

/** Undoes one audited AWS allowlist change, only when the account still shows what it did. */
export async function rollbackAwsEntry(ctx: AwsAllowlistContext, entry: AuditEntry): Promise<RollbackResult> {
  const { iam } = ctx;
  const result = rollbackResultOf(entry);
  const undo = async (
    before: Record<string, unknown>,
    intent: Record<string, unknown>,
    call: () => Promise<unknown>,
    verify: () => Promise<boolean>,
    done: string,
  ) => {
    const o = await audited(ctx, {
      action: `rollback-${entry.action}`,
      target: entry.target,
      before,
      intent: { ...intent, rollbackOf: entry.id },
      call,
      verify: async () => ({ ok: await verify(), observed: {} }),
      success: "rolled-back",
    });
    return o.ok
      ? result("rolled-back", done, o.auditId)
      : result("failed", describeAwsError(o.error), o.auditId);
  };

  if (entry.action === "allowlist-attach-policy") {
    const { kind, name, policyArn } = entry.intent as {
      kind: PrincipalKind;
      name: string;
      policyArn: string;
    };
    let attached: string[];
    try {
      attached = await attachedTo(iam, kind, name);
    } catch (e) {
      if (isNoSuchEntity(e)) return result("nothing-to-undo", `the ${kind} ${name} no longer exists`);
      throw e;
    }
    if (!attached.includes(policyArn))
      return result("nothing-to-undo", `${policyArn} is no longer attached to ${name}`);
    return undo(
      { attached: true },
      { detach: policyArn },
      () => detach(iam, kind, name, policyArn),
      async () => !(await attachedTo(iam, kind, name)).includes(policyArn),
      `detached from the ${kind} ${name}`,
    );
  }

  const arn = entry.target;
  const st = await policyState(iam, arn);
  if (entry.action === "allowlist-set-policy-version") {
    const made = entry.outcome?.versionId;
    const previous = entry.before.defaultVersion as string | undefined;
    const previousDoc = entry.before.document as string | undefined;
    if (!st.exists) return result("nothing-to-undo", "the policy no longer exists");
    if (st.defaultVersion !== made)
      return result(
        "impossible",
        `the default version is ${st.defaultVersion}, not ${String(made)}: changed since; not overwritten`,
      );
    if (previous && st.versions.some((v) => v.id === previous))
      return undo(
        { defaultVersion: st.defaultVersion, document: st.document },
        { setDefault: previous },
        () => iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: previous })),
        async () => (await policyState(iam, arn)).defaultVersion === previous,
        `default version back to ${previous}`,
      );
    if (!previousDoc) return result("impossible", "the audit entry holds no previous document");
    return result(
      "impossible",
      `the previous version ${previous} was deleted since; re-apply the previous lists instead`,
    );
  }

  if (entry.action === "allowlist-create-policy") {
    if (!st.exists) return result("nothing-to-undo", "the policy no longer exists");
    const attachments =
      (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.AttachmentCount ?? 0;
    if (attachments > 0) return result("kept", `still attached to ${attachments} principals; not deleted`);
    return undo(
      { exists: true, versions: st.versions.map((v) => v.id), document: st.document },
      { deletePolicy: arn },
      async () => {
        for (const v of st.versions)
          if (!v.isDefault)
            await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v.id }));
        await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
      },
      async () => !(await policyState(iam, arn)).exists,
      "policy deleted",
    );
  }
  return result("nothing-to-undo", "pruning an old version is not undone (its document is in the audit log)");
}
