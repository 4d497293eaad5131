import { createHash } from "node:crypto";
import {
  type Candidate,
  type CheckKind,
  type Finding,
  type FindingEvent,
  severityRank,
} from "../model/finding.js";
import type { NotifyEvent } from "../model/outbox.js";
import type { ReconcilePlan } from "../store/store.js";
import { HOUR_MS } from "../util/time.js";
import { keptEvents } from "./event-order.js";
import { enqueue } from "./outbox.js";
import { onHold } from "./remediation.js";
import type { Router } from "./routing.js";

/** Stable id of (check, account, resource): readable prefix, hashed resource (no key id in clear). */
export function findingId(check: string, account: string, resource: string): string {
  const h = createHash("sha256").update(`${check}\0${account}\0${resource}`).digest("hex").slice(0, 12);
  return `${check}/${account}/${h}`;
}

export interface PlanInput {
  account: string;
  /** The checks this run judged; only their findings are in scope. */
  checks: string[];
  kind: CheckKind;
  /** State checks: a complete read of the account may resolve what it no longer sees. */
  complete: boolean;
  candidates: Candidate[];
  /** Why a candidate is suppressed, or undefined. */
  suppress: (c: Candidate) => string | undefined;
  route: Router;
  /** Re-notify window of channels whose router entry sets none. */
  renotifyHours: number;
  now: Date;
  runId: string;
}

export interface PlanSummary {
  opened: number;
  reopened: number;
  refreshed: number;
  resolved: number;
  suppressed: number;
  escalated: number;
  notifications: number;
}

export const emptySummary = (): PlanSummary => ({
  opened: 0,
  reopened: 0,
  refreshed: 0,
  resolved: 0,
  suppressed: 0,
  escalated: 0,
  notifications: 0,
});

/** Folds candidates with the same id (an event check may propose one principal many times). */
function mergeCandidates(candidates: Candidate[]): Map<string, Candidate> {
  const byId = new Map<string, Candidate>();
  for (const c of candidates) {
    const id = findingId(c.check, c.account, c.resource);
    const prev = byId.get(id);
    if (!prev) {
      byId.set(id, c);
      continue;
    }
    byId.set(id, {
      ...c,
      severity: severityRank(c.severity) >= severityRank(prev.severity) ? c.severity : prev.severity,
      details: { ...prev.details, ...c.details },
      events: [...(prev.events ?? []), ...(c.events ?? [])],
    });
  }
  return byId;
}

/**
 * The finding lifecycle, as a pure function of what the store holds and what the checks saw.
 * Returns the rows to write, the state changes to record and the notifications they call for.
 */
