import {
  AttachUserPolicyCommand,
  CreatePolicyCommand,
  DeletePolicyCommand,
  DeleteUserPolicyCommand,
  DetachUserPolicyCommand,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { describeAwsError, isLimitExceeded, isNoSuchEntity } from "../../cloud/aws/errors.js";
import type { Config } from "../../config/schema.js";
import type { AuditEntry } from "../../model/audit.js";
import { hasIamName } from "../../util/iam-name.js";
import { audited } from "./audited.js";
import {
  attachedPolicies,
  groupAttachedPolicies,
  inlinePolicy,
  inlinePolicyNames,
  managedPolicy,
  quotaErrorIsFinal,
  sameDocument,
  userGroups,
} from "./iam-state.js";
import type { ActionContext, Applied, Planned, Recovered, RollbackResult } from "./types.js";
import { rollbackResultOf } from "./types.js";

// quarantine-user: a deny policy on an IAM user. A customer-managed policy, created if missing
// and attached; when the user already has the most managed policies IAM allows (LimitExceeded),
// the same document goes inline. Admins and break-glass users are never quarantined, and when
// group membership cannot be read nothing is done.

export interface QuarantineSettings {
  policyName: string;
  /** Deny everything instead of iam:*. */
  denyAll: boolean;
  adminGroup?: string | undefined;
  adminUsers: string[];
  breakGlassUsers: string[];
  /** Users who may be quarantined although they hold an administrator policy. */
  allowAdmins?: string[] | undefined;
}

/** Policies that make their holder an administrator in effect, attached directly or via a group. */
export const ADMIN_POLICY_NAMES = ["AdministratorAccess", "IAMFullAccess"] as const;

/** The admin group when none is configured: the convention of the Lambda quarantine it replaces. */
export const DEFAULT_ADMIN_GROUP = "admins";

const policyNameOf = (arn: string) => arn.slice(arn.lastIndexOf("/") + 1);

/** IAM's default quota of managed policies per user; only used to say what the plan expects. */
export const MANAGED_POLICIES_PER_USER = 10;

export function quarantineSettings(config: Config): QuarantineSettings {
  const q = config.remediation.quarantine;
  const change = config.checks["iam-change"];
  return {
    policyName: q.policyName,
    denyAll: q.denyAll,
    adminGroup: change?.adminGroup ?? DEFAULT_ADMIN_GROUP,
    adminUsers: change?.adminUsers ?? [],
    breakGlassUsers: q.breakGlassUsers,
    allowAdmins: q.allowAdmins,
  };
}

export function quarantineDocument(denyAll: boolean): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "IamwardenQuarantine", Effect: "Deny", Action: denyAll ? "*" : "iam:*", Resource: "*" },
    ],
  });
}

export const policyArn = (ctx: ActionContext, name: string) =>
  `arn:${ctx.partition ?? "aws"}:iam::${ctx.account}:policy/${name}`;

/** The administrator policy a user holds (directly, or through which group), or undefined. */
async function adminPolicyOf(
  ctx: ActionContext,
  user: string,
  groups: string[],
): Promise<string | undefined> {
  const isAdminPolicy = (arn: string) => hasIamName(ADMIN_POLICY_NAMES, policyNameOf(arn));
  const direct = (await attachedPolicies(ctx.iam, user)).find(isAdminPolicy);
  if (direct) return policyNameOf(direct);
  for (const g of groups) {
    const via = (await groupAttachedPolicies(ctx.iam, g)).find(isAdminPolicy);
    if (via) return `${policyNameOf(via)} through the group ${g}`;
  }
  return undefined;
}

