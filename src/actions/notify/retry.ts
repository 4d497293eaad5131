import { DeliveryError } from "./channel.js";

/** First retry after a minute, doubling, never later than six hours. */
export const BACKOFF_BASE_MS = 60_000;
export const BACKOFF_MAX_MS = 6 * 3_600_000;

/** Delay before the next attempt of an item that has failed `attempts` times before this one. */
export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, Math.min(attempts, 20)));
}

/**
 * Retry-After as milliseconds: either delay-seconds or an HTTP date. An HTTP date is the
 * server's wall clock, so it is measured against the real clock, not the run's --now.
 */
export function parseRetryAfter(value: string | null | undefined, realNow = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - realNow);
}

/** 408, 425, 429 and 5xx can succeed later; any other 4xx will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** A failed HTTP response as a DeliveryError: one line, body trimmed. */
export function httpError(
  service: string,
  status: number,
  body: string,
  retryAfter?: string | null,
): DeliveryError {
  const snippet = body.replace(/\s+/g, " ").trim().slice(0, 300);
  const message = `${service}: HTTP ${status}${snippet ? ` ${snippet}` : ""}`;
  return isRetryableStatus(status)
    ? new DeliveryError(message, false, parseRetryAfter(retryAfter))
    : new DeliveryError(message, true);
}

/** Anything thrown by a channel, as a DeliveryError: unknown errors (network, bugs) are retried. */
export function asDeliveryError(e: unknown): DeliveryError {
  if (e instanceof DeliveryError) return e;
  const err = e as { message?: string; name?: string };
  return new DeliveryError(err?.message ?? String(e), false);
}
