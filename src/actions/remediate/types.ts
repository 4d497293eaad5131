import type { IAMClient } from "@aws-sdk/client-iam";
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
export type RollbackStatus = "rolled-back" | "nothing-to-undo" | "kept" | "impossible" | "failed";

export interface RollbackResult {
  entryId: number;
  action: string;
  target: string;
  status: RollbackStatus;
  message: string;
  auditId?: number | undefined;
}