export function planReconcile(
  existing: Finding[],
  input: PlanInput,
): ReconcilePlan & { summary: PlanSummary } {
  const now = input.now.toISOString();
  const plan: ReconcilePlan = { upserts: [], events: [], outbox: [] };
  const summary = emptySummary();
  const byId = new Map(existing.map((f) => [f.id, f]));

  const transition = (f: Finding, to: Finding["status"], cause: string, from: Finding["status"] | null) => {
    f.status = to;
    f.statusChangedAt = now;
    f.statusReason = cause;
    const ev: FindingEvent = { findingId: f.id, at: now, from, to, cause, runId: input.runId };
    plan.events.push(ev);
  };

  const notify = (
    f: Finding,
    event: NotifyEvent,
    payload: Record<string, unknown> = {},
    channels = input.route(f, event),
  ) => {
    const items = enqueue(f, event, channels, input.now, payload);
    plan.outbox.push(...items);
    summary.notifications += items.length;
  };

  /** Channels whose own re-notify window has passed since they last told anyone about `f`. */
  const remindersDue = (f: Finding): string[] =>
    input.route(f, "reminder").filter((c) => {
      const last = f.tickets.notified?.[c];
      if (!last) return false;
      const hours = input.route.renotifyHours?.(c) ?? input.renotifyHours;
      return input.now.getTime() - Date.parse(last) >= hours * HOUR_MS;
    });

  const seen = new Set<string>();
  for (const [id, c] of mergeCandidates(input.candidates)) {
    seen.add(id);
    const suppressedBy = input.suppress(c);
    const prev = byId.get(id);
    const kept: unknown[] = Array.isArray(prev?.details.events) ? prev.details.events : [];
    const events = c.events?.length ? keptEvents(kept as Record<string, unknown>[], c.events) : undefined;
    const counted = typeof prev?.details.eventCount === "number" ? prev.details.eventCount : 0;
    const eventCount = counted + (c.events?.length ?? 0);
    const details = events ? { ...c.details, events, eventCount } : c.details;

    if (!prev) {
      const f: Finding = {
        id,
        check: c.check,
        account: c.account,
        accountAlias: c.accountAlias,
        resource: c.resource,
        owner: c.owner,
        severity: c.severity,
        status: "open",
        title: c.title,
        details,
        firstSeen: now,
        lastSeen: now,
        statusChangedAt: now,
        tickets: {},
      };
      if (suppressedBy) {
        transition(f, "suppressed", suppressedBy, null);
        summary.suppressed++;
      } else {
        transition(f, "open", "first seen", null);
        notify(f, "opened");
        summary.opened++;
      }
      plan.upserts.push(f);
      continue;
    }

    const f: Finding = {
      ...prev,
      accountAlias: c.accountAlias ?? prev.accountAlias,
      owner: c.owner ?? prev.owner,
      title: c.title,
      details,
      lastSeen: now,
      tickets: { ...prev.tickets },
    };
    const rose = severityRank(c.severity) > severityRank(prev.severity);
    f.severity = c.severity;

    if (suppressedBy) {
      if (prev.status !== "suppressed") {
        transition(f, "suppressed", suppressedBy, prev.status);
        if (prev.firstReportedAt) notify(f, "suppressed", { reason: suppressedBy });
        summary.suppressed++;
      }
    } else if (prev.status === "suppressed" && onHold(prev, input.now)) {
      // A rollback's hold: a person undid the remediation; only `findings unhold` lifts it.
      summary.refreshed++;
    } else if (prev.status === "open") {
      summary.refreshed++;
      if (rose) {
        plan.events.push({
          findingId: id,
          at: now,
          from: "open",
          to: "open",
          cause: `severity ${prev.severity} → ${c.severity}`,
          runId: input.runId,
        });
        notify(f, "escalated", { from: prev.severity });
        summary.escalated++;
      } else {
        const due = remindersDue(f);
        if (due.length) notify(f, "reminder", {}, due);
      }
    } else {
      // resolved, suppressed whose exception ended, or remediated and then seen again.
      const cause =
        prev.status === "suppressed"
          ? "exception no longer applies"
          : prev.status === "remediated"
            ? "seen again after remediation"
            : "seen again after it was resolved";
      transition(f, "open", cause, prev.status);
      f.resolvedAt = undefined;
      const event: NotifyEvent = prev.firstReportedAt ? "reopened" : "opened";
      notify(f, event, { reason: cause });
      if (event === "reopened") summary.reopened++;
      else summary.opened++;
    }
    plan.upserts.push(f);
  }

  // State (and metric) checks: a complete read (evaluation) that no longer sees an open or
  // suppressed finding resolves it. Remediated findings stay remediated: their absence is our own doing.
  if (input.kind !== "event" && input.complete) {
    for (const prev of existing) {
      if (seen.has(prev.id) || !input.checks.includes(prev.check)) continue;
      if (prev.status !== "open" && prev.status !== "suppressed") continue;
      const f: Finding = { ...prev, tickets: { ...prev.tickets }, resolvedAt: now };
      transition(f, "resolved", "no longer seen by a complete scan", prev.status);
      if (prev.firstReportedAt) notify(f, "resolved", { reason: "no longer seen by a complete scan" });
      summary.resolved++;
      plan.upserts.push(f);
    }
  }
  return { ...plan, summary };
}
