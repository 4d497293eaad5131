import type { AccountClients } from "../../cloud/aws/account-clients.js";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { Config } from "../../config/schema.js";
import { planReconcile } from "../../engine/reconcile.js";
import {
  accountsToCount,
  type BlastBlock,
  type DueItem,
  dueFindings,
  limitBlastRadius,
  type NotDue,
  onHold,
} from "../../engine/remediation.js";
import type { Router } from "../../engine/routing.js";
import type { Store } from "../../store/store.js";
import type { Confirm } from "./confirm.js";
import { markRemediated } from "./finding-changes.js";
import { countActiveKeys } from "./iam-state.js";
import { RECOVER_AFTER_MS, type Recovery, recoverPending } from "./recover.js";
import { remediationAction, scheduledChecks } from "./registry.js";
import type { ActionContext, Applied, Planned, VerifySettings } from "./types.js";

// One remediation run: which findings are due, the blast-radius limit, a plan read from each
// account, then (with apply) each change confirmed, made, verified and recorded.

export interface RemediationDeps {
  store: Store;
  config: Config;
  now: Date;
  runId: string;
  actor: string;
  route: Router;
  /** Clients for one account; throws for an account that cannot be reached. */
  clientsFor(account: string): Promise<AccountClients>;
  verify?: VerifySettings | undefined;
  /** Asked before each change; without it, changes are made without asking (--yes). */
  confirm?: Confirm | undefined;
  /** Told of each item as its outcome is known (progress output). */
  onItem?: ((r: ItemResult) => void) | undefined;
}

export interface RemediationOptions {
  checks?: string[] | undefined;
  accounts?: string[] | undefined;
  apply: boolean;
}

export type ItemStatus =
  | "planned"
  | "noop"
  | "blocked"
  | "applied"
  | "failed"
  | "declined"
  | "not-attempted"
  | "error";

export interface ItemResult {
  item: DueItem;
  status: ItemStatus;
  message: string;
  planned?: Planned | undefined;
  applied?: Applied | undefined;
}

export interface RemediationReport {
  runId: string;
  applied: boolean;
  items: ItemResult[];
  notDue: NotDue[];
  blocked: BlastBlock[];
  accountErrors: { account: string; error: string }[];
  /** Why the run stopped before the end: the user quit. */
  stopped?: "quit" | undefined;
  /** Audit entries an interrupted run left pending, completed by this run (--apply only). */
  recovered?: Recovery[] | undefined;
}

const actionFor = (i: DueItem) => remediationAction(i.action);
/** Every finding one item answers (a key's age and inactivity findings). */
export const findingsOf = (i: DueItem) => [i.finding, ...(i.also ?? [])];

export function countByStatus(items: ItemResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of items) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

/** Writes one blast-radius finding per blocked account, as an event finding, so it is notified. */
async function reconcileBlocks(deps: RemediationDeps, blocked: BlastBlock[]): Promise<void> {
  for (const b of blocked) {
    await deps.store.reconcile({ account: b.account, checks: ["blast-radius"] }, (existing) =>
      planReconcile(existing, {
        account: b.account,
        checks: ["blast-radius"],
        kind: "event",
        complete: false,
        candidates: [b.candidate],
        suppress: () => undefined,
        route: deps.route,
        renotifyHours: deps.config.notify.slack?.renotifyHours ?? 24,
        now: deps.now,
        runId: deps.runId,
      }),
    );
  }
}

export async function runRemediation(
  deps: RemediationDeps,
  opts: RemediationOptions,
): Promise<RemediationReport> {
  await deps.store.startRun({
    id: deps.runId,
    command: opts.apply ? "remediate --apply" : "remediate",
    actor: deps.actor,
    startedAt: deps.now.toISOString(),
  });
  let report: RemediationReport | undefined;
  try {
    report = await remediate(deps, opts);
    return report;
  } finally {
    await deps.store.finishRun(
      deps.runId,
      new Date().toISOString(),
      report
        ? {
            applied: opts.apply,
            ...countByStatus(report.items),
            blockedAccounts: report.blocked.map((b) => b.account),
            accountErrors: report.accountErrors.length,
            ...(report.stopped ? { stopped: report.stopped } : {}),
            ...(report.recovered?.length ? { recovered: report.recovered.length } : {}),
          }
        : { error: "the run stopped on an unexpected error" },
    );
  }
}