export const quarantineUser = {
  name: "quarantine-user",

  async plan(ctx: ActionContext, user: string, s: QuarantineSettings): Promise<Planned> {
    const planned: Planned = {
      action: "quarantine-user",
      account: ctx.account,
      target: user,
      user,
      findingId: ctx.findingId,
      before: {},
      changes: [],
    };
    // IAM user names are unique case-insensitively: so is every guard.
    if (hasIamName(s.adminUsers, user)) {
      planned.blocked = `${user} is a listed admin user; admins are never quarantined`;
      return planned;
    }
    if (hasIamName(s.breakGlassUsers, user)) {
      planned.blocked = `${user} is a listed break-glass user; never quarantined`;
      return planned;
    }
    const adminGroup = s.adminGroup ?? DEFAULT_ADMIN_GROUP;
    let groups: string[] = [];
    try {
      groups = await userGroups(ctx.iam, user);
    } catch (e) {
      if (isNoSuchEntity(e)) {
        planned.noop = `there is no IAM user ${user}`;
        return planned;
      }
      planned.blocked = `cannot read the groups of ${user} (${describeAwsError(e)}); not quarantined, since ${user} may be in the admin group ${adminGroup}`;
      planned.raiseToCritical = true;
      return planned;
    }
    if (hasIamName(groups, adminGroup)) {
      planned.blocked = `${user} is a member of the admin group ${adminGroup}; admins are never quarantined`;
      return planned;
    }
    // Whatever the groups are called: an administrator policy, on the user or through a group.
    if (!hasIamName(s.allowAdmins ?? [], user)) {
      let held: string | undefined;
      try {
        held = await adminPolicyOf(ctx, user, groups);
      } catch (e) {
        if (isNoSuchEntity(e)) {
          planned.noop = `there is no IAM user ${user}`;
          return planned;
        }
        planned.blocked = `cannot read the policies of ${user} (${describeAwsError(e)}); not quarantined, since ${user} may hold ${ADMIN_POLICY_NAMES.join(" or ")}`;
        planned.raiseToCritical = true;
        return planned;
      }
      if (held) {
        // Not a listed admin, yet an administrator in effect: a person must look now.
        planned.blocked = `${user} holds ${held}; administrators are never quarantined (list ${user} in remediation.quarantine.allowAdmins to allow it)`;
        planned.raiseToCritical = true;
        return planned;
      }
    }

    const arn = policyArn(ctx, s.policyName);
    const document = quarantineDocument(s.denyAll);
    let attached: string[];
    let inline: string[];
    try {
      attached = await attachedPolicies(ctx.iam, user);
      inline = await inlinePolicyNames(ctx.iam, user);
    } catch (e) {
      if (!isNoSuchEntity(e)) throw e;
      planned.noop = `there is no IAM user ${user}`;
      return planned;
    }
    const policy = await managedPolicy(ctx.iam, arn);
    planned.before = {
      groups,
      attachedPolicies: attached,
      inlinePolicies: inline,
      policyExists: Boolean(policy),
    };
    // A policy of that name that says something else (perhaps an Allow) must never be attached.
    if (policy && !sameDocument(policy.document, document)) {
      planned.blocked = `the policy ${s.policyName} exists with a different document; not attaching it (fix it or set remediation.quarantine.policyName)`;
      return planned;
    }
    if (attached.includes(arn)) {
      planned.noop = `${user} is already quarantined (${s.policyName} attached)`;
      return planned;
    }
    if (inline.includes(s.policyName)) {
      if (sameDocument(await inlinePolicy(ctx.iam, user, s.policyName), document))
        planned.noop = `${user} is already quarantined (inline policy ${s.policyName})`;
      else planned.blocked = `${user} has an inline policy named ${s.policyName} with a different document`;
      return planned;
    }
    if (!policy) planned.changes.push(`create the customer-managed policy ${s.policyName} (CreatePolicy)`);
    planned.changes.push(
      attached.length >= MANAGED_POLICIES_PER_USER
        ? `attach ${s.policyName} to ${user}; ${user} has ${attached.length} managed policies, so if IAM refuses (LimitExceeded) put the same document inline (PutUserPolicy)`
        : `attach ${s.policyName} to ${user} (AttachUserPolicy)`,
    );
    return planned;
  },

  async apply(ctx: ActionContext, user: string, s: QuarantineSettings): Promise<Applied> {
    const planned = await quarantineUser.plan(ctx, user, s);
    const done = (
      status: Applied["status"],
      message: string,
      auditIds: number[] = [],
      verified?: boolean,
    ) => ({
      planned,
      status,
      auditIds,
      verified,
      message,
    });
    if (planned.noop) return done("noop", planned.noop);
    if (planned.blocked) return done("blocked", planned.blocked);

    const arn = policyArn(ctx, s.policyName);
    const document = quarantineDocument(s.denyAll);
    const ids: number[] = [];
    if (!planned.before.policyExists) {
      const created = await audited(ctx, {
        action: "create-policy",
        target: arn,
        before: { exists: false },
        intent: { api: "CreatePolicy", PolicyName: s.policyName, PolicyDocument: document },
        call: () =>
          ctx.iam.send(
            quotaErrorIsFinal(
              new CreatePolicyCommand({
                PolicyName: s.policyName,
                PolicyDocument: document,
                Description: "iamwarden quarantine: denies the users it is attached to",
              }),
            ),
          ),
        verify: async () => {
          const p = await managedPolicy(ctx.iam, arn);
          return { ok: sameDocument(p?.document, document), observed: { exists: Boolean(p) } };
        },
      });
      ids.push(created.auditId);
      if (!created.ok) return done("failed", `CreatePolicy: ${describeAwsError(created.error)}`, ids);
    }

    const attach = await audited(ctx, {
      action: "attach-user-policy",
      target: user,
      before: { attachedPolicies: planned.before.attachedPolicies },
      intent: { api: "AttachUserPolicy", UserName: user, PolicyArn: arn },
      call: () =>
        ctx.iam.send(quotaErrorIsFinal(new AttachUserPolicyCommand({ UserName: user, PolicyArn: arn }))),
      verify: async () => {
        const now = await attachedPolicies(ctx.iam, user);
        return { ok: now.includes(arn), observed: { attachedPolicies: now } };
      },
    });
    ids.push(attach.auditId);
    if (attach.ok) return done("applied", `${s.policyName} attached`, ids, attach.verified);
    if (!isLimitExceeded(attach.error))
      return done("failed", `AttachUserPolicy: ${describeAwsError(attach.error)}`, ids);

    // The user is at the managed-policy quota: the same document, inline.
    const put = await audited(ctx, {
      action: "put-user-policy",
      target: user,
      before: { inlinePolicies: planned.before.inlinePolicies },
      intent: { api: "PutUserPolicy", UserName: user, PolicyName: s.policyName, PolicyDocument: document },
      call: () =>
        ctx.iam.send(
          quotaErrorIsFinal(
            new PutUserPolicyCommand({ UserName: user, PolicyName: s.policyName, PolicyDocument: document }),
          ),
        ),
      verify: async () => {
        const doc = await inlinePolicy(ctx.iam, user, s.policyName);
        return { ok: sameDocument(doc, document), observed: { inlinePolicy: doc !== undefined } };
      },
    });
    ids.push(put.auditId);
    return put.ok
      ? done("applied", `${s.policyName} put inline (managed-policy quota reached)`, ids, put.verified)
      : done("failed", `PutUserPolicy: ${describeAwsError(put.error)}`, ids);
  },
};

