import { z } from "zod";
import type { IamEvent } from "../model/event.js";
import type { Candidate, Severity } from "../model/finding.js";
import { hasIamName, sameIamName } from "../util/iam-name.js";
import { type EventCheck, eventCountColumn, settingsSchema } from "./check.js";

// Unintended IAM changes: an IAM write call by a principal who is not an administrator.

/** IAM calls that change who can do what; `iam:` is implied. */
export const DEFAULT_IAM_CHANGE_ACTIONS = [
  "CreateUser",
  "CreateAccessKey",
  "UpdateAccessKey",
  "CreateLoginProfile",
  "UpdateLoginProfile",
  "AttachUserPolicy",
  "AttachGroupPolicy",
  "AttachRolePolicy",
  "PutUserPolicy",
  "PutGroupPolicy",
  "PutRolePolicy",
  "AddUserToGroup",
  "CreatePolicy",
  "CreatePolicyVersion",
  "SetDefaultPolicyVersion",
  "UpdateAssumeRolePolicy",
  "CreateRole",
  "DeleteUserPermissionsBoundary",
  "DeleteRolePermissionsBoundary",
  "DeactivateMFADevice",
  // Taking a policy away changes who can do what as much as giving one.
  "DetachUserPolicy",
  "DeleteUserPolicy",
] as const;

/** Quarantine policies of other tools a team may have on its users (the Lambda quarantine's). */
export const DEFAULT_QUARANTINE_POLICIES = ["deny_iam_privileges"] as const;

/** Managed policies whose attachment makes someone an administrator in effect. */
const ADMIN_POLICIES = new Set(["AdministratorAccess", "IAMFullAccess"]);
/** Creating credentials for someone else is how an attacker keeps a foothold. */
const CREDENTIAL_CALLS = new Set(["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"]);
const ATTACH_CALLS = new Set(["iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy"]);
const PUT_CALLS = new Set([
  "iam:PutUserPolicy",
  "iam:PutGroupPolicy",
  "iam:PutRolePolicy",
  "iam:CreatePolicyVersion",
]);

const settings = settingsSchema({
  adminGroup: z.string().optional(),
  adminUsers: z.array(z.string()).default([]),
  principalTypes: z.array(z.string()).default(["IAMUser"]),
  /** Default: DEFAULT_IAM_CHANGE_ACTIONS. */
  actions: z.array(z.string()).optional(),
  quarantine: z.boolean().default(false),
  /** User policies whose removal lifts a quarantine (besides iamwarden's own): always critical. */
  quarantinePolicies: z.array(z.string()).default([...DEFAULT_QUARANTINE_POLICIES]),
}).prefault({});

const details = z.looseObject({
  username: z.string(),
  principalType: z.string(),
  principalArn: z.string().optional(),
  lastAction: z.string(),
  lastOutcome: z.enum(["success", "failure"]),
  /** At least one call the finding gathered succeeded (whatever the last one did). */
  succeeded: z.boolean().optional(),
  criticalReason: z.string().optional(),
  /** When the call that made it critical was made (the earliest such call's reason is kept). */
  criticalAt: z.string().optional(),
  advice: z.string(),
  quarantine: z.boolean(),
});
type Details = z.output<typeof details>;

/** What judging needs: the settings resolved for a run. */
export interface IamChangeSettings {
  /** Actions that count (`CreateUser` or `iam:CreateUser`). */
  actions: readonly string[];
  /** userIdentity types judged; others (roles, services) are left alone. */
  principalTypes: readonly string[];
  /** Administrators of an account (config adminUsers plus admin group members). */
  adminsOf: (account: string) => ReadonlySet<string>;
  /** The admin group: adding someone to it is critical. */
  adminGroup?: string | undefined;
  /** Removing this policy lifts iamwarden's quarantine: always counted, and critical. */
  quarantinePolicyName: string;
  /** Other quarantine policies (another tool's): removing one is as critical. */
  quarantinePolicies?: readonly string[] | undefined;
  /** Passed on in the finding so that the remediation hook knows it may quarantine. */
  quarantine: boolean;
}

const qualify = (a: string) => (a.includes(":") ? a : `iam:${a}`);

/** Precomputed action set per settings object (checks are called once per event). */
const actionSets = new WeakMap<readonly string[], Set<string>>();
function actionSet(actions: readonly string[]): Set<string> {
  let set = actionSets.get(actions);
  if (!set) {
    set = new Set(actions.map(qualify));
    actionSets.set(actions, set);
  }
  return set;
}

