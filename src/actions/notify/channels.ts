import { iamHealthRoutingKey } from "../../checks/iam-health.js";
import type { Config } from "../../config/schema.js";
import type { Channel } from "./channel.js";
import { validateTemplates } from "./messages.js";
import { activeChannels, type ChannelDeps } from "./registry.js";

/** Every channel that is configured and enabled, by the name the router queues it under. */
export async function channelsFromConfig(
  config: Config,
  opts: Partial<Pick<ChannelDeps, "jiraSearchRetryDelaysMs" | "wallClock">> = {},
): Promise<Record<string, Channel>> {
  const { templates } = config.notify;
  validateTemplates(templates);
  const jira = config.notify.jira;
  const deps: ChannelDeps = {
    templates,
    jiraUrl: jira?.enabled ? jira.url : undefined,
    aws: config.aws,
    jiraSearchRetryDelaysMs: opts.jiraSearchRetryDelaysMs,
    // iam-health pages the team of the failing service's category.
    pagerdutyRoutingKeyFor: (f) => iamHealthRoutingKey(config.checks["iam-health"], f),
    ...(opts.wallClock ? { wallClock: opts.wallClock } : {}),
  };
  const out: Record<string, Channel> = {};
  for (const { def, settings } of activeChannels(config.notify))
    out[def.name] = await def.create(settings, deps);
  return out;
}
