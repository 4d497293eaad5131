import { containsCidr } from "cidr-tools";
import { type Allowlist, contains, describeOpen, mergeAllowlists } from "../../allowlist/allowlist.js";
import type { AllowlistApplySettings } from "../../allowlist/apply-config.js";
import { allowlistPolicies } from "../../allowlist/aws-policy.js";
import { allowlistCidrs } from "../../allowlist/cidr.js";
import { parseIp } from "../../allowlist/ip.js";
import { type AllowlistSet, listNamesFor } from "../../allowlist/set.js";
import { judgeAllowlistDrift } from "../../checks/allowlist-drift.js";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { IbmIamClient } from "../../cloud/ibm/iam.js";
import { emptySummary, type PlanSummary, planReconcile } from "../../engine/reconcile.js";
import type { Router } from "../../engine/routing.js";
import { UserError } from "../../errors.js";
import type { AuditEntry } from "../../model/audit.js";
import type { Store } from "../../store/store.js";
import {
  type AwsAllowlistContext,
  type AwsAllowlistPlan,
  applyAwsAllowlist,
  planAwsAllowlist,
  rollbackAwsEntry,
} from "./allowlist-aws.js";
import {
  applyIbmAllowlist,
  type IbmAllowlistPlan,
  planIbmAllowlist,
  rollbackIbmEntry,
} from "./allowlist-ibm.js";
import type { Confirm } from "./confirm.js";
import type { RollbackResult, VerifySettings } from "./types.js";

// allowlist plan / apply / rollback over accounts: which lists each account gets (checks.source-ip),
// the guards that refuse a list before anything is called, and the audited changes per provider.

export type Provider = "aws" | "ibm";

export interface AllowlistTarget {
  provider: Provider;
  account: string;
  lists: string[];
  merged: Allowlist;
  cidrs: string[];
}

export interface AllowlistDeps {
  settings: AllowlistApplySettings;
  set: AllowlistSet;
  store: Store;
  runId: string;
  actor: string;
  /** AWS accounts iamwarden knows (config.accounts, resolved). */
  awsAccounts: string[];
  awsClients: (
    account: string,
  ) => Promise<{ iam: AwsAllowlistContext["iam"]; partition?: string | undefined }>;
  ibm?: IbmIamClient | undefined;
  /** The address iamwarden calls from, when known. */
  selfIp?: string | undefined;
  verify?: VerifySettings | undefined;
}

export interface AccountPlan {
  provider: Provider;
  account: string;
  lists: string[];
  added: string[];
  removed: string[];
  changes: string[];
  /** Why this account's list is not applied (a guard, a missing principal, an unreadable account). */
  refused?: string | undefined;
  /** A guard that --i-know-this-locks-me-out may override. */
  lockout?: string | undefined;
  detail?: AwsAllowlistPlan | IbmAllowlistPlan | undefined;
}

/** Accounts with their lists: AWS accounts from config, IBM accounts from allowlists.apply.ibm. */
export function allowlistTargets(
  deps: Pick<AllowlistDeps, "settings" | "set" | "awsAccounts">,
  only?: string[],
): AllowlistTarget[] {
  const out: AllowlistTarget[] = [];
  const add = (provider: Provider, account: string) => {
    if (deps.settings.exclude.includes(account) || (only?.length && !only.includes(account))) return;
    const lists = listNamesFor(deps.set, account);
    const merged = mergeAllowlists(
      lists.join("+"),
      lists.map((n) => deps.set.lists.get(n)).filter((l): l is Allowlist => Boolean(l)),
    );
    const c = allowlistCidrs(merged);
    out.push({ provider, account, lists, merged, cidrs: [...c.v4, ...c.v6] });
  };
  if (deps.settings.aws?.enabled) for (const a of deps.awsAccounts) add("aws", a);
  if (deps.settings.ibm?.enabled) for (const a of deps.settings.ibm.accounts) add("ibm", a);
  for (const id of only ?? [])
    if (!out.some((t) => t.account === id) && !deps.settings.exclude.includes(id))
      throw new UserError(`account ${id}: not among the accounts allowlists are applied to`);
  return out;
}

/**
 * Reasons to refuse a list before any call. `refused` is final; `lockout` (iamwarden's own
 * address or a mustAllow address outside the list) yields to --i-know-this-locks-me-out.
 */
