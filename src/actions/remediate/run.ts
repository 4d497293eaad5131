import type { AccountClients } from "../../cloud/aws/account-clients.js";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { Config } from "../../config/schema.js";
import { planReconcile } from "../../engine/reconcile.js";
import {
  accountsToCount,
  type BlastBlock,
  type DueItem,
  dueFindings,
  KEY_CHECKS,
  limitBlastRadius,
  type NotDue,
} from "../../engine/remediation.js";
import type { Router } from "../../engine/routing.js";
import type { Store } from "../../store/store.js";
import type { Confirm } from "./confirm.js";
import { deactivateKey, deleteKey, type KeyRef } from "./deactivate-key.js";
import { markRemediated } from "./finding-changes.js";
import { countActiveKeys } from "./iam-state.js";
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
}

const actionFor = (i: DueItem) => (i.action === "delete-key" ? deleteKey : deactivateKey);
const keyRef = (i: DueItem): KeyRef => ({ user: i.user, keyId: i.keyId });

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
          }
        : { error: "the run stopped on an unexpected error" },
    );
  }
}

async function remediate(deps: RemediationDeps, opts: RemediationOptions): Promise<RemediationReport> {
  const { store, config, now } = deps;
  const checks = opts.checks?.length ? KEY_CHECKS.filter((c) => opts.checks!.includes(c)) : [...KEY_CHECKS];
  const findings = checks.length
    ? await store.listFindings({ status: ["open", "remediated"], check: checks, account: opts.accounts })
    : [];
  const { items, notDue } = dueFindings(findings, config.remediation, now);

  const report: RemediationReport = {
    runId: deps.runId,
    applied: opts.apply,
    items: [],
    notDue,
    blocked: [],
    accountErrors: [],
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
  });
  const push = (r: ItemResult) => {
    report.items.push(r);
    deps.onItem?.(r);
  };

  // Plan: read each key's current state; nothing changes.
  const plans: { item: DueItem; planned: Planned; clients: AccountClients }[] = [];
  for (const item of due) {
    const c = await clientOf(item.finding.account);
    if (!c) {
      push({ item, status: "error", message: "the account cannot be reached" });
      continue;
    }
    try {
      const planned = await actionFor(item).plan(ctxFor(c, item), keyRef(item));
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
          `${planned.changes.join("; ")} — account ${item.finding.account}, finding ${item.finding.id}?`,
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
      const applied = await actionFor(item).apply(ctxFor(c, item), keyRef(item));
      if (applied.status === "applied") {
        await markRemediated(
          { store, route: deps.route, now, runId: deps.runId, actor: deps.actor },
          item.finding.id,
          {
            action: item.action,
            auditId: applied.auditIds.at(-1)!,
            description: item.action === "delete-key" ? "access key deleted" : "access key deactivated",
          },
        );
      }
      if (applied.status === "failed") failedAccounts.add(item.finding.account);
      push({ item, status: applied.status, message: applied.message, planned: applied.planned, applied });
    }
  }
  return report;
}
