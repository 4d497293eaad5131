import type { AccountClients } from "../../cloud/aws/account-clients.js";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { Config } from "../../config/schema.js";
import type { RemediationMark } from "../../engine/remediation.js";
import type { Router } from "../../engine/routing.js";
import type { AuditEntry } from "../../model/audit.js";
import type { Store } from "../../store/store.js";
import { markRemediated } from "./finding-changes.js";
import { actionOfAudit } from "./registry.js";
import { entryContext, type VerifySettings } from "./types.js";

// A process killed between an IAM call and its audit record leaves the entry `pending`: the call
// may or may not have happened. The next run reads the account, completes the entry with what it
// finds, and records the remediation on the finding when the change is there, so that a later
// scan does not resolve it as "no longer seen" and the change vanish from its history.

/**
 * Entries younger than this may belong to a run still in flight (a call, its read-back and the
 * SDK's retries take well under this); they are left to it.
 */
export const RECOVER_AFTER_MS = 15 * 60_000;

export interface RecoverDeps {
  store: Store;
  route: Router;
  /** The run's clock (finding changes). */
  now: Date;
  runId: string;
  actor: string;
  config?: Config | undefined;
  clientsFor(account: string): Promise<AccountClients>;
  verify?: VerifySettings | undefined;
  /** The real time, to judge an entry's age; the audit log is in real time whatever --now says. */
  wallNow?: Date | undefined;
}

export interface Recovery {
  entryId: number;
  action: string;
  account: string;
  target: string;
  findingId?: string | undefined;
  /** What the entry was completed with; pending: it could not be read and stays for the next run. */
  result: "applied" | "rolled-back" | "failed" | "pending";
  message: string;
  /** The finding was marked remediated. */
  remediated?: boolean | undefined;
}

/** Pending entries old enough to be orphans of a crashed run. */
export async function orphanedEntries(
  store: Store,
  opts: { accounts?: string[] | undefined; wallNow?: Date | undefined } = {},
): Promise<AuditEntry[]> {
  const cutoff = (opts.wallNow ?? new Date()).getTime() - RECOVER_AFTER_MS;
  const all = opts.accounts?.length
    ? (await Promise.all(opts.accounts.map((account) => store.listAudit({ account })))).flat()
    : await store.listAudit();
  return all.filter((e) => e.result === "pending" && Date.parse(e.at) <= cutoff).sort((a, b) => a.id - b.id);
}

/** Completes orphaned pending entries from the account's current state, oldest first. */
export async function recoverPending(
  deps: RecoverDeps,
  opts: { accounts?: string[] | undefined } = {},
): Promise<Recovery[]> {
  const out: Recovery[] = [];
  for (const entry of await orphanedEntries(deps.store, { ...opts, wallNow: deps.wallNow })) {
    const base = {
      entryId: entry.id,
      action: entry.action,
      account: entry.account,
      target: entry.target,
      findingId: entry.findingId,
    };
    const action = actionOfAudit(entry.action);
    if (!action) {
      out.push({ ...base, result: "pending", message: `no remediation action writes ${entry.action}` });
      continue;
    }
    const isRollback = entry.action.startsWith("rollback:");
    let made: boolean;
    let observed: Record<string, unknown>;
    try {
      ({ made, observed } = await action.recover(await entryContext(deps, entry), entry));
    } catch (e) {
      out.push({ ...base, result: "pending", message: `cannot read the account: ${describeAwsError(e)}` });
      continue;
    }
    const result = made ? (isRollback ? "rolled-back" : "applied") : "failed";
    await deps.store.finishAudit(
      entry.id,
      result,
      { recovered: true, recoveredBy: deps.runId, made, ...observed },
      new Date().toISOString(),
    );
    const r: Recovery = {
      ...base,
      result,
      message: made
        ? `interrupted run ${entry.runId}: the change is in the account; recorded as ${result}`
        : `interrupted run ${entry.runId}: the change is not in the account; recorded as failed`,
    };
    const description = action.completes[entry.action];
    if (made && !isRollback && description && entry.findingId) {
      const f = await deps.store.getFinding(entry.findingId);
      const mark = f?.details.remediation as RemediationMark | undefined;
      const due = f && (f.status !== "remediated" || (action.name === "delete-key" && !mark?.deletedAt));
      if (due) {
        await markRemediated(deps, entry.findingId, {
          action: action.name,
          auditId: entry.id,
          description: `${description} (completed after an interrupted run ${entry.runId})`,
        });
        r.remediated = true;
      }
    }
    out.push(r);
  }
  return out;
}
