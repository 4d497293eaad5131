import { createHmac, timingSafeEqual } from "node:crypto";
import { type FakeServer, need, parseJson, startFake } from "./server.js";

// A webhook receiver as a careful user would write one (the README's recipe): checks the
// HMAC-SHA256 signature of `t=<X-Iamwarden-Timestamp>.<raw body>`, refuses a timestamp more than
// five minutes from its own clock (a replay), and drops repeated deliveries by X-Iamwarden-Delivery.

export interface FakeWebhook extends FakeServer {
  hookUrl: string;
  /** Distinct deliveries, in arrival order. */
  received: Record<string, unknown>[];
  stats: { duplicates: number };
}

export const WEBHOOK_TOLERANCE_S = 300;

export async function startFakeWebhook(opts: {
  secret?: string;
  clock?: () => number;
}): Promise<FakeWebhook> {
  const received: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const state = { duplicates: 0 };
  const fake = await startFake("webhook", (r) => {
    need(r.method === "POST" && r.path === "/hook", "POST /hook");
    const body = parseJson(r);
    if (opts.secret) {
      const sig = String(r.headers["x-iamwarden-signature"] ?? "");
      const t = String(r.headers["x-iamwarden-timestamp"] ?? "");
      need(/^\d+$/.test(t), "X-Iamwarden-Timestamp is unix seconds");
      const want = `sha256=${createHmac("sha256", opts.secret).update(`t=${t}.${r.body}`).digest("hex")}`;
      const ok = sig.length === want.length && timingSafeEqual(Buffer.from(sig), Buffer.from(want));
      if (!ok) return { status: 401, body: { error: "bad signature" } };
      const now = Math.floor((opts.clock ?? Date.now)() / 1000);
      if (Math.abs(now - Number(t)) > WEBHOOK_TOLERANCE_S)
        return { status: 401, body: { error: "stale timestamp" } };
    }
    const id = String(r.headers["x-iamwarden-delivery"] ?? "");
    need(id, "X-Iamwarden-Delivery is set");
    need(r.headers["x-iamwarden-event"] === body.event, "X-Iamwarden-Event matches the body");
    if (seen.has(id)) state.duplicates++;
    else {
      seen.add(id);
      received.push(body);
    }
    return { status: 204 };
  });
  return Object.assign(fake, { hookUrl: `${fake.url}/hook`, received, stats: state });
}
