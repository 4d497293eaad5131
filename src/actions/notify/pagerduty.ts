import type { z } from "zod";
import type { Finding, Severity } from "../../model/finding.js";
import type { Channel } from "./channel.js";
import { postJson } from "./http.js";
import { jiraBrowseUrl, messageFields, pagerdutySummary, publicFinding } from "./messages.js";
import type { pagerdutySettings } from "./settings.js";

export type PagerDutySettings = z.infer<typeof pagerdutySettings>;

/** PD-CEF severities: critical | error | warning | info. */
const PD_SEVERITY: Record<Severity, string> = {
  critical: "critical",
  high: "error",
  medium: "warning",
  low: "info",
};

/**
 * PagerDuty Events API v2. The finding id is the dedup key, so repeats of a trigger land on the
 * same alert and a resolve closes it. 202 is success; 400 never will be; 429 and 5xx are retried.
 */
export function pagerdutyChannel(
  cfg: PagerDutySettings,
  opts: {
    templates: Record<string, string>;
    jiraUrl?: string | undefined;
    timeoutMs?: number;
    /** A finding's own routing key (a check that pages a team per finding), before the channel's. */
    routingKeyFor?: (finding: Finding) => string | undefined;
  },
): Channel {
  return {
    name: "pagerduty",
    async send(item, finding, ctx) {
      const routingKey = opts.routingKeyFor?.(finding) ?? cfg.routingKeys[finding.check] ?? cfg.routingKey;
      const resolve = item.event === "resolved" || item.event === "remediated" || item.event === "suppressed";
      const jiraLink =
        typeof finding.tickets.jiraKey === "string"
          ? jiraBrowseUrl(opts.jiraUrl, finding.tickets.jiraKey)
          : "";
      const mo = { now: ctx.now, revealKeyId: false, jiraUrl: opts.jiraUrl, templates: opts.templates };
      const body = resolve
        ? { routing_key: routingKey, event_action: "resolve", dedup_key: finding.id }
        : {
            routing_key: routingKey,
            event_action: "trigger",
            dedup_key: finding.id,
            client: "iamwarden",
            payload: {
              summary: pagerdutySummary(finding, item, mo),
              source: finding.accountAlias
                ? `aws:${finding.account} (${finding.accountAlias})`
                : `aws:${finding.account}`,
              severity: PD_SEVERITY[finding.severity],
              timestamp: ctx.now.toISOString(),
              component: messageFields(finding, item, mo).user || undefined,
              group: finding.accountAlias ?? finding.account,
              class: finding.check,
              custom_details: { event: item.event, ...publicFinding(finding) },
            },
            ...(jiraLink
              ? { links: [{ href: jiraLink, text: `Jira ${String(finding.tickets.jiraKey)}` }] }
              : {}),
          };
      await postJson("pagerduty", cfg.url, JSON.stringify(body), {
        timeoutMs: opts.timeoutMs ?? 15_000,
        ok: (s) => s === 202 || s === 200,
      });
      return resolve
        ? { tickets: { pagerdutyDedupKey: null }, note: "resolved" }
        : { tickets: { pagerdutyDedupKey: finding.id }, note: "triggered" };
    },
  };
}
