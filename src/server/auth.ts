import { createHash, timingSafeEqual } from "node:crypto";

// The API token, as the senders that matter can send it: `Authorization: Bearer <token>` (curl,
// the dashboard), an API key header (EventBridge API destinations: `x-api-key` or `x-iamwarden-
// token`), or HTTP Basic with the token as password (SNS subscriptions to https://u:token@host/…).

const digest = (s: string) => createHash("sha256").update(s).digest();

/** The token a request carries, if any. */
export function presentedToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const auth = one(headers.authorization);
  if (auth) {
    const [scheme, value = ""] = auth.split(/\s+/, 2);
    if (/^bearer$/i.test(scheme ?? "")) return value;
    if (/^basic$/i.test(scheme ?? "")) {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      return i >= 0 ? decoded.slice(i + 1) : undefined;
    }
  }
  return one(headers["x-api-key"]) ?? one(headers["x-iamwarden-token"]);
}

/** Compares in constant time (on digests, so lengths leak nothing either). */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}
