export const SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const FINDING_STATUSES = ["open", "resolved", "suppressed", "remediated"] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

/**
 * State checks judge an inventory and resolve by themselves; event checks gather occurrences;
 * metric checks judge samples and resolve when a later evaluation no longer yields them.
 */
export type CheckKind = "state" | "event" | "metric";

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/**
 * What a check proposes; the engine turns it into a durable Finding. `D` is the check's own
 * details type (inferred from its details schema); the engine sees plain records.
 */
export interface Candidate<D extends Record<string, unknown> = Record<string, unknown>> {
  check: string;
  account: string;
  accountAlias?: string | undefined;
  /** Key id, user ARN, principal, metric name… unique within (check, account). */
  resource: string;
  owner?: string | undefined;
  severity: Severity;
  title: string;
  details: D;
  /** Event checks: occurrences to merge into the finding's details.events (bounded). */
  events?: Record<string, unknown>[] | undefined;
}

/** External ids and delivery state per channel, kept on the finding. */
export interface FindingTickets {
  jiraKey?: string;
  pagerdutyDedupKey?: string;
  /** Last time a notification of this finding was queued, per channel (ISO). */
  notified?: Record<string, string>;
  [k: string]: unknown;
}

export interface Finding {
  id: string;
  check: string;
  account: string;
  accountAlias?: string | undefined;
  resource: string;
  owner?: string | undefined;
  severity: Severity;
  status: FindingStatus;
  title: string;
  details: Record<string, unknown>;
  firstSeen: string;
  lastSeen: string;
  resolvedAt?: string | undefined;
  statusChangedAt: string;
  statusReason?: string | undefined;
  /** First time any report of it was queued; grace periods count from here. */
  firstReportedAt?: string | undefined;
  tickets: FindingTickets;
}

/** One recorded state change, kept forever. */
export interface FindingEvent {
  findingId: string;
  at: string;
  from: FindingStatus | null;
  to: FindingStatus;
  cause: string;
  runId?: string | undefined;
}