const policyNameOfArn = (arn: string | undefined) => arn?.slice(arn.lastIndexOf("/") + 1);

/**
 * The quarantine policy a call removes from a user, or undefined. A removed policy's document is
 * not in the record, so a deny policy is known by name: iamwarden's own, the configured ones, or a
 * name that says deny or quarantine (AWSDenyAll, deny_iam_privileges…). Names compare as IAM does.
 */
function removedQuarantine(
  e: IamEvent,
  s: Pick<IamChangeSettings, "quarantinePolicyName" | "quarantinePolicies">,
): string | undefined {
  const name =
    e.action === "iam:DeleteUserPolicy"
      ? e.target.policyName
      : e.action === "iam:DetachUserPolicy"
        ? policyNameOfArn(e.target.policyArn)
        : undefined;
  if (!name) return undefined;
  const known = [s.quarantinePolicyName, ...(s.quarantinePolicies ?? [])];
  return hasIamName(known, name) || /deny|quarantin/i.test(name) ? name : undefined;
}

// Only what grantsEverything reads; anything else in a statement is let be.
const statement = z.looseObject({ Effect: z.unknown(), Action: z.unknown() });
const policyDocument = z.looseObject({ Statement: z.union([z.array(statement), statement]).optional() });
const withPolicyDocument = z.looseObject({
  requestParameters: z.looseObject({ policyDocument: z.unknown() }).nullish(),
});

/** Whether an inline policy document grants everything (`"Action": "*"` or `iam:*` with Allow). */
function grantsEverything(doc: unknown): boolean {
  if (typeof doc !== "string") return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc.startsWith("%7B") || doc.startsWith("%7b") ? decodeURIComponent(doc) : doc);
  } catch {
    return false;
  }
  const policy = policyDocument.safeParse(parsed);
  if (!policy.success) return false;
  const st = policy.data.Statement;
  const statements = Array.isArray(st) ? st : st ? [st] : [];
  return statements.some((s) => {
    if (s.Effect !== "Allow") return false;
    const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
    return actions.some((a) => a === "*" || a === "iam:*");
  });
}

/** Why a successful call is critical rather than high, or undefined. */
function criticalBecause(e: IamEvent, s: IamChangeSettings): string | undefined {
  const lifted = removedQuarantine(e, s);
  if (lifted) return `removed the quarantine policy ${lifted}`;
  if (CREDENTIAL_CALLS.has(e.action) && e.target.user && e.target.user !== e.principal.name)
    return `created credentials for another user (${e.target.user})`;
  if (ATTACH_CALLS.has(e.action)) {
    const p = policyNameOfArn(e.target.policyArn);
    if (p && ADMIN_POLICIES.has(p)) return `attached ${p}`;
  }
  if (PUT_CALLS.has(e.action)) {
    const raw = withPolicyDocument.safeParse(e.raw);
    const doc = raw.success ? raw.data.requestParameters?.policyDocument : undefined;
    if (grantsEverything(doc)) return "wrote a policy that allows every action";
  }
  if (e.action === "iam:AddUserToGroup" && s.adminGroup && sameIamName(e.target.group, s.adminGroup))
    return `added ${e.target.user ?? "a user"} to the admin group ${s.adminGroup}`;
  return undefined;
}

function isAdmin(e: IamEvent, admins: ReadonlySet<string>): boolean {
  const name = e.principal.name;
  if (!name) return false;
  // IAM names are unique case-insensitively: ALICE.ADMIN is the listed alice.admin.
  if (admins.has(name) || hasIamName(admins, name)) return true;
  // An assumed role is named Role/session: an admin role counts whatever the session.
  const slash = name.indexOf("/");
  return slash > 0 && hasIamName(admins, name.slice(0, slash));
}

/** The occurrence kept in the finding: small, and enough to investigate without the raw record. */
export function eventSummary(e: IamEvent): Record<string, unknown> {
  return {
    time: e.time.toISOString(),
    action: e.action,
    outcome: e.outcome,
    ...(e.errorCode ? { errorCode: e.errorCode } : {}),
    ...(Object.keys(e.target).length ? { target: e.target } : {}),
    sourceIp: e.sourceIp,
    ...(e.userAgent ? { userAgent: e.userAgent } : {}),
    ...(e.principal.accessKeyId ? { keyId: e.principal.accessKeyId } : {}),
    ...(e.region ? { region: e.region } : {}),
    eventId: e.eventId,
  };
}

