import {
  GetPolicyCommand,
  type GetPolicyCommandOutput,
  GetPolicyVersionCommand,
  GetUserPolicyCommand,
  type IAMClient,
  paginateListAccessKeys,
  paginateListAttachedGroupPolicies,
  paginateListAttachedUserPolicies,
  paginateListGroupsForUser,
  paginateListUserPolicies,
  paginateListUsers,
} from "@aws-sdk/client-iam";
import { isLimitExceeded, isNoSuchEntity } from "../../cloud/aws/errors.js";
import { fetchCredentialReport } from "../../sources/aws/credential-report.js";
import { parseCredentialReport } from "../../sources/credential-report.js";

// Paginated reads of the IAM state remediation acts on. Every list call follows Marker to the
// end: IAM may return fewer items than MaxItems even when more exist.

export interface KeyState {
  id: string;
  status: string;
  createDate?: string | undefined;
}

export async function userKeys(iam: IAMClient, user: string): Promise<KeyState[]> {
  const keys: KeyState[] = [];
  for await (const page of paginateListAccessKeys({ client: iam }, { UserName: user }))
    for (const k of page.AccessKeyMetadata ?? [])
      if (k.AccessKeyId)
        keys.push({ id: k.AccessKeyId, status: k.Status ?? "", createDate: k.CreateDate?.toISOString() });
  return keys;
}

/** The key's current state, or undefined when the key (or its user) no longer exists. */
export async function keyState(iam: IAMClient, user: string, keyId: string): Promise<KeyState | undefined> {
  try {
    return (await userKeys(iam, user)).find((k) => k.id === keyId);
  } catch (e) {
    if (isNoSuchEntity(e)) return undefined;
    throw e;
  }
}

export async function userGroups(iam: IAMClient, user: string): Promise<string[]> {
  const groups: string[] = [];
  for await (const page of paginateListGroupsForUser({ client: iam }, { UserName: user }))
    for (const g of page.Groups ?? []) if (g.GroupName) groups.push(g.GroupName);
  return groups;
}

export async function attachedPolicies(iam: IAMClient, user: string): Promise<string[]> {
  const arns: string[] = [];
  for await (const page of paginateListAttachedUserPolicies({ client: iam }, { UserName: user }))
    for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn) arns.push(p.PolicyArn);
  return arns;
}

export async function groupAttachedPolicies(iam: IAMClient, group: string): Promise<string[]> {
  const arns: string[] = [];
  for await (const page of paginateListAttachedGroupPolicies({ client: iam }, { GroupName: group }))
    for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn) arns.push(p.PolicyArn);
  return arns;
}

export async function inlinePolicyNames(iam: IAMClient, user: string): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateListUserPolicies({ client: iam }, { UserName: user }))
    names.push(...(page.PolicyNames ?? []));
  return names;
}

/** IAM returns policy documents URL-encoded (RFC 3986); the SDK hands them over as they come. */
const decodeDocument = (doc: string | undefined) => (doc === undefined ? undefined : decodeURIComponent(doc));

export interface ManagedPolicy {
  arn: string;
  attachmentCount: number;
  document?: string | undefined;
}

/** A customer-managed policy and its default version's document, or undefined when absent. */
export async function managedPolicy(iam: IAMClient, arn: string): Promise<ManagedPolicy | undefined> {
  let policy: GetPolicyCommandOutput;
  try {
    policy = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
  } catch (e) {
    if (isNoSuchEntity(e)) return undefined;
    throw e;
  }
  const version = policy.Policy?.DefaultVersionId;
  const doc = version
    ? (await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: version }))).PolicyVersion
        ?.Document
    : undefined;
  return { arn, attachmentCount: policy.Policy?.AttachmentCount ?? 0, document: decodeDocument(doc) };
}

export async function inlinePolicy(iam: IAMClient, user: string, name: string): Promise<string | undefined> {
  try {
    const r = await iam.send(new GetUserPolicyCommand({ UserName: user, PolicyName: name }));
    return decodeDocument(r.PolicyDocument);
  } catch (e) {
    if (isNoSuchEntity(e)) return undefined;
    throw e;
  }
}

/** Two policy documents say the same thing (key order and whitespace aside). */
export function sameDocument(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([x], [y]) => x.localeCompare(y))
              .map(([k, x]) => [k, canon(x)]),
          )
        : v;
  try {
    return JSON.stringify(canon(JSON.parse(a))) === JSON.stringify(canon(JSON.parse(b)));
  } catch {
    return false;
  }
}

export interface CountSettings {
  mode: "api" | "credential-report" | "auto";
  /** auto: above this many users, count from the credential report. */
  reportThreshold: number;
  concurrency: number;
}

/**
 * Active access keys of the account's IAM users, the denominator of the blast-radius share.
 * Through the API that is one ListAccessKeys per user; the credential report answers in a couple
 * of calls, possibly a few hours old, which is close enough for a share. `auto` picks the report
 * above reportThreshold users, as the scan does.
 */
export async function countActiveKeys(
  iam: IAMClient,
  s: CountSettings = { mode: "api", reportThreshold: 0, concurrency: 8 },
): Promise<number> {
  if (s.mode === "credential-report") return countFromReport(iam);
  const users: string[] = [];
  for await (const page of paginateListUsers({ client: iam }, {}))
    for (const u of page.Users ?? []) if (u.UserName) users.push(u.UserName);
  if (s.mode === "auto" && users.length > s.reportThreshold) return countFromReport(iam);
  const { default: pLimit } = await import("p-limit");
  const limit = pLimit(s.concurrency);
  const counts = await Promise.all(
    users.map((u) =>
      limit(async () => (await keysOrNone(iam, u)).filter((k) => k.status === "Active").length),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

async function countFromReport(iam: IAMClient): Promise<number> {
  const { csv } = await fetchCredentialReport(iam, { initialDelayMs: 500 });
  let n = 0;
  for (const row of parseCredentialReport(csv, "credential report"))
    if (!row.isRoot) n += row.keys.filter((k) => k.active).length;
  return n;
}

/** A user deleted between ListUsers and ListAccessKeys has no keys. */
async function keysOrNone(iam: IAMClient, user: string): Promise<KeyState[]> {
  try {
    return await userKeys(iam, user);
  } catch (e) {
    if (isNoSuchEntity(e)) return [];
    throw e;
  }
}

/**
 * IAM answers a full quota (managed policies per user, policy size) with LimitExceeded, which the
 * SDK's retry strategy takes for throttling and retries with backoff: up to a minute of waiting
 * for an answer that will not change. For these calls the error is final at once.
 */
export function quotaErrorIsFinal<C extends { middlewareStack: { add: (...a: never[]) => void } }>(
  command: C,
): C {
  const add = command.middlewareStack.add as (mw: unknown, opts: Record<string, unknown>) => void;
  add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (e) {
        // Renamed out of the SDK's throttling list; isLimitExceeded still knows it by Code.
        if (isLimitExceeded(e) && (e as Error).name === "LimitExceededException")
          (e as Error).name = "LimitExceeded";
        throw e;
      }
    },
    { step: "deserialize", priority: "high", name: "iamwardenQuotaErrorIsFinal" },
  );
  return command;
}
