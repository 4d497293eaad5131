import type { AuditEntry, NewAuditEntry } from "../model/audit.js";
import type { Finding, FindingEvent, FindingStatus, Severity } from "../model/finding.js";
import type { NotifyEvent, OutboxItem, OutboxStatus } from "../model/outbox.js";
import type { RunRecord } from "./store.js";

// Row <-> record mapping shared by the SQLite and PostgreSQL stores. JSON columns arrive as text
// from SQLite and as objects from PostgreSQL; `json` accepts both.

type Row = Record<string, unknown>;

const json = <T>(v: unknown, fallback: T): T => {
  if (v === null || v === undefined) return fallback;
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
};
const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export function findingFromRow(r: Row): Finding {
  return {
    id: String(r.id),
    check: String(r.check_name),
    account: String(r.account),
    accountAlias: opt(r.account_alias),
    resource: String(r.resource),
    owner: opt(r.owner),
    severity: r.severity as Severity,
    status: r.status as FindingStatus,
    title: String(r.title),
    details: json(r.details, {}),
    firstSeen: String(r.first_seen),
    lastSeen: String(r.last_seen),
    resolvedAt: opt(r.resolved_at),
    statusChangedAt: String(r.status_changed_at),
    statusReason: opt(r.status_reason),
    firstReportedAt: opt(r.first_reported_at),
    tickets: json(r.tickets, {}),
  };
}

/** Column values in FINDING_COLUMNS order. */
export function findingToValues(f: Finding): unknown[] {
  return [
    f.id,
    f.check,
    f.account,
    f.accountAlias ?? null,
    f.resource,
    f.owner ?? null,
    f.severity,
    f.status,
    f.title,
    JSON.stringify(f.details),
    f.firstSeen,
    f.lastSeen,
    f.resolvedAt ?? null,
    f.statusChangedAt,
    f.statusReason ?? null,
    f.firstReportedAt ?? null,
    JSON.stringify(f.tickets),
  ];
}

export const FINDING_COLUMNS = [
  "id",
  "check_name",
  "account",
  "account_alias",
  "resource",
  "owner",
  "severity",
  "status",
  "title",
  "details",
  "first_seen",
  "last_seen",
  "resolved_at",
  "status_changed_at",
  "status_reason",
  "first_reported_at",
  "tickets",
] as const;

export function eventFromRow(r: Row): FindingEvent {
  return {
    findingId: String(r.finding_id),
    at: String(r.at),
    from: (r.from_status ?? null) as FindingStatus | null,
    to: r.to_status as FindingStatus,
    cause: String(r.cause),
    runId: opt(r.run_id),
  };
}

export function outboxFromRow(r: Row): OutboxItem {
  return {
    id: Number(r.id),
    dedupKey: String(r.dedup_key),
    findingId: String(r.finding_id),
    event: r.event as NotifyEvent,
    channel: String(r.channel),
    status: r.status as OutboxStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: String(r.next_attempt_at),
    lastError: opt(r.last_error),
    createdAt: String(r.created_at),
    deliveredAt: opt(r.delivered_at),
    payload: json(r.payload, {}),
  };
}

/** Insert values of a new audit entry, in the column order both stores use. */
export function auditToValues(e: NewAuditEntry): unknown[] {
  return [
    e.runId,
    e.at,
    e.actor,
    e.findingId ?? null,
    e.action,
    e.account,
    e.target,
    JSON.stringify(e.before),
    JSON.stringify(e.intent),
  ];
}

export function auditFromRow(r: Row): AuditEntry {
  return {
    id: Number(r.id),
    runId: String(r.run_id),
    at: String(r.at),
    actor: String(r.actor),
    findingId: opt(r.finding_id),
    action: String(r.action),
    account: String(r.account),
    target: String(r.target),
    before: json(r.before_state, {}),
    intent: json(r.intent, {}),
    result: r.result as AuditEntry["result"],
    outcome: json(r.outcome, undefined),
    finishedAt: opt(r.finished_at),
  };
}

export function runFromRow(r: Row): RunRecord {
  return {
    id: String(r.id),
    command: String(r.command),
    actor: String(r.actor),
    startedAt: String(r.started_at),
    finishedAt: opt(r.finished_at),
    summary: json(r.summary, undefined),
  };
}