/** Undoes one applied quarantine entry: exactly what it added, nothing else. */
export async function rollbackQuarantineEntry(
  ctx: ActionContext,
  entry: AuditEntry,
): Promise<RollbackResult> {
  const result = rollbackResultOf(entry);
  const base = { action: `rollback:${entry.action}`, target: entry.target, success: "rolled-back" as const };
  const user = String(entry.intent.UserName ?? entry.target);

  if (entry.action === "attach-user-policy") {
    const arn = String(entry.intent.PolicyArn);
    const now = await attachedPolicies(ctx.iam, user);
    if (!now.includes(arn)) return result("nothing-to-undo", `${arn} is no longer attached to ${user}`);
    const out = await audited(ctx, {
      ...base,
      before: { attachedPolicies: now },
      intent: { api: "DetachUserPolicy", UserName: user, PolicyArn: arn, rollbackOf: entry.id },
      call: () => ctx.iam.send(new DetachUserPolicyCommand({ UserName: user, PolicyArn: arn })),
      verify: async () => {
        const after = await attachedPolicies(ctx.iam, user);
        return { ok: !after.includes(arn), observed: { attachedPolicies: after } };
      },
    });
    return out.ok
      ? result("rolled-back", `detached ${arn} from ${user}`, out.auditId)
      : result("failed", describeAwsError(out.error), out.auditId);
  }

  if (entry.action === "put-user-policy") {
    const name = String(entry.intent.PolicyName);
    if ((await inlinePolicy(ctx.iam, user, name)) === undefined)
      return result("nothing-to-undo", `${user} no longer has the inline policy ${name}`);
    const out = await audited(ctx, {
      ...base,
      before: { inlinePolicy: name },
      intent: { api: "DeleteUserPolicy", UserName: user, PolicyName: name, rollbackOf: entry.id },
      call: () => ctx.iam.send(new DeleteUserPolicyCommand({ UserName: user, PolicyName: name })),
      verify: async () => {
        const doc = await inlinePolicy(ctx.iam, user, name);
        return { ok: doc === undefined, observed: { inlinePolicy: doc !== undefined } };
      },
    });
    return out.ok
      ? result("rolled-back", `deleted the inline policy ${name} of ${user}`, out.auditId)
      : result("failed", describeAwsError(out.error), out.auditId);
  }

  if (entry.action === "create-policy") {
    const arn = entry.target;
    const policy = await managedPolicy(ctx.iam, arn);
    if (!policy) return result("nothing-to-undo", `${arn} no longer exists`);
    // Quarantines of other users share the policy: it goes only once nobody uses it.
    if (policy.attachmentCount > 0)
      return result("kept", `${arn} is still attached to ${policy.attachmentCount} other principals; kept`);
    const out = await audited(ctx, {
      ...base,
      before: { exists: true, attachmentCount: 0 },
      intent: { api: "DeletePolicy", PolicyArn: arn, rollbackOf: entry.id },
      call: () => ctx.iam.send(new DeletePolicyCommand({ PolicyArn: arn })),
      verify: async () => {
        const p = await managedPolicy(ctx.iam, arn);
        return { ok: !p, observed: { exists: Boolean(p) } };
      },
    });
    return out.ok
      ? result("rolled-back", `deleted ${arn}`, out.auditId)
      : result("failed", describeAwsError(out.error), out.auditId);
  }
  return result("impossible", `no rollback for ${entry.action}`);
}

