import type { Finding } from "../model/finding.js";
import type { NewOutboxItem, NotifyEvent } from "../model/outbox.js";

// The one way outbox items are made, for scans (reconcile) and changes made outside them
// (resolved by hand, remediated, rolled back): same dedup keys, same bookkeeping on the finding.

/**
 * (finding, event, channel[, moment]): "opened" happens once per finding, so enqueueing it twice
 * is a no-op; every other event can recur and is keyed by the moment it happened.
 */
export function outboxDedupKey(findingId: string, event: NotifyEvent, channel: string, at: string): string {
  return `${findingId}|${event}|${channel}${event === "opened" ? "" : `|${at}`}`;
}

/**
 * Items for `channels` about `event`, queued at `now`; records on the finding when each channel
 * was last notified (re-notify windows) and when it was first reported. Mutates `finding.tickets`
 * and `finding.firstReportedAt` on a copy of tickets, so callers pass the row they will write.
 */
export function enqueue(
  finding: Finding,
  event: NotifyEvent,
  channels: string[],
  now: Date,
  payload: Record<string, unknown> = {},
): NewOutboxItem[] {
  if (!channels.length) return [];
  const at = now.toISOString();
  const notified = { ...(finding.tickets.notified ?? {}) };
  const items = channels.map((channel): NewOutboxItem => {
    notified[channel] = at;
    return {
      dedupKey: outboxDedupKey(finding.id, event, channel, at),
      findingId: finding.id,
      event,
      channel,
      payload,
      at,
    };
  });
  finding.tickets = { ...finding.tickets, notified };
  if (!finding.firstReportedAt && (event === "opened" || event === "reopened")) finding.firstReportedAt = at;
  return items;
}
