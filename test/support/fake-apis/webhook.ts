import { createHmac, timingSafeEqual } from "node:crypto";
import { type FakeServer, need, parseJson, startFake } from "./server.js";

// A webhook receiver as a careful user would write one: checks the HMAC-SHA256 signature of the raw
// body and drops repeated deliveries by X-Iamwarden-Delivery.

export interface FakeWebhook extends FakeServer {
  hookUrl: string;
  /** Distinct deliveries, in arrival order. */
  received: Record<string, unknown>[];
  stats: { duplicates: number };
}

export async function startFakeWebhook(opts: { secret?: string }): Promise<FakeWebhook> {
  const received: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const state = { duplicates: 0 };
  const fake = await startFake("webhook", (r) => {
    need(r.method === "POST" && r.path === "/hook", "POST /hook");
    const body = parseJson(r);
    if (opts.secret) {
      const sig = String(r.headers["x-iamwarden-signature"] ?? "");
      const want = `sha256=${createHmac("sha256", opts.secret).update(r.body).digest("hex")}`;
      const ok = sig.length === want.length && timingSafeEqual(Buffer.from(sig), Buffer.from(want));
      if (!ok) return { status: 401, body: { error: "bad signature" } };
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
