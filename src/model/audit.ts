/** One change iamwarden made (or meant to make) in an account. Append-only. */
export interface AuditEntry {
  id: number;
  runId: string;
  at: string;
  actor: string;
  findingId?: string | undefined;
  action: string;
  account: string;
  target: string;
  /** State read before the change. */
  before: Record<string, unknown>;
  /** The change about to be made; written before the API call. */
  intent: Record<string, unknown>;
  result: "pending" | "applied" | "failed" | "skipped" | "rolled-back";
  /** What happened, written after the call. */
  outcome?: Record<string, unknown> | undefined;
  finishedAt?: string | undefined;
}

export type NewAuditEntry = Omit<AuditEntry, "id" | "result" | "outcome" | "finishedAt">;
