import type { AuditEntry, NewAuditEntry } from "../model/audit.js";
import type { Finding, FindingEvent, FindingStatus, Severity } from "../model/finding.js";
import type { NewOutboxItem, OutboxItem, OutboxStatus } from "../model/outbox.js";
import type { KnownKeysStore } from "./known-keys.js";

/** What one reconcile writes, computed by the engine's pure planner. */
export interface ReconcilePlan {
  /** Whole rows, inserted or replaced. */
  upserts: Finding[];
  events: FindingEvent[];
  /** Enqueued with their dedup key: an item already present is left as it is. */
  outbox: NewOutboxItem[];
}

/** An archive object a replay has read: its key and the ETag it had. */
export interface ProcessedObject {
  key: string;
  etag: string;
}

/** How long `dueOutbox` keeps an item from other workers while it is being delivered. */
export const OUTBOX_LEASE_MS = 10 * 60_000;

export interface FindingFilter {
  status?: FindingStatus[];
  check?: string[];
  account?: string[];
  severity?: Severity[];
  /** Exact id or a unique prefix of one. */
  id?: string;
  limit?: number;
}

export interface RunRecord {
  id: string;
  command: string;
  actor: string;
  startedAt: string;
  finishedAt?: string | undefined;
  summary?: Record<string, unknown> | undefined;
}

/**
 * The only door to the database. Every method is async so that SQLite and PostgreSQL share it.
 * Nothing outside store/ writes SQL.
 */
export interface Store extends KnownKeysStore {
  readonly kind: "sqlite" | "postgres";

  /**
   * Reads the findings of `checks` in `account` and, in the same transaction, writes what `plan`
   * makes of them: findings, their state changes and the outbox items they call for.
   */
  reconcile(
    scope: { account: string; checks: string[] },
    plan: (existing: Finding[]) => ReconcilePlan,
  ): Promise<ReconcilePlan>;

  /** Writes one finding change made outside a scan (resolved by hand, remediated…), atomically. */
  applyChange(
    findingId: string,
    change: (current: Finding) => { finding: Finding; event?: FindingEvent; outbox?: NewOutboxItem[] },
  ): Promise<Finding>;

  getFinding(idOrPrefix: string): Promise<Finding | undefined>;
  listFindings(filter?: FindingFilter): Promise<Finding[]>;
  findingEvents(findingId: string): Promise<FindingEvent[]>;
  /** Merges external ids (Jira key, …) into a finding's tickets; used right after an external create. */
  mergeTickets(findingId: string, patch: Record<string, unknown>): Promise<void>;

  /**
   * Claims pending items whose next attempt is due, oldest first: each is leased by moving its
   * next attempt to now + OUTBOX_LEASE_MS, so concurrent workers never get the same item and a
   * worker that dies leaves it due again later. `dueBy` (default `now`) takes items whose next
   * attempt is later too ("send everything now"). Read-only listing is `listOutbox`.
   */
  dueOutbox(now: string, limit: number, dueBy?: string): Promise<OutboxItem[]>;
  listOutbox(filter?: { status?: OutboxStatus[]; findingId?: string }): Promise<OutboxItem[]>;
  markDelivered(id: number, at: string): Promise<void>;
  /** permanent: no retry (status failed); otherwise stays pending until nextAttemptAt. */
  markFailed(id: number, error: string, nextAttemptAt: string, permanent: boolean): Promise<void>;

  /** Writes the intent of a change before it is made; returns its id. */
  appendAudit(entry: NewAuditEntry): Promise<number>;
  /** Records what happened, once. */
  finishAudit(
    id: number,
    result: Exclude<AuditEntry["result"], "pending">,
    outcome: Record<string, unknown>,
    at: string,
  ): Promise<void>;
  listAudit(filter?: {
    since?: string;
    runId?: string;
    findingId?: string;
    account?: string;
  }): Promise<AuditEntry[]>;

  /**
   * Of `keys` in `source` (an S3 bucket), those a replay has read, with the ETag they had then.
   * Asked one listing page at a time, so a prefix of millions of objects is never held whole.
   */
  processedObjects(source: string, keys: string[]): Promise<Map<string, string>>;
  /** Remembers objects read to the end (a later read of the same key replaces its ETag). */
  markProcessed(source: string, objects: ProcessedObject[], at: string): Promise<void>;

  startRun(run: RunRecord): Promise<void>;
  finishRun(id: string, finishedAt: string, summary: Record<string, unknown>): Promise<void>;
  listRuns(limit?: number): Promise<RunRecord[]>;

  /**
   * discardIfCreated: the command failed and this open made the store (a new SQLite file): remove
   * it, so a failed first run leaves no empty store behind.
   */
  close(opts?: { discardIfCreated?: boolean }): Promise<void>;
}
