// One HTTP request with a timeout, tried again on what can succeed later: a network error or
// timeout, 408/425/429 and 5xx, after Retry-After (seconds) or an exponential backoff. Anything
// else (a 4xx, a 412) is the caller's to read: the response comes back as it is.

export interface RetrySettings {
  timeoutMs: number;
  /** Tries in all (1 = no retry). */
  attempts: number;
  /** First wait; doubled after each failed try. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { timeoutMs: 10_000, attempts: 3, baseDelayMs: 500 };

/** The last failure after every try: a one-line message naming the service. */
export class HttpFailure extends Error {
  constructor(
    message: string,
    readonly status?: number | undefined,
  ) {
    super(message);
  }
}

const retryable = (s: number) => s === 408 || s === 425 || s === 429 || s >= 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MAX_WAIT_MS = 30_000;

export async function fetchWithRetry(
  service: string,
  url: string,
  init: RequestInit,
  s: RetrySettings = DEFAULT_RETRY,
): Promise<Response> {
  let delay = s.baseDelayMs;
  for (let attempt = 1; ; attempt++) {
    let why: string;
    let status: number | undefined;
    let wait = delay;
    try {
      const res = await fetch(url, { redirect: "error", ...init, signal: AbortSignal.timeout(s.timeoutMs) });
      if (!retryable(res.status)) return res;
      status = res.status;
      const body = (await res.text().catch(() => "")).replace(/\s+/g, " ").trim().slice(0, 200);
      why = `HTTP ${res.status}${body ? ` ${body}` : ""}`;
      const after = Number(res.headers.get("retry-after"));
      if (after > 0) wait = Math.min(after * 1000, MAX_WAIT_MS);
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      why =
        err.name === "TimeoutError"
          ? `timed out after ${s.timeoutMs} ms`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
    }
    if (attempt >= s.attempts)
      throw new HttpFailure(`${service}: ${why} (after ${attempt} tr${attempt === 1 ? "y" : "ies"})`, status);
    await sleep(wait);
    delay *= 2;
  }
}
