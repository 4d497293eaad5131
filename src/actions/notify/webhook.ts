import { createHmac } from "node:crypto";
import type { z } from "zod";
import type { Channel } from "./channel.js";
import { postJson } from "./http.js";
import { machineMessage } from "./messages.js";
import type { webhookSettings } from "./settings.js";

export type WebhookSettings = z.infer<typeof webhookSettings>;

/**
 * `sha256=<hex>`: HMAC-SHA256 of `t=<unix time>.<exact body bytes>`. The time travels in
 * X-Iamwarden-Timestamp, so a receiver can refuse old (replayed) deliveries and a captured one
 * cannot be re-dated without the secret.
 */
export function signature(secret: string, body: string, unixTime: number): string {
  return `sha256=${createHmac("sha256", secret).update(`t=${unixTime}.${body}`).digest("hex")}`;
}

/**
 * A JSON POST for anything else. Receivers verify X-Iamwarden-Signature over the timestamp and
 * body, refuse timestamps far from their own clock, and drop repeats by X-Iamwarden-Delivery
 * (delivery is at least once).
 */
export function webhookChannel(
  cfg: WebhookSettings,
  opts: { templates: Record<string, string>; jiraUrl?: string | undefined; wallClock?: () => number },
): Channel {
  // The real clock, not the run's (--now): the receiver compares it with its own.
  const clock = opts.wallClock ?? Date.now;
  return {
    name: "webhook",
    async send(item, finding, ctx) {
      const body = JSON.stringify(
        machineMessage(finding, item, {
          now: ctx.now,
          revealKeyId: false,
          jiraUrl: opts.jiraUrl,
          templates: opts.templates,
        }),
      );
      const t = Math.floor(clock() / 1000);
      await postJson("webhook", cfg.url, body, {
        timeoutMs: cfg.timeoutMs,
        headers: {
          "X-Iamwarden-Event": item.event,
          "X-Iamwarden-Delivery": item.dedupKey,
          ...(cfg.secret
            ? { "X-Iamwarden-Timestamp": String(t), "X-Iamwarden-Signature": signature(cfg.secret, body, t) }
            : {}),
        },
      });
      return {};
    },
  };
}
