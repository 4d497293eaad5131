import { transientError } from "./channel.js";
import { httpError } from "./retry.js";

export interface JsonResponse {
  status: number;
  body: string;
}

/**
 * POSTs a JSON body with a timeout. A network error or timeout is retryable; a response outside
 * `ok` becomes a DeliveryError classified by status (Retry-After honoured).
 */
export async function postJson(
  service: string,
  url: string,
  body: string,
  opts: { headers?: Record<string, string>; timeoutMs: number; ok?: (status: number) => boolean },
): Promise<JsonResponse> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "User-Agent": "iamwarden", ...opts.headers },
      body,
      redirect: "error",
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why =
      err.name === "TimeoutError" ? `timed out after ${opts.timeoutMs} ms` : (err.cause?.code ?? err.message);
    throw transientError(`${service}: ${why}`);
  }
  const text = await res.text().catch(() => "");
  const ok = opts.ok ?? ((s: number) => s >= 200 && s < 300);
  if (!ok(res.status)) throw httpError(service, res.status, text, res.headers.get("retry-after"));
  return { status: res.status, body: text };
}
