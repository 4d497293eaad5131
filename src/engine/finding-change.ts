import type { Finding, FindingEvent, FindingStatus } from "../model/finding.js";
import type { NewOutboxItem, NotifyEvent } from "../model/outbox.js";
import { enqueue } from "./outbox.js";
import type { Router } from "./routing.js";

// A finding change made outside a scan (resolved by hand, remediated, rolled back): the new row,
// its recorded state change and the notifications it calls for, for one store.applyChange.

export interface FindingChangeDeps {
  route: Router;
  now: Date;
  runId: string;
}

export function findingChange(
  deps: FindingChangeDeps,
  f: Finding,
  to: FindingStatus,
  cause: string,
  event: NotifyEvent,
  payload: Record<string, unknown>,
): { finding: Finding; event: FindingEvent; outbox: NewOutboxItem[] } {
  const now = deps.now.toISOString();
  const finding: Finding = { ...f, status: to, statusReason: cause, tickets: { ...f.tickets } };
  if (f.status !== to) finding.statusChangedAt = now;
  const outbox = enqueue(finding, event, deps.route(finding, event), deps.now, payload);
  return {
    finding,
    event: { findingId: f.id, at: now, from: f.status, to, cause, runId: deps.runId },
    outbox,
  };
}