export function guard(
  t: AllowlistTarget,
  s: AllowlistApplySettings,
  selfIp: string | undefined,
): { refused?: string; lockout?: string } {
  if (!t.lists.length)
    return { refused: "no allowlist is assigned to this account (checks.source-ip.default / accounts)" };
  if (!t.cidrs.length)
    return {
      refused: `the lists ${t.lists.join(", ")} hold no address: applying them would lock everyone out`,
    };
  const open = describeOpen(t.merged);
  if (open.length && !s.allowOpen)
    return { refused: `${open.join("; ")} (set allowlists.apply.allowOpen to apply it anyway)` };
  const missing: string[] = [];
  if (!selfIp) missing.push("iamwarden's own address is unknown (set allowlists.apply.selfIp or selfIpUrl)");
  else if (!contains(t.merged, selfIp)) missing.push(`iamwarden's own address ${selfIp} is not in the list`);
  for (const m of s.mustAllow) {
    const inside = parseIp(m) ? contains(t.merged, m) : safeContains(t.cidrs, m);
    if (!inside) missing.push(`the mustAllow address ${m} is not in the list`);
  }
  return missing.length ? { lockout: missing.join("; ") } : {};
}

function safeContains(cidrs: string[], net: string): boolean {
  try {
    return containsCidr(cidrs, net);
  } catch {
    return false;
  }
}

const diff = (from: string[], to: string[]) => ({
  added: to.filter((c) => !from.includes(c)),
  removed: from.filter((c) => !to.includes(c)),
});

/** Reads every target and says what apply would change; nothing is changed. */
export async function planAllowlists(
  deps: AllowlistDeps,
  targets: AllowlistTarget[],
): Promise<AccountPlan[]> {
  const plans: AccountPlan[] = [];
  for (const t of targets) {
    const base: AccountPlan = {
      provider: t.provider,
      account: t.account,
      lists: t.lists,
      added: [],
      removed: [],
      changes: [],
    };
    const g = guard(t, deps.settings, deps.selfIp);
    if (g.refused) {
      plans.push({ ...base, refused: g.refused });
      continue;
    }
    try {
      if (t.provider === "aws") {
        const s = deps.settings.aws!;
        // Built before any call: a list that cannot fit is an error here.
        const parts = allowlistPolicies(allowlistCidrs(t.merged), s);
        const c = await deps.awsClients(t.account);
        const detail = await planAwsAllowlist(
          { ...deps, iam: c.iam, partition: c.partition, account: t.account },
          parts,
          s,
          t.cidrs,
        );
        plans.push({
          ...base,
          ...diff(detail.currentCidrs, t.cidrs),
          changes: detail.changes,
          refused: detail.blocked,
          lockout: g.lockout,
          detail,
        });
      } else {
        if (!deps.ibm) throw new UserError("allowlists.apply.ibm is not configured");
        const detail = await planIbmAllowlist({ ...deps, ibm: deps.ibm, account: t.account }, t.cidrs);
        plans.push({
          ...base,
          ...diff(detail.currentCidrs, t.cidrs),
          changes: detail.changes,
          lockout: g.lockout,
          detail,
        });
      }
    } catch (e) {
      if (e instanceof UserError) plans.push({ ...base, refused: e.message });
      else plans.push({ ...base, refused: `cannot read the account: ${describeAwsError(e)}` });
    }
  }
  return plans;
}

export type ApplyOutcome = "applied" | "noop" | "refused" | "skipped" | "failed";

export interface AccountApplied {
  plan: AccountPlan;
  outcome: ApplyOutcome;
  message: string;
  auditIds: number[];
}

