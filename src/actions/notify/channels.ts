import { iamHealthRoutingKey } from "../../checks/iam-health.js";
import type { Config } from "../../config/schema.js";
import type { Channel } from "./channel.js";
import { jiraChannel } from "./jira.js";
import { validateTemplates } from "./messages.js";
import { pagerdutyChannel } from "./pagerduty.js";
import { slackChannel } from "./slack.js";
import { snsChannel } from "./sns.js";
import { webhookChannel } from "./webhook.js";

/** Every channel that is configured and enabled, by the name the router queues it under. */
export function channelsFromConfig(
  config: Config,
  opts: { jiraSearchRetryDelaysMs?: number[] } = {},
): Record<string, Channel> {
  const { slack, jira, pagerduty, sns, webhook, templates } = config.notify;
  validateTemplates(templates);
  const jiraUrl = jira?.enabled ? jira.url : undefined;
  const out: Record<string, Channel> = {};
  if (slack?.enabled && (slack.token || slack.webhookUrl))
    out.slack = slackChannel(slack, { templates, jiraUrl });
  if (jira?.enabled)
    out.jira = jiraChannel(jira, { templates, searchRetryDelaysMs: opts.jiraSearchRetryDelaysMs });
  if (pagerduty?.enabled)
    out.pagerduty = pagerdutyChannel(pagerduty, {
      templates,
      jiraUrl,
      // iam-health pages the team of the failing service's category.
      routingKeyFor: (f) => iamHealthRoutingKey(config.checks["iam-health"], f),
    });
  if (sns?.enabled) out.sns = snsChannel(sns, { aws: config.aws, templates, jiraUrl });
  if (webhook?.enabled) out.webhook = webhookChannel(webhook, { templates, jiraUrl });
  return out;
}
