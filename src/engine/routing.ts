import type { Config } from "../config/schema.js";
import { type Finding, severityRank } from "../model/finding.js";
import type { NotifyEvent } from "../model/outbox.js";

/** Which channels hear about which events. Pure; the channels themselves live in actions/notify. */
export type Router = (finding: Finding, event: NotifyEvent) => string[];

const ALL_EVENTS: NotifyEvent[] = ["opened", "reopened", "escalated", "suppressed", "remediated", "resolved"];

/** Builds the router from config: a channel is routed only when configured and enabled. */
export function routerFromConfig(notify: Config["notify"]): Router {
  const routes: { channel: string; events: NotifyEvent[]; accepts?: (f: Finding) => boolean }[] = [];
  const { slack, jira, pagerduty, sns, webhook } = notify;
  if (slack?.enabled && (slack.token || slack.webhookUrl))
    routes.push({ channel: "slack", events: [...ALL_EVENTS, "reminder"] });
  if (jira?.enabled)
    routes.push({ channel: "jira", events: ["opened", "reopened", "suppressed", "remediated", "resolved"] });
  if (pagerduty?.enabled) {
    const min = severityRank(pagerduty.minSeverity);
    routes.push({
      channel: "pagerduty",
      // suppressed, remediated and resolved all resolve the alert: nobody needs paging for them.
      events: ["opened", "reopened", "escalated", "suppressed", "remediated", "resolved"],
      accepts: (f) => severityRank(f.severity) >= min || Boolean(f.tickets.pagerdutyDedupKey),
    });
  }
  if (sns?.enabled) routes.push({ channel: "sns", events: ALL_EVENTS });
  if (webhook?.enabled) routes.push({ channel: "webhook", events: ALL_EVENTS });
  return (finding, event) =>
    routes.filter((r) => r.events.includes(event) && (r.accepts?.(finding) ?? true)).map((r) => r.channel);
}

export const noRoutes: Router = () => [];
