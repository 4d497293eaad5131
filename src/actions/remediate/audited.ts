import { describeAwsError } from "../../cloud/aws/errors.js";
import type { AuditEntry } from "../../model/audit.js";
import { type ActionContext, DEFAULT_VERIFY, type VerifySettings } from "./types.js";

/** One change to make: what it is about, the state before, and the API call it will make. */
export interface Change<T> {
  action: string;
  target: string;
  before: Record<string, unknown>;
  intent: Record<string, unknown>;
  /** Makes the change; its value goes to `verify`. */
  call: () => Promise<T>;
  /** Reads back; returns what was observed and whether it matches the intent. */
  verify: (callResult: T) => Promise<{ ok: boolean; observed: Record<string, unknown> }>;
  /** Result recorded on success (default applied); rollbacks record rolled-back. */
  success?: Extract<AuditEntry["result"], "applied" | "rolled-back">;
}

export interface ChangeOutcome<T> {
  auditId: number;
  ok: boolean;
  verified: boolean;
  value?: T | undefined;
  error?: unknown;
  observed?: Record<string, unknown> | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads until `check` says the change is visible, backing off between stale reads. */
export async function readBack(
  read: () => Promise<{ ok: boolean; observed: Record<string, unknown> }>,
  settings: VerifySettings = DEFAULT_VERIFY,
): Promise<{ ok: boolean; observed: Record<string, unknown>; reads: number }> {
  let delay = settings.delayMs;
  let last = { ok: false, observed: {} as Record<string, unknown> };
  for (let i = 1; i <= settings.attempts; i++) {
    last = await read();
    if (last.ok) return { ...last, reads: i };
    if (i < settings.attempts) await sleep(delay);
    delay *= 2;
  }
  return { ...last, reads: settings.attempts };
}

/**
 * The only way remediation changes an account: the intent is written to the audit log before
 * the API call, and the outcome after it, once. A failed call is recorded and returned, not
 * thrown, so that a batch knows exactly what was and was not done.
 */
export async function audited<T>(
  // Only what the audit log needs: changes outside AWS IAM (IBM Cloud settings) are audited too.
  ctx: Pick<ActionContext, "store" | "runId" | "actor" | "findingId" | "account" | "verify">,
  change: Change<T>,
): Promise<ChangeOutcome<T>> {
  const auditId = await ctx.store.appendAudit({
    runId: ctx.runId,
    // The audit log records when things really happened, whatever clock the run uses (--now).
    at: new Date().toISOString(),
    actor: ctx.actor,
    findingId: ctx.findingId,
    action: change.action,
    account: ctx.account,
    target: change.target,
    before: change.before,
    intent: change.intent,
  });
  let value: T;
  try {
    value = await change.call();
  } catch (error) {
    await ctx.store.finishAudit(
      auditId,
      "failed",
      { error: describeAwsError(error) },
      new Date().toISOString(),
    );
    return { auditId, ok: false, verified: false, error };
  }
  let check: { ok: boolean; observed: Record<string, unknown>; reads?: number };
  try {
    check = await readBack(() => change.verify(value), ctx.verify);
  } catch (error) {
    check = { ok: false, observed: { readError: describeAwsError(error) } };
  }
  // The call was accepted: the change is applied even if the read-back does not show it yet.
  await ctx.store.finishAudit(
    auditId,
    change.success ?? "applied",
    { verified: check.ok, ...check.observed },
    new Date().toISOString(),
  );
  return { auditId, ok: true, verified: check.ok, value, observed: check.observed };
}