/** What rolling a quarantine entry back would do. */
export function describeQuarantineRollback(entry: AuditEntry): string {
  const user = String(entry.intent.UserName ?? entry.target);
  if (entry.action === "attach-user-policy")
    return `detach ${String(entry.intent.PolicyArn)} from ${user} (DetachUserPolicy)`;
  if (entry.action === "put-user-policy")
    return `delete the inline policy ${String(entry.intent.PolicyName)} of ${user} (DeleteUserPolicy)`;
  if (entry.action === "create-policy")
    return `delete ${entry.target} once no other user has it attached (DeletePolicy)`;
  return `nothing: no rollback for ${entry.action}`;
}

/** After a crash: whether the account shows the change a pending entry announced. */
export async function recoverQuarantineEntry(ctx: ActionContext, entry: AuditEntry): Promise<Recovered> {
  const user = String(entry.intent.UserName ?? entry.target);
  switch (entry.intent.api) {
    case "CreatePolicy":
    case "DeletePolicy": {
      const arn = entry.action === "create-policy" ? entry.target : String(entry.intent.PolicyArn);
      const exists = Boolean(await managedPolicy(ctx.iam, arn));
      return { made: entry.intent.api === "CreatePolicy" ? exists : !exists, observed: { exists } };
    }
    case "AttachUserPolicy":
    case "DetachUserPolicy": {
      const now = await attachedPolicies(ctx.iam, user);
      const on = now.includes(String(entry.intent.PolicyArn));
      return {
        made: entry.intent.api === "AttachUserPolicy" ? on : !on,
        observed: { attachedPolicies: now },
      };
    }
    case "PutUserPolicy":
    case "DeleteUserPolicy": {
      const present = (await inlinePolicy(ctx.iam, user, String(entry.intent.PolicyName))) !== undefined;
      return {
        made: entry.intent.api === "PutUserPolicy" ? present : !present,
        observed: { inlinePolicy: present },
      };
    }
    default:
      return { made: false, observed: { unknownApi: String(entry.intent.api) } };
  }
}
