import { createHmac } from "node:crypto";
import type { z } from "zod";
import type { Channel } from "./channel.js";
import { postJson } from "./http.js";
import { machineMessage } from "./messages.js";
import type { webhookSettings } from "./registry.js";

export type WebhookSettings = z.infer<typeof webhookSettings>;

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes, as GitHub signs its webhooks. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * A JSON POST for anything else. Receivers verify X-Iamwarden-Signature and drop repeats by
 * X-Iamwarden-Delivery (delivery is at least once).
 */
export function webhookChannel(
  cfg: WebhookSettings,
  opts: { templates: Record<string, string>; jiraUrl?: string | undefined },
): Channel {
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
      await postJson("webhook", cfg.url, body, {
        timeoutMs: cfg.timeoutMs,
        headers: {
          "X-Iamwarden-Event": item.event,
          "X-Iamwarden-Delivery": item.dedupKey,
          ...(cfg.secret ? { "X-Iamwarden-Signature": signature(cfg.secret, body) } : {}),
        },
      });
      return {};
    },
  };
}