/** Applies the plans: refused ones never, lockouts only when overridden, each confirmed unless `yes`. */
export async function applyAllowlists(
  deps: AllowlistDeps,
  plans: AccountPlan[],
  opts: { confirm?: Confirm | undefined; overrideLockout: boolean },
): Promise<AccountApplied[]> {
  const out: AccountApplied[] = [];
  let all = !opts.confirm;
  let quit = false;
  for (const plan of plans) {
    const done = (outcome: ApplyOutcome, message: string, auditIds: number[] = []) =>
      out.push({ plan, outcome, message, auditIds });
    if (plan.refused) {
      done("refused", plan.refused);
      continue;
    }
    if (!plan.changes.length) {
      done("noop", "already applied");
      continue;
    }
    if (plan.lockout && !opts.overrideLockout) {
      done("refused", `${plan.lockout} (--i-know-this-locks-me-out to apply anyway)`);
      continue;
    }
    if (quit) {
      done("skipped", "not confirmed");
      continue;
    }
    if (!all && opts.confirm) {
      const a = await opts.confirm(
        `apply the allowlist to ${plan.provider} account ${plan.account} (${plan.changes.length} changes)?`,
      );
      if (a === "quit") quit = true;
      if (a === "all") all = true;
      if (a === "no" || a === "quit") {
        done("skipped", "not confirmed");
        continue;
      }
    }
    try {
      const r =
        plan.provider === "aws"
          ? await (async () => {
              const c = await deps.awsClients(plan.account);
              return applyAwsAllowlist(
                { ...deps, iam: c.iam, partition: c.partition, account: plan.account },
                plan.detail as AwsAllowlistPlan,
                deps.settings.aws!,
              );
            })()
          : await applyIbmAllowlist(
              { ...deps, ibm: deps.ibm!, account: plan.account },
              plan.detail as IbmAllowlistPlan,
            );
      if (r.failed) done("failed", r.failed, r.auditIds);
      else done("applied", `${r.auditIds.length} changes`, r.auditIds);
    } catch (e) {
      done("failed", describeAwsError(e));
    }
  }
  return out;
}

const FORWARD = new Set([
  "allowlist-create-policy",
  "allowlist-set-policy-version",
  "allowlist-attach-policy",
  "allowlist-delete-policy-version",
  "allowlist-ibm-set",
]);

/** Entries of a run still to undo, newest first (applied, or pending after a crash; not undone yet). */
export async function allowlistUndoable(store: Store, runId: string): Promise<AuditEntry[]> {
  const entries = (await store.listAudit({ runId })).filter((e) => FORWARD.has(e.action));
  const undone = new Set<number>();
  for (const account of new Set(entries.map((e) => e.account)))
    for (const e of await store.listAudit({ account }))
      if (e.result === "rolled-back" && typeof e.intent.rollbackOf === "number")
        undone.add(e.intent.rollbackOf);
  return entries
    .filter((e) => (e.result === "applied" || e.result === "pending") && !undone.has(e.id))
    .sort((a, b) => b.id - a.id);
}

// SINGLE CALL SITE for undoing allowlist changes: until the remediation-action registry dispatches
// rollback by audit action, allowlist entries are undone here (and `iamwarden rollback` leaves
// them to `allowlist rollback`). Moving this into the registry is one entry per action above.
export async function rollbackAllowlists(
  deps: AllowlistDeps,
  entries: AuditEntry[],
): Promise<RollbackResult[]> {
  const results: RollbackResult[] = [];
  for (const entry of entries) {
    try {
      if (entry.action === "allowlist-ibm-set") {
        if (!deps.ibm) throw new UserError("allowlists.apply.ibm is not configured");
        results.push(await rollbackIbmEntry({ ...deps, ibm: deps.ibm, account: entry.account }, entry));
      } else {
        const c = await deps.awsClients(entry.account);
        results.push(
          await rollbackAwsEntry(
            { ...deps, iam: c.iam, partition: c.partition, account: entry.account },
            entry,
          ),
        );
      }
    } catch (e) {
      results.push({
        entryId: entry.id,
        action: entry.action,
        target: entry.target,
        status: "failed",
        message: describeAwsError(e),
      });
    }
  }
  return results;
}

/**
 * The allowlist-drift check over what a plan read: findings open for accounts that differ and
 * resolve for accounts that match. Accounts that could not be read are left as they are.
 */
export async function reconcileDrift(
  store: Store,
  plans: AccountPlan[],
  opts: { route: Router; now: Date; runId: string },
): Promise<PlanSummary> {
  const total = emptySummary();
  for (const p of plans) {
    if (!p.detail) continue;
    const candidates = judgeAllowlistDrift([p], {}, opts.now);
    const scope = { account: p.account, checks: ["allowlist-drift"] };
    const r = await store.reconcile(scope, (existing) =>
      planReconcile(
        existing.filter((f) => f.resource === `${p.provider}:allowlist`),
        {
          ...scope,
          kind: "state",
          complete: true,
          candidates,
          suppress: () => undefined,
          renotifyHours: 24,
          ...opts,
        },
      ),
    );
    const s = (r as { summary?: PlanSummary }).summary ?? emptySummary();
    for (const k of Object.keys(total) as (keyof PlanSummary)[]) total[k] += s[k];
  }
  return total;
}
