import type { IAMClient } from "@aws-sdk/client-iam";
import type { AccountClients } from "../../cloud/aws/account-clients.js";
import type { Config } from "../../config/schema.js";
import type { AuditEntry } from "../../model/audit.js";
import type { Finding } from "../../model/finding.js";
import type { Store } from "../../store/store.js";

/** IAM is eventually consistent: a read right after a write may still show the old state. */
export interface VerifySettings {
  attempts: number;
  /** First wait; doubled after each stale read. */
  delayMs: number;
}

export const DEFAULT_VERIFY: VerifySettings = { attempts: 6, delayMs: 250 };

/** What an action needs to look at and change one account. */
export interface ActionContext {
  iam: IAMClient;
  store: Store;
  account: string;
  /** AWS partition of the account's ARNs (aws, aws-us-gov, aws-cn). */
  partition?: string | undefined;
  runId: string;
  actor: string;
  now: Date;
  findingId?: string | undefined;
  verify?: VerifySettings | undefined;
  /** The loaded config, for actions whose guards are configured (quarantine-user). */
  config?: Config | undefined;
}

/** What a run that acts on audit entries (rollback, recovery) holds for every account. */
export interface EntryRunDeps {
  store: Store;
  runId: string;
  actor: string;
  now: Date;
  clientsFor(account: string): Promise<AccountClients>;
  verify?: VerifySettings | undefined;
  config?: Config | undefined;
}

/** The context an action acts on an audit entry's account in. */
export async function entryContext(deps: EntryRunDeps, entry: AuditEntry): Promise<ActionContext> {
  const c = await deps.clientsFor(entry.account);
  return {
    iam: c.iam,
    partition: c.partition,
    store: deps.store,
    account: entry.account,
    runId: deps.runId,
    actor: deps.actor,
    now: deps.now,
    findingId: entry.findingId,
    verify: deps.verify,
    config: deps.config,
  };
}

/** What an action would do, read from the account's current state; nothing is changed. */
export interface Planned {
  action: string;
  account: string;
  /** Key id, user name… */
  target: string;
  user?: string | undefined;
  findingId?: string | undefined;
  /** The state read now. */
  before: Record<string, unknown>;
  /** Changes apply would make, in order; empty when there is nothing to do or it is blocked. */
  changes: string[];
  /** Why nothing needs doing (already done, gone). */
  noop?: string | undefined;
  /** Why it must not be done (a guard), and the finding must be raised. */
  blocked?: string | undefined;
  /** The guard could not be evaluated (e.g. group membership unreadable). */
  raiseToCritical?: boolean | undefined;
}

export type ApplyStatus = "applied" | "noop" | "blocked" | "failed";

export interface Applied {
  planned: Planned;
  status: ApplyStatus;
  /** Audit entries written, in order. */
  auditIds: number[];
  /** The read-back matched the intent (false: accepted by AWS but not yet visible). */
  verified?: boolean | undefined;
  message: string;
}

/** kept: left in place on purpose (a quarantine policy other users still need). */
/** declined / not-attempted: a person said no, or quit, before it was tried. */
export type RollbackStatus =
  | "rolled-back"
  | "nothing-to-undo"
  | "kept"
  | "impossible"
  | "failed"
  | "declined"
  | "not-attempted";

export interface RollbackResult {
  entryId: number;
  action: string;
  target: string;
  status: RollbackStatus;
  message: string;
  auditId?: number | undefined;
}

/** What a pending audit entry's change turned out to be, read from the account after a crash. */
export interface Recovered {
  /** The change the entry announced is in the account. */
  made: boolean;
  observed: Record<string, unknown>;
}

/**
 * One remediation action, everything about it in one object: which findings it answers, how it
 * plans, applies and undoes a change, and the IAM permissions it needs (data, for policies and
 * docs). Methods, not function properties: an action over its own target type still fits the
 * registry's list.
 */
export interface RemediationAction<T = unknown> {
  name: string;
  provider: "aws";
  /** Checks whose findings it may answer. */
  checks: readonly string[];
  /** Picked up by scheduled remediation runs (false: driven by a hook or a command). */
  scheduled: boolean;
  /** IAM actions it calls, reads included. */
  permissions: readonly string[];
  /** Audit-log action names it writes; rollback and crash recovery dispatch on them. */
  auditActions: readonly string[];
  /** Audit actions whose success means the finding is remediated, and how the history says so. */
  completes: Readonly<Record<string, string>>;
  appliesTo(f: Finding): boolean;
  /** What the finding asks it to act on, or undefined when the finding does not say. */
  target(f: Finding): T | undefined;
  /** The target a plan was made for. */
  targetOf(planned: Planned): T;
  plan(ctx: ActionContext, target: T): Promise<Planned>;
  /** Reads the state again, then makes the planned change, audit intent first. */
  apply(ctx: ActionContext, planned: Planned): Promise<Applied>;
  rollback(ctx: ActionContext, entry: AuditEntry): Promise<RollbackResult>;
  /** What rolling this entry back would do, in one line, without reading the account. */
  describeRollback(entry: AuditEntry): string;
  /** Whether a pending entry's change (forward or rollback) is in the account now. */
  recover(ctx: ActionContext, entry: AuditEntry): Promise<Recovered>;
}

/** The result of undoing one audit entry, in its words; `status` and `message` say how it went. */
export const rollbackResultOf =
  (entry: Pick<AuditEntry, "id" | "action" | "target">) =>
  (status: RollbackStatus, message: string, auditId?: number): RollbackResult => ({
    entryId: entry.id,
    action: entry.action,
    target: entry.target,
    status,
    message,
    auditId,
  });
