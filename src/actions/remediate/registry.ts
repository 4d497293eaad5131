import { UserError } from "../../errors.js";
import type { Finding } from "../../model/finding.js";
import {
  deactivateKey,
  deleteKey,
  describeKeyRollback,
  type KeyRef,
  recoverKeyEntry,
  rollbackKeyEntry,
} from "./deactivate-key.js";
import {
  describeQuarantineRollback,
  quarantineSettings,
  quarantineUser,
  recoverQuarantineEntry,
  rollbackQuarantineEntry,
} from "./quarantine-user.js";
import type { ActionContext, RemediationAction } from "./types.js";

// The remediation actions. Runs, rollback, crash recovery and the permission list loop over this
// list; a new action is one object here (or in its own file) and one line in REMEDIATION_ACTIONS.

/** Only real key ids can be acted on; report rows not matched to an id are named user#key…. */
const KEY_ID = /^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$/;
const KEY_FINDINGS = ["key-inactive", "key-age"] as const;

function keyTarget(f: Finding): KeyRef | undefined {
  const user = (f.details.username as string | undefined) ?? f.owner;
  const keyId = (f.details.keyId as string | undefined) ?? f.resource;
  return user && KEY_ID.test(keyId) ? { user, keyId } : undefined;
}

const keyOf = (p: { target: string; user?: string | undefined }): KeyRef => ({
  user: p.user ?? "",
  keyId: p.target,
});

/** Key reads shared by both key actions; the active-key count reads users or the report. */
const KEY_READS = [
  "iam:ListAccessKeys",
  "iam:ListUsers",
  "iam:GenerateCredentialReport",
  "iam:GetCredentialReport",
] as const;

const keyCommon = {
  provider: "aws" as const,
  checks: KEY_FINDINGS,
  scheduled: true,
  appliesTo: (f: Finding) => (KEY_FINDINGS as readonly string[]).includes(f.check),
  target: keyTarget,
  targetOf: keyOf,
  rollback: rollbackKeyEntry,
  describeRollback: describeKeyRollback,
  recover: recoverKeyEntry,
};

export const deactivateKeyAction: RemediationAction<KeyRef> = {
  ...keyCommon,
  name: "deactivate-key",
  permissions: [...KEY_READS, "iam:UpdateAccessKey"],
  auditActions: ["deactivate-key"],
  completes: { "deactivate-key": "access key deactivated" },
  plan: (ctx, k) => deactivateKey.plan(ctx, k),
  apply: (ctx, planned) => deactivateKey.apply(ctx, keyOf(planned)),
};

export const deleteKeyAction: RemediationAction<KeyRef> = {
  ...keyCommon,
  name: "delete-key",
  permissions: [...KEY_READS, "iam:DeleteAccessKey"],
  auditActions: ["delete-key"],
  completes: { "delete-key": "access key deleted" },
  plan: (ctx, k) => deleteKey.plan(ctx, k),
  apply: (ctx, planned) => deleteKey.apply(ctx, keyOf(planned)),
};

const settingsOf = (ctx: ActionContext) => {
  if (!ctx.config) throw new Error("quarantine-user needs the config in its context (its guards)");
  return quarantineSettings(ctx.config);
};

export const quarantineUserAction: RemediationAction<string> = {
  name: "quarantine-user",
  provider: "aws",
  checks: ["iam-change"],
  // Driven by the iam-change hook and the quarantine command, not by scheduled runs.
  scheduled: false,
  permissions: [
    "iam:ListGroupsForUser",
    "iam:ListAttachedUserPolicies",
    "iam:ListAttachedGroupPolicies",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:CreatePolicy",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
    "iam:DetachUserPolicy",
    "iam:DeleteUserPolicy",
    "iam:DeletePolicy",
  ],
  auditActions: ["create-policy", "attach-user-policy", "put-user-policy"],
  completes: { "attach-user-policy": "quarantined", "put-user-policy": "quarantined" },
  appliesTo: (f) => f.check === "iam-change" && f.details.principalType === "IAMUser",
  target: (f) => (typeof f.details.username === "string" ? f.details.username : undefined),
  targetOf: (p) => p.target,
  plan: (ctx, user) => quarantineUser.plan(ctx, user, settingsOf(ctx)),
  apply: (ctx, planned) => quarantineUser.apply(ctx, planned.target, settingsOf(ctx)),
  rollback: rollbackQuarantineEntry,
  describeRollback: describeQuarantineRollback,
  recover: recoverQuarantineEntry,
};

export const REMEDIATION_ACTIONS: readonly RemediationAction[] = [
  deactivateKeyAction,
  deleteKeyAction,
  quarantineUserAction,
];

export function remediationAction(name: string): RemediationAction {
  const a = REMEDIATION_ACTIONS.find((x) => x.name === name);
  if (!a) throw new UserError(`no remediation action named ${name}`);
  return a;
}

/** The action that wrote an audit entry (`rollback:` entries belong to the action they undo). */
export function actionOfAudit(auditAction: string): RemediationAction | undefined {
  const forward = auditAction.replace(/^rollback:/, "");
  return REMEDIATION_ACTIONS.find((a) => a.auditActions.includes(forward));
}

/** Checks whose findings scheduled remediation runs look at. */
export const scheduledChecks = (): string[] => [
  ...new Set(REMEDIATION_ACTIONS.filter((a) => a.scheduled).flatMap((a) => a.checks)),
];

/** Every IAM permission remediation may use, sorted, for policies and documentation. */
export const remediationPermissions = (): string[] =>
  [...new Set(REMEDIATION_ACTIONS.flatMap((a) => a.permissions))].sort();