async function remediate(deps: RemediationDeps, opts: RemediationOptions): Promise<RemediationReport> {
  const { store, config, now } = deps;
  // Before anything new: complete what an interrupted run left pending (a plan changes nothing).
  const recovered = opts.apply
    ? await recoverPending({ ...deps, config }, { accounts: opts.accounts })
    : undefined;
  const remediable = scheduledChecks();
  const checks = opts.checks?.length ? remediable.filter((c) => opts.checks!.includes(c)) : remediable;
  const findings = checks.length
    ? await store.listFindings({
        status: ["open", "remediated", "suppressed"],
        check: checks,
        account: opts.accounts,
      })
    : [];
  // Suppressed findings matter only when a rollback put them on hold: the plan says so.
  const inScope = findings.filter((f) => f.status !== "suppressed" || onHold(f, now));
  const { items, notDue } = dueFindings(inScope, config.remediation, now);

  const report: RemediationReport = {
    runId: deps.runId,
    applied: opts.apply,
    items: [],
    notDue,
    blocked: [],
    accountErrors: [],
    ...(recovered ? { recovered } : {}),
  };
  const clients = new Map<string, AccountClients>();
  const unreachable = new Set<string>();
  const clientOf = async (account: string) => {
    if (unreachable.has(account)) return undefined;
    const known = clients.get(account);
    if (known) return known;
    try {
      const c = await deps.clientsFor(account);
      clients.set(account, c);
      return c;
    } catch (e) {
      unreachable.add(account);
      report.accountErrors.push({ account, error: describeAwsError(e) });
      return undefined;
    }
  };

  // The share limit needs each account's active key count, read live.
  const activeKeys = new Map<string, number>();
  for (const account of accountsToCount(items)) {
    const c = await clientOf(account);
    if (!c) continue;
    try {
      activeKeys.set(account, await countActiveKeys(c.iam, config.aws));
    } catch (e) {
      unreachable.add(account);
      report.accountErrors.push({ account, error: `cannot count active keys: ${describeAwsError(e)}` });
    }
  }
  // A stable, readable order for the plan and the questions: account, user, key.
  const reachable = items
    .filter((i) => !unreachable.has(i.finding.account))
    .sort((x, y) =>
      `${x.finding.account}\0${x.user}\0${x.keyId}`.localeCompare(
        `${y.finding.account}\0${y.user}\0${y.keyId}`,
      ),
    );
  const { due, blocked } = limitBlastRadius(reachable, config.remediation, activeKeys);
  report.blocked = blocked;

  const ctxFor = (c: AccountClients, i: DueItem): ActionContext => ({
    iam: c.iam,
    partition: c.partition,
    store,
    account: i.finding.account,
    runId: deps.runId,
    actor: deps.actor,
    now,
    findingId: i.finding.id,
    verify: deps.verify,
    config,
  });
  const push = (r: ItemResult) => {
    report.items.push(r);
    deps.onItem?.(r);
  };

  // Changes still pending in the audit log (too recent to be a crash's): another run is making
  // them now, and its outcome is not known yet.
  const inFlight = new Map<string, number>();
  if (due.length)
    for (const e of await store.listAudit({ since: new Date(Date.now() - RECOVER_AFTER_MS).toISOString() }))
      if (e.result === "pending" && e.findingId) inFlight.set(e.findingId, e.id);

  // Plan: read each key's current state; nothing changes.
  const plans: { item: DueItem; planned: Planned; clients: AccountClients }[] = [];
  for (const item of due) {
    const busy = findingsOf(item)
      .map((f) => inFlight.get(f.id))
      .find((id) => id !== undefined);
    if (busy !== undefined) {
      push({
        item,
        status: "blocked",
        message: `another run is changing this (audit entry ${busy} is pending); left to it`,
      });
      continue;
    }
    const c = await clientOf(item.finding.account);
    if (!c) {
      push({ item, status: "error", message: "the account cannot be reached" });
      continue;
    }
    try {
      const action = actionFor(item);
      const target = action.target(item.finding);
      if (target === undefined) {
        push({ item, status: "error", message: `the finding does not say what ${action.name} acts on` });
        continue;
      }
      const planned = await action.plan(ctxFor(c, item), target);
      if (planned.noop) push({ item, status: "noop", message: planned.noop, planned });
      else if (planned.blocked) push({ item, status: "blocked", message: planned.blocked, planned });
      else if (!opts.apply) push({ item, status: "planned", message: planned.changes.join("; "), planned });
      else plans.push({ item, planned, clients: c });
    } catch (e) {
      push({ item, status: "error", message: `cannot read the key: ${describeAwsError(e)}` });
    }
  }

  if (opts.apply) {
    await reconcileBlocks(deps, blocked);
    let all = !deps.confirm;
    const failedAccounts = new Set<string>();
    for (const { item, planned, clients: c } of plans) {
      if (report.stopped) {
        push({ item, status: "not-attempted", message: "not attempted: the run was stopped", planned });
        continue;
      }
      // After a failure in an account, the rest of its batch waits for a person to look.
      if (failedAccounts.has(item.finding.account)) {
        push({
          item,
          status: "not-attempted",
          message: "not attempted: an earlier change in this account failed",
          planned,
        });
        continue;
      }
      if (!all) {
        const answer = await deps.confirm!(
          `${planned.changes.join("; ")} — account ${item.finding.account}, finding ${findingsOf(item)
            .map((f) => f.id)
            .join(" and ")}?`,
        );
        if (answer === "quit") {
          report.stopped = "quit";
          push({ item, status: "not-attempted", message: "not attempted: the run was stopped", planned });
          continue;
        }
        if (answer === "no") {
          push({ item, status: "declined", message: "declined", planned });
          continue;
        }
        if (answer === "all") all = true;
      }
      const action = actionFor(item);
      const applied = await action.apply(ctxFor(c, item), planned);
      if (applied.status === "applied") {
        for (const f of findingsOf(item))
          await markRemediated(
            { store, route: deps.route, now, runId: deps.runId, actor: deps.actor },
            f.id,
            {
              action: action.name,
              auditId: applied.auditIds.at(-1)!,
              description: Object.values(action.completes)[0] ?? action.name,
            },
          );
      }
      if (applied.status === "failed") failedAccounts.add(item.finding.account);
      push({ item, status: applied.status, message: applied.message, planned: applied.planned, applied });
    }
  }
  return report;
}
