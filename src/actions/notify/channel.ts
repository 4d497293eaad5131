import type { Finding } from "../../model/finding.js";
import type { OutboxItem } from "../../model/outbox.js";
import type { Recipients } from "../../model/recipients.js";

/** The part of a pino logger the notifiers use. */
export interface NotifyLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLog: NotifyLog = { info() {}, warn() {} };

export interface ChannelContext {
  /** The run's clock (--now). */
  now: Date;
  /** Who hears about this finding (IAM user, account owners, global owners). */
  recipients: Recipients;
  /**
   * Stores external ids on the finding at once, before anything else can fail: a key written
   * here survives a crash that loses the outbox's "delivered" mark.
   */
  mergeTickets(patch: Record<string, unknown>): Promise<void>;
  log: NotifyLog;
}

export interface SendResult {
  /** External ids and state to merge into the finding's tickets. */
  tickets?: Record<string, unknown>;
  /** What was done, for the delivery report ("reused SEC-12", "no ticket to close"). */
  note?: string;
}

/** One way of telling people. `send` must be safe to repeat: delivery is at least once. */
export interface Channel {
  name: string;
  send(item: OutboxItem, finding: Finding, ctx: ChannelContext): Promise<SendResult>;
}

/**
 * Why a delivery failed and whether trying again can help. `retryAfterMs` is the service's own
 * instruction (Retry-After); without it the outbox backs off exponentially.
 */
export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly retryAfterMs?: number,
    /** The service's own error code (Slack's `channel_not_found`…), when it gave one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export const permanentError = (message: string) => new DeliveryError(message, true);
export const transientError = (message: string, retryAfterMs?: number) =>
  new DeliveryError(message, false, retryAfterMs);