/** One event judged; undefined when it is not an unintended IAM change. */
export function judgeIamChange(e: IamEvent, s: IamChangeSettings): Candidate<Details> | undefined {
  if (e.provider !== "aws" || e.kind !== "api-call") return undefined;
  const quarantineLifted = removedQuarantine(e, s) !== undefined;
  if (!quarantineLifted && !actionSet(s.actions).has(e.action)) return undefined;
  if (!s.principalTypes.includes(e.principal.type)) return undefined;
  if (isAdmin(e, s.adminsOf(e.account))) return undefined;

  const who = e.principal.name ?? e.principal.arn ?? e.principal.id ?? "unknown principal";
  const ok = e.outcome === "success";
  const critical = ok ? criticalBecause(e, s) : undefined;
  const severity: Severity = !ok ? "medium" : critical ? "critical" : "high";
  return {
    check: "iam-change",
    account: e.account,
    resource: e.principal.arn ?? `${e.principal.type}/${who}`,
    owner: who,
    severity,
    title: ok
      ? `IAM changes by ${who}, who is not an administrator`
      : `Attempted IAM changes by ${who}, who is not an administrator`,
    details: {
      username: who,
      principalType: e.principal.type,
      principalArn: e.principal.arn,
      lastAction: e.action,
      lastOutcome: e.outcome,
      ...(ok ? { succeeded: true } : {}),
      ...(critical ? { criticalReason: critical, criticalAt: e.time.toISOString() } : {}),
      advice: ok
        ? `Check with ${who} that the calls listed were intended; revert those that were not${s.quarantine ? "" : " and consider quarantining the user"}. Changes to IAM belong to administrators${s.adminGroup ? ` (group ${s.adminGroup})` : ""}.`
        : `${who} tried IAM changes that were denied: check with them why, and whether their credentials are in someone else's hands.`,
      quarantine: s.quarantine,
    },
    events: [eventSummary(e)],
  };
}

/** Calls that may lift the quarantine: always judged, whatever the actions. */
const LIFTS = new Set(["iam:DeleteUserPolicy", "iam:DetachUserPolicy"]);

export const iamChange: EventCheck<"iam-change", typeof settings, Details, IamChangeSettings> = {
  name: "iam-change",
  kind: "event",
  description:
    "an IAM write call (users, keys, policies, groups, roles) by a principal who is not an administrator",
  settings,
  details,
  // Members of the admin group are read with GetGroup.
  permissions: ["iam:GetGroup"],
  reads: ["events", "admins"],
  subject: "principal",
  prepare(s, env) {
    const adminUsers = new Set(s.adminUsers);
    return {
      actions: s.actions ?? DEFAULT_IAM_CHANGE_ACTIONS,
      principalTypes: s.principalTypes,
      adminsOf: (a) => env.adminsOf(a) ?? adminUsers,
      adminGroup: s.adminGroup,
      quarantinePolicyName: env.quarantinePolicyName,
      quarantinePolicies: s.quarantinePolicies,
      quarantine: s.quarantine,
    };
  },
  prefilter: (h, s) => h.provider === "aws" && (LIFTS.has(h.action) || actionSet(s.actions).has(h.action)),
  judge: judgeIamChange,
  merge(earlier, later, keepAdvice) {
    // The reason it became critical (the earliest critical call's) stays with the finding.
    const critical = [earlier, later]
      .filter((d) => d.criticalReason)
      .sort((a, b) =>
        (a.criticalAt ?? "") + a.criticalReason < (b.criticalAt ?? "") + b.criticalReason ? -1 : 1,
      )[0];
    // A call that succeeded stays known when later ones are denied (the quarantine hook acts on it).
    const succeeded = earlier.succeeded || later.succeeded;
    return {
      ...(keepAdvice ? { advice: earlier.advice } : {}),
      ...(critical ? { criticalReason: critical.criticalReason, criticalAt: critical.criticalAt } : {}),
      ...(succeeded ? { succeeded } : {}),
    };
  },
  summary: (d) =>
    `${d.succeeded || d.lastOutcome === "success" ? "IAM changes" : "attempted IAM changes"} by ${d.username}, last ${d.lastAction}`,
  columns: { age: eventCountColumn },
};
