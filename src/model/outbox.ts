/** Why a notification is sent. */
export type NotifyEvent =
  | "opened"
  | "reopened"
  | "reminder"
  | "escalated"
  | "suppressed"
  | "remediated"
  | "resolved";

export type OutboxStatus = "pending" | "delivered" | "failed";

/** A notification written in the same transaction as the finding change that called for it. */
export interface OutboxItem {
  id: number;
  /** (finding, event, channel[, sequence]): unique, so enqueueing twice is a no-op. */
  dedupKey: string;
  findingId: string;
  event: NotifyEvent;
  channel: string;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError?: string | undefined;
  createdAt: string;
  deliveredAt?: string | undefined;
  /** What the channel needs beyond the finding (e.g. the reason of a state change). */
  payload: Record<string, unknown>;
}

export interface NewOutboxItem {
  dedupKey: string;
  findingId: string;
  event: NotifyEvent;
  channel: string;
  payload?: Record<string, unknown>;
  /** When it was queued, on the run's clock (--now): the store never reads a clock. */
  at: string;
}
